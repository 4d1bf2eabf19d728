-- Issuance through SCM (SQLite spelling of migrations/postgres/0003).

CREATE TABLE enrollments (
    order_id            TEXT PRIMARY KEY REFERENCES orders(id),
    csr_der             BLOB NOT NULL,
    marker              TEXT NOT NULL UNIQUE,
    org_id              INTEGER NOT NULL,
    cert_type           INTEGER NOT NULL,
    term                INTEGER NOT NULL,
    subj_alt_names      TEXT NOT NULL,
    common_name         TEXT,
    enroll_started_at   TEXT,
    enroll_attempts     INTEGER NOT NULL DEFAULT 0,
    ssl_id              INTEGER,
    renew_id            TEXT,
    collect_attempts    INTEGER NOT NULL DEFAULT 0,
    next_poll_at        TEXT,
    finalized_at        TEXT NOT NULL,
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX enrollments_ssl_id ON enrollments (ssl_id);

CREATE TABLE certificates (
    id                  TEXT PRIMARY KEY,
    order_id            TEXT NOT NULL UNIQUE REFERENCES orders(id),
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    chain_pem           TEXT NOT NULL,
    serial              TEXT NOT NULL UNIQUE,
    key_thumbprint      TEXT NOT NULL,
    ssl_id              INTEGER NOT NULL,
    not_after           TEXT NOT NULL,
    revoked_at          TEXT,
    revocation_reason   INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
