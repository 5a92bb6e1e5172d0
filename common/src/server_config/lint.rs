//! The linter: the server's own startup refusals, what each version supports, and the
//! deployment mistakes that start a server which is not safe.

use super::finding::{Finding, Rule, Severity};
use super::model::{ServerConfig, TokenExchange, auth_method_for_style, non_empty};
use super::version::{Feature, ServerVersion};

/// Toolsets registered in v0.0.67 (its `--help`).
pub const KNOWN_TOOLSETS: &[&str] = &[
    "config",
    "core",
    "helm",
    "kcp",
    "kiali",
    "kubevirt",
    "netobserv",
    "tekton",
];
/// `cluster_provider_strategy` values of v0.0.67.
pub const CLUSTER_PROVIDER_STRATEGIES: &[&str] = &["disabled", "in-cluster", "kcp", "kubeconfig"];
/// `token_exchange_strategy` values.
pub const TOKEN_EXCHANGE_STRATEGIES: &[&str] = &["rfc8693", "keycloak-v1", "entra-obo"];
/// `token_exchange.client_auth.method` values (v0.0.67+).
pub const CLIENT_AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "jwt_file",
];
/// `sts_auth_style` values (v0.0.66 and older).
pub const STS_AUTH_STYLES: &[&str] = &["params", "header", "assertion", "federated"];
const TLS_VERSIONS: &[&str] = &[
    "1.0",
    "1.1",
    "1.2",
    "1.3",
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];
const ENTRA_HOST: &str = "login.microsoftonline.com";

/// How the server is reached, as far as the caller knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Exposure {
    /// Not known (linting a file on its own).
    #[default]
    Unknown,
    /// No route; reached through port-forward or from inside the cluster.
    Internal,
    /// A public Route (or Ingress) with this host, TLS terminated at the router.
    PublicRoute { host: String },
}

/// What the linter needs to know beyond the file itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintContext {
    /// The server release that will read the config (`Latest` when unknown).
    pub server_version: ServerVersion,
    /// The main file is stored in a ConfigMap, readable by anyone who can read ConfigMaps in
    /// the namespace, so it must hold no secret.
    pub main_file_in_configmap: bool,
    /// How the server is reached.
    pub exposure: Exposure,
}

impl LintContext {
    /// A context for `server_version`, exposure unknown, not a ConfigMap.
    pub fn new(server_version: ServerVersion) -> Self {
        Self {
            server_version,
            ..Self::default()
        }
    }

    /// The main file is a ConfigMap.
    #[must_use]
    pub fn in_configmap(mut self) -> Self {
        self.main_file_in_configmap = true;
        self
    }

    /// The server is behind a public route with `host`.
    #[must_use]
    pub fn public_route(mut self, host: impl Into<String>) -> Self {
        self.exposure = Exposure::PublicRoute { host: host.into() };
        self
    }

    /// The server has no route.
    #[must_use]
    pub fn internal(mut self) -> Self {
        self.exposure = Exposure::Internal;
        self
    }
}

/// Lint a typed config. When `context.main_file_in_configmap`, the whole config is taken to be
/// the ConfigMap's file, so any secret in it is an error. To lint a main file plus drop-ins,
/// or to see unknown keys and type mismatches, parse with
/// [`ParsedConfig`](super::ParsedConfig) and call its `lint`.
pub fn lint(config: &ServerConfig, context: &LintContext) -> Vec<Finding> {
    let mut out = lint_effective(config, context);
    if context.main_file_in_configmap {
        out.extend(secret_findings(
            &config.to_table(),
            "the ConfigMap's config.toml",
        ));
    }
    out
}

/// Every rule that looks at the effective (merged) config; secrets are checked per file.
pub(crate) fn lint_effective(c: &ServerConfig, ctx: &LintContext) -> Vec<Finding> {
    let mut out = Vec::new();
    startup_values(c, ctx, &mut out);
    startup_oauth(c, &mut out);
    startup_tls(c, &mut out);
    startup_metrics_port(c, ctx, &mut out);
    startup_cluster_auth(c, ctx, &mut out);
    if ctx.server_version.supports(Feature::TokenExchangeTable) {
        removed_token_exchange_keys(c, &mut out);
    } else {
        startup_token_exchange(c, &mut out);
        token_exchange_completeness(c, &mut out);
    }
    token_exchange_table(c, ctx, &mut out);
    startup_confirmation_and_http(c, &mut out);
    version_support(c, ctx, &mut out);
    issuer_url(c, &mut out);
    no_effect(c, ctx, &mut out);
    tool_restrictions(c, ctx, &mut out);
    exposure(c, ctx, &mut out);
    out
}

fn s(value: Option<&String>) -> Option<&str> {
    non_empty(value)
}

fn quoted_list(values: &[&str]) -> String {
    values.join(", ")
}

/// 1.3 rule 1 plus values the server cannot use (port, log level).
fn startup_values(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    if let Some(list_output) = &c.list_output
        && list_output != "table"
        && list_output != "yaml"
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("list_output"),
            format!(
                "list_output = {list_output:?}: the server refuses to start (\"invalid output name\")"
            ),
            "use list_output = \"table\" or \"yaml\"",
        ));
    }
    // The toolset and provider lists grow with releases: only certain for known versions.
    let newer = ctx.server_version.is_newer_than_tested();
    let severity = if newer {
        Severity::Warning
    } else {
        Severity::Error
    };
    for toolset in c.toolsets.iter().flatten() {
        if !KNOWN_TOOLSETS.contains(&toolset.as_str()) {
            let consequence = if newer {
                "v0.0.67 has no such toolset; if this server does not either, it refuses to start"
            } else {
                "the server refuses to start (\"invalid toolset name\")"
            };
            out.push(Finding::new(
                severity,
                Rule::StartupRefused,
                Some("toolsets"),
                format!("unknown toolset {toolset:?}: {consequence}"),
                format!("use toolsets from: {}", quoted_list(KNOWN_TOOLSETS)),
            ));
        }
    }
    if let Some(strategy) = s(c.cluster_provider_strategy.as_ref())
        && !CLUSTER_PROVIDER_STRATEGIES.contains(&strategy)
    {
        let consequence = if newer {
            "v0.0.67 refuses to start with it (the downstream server adds acm and acm-kubeconfig)"
        } else {
            "the server refuses to start (\"invalid cluster-provider\")"
        };
        out.push(Finding::new(
            severity,
            Rule::StartupRefused,
            Some("cluster_provider_strategy"),
            format!("cluster_provider_strategy = {strategy:?}: {consequence}"),
            format!(
                "use one of {} or leave it out to auto-detect",
                quoted_list(CLUSTER_PROVIDER_STRATEGIES)
            ),
        ));
    }
    match s(c.port.as_ref()) {
        None => out.push(Finding::warning(
            Rule::NoPort,
            Some("port"),
            "no port: unless --port is on the command line the server speaks stdio, forces \
             require_oauth to false, and refuses the OAuth keys",
            "set port = \"8080\"",
        )),
        Some(port) if port.parse::<u16>().map_or(true, |p| p == 0) => {
            out.push(Finding::error(
                Rule::InvalidValue,
                Some("port"),
                format!(
                    "port = {port:?} is not a port number: the server passes it to Go, which \
                     reads service names (\"http\" is 80) or fails to listen, and the Service's \
                     target port will not match"
                ),
                "set port to a number between 1 and 65535, as a string: port = \"8080\"",
            ));
        }
        Some(_) => {}
    }
    if let Some(level) = c.log_level {
        log_level(level, out);
    }
}

/// The highest `log_level` whose log holds no cluster data and no request headers.
///
/// The server logs MCP requests and tool results (what a tool read from the cluster: pod
/// logs, ConfigMaps, events) from 6, request headers from 7, and client-go logs API request
/// URLs from 6, headers from 7 and response bodies (Secrets included) from 8. Level 5 logs
/// tool names and (sanitised) arguments only; anyone who reads the pod's log must not learn
/// more than that.
pub const MAX_SAFE_LOG_LEVEL: i64 = 5;

fn log_level(level: i64, out: &mut Vec<Finding>) {
    if level < 0 {
        out.push(Finding::warning(
            Rule::InvalidValue,
            Some("log_level"),
            format!("log_level = {level} is below the klog verbosity range 0-9"),
            "use a log_level between 0 and 5 (2 logs why tokens are rejected)",
        ));
    } else if level > MAX_SAFE_LOG_LEVEL {
        let what = match level {
            6 => {
                "every MCP request and tool result (what tools read from the cluster) and every API request URL"
            }
            7 => {
                "every MCP request, tool result and request header, and every API request with its headers"
            }
            _ => {
                "every MCP request, tool result and request header, and the bodies of the API server's answers (Secrets included)"
            }
        };
        out.push(Finding::error(
            Rule::SensitiveLogging,
            Some("log_level"),
            format!(
                "log_level = {level}: the server logs {what}; anyone who can read the pod's log \
                 (`pods/log`) reads them"
            ),
            format!(
                "use a log_level of at most {MAX_SAFE_LOG_LEVEL} (2 logs why tokens are rejected)"
            ),
        ));
    }
}

/// 1.3 rules 2-4.
fn startup_oauth(c: &ServerConfig, out: &mut Vec<Finding>) {
    if !c.requires_oauth() {
        let oauth_only: Vec<&str> = [
            ("oauth_audience", &c.oauth_audience),
            ("authorization_url", &c.authorization_url),
            ("server_url", &c.server_url),
            ("certificate_authority", &c.certificate_authority),
        ]
        .into_iter()
        .filter(|(_, v)| s(v.as_ref()).is_some())
        .map(|(k, _)| k)
        .collect();
        if let Some(first) = oauth_only.first() {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some(first),
                format!(
                    "{} set while require_oauth is not true: the server refuses to start \
                     (\"only valid if require-oauth is enabled\")",
                    oauth_only.join(", ")
                ),
                "set require_oauth = true, or remove these keys",
            ));
        }
    }
    if let Some(url) = s(c.authorization_url.as_ref())
        && http_url(url).is_none()
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("authorization_url"),
            format!(
                "authorization_url = {url:?} is not an http(s) URL: the server refuses to start"
            ),
            "set authorization_url to the issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0",
        ));
    }
    if c.requires_oauth()
        && s(c.authorization_url.as_ref()).is_none()
        && c.skip_jwt_verification != Some(true)
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("require_oauth"),
            "require_oauth = true without authorization_url or skip_jwt_verification: the \
             server refuses to start (JWTs cannot be verified without an issuer)",
            "set authorization_url to an OIDC issuer, or skip_jwt_verification = true to pass \
             OpenShift tokens through to the cluster",
        ));
    }
}

/// 1.3 rule 5, the parts that do not need the pod's filesystem, plus `tls_min_version`.
fn startup_tls(c: &ServerConfig, out: &mut Vec<Finding>) {
    let cert = s(c.tls_cert.as_ref()).is_some_and(|v| !v.trim().is_empty());
    let key = s(c.tls_key.as_ref()).is_some_and(|v| !v.trim().is_empty());
    if cert != key {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some(if cert { "tls_key" } else { "tls_cert" }),
            "only one of tls_cert and tls_key is set: the server refuses to start",
            "set both tls_cert and tls_key, or neither",
        ));
    }
    let port = s(c.port.as_ref()).is_some();
    if cert && !port {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("tls_cert"),
            "tls_cert without port: the server refuses to start unless --port is on the command \
             line (TLS is only for HTTP mode)",
            "set port",
        ));
    }
    if c.require_tls == Some(true) {
        if port && !(cert && key) {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some("require_tls"),
                "require_tls = true without tls_cert and tls_key: the server refuses to start",
                "set tls_cert and tls_key, or drop require_tls (TLS usually ends at the route)",
            ));
        }
        for (name, value) in [
            ("authorization_url", &c.authorization_url),
            ("server_url", &c.server_url),
        ] {
            if let Some(url) = s(value.as_ref())
                && !url.starts_with("https://")
            {
                out.push(Finding::error(
                    Rule::StartupRefused,
                    Some(name),
                    format!(
                        "{name} is not https while require_tls = true: the server refuses to start"
                    ),
                    format!("use an https:// {name}"),
                ));
            }
        }
    }
    if let Some(version) = s(c.tls_min_version.as_ref())
        && !TLS_VERSIONS.contains(&version.trim())
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("tls_min_version"),
            format!(
                "tls_min_version = {version:?} is not a TLS version: the server refuses to start"
            ),
            "use \"1.2\" or \"1.3\"",
        ));
    }
}

/// 1.3 rules 6-9.
fn startup_cluster_auth(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let mode = s(c.cluster_auth_mode.as_ref());
    if let Some(mode) = mode
        && mode != "passthrough"
        && mode != "kubeconfig"
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("cluster_auth_mode"),
            format!("cluster_auth_mode = {mode:?}: the server refuses to start"),
            "use cluster_auth_mode = \"passthrough\" (or \"kubeconfig\" without require_oauth)",
        ));
    }
    let kubeconfig = mode == Some("kubeconfig");
    if kubeconfig && !c.requires_oauth() {
        out.push(Finding::error(
            Rule::SharedIdentity,
            Some("cluster_auth_mode"),
            "cluster_auth_mode = \"kubeconfig\": every user acts on the cluster as the \
             server's own identity (its service account or kubeconfig), not as themselves, so \
             RBAC cannot tell them apart",
            "remove cluster_auth_mode (or set \"passthrough\") so each user's token reaches \
             the cluster",
        ));
    }
    if kubeconfig && c.requires_oauth() {
        let consequence = if ctx
            .server_version
            .supports(Feature::RefusesKubeconfigWithOAuth)
        {
            "the server refuses to start"
        } else {
            "this version starts, but every user acts on the cluster as the pod's service \
             account (v0.0.62 and later refuse this)"
        };
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("cluster_auth_mode"),
            format!(
                "cluster_auth_mode = \"kubeconfig\" with require_oauth = true: {consequence}; \
                 all users would share one cluster identity"
            ),
            "use cluster_auth_mode = \"passthrough\" so each user's token reaches the cluster",
        ));
    }
    // What turns exchange on changed in v0.0.67: the table's presence, before that the flat keys.
    let table = ctx.server_version.supports(Feature::TokenExchangeTable);
    let (exchange, exchange_key) = if table {
        (c.token_exchange.is_some(), "token_exchange")
    } else if s(c.token_exchange_strategy.as_ref()).is_some() {
        (true, "token_exchange_strategy")
    } else {
        (c.has_legacy_token_exchange(), "sts_audience")
    };
    if kubeconfig && exchange {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("cluster_auth_mode"),
            format!(
                "{exchange_key} with cluster_auth_mode = \"kubeconfig\": the server refuses to \
                 start (the exchanged token would be unused)"
            ),
            "use cluster_auth_mode = \"passthrough\", or remove the token-exchange settings",
        ));
    }
    if !c.requires_oauth() && exchange {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some(exchange_key),
            "token exchange without require_oauth = true: the server refuses to start",
            format!("set require_oauth = true, or remove {exchange_key}"),
        ));
    }
}

/// `metrics_port` (v0.0.67+, measured): needs `port`, differs from it, is a port number.
fn startup_metrics_port(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let Some(metrics) = s(c.metrics_port.as_ref()) else {
        return;
    };
    let version = ctx.server_version;
    if !version.supports(Feature::MetricsPort) {
        out.push(Finding::error(
            Rule::VersionSupport,
            Some("metrics_port"),
            format!("metrics_port does not exist in {version}: the server ignores it silently"),
            format!(
                "use server {} or later, or remove metrics_port",
                Feature::MetricsPort.since()
            ),
        ));
        return;
    }
    let problem = match s(c.port.as_ref()) {
        None => Some("needs port (metrics are only served in HTTP mode)"),
        Some(port) if port == metrics => Some("must differ from port"),
        _ if metrics.parse::<u16>().is_err() => Some("is not a port number"),
        _ => None,
    };
    if let Some(problem) = problem {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("metrics_port"),
            format!("metrics_port = {metrics:?} {problem}: the server refuses to start"),
            "set metrics_port to another port than port, as a string (\"9090\"), or remove it",
        ));
    }
}

/// v0.0.67 refuses the flat keys it replaced with `[token_exchange]`.
fn removed_token_exchange_keys(c: &ServerConfig, out: &mut Vec<Finding>) {
    for (key, replacement) in c.legacy_token_exchange_keys() {
        let mut fix = format!("move it to {replacement}");
        if key == "sts_auth_style"
            && let Some(method) = c.sts_auth_style.as_deref().and_then(auth_method_for_style)
        {
            fix = format!("write {replacement} = {method:?}");
        }
        out.push(Finding::error(
            Rule::StartupRefused,
            Some(key),
            format!(
                "{key} was removed in {}: the server refuses to start (\"removed token exchange \
                 configuration keys\")",
                Feature::TokenExchangeTable.since()
            ),
            fix,
        ));
    }
}

/// `[token_exchange]`: ignored before v0.0.67, validated at startup from v0.0.67 (measured).
fn token_exchange_table(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let Some(exchange) = &c.token_exchange else {
        return;
    };
    let version = ctx.server_version;
    if !version.supports(Feature::TokenExchangeTable) {
        out.push(Finding::error(
            Rule::VersionSupport,
            Some("token_exchange"),
            format!(
                "[token_exchange] does not exist in {version}: the server ignores it silently, so \
                 no token is exchanged"
            ),
            format!(
                "use server {} or later, or the flat keys of {version} (token_exchange_strategy, \
                 sts_*)",
                Feature::TokenExchangeTable.since()
            ),
        ));
        return;
    }
    if s(c.authorization_url.as_ref()).is_none() {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("token_exchange"),
            "token exchange without authorization_url: the server refuses to start (it finds \
             the token endpoint through the issuer's discovery)",
            "set authorization_url, or remove [token_exchange]",
        ));
    }
    let strategy = exchange.strategy.as_deref().map_or("", str::trim);
    if !TOKEN_EXCHANGE_STRATEGIES.contains(&strategy) {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("token_exchange.strategy"),
            format!("token_exchange.strategy = {strategy:?}: the server refuses to start"),
            "set token_exchange.strategy to entra-obo, keycloak-v1 or rfc8693",
        ));
    }
    client_auth_rules(exchange, out);
    let has = |v: Option<&String>| v.is_some_and(|x| !x.trim().is_empty());
    let target =
        has(exchange.audience.as_ref()) || exchange.scopes.as_ref().is_some_and(|v| !v.is_empty());
    if !target {
        out.push(Finding::warning(
            Rule::TokenExchangeIncomplete,
            Some("token_exchange"),
            "[token_exchange] without audience or scopes: the exchanged token has no target",
            "set token_exchange.audience or token_exchange.scopes (e.g. \
             [\"api://<downstream>/.default\"] for entra-obo)",
        ));
    }
    let client = exchange
        .client_auth
        .as_ref()
        .is_some_and(|a| has(a.client_id.as_ref()));
    if !client {
        out.push(Finding::warning(
            Rule::TokenExchangeIncomplete,
            Some("token_exchange.client_auth.client_id"),
            "[token_exchange] without client_auth.client_id: the exchange request names no \
             client, which Entra OBO and Keycloak refuse",
            "set token_exchange.client_auth.client_id and method (the secret goes in a Secret \
             drop-in)",
        ));
    }
}

/// `[token_exchange.client_auth]` as v0.0.67 validates it.
fn client_auth_rules(exchange: &TokenExchange, out: &mut Vec<Finding>) {
    let Some(auth) = &exchange.client_auth else {
        return;
    };
    let has = |v: Option<&String>| v.is_some_and(|x| !x.trim().is_empty());
    let method = auth.method.as_deref().map_or("", str::trim);
    let mut refuse = |field: &str, problem: String, fix: String| {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some(&format!("token_exchange.client_auth.{field}")),
            format!("{problem}: the server refuses to start"),
            fix,
        ));
    };
    let credentials = has(auth.client_secret.as_ref())
        || has(auth.certificate_file.as_ref())
        || has(auth.private_key_file.as_ref())
        || has(auth.token_file.as_ref());
    if method.is_empty() {
        // A bare client_id is accepted (a public client); any credential needs a method.
        if credentials {
            refuse(
                "method",
                "client credentials without token_exchange.client_auth.method".to_owned(),
                format!("set method to one of {}", quoted_list(CLIENT_AUTH_METHODS)),
            );
        }
        return;
    }
    if !has(auth.client_id.as_ref()) {
        refuse(
            "client_id",
            format!("client_auth.method = {method:?} without client_id"),
            "set token_exchange.client_auth.client_id".to_owned(),
        );
    }
    let needs: &[(&str, Option<&String>)] = match method {
        "client_secret_basic" | "client_secret_post" => {
            &[("client_secret", auth.client_secret.as_ref())]
        }
        "private_key_jwt" => &[
            ("certificate_file", auth.certificate_file.as_ref()),
            ("private_key_file", auth.private_key_file.as_ref()),
        ],
        "jwt_file" => &[("token_file", auth.token_file.as_ref())],
        other => {
            refuse(
                "method",
                format!("client_auth.method = {other:?}"),
                format!("use one of {}", quoted_list(CLIENT_AUTH_METHODS)),
            );
            return;
        }
    };
    for (field, value) in needs {
        if !has(*value) {
            let fix = if *field == "client_secret" {
                "put client_secret in a Secret drop-in: [token_exchange.client_auth] \
                 client_secret = \"...\" (ServerConfig::client_secret_drop_in)"
                    .to_owned()
            } else {
                format!("set token_exchange.client_auth.{field} to the mounted file")
            };
            refuse(
                field,
                format!("client_auth.method = {method:?} without {field}"),
                fix,
            );
        }
    }
}

/// 1.3 rule 10 (v0.0.66 and older: the flat keys).
fn startup_token_exchange(c: &ServerConfig, out: &mut Vec<Finding>) {
    if let Some(strategy) = s(c.token_exchange_strategy.as_ref())
        && !TOKEN_EXCHANGE_STRATEGIES.contains(&strategy)
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("token_exchange_strategy"),
            format!("token_exchange_strategy = {strategy:?}: the server refuses to start"),
            format!("use one of {}", quoted_list(TOKEN_EXCHANGE_STRATEGIES)),
        ));
    }
    let style = c.sts_auth_style.as_deref().map_or("", str::trim);
    let has = |v: &Option<String>| v.as_deref().is_some_and(|x| !x.trim().is_empty());
    match style {
        "" | "params" | "header" => {}
        "assertion" => {
            for (name, value) in [
                ("sts_client_cert_file", &c.sts_client_cert_file),
                ("sts_client_key_file", &c.sts_client_key_file),
            ] {
                if !has(value) {
                    out.push(Finding::error(
                        Rule::StartupRefused,
                        Some(name),
                        format!("sts_auth_style = \"assertion\" without {name}: the server refuses to start"),
                        format!("set {name} to the mounted PEM file"),
                    ));
                }
            }
        }
        "federated" => {
            if !has(&c.sts_federated_token_file) {
                out.push(Finding::error(
                    Rule::StartupRefused,
                    Some("sts_federated_token_file"),
                    "sts_auth_style = \"federated\" without sts_federated_token_file: the server \
                     refuses to start",
                    "set sts_federated_token_file to the projected token file",
                ));
            }
        }
        other => out.push(Finding::error(
            Rule::StartupRefused,
            Some("sts_auth_style"),
            format!("sts_auth_style = {other:?}: the server refuses to start"),
            format!("use one of {}", quoted_list(STS_AUTH_STYLES)),
        )),
    }
}

/// 1.3 rule 11.
fn startup_confirmation_and_http(c: &ServerConfig, out: &mut Vec<Finding>) {
    if let Some(fallback) = s(c.confirmation_fallback.as_ref())
        && fallback != "allow"
        && fallback != "deny"
    {
        out.push(Finding::error(
            Rule::StartupRefused,
            Some("confirmation_fallback"),
            format!("confirmation_fallback = {fallback:?}: the server refuses to start"),
            "use \"allow\" or \"deny\"",
        ));
    }
    for (i, rule) in c.confirmation_rules.iter().flatten().enumerate() {
        let problem = match (rule.is_tool_level(), rule.is_kube_level()) {
            (true, true) => {
                Some("mixes tool-level fields (tool, destructive) with kube-level fields")
            }
            (false, false) => Some("sets neither a tool-level nor a kube-level field"),
            _ => None,
        };
        if let Some(problem) = problem {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some(&format!("confirmation_rules[{i}]")),
                format!("confirmation rule {i} {problem}: the server refuses to start"),
                "give each rule either tool/destructive or verb/kind/group/version/name/namespace",
            ));
        }
    }
    if let Some(http) = &c.http {
        if http.rate_limit_rps.is_some_and(|r| r < 0.0) {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some("http.rate_limit_rps"),
                "http.rate_limit_rps is negative: the server refuses to start",
                "use 0 (off) or a positive rate",
            ));
        }
        if http.rate_limit_burst.is_some_and(|b| b < 0) {
            out.push(Finding::error(
                Rule::StartupRefused,
                Some("http.rate_limit_burst"),
                "http.rate_limit_burst is negative: the server refuses to start",
                "use a positive burst, or leave it out (10)",
            ));
        }
    }
}

/// Section 0: what each release supports.
fn version_support(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let version = ctx.server_version;
    if !version.supports(Feature::AuthModeKeys) {
        let used = [
            (
                "cluster_auth_mode",
                s(c.cluster_auth_mode.as_ref()).is_some(),
            ),
            (
                "skip_jwt_verification",
                c.skip_jwt_verification == Some(true),
            ),
            (
                "token_exchange_strategy",
                s(c.token_exchange_strategy.as_ref()).is_some(),
            ),
        ];
        for (key, set) in used {
            if set {
                out.push(Finding::error(
                    Rule::VersionSupport,
                    Some(key),
                    format!("{key} does not exist in {version}: the server ignores it silently"),
                    format!("use server {} or later", Feature::AuthModeKeys.since()),
                ));
            }
        }
    }
    let passthrough = c.requires_oauth()
        && c.skip_jwt_verification == Some(true)
        && s(c.authorization_url.as_ref()).is_none();
    if passthrough
        && version.supports(Feature::AuthModeKeys)
        && !version.supports(Feature::OpaqueTokenPassthrough)
    {
        out.push(Finding::error(
            Rule::VersionSupport,
            Some("skip_jwt_verification"),
            format!(
                "{version} still parses the token as a JWT with skip_jwt_verification, so opaque \
                 OpenShift tokens (sha256~...) get 401"
            ),
            format!(
                "use server {} or later for token passthrough",
                Feature::OpaqueTokenPassthrough.since()
            ),
        ));
    }
    if c.requires_oauth()
        && s(c.authorization_url.as_ref()).is_some()
        && s(c.oauth_audience.as_ref()).is_none()
    {
        if version.supports(Feature::EmptyAudienceAccepted) {
            out.push(Finding::warning(
                Rule::AudienceMissing,
                Some("oauth_audience"),
                "oauth_audience is empty: any token the issuer signs is accepted, whatever \
                 application it was issued for",
                "set oauth_audience to this server's client ID",
            ));
        } else {
            out.push(Finding::error(
                Rule::VersionSupport,
                Some("oauth_audience"),
                format!(
                    "oauth_audience is empty with authorization_url set: {version} rejects every \
                     token (go-oidc checks an empty client ID)"
                ),
                "set oauth_audience to this server's client ID",
            ));
        }
    }
    if s(c.sse_base_url.as_ref()).is_some() && version.supports(Feature::SseRemoved) {
        out.push(Finding::warning(
            Rule::NoEffect,
            Some("sse_base_url"),
            format!(
                "sse_base_url: the SSE transport is gone since {}, so the server ignores this key",
                Feature::SseRemoved.since()
            ),
            "remove sse_base_url; clients use /mcp (streamable HTTP)",
        ));
    }
}

/// The scheme and host of an http(s) URL, or None.
fn http_url(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    (!host.is_empty()).then_some((scheme, host))
}

/// `authorization_url` must equal the issuer's `iss` byte for byte.
fn issuer_url(c: &ServerConfig, out: &mut Vec<Finding>) {
    let Some(url) = s(c.authorization_url.as_ref()) else {
        return;
    };
    let Some((scheme, host)) = http_url(url) else {
        return;
    };
    if url.ends_with('/') {
        out.push(Finding::warning(
            Rule::IssuerUrl,
            Some("authorization_url"),
            "authorization_url ends with '/': it must equal the issuer's `iss` byte for byte, and \
             most issuers (Entra, Keycloak) have no trailing slash, so discovery fails at startup",
            format!(
                "write it exactly as the issuer's `issuer` field, usually {:?}",
                url.trim_end_matches('/')
            ),
        ));
    }
    if scheme.eq_ignore_ascii_case("http") && c.require_tls != Some(true) {
        out.push(Finding::warning(
            Rule::IssuerUrl,
            Some("authorization_url"),
            "authorization_url uses plain http: discovery and keys are fetched without TLS",
            "use the issuer's https URL",
        ));
    }
    if host.eq_ignore_ascii_case(ENTRA_HOST) && !url.trim_end_matches('/').ends_with("/v2.0") {
        out.push(Finding::warning(
            Rule::IssuerUrl,
            Some("authorization_url"),
            "an Entra authorization_url without /v2.0: v2 tokens carry the issuer \
             https://login.microsoftonline.com/<tenant>/v2.0",
            "use https://login.microsoftonline.com/<tenant>/v2.0 and v2 access tokens \
             (accessTokenAcceptedVersion: 2)",
        ));
    }
}

/// v0.0.66 and older: `sts_*` without `sts_audience` /
/// `token_exchange_strategy` does nothing.
fn token_exchange_completeness(c: &ServerConfig, out: &mut Vec<Finding>) {
    let strategy = s(c.token_exchange_strategy.as_ref()).is_some();
    let audience = s(c.sts_audience.as_ref()).is_some();
    let scopes = c.sts_scopes.as_ref().is_some_and(|v| !v.is_empty());
    let client = s(c.sts_client_id.as_ref()).is_some();
    let sts_set: Vec<&str> = [
        ("sts_client_id", client),
        (
            "sts_client_secret",
            s(c.sts_client_secret.as_ref()).is_some(),
        ),
        ("sts_scopes", scopes),
        ("sts_auth_style", s(c.sts_auth_style.as_ref()).is_some()),
        (
            "sts_client_cert_file",
            s(c.sts_client_cert_file.as_ref()).is_some(),
        ),
        (
            "sts_client_key_file",
            s(c.sts_client_key_file.as_ref()).is_some(),
        ),
        (
            "sts_federated_token_file",
            s(c.sts_federated_token_file.as_ref()).is_some(),
        ),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| k)
    .collect();
    if !strategy && !audience {
        if let Some(first) = sts_set.first() {
            out.push(Finding::warning(
                Rule::TokenExchangeIncomplete,
                Some(first),
                format!(
                    "{} set without sts_audience or token_exchange_strategy: token exchange is off, \
                     so these settings do nothing and the user's token goes to the cluster unchanged",
                    sts_set.join(", ")
                ),
                "set token_exchange_strategy (e.g. \"entra-obo\") and sts_audience or sts_scopes, \
                 or remove the sts_* keys",
            ));
        }
        return;
    }
    if audience && !strategy {
        out.push(Finding::warning(
            Rule::TokenExchangeIncomplete,
            Some("sts_audience"),
            "sts_audience without token_exchange_strategy: the server uses the legacy Google STS \
             exchange (when sts_client_id is set) or forwards the token unchanged",
            "set token_exchange_strategy to rfc8693, keycloak-v1 or entra-obo",
        ));
    }
    if strategy && !client {
        out.push(Finding::warning(
            Rule::TokenExchangeIncomplete,
            Some("sts_client_id"),
            "token_exchange_strategy without sts_client_id: the exchange has no client to \
             authenticate as and fails",
            "set sts_client_id (and its credential in a Secret drop-in)",
        ));
    }
    if strategy && !audience && !scopes {
        out.push(Finding::warning(
            Rule::TokenExchangeIncomplete,
            Some("token_exchange_strategy"),
            "token_exchange_strategy without sts_audience or sts_scopes: the exchanged token has \
             no target",
            "set sts_audience or sts_scopes (e.g. [\"api://<downstream>/.default\"] for entra-obo)",
        ));
    }
}

/// Settings the server accepts but ignores in this combination.
fn no_effect(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let issuer = s(c.authorization_url.as_ref()).is_some();
    if c.skip_jwt_verification == Some(true) && issuer {
        out.push(Finding::warning(
            Rule::NoEffect,
            Some("skip_jwt_verification"),
            "skip_jwt_verification has no effect when authorization_url is set: JWTs are still \
             verified against the issuer",
            "remove skip_jwt_verification, or remove authorization_url for pure passthrough",
        ));
    }
    if c.requires_oauth() && !issuer && c.oauth_scopes.as_ref().is_some_and(|v| !v.is_empty()) {
        out.push(Finding::warning(
            Rule::NoEffect,
            Some("oauth_scopes"),
            "oauth_scopes without authorization_url: the well-known endpoints return 404, so no \
             client sees these scopes",
            "remove oauth_scopes, or set authorization_url",
        ));
    }
    let newer = ctx.server_version.is_newer_than_tested();
    for (section, known) in [
        ("toolset_configs", &c.toolset_configs),
        ("cluster_provider_configs", &c.cluster_provider_configs),
    ] {
        let names = if section == "toolset_configs" {
            KNOWN_TOOLSETS
        } else {
            CLUSTER_PROVIDER_STRATEGIES
        };
        for name in known.iter().flat_map(|m| m.keys()) {
            if !newer && !names.contains(&name.as_str()) {
                out.push(Finding::warning(
                    Rule::NoEffect,
                    Some(&format!("{section}.{name}")),
                    format!("[{section}.{name}]: there is no {name:?} here, so the server ignores the section"),
                    format!("use one of {}", quoted_list(names)),
                ));
            }
        }
    }
}

/// Read-only, non-destructive tools, whatever the exposure: an internal server is still
/// reached by port-forward, and a member's write there is as real as through a route.
fn tool_restrictions(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let public = matches!(ctx.exposure, Exposure::PublicRoute { .. });
    // Toolsets whose tools write (install, start, delete): hidden only by read_only.
    let writers: Vec<&str> = c
        .toolsets
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|t| matches!(*t, "helm" | "kubevirt" | "tekton" | "core"))
        .collect();
    for (key, value, what) in [
        (
            "read_only",
            c.read_only,
            "tools that change the cluster are exposed",
        ),
        (
            "disable_destructive",
            c.disable_destructive,
            "destructive tools (delete, exec, ...) are exposed",
        ),
    ] {
        if value != Some(true) {
            let now = match value {
                Some(false) => "false",
                _ => "absent (upstream default false)",
            };
            let route = if public { " on a public route" } else { "" };
            let toolsets = if key == "read_only" && !writers.is_empty() {
                format!(" (the write tools of {})", writers.join(", "))
            } else {
                String::new()
            };
            out.push(Finding::error(
                Rule::ToolsNotRestricted,
                Some(key),
                format!("{key} is {now}: {what}{toolsets}{route}"),
                format!("set {key} = true"),
            ));
        }
    }
}

/// Public route rules: OAuth required, server_url matching the route, reachable bind address.
fn exposure(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let Exposure::PublicRoute { host } = &ctx.exposure else {
        return;
    };
    if !c.requires_oauth() {
        out.push(Finding::error(
            Rule::PublicWithoutOAuth,
            Some("require_oauth"),
            format!("require_oauth is not true on a public route ({host}): anyone who can reach the route can use the server"),
            "set require_oauth = true (auth mode openshift, entra or oidc), or make the \
             deployment internal",
        ));
    }
    let expected = format!("https://{host}");
    // The endpoint's own URL is what RFC 9728 wants as `resource`; the bare origin works too.
    let endpoint = format!("{expected}/mcp");
    match s(c.server_url.as_ref()) {
        Some(url) if url.trim_end_matches('/') == endpoint => {}
        Some(url) if !url.starts_with("https://") => out.push(Finding::warning(
            Rule::ServerUrl,
            Some("server_url"),
            format!("server_url {url:?} is not https, but the route {host} serves https: clients get a wrong resource URL"),
            format!("set server_url = {expected:?}"),
        )),
        Some(url) if url != expected => out.push(Finding::warning(
            Rule::ServerUrl,
            Some("server_url"),
            format!("server_url {url:?} is not the route's URL {expected:?}: the protected-resource metadata names the wrong server"),
            format!("set server_url = {expected:?}"),
        )),
        Some(_) => {}
        None => {
            if c.requires_oauth()
                && s(c.authorization_url.as_ref()).is_some()
                && c.trust_proxy_headers != Some(true)
            {
                out.push(Finding::warning(
                    Rule::ServerUrl,
                    Some("server_url"),
                    "server_url is not set behind a TLS route: the protected-resource metadata \
                     is built from what the pod sees (plain http)",
                    format!("set server_url = {expected:?}"),
                ));
            }
        }
    }
    if let Some(bind) = s(c.bind_address.as_ref())
        && matches!(bind, "127.0.0.1" | "localhost" | "::1" | "[::1]")
    {
        out.push(Finding::warning(
            Rule::InvalidValue,
            Some("bind_address"),
            format!(
                "bind_address = {bind:?}: the Service and route cannot reach a loopback listener"
            ),
            "remove bind_address (defaults to 0.0.0.0)",
        ));
    }
}

/// Key names that hold credentials. Paths (`*_file`) and the exchange strategy name are not
/// secrets even though they mention tokens.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with("_file") || key.ends_with("_path") || key == "token_exchange_strategy" {
        return false;
    }
    [
        "secret",
        "password",
        "passwd",
        "token",
        "api_key",
        "apikey",
        "private_key",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Whether a string looks like a credential whatever its key: an OpenShift token, a JWT, a
/// PEM private key.
fn looks_like_secret(value: &str) -> bool {
    let value = value.trim();
    let jwt = value.starts_with("eyJ")
        && value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    value.starts_with("sha256~") || jwt || value.contains("PRIVATE KEY-----")
}

/// Secrets anywhere in `table` (known keys, unknown keys, nested tables). Messages name the key,
/// never the value.
pub(crate) fn secret_findings(table: &toml::Table, file: &str) -> Vec<Finding> {
    fn walk(value: &toml::Value, key: &str, path: &str, file: &str, out: &mut Vec<Finding>) {
        match value {
            toml::Value::String(text)
                if !text.is_empty() && (is_secret_key(key) || looks_like_secret(text)) =>
            {
                out.push(Finding::error(
                    Rule::SecretInConfigMap,
                    Some(path),
                    format!(
                        "`{path}` in {file} holds a secret, and that file is a ConfigMap: \
                             anyone who can read ConfigMaps in the namespace can read it"
                    ),
                    "move it to a Secret mounted as a drop-in file in --config-dir (e.g. \
                         conf.d/oauth.toml); `oc mcp-oauth secret set` does this",
                ));
            }
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(v, k, &format!("{path}.{k}"), file, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, key, &format!("{path}[{i}]"), file, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in table {
        walk(value, key, key, file, &mut out);
    }
    out
}
