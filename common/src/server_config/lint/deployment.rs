//! What a release supports and the deployment mistakes the server starts with anyway: the
//! issuer URL, settings without effect, tool restrictions, the exposure.

use super::known_values::{CLUSTER_PROVIDER_STRATEGIES, ENTRA_HOST, KNOWN_TOOLSETS};
use super::{Exposure, LintContext, http_url, quoted_list, s, unknown_before};
use crate::server_config::finding::{Finding, Rule};
use crate::server_config::model::ServerConfig;
use crate::server_config::version::Feature;

/// Section 0: what each release supports.
pub(super) fn version_support(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
                out.push(unknown_before(Feature::AuthModeKeys, version, key, "", ""));
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
/// `authorization_url` must equal the issuer's `iss` byte for byte.
pub(super) fn issuer_url(c: &ServerConfig, out: &mut Vec<Finding>) {
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

/// Settings the server accepts but ignores in this combination.
pub(super) fn no_effect(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
pub(super) fn tool_restrictions(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
pub(super) fn exposure(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
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
