-- Revocation requests go through a job like issuance: the client's request is recorded, a worker
-- calls SCM, and the certificate is reported revoked only once SCM confirmed.
ALTER TABLE certificates
    ADD COLUMN revocation_requested_at TIMESTAMPTZ,
    ADD COLUMN requested_reason INT,
    ADD COLUMN revocation_error JSONB;
