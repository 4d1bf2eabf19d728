-- Orders, authorizations, challenges, and the durable jobs table every replica's workers share.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
    identifiers      JSONB NOT NULL,
    -- Canonical sorted identifiers: finds an identical pending order to return instead of a new one.
    identifiers_key  TEXT NOT NULL,
    profile          TEXT,
    expires_at       TIMESTAMPTZ NOT NULL,
    error            JSONB,
    certificate_id   TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_account ON orders (account_id, created_at, id);
CREATE INDEX orders_reuse ON orders (account_id, identifiers_key) WHERE status IN ('pending', 'ready');

CREATE TABLE authorizations (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    identifier_type   TEXT NOT NULL,
    identifier_value  TEXT NOT NULL,
    wildcard          BOOLEAN NOT NULL DEFAULT FALSE,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
    expires_at        TIMESTAMPTZ NOT NULL,
    validated_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX authorizations_reuse
    ON authorizations (account_id, identifier_type, identifier_value, wildcard)
    WHERE status = 'valid';

CREATE TABLE order_authorizations (
    order_id   TEXT NOT NULL REFERENCES orders(id),
    authz_id   TEXT NOT NULL REFERENCES authorizations(id),
    position   INT NOT NULL,
    PRIMARY KEY (order_id, authz_id)
);
CREATE INDEX order_authorizations_authz ON order_authorizations (authz_id);

CREATE TABLE challenges (
    id                 TEXT PRIMARY KEY,
    authz_id           TEXT NOT NULL REFERENCES authorizations(id),
    type               TEXT NOT NULL,
    token              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
    validated_at       TIMESTAMPTZ,
    error              JSONB,
    validation_record  JSONB,
    position           INT NOT NULL
);
CREATE INDEX challenges_authz ON challenges (authz_id, position);

-- Work that must survive a crash: recorded in the same transaction as the state change that needs
-- it, claimed with FOR UPDATE SKIP LOCKED under a lease, deleted in the transaction that finishes it.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    run_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts     INT NOT NULL DEFAULT 0,
    lease_until  TIMESTAMPTZ,
    leased_by    TEXT,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (kind, subject_id)
);
CREATE INDEX jobs_due ON jobs (run_at);
