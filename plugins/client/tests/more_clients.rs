//! `config --for` Windsurf, Zed, Cline, Continue, Goose, Gemini CLI, Codex CLI, OpenCode and
//! JetBrains AI Assistant, run as the real binary: what each prints in each auth mode
//! (snapshots, and it parses in the client's format), `--write` into a file that holds other
//! settings keeps them (comments too, where the format allows), a re-run changes nothing, a
//! file it must not rewrite is left alone with exit code 2, and each client's usual file.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use common::{LIMIT, NAME, OIDC, URL, bin, ok, run, stderr, write_json_flags};
use serde_json::{Value, json};

const OTHER_URL: &str = "https://mcp.other.example.com/mcp";
const CLIENTS: [&str; 9] = [
    "windsurf",
    "zed",
    "cline",
    "continue",
    "goose",
    "gemini",
    "codex",
    "opencode",
    "jetbrains",
];
const MODES: [(&str, &[&str]); 4] = [
    ("none", &["--auth", "none"]),
    ("openshift", &["--auth", "openshift"]),
    (
        "openshift-token-env",
        &["--auth", "openshift", "--token-env", "KUBE_MCP"],
    ),
    // [`OIDC`] and this: the OAuth entries name the port.
    ("oidc", &["--callback-port", "33418"]),
];

/// The binary, with none of the variables that move the clients' usual files.
fn config(home: &Path, client: &str, extra: &[&str]) -> Command {
    let mut cmd = bin(home);
    for var in [
        "XDG_CONFIG_HOME",
        "APPDATA",
        "CODEX_HOME",
        "CLINE_MCP_SETTINGS_PATH",
        "CLINE_DATA_DIR",
        "CLINE_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(["config", "--for", client]).args(extra);
    cmd
}

fn format_of(client: &str) -> &'static str {
    match client {
        "codex" => "toml",
        "goose" | "continue" => "yaml",
        _ => "json",
    }
}

/// The text as the client's parser reads it, as JSON.
fn parse(client: &str, text: &str) -> Value {
    match format_of(client) {
        "toml" => {
            let doc: toml_edit::DocumentMut = text.parse().expect("valid TOML");
            toml_to_json(doc.as_item())
        }
        "yaml" => serde_saphyr::from_str(text).expect("valid YAML"),
        _ => serde_json::from_str(text).expect("valid JSON"),
    }
}

fn toml_to_json(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), toml_to_json(v)))
                .collect(),
        ),
        toml_edit::Item::Value(v) => toml_value(v),
        toml_edit::Item::ArrayOfTables(a) => Value::Array(
            a.iter()
                .map(|t| toml_to_json(&toml_edit::Item::Table(t.clone())))
                .collect(),
        ),
        toml_edit::Item::None => Value::Null,
    }
}

fn toml_value(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => json!(s.value()),
        toml_edit::Value::Integer(i) => json!(i.value()),
        toml_edit::Value::Float(f) => json!(f.value()),
        toml_edit::Value::Boolean(b) => json!(b.value()),
        toml_edit::Value::Datetime(d) => json!(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(toml_value).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), toml_value(v)))
                .collect(),
        ),
    }
}

/// Our server's entry in a parsed file of `client`.
fn our_entry(client: &str, doc: &Value) -> Value {
    match client {
        "continue" => doc["mcpServers"][0].clone(),
        "zed" => doc["context_servers"][NAME].clone(),
        "goose" => doc["extensions"][NAME].clone(),
        "codex" => doc["mcp_servers"][NAME].clone(),
        "opencode" => doc["mcp"][NAME].clone(),
        _ => doc["mcpServers"][NAME].clone(),
    }
}

#[test]
fn printed_config_of_every_new_client_in_every_mode() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let exe = env!("CARGO_BIN_EXE_kubectl-mcp_client");
    for client in CLIENTS {
        for (mode, flags) in MODES {
            let mut args = vec!["--url", URL];
            if mode == "oidc" {
                args.extend_from_slice(&OIDC);
            }
            args.extend_from_slice(flags);
            let out = run(config(h, client, &args), LIMIT);
            let text = ok(&out);
            let doc = parse(client, &text);
            let entry = our_entry(client, &doc);
            assert!(entry.is_object(), "{client} {mode}: no entry in\n{text}");
            assert!(
                entry.to_string().contains(URL),
                "{client} {mode}: no URL in {entry}"
            );
            // The client's format says exactly what the entry says (`-o json`): no value
            // lost or changed by the TOML or YAML writer (long scripts, quotes, `${{ }}`).
            let mut as_json = config(h, client, &args);
            as_json.args(["-o", "json"]);
            let expected: Value = serde_json::from_str(&ok(&run(as_json, LIMIT))).expect("-o json");
            assert_eq!(doc, expected, "{client} {mode}");
            insta::with_settings!({filters => vec![(exe, "[kubectl-mcp_client]")]}, {
                insta::assert_snapshot!(
                    format!("{client}-{mode}"),
                    format!("{text}--- stderr\n{}", stderr(&out))
                );
            });
        }
    }
}

/// A file of `client` with settings of the user's, and a check that they survived.
fn seeded(client: &str) -> (&'static str, String, fn(&str)) {
    match client {
        "zed" => (
            "settings.json",
            "// Zed settings\n{\n  \"theme\": \"One Dark\", // mine\n  \"context_servers\": {\n    \"fs\": {\"command\": \"npx\", \"args\": [\"fs\"]},\n  },\n}\n".into(),
            |text| {
                assert!(text.contains("// Zed settings\n"), "{text}");
                assert!(text.contains("\"theme\": \"One Dark\", // mine"), "{text}");
                assert!(text.contains("\"fs\": {\"command\": \"npx\", \"args\": [\"fs\"]}"), "{text}");
            },
        ),
        "codex" => (
            "config.toml",
            "# mine\nmodel = \"gpt-5\"  # default\n\n[mcp_servers.fs]\ncommand = \"npx\"\nargs = [\"fs\"]\n\n[profiles.fast]\nmodel = \"mini\"\n".into(),
            |text| {
                assert!(text.starts_with("# mine\nmodel = \"gpt-5\"  # default\n\n[mcp_servers.fs]\ncommand = \"npx\"\nargs = [\"fs\"]\n"), "{text}");
                assert!(text.contains("[profiles.fast]\nmodel = \"mini\"\n"), "{text}");
            },
        ),
        "goose" => (
            "config.yaml",
            "GOOSE_MODE: smart_approve\nextensions:\n  developer:\n    bundled: true\n    enabled: true\n    name: developer\n    timeout: 300\n    type: builtin\n".into(),
            |text| {
                let v: Value = serde_saphyr::from_str(text).expect("YAML");
                assert_eq!(v["GOOSE_MODE"], "smart_approve");
                assert_eq!(v["extensions"]["developer"]["type"], "builtin");
            },
        ),
        "continue" => ("kube.yaml", String::new(), |_| {}),
        "opencode" => (
            "opencode.json",
            "{\"$schema\": \"https://opencode.ai/config.json\", \"mcp\": {\"fs\": {\"type\": \"local\", \"command\": [\"npx\", \"fs\"]}}}".into(),
            |text| {
                let v: Value = serde_json::from_str(text).expect("JSON");
                assert_eq!(v["$schema"], "https://opencode.ai/config.json");
                assert_eq!(v["mcp"]["fs"]["command"], json!(["npx", "fs"]));
            },
        ),
        _ => (
            "mcp.json",
            "{\"theme\": \"Dracula\", \"mcpServers\": {\"fs\": {\"command\": \"npx\", \"args\": [\"fs\"]}}}".into(),
            |text| {
                let v: Value = serde_json::from_str(text).expect("JSON");
                assert_eq!(v["theme"], "Dracula");
                assert_eq!(v["mcpServers"]["fs"]["args"], json!(["fs"]));
            },
        ),
    }
}

#[test]
fn write_merges_into_each_clients_file_and_a_rerun_changes_nothing() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    for client in CLIENTS {
        let dir = h.join(client);
        std::fs::create_dir_all(&dir).expect("dir");
        let (file, original, kept) = seeded(client);
        let path = dir.join(file);
        if !original.is_empty() {
            std::fs::write(&path, &original).expect("seed");
        }
        let path_arg = path.display().to_string();
        let write = |url: &str| {
            let flags = write_json_flags(url, &path_arg);
            let report: Value =
                serde_json::from_str(&ok(&run(config(h, client, &flags), LIMIT))).expect("report");
            let text = std::fs::read_to_string(&path).expect("written");
            (report, text)
        };

        let (report, text) = write(URL);
        assert_eq!(report["action"], "added", "{client}");
        kept(&text);
        if client == "zed" {
            // JSON with comments, which serde_json does not read.
            assert!(text.contains(&format!("\"{NAME}\": {{")), "{text}");
        } else {
            let entry = our_entry(client, &parse(client, &text));
            assert!(entry.to_string().contains(URL), "{client}: {text}");
        }

        let (report, again) = write(URL);
        assert_eq!(report["action"], "unchanged", "{client}");
        assert_eq!(again, text, "{client}: a re-run rewrote the file");

        let (report, replaced) = write(OTHER_URL);
        assert_eq!(report["action"], "replaced", "{client}");
        kept(&replaced);
        assert!(replaced.contains(OTHER_URL), "{client}");
        assert!(!replaced.contains(URL), "{client}");
    }
}

fn refused(cmd: Command, path: &Path, before: &str, says: &str) {
    let out = run(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(path).expect("read"), before);
}

#[test]
fn files_it_must_not_rewrite_are_left_alone() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let flags = ["--url", URL, "--auth", "openshift", "--write"];

    // Goose's file with comments: rewriting it would drop them.
    let goose = h.join(".config/goose/config.yaml");
    std::fs::create_dir_all(goose.parent().expect("dir")).expect("dir");
    let commented = "# my goose\nextensions: {}\n";
    std::fs::write(&goose, commented).expect("seed");
    refused(
        config(h, "goose", &flags),
        &goose,
        commented,
        "has comments",
    );

    // A Continue block someone else wrote.
    let block = h.join(format!(".continue/mcpServers/{NAME}.yaml"));
    std::fs::create_dir_all(block.parent().expect("dir")).expect("dir");
    let theirs = "name: theirs\nversion: 1.0.0\nschema: v1\nmcpServers: []\n";
    std::fs::write(&block, theirs).expect("seed");
    refused(
        config(h, "continue", &flags),
        &block,
        theirs,
        "not written by",
    );

    // A Codex file that is not TOML.
    let codex = h.join(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().expect("dir")).expect("dir");
    let broken = "model = \n";
    std::fs::write(&codex, broken).expect("seed");
    refused(config(h, "codex", &flags), &codex, broken, "not valid TOML");

    // JetBrains AI Assistant has no file of its own.
    let out = run(config(h, "jetbrains", &flags), LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--write PATH"), "{}", stderr(&out));
}

#[test]
fn write_without_a_path_uses_each_clients_usual_file() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let flags = ["--url", URL, "--auth", "openshift"];
    let usual: [(&str, PathBuf); 8] = [
        ("windsurf", h.join(".codeium/windsurf/mcp_config.json")),
        ("zed", h.join(".config/zed/settings.json")),
        (
            "cline",
            h.join(".cline/data/settings/cline_mcp_settings.json"),
        ),
        (
            "continue",
            h.join(format!(".continue/mcpServers/{NAME}.yaml")),
        ),
        ("goose", h.join(".config/goose/config.yaml")),
        ("gemini", h.join(".gemini/settings.json")),
        ("codex", h.join(".codex/config.toml")),
        ("opencode", h.join("opencode.json")),
    ];
    for (client, file) in usual {
        let mut cmd = config(h, client, &flags);
        cmd.args(["--write", "--dry-run"]);
        let out = run(cmd, LIMIT);
        let preview = ok(&out);
        assert!(preview.contains(URL), "{client}: {preview}");
        assert!(
            !file.exists(),
            "{client}: the dry run wrote {}",
            file.display()
        );

        let mut cmd = config(h, client, &flags);
        cmd.arg("--write");
        ok(&run(cmd, LIMIT));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{client}: {e}"));
        assert_eq!(text, preview, "{client}: the dry run showed another file");
        assert!(
            our_entry(client, &parse(client, &text)).is_object(),
            "{client}"
        );
    }
}
