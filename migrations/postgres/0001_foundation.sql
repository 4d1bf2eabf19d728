-- Foundation: settings shared by replicas, EAB keys, accounts, nonce redemptions.

CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE eab_keys (
    kid              TEXT PRIMARY KEY,
    hmac_key         BYTEA NOT NULL,
    label            TEXT NOT NULL,
    allowed_patterns JSONB NOT NULL DEFAULT '[]',
    scm_org_id       BIGINT,
    profiles         JSONB NOT NULL DEFAULT '[]',
    trust_scm_dcv    BOOLEAN NOT NULL DEFAULT FALSE,
    single_use       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at          TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ
);

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    key_thumbprint  TEXT NOT NULL UNIQUE,
    jwk             JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
    contact         JSONB NOT NULL DEFAULT '[]',
    tos_agreed      BOOLEAN NOT NULL DEFAULT FALSE,
    eab_kid         TEXT REFERENCES eab_keys(kid),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX accounts_eab_kid ON accounts (eab_kid);

-- A nonce is redeemed by inserting its hash; the primary key makes a second redemption fail on any
-- replica. Rows are purged once the nonce could no longer be accepted anyway.
CREATE TABLE nonce_redemptions (
    nonce_hash  TEXT PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX nonce_redemptions_expires ON nonce_redemptions (expires_at);
