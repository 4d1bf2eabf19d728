//! EAB HMAC keys at rest: sealed with the configured encryption key, opened only with it, and
//! plaintext rows brought under it (or rows moved from an old key to a new one) all or nothing.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::store::{EabCipher, EabEncryption, Store, StoreError};

fn cipher(byte: u8) -> EabCipher {
    EabCipher::from_bytes(&[byte; 32])
}

async fn with_key(t: &TestStore, byte: u8) -> Store {
    t.reopen().await.with_eab_cipher(Some(cipher(byte)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn eab_keys_are_sealed_at_rest_and_open_only_with_their_key(t: &TestStore) {
    let sealing = with_key(t, 1).await;
    let (mut first, mut second) = (eab_key(false), eab_key(false));
    first.hmac_key = acme_sectigo_bridge::ids::random_bytes(32);
    second.hmac_key = acme_sectigo_bridge::ids::random_bytes(32);
    sealing.create_eab_key(&first).await.unwrap();
    sealing.create_eab_key(&second).await.unwrap();
    let got = sealing.eab_key(&first.kid).await.unwrap().unwrap();
    assert_eq!(got.hmac_key, first.hmac_key, "callers see the plain key");
    assert_eq!(sealing.list_eab_keys().await.unwrap().len(), 2);
    let (raw, format) = t.raw_hmac_key(&first.kid).await;
    assert_eq!(format, "xchacha20poly1305");
    assert!(
        !contains(&raw, &first.hmac_key),
        "the key is not in the row"
    );

    // No key, or another key: an error naming the setting, never a wrong HMAC key.
    match t.store.eab_key(&first.kid).await {
        Err(e @ StoreError::EabKeyLocked(_)) => {
            assert!(
                e.to_string().contains("acme.eab_encryption_key_file"),
                "{e}"
            )
        }
        other => panic!("expected EabKeyLocked, got {other:?}"),
    }
    match with_key(t, 2).await.eab_key(&first.kid).await {
        Err(e @ StoreError::EabKeyUndecryptable(_)) => {
            let text = e.to_string();
            assert!(text.contains("acme.eab_encryption_key") && text.contains(&first.kid));
        }
        other => panic!("expected EabKeyUndecryptable, got {other:?}"),
    }
    // A sealed key copied onto another row does not open there.
    t.set_raw_hmac_key(&second.kid, &raw).await;
    assert!(matches!(
        sealing.eab_key(&second.kid).await,
        Err(StoreError::EabKeyUndecryptable(_))
    ));
}

pub async fn stored_eab_keys_are_encrypted_and_rotated_all_or_nothing(t: &TestStore) {
    let (first, second) = (eab_key(false), eab_key(true));
    t.store.create_eab_key(&first).await.unwrap();
    t.store.create_eab_key(&second).await.unwrap();
    assert_eq!(
        t.raw_hmac_key(&first.kid).await.0,
        first.hmac_key,
        "plaintext"
    );
    assert_eq!(t.store.count_plaintext_eab_keys().await.unwrap(), 2);
    assert!(matches!(
        t.store.encrypt_eab_keys(None).await,
        Err(StoreError::EabEncryptionNotConfigured)
    ));

    let old = with_key(t, 1).await;
    let done = old.encrypt_eab_keys(None).await.unwrap();
    assert_eq!(
        (done.encrypted, done.reencrypted, done.unchanged),
        (2, 0, 0)
    );
    assert_eq!(old.count_plaintext_eab_keys().await.unwrap(), 0);
    let sealed = t.raw_hmac_key(&first.kid).await;
    assert_eq!(sealed.1, "xchacha20poly1305");
    assert_ne!(sealed.0, first.hmac_key);
    assert_eq!(
        old.encrypt_eab_keys(None).await.unwrap(),
        EabEncryption {
            unchanged: 2,
            ..Default::default()
        }
    );

    // A new key without the old one: refused, nothing written.
    let new = with_key(t, 2).await;
    assert!(matches!(
        new.encrypt_eab_keys(None).await,
        Err(StoreError::EabKeyUndecryptable(_))
    ));
    assert_eq!(t.raw_hmac_key(&first.kid).await, sealed);
    // With the old one: every row moves to the new key.
    let done = new.encrypt_eab_keys(Some(&cipher(1))).await.unwrap();
    assert_eq!(
        (done.encrypted, done.reencrypted, done.unchanged),
        (0, 2, 0)
    );
    for key in [&first, &second] {
        assert_eq!(
            new.eab_key(&key.kid).await.unwrap().unwrap().hmac_key,
            key.hmac_key
        );
        assert!(old.eab_key(&key.kid).await.is_err());
    }
}
