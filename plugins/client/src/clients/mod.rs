//! Each MCP client's own configuration format for the deployed server: the shared model
//! here, one module per client or family of clients (each names the documentation it
//! follows), and the file format each is written in.
//!
//! - `editors`: Cursor, VS Code, Claude Code (JSON, HTTP with headers or their own OAuth).
//! - `remote`: mcp-remote, and the clients that run it as a stdio server (Claude Desktop,
//!   JetBrains AI Assistant).
//! - `inspector`: the MCP Inspector's command line and catalog.
//! - `windsurf`, `zed`, `cline`, `gemini`, `opencode`: JSON files of their own shape.
//! - `codex` (TOML, `crate::tomlfile`), `goose` and `continue_dev` (YAML, `crate::yamlfile`).
//!
//! Nothing here ever puts a token into a file unless the caller embeds one on purpose, and no
//! command line carries a token as an argument (any user of the machine can read those): it
//! goes through the environment, a pipe, or a helper the client runs. A client that can read
//! neither a header from the environment nor run a helper gets the mcp-remote stdio entry,
//! which fetches a fresh token into mcp-remote's environment each time it starts.

mod cline;
mod codex;
mod continue_dev;
mod editors;
mod gemini;
mod goose;
mod inspector;
mod opencode;
mod paths;
mod remote;
mod windsurf;
mod zed;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use oc_mcp_common::{Result, kube_args::Secret};
use serde::Serialize;

use crate::{
    jsonfile::{self, Fragment, Json, Merged, Object},
    shell::{CommandLine, quote},
    tomlfile, yamlfile,
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
    /// Windsurf (`~/.codeium/windsurf/mcp_config.json`)
    Windsurf,
    /// Zed (`~/.config/zed/settings.json`, `context_servers`)
    Zed,
    /// Cline (`~/.cline/data/settings/cline_mcp_settings.json`)
    Cline,
    /// Continue (`.continue/mcpServers/<name>.yaml`, a block of its own)
    Continue,
    /// Goose (`~/.config/goose/config.yaml`, `extensions`)
    Goose,
    /// Gemini CLI (`~/.gemini/settings.json`)
    Gemini,
    /// Codex CLI (`~/.codex/config.toml`, `[mcp_servers.<name>]`)
    Codex,
    /// OpenCode (`opencode.json`, `mcp`)
    Opencode,
    /// JetBrains AI Assistant (JSON to paste in its MCP settings, through mcp-remote)
    Jetbrains,
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
            Self::Windsurf => "windsurf",
            Self::Zed => "zed",
            Self::Cline => "cline",
            Self::Continue => "continue",
            Self::Goose => "goose",
            Self::Gemini => "gemini",
            Self::Codex => "codex",
            Self::Opencode => "opencode",
            Self::Jetbrains => "jetbrains",
        }
    }

    /// Where `--write` without a path writes: the project files of the editors, the per-user
    /// files of the others, the Inspector's default catalog. mcp-remote and JetBrains AI
    /// Assistant (configured in the IDE's settings) have none; Continue's file is named after
    /// the server (`name`).
    pub fn default_path(self, home: Option<&Path>, name: &str) -> Option<PathBuf> {
        paths::default_path(self, home, name)
    }

    /// Clients started from the desktop, with little of the shell's PATH: their token
    /// command names this binary by its absolute path.
    pub const fn starts_from_desktop(self) -> bool {
        matches!(self, Self::ClaudeDesktop | Self::Jetbrains | Self::Zed)
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
    /// instead of its default mechanism.
    pub token_env: Option<String>,
}

/// The default environment variable for the token (the guide's `MCP_TOKEN`).
pub const DEFAULT_TOKEN_ENV: &str = "MCP_TOKEN";

const MCP_REMOTE: [&str; 2] = ["-y", "mcp-remote"];
const INSPECTOR: &str = "@modelcontextprotocol/inspector";

/// The format of the client's file, and so how `--write` merges into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// JSON (with comments where the client allows them): one entry under `servers_key`.
    Json,
    /// Codex CLI's `config.toml`: one `[mcp_servers.<name>]` table.
    CodexToml,
    /// Goose's `config.yaml`: one entry under `extensions`.
    GooseYaml,
    /// A Continue block file of its own, written whole.
    ContinueYaml,
}

/// What `config --for` produces.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The server's entry (a document with the one server), for every client but the
    /// command-line ones without `--write`.
    pub fragment: Fragment,
    /// How the fragment becomes the client's file.
    pub format: FileFormat,
    /// The command line (Inspector and mcp-remote), given the file the fragment went to.
    pub command: Option<CommandLine>,
    /// What the user has to do next (on stderr).
    pub notes: Vec<String>,
}

impl Rendered {
    fn json(fragment: Fragment, notes: Vec<String>) -> Self {
        Self {
            fragment,
            format: FileFormat::Json,
            command: None,
            notes,
        }
    }

    /// The whole document in the client's shape (`-o json` and `-o yaml` print it).
    pub fn document(&self) -> Json {
        match self.format {
            FileFormat::ContinueYaml => yamlfile::continue_document(&self.fragment),
            _ => self.fragment.document(),
        }
    }

    /// The file as the client reads it (printed without `-o`).
    pub fn file_text(&self) -> Result<String> {
        match self.format {
            FileFormat::Json => Ok(self.fragment.document().to_pretty("  ")),
            FileFormat::CodexToml => {
                tomlfile::merge(None, &self.fragment, Path::new("config.toml")).map(|m| m.text)
            }
            FileFormat::GooseYaml => yamlfile::render(&self.fragment.document()),
            FileFormat::ContinueYaml => yamlfile::continue_file(&self.fragment),
        }
    }

    /// Merge the entry into `existing` (the file's text, if there is a file) in the file's
    /// own format; everything else in the file stays as it was.
    pub fn merge(&self, existing: Option<&str>, path: &Path) -> Result<Merged> {
        match self.format {
            FileFormat::Json => jsonfile::merge(existing, &self.fragment, path),
            FileFormat::CodexToml => tomlfile::merge(existing, &self.fragment, path),
            FileFormat::GooseYaml => yamlfile::merge(existing, &self.fragment, path),
            FileFormat::ContinueYaml => yamlfile::replace_owned(existing, &self.fragment, path),
        }
    }
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

    /// The note for clients that read the token from an environment variable.
    fn export_note(&self, client: &str) -> String {
        let var = self.env_name();
        format!(
            "{client} reads the token from ${var}: run `export {var}=\"$({})\"` and start {client} from that shell (again when the token expires)",
            self.token_command_text(&[]).unwrap_or_default()
        )
    }
}

/// Render the configuration of `kind` for `setup`. `written` is the file the fragment is
/// written to, when it is (the Inspector's command line then points at it).
pub fn render(kind: ClientKind, setup: &Setup, written: Option<&Path>) -> Rendered {
    match kind {
        ClientKind::Cursor => editors::cursor(setup),
        ClientKind::Vscode => editors::vscode(setup),
        ClientKind::ClaudeCode => editors::claude_code(setup),
        ClientKind::ClaudeDesktop => remote::claude_desktop(setup),
        ClientKind::Inspector => inspector::inspector(setup, written),
        ClientKind::McpRemote => remote::mcp_remote(setup),
        ClientKind::Windsurf => windsurf::render(setup),
        ClientKind::Zed => zed::render(setup),
        ClientKind::Cline => cline::render(setup),
        ClientKind::Continue => continue_dev::render(setup),
        ClientKind::Goose => goose::render(setup),
        ClientKind::Gemini => gemini::render(setup),
        ClientKind::Codex => codex::render(setup),
        ClientKind::Opencode => opencode::render(setup),
        ClientKind::Jetbrains => remote::jetbrains(setup),
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

/// For clients that log in with their own OAuth code: Entra ID refuses the RFC 8707
/// `resource` parameter that MCP clients may send, and these clients have no setting to
/// leave it out (mcp-remote has).
fn entra_note(client: &OAuthClient, who: &str) -> Option<String> {
    client.entra.then(|| {
        format!(
            "if Entra ID refuses {who}'s login with AADSTS9010010 (the resource parameter), use --for mcp-remote, which leaves it out"
        )
    })
}

/// The `Authorization` header with the embedded token, for clients that send headers.
fn embedded_header(token: &Secret) -> Json {
    auth_header(format!("Bearer {}", token.expose())).into()
}

/// How a client's header value names an environment variable.
#[derive(Debug, Clone, Copy)]
enum EnvRef {
    /// `${env:VAR}` (VS Code, Cursor, Windsurf, Cline)
    Editor,
    /// `${VAR}` (Claude Code, Gemini CLI)
    Shell,
    /// `{env:VAR}` (OpenCode)
    OpenCode,
}

impl EnvRef {
    fn bearer(self, var: &str) -> Json {
        let value = match self {
            Self::Editor => format!("Bearer ${{env:{var}}}"),
            Self::Shell => format!("Bearer ${{{var}}}"),
            Self::OpenCode => format!("Bearer {{env:{var}}}"),
        };
        auth_header(value).into()
    }
}

/// An HTTP entry: `fields` as they are, then `headers_key` with the bearer header: the
/// embedded token, or for a token from a command the variable [`Setup::env_name`] in the
/// client's `env` syntax (with `env` `None` the caller says how a command's token gets there).
fn http_entry(setup: &Setup, fields: Object, headers_key: &str, env: Option<EnvRef>) -> Object {
    match (&setup.auth, env) {
        (ClientAuth::Bearer(TokenSource::Embedded(token)), _) => {
            fields.with(headers_key, embedded_header(token))
        }
        (ClientAuth::Bearer(TokenSource::Command(_)), Some(env)) => {
            fields.with(headers_key, env.bearer(setup.env_name()))
        }
        _ => fields,
    }
}
