//! Reading `config.toml` and its drop-ins the way the server does:
//! main file, then the `*.toml` files of `--config-dir` (default `conf.d` beside the main file)
//! in lexical order, dotfiles skipped, deep-merged (tables merge key by key, any other value,
//! arrays included, is replaced by the later file).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::finding::{Finding, Rule, Severity};
use super::lint::{LintContext, is_secret_key, lint_effective, secret_findings};
use super::model::ServerConfig;
use super::model::legacy_replacement;
use super::schema::{self, KeyPath, SchemaIssue, Segment};
use super::version::Feature;

/// The drop-in directory the server uses when `--config-dir` is not given.
pub const DEFAULT_CONFIG_DIR: &str = "conf.d";

/// One config file's name (for messages and drop-in ordering) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigText {
    pub name: String,
    pub text: String,
}

impl ConfigText {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// A file that is not valid TOML; the server exits on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} is not valid TOML: {message}")]
pub struct SyntaxError {
    pub file: String,
    pub message: String,
}

impl SyntaxError {
    /// The same problem as a lint finding.
    pub fn to_finding(&self) -> Finding {
        Finding::error(
            Rule::InvalidToml,
            None,
            format!("{self}; the server exits at startup"),
            "fix the TOML syntax",
        )
    }
}

/// Reading config files from disk failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
}

/// One parsed file in merge order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    /// True for the main (`--config`) file; false for drop-ins.
    pub is_main: bool,
    /// The file's raw table, unknown keys included.
    pub table: toml::Table,
}

/// A config as the server would see it: the layers, their merge, the typed model of the known
/// keys, and what reading it found (unknown keys, type mismatches, ignored drop-ins).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    /// The effective config: known keys with the right types, after merging.
    pub config: ServerConfig,
    /// The merged raw table, unknown and mistyped keys included.
    pub merged: toml::Table,
    /// The files that were merged, in order (main first).
    pub layers: Vec<Layer>,
    findings: Vec<Finding>,
}

impl ParsedConfig {
    /// Parse a single main file named `config.toml`.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        Self::parse_files(&ConfigText::new("config.toml", text), &[])
    }

    /// Parse a main file and the files of its drop-in directory. `drop_ins` may be in any order
    /// and may include files the server skips: they are filtered and sorted like the server does.
    pub fn parse_files(main: &ConfigText, drop_ins: &[ConfigText]) -> Result<Self, SyntaxError> {
        let mut findings = Vec::new();
        let mut layers = vec![Layer {
            name: main.name.clone(),
            is_main: true,
            table: parse_table(main)?,
        }];
        let mut ordered: Vec<&ConfigText> = Vec::new();
        for file in drop_ins {
            if is_read_as_drop_in(&file.name) {
                ordered.push(file);
            } else {
                findings.push(ignored_drop_in(&file.name));
            }
        }
        ordered.sort_by(|a, b| a.name.cmp(&b.name));
        for file in ordered {
            layers.push(Layer {
                name: file.name.clone(),
                is_main: false,
                table: parse_table(file)?,
            });
        }
        Ok(Self::from_layers(layers, findings))
    }

    /// Read `main` and its drop-in directory from disk like the server: `config_dir` relative to
    /// the main file's directory (default `conf.d`), a missing directory means no drop-ins.
    pub fn load(main: &Path, config_dir: Option<&Path>) -> Result<Self, LoadError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| LoadError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let main_text = ConfigText::new(file_name(main), read(main)?);
        let dir = resolve_config_dir(main, config_dir);
        let mut drop_ins = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|source| LoadError::Io {
                        path: dir.clone(),
                        source,
                    })?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    // The server skips directories but follows symlinks to files, which is how
                    // a mounted Secret or ConfigMap presents its keys.
                    let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                    if is_dir || !is_read_as_drop_in(&name) {
                        continue;
                    }
                    drop_ins.push(ConfigText::new(name, read(&entry.path())?));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LoadError::Io { path: dir, source }),
        }
        Ok(Self::parse_files(&main_text, &drop_ins)?)
    }

    fn from_layers(layers: Vec<Layer>, mut findings: Vec<Finding>) -> Self {
        let mut merged = toml::Table::new();
        for layer in &layers {
            merge_into(&mut merged, layer.table.clone());
        }
        // The server decodes every file on its own before merging (v0.0.67: "failed to decode
        // config <file>"), so a wrong type is fatal even when a later file overrides the key:
        // check each layer, and name the file.
        for layer in &layers {
            let mut issues = Vec::new();
            schema::check_table(
                &mut layer.table.clone(),
                schema::TOP_LEVEL,
                &KeyPath::default(),
                true,
                &mut issues,
            );
            findings.extend(issues.iter().map(|i| issue_to_finding(i, &layer.name)));
        }
        // The merged table is checked only to strip what the typed model cannot hold.
        let mut known = merged.clone();
        schema::check_table(
            &mut known,
            schema::TOP_LEVEL,
            &KeyPath::default(),
            true,
            &mut Vec::new(),
        );
        let config = deserialize_known(known, &mut findings);
        Self {
            config,
            merged,
            layers,
            findings,
        }
    }

    /// What reading the files found: unknown keys, type mismatches, ignored drop-ins.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The main file's raw table.
    pub fn main_table(&self) -> Option<&toml::Table> {
        self.layers.iter().find(|l| l.is_main).map(|l| &l.table)
    }

    /// All findings for this config: what reading found, every rule on the effective config,
    /// and (when the main file is a ConfigMap) secrets in the main file only, since drop-ins
    /// are where secrets belong.
    pub fn lint(&self, context: &LintContext) -> Vec<Finding> {
        let mut out = self.findings.clone();
        out.extend(lint_effective(&self.config, context));
        if context.server_version.supports(Feature::TokenExchangeTable) {
            nested_legacy_keys(&self.merged, "", &mut out);
        }
        if context.main_file_in_configmap
            && let Some(main) = self.layers.iter().find(|l| l.is_main)
        {
            out.extend(secret_findings(&main.table, &main.name));
        }
        out
    }
}

/// v0.0.67 refuses a removed token-exchange key at any depth (measured with
/// `[toolset_configs.helm] sts_audience`); top-level ones are reported by the typed rules.
fn nested_legacy_keys(table: &toml::Table, prefix: &str, out: &mut Vec<Finding>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if !prefix.is_empty()
            && let Some(replacement) = legacy_replacement(key)
        {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some(&path),
                format!(
                    "`{path}`: {key} was removed in {}, and the server refuses to start when it \
                     finds it anywhere",
                    Feature::TokenExchangeTable.since()
                ),
                format!("remove it (token exchange is configured in {replacement})"),
            ));
        }
        if let toml::Value::Table(inner) = value
            && key != "token_exchange"
        {
            nested_legacy_keys(inner, &path, out);
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Where the server looks for drop-ins: `config_dir` as given when absolute, else relative to
/// the main file's directory; `conf.d` when not given.
pub fn resolve_config_dir(main: &Path, config_dir: Option<&Path>) -> PathBuf {
    let dir = config_dir.unwrap_or_else(|| Path::new(DEFAULT_CONFIG_DIR));
    if dir.is_absolute() {
        return dir.to_owned();
    }
    main.parent().unwrap_or_else(|| Path::new(".")).join(dir)
}

/// Whether the server reads a file of this name from the drop-in directory: `*.toml`, not a
/// dotfile.
pub fn is_read_as_drop_in(name: &str) -> bool {
    !name.starts_with('.') && Path::new(name).extension().is_some_and(|e| e == "toml")
}

/// The drop-in names the server reads, in the order it reads them (lexical, by bytes).
pub fn drop_in_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut read: Vec<&str> = names
        .into_iter()
        .filter(|n| is_read_as_drop_in(n))
        .collect();
    read.sort_unstable();
    read
}

/// Deep-merge `overlay` into `base` like the server: tables merge key by key; any other value
/// (arrays included) replaces what was there.
pub fn merge_into(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(incoming)) => {
                merge_into(existing, incoming);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn parse_table(file: &ConfigText) -> Result<toml::Table, SyntaxError> {
    file.text.parse::<toml::Table>().map_err(|e| SyntaxError {
        file: file.name.clone(),
        // toml's message spans several lines with a source excerpt; the first line is enough,
        // and the excerpt could show a secret.
        message: e.message().lines().next().unwrap_or("").to_owned(),
    })
}

fn ignored_drop_in(name: &str) -> Finding {
    let why = if name.starts_with('.') {
        "it is a dotfile"
    } else {
        "its name does not end in .toml"
    };
    Finding::warning(
        Rule::IgnoredDropIn,
        None,
        format!("drop-in {name:?} is never read by the server: {why}"),
        "name drop-in files <something>.toml (for a Secret, use a key such as \
         `oauth.toml` and mount it in --config-dir)",
    )
}

fn issue_to_finding(issue: &SchemaIssue, file: &str) -> Finding {
    let key = issue.path().to_string();
    let from = format!(" in {file}");
    match issue {
        SchemaIssue::Unknown {
            path,
            suggestion,
            retired_because,
        } => {
            // v0.0.67 checks the keys under [token_exchange] and exits on unknown ones (measured);
            // everywhere else unknown keys are dropped without a word.
            let consequence = if matches!(path.0.first(), Some(Segment::Key(k)) if k == "token_exchange")
            {
                "the server refuses to start (\"unknown token exchange configuration keys\")"
            } else {
                "the server ignores it silently"
            };
            let mut message = format!("unknown key `{key}`{from}: {consequence}");
            if let Some(why) = retired_because {
                let _ = write!(message, " ({why})");
            }
            let fix = match suggestion {
                Some(s) => {
                    let _ = write!(message, "; did you mean `{s}`?");
                    format!("rename `{}` to `{s}`", path.leaf_key())
                }
                None => format!("remove `{key}`"),
            };
            Finding::error(Rule::UnknownKey, Some(&key), message, fix)
        }
        SchemaIssue::Mismatch {
            path,
            expected,
            found,
        } => {
            let secret = is_secret_key(path.leaf_key());
            // Never echo a secret's value, even a mistyped one.
            let shown = if secret {
                "(value hidden)".to_owned()
            } else {
                found.to_string()
            };
            let (what, server_says) = match (expected, found) {
                (schema::Kind::Duration, toml::Value::String(_)) => {
                    ("is not a Go duration".to_owned(), "invalid duration")
                }
                _ => (
                    format!("is {} {shown}", article(found.type_str())),
                    "incompatible types",
                ),
            };
            let message = format!(
                "`{key}`{from} {what} but the server expects {}; the server refuses to start \
                 (\"{server_says}\")",
                expected.describe()
            );
            let fix = match (secret, corrected(*expected, found)) {
                (false, Some(fixed)) => format!("write `{} = {fixed}`", path.leaf_key()),
                _ => format!("make `{key}` {}", expected.describe()),
            };
            Finding::error(Rule::TypeMismatch, Some(&key), message, fix)
        }
    }
}

fn article(type_name: &str) -> String {
    let a = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{a} {type_name}")
}

/// The value converted to the expected type, when the conversion is obvious.
fn corrected(expected: schema::Kind, found: &toml::Value) -> Option<String> {
    use schema::Kind;
    use toml::Value as V;
    let fixed = match (expected, found) {
        (Kind::Str, V::Integer(i)) => V::String(i.to_string()),
        (Kind::Str, V::Float(x)) => V::String(x.to_string()),
        (Kind::Str, V::Boolean(b)) => V::String(b.to_string()),
        (Kind::Bool, V::String(s)) => V::Boolean(s.trim().parse().ok()?),
        (Kind::Int, V::String(s)) => V::Integer(s.trim().parse().ok()?),
        (Kind::Float, V::String(s)) => V::Float(s.trim().parse().ok()?),
        (Kind::StrList, V::String(s)) => V::Array(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| V::String(p.to_owned()))
                .collect(),
        ),
        (Kind::Duration, V::Integer(i)) => V::String(format!("{i}s")),
        _ => return None,
    };
    Some(fixed.to_string())
}

/// Deserialise the schema-checked table. The schema and the model agree (a unit test checks),
/// so this should not fail; if it does, the keys that fail alone are reported and dropped
/// instead of panicking.
fn deserialize_known(known: toml::Table, findings: &mut Vec<Finding>) -> ServerConfig {
    if let Ok(config) = toml::Value::Table(known.clone()).try_into::<ServerConfig>() {
        return config;
    }
    let mut kept = toml::Table::new();
    for (key, value) in known {
        let mut single = toml::Table::new();
        single.insert(key.clone(), value.clone());
        match toml::Value::Table(single).try_into::<ServerConfig>() {
            Ok(_) => {
                kept.insert(key, value);
            }
            Err(e) => findings.push(Finding::new(
                Severity::Error,
                Rule::TypeMismatch,
                Some(&key),
                format!("`{key}` cannot be read: {}", e.message()),
                format!("check the type of `{key}`"),
            )),
        }
    }
    toml::Value::Table(kept)
        .try_into::<ServerConfig>()
        .unwrap_or_default()
}
