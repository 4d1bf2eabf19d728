-- Exactly-once enrollment under faults (#12; SQLite spelling of migrations/postgres/0010).

ALTER TABLE jobs ADD COLUMN lease_token TEXT;

ALTER TABLE enrollments ADD COLUMN enroll_answered_at TEXT;
