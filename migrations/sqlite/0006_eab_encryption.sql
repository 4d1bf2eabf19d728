-- EAB keys: revocation that stops accounts, and how the HMAC key is stored (SQLite spelling of
-- migrations/postgres/0006).
ALTER TABLE eab_keys ADD COLUMN accounts_stopped BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE eab_keys ADD COLUMN hmac_key_format TEXT NOT NULL DEFAULT 'plain';
