//! The typed `config.toml`, with the server's TOML names.
//!
//! Every key is an `Option`: `None` means "not in the file", so rendering writes only what was
//! set, and the linter can tell "absent" (server default) from "set to the default value".
//! Field order is the render order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The server's `config.toml`: every key of upstream `StaticConfig` (HEAD) plus `sse_base_url`
/// (v0.0.66 and older).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// klog verbosity 0-9 (an integer, not a level name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<i64>,
    /// Log destination; `"stderr"` is special.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// HTTP port, a **string** (`"8080"`). Absent means stdio mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Listen address; the server defaults to `0.0.0.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_address: Option<String>,
    /// Separate port for `/metrics`, `/stats`, `/healthz`, a string (v0.0.67+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<String>,
    /// SSE base URL: only v0.0.66 and older (removed with the SSE transport).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_base_url: Option<String>,
    /// Path of the kubeconfig the server uses for itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// `table` or `yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_output: Option<String>,
    /// Streamable HTTP stateless mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stateless: Option<bool>,
    /// Expose only tools annotated `readOnlyHint=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Hide tools annotated `destructiveHint=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_destructive: Option<bool>,
    /// Enabled toolsets; the server defaults to `["core", "config"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolsets: Option<Vec<String>>,
    /// Tool allow-list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_tools: Option<Vec<String>>,
    /// Tool deny-list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_tools: Option<Vec<String>>,

    /// Require a Bearer token on `/mcp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_oauth: Option<bool>,
    /// Expected `aud` of incoming JWTs (also the go-oidc client ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_audience: Option<String>,
    /// OIDC issuer URL; must equal the issuer's `iss` byte for byte. Discovery runs at startup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// With no `authorization_url`: forward tokens without validating them (v0.0.63+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_jwt_verification: Option<bool>,
    /// Strip `registration_endpoint` from the proxied authorization-server metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_dynamic_client_registration: Option<bool>,
    /// `scopes_supported` advertised in the well-known metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_scopes: Option<Vec<String>>,
    /// Token-exchange client ID (v0.0.66 and older; v0.0.67 uses `token_exchange.client_auth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_client_id: Option<String>,
    /// Token-exchange client secret (v0.0.66 and older). Belongs in a Secret drop-in, never in
    /// the ConfigMap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_client_secret: Option<String>,
    /// Token-exchange audience; non-empty turns token exchange on (v0.0.66 and older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_audience: Option<String>,
    /// Token-exchange scopes (v0.0.66 and older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_scopes: Option<Vec<String>>,
    /// `rfc8693`, `keycloak-v1` or `entra-obo` (v0.0.66 and older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_exchange_strategy: Option<String>,
    /// `params` (default), `header`, `assertion` or `federated` (v0.0.66 and older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_auth_style: Option<String>,
    /// Client certificate for `sts_auth_style="assertion"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_client_cert_file: Option<String>,
    /// Client key (RSA) for `sts_auth_style="assertion"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_client_key_file: Option<String>,
    /// Federated JWT file for `sts_auth_style="federated"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts_federated_token_file: Option<String>,
    /// `passthrough` (the default when empty) or `kubeconfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_auth_mode: Option<String>,
    /// CA bundle for calls to the IdP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// Public URL used in the generated protected-resource metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Honour `X-Forwarded-*` and `X-Real-IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_proxy_headers: Option<bool>,

    /// Serve HTTPS with this certificate (needs `tls_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    /// Serve HTTPS with this key (needs `tls_cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Refuse plain HTTP, inbound and outbound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    /// `1.2` (default) or `1.3` (also `1.0`, `1.1`, `VersionTLS1x`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_min_version: Option<String>,
    /// Go cipher-suite names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher_suites: Option<Vec<String>>,

    /// `kubeconfig`, `in-cluster`, `kcp` or `disabled`; auto-detected when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_provider_strategy: Option<String>,
    /// Text returned in `initialize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_instructions: Option<String>,
    /// Schema check and SelfSubjectAccessReview before each tool call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_enabled: Option<bool>,
    /// Hide tools the target cluster cannot serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental_enable_target_compatibility_tool_filters: Option<bool>,
    /// `allow` (default) or `deny`, when the client cannot do elicitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_fallback: Option<String>,

    /// Resources no tool may touch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_resources: Option<Vec<DeniedResource>>,
    /// Custom MCP prompts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<Prompt>>,
    /// Rules asking the user before an action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_rules: Option<Vec<ConfirmationRule>>,
    /// `[tool_overrides.<tool>]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_overrides: Option<BTreeMap<String, ToolOverride>>,
    /// `[http]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
    /// `[telemetry]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<TelemetrySettings>,
    /// `[token_exchange]` (v0.0.67+; replaces the flat `sts_*` keys, which v0.0.67 refuses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchange>,
    /// `[cluster_provider_configs.<strategy>]`, parsed by each provider; kept as raw tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_provider_configs: Option<BTreeMap<String, toml::Table>>,
    /// `[toolset_configs.<toolset>]`, parsed by each toolset; kept as raw tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolset_configs: Option<BTreeMap<String, toml::Table>>,
}

/// One `[[denied_resources]]` entry; an empty `kind` denies the whole group/version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedResource {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// `[tool_overrides.<tool>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One `[[prompts]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    #[serde(default)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Vec<PromptArgument>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<PromptMessage>>,
}

/// `[[prompts.arguments]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptArgument {
    #[serde(default)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// `[[prompts.messages]]`: a message template with `{{arg}}` placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptMessage {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub content: String,
}

/// One `[[confirmation_rules]]` entry: tool-level (`tool`, `destructive`) or kube-level
/// (`verb`, `kind`, `group`, `version`, `name`, `namespace`), never both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ConfirmationRule {
    fn has(field: Option<&String>) -> bool {
        field.is_some_and(|v| !v.is_empty())
    }

    /// Targets MCP tool calls.
    pub fn is_tool_level(&self) -> bool {
        Self::has(self.tool.as_ref()) || self.destructive.is_some()
    }

    /// Targets Kubernetes API requests.
    pub fn is_kube_level(&self) -> bool {
        [
            &self.verb,
            &self.kind,
            &self.group,
            &self.version,
            &self.name,
            &self.namespace,
        ]
        .into_iter()
        .any(|f| Self::has(f.as_ref()))
    }
}

/// `[token_exchange]` (v0.0.67+): exchange the user's token at the issuer's token endpoint
/// before it goes to the cluster. Its presence turns exchange on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExchange {
    /// `rfc8693`, `keycloak-v1` or `entra-obo`; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<TokenExchangeClientAuth>,
}

/// `[token_exchange.client_auth]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExchangeClientAuth {
    /// `client_secret_post`, `client_secret_basic`, `private_key_jwt` or `jwt_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Belongs in a Secret drop-in, never in the ConfigMap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

/// `[http]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// Go duration string, e.g. `"10s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_header_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<i64>,
    /// Requests per second per MCP session; 0 turns rate limiting off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_burst: Option<i64>,
}

/// `[telemetry]` (OpenTelemetry; `OTEL_*` variables win).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetrySettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_sampler: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_sampler_arg: Option<f64>,
}

fn move_if_set(from: &mut Option<String>, to: &mut Option<String>) {
    if let Some(value) = from.take() {
        *to = Some(value);
    }
}

/// Where v0.0.67 wants a removed flat token-exchange key (its own error message's mapping).
pub fn legacy_replacement(key: &str) -> Option<&'static str> {
    Some(match key {
        "token_exchange_strategy" => "token_exchange.strategy",
        "sts_audience" => "token_exchange.audience",
        "sts_scopes" => "token_exchange.scopes",
        "sts_subject_token_type" => "token_exchange.subject_token_type",
        "sts_requested_token_type" => "token_exchange.requested_token_type",
        "sts_client_id" => "token_exchange.client_auth.client_id",
        "sts_client_secret" => "token_exchange.client_auth.client_secret",
        "sts_auth_style" => "token_exchange.client_auth.method",
        "sts_client_cert_file" => "token_exchange.client_auth.certificate_file",
        "sts_client_key_file" => "token_exchange.client_auth.private_key_file",
        "sts_federated_token_file" => "token_exchange.client_auth.token_file",
        _ => return None,
    })
}

/// The v0.0.67 `client_auth.method` for a v0.0.66 `sts_auth_style`.
pub fn auth_method_for_style(style: &str) -> Option<&'static str> {
    Some(match style.trim() {
        "params" | "" => "client_secret_post",
        "header" => "client_secret_basic",
        "assertion" => "private_key_jwt",
        "federated" => "jwt_file",
        _ => return None,
    })
}

/// The value of a string key when it is set to something other than `""`; the server treats
/// `""` exactly like an absent key.
pub(crate) fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|v| !v.is_empty())
}

impl ServerConfig {
    /// `require_oauth`, with the server's default (false).
    pub fn requires_oauth(&self) -> bool {
        self.require_oauth.unwrap_or(false)
    }

    /// `cluster_auth_mode` as the server resolves it: empty means `passthrough`.
    pub fn effective_cluster_auth_mode(&self) -> &str {
        non_empty(self.cluster_auth_mode.as_ref()).unwrap_or("passthrough")
    }

    /// Whether token exchange is configured in the flat keys of v0.0.66 and older
    /// (`token_exchange_strategy` or `sts_audience` set, the server's own definition).
    pub fn has_legacy_token_exchange(&self) -> bool {
        non_empty(self.token_exchange_strategy.as_ref()).is_some()
            || non_empty(self.sts_audience.as_ref()).is_some()
    }

    /// The flat token-exchange keys that are set, with where v0.0.67 wants each one.
    pub fn legacy_token_exchange_keys(&self) -> Vec<(&'static str, &'static str)> {
        let set = |v: Option<&String>| non_empty(v).is_some();
        [
            (
                "token_exchange_strategy",
                set(self.token_exchange_strategy.as_ref()),
            ),
            ("sts_audience", set(self.sts_audience.as_ref())),
            ("sts_scopes", self.sts_scopes.is_some()),
            ("sts_client_id", set(self.sts_client_id.as_ref())),
            ("sts_client_secret", set(self.sts_client_secret.as_ref())),
            ("sts_auth_style", set(self.sts_auth_style.as_ref())),
            (
                "sts_client_cert_file",
                set(self.sts_client_cert_file.as_ref()),
            ),
            (
                "sts_client_key_file",
                set(self.sts_client_key_file.as_ref()),
            ),
            (
                "sts_federated_token_file",
                set(self.sts_federated_token_file.as_ref()),
            ),
        ]
        .into_iter()
        .filter(|(_, is_set)| *is_set)
        .filter_map(|(key, _)| legacy_replacement(key).map(|to| (key, to)))
        .collect()
    }

    /// Move the flat `sts_*` / `token_exchange_strategy` keys into `[token_exchange]`, the form
    /// v0.0.67 reads (and mapping `sts_auth_style` values to `client_auth.method`).
    pub fn migrate_legacy_token_exchange(&mut self) {
        let mut exchange = self.token_exchange.take().unwrap_or_default();
        let mut auth = exchange.client_auth.take().unwrap_or_default();
        move_if_set(&mut self.token_exchange_strategy, &mut exchange.strategy);
        move_if_set(&mut self.sts_audience, &mut exchange.audience);
        if let Some(scopes) = self.sts_scopes.take() {
            exchange.scopes = Some(scopes);
        }
        move_if_set(&mut self.sts_client_id, &mut auth.client_id);
        move_if_set(&mut self.sts_client_secret, &mut auth.client_secret);
        move_if_set(&mut self.sts_client_cert_file, &mut auth.certificate_file);
        move_if_set(&mut self.sts_client_key_file, &mut auth.private_key_file);
        move_if_set(&mut self.sts_federated_token_file, &mut auth.token_file);
        if let Some(style) = self.sts_auth_style.take() {
            auth.method = Some(auth_method_for_style(&style).unwrap_or(&style).to_owned());
        }
        if auth != TokenExchangeClientAuth::default() {
            exchange.client_auth = Some(auth);
        }
        if exchange != TokenExchange::default() {
            self.token_exchange = Some(exchange);
        }
    }

    /// Render as TOML the server reads: only the keys that are set, in a fixed order.
    pub fn to_toml_string(&self) -> String {
        // Serialisation cannot fail: every map key is a string and every value a TOML type.
        toml::to_string(self).expect("a ServerConfig always serialises to TOML")
    }

    /// The config as a raw TOML table (the keys that are set).
    pub fn to_table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("a ServerConfig always converts to a TOML table")
    }
}
