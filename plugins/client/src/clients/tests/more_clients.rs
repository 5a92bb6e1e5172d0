//! Windsurf, Zed, Cline, Continue, Goose, Gemini CLI, Codex CLI, OpenCode and JetBrains AI
//! Assistant: the keys each one's documentation requires, in each mode.

use super::{URL, command, oauth, setup};
use crate::clients::{ClientAuth, ClientKind, FileFormat, Setup, render};
use serde_json::{Value, json};

const NAME: &str = "kubernetes-mcp-server";

fn entry(kind: ClientKind, s: &Setup) -> Value {
    let rendered = render(kind, s, None);
    let doc = rendered.document().to_value();
    let servers = &doc[rendered.fragment.servers_key];
    match servers {
        Value::Array(list) => list[0].clone(),
        _ => servers[NAME].clone(),
    }
}

fn with_env(auth: ClientAuth, var: &str) -> Setup {
    let mut s = setup(auth);
    s.token_env = Some(var.into());
    s
}

/// The mcp-remote script of a stdio entry, for a token from a command.
fn script(entry: &Value, command_key: &str) -> String {
    assert_eq!(entry[command_key], "/bin/sh", "{entry}");
    assert_eq!(entry["args"][0], "-c");
    let script = entry["args"][1].as_str().expect("script").to_owned();
    assert!(
        script.starts_with("token=$(kubectl mcp-client token) || exit 1;"),
        "{script}"
    );
    assert!(
        script.contains(&format!("exec npx -y mcp-remote {URL} --header")),
        "{script}"
    );
    script
}

fn static_client_info(entry: &Value) -> Value {
    let args: Vec<String> = serde_json::from_value(entry["args"].clone()).expect("args");
    let at = args
        .iter()
        .position(|a| a == "--static-oauth-client-info")
        .expect("client info");
    serde_json::from_str(&args[at + 1]).expect("JSON")
}

#[test]
fn windsurf_uses_server_url_and_env_interpolation() {
    let e = entry(ClientKind::Windsurf, &setup(ClientAuth::None));
    assert_eq!(e, json!({"serverUrl": URL}));
    let e = entry(ClientKind::Windsurf, &with_env(command(), "KUBE_MCP"));
    assert_eq!(e["serverUrl"], URL);
    assert_eq!(e["headers"]["Authorization"], "Bearer ${env:KUBE_MCP}");
    let e = entry(ClientKind::Windsurf, &setup(oauth()));
    assert_eq!(
        static_client_info(&e)["client_id"],
        "11111111-2222-3333-4444-555555555555"
    );
}

#[test]
fn zed_puts_context_servers_and_runs_mcp_remote_for_a_token() {
    let r = render(ClientKind::Zed, &setup(ClientAuth::None), None);
    assert_eq!(r.fragment.servers_key, "context_servers");
    assert_eq!(
        entry(ClientKind::Zed, &setup(ClientAuth::None)),
        json!({"url": URL})
    );
    script(&entry(ClientKind::Zed, &setup(command())), "command");
    assert!(ClientKind::Zed.starts_from_desktop());
}

#[test]
fn cline_is_streamable_http_with_env_interpolation() {
    let e = entry(ClientKind::Cline, &setup(command()));
    assert_eq!(e["type"], "streamableHttp");
    assert_eq!(e["url"], URL);
    assert_eq!(e["headers"]["Authorization"], "Bearer ${env:MCP_TOKEN}");
    assert_eq!(e["disabled"], false);
    let e = entry(ClientKind::Cline, &setup(oauth()));
    assert_eq!(e["command"], "npx");
    assert!(
        e["args"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("--disable-resource-parameter")))
    );
}

#[test]
fn continue_is_a_block_with_secrets_or_mcp_remote() {
    let r = render(ClientKind::Continue, &setup(ClientAuth::None), None);
    assert_eq!(r.format, FileFormat::ContinueYaml);
    let doc = r.document().to_value();
    assert_eq!(doc["schema"], "v1");
    assert_eq!(doc["name"], NAME);
    assert!(doc["version"].is_string());
    assert_eq!(
        doc["mcpServers"][0],
        json!({"name": NAME, "type": "streamable-http", "url": URL})
    );
    let e = entry(ClientKind::Continue, &with_env(command(), "KUBE_MCP"));
    assert_eq!(
        e["requestOptions"]["headers"]["Authorization"],
        "Bearer ${{ secrets.KUBE_MCP }}"
    );
    let e = entry(ClientKind::Continue, &setup(command()));
    assert_eq!(e["type"], "stdio");
    script(&e, "command");
}

#[test]
fn goose_has_streamable_http_or_a_stdio_extension() {
    let r = render(ClientKind::Goose, &setup(ClientAuth::None), None);
    assert_eq!(r.format, FileFormat::GooseYaml);
    assert_eq!(r.fragment.servers_key, "extensions");
    let e = entry(ClientKind::Goose, &setup(ClientAuth::None));
    assert_eq!(e["type"], "streamable_http");
    assert_eq!(e["uri"], URL);
    assert_eq!(e["name"], NAME);
    assert_eq!(e["enabled"], true);
    assert_eq!(e["timeout"], 300);
    let e = entry(ClientKind::Goose, &setup(command()));
    assert_eq!(e["type"], "stdio");
    script(&e, "cmd");
    assert_eq!(e["envs"], json!({}));
}

#[test]
fn gemini_uses_http_url_env_expansion_and_its_oauth_block() {
    let e = entry(ClientKind::Gemini, &setup(command()));
    assert_eq!(e["httpUrl"], URL);
    assert_eq!(e["headers"]["Authorization"], "Bearer ${MCP_TOKEN}");
    let e = entry(ClientKind::Gemini, &setup(oauth()));
    assert_eq!(e["oauth"]["enabled"], true);
    assert_eq!(
        e["oauth"]["clientId"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        e["oauth"]["scopes"],
        json!(["openid", "profile", "offline_access"])
    );
    assert_eq!(
        e["oauth"]["redirectUri"],
        "http://localhost:33418/oauth/callback"
    );
    let mut underscored = setup(ClientAuth::None);
    underscored.name = "kube_mcp".into();
    let r = render(ClientKind::Gemini, &underscored, None);
    assert!(
        r.notes.iter().any(|n| n.contains("--name kube-mcp")),
        "{:?}",
        r.notes
    );
}

#[test]
fn codex_names_the_variable_never_the_token() {
    let r = render(ClientKind::Codex, &with_env(command(), "KUBE_MCP"), None);
    assert_eq!(r.format, FileFormat::CodexToml);
    let text = r.file_text().expect("toml");
    assert_eq!(
        text,
        format!("[mcp_servers.{NAME}]\nurl = \"{URL}\"\nbearer_token_env_var = \"KUBE_MCP\"\n")
    );
    let e = entry(ClientKind::Codex, &setup(oauth()));
    assert_eq!(
        e["oauth"]["client_id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(e["scopes"], json!(["openid", "profile", "offline_access"]));
}

#[test]
fn opencode_is_remote_with_env_substitution_or_its_oauth_client() {
    let e = entry(ClientKind::Opencode, &setup(command()));
    assert_eq!(e["type"], "remote");
    assert_eq!(e["url"], URL);
    assert_eq!(e["enabled"], true);
    assert_eq!(e["oauth"], false);
    assert_eq!(e["headers"]["Authorization"], "Bearer {env:MCP_TOKEN}");
    let e = entry(ClientKind::Opencode, &setup(oauth()));
    assert_eq!(
        e["oauth"],
        json!({"clientId": "11111111-2222-3333-4444-555555555555", "scope": "openid profile offline_access"})
    );
}

#[test]
fn jetbrains_gets_the_mcp_remote_entry_and_no_usual_file() {
    let e = entry(ClientKind::Jetbrains, &setup(command()));
    script(&e, "command");
    assert_eq!(
        ClientKind::Jetbrains.default_path(Some(std::path::Path::new("/home/u")), NAME),
        None
    );
    assert!(ClientKind::Jetbrains.starts_from_desktop());
}

#[test]
fn every_new_client_has_a_usual_file_but_jetbrains() {
    let home = std::path::Path::new("/home/u");
    for kind in [
        ClientKind::Windsurf,
        ClientKind::Zed,
        ClientKind::Cline,
        ClientKind::Continue,
        ClientKind::Goose,
        ClientKind::Gemini,
        ClientKind::Codex,
        ClientKind::Opencode,
    ] {
        assert!(kind.default_path(Some(home), NAME).is_some(), "{kind:?}");
    }
    assert_eq!(
        ClientKind::Continue.default_path(Some(home), NAME),
        Some(std::path::PathBuf::from(format!(
            ".continue/mcpServers/{NAME}.yaml"
        )))
    );
    // A name that is no plain file name makes no Continue file (no path out of the folder).
    for name in ["../x", "a/b", ".hidden", ""] {
        assert_eq!(
            ClientKind::Continue.default_path(Some(home), name),
            None,
            "{name}"
        );
    }
}
