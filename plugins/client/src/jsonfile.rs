//! MCP client configuration files: an order-keeping JSON value, a tolerant reader for the JSON
//! with comments that VS Code and others accept, and the merge that `config --write` does
//! (one server entry added or replaced, everything else left as it was, a backup kept).

use std::{
    fmt,
    io::Write as _,
    path::{Path, PathBuf},
};

use oc_mcp_common::{Error, Result};
use serde::{
    Deserialize, Serialize,
    de::{MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};

/// A JSON value whose objects keep their keys in file order (serde_json's `Value` sorts them,
/// which would reorder a user's file on every write).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object with its keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object(Vec<(String, Json)>);

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Set `key`, in place when it exists (its position is kept), else at the end.
    pub fn insert(&mut self, key: impl Into<String>, value: Json) -> Option<Json> {
        let key = key.into();
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        self.0.push((key, value));
        None
    }

    /// Builder form of [`Object::insert`].
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Json>) -> Self {
        self.insert(key, value.into());
        self
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<u16> for Json {
    fn from(n: u16) -> Self {
        Self::Number(n.into())
    }
}

impl From<Object> for Json {
    fn from(o: Object) -> Self {
        Self::Object(o)
    }
}

impl From<Vec<Json>> for Json {
    fn from(a: Vec<Json>) -> Self {
        Self::Array(a)
    }
}

impl Json {
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }

    /// The same value as serde_json's (key order lost), for tests and JSON reports.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Number(n) => serde_json::Value::Number(n.clone()),
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::Array(a) => serde_json::Value::Array(a.iter().map(Self::to_value).collect()),
            Self::Object(o) => serde_json::Value::Object(
                o.0.iter().map(|(k, v)| (k.clone(), v.to_value())).collect(),
            ),
        }
    }

    /// Pretty JSON with the given indent and a final newline.
    pub fn to_pretty(&self, indent: &str) -> String {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serializing this type into memory cannot fail: every key is a string.
        if self.serialize(&mut serializer).is_err() {
            return String::new();
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push('\n');
        text
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Number(n) => n.serialize(serializer),
            Self::String(s) => serializer.serialize_str(s),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.0.len()))?;
                for (k, v) in &object.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;

        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(v)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut object = Object::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // A repeated key: the last value wins (as in JavaScript), at the first place.
                    object.insert(k, v);
                }
                Ok(Json::Object(object))
            }
        }

        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Remove `//` and `/* */` comments and trailing commas outside strings (JSONC, as VS Code's
/// `mcp.json` allows), and a leading byte-order mark. Returns the text and whether anything
/// but whitespace was removed.
pub fn strip_jsonc(text: &str) -> (String, bool) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.get(i + 1) {
                    out.push(*next);
                    i += 1;
                }
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match (c, chars.get(i + 1)) {
            ('"', _) => {
                in_string = true;
                out.push(c);
                i += 1;
            }
            ('/', Some('/')) => {
                changed = true;
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                changed = true;
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
                i += 2;
            }
            (',', _) => {
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if matches!(next, Some('}' | ']')) {
                    changed = true;
                } else {
                    out.push(c);
                }
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, changed)
}

/// The indent a file uses (its first indented line), so a rewrite looks like the original.
pub fn detect_indent(text: &str) -> String {
    for line in text.lines().skip(1) {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if !indent.is_empty() && line.len() > indent.len() {
            return if indent.starts_with('\t') {
                "\t".to_owned()
            } else {
                indent
            };
        }
    }
    "  ".to_owned()
}

/// What a client's file gets: one named server under `servers_key`, and for VS Code the
/// `inputs` it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// `mcpServers` for most clients, `servers` for VS Code.
    pub servers_key: &'static str,
    pub name: String,
    pub entry: Object,
    /// VS Code `inputs` entries (each with an `id`), replaced by id or appended.
    pub inputs: Vec<Object>,
}

impl Fragment {
    /// The fragment as a whole document (what `config` prints without `--write`).
    pub fn document(&self) -> Json {
        let mut doc = Object::new();
        if !self.inputs.is_empty() {
            doc.insert(
                "inputs",
                Json::Array(self.inputs.iter().cloned().map(Json::Object).collect()),
            );
        }
        doc.insert(
            self.servers_key,
            Json::Object(Object::new().with(self.name.clone(), self.entry.clone())),
        );
        Json::Object(doc)
    }
}

/// How a merge changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The server was not in the file (or there was no file).
    Added,
    /// The server was there with other settings.
    Replaced,
    /// The file already says exactly this.
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Added => "added",
            Self::Replaced => "replaced",
            Self::Unchanged => "unchanged",
        })
    }
}

/// The merged text and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub text: String,
    pub action: Action,
    /// Comments or trailing commas were in the file and are not in the new text.
    pub dropped_comments: bool,
}

/// Merge `fragment` into `existing` (the file's text, if there is a file): only the named
/// server (and VS Code inputs with the same ids) change; every other key keeps its value
/// and its place.
pub fn merge(existing: Option<&str>, fragment: &Fragment, path: &Path) -> Result<Merged> {
    let (mut root, indent, dropped_comments) = match existing {
        Some(text) if !text.trim().is_empty() => {
            let (clean, stripped) = strip_jsonc(text);
            let value: Json = serde_json::from_str(&clean).map_err(|e| {
                Error::usage_with_hint(
                    format!("{} is not valid JSON: {e}", path.display()),
                    "fix the file, or write to another one with --write PATH",
                )
            })?;
            let Json::Object(root) = value else {
                return Err(Error::usage(format!(
                    "{} holds {}, not a JSON object",
                    path.display(),
                    value.kind()
                )));
            };
            (root, detect_indent(text), stripped)
        }
        _ => (Object::new(), "  ".to_owned(), false),
    };
    let before = root.clone();

    if !fragment.inputs.is_empty() {
        let inputs = root
            .0
            .iter_mut()
            .find(|(k, _)| k == "inputs")
            .map(|(_, v)| v);
        let list = match inputs {
            Some(Json::Array(list)) => list,
            Some(other) => {
                return Err(Error::usage(format!(
                    "\"inputs\" in {} is {}, not an array",
                    path.display(),
                    other.kind()
                )));
            }
            None => {
                // VS Code's own files put `inputs` before `servers`.
                root.0
                    .insert(0, ("inputs".to_owned(), Json::Array(Vec::new())));
                match &mut root.0[0].1 {
                    Json::Array(list) => list,
                    _ => unreachable!("just inserted an array"),
                }
            }
        };
        for input in &fragment.inputs {
            let id = input.get("id").and_then(Json::as_str);
            let slot = list.iter_mut().find(|existing| {
                existing
                    .as_object()
                    .and_then(|o| o.get("id"))
                    .and_then(Json::as_str)
                    == id
            });
            match slot {
                Some(slot) => *slot = Json::Object(input.clone()),
                None => list.push(Json::Object(input.clone())),
            }
        }
    }

    let servers = match root.get_mut(fragment.servers_key) {
        Some(Json::Object(servers)) => servers,
        Some(other) => {
            return Err(Error::usage(format!(
                "\"{}\" in {} is {}, not an object",
                fragment.servers_key,
                path.display(),
                other.kind()
            )));
        }
        None => {
            root.insert(fragment.servers_key, Json::Object(Object::new()));
            match root.get_mut(fragment.servers_key) {
                Some(Json::Object(servers)) => servers,
                _ => unreachable!("just inserted an object"),
            }
        }
    };
    let previous = servers.insert(fragment.name.clone(), Json::Object(fragment.entry.clone()));
    let action = match previous {
        None => Action::Added,
        Some(_) if root == before => Action::Unchanged,
        Some(_) => Action::Replaced,
    };
    Ok(Merged {
        text: Json::Object(root).to_pretty(&indent),
        action,
        dropped_comments: dropped_comments && action != Action::Unchanged,
    })
}

/// What `write` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub path: PathBuf,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
}

/// Write `text` to `path`: parent directories created, the previous file copied to a backup
/// first, the new content written to a temporary file beside it and renamed over it (so a
/// crash never leaves half a file). The file keeps its permissions; a new one gets `0600`
/// when `private`, the usual mode otherwise.
pub fn write(path: &Path, text: &str, action: Action, private: bool) -> Result<Written> {
    if action == Action::Unchanged {
        return Ok(Written {
            path: path.to_owned(),
            action,
            backup: None,
        });
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let existing = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file);
    let backup = match &existing {
        Some(_) => {
            let backup = backup_path(path);
            std::fs::copy(path, &backup).map_err(|e| {
                Error::io(
                    format!("backing up {} to {}", path.display(), backup.display()),
                    e,
                )
            })?;
            Some(backup)
        }
        None => None,
    };
    let file_name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let temp = parent.join(format!(".{file_name}.oc-mcp-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        match &existing {
            Some(meta) if !private => std::fs::set_permissions(&temp, meta.permissions())?,
            None if !private => set_default_mode(&temp)?,
            _ => {}
        }
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(format!("writing {}", path.display()), e));
    }
    Ok(Written {
        path: path.to_owned(),
        action,
        backup,
    })
}

#[cfg(unix)]
fn set_default_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_default_mode(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// `<file>.bak`, or `<file>.bak.1`, `.bak.2`, ... when taken: no backup is ever overwritten.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    let first = PathBuf::from(&name);
    if !first.exists() {
        return first;
    }
    (1..10_000)
        .map(|n| {
            let mut candidate = name.clone();
            candidate.push(format!(".{n}"));
            PathBuf::from(candidate)
        })
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment() -> Fragment {
        Fragment {
            servers_key: "mcpServers",
            name: "kube".into(),
            entry: Object::new().with("url", "https://h/mcp"),
            inputs: Vec::new(),
        }
    }

    #[test]
    fn keys_keep_their_order() {
        let text = r#"{"z": 1, "a": {"y": true, "b": null}, "m": [1, 2.5, "x"]}"#;
        let value: Json = serde_json::from_str(text).expect("parse");
        let object = value.as_object().expect("object");
        assert_eq!(object.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        let again = value.to_pretty("  ");
        assert!(again.find("\"z\"") < again.find("\"a\""));
        assert!(again.find("\"y\"") < again.find("\"b\""));
        let reparsed: Json = serde_json::from_str(&again).expect("reparse");
        assert_eq!(reparsed, value);
    }

    #[test]
    fn jsonc_comments_and_trailing_commas_are_removed_outside_strings() {
        let text =
            "{\n  // a comment\n  \"a\": \"http://x//y\", /* block\n */ \"b\": [1, 2,],\n}\n";
        let (clean, changed) = strip_jsonc(text);
        assert!(changed);
        let value: serde_json::Value = serde_json::from_str(&clean).expect("valid JSON");
        assert_eq!(value["a"], "http://x//y");
        assert_eq!(value["b"], serde_json::json!([1, 2]));
        let (same, changed) = strip_jsonc(r#"{"a": "x,]"}"#);
        assert!(!changed);
        assert_eq!(same, r#"{"a": "x,]"}"#);
    }

    #[test]
    fn merge_adds_replaces_and_recognizes_no_change() {
        let path = Path::new("mcp.json");
        let existing = "{\n    \"mcpServers\": {\n        \"other\": {\"command\": \"x\"}\n    },\n    \"extra\": 1\n}\n";
        let merged = merge(Some(existing), &fragment(), path).expect("merge");
        assert_eq!(merged.action, Action::Added);
        assert!(
            merged.text.contains("\n    \"mcpServers\""),
            "keeps the 4-space indent"
        );
        let value: serde_json::Value = serde_json::from_str(&merged.text).expect("json");
        assert_eq!(value["mcpServers"]["other"]["command"], "x");
        assert_eq!(value["mcpServers"]["kube"]["url"], "https://h/mcp");
        assert_eq!(value["extra"], 1);

        let again = merge(Some(&merged.text), &fragment(), path).expect("merge");
        assert_eq!(again.action, Action::Unchanged);

        let mut changed = fragment();
        changed.entry = Object::new().with("url", "https://other/mcp");
        let replaced = merge(Some(&merged.text), &changed, path).expect("merge");
        assert_eq!(replaced.action, Action::Replaced);
        let value: serde_json::Value = serde_json::from_str(&replaced.text).expect("json");
        assert_eq!(value["mcpServers"]["kube"]["url"], "https://other/mcp");
        assert_eq!(value["mcpServers"]["other"]["command"], "x");
    }

    #[test]
    fn merge_refuses_files_it_cannot_understand() {
        let path = Path::new("mcp.json");
        assert!(merge(Some("[1]"), &fragment(), path).is_err());
        assert!(merge(Some("{\"mcpServers\": []}"), &fragment(), path).is_err());
        let err = merge(Some("{oops"), &fragment(), path).expect_err("invalid");
        assert_eq!(err.exit_code().code(), 2);
        let empty = merge(Some("  \n"), &fragment(), path).expect("empty file is a new file");
        assert_eq!(empty.action, Action::Added);
    }

    #[test]
    fn vscode_inputs_are_replaced_by_id() {
        let path = Path::new("mcp.json");
        let mut fragment = fragment();
        fragment.servers_key = "servers";
        fragment.inputs = vec![Object::new().with("id", "tok").with("type", "promptString")];
        let existing =
            r#"{"servers": {}, "inputs": [{"id": "other"}, {"id": "tok", "type": "old"}]}"#;
        let merged = merge(Some(existing), &fragment, path).expect("merge");
        let value: serde_json::Value = serde_json::from_str(&merged.text).expect("json");
        assert_eq!(value["inputs"].as_array().map(Vec::len), Some(2));
        assert_eq!(value["inputs"][1]["type"], "promptString");
        let fresh = merge(None, &fragment, path).expect("merge");
        let value: serde_json::Value = serde_json::from_str(&fresh.text).expect("json");
        assert_eq!(value["inputs"][0]["id"], "tok");
    }

    #[test]
    fn write_keeps_a_backup_and_never_overwrites_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub").join("mcp.json");
        let first = write(&path, "{}\n", Action::Added, false).expect("write");
        assert_eq!(first.backup, None);
        let second = write(&path, "{\"a\": 1}\n", Action::Replaced, false).expect("write");
        let backup = second.backup.expect("backup");
        assert_eq!(std::fs::read_to_string(&backup).expect("read"), "{}\n");
        let third = write(&path, "{\"a\": 2}\n", Action::Replaced, false).expect("write");
        let backup2 = third.backup.expect("backup");
        assert_ne!(backup, backup2);
        assert_eq!(
            std::fs::read_to_string(&backup2).expect("read"),
            "{\"a\": 1}\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"a\": 2}\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("mcp.json");
        write(&path, "{}\n", Action::Added, true).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let public = dir.path().join("public.json");
        write(&public, "{}\n", Action::Added, false).expect("write");
        let mode = std::fs::metadata(&public)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644);
    }
}
