-- Alternate chains and the expiry sweep (SQLite spelling of migrations/postgres/0007).
ALTER TABLE certificates ADD COLUMN alternate_chains TEXT NOT NULL DEFAULT '[]';
CREATE INDEX certificates_not_after ON certificates (not_after) WHERE revoked_at IS NULL;
