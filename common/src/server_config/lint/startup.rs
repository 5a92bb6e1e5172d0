//! The server's startup refusals (guide section 1.3) that do not concern token exchange:
//! values, OAuth, TLS, cluster auth, the metrics port, confirmation and HTTP settings.

use super::known_values::{
    CLUSTER_PROVIDER_STRATEGIES, KNOWN_TOOLSETS, MAX_SAFE_LOG_LEVEL, TLS_VERSIONS,
};
use super::{LintContext, http_url, quoted_list, s, unknown_before};
use crate::server_config::finding::{Finding, Rule, Severity};
use crate::server_config::model::ServerConfig;
use crate::server_config::version::Feature;

/// 1.3 rule 1 plus values the server cannot use (port, log level).
pub(super) fn startup_values(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
pub(super) fn startup_oauth(c: &ServerConfig, out: &mut Vec<Finding>) {
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
pub(super) fn startup_tls(c: &ServerConfig, out: &mut Vec<Finding>) {
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
pub(super) fn startup_cluster_auth(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
pub(super) fn startup_metrics_port(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let Some(metrics) = s(c.metrics_port.as_ref()) else {
        return;
    };
    let version = ctx.server_version;
    if !version.supports(Feature::MetricsPort) {
        out.push(unknown_before(
            Feature::MetricsPort,
            version,
            "metrics_port",
            "",
            ", or remove metrics_port",
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

/// 1.3 rule 11.
pub(super) fn startup_confirmation_and_http(c: &ServerConfig, out: &mut Vec<Finding>) {
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
