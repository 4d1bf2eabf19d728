-- ACME Renewal Information (RFC 9773): which order replaces a certificate, and certificates to be
-- renewed at once (SCM reports them revoked/replaced/expired, or the operator said "renew now").
-- A certificate is found by its ARI certID through the existing unique `serial` (the AKI is checked
-- against the stored chain), so no identifier needs to be stored or backfilled.

-- The certID the client sent in newOrder's `replaces`, echoed in the order object.
ALTER TABLE orders ADD COLUMN replaces TEXT;

ALTER TABLE certificates
    -- The order that claimed to replace this certificate; free again once that order is invalid.
    ADD COLUMN replaced_by_order TEXT,
    -- Set: renewalInfo answers a window in the past (renew now), for this reason.
    ADD COLUMN renew_now_at TIMESTAMPTZ,
    ADD COLUMN renew_now_reason TEXT,
    -- What the status sweep last read from SCM, and when.
    ADD COLUMN scm_status TEXT,
    ADD COLUMN scm_checked_at TIMESTAMPTZ;

-- The sweep reads the certificates still to watch, least recently checked first.
CREATE INDEX certificates_status_sweep ON certificates (scm_checked_at NULLS FIRST, id)
    WHERE revoked_at IS NULL AND renew_now_at IS NULL;
