-- SQLite spelling of migrations/postgres/0005: the account's External Account Binding as sent
-- (JSON text), echoed in the account object (RFC 8555 §7.1.2).
ALTER TABLE accounts ADD COLUMN eab_binding TEXT;
