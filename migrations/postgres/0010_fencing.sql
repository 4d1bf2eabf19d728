-- Exactly-once enrollment under faults (#12): fenced job leases and the enroll settle window.

-- A fresh random token per claim; every write of the job's handler names it, so a handler whose
-- lease was lost (and re-claimed elsewhere) changes nothing.
ALTER TABLE jobs ADD COLUMN lease_token TEXT;

-- When the last enroll call ended with an answer (a definite or a failed one): the settle window of
-- an answered failure counts from here, not from the start plus the client's timeout.
ALTER TABLE enrollments ADD COLUMN enroll_answered_at TIMESTAMPTZ;

-- Orphans (#12 item 4): certificates SCM issued for an order that failed (collect deadline, an
-- enroll with an unknown outcome). The reconcile job checks each failed order's enrollment once it
-- can no longer change (reconciled_at), and records what it found and did.
ALTER TABLE enrollments ADD COLUMN reconciled_at TIMESTAMPTZ;

CREATE TABLE orphan_certificates (
    ssl_id      BIGINT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    -- What was done: 'revoked' (with the reason sent to SCM).
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    found_at    TIMESTAMPTZ NOT NULL
);
