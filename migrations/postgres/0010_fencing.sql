-- Exactly-once enrollment under faults (#12): fenced job leases and the enroll settle window.

-- A fresh random token per claim; every write of the job's handler names it, so a handler whose
-- lease was lost (and re-claimed elsewhere) changes nothing.
ALTER TABLE jobs ADD COLUMN lease_token TEXT;

-- When the last enroll call ended with an answer (a definite or a failed one): the settle window of
-- an answered failure counts from here, not from the start plus the client's timeout.
ALTER TABLE enrollments ADD COLUMN enroll_answered_at TIMESTAMPTZ;
