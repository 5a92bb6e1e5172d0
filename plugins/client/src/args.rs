//! The flags of `config`, `token` and `logout`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use oc_mcp_common::{defaults, kube_args::parse_request_timeout, server_config::AuthMode};

use crate::{
    clients::ClientKind,
    oauth::{cache::CACHE_DIR_ENV, flow::TokenKind},
};

/// Which deployment, and in which auth mode.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// The Helm release of the server (its Ingress, Route and ConfigMap carry this name)
    #[arg(long, value_name = "NAME", default_value = defaults::RELEASE)]
    pub release: String,

    /// The server's auth mode: openshift, entra, oidc or none. Default: read from its
    /// ConfigMap (openshift when it cannot be read)
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub auth: Option<AuthMode>,
}

impl ServerArgs {
    pub fn is_default_release(&self) -> bool {
        self.release == defaults::RELEASE
    }
}

fn parse_mode(text: &str) -> Result<AuthMode, String> {
    text.parse()
        .map_err(|e: oc_mcp_common::server_config::UnknownAuthMode| e.to_string())
}

/// How to log in when the kubeconfig token is not the answer.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Login")]
pub struct LoginArgs {
    /// The OIDC issuer to log in to (entra/oidc mode). Default: the server's authorization_url
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,

    /// The OAuth client ID. Default: the app registered by `oc mcp-oauth register entra`
    /// (ConfigMap mcp-oauth-settings), else the server's oauth_audience when it is a client ID
    /// (entra mode; in oidc mode it is the endpoint's URL)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// A scope to ask for; repeat or separate with commas. Default: the server's oauth_scopes
    /// or the registration's, plus offline_access (for a refresh token)
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,

    /// The audience the server checks (its oauth_audience): decides which returned token is
    /// printed. Default: from the server's ConfigMap
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// Log in through the cluster's OpenShift OAuth server with this OAuthClient (openshift
    /// mode; `oc mcp-oauth register openshift`) instead of using the kubeconfig token. The
    /// token is scoped to the read-only role: user:info, user:check-access and
    /// role:mcp-readonly:* (another role: --scope user:info,user:check-access,role:NAME:*)
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        default_missing_value = defaults::OAUTH_CLIENT,
        conflicts_with = "issuer"
    )]
    pub oauth_client: Option<String>,

    /// Read the OAuth client's secret from this environment variable (confidential clients
    /// only; public clients use PKCE alone)
    #[arg(long, value_name = "VAR", conflicts_with = "client_secret_file")]
    pub client_secret_env: Option<String>,

    /// Read the OAuth client's secret from this file
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,

    /// Which token to print when the issuer returns both an access and an ID token
    #[arg(long, value_enum, value_name = "KIND", default_value_t = TokenKind::Auto)]
    pub token_kind: TokenKind,

    /// PEM certificates to trust for the issuer or OAuth server, besides the system roots
    /// and the cluster's CA
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Where cached tokens live (default: the user's cache directory, e.g. ~/.cache/oc-mcp)
    #[arg(long, value_name = "DIR", env = CACHE_DIR_ENV, hide_env_values = true)]
    pub cache_dir: Option<PathBuf>,

    /// Print the login URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,

    /// Where the login redirect listener binds: a loopback address (port 0 picks a free port)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    pub listen_address: SocketAddr,

    /// How long to wait for the browser login (e.g. 90s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_timeout)]
    pub login_timeout: Duration,
}

impl LoginArgs {
    /// Whether the user chose something about the login (as opposed to the cluster's say).
    pub fn selects_login(&self) -> bool {
        self.issuer.is_some() || self.client_id.is_some() || self.oauth_client.is_some()
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    // 0 waits "forever": a year is forever enough and keeps timers from overflowing.
    parse_request_timeout(text).map(|t| t.0.unwrap_or(Duration::from_secs(365 * 24 * 3600)))
}

/// What `token` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormat {
    /// The token alone: `export MCP_TOKEN="$(oc mcp-client token)"`
    Token,
    /// `Authorization: Bearer <token>` (`... | curl -H @- URL`: no token on curl's argv)
    Header,
    /// `{"Authorization": "Bearer <token>"}` (Claude Code's headersHelper)
    HeadersJson,
    /// An MCP Inspector `--config` document for --url with the token in its headers, to pipe
    /// into `--config /dev/stdin` (the Inspector reads no header from its environment)
    InspectorConfig,
}

/// `token`
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// What to print
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = TokenFormat::Token)]
    pub format: TokenFormat,

    /// The server's MCP endpoint (required by --format inspector-config). When the server's
    /// ConfigMap cannot be read (a member's role may not allow it, or no cluster answers),
    /// the endpoint is asked what it publishes without a token: auth mode, issuer, audience
    /// and scopes
    #[arg(long, value_name = "URL", required_if_eq("format", "inspector-config"))]
    pub url: Option<String>,

    /// With --format inspector-config: the server's name in the document (default: the
    /// release name)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Never start a browser login: use the cache or a refresh, or fail with exit code 3
    #[arg(long)]
    pub stored_only: bool,

    /// Log in again even when the cached token is still good
    #[arg(long, conflicts_with = "stored_only")]
    pub relogin: bool,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub login: LoginArgs,
}

/// `logout`
#[derive(Debug, Clone, Args)]
pub struct LogoutArgs {
    /// Remove every cached token, not only the one for this server's login
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub login: LoginArgs,
}

/// How a client that can log in itself gets its token in entra/oidc mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginVia {
    /// The client runs the OAuth login itself with the registered client ID and scopes
    Client,
    /// The client sends a header with a token from `oc mcp-client token`
    Token,
}

/// `config`
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The MCP client to configure
    #[arg(long = "for", value_enum, value_name = "CLIENT")]
    pub client: ClientKind,

    /// Merge the server into the client's file instead of printing it (default: the client's
    /// usual file); other servers stay as they are and the old file is kept as a backup
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    #[allow(clippy::option_option)]
    pub write: Option<Option<PathBuf>>,

    /// The server's MCP endpoint. Default: https://<route host>/mcp from the cluster
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// The server's name in the client's list (default: the release name)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// In entra/oidc mode, how the client gets its token
    #[arg(long, value_enum, value_name = "HOW", default_value_t = LoginVia::Client)]
    pub login: LoginVia,

    /// Take the token from this environment variable (the default MCP_TOKEN for Cursor,
    /// Windsurf, Cline, Gemini CLI, Codex CLI and OpenCode; VS Code and Claude Code then use it
    /// instead of a prompt or a helper command, Continue a secret instead of mcp-remote)
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,

    /// The command that prints a token (default: this plugin's `token`, with your
    /// --kubeconfig, --context and login flags)
    #[arg(long, value_name = "COMMAND")]
    pub token_command: Option<String>,

    /// Write the current token itself into the configuration (it stops working when the
    /// token expires, and anyone who can read the file can use it)
    #[arg(long)]
    pub embed_token: bool,

    /// A fixed port for the client's own OAuth redirect (Claude Code's callbackPort,
    /// mcp-remote's port argument, the Inspector's --callback-url)
    #[arg(long, value_name = "PORT")]
    pub callback_port: Option<u16>,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub login_args: LoginArgs,
}
