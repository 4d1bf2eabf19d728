//! How the configuration is assembled: environment overrides, `*_file` secrets, and error messages
//! that name the offending key.

use super::{Config, ConfigError, ENV_PREFIX};
use std::path::{Path, PathBuf};

impl Config {
    /// Loads the file (if any), applies the process environment, resolves secrets' `*_file`, validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As [`Config::load`], with the environment given explicitly so tests need not mutate the process.
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut root = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: p.to_path_buf(),
                        message: describe_syntax_error(&e, &text),
                    })?
            }
            None => toml::Table::new(),
        };
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
            .collect();
        env.sort();
        for (var, value) in env {
            apply_env(&mut root, &var, &value)?;
        }
        resolve_secret_files(&mut root, "")?;
        Self::from_table(root)
    }

    /// Deserialises an already merged table; errors name the offending key.
    pub fn from_table(root: toml::Table) -> Result<Self, ConfigError> {
        let text = toml::to_string(&root).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid(describe_toml_error(&e, &text)))?;
        config.validate()?;
        Ok(config)
    }
}

/// Turns a toml deserialisation error into one line naming the key, e.g.
/// "unknown field `lisen` in [server], expected one of ...". The offending line is quoted, unless
/// it holds a secret (see [`is_secret_key`]): then only its key is.
pub(super) fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    describe(e, text, |at| match &at.section {
        Some(s) => format!("(in {s}, at `{}`)", at.shown_line()),
        None => format!("(at `{}`)", at.shown_line()),
    })
}

/// A TOML syntax error as one line with its position. toml's own rendering quotes the line with a
/// caret under it, which for `url = "postgres://user:password@…` would print the password.
pub(super) fn describe_syntax_error(e: &toml::de::Error, text: &str) -> String {
    describe(e, text, |at| {
        format!(
            "at line {}, column {} (`{}`)",
            at.line_number,
            at.column,
            at.shown_line()
        )
    })
}

/// The error's message (a secret's value taken out) followed by where it points, as `place` puts
/// it; the message alone when toml gives no position.
fn describe(e: &toml::de::Error, text: &str, place: impl Fn(&Location) -> String) -> String {
    let message = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return message;
    };
    let at = Location::of(text, span.start);
    format!("{} {}", at.redact(message), place(&at))
}

/// Keys whose values are secrets ([`crate::secret::Secret`] settings: `database.url`, which may
/// carry a password, `scm.password`, `acme.nonce_key`, `acme.eab_encryption_key`, the sandbox's
/// `password`): an error about them names the key and never shows the value.
fn is_secret_key(key: &str) -> bool {
    matches!(key, "url" | "nonce_key" | "eab_encryption_key")
        || key.contains("password")
        || key.contains("secret")
        || key.contains("token")
}

/// Where in the TOML text an error points.
struct Location<'a> {
    /// The `[table]` header above it, if any.
    section: Option<String>,
    /// The whole line, trimmed.
    line: &'a str,
    /// The key the line sets, if it is a `key = value` line.
    key: Option<&'a str>,
    line_number: usize,
    column: usize,
}

impl<'a> Location<'a> {
    fn of(text: &'a str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let section = before
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .map(|l| l.trim().to_string());
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = text[line_start..].lines().next().unwrap_or("").trim();
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        Self {
            section,
            line,
            key,
            line_number: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    fn is_secret(&self) -> bool {
        self.key.is_some_and(is_secret_key)
    }

    /// The line as shown in the message: `key = …` for a secret.
    fn shown_line(&self) -> String {
        match self.key {
            Some(key) if self.is_secret() => format!("{key} = …"),
            _ => self.line.to_string(),
        }
    }

    /// The message without the parts that quote a secret's value (serde and toml put values in
    /// backticks).
    fn redact(&self, message: String) -> String {
        if !self.is_secret() {
            return message;
        }
        let mut out = String::with_capacity(message.len());
        let mut quoted = false;
        for c in message.chars() {
            if c == '`' {
                if !quoted {
                    out.push_str("`…`");
                }
                quoted = !quoted;
            } else if !quoted {
                out.push(c);
            }
        }
        out
    }
}

pub(super) fn apply_env(root: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Env {
            var: var.into(),
            message: "empty key segment".into(),
        });
    }
    let parsed = parse_env_value(value);
    let mut table = root;
    for seg in &path[..path.len() - 1] {
        let entry = table
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Env {
                    var: var.into(),
                    message: format!("`{seg}` is not a section"),
                })
            }
        };
    }
    table.insert(path[path.len() - 1].clone(), parsed);
    Ok(())
}

/// `true` → bool, `42` → integer, `["a","b"]` → array, anything else → the string itself.
fn parse_env_value(value: &str) -> toml::Value {
    let doc = format!("v = {value}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Boolean(_)
                | toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Array(_)),
            ) => v,
            _ => toml::Value::String(value.to_string()),
        },
        Err(_) => toml::Value::String(value.to_string()),
    }
}

/// The keys whose value may instead come from a file: `KEY_file = "/path"` is replaced by
/// `KEY = <contents>` for exactly these (full dotted paths) and nothing else.
///
/// Why a list and not "every key ending in `_file`": some keys *are* paths and happen to end in
/// `_file` (`scm.ca_file`); a suffix rule turned `ca_file` into a secret `ca`, which the schema then
/// refused, so the key could not be set at all. The schema itself cannot be asked which fields are
/// secrets (serde gives no introspection), so the secrets are named here. Forgetting a new secret
/// fails loudly (`unknown field NAME_file`, naming the key), while the suffix rule broke every path
/// key silently. `tests::every_listed_secret_can_come_from_a_file` keeps the list honest.
pub(super) const SECRET_KEYS: &[&str] = &[
    "database.url",
    "acme.nonce_key",
    "acme.eab_encryption_key",
    "scm.password",
    "sandbox.password",
];

/// Replaces every `KEY_file` of [`SECRET_KEYS`] by `KEY` holding the file's contents (trailing
/// newline removed); any other key is left alone for the schema to accept (a path such as
/// `scm.ca_file`) or refuse by name.
pub(super) fn resolve_secret_files(
    table: &mut toml::Table,
    prefix: &str,
) -> Result<(), ConfigError> {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Some(toml::Value::Table(inner)) = table.get_mut(&key) {
            resolve_secret_files(inner, &full)?;
            continue;
        }
        let Some(base) = key.strip_suffix("_file") else {
            continue;
        };
        let secret_key = if prefix.is_empty() {
            base.to_string()
        } else {
            format!("{prefix}.{base}")
        };
        if !SECRET_KEYS.contains(&secret_key.as_str()) {
            continue;
        }
        let Some(toml::Value::String(path)) = table.remove(&key) else {
            return Err(ConfigError::Invalid(format!(
                "`{full}` must be a file path"
            )));
        };
        if table.contains_key(base) {
            return Err(ConfigError::Invalid(format!(
                "give either `{base}` or `{key}` in [{prefix}], not both"
            )));
        }
        let secret = crate::secret::read_secret_file(Path::new(&path)).map_err(|source| {
            ConfigError::SecretFile {
                key: full.clone(),
                path: PathBuf::from(&path),
                source,
            }
        })?;
        table.insert(
            base.to_string(),
            toml::Value::String(secret.expose().to_string()),
        );
    }
    Ok(())
}
