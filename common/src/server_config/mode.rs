//! The four authentication modes (openshift, entra, oidc, none) and the exact config each one
//! needs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::model::{ServerConfig, TokenExchange, TokenExchangeClientAuth, non_empty};
use super::version::{Feature, ServerVersion};

/// The toolsets used when the caller gives none (the server's own default).
pub const DEFAULT_TOOLSETS: &[&str] = &["core", "config"];
/// The HTTP port every mode listens on (the chart's and the downstream image's default).
pub const DEFAULT_PORT: &str = "8080";

/// How clients authenticate and whose identity reaches the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Opaque OpenShift tokens passed through to the API server (the default on OpenShift).
    OpenShift,
    /// Entra ID JWTs validated against `login.microsoftonline.com/<tenant>/v2.0`.
    Entra,
    /// JWTs from any OIDC issuer (Keycloak, Dex, ...).
    Oidc,
    /// No token required: internal deployments only.
    None,
}

impl AuthMode {
    pub const ALL: [Self; 4] = [Self::OpenShift, Self::Entra, Self::Oidc, Self::None];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenShift => "openshift",
            Self::Entra => "entra",
            Self::Oidc => "oidc",
            Self::None => "none",
        }
    }

    /// The oldest server release the mode works with: token passthrough (openshift) needs
    /// v0.0.63; the issuer modes need `cluster_auth_mode` (v0.0.61).
    pub const fn minimum_server_version(self) -> Option<ServerVersion> {
        match self {
            Self::OpenShift => Some(Feature::OpaqueTokenPassthrough.since()),
            Self::Entra | Self::Oidc => Some(Feature::AuthModeKeys.since()),
            Self::None => None,
        }
    }

    /// Whether the mode demands a token on `/mcp`.
    pub const fn requires_token(self) -> bool {
        !matches!(self, Self::None)
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name other than openshift, entra, oidc or none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown auth mode {0:?}: use openshift, entra, oidc or none")]
pub struct UnknownAuthMode(pub String);

impl FromStr for AuthMode {
    type Err = UnknownAuthMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAuthMode(s.to_owned()))
    }
}

/// The Entra ID v2.0 issuer of a tenant, exactly as it appears in v2 tokens' `iss`.
pub fn entra_issuer(tenant_id: &str) -> String {
    format!(
        "https://login.microsoftonline.com/{}/v2.0",
        tenant_id.trim()
    )
}

/// What the `entra` and `oidc` modes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL, exactly as the issuer's `iss` (becomes `authorization_url`).
    pub issuer: String,
    /// The client ID tokens must be issued for (becomes `oauth_audience`).
    pub audience: String,
    /// Scopes advertised to clients (becomes `oauth_scopes`; omitted when empty).
    pub scopes: Vec<String>,
    /// The public route host; gives `server_url = "https://<host>"` unless `server_url` is set.
    pub route_host: Option<String>,
    /// `server_url` itself: the `resource` the protected-resource metadata publishes, e.g. the
    /// MCP endpoint `https://<host>/mcp`.
    pub server_url: Option<String>,
}

impl OidcSettings {
    /// Any OIDC issuer.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            scopes: Vec::new(),
            route_host: None,
            server_url: None,
        }
    }

    /// Entra ID: the tenant's v2.0 issuer, the app's client ID as audience, and the scopes the
    /// server's Entra ID set-up guide names (`openid`, `profile`, `email`).
    pub fn entra(tenant_id: &str, client_id: impl Into<String>) -> Self {
        Self {
            scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
            ..Self::new(entra_issuer(tenant_id), client_id)
        }
    }

    #[must_use]
    pub fn with_scopes<S: AsRef<str>>(mut self, scopes: &[S]) -> Self {
        self.scopes = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    #[must_use]
    pub fn with_route_host(mut self, host: impl Into<String>) -> Self {
        self.route_host = Some(host.into());
        self
    }
}

impl ServerConfig {
    /// What every mode shares: HTTP on 8080, read-only, no destructive tools, the toolsets.
    fn base<S: AsRef<str>>(toolsets: &[S]) -> Self {
        let toolsets: Vec<String> = if toolsets.is_empty() {
            DEFAULT_TOOLSETS.iter().map(|t| (*t).to_owned()).collect()
        } else {
            toolsets.iter().map(|t| t.as_ref().to_owned()).collect()
        };
        Self {
            port: Some(DEFAULT_PORT.to_owned()),
            read_only: Some(true),
            disable_destructive: Some(true),
            toolsets: Some(toolsets),
            ..Self::default()
        }
    }

    /// Mode `openshift`: require a token, do not parse it, pass it to the API server
    /// (`skip_jwt_verification`, no `authorization_url`, `cluster_auth_mode="passthrough"`).
    /// Empty `toolsets` means `["core", "config"]`.
    pub fn openshift<S: AsRef<str>>(toolsets: &[S]) -> Self {
        Self {
            require_oauth: Some(true),
            skip_jwt_verification: Some(true),
            cluster_auth_mode: Some("passthrough".to_owned()),
            ..Self::base(toolsets)
        }
    }

    /// Modes `entra` and `oidc`: validate JWTs against `settings.issuer` and pass them to the
    /// API server. Empty `toolsets` means `["core", "config"]`.
    pub fn oidc<S: AsRef<str>>(settings: &OidcSettings, toolsets: &[S]) -> Self {
        let scopes = (!settings.scopes.is_empty()).then(|| settings.scopes.clone());
        Self {
            require_oauth: Some(true),
            authorization_url: Some(settings.issuer.clone()),
            oauth_audience: Some(settings.audience.clone()),
            oauth_scopes: scopes,
            cluster_auth_mode: Some("passthrough".to_owned()),
            server_url: settings.server_url.clone().or_else(|| {
                settings
                    .route_host
                    .as_deref()
                    .map(|host| format!("https://{host}"))
            }),
            ..Self::base(toolsets)
        }
    }

    /// Mode `entra`: [`ServerConfig::oidc`] with [`OidcSettings::entra`].
    pub fn entra<S: AsRef<str>>(
        tenant_id: &str,
        client_id: &str,
        route_host: Option<&str>,
        toolsets: &[S],
    ) -> Self {
        let mut settings = OidcSettings::entra(tenant_id, client_id);
        settings.route_host = route_host.map(str::to_owned);
        Self::oidc(&settings, toolsets)
    }

    /// Mode `none`: no token required (internal deployments only). Tools run as whoever the
    /// client's token says, or as the pod's service account when there is none.
    pub fn without_auth<S: AsRef<str>>(toolsets: &[S]) -> Self {
        Self {
            require_oauth: Some(false),
            ..Self::base(toolsets)
        }
    }

    /// The config for `mode`. `oidc` is required for `entra` and `oidc` and ignored otherwise.
    pub fn for_mode<S: AsRef<str>>(
        mode: AuthMode,
        oidc: Option<&OidcSettings>,
        toolsets: &[S],
    ) -> Result<Self, MissingOidcSettings> {
        Ok(match mode {
            AuthMode::OpenShift => Self::openshift(toolsets),
            AuthMode::Entra | AuthMode::Oidc => {
                Self::oidc(oidc.ok_or(MissingOidcSettings(mode))?, toolsets)
            }
            AuthMode::None => Self::without_auth(toolsets),
        })
    }

    /// Which mode this config is in: no `require_oauth` is `none`, no issuer is `openshift`,
    /// an Entra issuer is `entra`, any other issuer `oidc`.
    pub fn auth_mode(&self) -> AuthMode {
        if !self.requires_oauth() {
            return AuthMode::None;
        }
        match non_empty(self.authorization_url.as_ref()) {
            None => AuthMode::OpenShift,
            Some(url) if url.starts_with("https://login.microsoftonline.com/") => AuthMode::Entra,
            Some(_) => AuthMode::Oidc,
        }
    }
}

/// Token exchange for the issuer modes (optional; `entra-obo` for Entra). The client
/// secret is not here on purpose: it goes to a Secret drop-in
/// ([`ServerConfig::client_secret_drop_in`]), never into the ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchangeSettings {
    /// `entra-obo`, `rfc8693` or `keycloak-v1`.
    pub strategy: String,
    pub audience: Option<String>,
    pub scopes: Vec<String>,
    pub client_id: String,
    /// v0.0.67 `client_auth.method`: `client_secret_post` (the flat keys' default `params`),
    /// `client_secret_basic`, `private_key_jwt` or `jwt_file`.
    pub method: String,
}

impl TokenExchangeSettings {
    /// Entra on-behalf-of with a client secret, asking for `scopes` of the downstream API.
    pub fn entra_obo<S: AsRef<str>>(client_id: impl Into<String>, scopes: &[S]) -> Self {
        Self {
            strategy: "entra-obo".to_owned(),
            audience: None,
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            client_id: client_id.into(),
            method: "client_secret_post".to_owned(),
        }
    }
}

/// The v0.0.66 `sts_auth_style` for a v0.0.67 `client_auth.method`.
fn style_for_method(method: &str) -> &str {
    match method {
        "client_secret_post" => "params",
        "client_secret_basic" => "header",
        "private_key_jwt" => "assertion",
        "jwt_file" => "federated",
        other => other,
    }
}

impl ServerConfig {
    /// Add token exchange in the form `version` reads: `[token_exchange]` from v0.0.67, the flat
    /// `token_exchange_strategy` / `sts_*` keys before.
    #[must_use]
    pub fn with_token_exchange(
        mut self,
        settings: &TokenExchangeSettings,
        version: ServerVersion,
    ) -> Self {
        let scopes = (!settings.scopes.is_empty()).then(|| settings.scopes.clone());
        if version.supports(Feature::TokenExchangeTable) {
            self.token_exchange = Some(TokenExchange {
                strategy: Some(settings.strategy.clone()),
                audience: settings.audience.clone(),
                scopes,
                client_auth: Some(TokenExchangeClientAuth {
                    method: Some(settings.method.clone()),
                    client_id: Some(settings.client_id.clone()),
                    ..TokenExchangeClientAuth::default()
                }),
                ..TokenExchange::default()
            });
        } else {
            self.token_exchange_strategy = Some(settings.strategy.clone());
            self.sts_audience.clone_from(&settings.audience);
            self.sts_scopes = scopes;
            self.sts_client_id = Some(settings.client_id.clone());
            self.sts_auth_style = Some(style_for_method(&settings.method).to_owned());
        }
        self
    }

    /// The drop-in holding only the token-exchange client secret, at the key `version` reads
    /// (`[token_exchange.client_auth] client_secret` from v0.0.67, `sts_client_secret` before).
    /// Mount it from a Secret into `--config-dir`; it merges into the main file's table.
    pub fn client_secret_drop_in(secret: &str, version: ServerVersion) -> Self {
        if version.supports(Feature::TokenExchangeTable) {
            Self {
                token_exchange: Some(TokenExchange {
                    client_auth: Some(TokenExchangeClientAuth {
                        client_secret: Some(secret.to_owned()),
                        ..TokenExchangeClientAuth::default()
                    }),
                    ..TokenExchange::default()
                }),
                ..Self::default()
            }
        } else {
            Self {
                sts_client_secret: Some(secret.to_owned()),
                ..Self::default()
            }
        }
    }
}

/// `entra` or `oidc` was asked for without issuer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("auth mode {0} needs an issuer and a client ID (audience)")]
pub struct MissingOidcSettings(pub AuthMode);
