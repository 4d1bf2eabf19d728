-- ACME Renewal Information (SQLite spelling of migrations/postgres/0007_ari.sql).
ALTER TABLE orders ADD COLUMN replaces TEXT;
ALTER TABLE certificates ADD COLUMN replaced_by_order TEXT;
ALTER TABLE certificates ADD COLUMN renew_now_at TEXT;
ALTER TABLE certificates ADD COLUMN renew_now_reason TEXT;
ALTER TABLE certificates ADD COLUMN scm_status TEXT;
ALTER TABLE certificates ADD COLUMN scm_checked_at TEXT;
CREATE INDEX certificates_status_sweep ON certificates (scm_checked_at, id)
    WHERE revoked_at IS NULL AND renew_now_at IS NULL;
