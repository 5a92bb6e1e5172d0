//! Secrets in a file that is stored in a ConfigMap, found by key name or by value shape.

use crate::server_config::finding::{Finding, Rule};

/// Key names that hold credentials. Paths (`*_file`) and the exchange strategy name are not
/// secrets even though they mention tokens.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with("_file") || key.ends_with("_path") || key == "token_exchange_strategy" {
        return false;
    }
    [
        "secret",
        "password",
        "passwd",
        "token",
        "api_key",
        "apikey",
        "private_key",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Whether a string looks like a credential whatever its key: an OpenShift token, a JWT, a
/// PEM private key.
fn looks_like_secret(value: &str) -> bool {
    let value = value.trim();
    let jwt = value.starts_with("eyJ")
        && value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    value.starts_with("sha256~") || jwt || value.contains("PRIVATE KEY-----")
}

/// Secrets anywhere in `table` (known keys, unknown keys, nested tables). Messages name the key,
/// never the value.
pub(crate) fn secret_findings(table: &toml::Table, file: &str) -> Vec<Finding> {
    fn walk(value: &toml::Value, key: &str, path: &str, file: &str, out: &mut Vec<Finding>) {
        match value {
            toml::Value::String(text)
                if !text.is_empty() && (is_secret_key(key) || looks_like_secret(text)) =>
            {
                out.push(Finding::error(
                    Rule::SecretInConfigMap,
                    Some(path),
                    format!(
                        "`{path}` in {file} holds a secret, and that file is a ConfigMap: \
                             anyone who can read ConfigMaps in the namespace can read it"
                    ),
                    "move it to a Secret mounted as a drop-in file in --config-dir (e.g. \
                         conf.d/oauth.toml); `oc mcp-oauth secret set` does this",
                ));
            }
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(v, k, &format!("{path}.{k}"), file, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, key, &format!("{path}[{i}]"), file, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in table {
        walk(value, key, key, file, &mut out);
    }
    out
}
