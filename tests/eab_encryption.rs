//! EAB HMAC keys at rest: rows written without an encryption key are plaintext; `migrate` with
//! `acme.eab_encryption_key` configured encrypts them, and registration keeps working. A missing or
//! wrong encryption key is an error naming the setting.

mod support;

use acme_sectigo_bridge::cli::{Command, EabCommand};
use acme_sectigo_bridge::config::Config;
use acme_sectigo_bridge::secret::Secret;
use support::app::TestApp;
use support::client::Client;
use support::db::TestDb;

/// 32 random bytes, base64 (what `openssl rand -base64 32` prints).
const KEY: &str = "/K1SeSalUcfCrBW3rRdZ7JjaFztnTWKZ8NySnUZ0bYI=";
/// Another key, as hex (`openssl rand -hex 32`).
const OTHER_KEY: &str = "aa5dbc905cb7fe2fc4f01424df61fc179183d1c113873e0509f00e9ffb65b511";

/// The configuration on `db` with the encryption key given the way containers give it.
fn config(db: &TestDb, key: Option<&str>) -> Config {
    let env = key.map(|k| ("BRIDGE_ACME__EAB_ENCRYPTION_KEY".to_string(), k.to_string()));
    let mut c = Config::load_with_env(None, env).expect("configuration");
    c.database.url = Some(Secret::new(db.url.clone()));
    c
}

async fn run(db: &TestDb, key: Option<&str>, command: Command) -> anyhow::Result<()> {
    acme_sectigo_bridge::cli::run(config(db, key), std::path::Path::new("unused"), command).await
}

/// The `hmac_key` column of every EAB key, as stored.
async fn raw_keys(db: &TestDb) -> Vec<(String, Vec<u8>)> {
    sqlx::query_as("SELECT kid, hmac_key FROM eab_keys ORDER BY kid")
        .fetch_all(&mut db.connect().await)
        .await
        .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn migrate_encrypts_plaintext_keys_and_registration_keeps_working() {
    let db = TestDb::create().await;
    // A bridge without an encryption key stores the HMAC keys as they are.
    let plain = TestApp::spawn_on(std::sync::Arc::new(db.shared()), |_| {}).await;
    let first = plain.eab_key(false).await;
    let second = plain.eab_key(false).await;
    plain.stop().await;
    let hmacs = [&first.1, &second.1];
    let raw = raw_keys(&db).await;
    assert!(raw.iter().all(|(_, k)| hmacs.contains(&k)), "plaintext");

    run(&db, Some(KEY), Command::Migrate).await.unwrap();
    let raw = raw_keys(&db).await;
    assert_eq!(raw.len(), 2);
    for (kid, stored) in &raw {
        for hmac in hmacs {
            assert!(
                !contains(stored, hmac),
                "{kid} still holds an HMAC key in plaintext"
            );
        }
    }
    // Running it again changes nothing.
    run(&db, Some(KEY), Command::Migrate).await.unwrap();
    assert_eq!(raw_keys(&db).await, raw);

    // Without the key, or with another one, the keys cannot be read: the error names the setting.
    for key in [None, Some(OTHER_KEY)] {
        let e = run(&db, key, Command::Eab(EabCommand::List { json: true }))
            .await
            .expect_err("EAB keys must not be readable without their encryption key");
        let text = format!("{e:#}");
        assert!(text.contains("acme.eab_encryption_key"), "{text}");
        assert!(
            text.contains(&first.0) || text.contains(&second.0),
            "{text}"
        );
    }

    // A bridge with the key registers accounts with both EAB keys.
    let acme = config(&db, Some(KEY)).acme;
    let app = TestApp::spawn_on(std::sync::Arc::new(db), |c| c.acme = acme).await;
    for (kid, hmac) in [&first, &second] {
        let r = Client::new(&app).register(Some((kid, hmac))).await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    // A key created now is stored encrypted at once.
    let (kid, hmac) = app.eab_key(false).await;
    let stored = raw_keys(&app.db).await;
    let (_, new) = stored.iter().find(|(k, _)| *k == kid).unwrap();
    assert!(!contains(new, &hmac));
}

/// Rotation: `eab reencrypt --old-key-file` moves every row to the newly configured key.
#[tokio::test]
async fn eab_reencrypt_moves_the_keys_to_a_new_encryption_key() {
    let db = TestDb::create().await;
    let old = TestApp::spawn_on(std::sync::Arc::new(db.shared()), |c| {
        c.acme = config(&db, Some(KEY)).acme
    })
    .await;
    let (kid, _) = old.eab_key(false).await;
    old.stop().await;
    let file = std::env::temp_dir().join(format!("bridge-old-eab-key-{kid}"));
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let reencrypt = EabCommand::Reencrypt {
        old_key_file: Some(file.clone()),
    };
    run(&db, Some(OTHER_KEY), Command::Eab(reencrypt))
        .await
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let list = EabCommand::List { json: true };
    run(&db, Some(OTHER_KEY), Command::Eab(list)).await.unwrap();
    let list = EabCommand::List { json: true };
    assert!(run(&db, Some(KEY), Command::Eab(list)).await.is_err());
}
