//! The shape of `config.toml` as data: which keys exist, at which level, with which TOML type.
//!
//! The typed [`ServerConfig`](super::ServerConfig) cannot report what it does not know, so the
//! raw table is checked against this schema first: unknown keys (the server ignores them
//! silently) and wrong types (the server refuses to start) become findings, and the offending
//! entries are removed so that the typed model can be read from what is left.

use std::fmt;

/// The TOML type a key must have, as the server's Go decoder (BurntSushi/toml) sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Bool,
    Int,
    /// A float; integers are accepted too (measured: `rate_limit_rps = 1` starts).
    Float,
    /// A Go duration string (`"10s"`); anything else makes the server exit.
    Duration,
    StrList,
    /// A table with fixed keys.
    Table(&'static [Field]),
    /// A table whose keys are free (tool names), each value of one kind.
    Map(&'static Kind),
    /// A table of tables handed to a plugin parser (`toolset_configs`, ...); contents unchecked.
    RawTables,
    /// An array of tables with fixed keys.
    TableList(&'static [Field]),
}

impl Kind {
    /// "a string", "an array of strings", ... for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Str => "a string",
            Self::Bool => "a boolean (true or false)",
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Duration => "a Go duration string such as \"10s\"",
            Self::StrList => "an array of strings",
            Self::Table(_) => "a table",
            Self::Map(_) | Self::RawTables => "a table of tables",
            Self::TableList(_) => "an array of tables",
        }
    }
}

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const HTTP: &[Field] = &[
    f("read_header_timeout", Kind::Duration),
    f("max_body_bytes", Kind::Int),
    f("rate_limit_rps", Kind::Float),
    f("rate_limit_burst", Kind::Int),
];

const TELEMETRY: &[Field] = &[
    f("enabled", Kind::Bool),
    f("endpoint", Kind::Str),
    f("protocol", Kind::Str),
    f("traces_sampler", Kind::Str),
    f("traces_sampler_arg", Kind::Float),
];

const DENIED_RESOURCE: &[Field] = &[
    f("group", Kind::Str),
    f("version", Kind::Str),
    f("kind", Kind::Str),
];

const TOOL_OVERRIDE: &[Field] = &[f("description", Kind::Str)];

const PROMPT_ARGUMENT: &[Field] = &[
    f("name", Kind::Str),
    f("description", Kind::Str),
    f("required", Kind::Bool),
];

const PROMPT_MESSAGE: &[Field] = &[f("role", Kind::Str), f("content", Kind::Str)];

const PROMPT: &[Field] = &[
    f("name", Kind::Str),
    f("title", Kind::Str),
    f("description", Kind::Str),
    f("arguments", Kind::TableList(PROMPT_ARGUMENT)),
    f("messages", Kind::TableList(PROMPT_MESSAGE)),
];

const TOKEN_EXCHANGE_CLIENT_AUTH: &[Field] = &[
    f("method", Kind::Str),
    f("client_id", Kind::Str),
    f("client_secret", Kind::Str),
    f("certificate_file", Kind::Str),
    f("private_key_file", Kind::Str),
    f("token_file", Kind::Str),
];

const TOKEN_EXCHANGE: &[Field] = &[
    f("strategy", Kind::Str),
    f("audience", Kind::Str),
    f("scopes", Kind::StrList),
    f("subject_token_type", Kind::Str),
    f("requested_token_type", Kind::Str),
    f("client_auth", Kind::Table(TOKEN_EXCHANGE_CLIENT_AUTH)),
];

const CONFIRMATION_RULE: &[Field] = &[
    f("tool", Kind::Str),
    f("destructive", Kind::Bool),
    f("verb", Kind::Str),
    f("kind", Kind::Str),
    f("group", Kind::Str),
    f("version", Kind::Str),
    f("name", Kind::Str),
    f("namespace", Kind::Str),
    f("message", Kind::Str),
];

/// Every top-level key, in the order of [`ServerConfig`](super::ServerConfig)'s fields.
pub(crate) const TOP_LEVEL: &[Field] = &[
    f("log_level", Kind::Int),
    f("log_file", Kind::Str),
    f("port", Kind::Str),
    f("bind_address", Kind::Str),
    f("metrics_port", Kind::Str),
    f("sse_base_url", Kind::Str),
    f("kubeconfig", Kind::Str),
    f("list_output", Kind::Str),
    f("stateless", Kind::Bool),
    f("read_only", Kind::Bool),
    f("disable_destructive", Kind::Bool),
    f("toolsets", Kind::StrList),
    f("enabled_tools", Kind::StrList),
    f("disabled_tools", Kind::StrList),
    f("require_oauth", Kind::Bool),
    f("oauth_audience", Kind::Str),
    f("authorization_url", Kind::Str),
    f("skip_jwt_verification", Kind::Bool),
    f("disable_dynamic_client_registration", Kind::Bool),
    f("oauth_scopes", Kind::StrList),
    f("sts_client_id", Kind::Str),
    f("sts_client_secret", Kind::Str),
    f("sts_audience", Kind::Str),
    f("sts_scopes", Kind::StrList),
    f("token_exchange_strategy", Kind::Str),
    f("sts_auth_style", Kind::Str),
    f("sts_client_cert_file", Kind::Str),
    f("sts_client_key_file", Kind::Str),
    f("sts_federated_token_file", Kind::Str),
    f("cluster_auth_mode", Kind::Str),
    f("certificate_authority", Kind::Str),
    f("server_url", Kind::Str),
    f("trust_proxy_headers", Kind::Bool),
    f("tls_cert", Kind::Str),
    f("tls_key", Kind::Str),
    f("require_tls", Kind::Bool),
    f("tls_min_version", Kind::Str),
    f("tls_cipher_suites", Kind::StrList),
    f("cluster_provider_strategy", Kind::Str),
    f("server_instructions", Kind::Str),
    f("validation_enabled", Kind::Bool),
    f(
        "experimental_enable_target_compatibility_tool_filters",
        Kind::Bool,
    ),
    f("confirmation_fallback", Kind::Str),
    f("denied_resources", Kind::TableList(DENIED_RESOURCE)),
    f("prompts", Kind::TableList(PROMPT)),
    f("confirmation_rules", Kind::TableList(CONFIRMATION_RULE)),
    f("tool_overrides", Kind::Map(&Kind::Table(TOOL_OVERRIDE))),
    f("http", Kind::Table(HTTP)),
    f("telemetry", Kind::Table(TELEMETRY)),
    f("token_exchange", Kind::Table(TOKEN_EXCHANGE)),
    f("cluster_provider_configs", Kind::RawTables),
    f("toolset_configs", Kind::RawTables),
];

/// Keys that once existed or exist only downstream: the current server ignores them silently.
pub(crate) const RETIRED_KEYS: &[(&str, &str)] = &[
    (
        "validate_token",
        "it was removed in v0.0.56 (the server no longer sends a TokenReview)",
    ),
    (
        "experimental_skip_gateway_auth",
        "it exists only in the downstream openshift-mcp-server release-0.3 branch",
    ),
    (
        "cors",
        "the [cors] table was removed from upstream; put CORS in front of the server",
    ),
];

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A dotted key path such as `http.rate_limit_rps` or `denied_resources[0].kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Segment>);

impl KeyPath {
    fn child(&self, key: &str) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Key(key.to_owned()));
        Self(next)
    }

    fn index(&self, index: usize) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Index(index));
        Self(next)
    }

    /// The last table key on the path (`kind` for `denied_resources[0].kind`).
    pub(crate) fn leaf_key(&self) -> &str {
        self.0
            .iter()
            .rev()
            .find_map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Index(_) => None,
            })
            .unwrap_or("")
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What is wrong with one entry of the raw table.
#[derive(Debug, Clone)]
pub(crate) enum SchemaIssue {
    /// A key the server does not know at this level.
    Unknown {
        path: KeyPath,
        suggestion: Option<&'static str>,
        retired_because: Option<&'static str>,
    },
    /// A value of the wrong TOML type, or a duration Go cannot parse.
    Mismatch {
        path: KeyPath,
        expected: Kind,
        found: toml::Value,
    },
}

impl SchemaIssue {
    /// The key the issue is about.
    pub(crate) fn path(&self) -> &KeyPath {
        match self {
            Self::Unknown { path, .. } | Self::Mismatch { path, .. } => path,
        }
    }
}

/// Check `table` against `fields`, recording issues and removing every entry that has one, so
/// that what is left deserialises into the typed model.
pub(crate) fn check_table(
    table: &mut toml::Table,
    fields: &[Field],
    at: &KeyPath,
    top_level: bool,
    issues: &mut Vec<SchemaIssue>,
) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let path = at.child(&key);
        let Some(field) = fields.iter().find(|f| f.name == key) else {
            let retired_because = if top_level {
                RETIRED_KEYS
                    .iter()
                    .find(|(name, _)| *name == key)
                    .map(|(_, why)| *why)
            } else {
                None
            };
            issues.push(SchemaIssue::Unknown {
                suggestion: suggest(&key, fields.iter().map(|f| f.name)),
                retired_because,
                path,
            });
            table.remove(&key);
            continue;
        };
        let keep = match table.get_mut(&key) {
            Some(value) => check_value(value, field.kind, &path, issues),
            None => true,
        };
        if !keep {
            table.remove(&key);
        }
    }
}

/// Check one value; returns false when it has the wrong type and must be dropped.
fn check_value(
    value: &mut toml::Value,
    kind: Kind,
    path: &KeyPath,
    issues: &mut Vec<SchemaIssue>,
) -> bool {
    use toml::Value as V;
    let ok = match (kind, &mut *value) {
        (Kind::Str, V::String(_))
        | (Kind::Bool, V::Boolean(_))
        | (Kind::Int, V::Integer(_))
        | (Kind::Float, V::Float(_) | V::Integer(_))
        | (Kind::RawTables, V::Table(_)) => true,
        (Kind::Duration, V::String(s)) => is_go_duration(s),
        (Kind::StrList, V::Array(items)) => items.iter().all(toml::Value::is_str),
        (Kind::Table(fields), V::Table(t)) => {
            check_table(t, fields, path, false, issues);
            true
        }
        (Kind::Map(inner), V::Table(t)) => {
            let keys: Vec<String> = t.keys().cloned().collect();
            for key in keys {
                let keep = match t.get_mut(&key) {
                    Some(v) => check_value(v, *inner, &path.child(&key), issues),
                    None => true,
                };
                if !keep {
                    t.remove(&key);
                }
            }
            true
        }
        (Kind::TableList(fields), V::Array(items)) if items.iter().all(toml::Value::is_table) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let V::Table(t) = item {
                    check_table(t, fields, &path.index(i), false, issues);
                }
            }
            true
        }
        _ => false,
    };
    if !ok {
        issues.push(SchemaIssue::Mismatch {
            path: path.clone(),
            expected: kind,
            found: value.clone(),
        });
    }
    ok
}

/// Whether Go's `time.ParseDuration` accepts `text`: an optional sign, then `0` or one or more
/// `<number><unit>` pairs with units ns, us, µs, μs, ms, s, m, h.
pub(crate) fn is_go_duration(text: &str) -> bool {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    let mut rest = rest;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        if !matches!(
            &rest[..unit_len],
            "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h"
        ) {
            return false;
        }
        rest = &rest[unit_len..];
    }
    true
}

/// The closest known key by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let unknown_lower = unknown.to_ascii_lowercase();
    // Allow roughly one edit per four characters, at least one and at most three.
    let limit = (unknown.chars().count() / 4).clamp(1, 3);
    known
        .into_iter()
        .map(|candidate| (edit_distance(&unknown_lower, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars, with the usual insert/delete/substitute costs of 1.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("requre_oauth", "require_oauth"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_only_close_keys() {
        let names = || TOP_LEVEL.iter().map(|f| f.name);
        assert_eq!(suggest("requre_oauth", names()), Some("require_oauth"));
        assert_eq!(suggest("readonly", names()), Some("read_only"));
        assert_eq!(suggest("oauth_audiance", names()), Some("oauth_audience"));
        assert_eq!(suggest("Port", names()), Some("port"));
        assert_eq!(suggest("totally_unrelated", names()), None);
    }

    #[test]
    fn go_durations() {
        for good in ["10s", "0", "1h30m", "1.5s", "500ms", "-3m", "2µs", "1us"] {
            assert!(is_go_duration(good), "{good}");
        }
        for bad in ["10", "", "10x", "s", "1..5s", ".s", "10 s", "-"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn key_paths_render_like_toml_keys() {
        let p = KeyPath::default()
            .child("denied_resources")
            .index(0)
            .child("kind");
        assert_eq!(p.to_string(), "denied_resources[0].kind");
        assert_eq!(p.leaf_key(), "kind");
    }
}
