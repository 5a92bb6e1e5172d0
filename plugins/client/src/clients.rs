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
//! - MCP Inspector: the `--cli` command line (`--client-id`), or a catalog file for
//!   `--config FILE --server NAME`. It has no way to read a header from the environment, so
//!   a bearer token reaches it as a `--config` document on its standard input
//!   (`oc mcp-client token --format inspector-config | npx ... --config /dev/stdin`).
//! - mcp-remote: its command line (`--header 'Authorization:${AUTH_HEADER}'` with the value in
//!   the environment, `--static-oauth-client-info`), or the same stdio entry for any client's
//!   `mcpServers` file.
//!
//! Nothing here ever puts a token into a file unless the caller embeds one on purpose, and no
//! command line carries a token as an argument (any user of the machine can read those): it
//! goes through the environment, a pipe, or a helper the client runs.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use oc_mcp_common::kube_args::Secret;
use serde::Serialize;

use crate::{
    jsonfile::{Fragment, Json, Object},
    shell::{CommandLine, Stdin, Word, quote},
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
    /// A command that prints the token on stdout (`oc mcp-client token ...`).
    Command(TokenCommand),
    /// The token itself (`--embed-token`).
    Embedded(Secret),
}

/// A command that prints a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCommand {
    pub argv: Vec<String>,
    /// This plugin's `token`, which also prints the other formats (`--format`); a
    /// `--token-command` of the user's prints the bare token only.
    pub plugin: bool,
}

impl TokenCommand {
    /// This plugin's `token` command.
    pub fn plugin(argv: Vec<String>) -> Self {
        Self { argv, plugin: true }
    }
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
            ClientAuth::Bearer(TokenSource::Command(command)) => Some(
                command
                    .argv
                    .iter()
                    .map(String::as_str)
                    .chain(extra.iter().copied())
                    .map(quote)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }

    /// A shell command printing what this plugin's `token` prints with `plugin_args`; for a
    /// command of the user's, which prints the bare token, `sed` wraps its output in
    /// `prefix`...`suffix` (the token stays in pipes, off every argv).
    fn wrapped_token_command(&self, plugin_args: &[&str], prefix: &str, suffix: &str) -> String {
        match &self.auth {
            ClientAuth::Bearer(TokenSource::Command(command)) if !command.plugin => {
                let plain = self.token_command_text(&[]).unwrap_or_default();
                format!("{plain} | sed {}", quote(&sed_wrap(prefix, suffix)))
            }
            _ => self.token_command_text(plugin_args).unwrap_or_default(),
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
                let helper = setup.wrapped_token_command(
                    &["--format", "headers-json"],
                    "{\"Authorization\":\"Bearer ",
                    "\"}",
                );
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
    // --scope project); not with an embedded token, which would be on that command's argv.
    if setup.embedded().is_none() {
        let compact = serde_json::to_string(&Json::Object(entry.clone())).unwrap_or_default();
        notes.push(format!(
            "or let Claude Code add it: claude mcp add-json {} {}",
            quote(&setup.name),
            quote(&compact)
        ));
    }
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
    let cli = CommandLine::new(["npx", INSPECTOR, "--cli"]);
    let from_file = |line: CommandLine, path: &Path| {
        line.arg("--config")
            .arg(path.display().to_string())
            .arg("--server")
            .arg(setup.name.clone())
    };
    let by_url = |line: CommandLine| line.arg(setup.url.clone()).arg("--transport").arg("http");
    let line = match &setup.auth {
        ClientAuth::None => match written {
            Some(path) => from_file(cli, path),
            None => by_url(cli),
        },
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert(
                "headers",
                auth_header(format!("Bearer {}", token.expose())).into(),
            );
            match written {
                Some(path) => from_file(cli, path),
                // The document (token included) on standard input, not in an argument.
                None => from_stdin(cli, setup).stdin(Stdin::HereDoc(
                    fragment("mcpServers", setup, entry.clone())
                        .document()
                        .to_pretty("  "),
                )),
            }
        }
        ClientAuth::Bearer(TokenSource::Command(command)) => {
            // The Inspector reads headers only from its arguments or its --config file: the
            // token command prints a whole --config document into a pipe.
            let producer = inspector_token_pipe(setup, command, &entry);
            if written.is_some() {
                notes.push(
                    "the written catalog has no token (for the web UI, which asks for one); the command line reads its configuration, token included, from the pipe".into(),
                );
            }
            notes.push("the token is fetched when the command runs; it is never stored and never an argument".into());
            from_stdin(cli, setup).stdin(producer)
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "oauth",
                Object::new()
                    .with("clientId", client.client_id.clone())
                    .with("scopes", client.scopes.join(" "))
                    .into(),
            );
            let mut line = match written {
                Some(path) => from_file(cli, path),
                None => by_url(cli).arg("--client-id").arg(client.client_id.clone()),
            };
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
            line
        }
    };
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: Some(line.arg("--method").arg("tools/list")),
        notes,
    }
}

/// The Inspector's standard input in openshift mode: a `--config` document with the token,
/// printed by this plugin's `token` or wrapped around the output of the user's command.
fn inspector_token_pipe(setup: &Setup, command: &TokenCommand, entry: &Object) -> Stdin {
    if command.plugin {
        Stdin::Pipe(CommandLine::new(
            command.argv.iter().map(String::as_str).chain([
                "--format",
                "inspector-config",
                "--url",
                &setup.url,
                "--name",
                &setup.name,
            ]),
        ))
    } else {
        let document = serde_json::to_string(
            &fragment(
                "mcpServers",
                setup,
                entry
                    .clone()
                    .with("headers", auth_header(TOKEN_MARK.to_owned())),
            )
            .document(),
        )
        .unwrap_or_default();
        let (prefix, suffix) = document
            .split_once(TOKEN_MARK)
            .unwrap_or((document.as_str(), ""));
        Stdin::ShellPipe(setup.wrapped_token_command(&[], &format!("{prefix}Bearer "), suffix))
    }
}

/// Stands for the token in a document split around it.
const TOKEN_MARK: &str = "@@OC_MCP_TOKEN@@";

/// `--config /dev/stdin`: the Inspector reads its configuration from its standard input.
fn from_stdin(line: CommandLine, setup: &Setup) -> CommandLine {
    line.arg("--config")
        .arg("/dev/stdin")
        .arg("--server")
        .arg(setup.name.clone())
}

/// A `sed` script that puts `prefix` before and `suffix` after each line.
fn sed_wrap(prefix: &str, suffix: &str) -> String {
    let escape = |text: &str| {
        text.replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace('&', "\\&")
    };
    format!("s|^|{}|; s|$|{}|", escape(prefix), escape(suffix))
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
        ClientAuth::Bearer(TokenSource::Command(TokenCommand::plugin(vec![
            "kubectl".into(),
            "mcp-client".into(),
            "token".into(),
        ])))
    }

    /// A `--token-command` of the user's: prints the bare token.
    fn custom_command() -> ClientAuth {
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

    /// One simple command of a shell script: its assignments (`VAR=...`, `export VAR=...`)
    /// and the words that become a program's argv, each as written (quotes kept).
    #[derive(Debug, Default)]
    struct Simple {
        assignments: Vec<String>,
        words: Vec<String>,
    }

    fn is_assignment(word: &str) -> bool {
        word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        })
    }

    /// Split a script into simple commands at unquoted `|`, `;`, `&` and newlines; the
    /// commands inside `$(...)` are returned too. A quoted here-document's body is input, not
    /// words: it is skipped.
    fn simple_commands(script: &str) -> Vec<Simple> {
        let script = without_heredoc_bodies(script);
        let chars: Vec<char> = script.chars().collect();
        let mut out = Vec::new();
        let mut current = Simple::default();
        let mut word = String::new();
        let mut i = 0;
        let finish_word = |word: &mut String, current: &mut Simple| {
            if word.is_empty() {
                return;
            }
            let w = std::mem::take(word);
            let exported = current.words.first().is_some_and(|f| f == "export");
            if (current.words.is_empty() || exported) && is_assignment(&w) {
                current.assignments.push(w);
            } else {
                current.words.push(w);
            }
        };
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\'' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&ch| ch == '\'')
                        .map_or(chars.len() - 1, |p| i + 1 + p);
                    word.extend(&chars[i..=end]);
                    i = end + 1;
                }
                '"' | '`' | '$' => {
                    // Keep the text up to the closing quote or parenthesis; what a
                    // substitution runs is scanned as commands of its own.
                    let (start, close) = match c {
                        '"' => (i + 1, '"'),
                        '`' => (i + 1, '`'),
                        _ if chars.get(i + 1) == Some(&'(') => (i + 2, ')'),
                        _ => {
                            word.push(c);
                            i += 1;
                            continue;
                        }
                    };
                    let mut depth = 1;
                    let mut j = start;
                    while j < chars.len() {
                        if close == ')' && chars[j] == '(' {
                            depth += 1;
                        } else if chars[j] == close {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        j += 1;
                    }
                    let j = j.min(chars.len() - 1);
                    let inner: String = chars[start..j].iter().collect();
                    if c == '"' {
                        if let Some(p) = inner.find("$(") {
                            out.extend(simple_commands(inner[p + 2..].trim_end_matches(')')));
                        }
                    } else {
                        out.extend(simple_commands(&inner));
                    }
                    word.extend(&chars[i..=j]);
                    i = j + 1;
                }
                '|' | ';' | '&' | '\n' => {
                    finish_word(&mut word, &mut current);
                    out.push(std::mem::take(&mut current));
                    i += 1;
                }
                c if c.is_whitespace() => {
                    finish_word(&mut word, &mut current);
                    i += 1;
                }
                c => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        finish_word(&mut word, &mut current);
        out.push(current);
        out.retain(|s| !s.words.is_empty() || !s.assignments.is_empty());
        out
    }

    /// The script with each `<<'END'` redirection and its body removed: the body is input.
    fn without_heredoc_bodies(script: &str) -> String {
        let mut out = String::new();
        let mut end: Option<String> = None;
        for line in script.split_inclusive('\n') {
            if let Some(delimiter) = &end {
                if line.trim_end() == delimiter {
                    end = None;
                }
                continue;
            }
            match line.split_once("<<") {
                Some((before, after)) => {
                    let delimiter: String = after
                        .trim_start()
                        .chars()
                        .take_while(|ch| !ch.is_whitespace())
                        .collect();
                    end = Some(delimiter.trim_matches('\'').to_owned());
                    out.push_str(before);
                    out.push('\n');
                }
                None => out.push_str(line),
            }
        }
        out
    }

    /// What a scan found: a word of some program's argv with a token or a substitution.
    fn argv_leaks(script: &str, token: &str) -> Vec<String> {
        simple_commands(script)
            .into_iter()
            .flat_map(|s| s.words)
            .filter(|w| w.contains(token) || w.contains("$(") || w.contains('`'))
            .collect()
    }

    #[test]
    fn the_scanner_sees_through_quotes_pipes_and_substitutions() {
        let token = "sha256~secret";
        assert!(argv_leaks(r#"X="Bearer $(tok)" npx a --h 'A:${X}'"#, token).is_empty());
        assert!(
            argv_leaks(
                "token=$(tok) || exit 1; export A=\"Bearer $token\"; exec npx a",
                token
            )
            .is_empty()
        );
        assert!(!argv_leaks(r#"npx a --header "Authorization: Bearer $(tok)""#, token).is_empty());
        assert!(
            !argv_leaks(
                "npx a --header 'Authorization: Bearer sha256~secret'",
                token
            )
            .is_empty()
        );
        assert!(!argv_leaks("tok | npx a `tok`", token).is_empty());
        assert!(!argv_leaks("x $(echo sha256~secret)", token).is_empty());
        assert!(argv_leaks("tok | npx a --config /dev/stdin", token).is_empty());
        assert!(
            argv_leaks("npx a <<'END'\n{\"t\":\"sha256~secret\"}\nEND", token).is_empty(),
            "a here-document is input"
        );
        assert!(!argv_leaks("npx a <<'END'\nx\nEND\nnpx sha256~secret", token).is_empty());
    }

    /// Every place a client configuration turns into a program's argv: the printed command
    /// line, the entry's `command`/`args` (through `/bin/sh -c` scripts), a `headersHelper`,
    /// and the `claude mcp add-json` line of the notes.
    fn argv_texts(rendered: &Rendered) -> Vec<String> {
        let mut texts = Vec::new();
        if let Some(line) = &rendered.command {
            texts.push(line.render());
        }
        let doc = rendered.fragment.document().to_value();
        let servers = doc
            .get(rendered.fragment.servers_key)
            .and_then(serde_json::Value::as_object)
            .expect("servers");
        for entry in servers.values() {
            let args: Vec<String> = entry["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(command) = entry["command"].as_str() {
                if command == "/bin/sh" && args.first().is_some_and(|a| a == "-c") {
                    texts.push(args[1..].join(" "));
                } else {
                    texts.push(
                        std::iter::once(command.to_owned())
                            .chain(args.iter().map(|a| quote(a)))
                            .collect::<Vec<_>>()
                            .join(" "),
                    );
                }
            }
            if let Some(helper) = entry["headersHelper"].as_str() {
                texts.push(helper.to_owned());
            }
        }
        for note in &rendered.notes {
            if let Some(line) = note.strip_prefix("or let Claude Code add it: ") {
                texts.push(line.to_owned());
            }
        }
        texts
    }

    #[test]
    fn no_token_and_no_token_command_on_any_argv_of_any_client_and_mode() {
        let token = "sha256~EMBEDDEDtokenVALUE";
        let embedded = ClientAuth::Bearer(TokenSource::Embedded(Secret::new(token)));
        let mut oauth_no_port = oauth();
        if let ClientAuth::OAuth(client) = &mut oauth_no_port {
            client.callback_port = None;
            client.entra = false;
        }
        let catalog = Path::new("/home/u/.mcp-inspector/mcp.json");
        let mut scanned = 0;
        for kind in ClientKind::value_variants() {
            for auth in [
                ClientAuth::None,
                command(),
                custom_command(),
                oauth(),
                oauth_no_port.clone(),
                embedded.clone(),
            ] {
                for token_env in [None, Some("KUBE_MCP".to_owned())] {
                    for written in [None, Some(catalog)] {
                        let mut s = setup(auth.clone());
                        s.token_env = token_env.clone();
                        let rendered = render(*kind, &s, written);
                        let texts = argv_texts(&rendered);
                        for text in &texts {
                            let leaks = argv_leaks(text, token);
                            assert!(
                                leaks.is_empty(),
                                "{kind:?} {auth:?} written={written:?}: {leaks:?} in\n{text}"
                            );
                            scanned += 1;
                        }
                        // The scan must see the programs: each client has a command or file.
                        if matches!(kind, ClientKind::Inspector | ClientKind::McpRemote) {
                            assert!(rendered.command.is_some(), "{kind:?}");
                        }
                    }
                }
            }
        }
        assert!(scanned > 100, "scanned {scanned} command lines");
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
}
