-- EAB keys: what revoking one does to its accounts, and (below) how the HMAC key is stored.

-- Revoking a key stops its accounts from ordering unless the operator keeps them working
-- (`eab revoke --keep-accounts`). Keys revoked before this column existed were revoked with the
-- promise that their accounts keep working, hence FALSE for them.
ALTER TABLE eab_keys ADD COLUMN accounts_stopped BOOLEAN NOT NULL DEFAULT FALSE;
