-- Orders, authorizations, challenges and the jobs table (SQLite spelling of
-- migrations/postgres/0002). Jobs are claimed inside BEGIN IMMEDIATE transactions, which exclude
-- every other writer, instead of FOR UPDATE SKIP LOCKED.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
    identifiers      TEXT NOT NULL,
    identifiers_key  TEXT NOT NULL,
    profile          TEXT,
    expires_at       TEXT NOT NULL,
    error            TEXT,
    certificate_id   TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
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
    expires_at        TEXT NOT NULL,
    validated_at      TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX authorizations_reuse
    ON authorizations (account_id, identifier_type, identifier_value, wildcard)
    WHERE status = 'valid';

CREATE TABLE order_authorizations (
    order_id   TEXT NOT NULL REFERENCES orders(id),
    authz_id   TEXT NOT NULL REFERENCES authorizations(id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (order_id, authz_id)
);
CREATE INDEX order_authorizations_authz ON order_authorizations (authz_id);

CREATE TABLE challenges (
    id                 TEXT PRIMARY KEY,
    authz_id           TEXT NOT NULL REFERENCES authorizations(id),
    type               TEXT NOT NULL,
    token              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
    validated_at       TEXT,
    error              TEXT,
    validation_record  TEXT,
    position           INTEGER NOT NULL
);
CREATE INDEX challenges_authz ON challenges (authz_id, position);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    run_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_until  TEXT,
    leased_by    TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    UNIQUE (kind, subject_id)
);
CREATE INDEX jobs_due ON jobs (run_at);
