-- Exactly-once enrollment under faults (#12; SQLite spelling of migrations/postgres/0010).

ALTER TABLE jobs ADD COLUMN lease_token TEXT;

ALTER TABLE enrollments ADD COLUMN enroll_answered_at TEXT;

ALTER TABLE enrollments ADD COLUMN reconciled_at TEXT;

CREATE TABLE orphan_certificates (
    ssl_id      INTEGER PRIMARY KEY,
    order_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    found_at    TEXT NOT NULL
);
