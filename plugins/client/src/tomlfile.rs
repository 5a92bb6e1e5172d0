//! TOML client files (Codex CLI's `config.toml`): one `[<servers_key>.<name>]` table added or
//! replaced in place with `toml_edit`, so every other table, comment and the file's layout
//! stay as they were (the comments above a replaced table too).

use std::path::Path;

use oc_mcp_common::{Error, Result};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use crate::jsonfile::{Action, Fragment, Json, Merged, Object};

/// Merge `fragment` into `existing` (the file's text, if there is a file). An entry that is
/// already there with the same values leaves the text exactly as it was.
pub fn merge(existing: Option<&str>, fragment: &Fragment, path: &Path) -> Result<Merged> {
    let original = existing.unwrap_or("");
    let mut doc: DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
        // Only the position: the error's own text quotes the file, which may hold secrets.
        let line = e
            .span()
            .and_then(|span| original.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        Error::usage_with_hint(
            format!(
                "{} is not valid TOML{}",
                path.display(),
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ),
            "fix the file, or write to another one with --write PATH",
        )
    })?;
    let key = fragment.servers_key;
    let root = doc.as_table_mut();
    if !root.contains_key(key) {
        // `[mcp_servers.<name>]` alone, without an empty `[mcp_servers]` above it.
        let mut servers = Table::new();
        servers.set_implicit(true);
        root.insert(key, Item::Table(servers));
    }
    let not_a_table = |kind: &str| {
        Error::usage_with_hint(
            format!("\"{key}\" in {} is {kind}, not a table", path.display()),
            "fix the file, or write to another one with --write PATH",
        )
    };
    let name = fragment.name.as_str();
    let wanted = fragment.entry.clone();
    let previous = match root.get_mut(key) {
        Some(Item::Table(servers)) => {
            let previous = servers.get(name).and_then(item_to_json);
            if previous.as_ref().map(Json::to_value)
                == Some(Json::Object(wanted.clone()).to_value())
            {
                return Ok(unchanged(original));
            }
            let mut table = to_table(&wanted);
            if let Some(Item::Table(old)) = servers.get(name) {
                table.set_position(old.position());
                *table.decor_mut() = old.decor().clone();
            }
            servers.insert(name, Item::Table(table));
            previous
        }
        Some(Item::Value(Value::InlineTable(servers))) => {
            let previous = servers.get(name).and_then(value_to_json);
            if previous.as_ref().map(Json::to_value)
                == Some(Json::Object(wanted.clone()).to_value())
            {
                return Ok(unchanged(original));
            }
            servers.insert(name, Value::InlineTable(to_inline(&wanted)));
            previous
        }
        Some(Item::Value(v)) => return Err(not_a_table(v.type_name())),
        Some(Item::ArrayOfTables(_)) => return Err(not_a_table("an array of tables")),
        Some(Item::None) | None => return Err(not_a_table("nothing")),
    };
    Ok(Merged {
        text: doc.to_string(),
        action: if previous.is_some() {
            Action::Replaced
        } else {
            Action::Added
        },
    })
}

fn unchanged(original: &str) -> Merged {
    Merged {
        text: original.to_owned(),
        action: Action::Unchanged,
    }
}

/// The entry as a standard table; values that are objects become inline tables.
fn to_table(entry: &Object) -> Table {
    let mut table = Table::new();
    for key in entry.keys() {
        if let Some(value) = entry.get(key).and_then(to_value) {
            table.insert(key, Item::Value(value));
        }
    }
    table
}

fn to_inline(entry: &Object) -> InlineTable {
    let mut table = InlineTable::new();
    for key in entry.keys() {
        if let Some(value) = entry.get(key).and_then(to_value) {
            table.insert(key, value);
        }
    }
    table
}

/// TOML has no null: a null is left out.
fn to_value(json: &Json) -> Option<Value> {
    Some(match json {
        Json::Null => return None,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64()?),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().filter_map(to_value).collect::<Array>()),
        Json::Object(object) => Value::InlineTable(to_inline(object)),
    })
}

fn item_to_json(item: &Item) -> Option<Json> {
    match item {
        Item::Value(value) => value_to_json(value),
        Item::Table(table) => Some(Json::Object(pairs_to_object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k, item_to_json(v)?))),
        ))),
        Item::ArrayOfTables(tables) => Some(Json::Array(
            tables
                .iter()
                .map(|t| item_to_json(&Item::Table(t.clone())).unwrap_or(Json::Null))
                .collect(),
        )),
        Item::None => None,
    }
}

fn value_to_json(value: &Value) -> Option<Json> {
    Some(match value {
        Value::String(s) => Json::String(s.value().clone()),
        Value::Integer(i) => Json::Number((*i.value()).into()),
        Value::Float(f) => Json::Number(serde_json::Number::from_f64(*f.value())?),
        Value::Boolean(b) => Json::Bool(*b.value()),
        Value::Datetime(d) => Json::String(d.value().to_string()),
        Value::Array(items) => Json::Array(items.iter().filter_map(value_to_json).collect()),
        Value::InlineTable(table) => Json::Object(pairs_to_object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k, value_to_json(v)?))),
        )),
    })
}

fn pairs_to_object<'a>(pairs: impl Iterator<Item = (&'a str, Json)>) -> Object {
    pairs.fold(Object::new(), |object, (k, v)| object.with(k, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(url: &str) -> Fragment {
        Fragment {
            servers_key: "mcp_servers",
            name: "kube".into(),
            entry: Object::new()
                .with("url", url)
                .with("bearer_token_env_var", "MCP_TOKEN")
                .with("oauth", Object::new().with("client_id", "c")),
            inputs: Vec::new(),
        }
    }

    const EXISTING: &str = "# my settings\nmodel = \"gpt-5\"  # the default\n\n[mcp_servers.fs]\ncommand = \"npx\"\nargs = [\"-y\", \"fs\"]\n\n# ours, below\n[mcp_servers.kube]\nurl = \"https://old/mcp\"\n\n[profiles.fast]\nmodel = \"mini\"\n";

    #[test]
    fn replaces_only_our_table_and_keeps_comments_and_layout() {
        let path = Path::new("config.toml");
        let merged = merge(Some(EXISTING), &fragment("https://new/mcp"), path).expect("merge");
        assert_eq!(merged.action, Action::Replaced);
        let text = &merged.text;
        assert!(
            text.starts_with("# my settings\nmodel = \"gpt-5\"  # the default\n"),
            "{text}"
        );
        assert!(text.contains("[mcp_servers.fs]\ncommand = \"npx\"\nargs = [\"-y\", \"fs\"]\n"));
        assert!(
            text.contains("# ours, below\n[mcp_servers.kube]\nurl = \"https://new/mcp\"\n"),
            "{text}"
        );
        assert!(!text.contains("https://old/mcp"));
        // The table stays where it was: before [profiles.fast].
        assert!(
            text.find("[mcp_servers.kube]") < text.find("[profiles.fast]"),
            "{text}"
        );
        let parsed: DocumentMut = text.parse().expect("valid TOML");
        assert_eq!(
            parsed["mcp_servers"]["kube"]["oauth"]["client_id"].as_str(),
            Some("c")
        );

        let again = merge(Some(text), &fragment("https://new/mcp"), path).expect("merge");
        assert_eq!(again.action, Action::Unchanged);
        assert_eq!(&again.text, text);
    }

    #[test]
    fn adds_to_a_file_without_servers_and_to_no_file() {
        let path = Path::new("config.toml");
        let merged =
            merge(Some("model = \"o3\"\n"), &fragment("https://h/mcp"), path).expect("merge");
        assert_eq!(merged.action, Action::Added);
        assert!(merged.text.starts_with("model = \"o3\"\n"));
        assert!(
            merged.text.contains("[mcp_servers.kube]\n"),
            "{}",
            merged.text
        );
        assert!(
            !merged.text.contains("[mcp_servers]\n"),
            "no empty parent table"
        );
        let fresh = merge(None, &fragment("https://h/mcp"), path).expect("merge");
        assert_eq!(fresh.action, Action::Added);
        assert!(
            fresh
                .text
                .starts_with("[mcp_servers.kube]\nurl = \"https://h/mcp\"\n"),
            "{}",
            fresh.text
        );
    }

    #[test]
    fn refuses_what_it_cannot_edit_without_quoting_the_file() {
        let path = Path::new("config.toml");
        let err = merge(
            Some("a = 1\nsecret = \"sha256~x\" oops\n"),
            &fragment("u"),
            path,
        )
        .expect_err("invalid");
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(!err.to_string().contains("sha256~x"), "{err}");
        let err = merge(Some("mcp_servers = 3\n"), &fragment("u"), path).expect_err("not a table");
        assert_eq!(err.exit_code().code(), 2);
        // An inline table of servers is edited inline.
        let merged = merge(
            Some("mcp_servers = { fs = { command = \"x\" } }\n"),
            &fragment("u"),
            path,
        )
        .expect("inline");
        let parsed: DocumentMut = merged.text.parse().expect("valid TOML");
        assert_eq!(parsed["mcp_servers"]["fs"]["command"].as_str(), Some("x"));
        assert_eq!(parsed["mcp_servers"]["kube"]["url"].as_str(), Some("u"));
    }
}
