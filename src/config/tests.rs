//! Configuration loading: defaults, environment, secrets, and errors that name the key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_need_no_file() {
    let c = Config::load_with_env(None, env(&[])).unwrap();
    assert!(c.acme.eab_required);
    assert_eq!(c.server.base_url().as_str(), "http://127.0.0.1:14000/");
}

#[test]
fn environment_overrides_nested_keys_with_types() {
    let c = Config::load_with_env(
        None,
        env(&[
            ("BRIDGE_ACME__EAB_REQUIRED", "false"),
            ("BRIDGE_SERVER__LISTEN", "0.0.0.0:8443"),
            ("BRIDGE_DATABASE__URL", "postgres://x@y/z"),
        ]),
    )
    .unwrap();
    assert!(!c.acme.eab_required);
    assert_eq!(c.server.listen.port(), 8443);
    assert_eq!(c.database.url.unwrap().expose(), "postgres://x@y/z");
}

#[test]
fn unknown_key_is_named() {
    let mut t = toml::Table::new();
    let mut server = toml::Table::new();
    server.insert("lisen".into(), toml::Value::String("x".into()));
    t.insert("server".into(), toml::Value::Table(server));
    let err = Config::from_table(t).unwrap_err().to_string();
    assert!(err.contains("lisen"), "{err}");
}

#[test]
fn invalid_value_is_named() {
    let err = Config::load_with_env(None, env(&[("BRIDGE_SERVER__LISTEN", "not-an-address")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn the_example_configuration_is_valid() {
    // Secrets point at files that exist only in production; give them inline here.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml"))
        .unwrap()
        .replace(
            "url_file = \"/run/secrets/bridge-database-url\"",
            "url = \"postgres://h/d\"",
        )
        .replace(
            "password_file = \"/run/secrets/scm-password\"",
            "password = \"p\"",
        );
    let c = Config::from_table(text.parse().unwrap()).unwrap();
    assert_eq!(c.profiles["ov"].scm_cert_type, 423);
    assert_eq!(c.scm.unwrap().org_id, Some(12345));
    assert_eq!(c.issuance.lease_secs, 60);
    assert_eq!(
        c.limits.new_order_per_account,
        crate::limits::Rate::new(300.0, 600)
    );
    assert_eq!(c.retention.orders_days, 90);
    assert_eq!(c.server.request_timeout_secs, 30);
}

#[test]
fn limits_and_timeouts_are_checked_and_overridable() {
    let c = Config::load_with_env(
        None,
        env(&[
            ("BRIDGE_LIMITS__NEW_ORDER_PER_ACCOUNT__PER_MINUTE", "5"),
            ("BRIDGE_LIMITS__NEW_ORDER_PER_ACCOUNT__BURST", "7"),
            ("BRIDGE_SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.limits.new_order_per_account,
        crate::limits::Rate::new(5.0, 7)
    );
    assert_eq!(c.server.trusted_proxies.len(), 1);
    // A timeout that would cut finalize's deliberate wait short is refused, naming the minimum.
    let err = Config::load_with_env(None, env(&[("BRIDGE_SERVER__REQUEST_TIMEOUT_SECS", "15")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("request_timeout_secs") && err.contains("20"),
        "{err}"
    );
    assert!(
        Config::load_with_env(None, env(&[("BRIDGE_SERVER__REQUEST_TIMEOUT_SECS", "0")])).is_ok()
    );
    let err = Config::load_with_env(None, env(&[("BRIDGE_RETENTION__BATCH_SIZE", "0")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("retention.batch_size"), "{err}");
}

#[test]
fn secret_files_are_read() {
    let dir = std::env::temp_dir().join(format!("bridge-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("db");
    std::fs::write(&f, "postgres://secret@h/d\n").unwrap();
    let c = Config::load_with_env(
        None,
        env(&[("BRIDGE_DATABASE__URL_FILE", f.to_str().unwrap())]),
    )
    .unwrap();
    assert_eq!(c.database.url.unwrap().expose(), "postgres://secret@h/d");
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bridge-cfg-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn scm_ca_file_from_the_file_stays_a_path() {
    let dir = temp_dir("ca-toml");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not read by the configuration\n").unwrap();
    let file = dir.join("bridge.toml");
    std::fs::write(
        &file,
        format!(
            "[scm]\ncustomer_uri = \"t\"\nlogin = \"l\"\npassword = \"p\"\nca_file = {:?}\n",
            ca.to_str().unwrap()
        ),
    )
    .unwrap();
    let c = Config::load_with_env(Some(&file), env(&[])).unwrap();
    assert_eq!(c.scm.unwrap().ca_file, Some(ca));
}

#[test]
fn scm_ca_file_from_the_environment_stays_a_path() {
    let dir = temp_dir("ca-env");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not read by the configuration\n").unwrap();
    let c = Config::load_with_env(
        None,
        env(&[
            ("BRIDGE_SCM__CUSTOMER_URI", "t"),
            ("BRIDGE_SCM__LOGIN", "l"),
            ("BRIDGE_SCM__PASSWORD", "p"),
            ("BRIDGE_SCM__CA_FILE", ca.to_str().unwrap()),
        ]),
    )
    .unwrap();
    assert_eq!(c.scm.unwrap().ca_file, Some(ca));
}

#[test]
fn every_listed_secret_can_come_from_a_file() {
    let dir = temp_dir("secrets");
    for key in load::SECRET_KEYS {
        // The EAB encryption key is checked as it is loaded (32 bytes as base64 or hex).
        let value = match *key {
            "acme.eab_encryption_key" => {
                "aa5dbc905cb7fe2fc4f01424df61fc179183d1c113873e0509f00e9ffb65b511".to_string()
            }
            _ => format!("secret of {key} 0123456789abcdef0123456789abcdef"),
        };
        let f = dir.join(key);
        std::fs::write(&f, format!("{value}\n")).unwrap();
        let var = format!(
            "BRIDGE_{}_FILE",
            key.replace('.', "__").to_ascii_uppercase()
        );
        // `[scm]` needs a password when present; the one under test comes from its file.
        let mut vars = vec![
            ("BRIDGE_SCM__CUSTOMER_URI", "t"),
            ("BRIDGE_SCM__LOGIN", "l"),
            (&var, f.to_str().unwrap()),
        ];
        if *key != "scm.password" {
            vars.push(("BRIDGE_SCM__PASSWORD", "p"));
        }
        let c = Config::load_with_env(None, env(&vars)).unwrap_or_else(|e| panic!("{var}: {e}"));
        let got = match *key {
            "database.url" => c.database.url.unwrap(),
            "acme.nonce_key" => c.acme.nonce_key.unwrap(),
            "acme.eab_encryption_key" => c.acme.eab_encryption_key.unwrap(),
            "scm.password" => c.scm.unwrap().password.unwrap(),
            "sandbox.password" => c.sandbox.password,
            other => panic!("tell this test where {other} ends up"),
        };
        assert_eq!(got.expose(), value, "{key}");
    }
}

#[test]
fn a_file_key_that_is_neither_secret_nor_known_is_named() {
    let err = Config::load_with_env(None, env(&[("BRIDGE_SERVER__LISTEN_FILE", "/x")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen_file"), "{err}");
}

#[test]
fn the_eab_encryption_key_comes_from_a_file_or_the_environment_and_is_checked() {
    let dir = std::env::temp_dir().join(format!("bridge-cfg-eab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("eab.key");
    std::fs::write(&f, "/K1SeSalUcfCrBW3rRdZ7JjaFztnTWKZ8NySnUZ0bYI=\n").unwrap();
    let mut acme = toml::Table::new();
    acme.insert(
        "eab_encryption_key_file".into(),
        toml::Value::String(f.to_str().unwrap().into()),
    );
    let mut t = toml::Table::new();
    t.insert("acme".into(), toml::Value::Table(acme));
    std::fs::write(dir.join("c.toml"), toml::to_string(&t).unwrap()).unwrap();
    let c = Config::load_with_env(Some(&dir.join("c.toml")), env(&[])).unwrap();
    assert!(c.acme.eab_cipher().unwrap().is_some());
    assert!(
        !format!("{c:?}").contains("K1SeSal"),
        "the key never shows in Debug"
    );

    let hex = "aa5dbc905cb7fe2fc4f01424df61fc179183d1c113873e0509f00e9ffb65b511";
    let c = Config::load_with_env(None, env(&[("BRIDGE_ACME__EAB_ENCRYPTION_KEY", hex)])).unwrap();
    assert!(c.acme.eab_cipher().unwrap().is_some());
    let c = Config::load_with_env(
        None,
        env(&[("BRIDGE_ACME__EAB_ENCRYPTION_KEY_FILE", f.to_str().unwrap())]),
    )
    .unwrap();
    assert!(c.acme.eab_cipher().unwrap().is_some());
    assert!(Config::load_with_env(None, env(&[]))
        .unwrap()
        .acme
        .eab_cipher()
        .unwrap()
        .is_none());

    let err = Config::load_with_env(None, env(&[("BRIDGE_ACME__EAB_ENCRYPTION_KEY", "hunter2")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("acme.eab_encryption_key") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn exactly_once_knobs_have_defaults_and_bounds() {
    let c = Config::load_with_env(None, env(&[])).unwrap();
    assert_eq!(c.issuance.enroll_settle_secs, 5);
    assert_eq!(c.issuance.reconcile_interval_secs, 600);
    for (k, v) in [
        ("BRIDGE_ISSUANCE__ENROLL_SETTLE_SECS", "0"),
        ("BRIDGE_ISSUANCE__ENROLL_SETTLE_SECS", "301"),
        ("BRIDGE_ISSUANCE__RECONCILE_INTERVAL_SECS", "604801"),
    ] {
        let err = Config::load_with_env(None, env(&[(k, v)]))
            .unwrap_err()
            .to_string();
        let key = k
            .trim_start_matches("BRIDGE_ISSUANCE__")
            .to_ascii_lowercase();
        assert!(err.contains(&key), "{k}={v}: {err}");
    }
    let c = Config::load_with_env(
        None,
        env(&[("BRIDGE_ISSUANCE__RECONCILE_INTERVAL_SECS", "0")]),
    )
    .unwrap();
    assert_eq!(c.issuance.reconcile_interval_secs, 0);
}

/// A configuration error names the key but never shows a secret's value: the message goes to the
/// terminal and to whatever collects the service's output.
#[test]
fn errors_about_secret_settings_do_not_show_the_value() {
    let dir = temp_dir("secret-errors");
    let cases = [
        // A wrong type: the error quotes the offending line.
        (
            "type.toml",
            "[scm]\nbase_url = \"https://scm.example\"\ncustomer_uri = \"c\"\nlogin = \"l\"\n\
             password = [\"918273645\"]\n",
            "918273645",
            "password",
        ),
        // A syntax error: toml's message quotes the line.
        (
            "syntax.toml",
            "[database]\nurl = \"postgres://bridge:hunter2@db/acme\n",
            "hunter2",
            "url",
        ),
        (
            "key.toml",
            "[acme]\neab_encryption_key = [\"s3cr3tb1ts\", 1]\n",
            "s3cr3tb1ts",
            "eab_encryption_key",
        ),
    ];
    for (name, text, secret, key) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let err = Config::load_with_env(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains(secret), "{name}: the value is shown: {err}");
        assert!(err.contains(key), "{name}: the key is not named: {err}");
    }
    // The same through the environment (the value parses as an array, not a string).
    let vars = [
        ("BRIDGE_SCM__BASE_URL", "https://scm.example"),
        ("BRIDGE_SCM__CUSTOMER_URI", "c"),
        ("BRIDGE_SCM__LOGIN", "l"),
        ("BRIDGE_SCM__PASSWORD", "[\"918273645\"]"),
    ];
    let err = Config::load_with_env(None, env(&vars))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("918273645"), "the value is shown: {err}");
    assert!(err.contains("password"), "the key is not named: {err}");
    // Other settings keep showing the offending line: it is what a person needs to fix it.
    let file = dir.join("plain.toml");
    std::fs::write(&file, "[server]\nlisten = 8080\n").unwrap();
    let err = Config::load_with_env(Some(&file), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen = 8080"), "{err}");
}
