//! YAML client files. No maintained Rust YAML editor keeps comments, so:
//!
//! - Goose's shared `config.yaml` is parsed (serde-saphyr, keys kept in file order), only
//!   `extensions.<name>` is replaced, and the file is written out again. A file with
//!   comments is refused rather than rewritten without them: the user pastes the printed
//!   entry instead. Goose writes the file itself without comments.
//! - A Continue block file is ours whole: it starts with a marker line, and a file without
//!   it (someone else's) is never replaced.

use std::path::Path;

use oc_mcp_common::{Error, Result};

use crate::jsonfile::{Action, Fragment, Json, Merged, Object};

/// The first line of every Continue block file this plugin writes.
pub const CONTINUE_MARKER: &str =
    "# Written by `oc mcp-client config --for continue`: running it again replaces this file.";

/// `value` as YAML text. Long strings stay on one line (a folded `>` block of a shell script
/// is correct YAML, but hard to read and to compare).
pub fn render(value: &Json) -> Result<String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options)
        .map_err(|e| Error::failed(format!("cannot encode the configuration as YAML: {e}")))
}

/// Whether a line of the file holds a comment. A `#` inside a quoted string counts too: a
/// false alarm only means a refusal, never a lost comment.
fn has_comments(text: &str) -> bool {
    text.lines().any(|line| {
        let trimmed = line.trim_start();
        trimmed.starts_with('#') || line.contains(" #") || line.contains("\t#")
    })
}

fn parse(text: &str, path: &Path) -> Result<Object> {
    let value: Json = serde_saphyr::from_str(text).map_err(|e| {
        // Only the position: the parser's message may quote the file, which may hold secrets.
        let at = e
            .location()
            .map(|l| format!(" (line {})", l.line()))
            .unwrap_or_default();
        Error::usage_with_hint(
            format!("{} is not YAML this plugin can edit{at}", path.display()),
            "fix the file, or write to another one with --write PATH",
        )
    })?;
    match value {
        Json::Object(root) => Ok(root),
        Json::Null => Ok(Object::new()),
        _ => Err(Error::usage(format!(
            "{} does not hold a YAML mapping",
            path.display()
        ))),
    }
}

/// Merge `fragment` into a Goose `config.yaml`: only `<servers_key>.<name>` changes; an
/// entry that is already the same leaves the text exactly as it was.
pub fn merge(existing: Option<&str>, fragment: &Fragment, path: &Path) -> Result<Merged> {
    let original = existing.unwrap_or("");
    let mut root = if original.trim().is_empty() {
        Object::new()
    } else {
        if has_comments(original) {
            return Err(Error::usage_with_hint(
                format!(
                    "{} has comments, which rewriting it would drop; it was not changed",
                    path.display()
                ),
                format!(
                    "run the same command without --write and paste the entry under `{}:` yourself, or remove the comments",
                    fragment.servers_key
                ),
            ));
        }
        parse(original, path)?
    };
    let key = fragment.servers_key;
    let servers = match root.get_mut(key) {
        Some(Json::Object(servers)) => servers,
        Some(Json::Null) | None => {
            root.insert(key, Json::Object(Object::new()));
            match root.get_mut(key) {
                Some(Json::Object(servers)) => servers,
                _ => unreachable!("just inserted an object"),
            }
        }
        Some(_) => {
            return Err(Error::usage_with_hint(
                format!("\"{key}\" in {} is not a mapping", path.display()),
                "fix the file, or write to another one with --write PATH",
            ));
        }
    };
    let wanted = Json::Object(fragment.entry.clone());
    let previous = servers.insert(fragment.name.clone(), wanted.clone());
    let action = match previous {
        None => Action::Added,
        Some(old) if old.to_value() == wanted.to_value() => {
            return Ok(Merged {
                text: original.to_owned(),
                action: Action::Unchanged,
            });
        }
        Some(_) => Action::Replaced,
    };
    Ok(Merged {
        text: render(&Json::Object(root))?,
        action,
    })
}

/// A Continue block: `name`, `version`, `schema: v1`, and the one server in `mcpServers`.
pub fn continue_document(fragment: &Fragment) -> Json {
    Json::Object(
        Object::new()
            .with("name", fragment.name.clone())
            .with("version", "0.0.1")
            .with("schema", "v1")
            .with(
                fragment.servers_key,
                Json::Array(vec![Json::Object(fragment.entry.clone())]),
            ),
    )
}

/// The Continue block file: the marker line, then the block.
pub fn continue_file(fragment: &Fragment) -> Result<String> {
    Ok(format!(
        "{CONTINUE_MARKER}\n{}",
        render(&continue_document(fragment))?
    ))
}

/// Write a file that is ours whole: a new one, or one that starts with our marker.
pub fn replace_owned(existing: Option<&str>, fragment: &Fragment, path: &Path) -> Result<Merged> {
    let text = continue_file(fragment)?;
    let action = match existing {
        None => Action::Added,
        Some(old) if old.trim().is_empty() => Action::Added,
        Some(old) if old == text => Action::Unchanged,
        Some(old) if old.starts_with(CONTINUE_MARKER) => Action::Replaced,
        Some(_) => {
            return Err(Error::usage_with_hint(
                format!(
                    "{} was not written by oc mcp-client; it was not changed",
                    path.display()
                ),
                "give the server another --name (the file is named after it), or another file with --write PATH",
            ));
        }
    };
    Ok(Merged { text, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(uri: &str) -> Fragment {
        Fragment {
            servers_key: "extensions",
            name: "kube".into(),
            entry: Object::new()
                .with("type", "streamable_http")
                .with("uri", uri)
                .with("timeout", 300_u16),
            inputs: Vec::new(),
        }
    }

    const GOOSE: &str = "GOOSE_MODE: smart_approve\nextensions:\n  developer:\n    bundled: true\n    enabled: true\n    name: developer\n    timeout: 300\n    type: builtin\n  kube:\n    type: streamable_http\n    uri: https://old/mcp\nGOOSE_TEMPERATURE: 0.7\n";

    #[test]
    fn goose_keeps_other_settings_and_extensions_in_order() {
        let path = Path::new("config.yaml");
        let merged = merge(Some(GOOSE), &fragment("https://new/mcp"), path).expect("merge");
        assert_eq!(merged.action, Action::Replaced);
        let back: Json = serde_saphyr::from_str(&merged.text).expect("YAML");
        let root = back.as_object().expect("mapping");
        assert_eq!(
            root.keys().collect::<Vec<_>>(),
            ["GOOSE_MODE", "extensions", "GOOSE_TEMPERATURE"]
        );
        let v = back.to_value();
        assert_eq!(v["GOOSE_TEMPERATURE"], 0.7);
        assert_eq!(v["extensions"]["developer"]["type"], "builtin");
        assert_eq!(v["extensions"]["developer"]["bundled"], true);
        assert_eq!(v["extensions"]["kube"]["uri"], "https://new/mcp");
        assert_eq!(v["extensions"]["kube"]["timeout"], 300);

        let again = merge(Some(&merged.text), &fragment("https://new/mcp"), path).expect("merge");
        assert_eq!(again.action, Action::Unchanged);
        assert_eq!(again.text, merged.text);
        let fresh = merge(None, &fragment("https://h/mcp"), path).expect("merge");
        assert_eq!(fresh.action, Action::Added);
    }

    #[test]
    fn goose_refuses_files_with_comments_or_odd_shapes() {
        let path = Path::new("config.yaml");
        let commented = format!("# mine\n{GOOSE}");
        let err = merge(Some(&commented), &fragment("u"), path).expect_err("comments");
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.to_string().contains("comments"), "{err}");
        let trailing = GOOSE.replace("enabled: true", "enabled: true # on");
        assert!(merge(Some(&trailing), &fragment("u"), path).is_err());
        let err = merge(Some("extensions: [1]\n"), &fragment("u"), path).expect_err("list");
        assert_eq!(err.exit_code().code(), 2);
        let err = merge(Some("- 1\n"), &fragment("u"), path).expect_err("not a mapping");
        assert_eq!(err.exit_code().code(), 2);
        let err = merge(Some("a: [\ntoken: sha256~x\n"), &fragment("u"), path).expect_err("bad");
        assert!(!err.to_string().contains("sha256~x"), "{err}");
    }

    #[test]
    fn continue_files_are_ours_whole() {
        let path = Path::new("kube.yaml");
        let mut f = fragment("https://h/mcp");
        f.servers_key = "mcpServers";
        let first = replace_owned(None, &f, path).expect("new");
        assert_eq!(first.action, Action::Added);
        assert!(first.text.starts_with(CONTINUE_MARKER));
        let block: Json = serde_saphyr::from_str(&first.text).expect("YAML");
        let v = block.to_value();
        assert_eq!(v["schema"], "v1");
        assert_eq!(v["name"], "kube");
        assert_eq!(v["mcpServers"][0]["uri"], "https://h/mcp");
        let again = replace_owned(Some(&first.text), &f, path).expect("same");
        assert_eq!(again.action, Action::Unchanged);
        let mut other = f.clone();
        other.entry = other.entry.with("uri", "https://other/mcp");
        let replaced = replace_owned(Some(&first.text), &other, path).expect("ours");
        assert_eq!(replaced.action, Action::Replaced);
        let err = replace_owned(Some("name: theirs\n"), &f, path).expect_err("foreign");
        assert_eq!(err.exit_code().code(), 2);
    }
}
