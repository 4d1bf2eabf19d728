-- Alternate chains (RFC 8555 §7.4.2) and the expiry sweep.

-- The other chains SCM's answer allows (e.g. up to an older root through a cross-signed root),
-- each leaf first as PEM, most preferred first; served at /acme/cert/{id}/alt/{n} (n from 1).
ALTER TABLE certificates ADD COLUMN alternate_chains JSONB NOT NULL DEFAULT '[]';

-- The daily sweep looks for certificates expiring within a few weeks.
CREATE INDEX certificates_not_after ON certificates (not_after) WHERE revoked_at IS NULL;
