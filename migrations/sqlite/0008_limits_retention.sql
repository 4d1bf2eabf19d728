-- Limits and retention (#12 items 6 and 7); SQLite spelling of migrations/postgres/0007.

-- Failed validations per account (limits.failed_validations_per_account) are counted over a
-- recent window: a failed challenge now records when it failed in validated_at, and this index
-- finds the window's failures without reading older ones.
CREATE INDEX challenges_failed ON challenges (validated_at) WHERE status = 'invalid';

-- Retention: a finished order that a certificate or an enrollment still references keeps its row
-- (those are kept for good) but loses its authorizations and challenges; purged_at marks it done,
-- so the next run does not look at it again.
ALTER TABLE orders ADD COLUMN purged_at TEXT;
CREATE INDEX orders_retention_finished ON orders (updated_at)
    WHERE purged_at IS NULL AND status IN ('valid', 'invalid');
CREATE INDEX orders_retention_expired ON orders (expires_at)
    WHERE purged_at IS NULL AND status IN ('pending', 'ready');
