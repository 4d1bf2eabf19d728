-- EAB keys: what revoking one does to its accounts, and (below) how the HMAC key is stored.

-- Revoking a key stops its accounts from ordering unless the operator keeps them working
-- (`eab revoke --keep-accounts`). Keys revoked before this column existed were revoked with the
-- promise that their accounts keep working, hence FALSE for them.
ALTER TABLE eab_keys ADD COLUMN accounts_stopped BOOLEAN NOT NULL DEFAULT FALSE;

-- How `hmac_key` holds the HMAC key, so plaintext rows (written while no acme.eab_encryption_key
-- was configured) and encrypted ones coexist until `migrate` encrypts the former: 'plain' is the
-- key itself; 'xchacha20poly1305' is nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes), sealed with
-- the kid as associated data (src/store/eab_crypto.rs).
ALTER TABLE eab_keys ADD COLUMN hmac_key_format TEXT NOT NULL DEFAULT 'plain';
