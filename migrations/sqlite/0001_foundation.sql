-- Foundation (SQLite spelling of migrations/postgres/0001): settings, EAB keys, accounts, nonce
-- redemptions. Timestamps are RFC 3339 text in UTC, written by the bridge, so they sort as text.
-- JSON columns hold JSON text. Keep this schema in step with the PostgreSQL one: the storage test
-- suite runs the same operations against both.

CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);

CREATE TABLE eab_keys (
    kid              TEXT PRIMARY KEY,
    hmac_key         BLOB NOT NULL,
    label            TEXT NOT NULL,
    allowed_patterns TEXT NOT NULL DEFAULT '[]',
    scm_org_id       INTEGER,
    profiles         TEXT NOT NULL DEFAULT '[]',
    trust_scm_dcv    BOOLEAN NOT NULL DEFAULT FALSE,
    single_use       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TEXT NOT NULL,
    used_at          TEXT,
    revoked_at       TEXT
);

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    key_thumbprint  TEXT NOT NULL UNIQUE,
    jwk             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
    contact         TEXT NOT NULL DEFAULT '[]',
    tos_agreed      BOOLEAN NOT NULL DEFAULT FALSE,
    eab_kid         TEXT REFERENCES eab_keys(kid),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX accounts_eab_kid ON accounts (eab_kid);

CREATE TABLE nonce_redemptions (
    nonce_hash  TEXT PRIMARY KEY,
    expires_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonce_redemptions_expires ON nonce_redemptions (expires_at);
