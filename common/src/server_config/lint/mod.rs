//! The linter: the server's own startup refusals, what each version supports, and the
//! deployment mistakes that start a server which is not safe.

mod context;
mod deployment;
mod known_values;
mod secrets;
mod startup;
mod token_exchange;

pub use context::{Exposure, LintContext};
pub use known_values::{
    CLIENT_AUTH_METHODS, CLUSTER_PROVIDER_STRATEGIES, KNOWN_TOOLSETS, MAX_SAFE_LOG_LEVEL,
    STS_AUTH_STYLES, TOKEN_EXCHANGE_STRATEGIES,
};
pub(crate) use secrets::{is_secret_key, secret_findings};

use super::finding::{Finding, Rule};
use super::model::{ServerConfig, non_empty};
use super::version::{Feature, ServerVersion};
use deployment::{exposure, issuer_url, no_effect, tool_restrictions, version_support};
use startup::{
    startup_cluster_auth, startup_confirmation_and_http, startup_metrics_port, startup_oauth,
    startup_tls, startup_values,
};
use token_exchange::{
    removed_token_exchange_keys, startup_token_exchange, token_exchange_completeness,
    token_exchange_table,
};

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

/// `name` (a key, or a table as `[table]`) is set but `version` predates `feature`, so the
/// server ignores it silently; `then` continues the message and `instead` the fix.
fn unknown_before(
    feature: Feature,
    version: ServerVersion,
    name: &str,
    then: &str,
    instead: &str,
) -> Finding {
    let key = name.trim_start_matches('[').trim_end_matches(']');
    Finding::error(
        Rule::VersionSupport,
        Some(key),
        format!("{name} does not exist in {version}: the server ignores it silently{then}"),
        format!("use server {} or later{instead}", feature.since()),
    )
}

fn quoted_list(values: &[&str]) -> String {
    values.join(", ")
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
