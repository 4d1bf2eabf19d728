-- Issuance through SCM: one enrollment per order (its SCM side), and the certificates obtained.

CREATE TABLE enrollments (
    order_id            TEXT PRIMARY KEY REFERENCES orders(id),
    csr_der             BYTEA NOT NULL,
    -- Written into SCM's `comments`, so a certificate whose enroll response was lost can be found.
    marker              TEXT NOT NULL UNIQUE,
    org_id              BIGINT NOT NULL,
    cert_type           BIGINT NOT NULL,
    term                BIGINT NOT NULL,
    subj_alt_names      JSONB NOT NULL,
    common_name         TEXT,
    -- Set before an enroll call is made; with ssl_id still NULL it means "outcome unknown: look the
    -- marker up in SCM before enrolling again".
    enroll_started_at   TIMESTAMPTZ,
    enroll_attempts     INT NOT NULL DEFAULT 0,
    ssl_id              BIGINT,
    renew_id            TEXT,
    collect_attempts    INT NOT NULL DEFAULT 0,
    next_poll_at        TIMESTAMPTZ,
    finalized_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX enrollments_ssl_id ON enrollments (ssl_id);

CREATE TABLE certificates (
    id                  TEXT PRIMARY KEY,
    order_id            TEXT NOT NULL UNIQUE REFERENCES orders(id),
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    -- Leaf first, then issuers; what clients download.
    chain_pem           TEXT NOT NULL,
    -- Lower-case hex without separators.
    serial              TEXT NOT NULL UNIQUE,
    -- RFC 7638 thumbprint of the certificate's public key (revocation by certificate key).
    key_thumbprint      TEXT NOT NULL,
    ssl_id              BIGINT NOT NULL,
    not_after           TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ,
    revocation_reason   INT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
