-- Revocation requests (SQLite spelling of migrations/postgres/0004).
ALTER TABLE certificates ADD COLUMN revocation_requested_at TEXT;
ALTER TABLE certificates ADD COLUMN requested_reason INTEGER;
ALTER TABLE certificates ADD COLUMN revocation_error TEXT;
