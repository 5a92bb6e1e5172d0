//! route.oauth-redirect: the OAuthClient's redirect URIs name the Route's callback and nothing
//! but it and loopback.

use kube::ResourceExt;
use oc_mcp_common::server_config::AuthMode;

use crate::{checks::CheckId, cluster::Facts, report::Row};

use super::{Context, read_failed};

pub(super) fn oauth_redirect_row(facts: &Facts, ctx: &Context<'_>, host: &str) -> Row {
    let id = CheckId::RouteOAuthRedirect;
    let callback = format!("https://{host}/oauth/callback");
    let mode = ctx
        .mode
        .or_else(|| facts.parsed_config().map(|p| p.config.auth_mode()));
    match &facts.oauth_client {
        None => Row::skip(id, "the OAuthClient was not read"),
        Some(Err(e)) => read_failed(id, e),
        Some(Ok(None)) => match mode {
            Some(AuthMode::Entra | AuthMode::Oidc) => Row::skip(
                id,
                format!(
                    "no OAuthClient {}: in {} mode the client is registered with the issuer",
                    ctx.oauth_client,
                    mode.map_or("oidc", AuthMode::as_str)
                ),
            ),
            _ => Row::skip(
                id,
                format!(
                    "no OAuthClient {} (optional in openshift mode: only browser logins through OpenShift OAuth need it; `oc mcp-oauth register openshift`)",
                    ctx.oauth_client
                ),
            ),
        },
        Some(Ok(Some(client))) => {
            let uris = client.redirect_uris.join(", ");
            let foreign: Vec<&String> = client
                .redirect_uris
                .iter()
                .filter(|u| !redirect_is_ours(u, host))
                .collect();
            if !foreign.is_empty() {
                // OpenShift sends the authorization code to any listed URI: one on another
                // host hands a member's login to whoever runs it.
                return Row::fail(id)
                    .evidence(format!(
                        "oauthclient/{} redirectURIs [{uris}] include {} not on {host} or loopback",
                        client.name_any(),
                        foreign
                            .iter()
                            .map(|u| u.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .fix(format!(
                        "remove them: `oc mcp-oauth register openshift` sets exactly the route's callback and the loopback ones (oc edit oauthclient/{})",
                        client.name_any()
                    ));
            }
            if client
                .redirect_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == callback)
            {
                Row::pass(id).evidence(format!(
                    "oauthclient/{} redirectURIs include {callback}",
                    client.name_any()
                ))
            } else {
                Row::fail(id)
                    .evidence(format!(
                        "oauthclient/{} redirectURIs [{uris}] lack {callback}",
                        client.name_any()
                    ))
                    .fix(format!(
                        "add it: `oc mcp-oauth register openshift` (or oc patch oauthclient/{} --type=json -p '[{{\"op\":\"add\",\"path\":\"/redirectURIs/-\",\"value\":\"{callback}\"}}]')",
                        client.name_any()
                    ))
            }
        }
    }
}

/// The route's own host over https, or a loopback redirect of a CLI login (RFC 8252).
fn redirect_is_ours(uri: &str, host: &str) -> bool {
    use url::Host;
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(Host::Domain(h))) => h.eq_ignore_ascii_case(host),
        ("http", Some(Host::Domain(h))) => h.eq_ignore_ascii_case("localhost"),
        ("http", Some(Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}
