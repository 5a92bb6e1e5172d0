//! Redirect URIs: validation (https, or http only on loopback per RFC 8252 section 7.3), the
//! defaults, and the Route host they are derived from.

use std::{net::IpAddr, str::FromStr};

use kube::{Api, ResourceExt, api::ListParams};
use oc_mcp_common::{
    Error, Result,
    names::InvalidValue,
    openshift::{ClusterFlavor, IngressConfig, Route},
    preflight::Permission,
};
use reqwest::Url;
use serde::Serialize;

use crate::target::Target;

/// The MCP server's OAuth callback path.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Loopback redirect URIs for CLI logins (PKCE with a local listener on any port).
pub const LOOPBACK_DEFAULTS: [&str; 2] = [
    "http://127.0.0.1/oauth/callback",
    "http://localhost/oauth/callback",
];

/// What kind of redirect URI: a web callback, or a loopback one for native/CLI clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UriKind {
    Web,
    Loopback,
}

/// A validated redirect URI, kept exactly as given (OAuth servers compare strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedirectUri {
    pub uri: String,
    pub kind: UriKind,
}

/// Whether a URL host is a loopback address or `localhost`.
pub fn is_loopback_host(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A `--redirect-uri`, parsed once by clap: refused (exit 2) with the reason when it cannot work.
impl FromStr for RedirectUri {
    type Err = InvalidValue;

    fn from_str(text: &str) -> std::result::Result<Self, InvalidValue> {
        let refuse = |reason: String| InvalidValue {
            reason,
            fix: "give an absolute URI such as https://HOST/oauth/callback (http only for loopback: http://127.0.0.1/oauth/callback)",
        };
        let invalid = |why: &str| refuse(format!("invalid redirect URI {text:?}: {why}"));
        let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        if text.trim() != text || text.chars().any(char::is_whitespace) {
            return Err(invalid("it contains whitespace"));
        }
        if url.fragment().is_some() {
            return Err(invalid(
                "a redirect URI may not have a #fragment (RFC 6749 section 3.1.2)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it may not contain a user name or password"));
        }
        if url
            .host_str()
            .is_none_or(|h| h.is_empty() || h.contains('*'))
        {
            return Err(invalid("it needs a host name without wildcards"));
        }
        let kind = match url.scheme() {
            "https" if !is_loopback_host(&url) => UriKind::Web,
            "https" => UriKind::Loopback,
            "http" if is_loopback_host(&url) => UriKind::Loopback,
            "http" => {
                return Err(InvalidValue {
                    reason: format!(
                        "redirect URI {text:?} uses http: only loopback addresses (127.0.0.1, [::1], localhost) may use http; anything else must be https"
                    ),
                    fix: "use https://, or a loopback address for a CLI login",
                });
            }
            other => {
                return Err(refuse(format!(
                    "redirect URI {text:?} has scheme {other:?}: use https (or http on a loopback address)"
                )));
            }
        };
        Ok(Self {
            uri: text.to_owned(),
            kind,
        })
    }
}

/// The `--redirect-uri`s without exact duplicates, in their order.
pub fn without_duplicates(given: &[RedirectUri]) -> Vec<RedirectUri> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for uri in given {
        if !out.iter().any(|u| u.uri == uri.uri) {
            out.push(uri.clone());
        }
    }
    out
}

/// `https://<host>/oauth/callback`
pub fn callback_for(host: &str) -> String {
    format!("https://{host}{CALLBACK_PATH}")
}

/// The defaults: the Route's callback plus the loopback URIs.
pub fn defaults_for(host: &str) -> Vec<RedirectUri> {
    let mut uris = vec![RedirectUri {
        uri: callback_for(host),
        kind: UriKind::Web,
    }];
    uris.extend(LOOPBACK_DEFAULTS.iter().map(|u| RedirectUri {
        uri: (*u).to_owned(),
        kind: UriKind::Loopback,
    }));
    uris
}

/// Where the redirect host came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteHost {
    pub host: String,
    /// `Route NAMESPACE/NAME`, or `apps domain` when no Route exists yet.
    pub source: String,
}

/// The Route that serves the release: owned by the chart's Ingress `<release>` (OpenShift
/// names such Routes `<release>-<random>`), else named `<release>`, else pointing at the
/// Service `<release>`.
pub async fn find_route(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Option<Route>> {
    let api: Api<Route> = Api::namespaced(client.clone(), namespace);
    let routes = api.list(&ListParams::default()).await?.items;
    let owned = |r: &&Route| {
        r.owner_references()
            .iter()
            .any(|o| o.kind == "Ingress" && o.name == release)
    };
    let found = routes
        .iter()
        .find(owned)
        .or_else(|| routes.iter().find(|r| r.name_any() == release))
        .or_else(|| {
            routes
                .iter()
                .find(|r| r.spec.to.kind == "Service" && r.spec.to.name == release)
        })
        .cloned();
    Ok(found)
}

/// The host of a Route: `spec.host`, else the first admitted host in its status.
pub fn route_host_of(route: &Route) -> Option<String> {
    route
        .spec
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            route
                .status
                .as_ref()
                .and_then(|s| s.ingress.iter().find_map(|i| i.host.clone()))
        })
}

/// What `route_host` reads: the Routes of the namespace, the cluster's ingress config.
pub fn route_host_permissions(flavor: ClusterFlavor, namespace: &str) -> Vec<Permission> {
    let mut wanted = Vec::new();
    if flavor.openshift {
        wanted
            .push(Permission::new("list", "route.openshift.io", "routes").in_namespace(namespace));
    }
    if flavor.openshift_config {
        wanted.push(Permission::new("get", "config.openshift.io", "ingresses"));
    }
    wanted
}

/// The redirect URIs to register: the ones given, else the defaults for the MCP server's host
/// (and that host, with where it came from).
pub async fn given_or_defaults(
    target: &Target,
    flavor: ClusterFlavor,
    release: &str,
    given: Vec<RedirectUri>,
) -> Result<(Vec<RedirectUri>, Option<RouteHost>)> {
    if !given.is_empty() {
        return Ok((given, None));
    }
    let host = route_host(&target.client, flavor, &target.namespace, release).await?;
    Ok((defaults_for(&host.host), Some(host)))
}

/// The host the MCP server is (or will be) reached at: the deployed Route's, else
/// `<release>-<namespace>.<apps domain>` as OpenShift's router names it.
pub async fn route_host(
    client: &kube::Client,
    flavor: ClusterFlavor,
    namespace: &str,
    release: &str,
) -> Result<RouteHost> {
    if flavor.openshift
        && let Some(route) = find_route(client, namespace, release).await?
        && let Some(host) = route_host_of(&route)
    {
        return Ok(RouteHost {
            host,
            source: format!("Route {namespace}/{}", route.name_any()),
        });
    }
    if flavor.openshift_config {
        let api: Api<IngressConfig> = Api::all(client.clone());
        if let Some(domain) = api
            .get_opt("cluster")
            .await?
            .and_then(|i| i.spec.domain)
            .filter(|d| !d.is_empty())
        {
            return Ok(RouteHost {
                host: format!("{release}-{namespace}.{domain}"),
                source: "apps domain (ingresses.config.openshift.io/cluster)".into(),
            });
        }
    }
    Err(Error::usage_with_hint(
        format!(
            "cannot work out the MCP server's host: no Route for release {release} in namespace {namespace} and no cluster apps domain"
        ),
        "pass --redirect-uri https://HOST/oauth/callback",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_pass() {
        let web: RedirectUri = "https://mcp.apps.example.com/oauth/callback"
            .parse()
            .expect("https");
        assert_eq!(web.kind, UriKind::Web);
        for loopback in [
            "http://127.0.0.1/oauth/callback",
            "http://127.0.0.2:8000/cb",
            "http://[::1]:6274/oauth/callback",
            "http://localhost:6274/oauth/callback",
        ] {
            assert_eq!(
                loopback.parse::<RedirectUri>().expect(loopback).kind,
                UriKind::Loopback,
                "{loopback}"
            );
        }
    }

    #[test]
    fn everything_else_is_refused_naming_the_problem_and_the_fix() {
        for (bad, expected) in [
            ("not a uri", "invalid redirect URI"),
            ("/oauth/callback", "invalid redirect URI"),
            (
                "http://mcp.example.com/oauth/callback",
                "only loopback addresses",
            ),
            ("http://10.0.0.1/cb", "only loopback addresses"),
            ("https://h/cb#frag", "#fragment"),
            ("https://u:p@h/cb", "user name or password"),
            ("https://*.example.com/cb", "invalid redirect URI"),
            ("ftp://h/cb", "has scheme \"ftp\""),
        ] {
            // clap turns the refusal into exit 2 (tests/bad_input.rs runs the binary).
            let err = bad.parse::<RedirectUri>().expect_err(bad);
            assert!(err.to_string().contains(expected), "{bad}: {err}");
            assert!(err.to_string().contains("https://"), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_are_the_route_callback_and_loopbacks() {
        let uris = defaults_for("kubernetes-mcp-server-mcp-server.apps.example.com");
        assert_eq!(
            uris.iter().map(|u| u.uri.as_str()).collect::<Vec<_>>(),
            [
                "https://kubernetes-mcp-server-mcp-server.apps.example.com/oauth/callback",
                "http://127.0.0.1/oauth/callback",
                "http://localhost/oauth/callback"
            ]
        );
        let once: RedirectUri = "https://a/oauth/callback".parse().expect("valid");
        let deduped = without_duplicates(&[once.clone(), once]);
        assert_eq!(deduped.len(), 1);
    }
}
