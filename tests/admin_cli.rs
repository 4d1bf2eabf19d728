//! CLI parity with the admin API (#15), run as the real binary against the database of a bridge
//! that issued a certificate through the SCM sandbox: `accounts list/deactivate`, `orders
//! list/show`, `certs list/show/revoke` (through SCM, by the running server's worker) and `audit
//! export`, each with `--json`.

mod support;

use serde_json::Value;
use support::flow::{csr, finalize, Env};
use support::process::binary;

/// Runs the binary on the bridge's database; stdout (the command must succeed).
fn cli(env: &Env, args: &[&str]) -> String {
    let out = binary()
        .env("BRIDGE_DATABASE__URL", &env.app.db.url)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each stdout line as JSON.
fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_shows_revokes_and_exports() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    assert_eq!(finalize(&c, &order, &der).await.body["status"], "valid");

    let accounts = lines(&cli(&env, &["accounts", "list", "--json"]));
    assert_eq!(accounts.len(), 1);
    let account_id = accounts[0]["id"].as_str().unwrap().to_string();
    let orders = lines(&cli(
        &env,
        &["orders", "list", "--json", "--name", "127.0.0.1"],
    ));
    assert_eq!(orders.len(), 1);
    assert!(lines(&cli(
        &env,
        &["orders", "list", "--json", "--status", "pending"]
    ))
    .is_empty());
    let order_id = orders[0]["id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_str(&cli(&env, &["orders", "show", order_id, "--json"])).unwrap();
    assert_eq!(shown["status"], "valid");
    let ssl_id = shown["scm"]["ssl_id"].as_i64().unwrap();

    let certs = lines(&cli(
        &env,
        &["certs", "list", "--json", "--name", "127.0.0.1"],
    ));
    assert_eq!(certs.len(), 1);
    let (cert_id, serial) = (
        certs[0]["id"].as_str().unwrap(),
        certs[0]["serial"].as_str().unwrap(),
    );
    let shown: Value =
        serde_json::from_str(&cli(&env, &["certs", "show", cert_id, "--json"])).unwrap();
    assert!(shown["chain_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    cli(
        &env,
        &["certs", "revoke", cert_id, "--reason", "5", "--json"],
    );
    // The running bridge's worker makes the SCM call.
    let mut revoked = false;
    for _ in 0..200 {
        if env.sandbox.status(ssl_id).as_deref() == Some("Revoked") {
            revoked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(revoked);

    cli(&env, &["accounts", "deactivate", &account_id, "--json"]);
    let accounts = lines(&cli(&env, &["accounts", "list", "--json"]));
    assert_eq!(accounts[0]["status"], "deactivated");

    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let events = lines(&cli(&env, &["audit", "export", "--since", &since]));
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    for want in [
        ("account.created", format!("account:{account_id}")),
        ("certificate.revocation_requested", "cli".to_string()),
        ("account.deactivated", "cli".to_string()),
    ] {
        assert!(
            kinds.contains(&(want.0, want.1.as_str())),
            "{want:?} in {kinds:?}"
        );
    }
    let by_serial = lines(&cli(
        &env,
        &["audit", "export", "--serial", &serial.to_uppercase()],
    ));
    assert!(
        by_serial.iter().any(|e| e["kind"] == "certificate.revoked"),
        "{by_serial:?}"
    );
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert!(cli(&env, &["audit", "export", "--since", &future]).is_empty());
}

/// `eab create` checks what the admin API checks: a pattern that is no name, wildcard or address
/// range is refused, naming it, and no key is made. Before, the CLI stored it, and every newOrder of
/// the key's accounts then failed with a server error.
#[tokio::test]
async fn eab_create_refuses_a_pattern_that_matches_nothing() {
    let db = support::db::TestDb::create().await;
    let run = |args: &[&str]| {
        binary()
            .env("BRIDGE_DATABASE__URL", &db.url)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    for bad in ["https://example.edu", "*example.edu", "10.0.0.0/33"] {
        let out = run(&["eab", "create", "--label", "team", "--allow", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: accepted");
        assert!(stderr.contains(bad), "{bad}: not named: {stderr}");
    }
    let out = run(&["eab", "create", "--label", "  ", "--allow", "example.edu"]);
    assert!(!out.status.success(), "an empty label was accepted");
    let out = run(&["eab", "list", "--json"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]), "a refused key was stored");
    let out = run(&[
        "eab",
        "create",
        "--label",
        "team",
        "--allow",
        "*.example.edu",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
