use super::*;
use crate::shell::split;

mod more_clients;
mod scan;

pub(super) const URL: &str = "https://kubernetes-mcp-server-mcp-server.apps.example.com/mcp";

pub(super) fn setup(auth: ClientAuth) -> Setup {
    Setup {
        name: "kubernetes-mcp-server".into(),
        url: URL.into(),
        auth,
        token_env: None,
    }
}

pub(super) fn command() -> ClientAuth {
    ClientAuth::Bearer(TokenSource::Command(TokenCommand::plugin(vec![
        "kubectl".into(),
        "mcp-client".into(),
        "token".into(),
    ])))
}

/// A `--token-command` of the user's: prints the bare token.
pub(super) fn custom_command() -> ClientAuth {
    ClientAuth::Bearer(TokenSource::Command(TokenCommand {
        argv: vec![
            "vault".into(),
            "read".into(),
            "-field=token".into(),
            "mcp".into(),
        ],
        plugin: false,
    }))
}

pub(super) fn oauth() -> ClientAuth {
    ClientAuth::OAuth(OAuthClient {
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
        entra: true,
        callback_port: Some(33418),
    })
}

pub(super) fn doc(kind: ClientKind, auth: ClientAuth) -> serde_json::Value {
    setup_doc(kind, &setup(auth))
}

/// The document `kind` prints for `setup`, as JSON.
pub(super) fn setup_doc(kind: ClientKind, setup: &Setup) -> serde_json::Value {
    let rendered = render(kind, setup, None);
    let text = rendered.fragment.document().to_pretty("  ");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn every_client_has_its_required_keys() {
    for auth in [command(), oauth(), ClientAuth::None] {
        let v = doc(ClientKind::Cursor, auth.clone());
        assert_eq!(v["mcpServers"]["kubernetes-mcp-server"]["url"], URL);
        let v = doc(ClientKind::Vscode, auth.clone());
        assert_eq!(v["servers"]["kubernetes-mcp-server"]["type"], "http");
        assert_eq!(v["servers"]["kubernetes-mcp-server"]["url"], URL);
        let v = doc(ClientKind::ClaudeCode, auth.clone());
        assert_eq!(v["mcpServers"]["kubernetes-mcp-server"]["type"], "http");
        assert_eq!(v["mcpServers"]["kubernetes-mcp-server"]["url"], URL);
        let v = doc(ClientKind::ClaudeDesktop, auth.clone());
        let entry = &v["mcpServers"]["kubernetes-mcp-server"];
        assert!(entry["command"].is_string());
        assert!(entry["args"].is_array());
        let v = doc(ClientKind::Inspector, auth.clone());
        assert_eq!(v["mcpServers"]["kubernetes-mcp-server"]["type"], "http");
    }
}

#[test]
fn openshift_mode_takes_the_token_from_the_environment_or_the_command() {
    let v = doc(ClientKind::Cursor, command());
    assert_eq!(
        v["mcpServers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
        "Bearer ${env:MCP_TOKEN}"
    );
    let v = doc(ClientKind::Vscode, command());
    assert_eq!(
        v["servers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
        "Bearer ${input:kubernetes-mcp-server-token}"
    );
    assert_eq!(v["inputs"][0]["id"], "kubernetes-mcp-server-token");
    assert_eq!(v["inputs"][0]["type"], "promptString");
    assert_eq!(v["inputs"][0]["password"], true);
    let v = doc(ClientKind::ClaudeCode, command());
    assert_eq!(
        v["mcpServers"]["kubernetes-mcp-server"]["headersHelper"],
        "kubectl mcp-client token --format headers-json"
    );
    let v = doc(ClientKind::ClaudeDesktop, command());
    let args = &v["mcpServers"]["kubernetes-mcp-server"]["args"];
    assert_eq!(args[0], "-c");
    let script = args[1].as_str().expect("script");
    assert!(script.starts_with("token=$(kubectl mcp-client token) || exit 1;"));
    assert!(script.contains("--header 'Authorization:${AUTH_HEADER}'"));
}

#[test]
fn an_explicit_token_env_is_used_where_the_client_can_read_one() {
    let mut s = setup(command());
    s.token_env = Some("KUBE_MCP".into());
    let v = setup_doc(ClientKind::Vscode, &s);
    assert_eq!(
        v["servers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
        "Bearer ${env:KUBE_MCP}"
    );
    assert!(v.get("inputs").is_none());
    let v = setup_doc(ClientKind::ClaudeCode, &s);
    assert_eq!(
        v["mcpServers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
        "Bearer ${KUBE_MCP}"
    );
}

#[test]
fn oauth_clients_carry_client_id_and_scopes() {
    let v = doc(ClientKind::Cursor, oauth());
    let auth = &v["mcpServers"]["kubernetes-mcp-server"]["auth"];
    assert_eq!(auth["CLIENT_ID"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(
        auth["scopes"],
        serde_json::json!(["openid", "profile", "offline_access"])
    );
    let v = doc(ClientKind::ClaudeCode, oauth());
    let oauth_v = &v["mcpServers"]["kubernetes-mcp-server"]["oauth"];
    assert_eq!(oauth_v["clientId"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(oauth_v["scopes"], "openid profile offline_access");
    assert_eq!(oauth_v["callbackPort"], 33418);
    let v = doc(ClientKind::ClaudeDesktop, oauth());
    let args: Vec<String> = v["mcpServers"]["kubernetes-mcp-server"]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_owned())
        .collect();
    let info = args
        .iter()
        .position(|a| a == "--static-oauth-client-info")
        .expect("client info");
    let parsed: serde_json::Value = serde_json::from_str(&args[info + 1]).expect("json arg");
    assert_eq!(parsed["client_id"], "11111111-2222-3333-4444-555555555555");
    assert!(args.contains(&"--disable-resource-parameter".to_owned()));
    // The fixed callback port goes right after the URL, where mcp-remote reads it.
    assert_eq!(&args[2..4], [URL, "33418"]);
    let line = render(ClientKind::Inspector, &setup(oauth()), None)
        .command
        .expect("command")
        .render();
    assert!(
        line.contains("--callback-url http://127.0.0.1:33418/oauth/callback"),
        "{line}"
    );
}

#[test]
fn command_lines_parse_and_keep_tokens_out_of_argv_where_they_can() {
    let inspector = render(ClientKind::Inspector, &setup(command()), None)
        .command
        .expect("command");
    let line = inspector.render();
    let (producer, client) = line.split_once(" | ").expect("a pipe");
    assert_eq!(
        split(producer).expect("split"),
        [
            "kubectl",
            "mcp-client",
            "token",
            "--format",
            "inspector-config",
            "--url",
            URL,
            "--name",
            "kubernetes-mcp-server"
        ]
    );
    assert_eq!(
        split(client).expect("split"),
        [
            "npx",
            INSPECTOR,
            "--cli",
            "--config",
            "/dev/stdin",
            "--server",
            "kubernetes-mcp-server",
            "--method",
            "tools/list"
        ]
    );

    let remote = render(ClientKind::McpRemote, &setup(command()), None)
        .command
        .expect("command");
    let line = remote.render();
    assert!(
        line.starts_with("AUTH_HEADER=\"Bearer $(kubectl mcp-client token)\" npx -y mcp-remote")
    );
    assert!(line.ends_with("--header 'Authorization:${AUTH_HEADER}'"));

    let with_file = render(
        ClientKind::Inspector,
        &setup(oauth()),
        Some(Path::new("/tmp/catalog.json")),
    );
    let words = split(&with_file.command.expect("command").render()).expect("split");
    assert_eq!(
        &words[..7],
        [
            "npx",
            INSPECTOR,
            "--cli",
            "--config",
            "/tmp/catalog.json",
            "--server",
            "kubernetes-mcp-server"
        ]
    );
}

#[test]
fn claude_code_also_gets_its_own_cli_command() {
    let r = render(ClientKind::ClaudeCode, &setup(command()), None);
    let line = r
        .notes
        .iter()
        .find_map(|n| n.strip_prefix("or let Claude Code add it: "))
        .expect("a claude mcp add-json line");
    let words = split(line).expect("words");
    assert_eq!(
        &words[..4],
        ["claude", "mcp", "add-json", "kubernetes-mcp-server"]
    );
    let entry: serde_json::Value = serde_json::from_str(&words[4]).expect("json");
    assert_eq!(entry["type"], "http");
    assert_eq!(entry["url"], URL);
}

#[test]
fn no_token_unless_embedded() {
    for kind in ClientKind::value_variants() {
        for auth in [command(), oauth(), ClientAuth::None] {
            let r = render(*kind, &setup(auth), None);
            let text = r.file_text().expect("the client's file");
            assert!(!text.contains("sha256~"), "{kind:?}: {text}");
        }
        let secret = ClientAuth::Bearer(TokenSource::Embedded(Secret::new("sha256~embedded")));
        let r = render(*kind, &setup(secret), None);
        let text = r.file_text().expect("the client's file");
        assert!(
            text.contains("sha256~embedded"),
            "{kind:?} embeds on request"
        );
    }
}

#[test]
fn a_token_command_of_the_users_is_wrapped_by_sed_not_given_format_flags() {
    let r = render(ClientKind::Inspector, &setup(custom_command()), None);
    let line = r.command.expect("command").render();
    assert!(
        line.starts_with("vault read -field=token mcp | sed "),
        "{line}"
    );
    assert!(!line.contains("--format"), "{line}");
    let r = render(ClientKind::ClaudeCode, &setup(custom_command()), None);
    let v = r.fragment.document().to_value();
    let helper = v["mcpServers"]["kubernetes-mcp-server"]["headersHelper"]
        .as_str()
        .expect("helper");
    assert!(
        helper.starts_with("vault read -field=token mcp | sed "),
        "{helper}"
    );
    // What sed makes of a token line is the JSON the client expects.
    let script = split(helper).expect("words").pop().expect("script");
    let out = std::process::Command::new("sed")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(b"tok\n")?;
            child.wait_with_output()
        })
        .expect("sed");
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(parsed["Authorization"], "Bearer tok");
}

#[test]
fn an_embedded_token_reaches_the_inspector_on_stdin() {
    let secret = ClientAuth::Bearer(TokenSource::Embedded(Secret::new("sha256~e")));
    let line = render(ClientKind::Inspector, &setup(secret), None)
        .command
        .expect("command")
        .render();
    let (command, rest) = line
        .split_once(" <<'END_OF_MCP_CONFIG'\n")
        .expect("heredoc");
    assert!(command.contains("--config /dev/stdin"), "{command}");
    let body = rest.strip_suffix("\nEND_OF_MCP_CONFIG").expect("end line");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(
        v["mcpServers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
        "Bearer sha256~e"
    );
}
