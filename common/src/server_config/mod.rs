//! The kubernetes-mcp-server `config.toml`: a typed model and a linter.
//!
//! - [`ServerConfig`]: every key of the server's `StaticConfig` with its TOML name and type
//!   (`port` is a string), rendered with [`ServerConfig::to_toml_string`].
//! - [`ParsedConfig`]: reads a main file and its `--config-dir` drop-ins like the server does,
//!   keeping unknown and mistyped keys as findings instead of dropping them.
//! - [`lint`] / [`ParsedConfig::lint`]: the server's startup refusals, version support, and the
//!   deployment mistakes that leave a server unsafe, as [`Finding`]s.
//! - [`AuthMode`] and the constructors [`ServerConfig::openshift`], [`ServerConfig::entra`],
//!   [`ServerConfig::oidc`], [`ServerConfig::without_auth`].
//!
//! Facts come from the server's source and documentation and were checked against the real v0.0.67
//! binary where the tests say so (`tests/server_config_real_server.rs`). Where the binary and the
//! doc disagree the binary wins: v0.0.67 replaced the flat `sts_*` / `token_exchange_strategy`
//! keys by a `[token_exchange]` table (and refuses to start when it sees the old keys), and
//! added `metrics_port`.

mod finding;
mod lint;
mod mode;
mod model;
mod parse;
mod schema;
mod version;

pub use finding::{Finding, Rule, Severity, has_errors};
pub use lint::{
    CLIENT_AUTH_METHODS, CLUSTER_PROVIDER_STRATEGIES, Exposure, KNOWN_TOOLSETS, LintContext,
    MAX_SAFE_LOG_LEVEL, STS_AUTH_STYLES, TOKEN_EXCHANGE_STRATEGIES, lint,
};
pub use mode::{
    AuthMode, DEFAULT_PORT, DEFAULT_TOOLSETS, MissingOidcSettings, OidcSettings,
    TokenExchangeSettings, UnknownAuthMode, entra_issuer,
};
pub use model::{
    ConfirmationRule, DeniedResource, HttpSettings, Prompt, PromptArgument, PromptMessage,
    ServerConfig, TelemetrySettings, TokenExchange, TokenExchangeClientAuth, ToolOverride,
    auth_method_for_style, legacy_replacement,
};
pub use parse::{
    ConfigText, DEFAULT_CONFIG_DIR, Layer, LoadError, ParsedConfig, SyntaxError, drop_in_order,
    is_read_as_drop_in, merge_into, resolve_config_dir,
};
pub use version::{Feature, ServerVersion, VersionParseError};

#[cfg(test)]
mod tests;
