//! Each MCP client's own configuration format for the deployed server.
//!
//! - Cursor: `.cursor/mcp.json`, `mcpServers.<name>` with `url`, `headers` (`${env:VAR}`
//!   interpolation) or the static OAuth client `auth: {CLIENT_ID, scopes}`.
//! - VS Code: `.vscode/mcp.json`, `servers.<name>` with `type: "http"`, `url`, `headers`, and
//!   `inputs` (`promptString` with `password: true`) for secrets. VS Code has no field for a
//!   pre-registered OAuth client: it asks for the client ID when it logs in.
//! - Claude Code: `.mcp.json`, `mcpServers.<name>` with `type: "http"`, `url`, and either
//!   `headersHelper` (a command printing a JSON object of headers, run on every connection)
//!   or `oauth: {clientId, scopes, callbackPort}`.
//! - Claude Desktop: `claude_desktop_config.json`, a stdio server that runs `mcp-remote`.
//! - MCP Inspector: the `--cli` command line (`--header`, `--client-id`), or a catalog file for
//!   `--config FILE --server NAME`.
//! - mcp-remote: its command line (`--header 'Authorization:${AUTH_HEADER}'` with the value in
//!   the environment, `--static-oauth-client-info`), or the same stdio entry for any client's
//!   `mcpServers` file.
//!
//! Nothing here ever puts a token into a file unless the caller embeds one on purpose.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use oc_mcp_common::kube_args::Secret;
use serde::Serialize;

use crate::{
    jsonfile::{Fragment, Json, Object},
    shell::{CommandLine, Word, quote},
};

/// The clients `config --for` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Cursor (`.cursor/mcp.json`)
    Cursor,
    /// VS Code (`.vscode/mcp.json`)
    Vscode,
    /// Claude Code (`.mcp.json`)
    ClaudeCode,
    /// Claude Desktop (`claude_desktop_config.json`, through mcp-remote)
    ClaudeDesktop,
    /// MCP Inspector CLI (a command line; `--write` makes a catalog for `--config`)
    Inspector,
    /// mcp-remote (a command line; `--write FILE` adds it to any `mcpServers` file)
    McpRemote,
}

impl ClientKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cursor => "cursor",
            Self::Vscode => "vscode",
            Self::ClaudeCode => "claude-code",
            Self::ClaudeDesktop => "claude-desktop",
            Self::Inspector => "inspector",
            Self::McpRemote => "mcp-remote",
        }
    }

    /// Where `--write` without a path writes: the project files of the editors, Claude
    /// Desktop's per-user file, the Inspector's default catalog. mcp-remote has none.
    pub fn default_path(self, home: Option<&Path>) -> Option<PathBuf> {
        match self {
            Self::Cursor => Some(PathBuf::from(".cursor").join("mcp.json")),
            Self::Vscode => Some(PathBuf::from(".vscode").join("mcp.json")),
            Self::ClaudeCode => Some(PathBuf::from(".mcp.json")),
            Self::ClaudeDesktop => claude_desktop_config(home),
            Self::Inspector => home.map(|h| h.join(".mcp-inspector").join("mcp.json")),
            Self::McpRemote => None,
        }
    }
}

fn claude_desktop_config(home: Option<&Path>) -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Application Support/Claude/claude_desktop_config.json"))
    } else if cfg!(windows) {
        std::env::var_os("APPDATA").map(|d| {
            PathBuf::from(d)
                .join("Claude")
                .join("claude_desktop_config.json")
        })
    } else {
        // Not an official build; where the community builds for Linux read it.
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".config")));
        config.map(|c| c.join("Claude").join("claude_desktop_config.json"))
    }
}

/// How a client gets a token for the server.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// The server takes requests without a token (mode `none`, internal only).
    None,
    /// An `Authorization: Bearer` header with a token from a command or written in.
    Bearer(TokenSource),
    /// The client runs the OAuth login itself, with this pre-registered client.
    OAuth(OAuthClient),
}

/// Where a bearer token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A command that prints the token on stdout (`oc mcp-client token ...`), as argv.
    Command(Vec<String>),
    /// The token itself (`--embed-token`).
    Embedded(Secret),
}

/// A pre-registered OAuth client (step 6) for clients that log in themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Entra ID rejects the RFC 8707 `resource` parameter (AADSTS9010010).
    pub entra: bool,
    /// A fixed loopback port for the client's redirect (Claude Code `callbackPort`,
    /// mcp-remote's port argument, the Inspector's `--callback-url`).
    pub callback_port: Option<u16>,
}

/// Everything a client configuration is made from.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The server's name in the client's list.
    pub name: String,
    /// `https://<route host>/mcp`
    pub url: String,
    pub auth: ClientAuth,
    /// Take the token from this environment variable where the client can read one
    /// (Cursor, VS Code, Claude Code) instead of its default mechanism.
    pub token_env: Option<String>,
}

/// The default environment variable for the token (the guide's `MCP_TOKEN`).
pub const DEFAULT_TOKEN_ENV: &str = "MCP_TOKEN";

const MCP_REMOTE: [&str; 2] = ["-y", "mcp-remote"];
const INSPECTOR: &str = "@modelcontextprotocol/inspector";

/// What `config --for` produces.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The file content (a document with the one server), for every client but the
    /// command-line ones without `--write`.
    pub fragment: Fragment,
    /// The command line (Inspector and mcp-remote), given the file the fragment went to.
    pub command: Option<CommandLine>,
    /// What the user has to do next (on stderr).
    pub notes: Vec<String>,
}

impl Setup {
    fn token_command_text(&self, extra: &[&str]) -> Option<String> {
        match &self.auth {
            ClientAuth::Bearer(TokenSource::Command(argv)) => Some(
                argv.iter()
                    .map(String::as_str)
                    .chain(extra.iter().copied())
                    .map(quote)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }

    fn embedded(&self) -> Option<&Secret> {
        match &self.auth {
            ClientAuth::Bearer(TokenSource::Embedded(token)) => Some(token),
            _ => None,
        }
    }

    fn env_name(&self) -> &str {
        self.token_env.as_deref().unwrap_or(DEFAULT_TOKEN_ENV)
    }
}

/// Render the configuration of `kind` for `setup`. `written` is the file the fragment is
/// written to, when it is (the Inspector's command line then points at it).
pub fn render(kind: ClientKind, setup: &Setup, written: Option<&Path>) -> Rendered {
    match kind {
        ClientKind::Cursor => cursor(setup),
        ClientKind::Vscode => vscode(setup),
        ClientKind::ClaudeCode => claude_code(setup),
        ClientKind::ClaudeDesktop => claude_desktop(setup),
        ClientKind::Inspector => inspector(setup, written),
        ClientKind::McpRemote => mcp_remote(setup),
    }
}

fn fragment(servers_key: &'static str, setup: &Setup, entry: Object) -> Fragment {
    Fragment {
        servers_key,
        name: setup.name.clone(),
        entry,
        inputs: Vec::new(),
    }
}

fn cursor(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = Object::new().with("url", setup.url.clone());
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert(
                "headers",
                auth_header(format!("Bearer {}", token.expose())).into(),
            );
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let var = setup.env_name();
            entry.insert(
                "headers",
                auth_header(format!("Bearer ${{env:{var}}}")).into(),
            );
            notes.push(format!(
                "Cursor reads the token from ${var}: run `export {var}=\"$({})\"` and start Cursor from that shell (again when the token expires)",
                setup.token_command_text(&[]).unwrap_or_default()
            ));
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "auth",
                Object::new()
                    .with("CLIENT_ID", client.client_id.clone())
                    .with("scopes", string_array(&client.scopes))
                    .into(),
            );
            notes.push(format!(
                "Cursor logs in with client {} itself; the app registration needs Cursor's redirect URI (http://localhost:8787/callback on current desktop builds)",
                client.client_id
            ));
        }
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        notes,
    }
}

fn vscode(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut inputs = Vec::new();
    let mut entry = Object::new()
        .with("type", "http")
        .with("url", setup.url.clone());
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert(
                "headers",
                auth_header(format!("Bearer {}", token.expose())).into(),
            );
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let command = setup.token_command_text(&[]).unwrap_or_default();
            if let Some(var) = &setup.token_env {
                entry.insert(
                    "headers",
                    auth_header(format!("Bearer ${{env:{var}}}")).into(),
                );
                notes.push(format!(
                    "VS Code reads the token from ${var}: run `export {var}=\"$({command})\"` and start VS Code from that shell; some VS Code releases send ${{env:...}} in headers unexpanded (microsoft/vscode#336232): without --token-env VS Code prompts instead"
                ));
            } else {
                let id = format!("{}-token", setup.name);
                inputs.push(
                    Object::new()
                        .with("type", "promptString")
                        .with("id", id.clone())
                        .with(
                            "description",
                            format!("Bearer token for {} (print one with: {command})", setup.url),
                        )
                        .with("password", true),
                );
                entry.insert(
                    "headers",
                    auth_header(format!("Bearer ${{input:{id}}}")).into(),
                );
                notes.push(format!(
                    "VS Code asks for the token when it starts the server and keeps it in its secret storage: paste the output of `{command}`"
                ));
            }
        }
        ClientAuth::OAuth(client) => {
            notes.push(format!(
                "VS Code has no setting for a pre-registered OAuth client: when it asks, enter client ID {} (scopes: {})",
                client.client_id,
                client.scopes.join(" ")
            ));
        }
    }
    let mut fragment = fragment("servers", setup, entry);
    fragment.inputs = inputs;
    Rendered {
        fragment,
        command: None,
        notes,
    }
}

fn claude_code(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = Object::new()
        .with("type", "http")
        .with("url", setup.url.clone());
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert(
                "headers",
                auth_header(format!("Bearer {}", token.expose())).into(),
            );
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            if let Some(var) = &setup.token_env {
                entry.insert("headers", auth_header(format!("Bearer ${{{var}}}")).into());
                notes.push(format!(
                    "Claude Code expands ${{{var}}} from its environment: export {var} before starting it"
                ));
            } else {
                let helper = setup
                    .token_command_text(&["--format", "headers-json"])
                    .unwrap_or_default();
                entry.insert("headersHelper", helper.into());
                notes.push(
                    "Claude Code runs the headersHelper on every connection, so the token stays fresh".into(),
                );
            }
        }
        ClientAuth::OAuth(client) => {
            let mut oauth = Object::new()
                .with("clientId", client.client_id.clone())
                .with("scopes", client.scopes.join(" "));
            if let Some(port) = client.callback_port {
                oauth.insert("callbackPort", port.into());
            }
            entry.insert("oauth", oauth.into());
            let port = client
                .callback_port
                .map_or_else(|| "PORT".to_owned(), |p| p.to_string());
            notes.push(format!(
                "Claude Code logs in with client {} itself (`/mcp` in a session); its redirect URI is http://localhost:{port}/callback",
                client.client_id
            ));
        }
    }
    // The same through Claude Code's own CLI (it writes ~/.claude.json, or .mcp.json with
    // --scope project).
    let compact = serde_json::to_string(&Json::Object(entry.clone())).unwrap_or_default();
    notes.push(format!(
        "or let Claude Code add it: claude mcp add-json {} {}",
        quote(&setup.name),
        quote(&compact)
    ));
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        notes,
    }
}

/// mcp-remote's arguments after `npx -y mcp-remote <url>` for an OAuth client.
fn mcp_remote_oauth_args(client: &OAuthClient) -> Vec<String> {
    let info = serde_json::json!({ "client_id": client.client_id }).to_string();
    let mut args = Vec::new();
    // mcp-remote takes its callback port as the argument after the URL.
    if let Some(port) = client.callback_port {
        args.push(port.to_string());
    }
    args.extend(["--static-oauth-client-info".to_owned(), info]);
    if !client.scopes.is_empty() {
        let metadata = serde_json::json!({ "scope": client.scopes.join(" ") }).to_string();
        args.extend(["--static-oauth-client-metadata".to_owned(), metadata]);
    }
    if client.entra {
        args.push("--disable-resource-parameter".to_owned());
    }
    args
}

/// The stdio entry that runs mcp-remote (Claude Desktop, or any `mcpServers` file).
fn mcp_remote_entry(setup: &Setup, notes: &mut Vec<String>) -> Object {
    let header_arg = "Authorization:${AUTH_HEADER}";
    let base = || {
        MCP_REMOTE
            .iter()
            .map(|s| Json::from(*s))
            .chain([Json::from(setup.url.clone())])
            .collect::<Vec<_>>()
    };
    match &setup.auth {
        ClientAuth::None => Object::new().with("command", "npx").with("args", base()),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            let mut args = base();
            args.extend(["--header".into(), header_arg.into()]);
            Object::new()
                .with("command", "npx")
                .with("args", args)
                .with(
                    "env",
                    Object::new().with("AUTH_HEADER", format!("Bearer {}", token.expose())),
                )
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            // The client cannot run a command for a header, so a shell does: the token goes
            // into mcp-remote's environment (not its arguments), and mcp-remote expands
            // ${AUTH_HEADER} itself.
            let command = setup.token_command_text(&[]).unwrap_or_default();
            let script = format!(
                "token=$({command}) || exit 1; export AUTH_HEADER=\"Bearer $token\"; exec npx -y mcp-remote {} --header {}",
                quote(&setup.url),
                quote(header_arg)
            );
            notes.push(
                "the entry runs /bin/sh, which gets a fresh token each time the client starts the server (macOS and Linux; on Windows use --embed-token or a client with HTTP support)".into(),
            );
            Object::new()
                .with("command", "/bin/sh")
                .with("args", vec![Json::from("-c"), Json::from(script)])
        }
        ClientAuth::OAuth(client) => {
            let mut args = base();
            args.extend(mcp_remote_oauth_args(client).into_iter().map(Json::from));
            let port = client
                .callback_port
                .map_or_else(|| "<port>".to_owned(), |p| p.to_string());
            notes.push(format!(
                "mcp-remote logs in with client {} itself; register its redirect URI http://localhost:{port}/oauth/callback",
                client.client_id
            ));
            Object::new().with("command", "npx").with("args", args)
        }
    }
}

fn claude_desktop(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = mcp_remote_entry(setup, &mut notes);
    notes.push("restart Claude Desktop to load the server".into());
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        notes,
    }
}

fn mcp_remote(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = mcp_remote_entry(setup, &mut notes);
    let mut line = CommandLine::new(["npx"].into_iter().chain(MCP_REMOTE)).arg(setup.url.clone());
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            line = line
                .env(
                    "AUTH_HEADER",
                    Word::lit(format!("Bearer {}", token.expose())),
                )
                .arg("--header")
                .arg("Authorization:${AUTH_HEADER}");
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let command = setup.token_command_text(&[]).unwrap_or_default();
            line = line
                .env(
                    "AUTH_HEADER",
                    Word::Shell(format!("\"Bearer $({command})\"")),
                )
                .arg("--header")
                .arg("Authorization:${AUTH_HEADER}");
        }
        ClientAuth::OAuth(client) => {
            for arg in mcp_remote_oauth_args(client) {
                line = line.arg(arg);
            }
        }
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: Some(line),
        notes,
    }
}

fn inspector(setup: &Setup, written: Option<&Path>) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = Object::new()
        .with("type", "http")
        .with("url", setup.url.clone());
    let mut line = CommandLine::new(["npx", INSPECTOR, "--cli"]);
    line = match written {
        Some(path) => line
            .arg("--config")
            .arg(path.display().to_string())
            .arg("--server")
            .arg(setup.name.clone()),
        None => line.arg(setup.url.clone()).arg("--transport").arg("http"),
    };
    line = line.arg("--method").arg("tools/list");
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            let value = format!("Bearer {}", token.expose());
            entry.insert("headers", auth_header(value.clone()).into());
            if written.is_none() {
                line = line.arg("--header").arg(format!("Authorization: {value}"));
            }
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let command = setup.token_command_text(&[]).unwrap_or_default();
            line = line
                .arg("--header")
                .shell_arg(format!("\"Authorization: Bearer $({command})\""));
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "oauth",
                Object::new()
                    .with("clientId", client.client_id.clone())
                    .with("scopes", client.scopes.join(" "))
                    .into(),
            );
            if written.is_none() {
                line = line.arg("--client-id").arg(client.client_id.clone());
            }
            let callback = format!(
                "http://127.0.0.1:{}/oauth/callback",
                client.callback_port.unwrap_or(6276)
            );
            if client.callback_port.is_some() {
                line = line.arg("--callback-url").arg(callback.clone());
            }
            notes.push(format!(
                "the Inspector logs in with client {} on {callback}; register that redirect URI",
                client.client_id
            ));
        }
    }
    if setup.embedded().is_none() && matches!(setup.auth, ClientAuth::Bearer(_)) {
        notes.push("the token is fetched when the command runs; it is never stored".into());
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: Some(line),
        notes,
    }
}

fn auth_header(value: String) -> Object {
    Object::new().with("Authorization", value)
}

fn string_array(items: &[String]) -> Json {
    Json::Array(items.iter().map(|s| Json::from(s.clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::split;

    const URL: &str = "https://kubernetes-mcp-server-mcp-server.apps.example.com/mcp";

    fn setup(auth: ClientAuth) -> Setup {
        Setup {
            name: "kubernetes-mcp-server".into(),
            url: URL.into(),
            auth,
            token_env: None,
        }
    }

    fn command() -> ClientAuth {
        ClientAuth::Bearer(TokenSource::Command(vec![
            "kubectl".into(),
            "mcp-client".into(),
            "token".into(),
        ]))
    }

    fn oauth() -> ClientAuth {
        ClientAuth::OAuth(OAuthClient {
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
            entra: true,
            callback_port: Some(33418),
        })
    }

    fn doc(kind: ClientKind, auth: ClientAuth) -> serde_json::Value {
        let rendered = render(kind, &setup(auth), None);
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
        let v: serde_json::Value = serde_json::from_str(
            &render(ClientKind::Vscode, &s, None)
                .fragment
                .document()
                .to_pretty("  "),
        )
        .expect("json");
        assert_eq!(
            v["servers"]["kubernetes-mcp-server"]["headers"]["Authorization"],
            "Bearer ${env:KUBE_MCP}"
        );
        assert!(v.get("inputs").is_none());
        let v: serde_json::Value = serde_json::from_str(
            &render(ClientKind::ClaudeCode, &s, None)
                .fragment
                .document()
                .to_pretty("  "),
        )
        .expect("json");
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
        let words = split(&inspector.render()).expect("split");
        assert_eq!(&words[..4], ["npx", INSPECTOR, "--cli", URL]);
        assert!(words.contains(&"--method".to_owned()));
        assert!(words.contains(&"Authorization: Bearer $(kubectl mcp-client token)".to_owned()));

        let remote = render(ClientKind::McpRemote, &setup(command()), None)
            .command
            .expect("command");
        let line = remote.render();
        assert!(
            line.starts_with(
                "AUTH_HEADER=\"Bearer $(kubectl mcp-client token)\" npx -y mcp-remote"
            )
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
                let text = r.fragment.document().to_pretty("  ");
                assert!(!text.contains("sha256~"), "{kind:?}: {text}");
            }
            let secret = ClientAuth::Bearer(TokenSource::Embedded(Secret::new("sha256~embedded")));
            let r = render(*kind, &setup(secret), None);
            let text = r.fragment.document().to_pretty("  ");
            assert!(
                text.contains("sha256~embedded"),
                "{kind:?} embeds on request"
            );
        }
    }
}
