//! deploy/: every Kubernetes manifest is valid (kubernetes-validate, strict, for the oldest and a
//! recent supported Kubernetes), the ServiceMonitor — a custom resource kubernetes-validate has no
//! schema for — is valid against `tests/deploy/servicemonitor.schema.json`, kustomization.yaml lists
//! every manifest, the ConfigMap's configuration loads with today's configuration keys, and every
//! series the Grafana dashboard queries is one `src/metrics.rs` exports. Fail (do not skip) when
//! python3 or kubernetes-validate is missing: `scripts/install-test-deps.sh` installs them.

use acme_sectigo_bridge::config::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Kubernetes versions every manifest is validated against: the oldest supported and a recent one.
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.33.0"];

/// Custom resources (kubernetes-validate only warns about them and exits 0), each with the JSON
/// schema in tests/deploy/ that checks it instead.
const CUSTOM_RESOURCES: &[(&str, &str)] = &[("servicemonitor.yaml", "servicemonitor.schema.json")];

/// Where deployment.yaml mounts the Secret files the configuration's `*_file` keys name.
const SECRETS_DIR: &str = "/run/secrets/acme-sectigo-bridge/";

/// Series Prometheus itself adds to every target (the dashboard counts scraped replicas with `up`).
const PROMETHEUS_SERIES: &[&str] = &["up"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kubernetes_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deploy-manifests-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The manifests: every `*.yaml` of deploy/kubernetes but kustomization.yaml, which is kustomize's
/// own file and no Kubernetes object.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(kubernetes_dir())
        .expect("deploy/kubernetes")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in deploy/kubernetes");
    files
}

fn is_custom_resource(path: &Path) -> bool {
    CUSTOM_RESOURCES
        .iter()
        .any(|(file, _)| path.file_name().is_some_and(|n| n == *file))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "python3 must be installed, with `python3 -m pip install kubernetes-validate` \
             (scripts/install-test-deps.sh does both): {e}"
        )
    })
}

/// stdout and stderr together, for assertions and failure messages.
fn log(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubernetes-validate --strict` (unknown fields are errors) for every version of
/// [`KUBERNETES_VERSIONS`].
fn kubernetes_validate(files: &[PathBuf]) -> Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "kubernetes_validate", "--strict"]);
    for v in KUBERNETES_VERSIONS {
        cmd.arg("--kubernetes-version").arg(v);
    }
    run(cmd.args(files))
}

/// Every document of `file` against the JSON schema `schema` (tests/deploy/validate_with_schema.py).
fn validate_with_schema(schema: &Path, file: &Path) -> Output {
    run(Command::new("python3")
        .arg(root().join("tests/deploy/validate_with_schema.py"))
        .arg(schema)
        .arg(file))
}

#[test]
fn every_manifest_is_valid_for_kubernetes() {
    let builtin: Vec<PathBuf> = manifests()
        .into_iter()
        .filter(|p| !is_custom_resource(p))
        .collect();
    let out = kubernetes_validate(&builtin);
    let log = log(&out);
    assert!(
        out.status.success(),
        "kubernetes-validate refused a manifest:\n{log}"
    );
    // A kind kubernetes-validate has no schema for is only a WARN with exit 0: it must be listed in
    // CUSTOM_RESOURCES with a schema rather than pass unchecked.
    assert!(
        !log.contains("WARN"),
        "a manifest was not checked; list custom resources in CUSTOM_RESOURCES:\n{log}"
    );
    for file in &builtin {
        for v in KUBERNETES_VERSIONS {
            let minor = &v[..v.rfind('.').unwrap()];
            let passed = log.lines().any(|l| {
                l.starts_with(&format!("INFO {} passed", file.display()))
                    && l.ends_with(&format!("against version {minor}"))
            });
            assert!(
                passed,
                "{} was not validated for Kubernetes {minor}:\n{log}",
                file.display()
            );
        }
    }
}

#[test]
fn custom_resources_are_valid_against_their_schemas() {
    for (file, schema) in CUSTOM_RESOURCES {
        let out = validate_with_schema(
            &root().join("tests/deploy").join(schema),
            &kubernetes_dir().join(file),
        );
        let log = log(&out);
        assert!(out.status.success(), "{file} against {schema}:\n{log}");
        assert!(log.contains("INFO "), "{file} was not checked:\n{log}");
    }
}

#[test]
fn broken_manifests_are_refused() {
    let dir = temp_dir("broken");
    let deployment = read(&kubernetes_dir().join("deployment.yaml"));
    let broken = [
        // A misspelt field: refused only in strict mode.
        (
            "misspelt.yaml",
            deployment.replace("readinessProbe:", "readinesProbe:"),
        ),
        // A wrong type.
        (
            "wrong-type.yaml",
            deployment.replace("replicas: 2", "replicas: two"),
        ),
        // Not YAML at all.
        ("not-yaml.yaml", "spec: [\n".to_string()),
    ];
    for (name, text) in &broken {
        assert_ne!(
            text, &deployment,
            "{name}: the test no longer breaks deployment.yaml"
        );
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = kubernetes_validate(&[path]);
        assert!(!out.status.success(), "{name} was accepted:\n{}", log(&out));
    }

    // Why custom resources need their own check: kubernetes-validate passes an unknown kind.
    let unknown = dir.join("unknown-kind.yaml");
    std::fs::write(
        &unknown,
        "apiVersion: example.com/v1\nkind: Anything\nmetadata:\n  name: x\nspec:\n  whatever: 1\n",
    )
    .unwrap();
    let out = kubernetes_validate(&[unknown]);
    assert!(
        out.status.success() && log(&out).contains("WARN"),
        "kubernetes-validate changed how it treats unknown kinds; revisit CUSTOM_RESOURCES:\n{}",
        log(&out)
    );

    for (file, schema) in CUSTOM_RESOURCES {
        let text = read(&kubernetes_dir().join(file));
        let misspelt = text.replace("interval:", "intervall:");
        assert_ne!(misspelt, text, "{file}: the test no longer breaks it");
        let path = dir.join(file);
        std::fs::write(&path, misspelt).unwrap();
        let out = validate_with_schema(&root().join("tests/deploy").join(schema), &path);
        assert!(
            !out.status.success(),
            "a misspelt {file} was accepted by {schema}:\n{}",
            log(&out)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kustomization_lists_every_manifest() {
    let text = read(&kubernetes_dir().join("kustomization.yaml"));
    let mut listed = Vec::new();
    let mut in_resources = false;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            in_resources = line.trim_end() == "resources:";
            continue;
        }
        if in_resources {
            let item = line
                .trim_start()
                .strip_prefix("- ")
                .unwrap_or_else(|| panic!("unexpected line under resources: {line}"));
            listed.push(item.trim().to_string());
        }
    }
    listed.sort();
    let files: Vec<String> = manifests()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed, files,
        "kustomization.yaml resources vs deploy/kubernetes/*.yaml"
    );
}

#[test]
fn the_configmap_configuration_loads_with_the_mounted_secrets() {
    // The TOML as the pod sees it.
    let out = run(Command::new("python3")
        .args([
            "-c",
            "import sys, yaml; sys.stdout.write(yaml.safe_load(open(sys.argv[1]))['data']['bridge.toml'])",
        ])
        .arg(kubernetes_dir().join("configmap.yaml")));
    assert!(out.status.success(), "{}", log(&out));
    let toml = String::from_utf8(out.stdout).unwrap();
    let deployment = read(&kubernetes_dir().join("deployment.yaml"));

    // Every secret file the configuration names is one the Deployment mounts.
    let mut secret_files = Vec::new();
    for (i, _) in toml.match_indices(SECRETS_DIR) {
        let rest = &toml[i + SECRETS_DIR.len()..];
        let name = &rest[..rest.find('"').expect("a quoted path")];
        assert!(
            deployment.contains(&format!("path: {name}")),
            "the configuration reads {SECRETS_DIR}{name}, which deployment.yaml does not mount"
        );
        secret_files.push(name.to_string());
    }
    for name in [
        "database-url",
        "scm-password",
        "eab-encryption-key",
        "admin-tokens",
        "admin-tls.crt",
        "admin-tls.key",
    ] {
        assert!(
            secret_files.iter().any(|f| f == name),
            "{name}: {secret_files:?}"
        );
    }

    // Loaded as `serve` loads it, with the image's environment, the secrets in a temporary directory.
    let dir = temp_dir("config");
    std::fs::write(
        dir.join("database-url"),
        "postgres://bridge:pw@db:5432/bridge\n",
    )
    .unwrap();
    std::fs::write(dir.join("scm-password"), "scm-pw\n").unwrap();
    std::fs::write(
        dir.join("eab-encryption-key"),
        "/K1SeSalUcfCrBW3rRdZ7JjaFztnTWKZ8NySnUZ0bYI=\n",
    )
    .unwrap();
    let path = dir.join("bridge.toml");
    std::fs::write(
        &path,
        toml.replace(SECRETS_DIR, &format!("{}/", dir.display())),
    )
    .unwrap();
    let env =
        [("BRIDGE_SERVER__LISTEN", "0.0.0.0:14000")].map(|(k, v)| (k.to_string(), v.to_string()));
    let config = Config::load_with_env(Some(path.as_path()), env)
        .unwrap_or_else(|e| panic!("configmap.yaml's bridge.toml does not load: {e}"));
    assert!(config.scm.is_some(), "[scm] set: no in-process sandbox");
    assert_eq!(
        config.database.url.as_ref().map(|u| u.expose().to_string()),
        Some("postgres://bridge:pw@db:5432/bridge".to_string())
    );
    assert!(config.acme.eab_cipher().unwrap().is_some());

    // The ports the configuration listens on are the ones the Deployment declares.
    let metrics = config.server.metrics_listen.expect("server.metrics_listen");
    let admin = config.server.admin_listen.expect("server.admin_listen");
    assert!(
        config.server.admin_tokens_file.is_some() && config.server.admin_tls_cert.is_some(),
        "the admin API is on, over TLS"
    );
    for port in [config.server.listen.port(), metrics.port(), admin.port()] {
        assert!(
            deployment.contains(&format!("containerPort: {port}")),
            "port {port} is not a containerPort of deployment.yaml"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The series `src/metrics.rs` exports, from its `# TYPE NAME KIND` lines: a counter or gauge is
/// its name, a histogram its `_bucket`, `_sum` and `_count`. Returns (families, series).
fn exported_series() -> (Vec<String>, BTreeSet<String>) {
    let src = read(&root().join("src/metrics.rs"));
    let mut families = Vec::new();
    let mut series = BTreeSet::new();
    for (i, m) in src.match_indices("# TYPE ") {
        let mut words = src[i + m.len()..].split([' ', '\\', '"']);
        let name = words.next().unwrap().to_string();
        match words.next().unwrap() {
            "counter" | "gauge" => {
                series.insert(name.clone());
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    series.insert(format!("{name}{suffix}"));
                }
            }
            other => panic!("src/metrics.rs: unknown metric type {other} of {name}"),
        }
        families.push(name);
    }
    assert!(families.len() >= 5, "src/metrics.rs: {families:?}");
    (families, series)
}

/// The series names a PromQL expression selects: identifiers that are not inside a string, a
/// label matcher `{…}` or a range `[…]`, not a label list after `by`, `without`, `on`, `ignoring`,
/// `group_left` or `group_right`, not a function (followed by `(`) and not a keyword.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut label_list_next = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
        } else if c == '{' || c == '[' {
            let close = if c == '{' { '}' } else { ']' };
            i += 1;
            while i < chars.len() && chars[i] != close {
                if matches!(chars[i], '"' | '\'' | '`') {
                    i = skip_string(&chars, i);
                } else {
                    i += 1;
                }
            }
            i += 1;
        } else if c == '(' && label_list_next {
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            i += 1;
            label_list_next = false;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let before_paren = j < chars.len() && chars[j] == '(';
            if LABEL_LISTS.contains(&word.as_str()) {
                label_list_next = before_paren;
            } else if !before_paren && !KEYWORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            // A number such as 0.95 or 1e3.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index after the string literal starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

#[test]
fn metric_names_finds_the_series_of_an_expression() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{endpoint="/x/{id}",job=~"$job"}[$__rate_interval])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        metric_names("sum(rate(a_total[5m])) / on (job) group_left (kind) max without (x) (b)"),
        ["a_total", "b"]
    );
    assert_eq!(metric_names("count(up == 1) and c > 1e3"), ["up", "c"]);
}

/// Every PromQL expression of the panels' targets, rows' nested panels included.
fn collect_exprs(panels: &serde_json::Value, out: &mut Vec<String>) {
    for p in panels.as_array().expect("panels is an array") {
        if let Some(targets) = p["targets"].as_array() {
            for t in targets {
                let expr = t["expr"].as_str().expect("every target has a PromQL expr");
                out.push(expr.to_string());
            }
        }
        if p.get("panels").is_some() {
            collect_exprs(&p["panels"], out);
        }
    }
}

#[test]
fn the_grafana_dashboard_queries_only_exported_metrics() {
    let text = read(&root().join("deploy/grafana/acme-sectigo-bridge.json"));
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).expect("the dashboard is valid JSON");
    assert_eq!(dashboard["uid"], "acme-sectigo-bridge");
    let (families, exported) = exported_series();

    let mut ids = BTreeSet::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        let id = p["id"].as_u64().expect("every panel has an id");
        assert!(ids.insert(id), "panel id {id} appears twice");
    }

    let mut exprs = Vec::new();
    collect_exprs(&dashboard["panels"], &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no series found in `{expr}`");
        for name in names {
            assert!(
                exported.contains(&name) || PROMETHEUS_SERIES.contains(&name.as_str()),
                "`{name}` in `{expr}` is not exported by src/metrics.rs ({exported:?})"
            );
            used.insert(name);
        }
    }

    // Template variables such as label_values(acme_requests_total{job=~"$job"}, instance).
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        let query = match &var["query"] {
            serde_json::Value::String(s) => s.as_str(),
            q => q["query"].as_str().unwrap_or(""),
        };
        if let Some(rest) = query.strip_prefix("label_values(") {
            let name = rest.split([',', '{', ')']).next().unwrap().trim();
            assert!(
                exported.contains(name),
                "variable {}: `{name}` is not exported by src/metrics.rs",
                var["name"]
            );
        }
    }

    // And every metric the bridge exports has a panel.
    for family in &families {
        assert!(
            used.iter()
                .any(|u| u == family || u.starts_with(&format!("{family}_"))),
            "no panel shows {family}"
        );
    }
}
