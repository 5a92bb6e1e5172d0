//! MCP client configuration files in JSON: the merge that `config --write` does. The merge edits the file's own text (JSON, or the JSON with comments
//! and trailing commas that VS Code accepts) through a concrete syntax tree: one server entry
//! (and VS Code's `inputs` with the same ids) added or replaced, and every comment, comma,
//! indent and other key left exactly as written. Reading and writing the file is
//! [`crate::clientfile`]'s.

use std::path::Path;

use jsonc_parser::{
    ParseOptions,
    cst::{
        CstArray, CstContainerNode, CstInputValue, CstLeafNode, CstNode, CstObject, CstObjectProp,
        CstRootNode,
    },
};
use oc_mcp_common::{Error, Result};

pub use crate::{
    clientfile::Action,
    json::{Json, Object},
};

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

/// The merged text and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The whole new file: the old text with only our entry's text changed (the old text
    /// itself, byte for byte, when the action is `Unchanged`).
    pub text: String,
    pub action: Action,
}

/// JSON as VS Code reads its files: comments and trailing commas, nothing else JSON lacks
/// (the other clients read plain JSON, which this accepts too).
fn parse_options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// The value of a client file's text (JSON, or JSON with comments and trailing commas), its
/// keys in file order; `Json::Null` for a file with no value in it (empty, or comments only).
pub fn parse(text: &str, path: &Path) -> Result<Json> {
    let root = parse_cst(text, path)?;
    match root.value() {
        None => Ok(Json::Null),
        Some(value) => to_json(&value).ok_or_else(|| cannot_edit(path, "its value")),
    }
}

fn parse_cst(text: &str, path: &Path) -> Result<CstRootNode> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    CstRootNode::parse(text, &parse_options()).map_err(|e| {
        Error::usage_with_hint(
            format!("{} is not valid JSON: {e}", path.display()),
            "fix the file, or write to another one with --write PATH",
        )
    })
}

/// Merge `fragment` into `existing` (the file's text, if there is a file): only the named
/// server (and VS Code inputs with the same ids) change; every other key keeps its value,
/// its place and its comments. A file with nothing in it (or only comments) counts as `{}`.
pub fn merge(existing: Option<&str>, fragment: &Fragment, path: &Path) -> Result<Merged> {
    let Some(original) = existing.filter(|text| !text.trim().is_empty()) else {
        return Ok(Merged {
            text: fragment.document().to_pretty("  "),
            action: Action::Added,
        });
    };
    // The parser does not know byte-order marks: one is set aside and put back.
    let (bom, body) = match original.strip_prefix('\u{feff}') {
        Some(body) => ("\u{feff}", body),
        None => ("", original),
    };
    let root = parse_cst(body, path)?;
    let doc = match root.value() {
        None => root.object_value_or_create(),
        Some(CstNode::Container(CstContainerNode::Object(doc))) => Some(doc),
        Some(other) => {
            return Err(Error::usage(format!(
                "{} holds {}, not a JSON object",
                path.display(),
                kind(&other)
            )));
        }
    }
    .ok_or_else(|| cannot_edit(path, "its top-level object"))?;

    let mut edited = false;
    if !fragment.inputs.is_empty() {
        edited |= merge_inputs(&doc, &fragment.inputs, path)?;
    }
    let key = fragment.servers_key;
    let servers = match only(&doc, key, path)?.map(|prop| prop.value()) {
        Some(Some(CstNode::Container(CstContainerNode::Object(servers)))) => servers,
        Some(other) => {
            return Err(Error::usage(format!(
                "\"{key}\" in {} is {}, not an object",
                path.display(),
                other.as_ref().map_or("empty", kind)
            )));
        }
        None => doc
            .object_value_or_create(key)
            .ok_or_else(|| cannot_edit(path, key))?,
    };
    let entry = Json::Object(fragment.entry.clone());
    let action = match only(&servers, &fragment.name, path)? {
        None => {
            servers.append(&fragment.name, to_input(&entry));
            Action::Added
        }
        Some(prop) => {
            if prop.value().as_ref().and_then(to_json).as_ref() != Some(&entry) {
                prop.set_value(to_input(&entry));
                edited = true;
            }
            if edited {
                Action::Replaced
            } else {
                Action::Unchanged
            }
        }
    };
    let text = if action == Action::Unchanged {
        original.to_owned()
    } else {
        format!("{bom}{root}")
    };
    Ok(Merged { text, action })
}

/// VS Code `inputs`: each of ours replaces the one with its id, or is appended. Whether
/// anything changed.
fn merge_inputs(doc: &CstObject, inputs: &[Object], path: &Path) -> Result<bool> {
    let list: CstArray = match only(doc, "inputs", path)?.map(|prop| prop.value()) {
        Some(Some(CstNode::Container(CstContainerNode::Array(list)))) => list,
        Some(other) => {
            return Err(Error::usage(format!(
                "\"inputs\" in {} is {}, not an array",
                path.display(),
                other.as_ref().map_or("empty", kind)
            )));
        }
        None => {
            // VS Code's own files put `inputs` before `servers`.
            doc.insert(0, "inputs", CstInputValue::Array(Vec::new()));
            doc.array_value("inputs")
                .ok_or_else(|| cannot_edit(path, "inputs"))?
        }
    };
    let mut edited = false;
    for input in inputs {
        let id = input.get("id").and_then(Json::as_str);
        let wanted = Json::Object(input.clone());
        let slot = list.elements().into_iter().find_map(|element| {
            let value = to_json(&element)?;
            let same_id = value.as_object()?.get("id").and_then(Json::as_str) == id;
            same_id.then_some((element, value))
        });
        match slot {
            Some((_, value)) if value == wanted => {}
            Some((element, _)) => {
                // Only an object has an id.
                let object = element
                    .as_object()
                    .ok_or_else(|| cannot_edit(path, "inputs"))?;
                object.replace_with(to_input(&wanted));
                edited = true;
            }
            None => {
                list.append(to_input(&wanted));
                edited = true;
            }
        }
    }
    Ok(edited)
}

/// The property `name` of `object`, refusing a name given twice: clients take the last one,
/// so editing either could leave the file saying something else than intended.
fn only(object: &CstObject, name: &str, path: &Path) -> Result<Option<CstObjectProp>> {
    let mut found = object
        .properties()
        .into_iter()
        .filter(|prop| prop_name(prop).as_deref() == Some(name));
    let first = found.next();
    if found.next().is_some() {
        return Err(Error::usage_with_hint(
            format!(
                "{} has \"{name}\" more than once in one object",
                path.display()
            ),
            "remove all but one of them, then run the command again",
        ));
    }
    Ok(first)
}

fn prop_name(prop: &CstObjectProp) -> Option<String> {
    prop.name()?.decoded_value().ok()
}

fn cannot_edit(path: &Path, what: &str) -> Error {
    Error::failed(format!(
        "could not edit {what} in {}; nothing was written",
        path.display()
    ))
}

/// The value a node of the syntax tree stands for (`None` for what is not a value).
fn to_json(node: &CstNode) -> Option<Json> {
    match node {
        CstNode::Container(CstContainerNode::Object(object)) => {
            let mut out = Object::new();
            for prop in object.properties() {
                // A repeated key: the last value wins (as in JavaScript), at the first place.
                out.insert(prop_name(&prop)?, to_json(&prop.value()?)?);
            }
            Some(Json::Object(out))
        }
        CstNode::Container(CstContainerNode::Array(array)) => array
            .elements()
            .iter()
            .map(to_json)
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        CstNode::Leaf(CstLeafNode::StringLit(s)) => s.decoded_value().ok().map(Json::String),
        CstNode::Leaf(CstLeafNode::NumberLit(n)) => {
            serde_json::from_str(&n.to_string()).ok().map(Json::Number)
        }
        CstNode::Leaf(CstLeafNode::BooleanLit(b)) => Some(Json::Bool(b.value())),
        CstNode::Leaf(CstLeafNode::NullKeyword(_)) => Some(Json::Null),
        _ => None,
    }
}

fn kind(node: &CstNode) -> &'static str {
    to_json(node).map_or("not a value", |value| value.kind())
}

/// Our value as the syntax tree's input (it lays it out in the file's indent and commas).
fn to_input(value: &Json) -> CstInputValue {
    match value {
        Json::Null => CstInputValue::Null,
        Json::Bool(b) => CstInputValue::Bool(*b),
        Json::Number(n) => CstInputValue::Number(n.to_string()),
        Json::String(s) => CstInputValue::String(s.clone()),
        Json::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Json::Object(object) => CstInputValue::Object(
            object
                .iter()
                .map(|(k, v)| (k.to_owned(), to_input(v)))
                .collect(),
        ),
    }
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

    fn vscode() -> Fragment {
        Fragment {
            servers_key: "servers",
            inputs: vec![
                Object::new()
                    .with("id", "tok")
                    .with("type", "promptString")
                    .with("password", true),
            ],
            ..fragment()
        }
    }

    fn parse(text: &str) -> serde_json::Value {
        super::parse(text, Path::new("mcp.json"))
            .expect("valid JSONC")
            .to_value()
    }

    #[test]
    fn the_file_is_read_with_its_keys_in_order() {
        let text = r#"{"z": 1, "a": {"y": true, "b": null}, "m": [1, 2.5, "x", -3e2]}"#;
        let value: Json = serde_json::from_str(text).expect("parse");
        assert_eq!(super::parse(text, Path::new("x.json")).ok(), Some(value));
    }

    /// Merging `fragment` into `existing` adds it as `expected`; merging again changes nothing.
    fn added_once(existing: &str, fragment: &Fragment, expected: &str) -> Merged {
        let path = Path::new("mcp.json");
        let merged = merge(Some(existing), fragment, path).expect("merge");
        assert_eq!(merged.action, Action::Added);
        assert_eq!(merged.text, expected);
        let again = merge(Some(&merged.text), fragment, path).expect("merge");
        assert_eq!(again.action, Action::Unchanged);
        assert_eq!(again.text, merged.text);
        merged
    }

    #[test]
    fn merge_adds_replaces_and_recognizes_no_change() {
        let path = Path::new("mcp.json");
        let existing = "{\n    \"mcpServers\": {\n        \"other\": {\"command\": \"x\"}\n    },\n    \"extra\": 1\n}\n";
        // The 4-space indent is kept and nothing else moves.
        let merged = added_once(
            existing,
            &fragment(),
            "{\n    \"mcpServers\": {\n        \"other\": {\"command\": \"x\"},\n        \"kube\": {\n            \"url\": \"https://h/mcp\"\n        }\n    },\n    \"extra\": 1\n}\n",
        );

        let mut changed = fragment();
        changed.entry = Object::new().with("url", "https://other/mcp");
        let replaced = merge(Some(&merged.text), &changed, path).expect("merge");
        assert_eq!(replaced.action, Action::Replaced);
        assert_eq!(
            replaced.text,
            merged.text.replace("https://h/mcp", "https://other/mcp")
        );
    }

    #[test]
    fn comments_trailing_commas_and_layout_survive_a_merge() {
        let existing = "\u{feff}{\n\t// my servers\n\t\"inputs\": [\n\t\t{\"id\": \"other\"}, /* keep */\n\t],\n\t\"servers\": {\n\t\t\"fs\": {\"command\": \"npx\"}, // files\n\t},\n}";
        added_once(
            existing,
            &vscode(),
            "\u{feff}{\n\t// my servers\n\t\"inputs\": [\n\t\t{\"id\": \"other\"}, /* keep */\n\t\t{\n\t\t\t\"id\": \"tok\",\n\t\t\t\"type\": \"promptString\",\n\t\t\t\"password\": true,\n\t\t},\n\t],\n\t\"servers\": {\n\t\t\"fs\": {\"command\": \"npx\"}, // files\n\t\t\"kube\": {\n\t\t\t\"url\": \"https://h/mcp\",\n\t\t},\n\t},\n}",
        );
    }

    #[test]
    fn a_file_of_comments_only_gets_the_entry_and_keeps_them() {
        let path = Path::new("mcp.json");
        let merged = merge(Some("// nothing yet\n"), &fragment(), path).expect("merge");
        assert_eq!(merged.action, Action::Added);
        assert!(
            merged.text.starts_with("// nothing yet\n"),
            "{}",
            merged.text
        );
        assert_eq!(
            parse(&merged.text)["mcpServers"]["kube"]["url"],
            "https://h/mcp"
        );
        assert!(matches!(
            super::parse("// nothing yet\n", path),
            Ok(Json::Null)
        ));
    }

    #[test]
    fn merge_refuses_files_it_cannot_understand() {
        let path = Path::new("mcp.json");
        for (text, says) in [
            ("[1]", "holds an array, not a JSON object"),
            (
                "{\"mcpServers\": []}",
                "\"mcpServers\" in mcp.json is an array",
            ),
            ("{oops", "not valid JSON"),
            ("{'a': 1}", "not valid JSON"),
            ("{\"a\": 0x10}", "not valid JSON"),
            (
                "{\"mcpServers\": {\"kube\": {}, \"kube\": {}}}",
                "\"kube\" more than once",
            ),
        ] {
            let err = merge(Some(text), &fragment(), path).expect_err(text);
            assert_eq!(err.exit_code().code(), 2, "{text}");
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        let err = merge(Some("{\"inputs\": {}}"), &vscode(), path).expect_err("inputs");
        assert!(err.to_string().contains("not an array"), "{err}");
        let empty = merge(Some("  \n"), &fragment(), path).expect("empty file is a new file");
        assert_eq!(empty.action, Action::Added);
        assert_eq!(empty.text, fragment().document().to_pretty("  "));
    }

    #[test]
    fn vscode_inputs_are_replaced_by_id() {
        let path = Path::new("mcp.json");
        let existing =
            r#"{"servers": {}, "inputs": [{"id": "other"}, {"id": "tok", "type": "old"}]}"#;
        let merged = merge(Some(existing), &vscode(), path).expect("merge");
        let value = parse(&merged.text);
        assert_eq!(value["inputs"].as_array().map(Vec::len), Some(2));
        assert_eq!(value["inputs"][0]["id"], "other");
        assert_eq!(value["inputs"][1]["type"], "promptString");
        assert_eq!(value["servers"]["kube"]["url"], "https://h/mcp");
        let fresh = merge(None, &vscode(), path).expect("merge");
        let value = parse(&fresh.text);
        assert_eq!(value["inputs"][0]["id"], "tok");
        // Inputs go before the servers when the file has none.
        let added = merge(Some("{\"servers\": {}}"), &vscode(), path).expect("merge");
        assert!(added.text.find("\"inputs\"") < added.text.find("\"servers\""));
        // Only an input that changed makes the entry "replaced".
        let mut other_input = vscode();
        other_input.inputs[0] = other_input.inputs[0].clone().with("description", "token");
        let changed = merge(Some(&merged.text), &other_input, path).expect("merge");
        assert_eq!(changed.action, Action::Replaced);
        assert_eq!(parse(&changed.text)["inputs"][1]["description"], "token");
    }

    #[test]
    fn strings_are_escaped_on_the_way_in() {
        let path = Path::new("mcp.json");
        let mut odd = fragment();
        odd.name = "a \"b\" \\ c".into();
        odd.entry = Object::new().with("args", vec![Json::from("x\ny\u{1}")]);
        let merged = merge(Some("{}"), &odd, path).expect("merge");
        let value = parse(&merged.text);
        assert_eq!(value["mcpServers"]["a \"b\" \\ c"]["args"][0], "x\ny\u{1}");
        assert_eq!(
            merge(Some(&merged.text), &odd, path).expect("merge").action,
            Action::Unchanged
        );
    }
}
