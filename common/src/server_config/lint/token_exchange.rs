//! Token exchange: the `[token_exchange]` table of v0.0.67+, and the flat `sts_*` keys of
//! v0.0.66 and older (refused by v0.0.67).

use super::known_values::{CLIENT_AUTH_METHODS, STS_AUTH_STYLES, TOKEN_EXCHANGE_STRATEGIES};
use super::{LintContext, quoted_list, s, unknown_before};
use crate::server_config::finding::{Finding, Rule};
use crate::server_config::model::{ServerConfig, TokenExchange, auth_method_for_style};
use crate::server_config::version::Feature;

/// v0.0.67 refuses the flat keys it replaced with `[token_exchange]`.
pub(super) fn removed_token_exchange_keys(c: &ServerConfig, out: &mut Vec<Finding>) {
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
pub(super) fn token_exchange_table(c: &ServerConfig, ctx: &LintContext, out: &mut Vec<Finding>) {
    let Some(exchange) = &c.token_exchange else {
        return;
    };
    let version = ctx.server_version;
    if !version.supports(Feature::TokenExchangeTable) {
        out.push(unknown_before(
            Feature::TokenExchangeTable,
            version,
            "[token_exchange]",
            ", so no token is exchanged",
            &format!(", or the flat keys of {version} (token_exchange_strategy, sts_*)"),
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
pub(super) fn startup_token_exchange(c: &ServerConfig, out: &mut Vec<Finding>) {
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

/// v0.0.66 and older: `sts_*` without `sts_audience` /
/// `token_exchange_strategy` does nothing.
pub(super) fn token_exchange_completeness(c: &ServerConfig, out: &mut Vec<Finding>) {
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
