//! What the cluster says about the deployed server: its URL (the Route made from the chart's
//! Ingress, found by owner reference or instance label since its name has a random suffix),
//! its auth mode (from the ConfigMap's `config.toml`), and the OAuth client registered in
//! step 6 (`mcp-oauth-settings`, written by `oc mcp-oauth register entra`). A member whose
//! role grants no reads in the server's namespace reads none of these: `published` asks the
//! server itself.

pub mod published;

use std::collections::BTreeMap;

use k8s_openapi::api::{core::v1::ConfigMap, networking::v1::Ingress};
use kube::{Api, ResourceExt as _, api::ListParams};
use oc_mcp_common::{
    Error, GlobalArgs, Result, defaults,
    openshift::Route,
    server_config::{ParsedConfig, ServerConfig},
};

/// The ConfigMap `oc mcp-oauth register entra` writes.
pub const SETTINGS_CONFIGMAP: &str = "mcp-oauth-settings";

/// A connection to the cluster and the namespace the server lives in.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub config: kube::Config,
    pub namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.config.cluster_url.to_string())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    pub async fn connect(global: &GlobalArgs) -> Result<Self> {
        let connection = global.kube.connect(defaults::NAMESPACE).await?;
        Ok(Self {
            client: connection.client,
            config: connection.config,
            namespace: connection.namespace,
        })
    }

    /// The cluster's CA certificates as PEM (to trust OAuth endpoints served with it).
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let roots = self.config.root_cert.as_ref()?;
        let mut pem = Vec::new();
        for der in roots {
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            for chunk in body.as_bytes().chunks(64) {
                pem.extend_from_slice(chunk);
                pem.push(b'\n');
            }
            pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        Some(pem)
    }
}

/// `https://<host>/mcp` from the server's Route (or, without Routes, its Ingress).
pub async fn server_url(cluster: &Cluster, release: &str) -> Result<String> {
    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    match routes.list(&ListParams::default()).await {
        Ok(list) => {
            if let Some(route) = pick_route(&list.items, release) {
                return route_url(route);
            }
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(e) => return Err(lookup_error(e, "Routes", &cluster.namespace)),
    }
    let ingresses: Api<Ingress> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    match ingresses.get_opt(release).await {
        Ok(Some(ingress)) => {
            let spec = ingress.spec.unwrap_or_default();
            let host = spec
                .rules
                .unwrap_or_default()
                .into_iter()
                .find_map(|r| r.host)
                .filter(|h| !h.is_empty());
            if let Some(host) = host {
                return Ok(format!("https://{host}/mcp"));
            }
        }
        Ok(None) => {}
        Err(e) => return Err(lookup_error(e, "Ingresses", &cluster.namespace)),
    }
    Err(Error::Failed {
        message: format!(
            "found no Route or Ingress for release {release:?} in namespace {}",
            cluster.namespace
        ),
        hint: Some(
            "install the server with a route (`oc mcp-install`), pass -n for another namespace, or give the address with --url"
                .into(),
        ),
    })
}

fn lookup_error(e: kube::Error, what: &str, namespace: &str) -> Error {
    match Error::from(e) {
        Error::Forbidden { message } => Error::Forbidden {
            message: format!(
                "cannot list {what} in {namespace} to find the server's address: {message}; pass it with --url https://<host>/mcp (members get it from their administrator: `oc mcp-install` prints it as \"MCP endpoint\")"
            ),
        },
        other => other,
    }
}

/// The Route the chart's Ingress became: owned by the Ingress, else labelled with the
/// release, else named after it. Admitted ones first.
pub fn pick_route<'a>(routes: &'a [Route], release: &str) -> Option<&'a Route> {
    let matches = |r: &Route| {
        r.owner_references()
            .iter()
            .any(|o| o.kind == "Ingress" && o.name == release)
            || r.labels()
                .get("app.kubernetes.io/instance")
                .map(String::as_str)
                == Some(release)
            || r.name_any() == release
    };
    let mut candidates: Vec<&Route> = routes.iter().filter(|r| matches(r)).collect();
    candidates.sort_by_key(|r| (!r.admitted(), r.name_any()));
    candidates.into_iter().next()
}

fn route_url(route: &Route) -> Result<String> {
    let admitted_host = route.status.as_ref().and_then(|s| {
        s.ingress
            .iter()
            .find(|i| {
                i.conditions
                    .iter()
                    .any(|c| c.type_ == "Admitted" && c.status == "True")
            })
            .and_then(|i| i.host.clone())
    });
    let host = admitted_host
        .or_else(|| route.spec.host.clone())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::Failed {
            message: format!("Route {} has no host yet", route.name_any()),
            hint: Some(
                "wait for the router to admit it (`oc mcp-install --wait`), or pass --url".into(),
            ),
        })?;
    if route.spec.tls.is_none() {
        return Err(Error::Failed {
            message: format!(
                "Route {} serves {host} without TLS: a client would send its token in clear text",
                route.name_any()
            ),
            hint: Some("re-install with an edge route (`oc mcp-install`), or pass --url if TLS ends elsewhere".into()),
        });
    }
    let path = route
        .spec
        .path
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    Ok(format!("https://{host}{path}/mcp"))
}

/// The deployed server's config (the ConfigMap's `config.toml`). `Ok(None)` with the reason
/// when it cannot be read: a user bound to the MCP role usually may not read ConfigMaps.
pub async fn server_config(
    cluster: &Cluster,
    release: &str,
) -> Result<std::result::Result<ServerConfig, String>> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let cm = match api.get_opt(release).await {
        Ok(Some(cm)) => cm,
        Ok(None) => {
            return Ok(Err(format!(
                "ConfigMap {}/{release} does not exist",
                cluster.namespace
            )));
        }
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 401 => {
            return Ok(Err(format!(
                "not allowed to read ConfigMap {}/{release}",
                cluster.namespace
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(text) = cm.data.as_ref().and_then(|d| d.get("config.toml")) else {
        return Ok(Err(format!(
            "ConfigMap {}/{release} has no config.toml",
            cluster.namespace
        )));
    };
    match ParsedConfig::parse(text) {
        Ok(parsed) => Ok(Ok(parsed.config)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// The settings `oc mcp-oauth register entra` left, when readable.
pub async fn oauth_settings(cluster: &Cluster) -> Result<Option<BTreeMap<String, String>>> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    match api.get_opt(SETTINGS_CONFIGMAP).await {
        Ok(cm) => Ok(cm.map(|cm| cm.data.unwrap_or_default())),
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 401 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A settings value by its snake_case key, accepting the camelCase and kebab-case spellings.
pub fn setting<'a>(data: &'a BTreeMap<String, String>, snake: &str) -> Option<&'a str> {
    let kebab = snake.replace('_', "-");
    let mut camel = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.extend(c.to_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    [snake, kebab.as_str(), camel.as_str()]
        .iter()
        .find_map(|k| data.get(*k))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The issuer-mode login settings: from the server config, overridden by the registration's
/// settings where the config is silent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuerSettings {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub audience: Option<String>,
    pub scopes: Vec<String>,
}

impl IssuerSettings {
    pub fn gather(config: Option<&ServerConfig>, data: Option<&BTreeMap<String, String>>) -> Self {
        let mut out = Self::default();
        if let Some(config) = config {
            out.issuer = config.authorization_url.clone().filter(|s| !s.is_empty());
            out.audience = config.oauth_audience.clone().filter(|s| !s.is_empty());
            out.scopes = config.oauth_scopes.clone().unwrap_or_default();
        }
        if let Some(data) = data {
            if out.issuer.is_none() {
                out.issuer = setting(data, "issuer_url")
                    .or_else(|| setting(data, "issuer"))
                    .map(str::to_owned)
                    .or_else(|| {
                        setting(data, "tenant_id").map(oc_mcp_common::server_config::entra_issuer)
                    });
            }
            out.client_id = setting(data, "client_id").map(str::to_owned);
            if out.audience.is_none() {
                out.audience = setting(data, "audience").map(str::to_owned);
            }
            if out.scopes.is_empty()
                && let Some(scopes) = setting(data, "scopes")
            {
                out.scopes = split_scopes(scopes);
            }
        }
        // In entra mode the server's audience is the app's client ID. In oidc mode it is the
        // MCP endpoint's URL (the `resource` a client's login yields), never a client ID: an
        // issuer would refuse it, so then the ID must come from a registration or --client-id.
        if out.client_id.is_none() {
            out.client_id = out.audience.clone().filter(|a| !a.contains("://"));
        }
        out
    }
}

impl IssuerSettings {
    /// Take from `other` what is still unknown here: `self` is the stronger source.
    #[must_use]
    pub fn or(mut self, other: Self) -> Self {
        self.issuer = self.issuer.or(other.issuer);
        self.client_id = self.client_id.or(other.client_id);
        self.audience = self.audience.or(other.audience);
        if self.scopes.is_empty() {
            self.scopes = other.scopes;
        }
        self
    }
}

/// Scopes from a space- or comma-separated list.
pub fn split_scopes(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use oc_mcp_common::openshift::{RouteIngress, RouteIngressCondition, RouteStatus, TlsConfig};

    use super::*;

    fn route(name: &str, host: &str, owner: Option<&str>, admitted: bool) -> Route {
        let mut r = Route::named(name);
        r.spec.host = Some(host.into());
        r.spec.tls = Some(TlsConfig {
            termination: "edge".into(),
            ..TlsConfig::default()
        });
        if let Some(owner) = owner {
            r.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "networking.k8s.io/v1".into(),
                kind: "Ingress".into(),
                name: owner.into(),
                uid: "u".into(),
                ..OwnerReference::default()
            }]);
        }
        if admitted {
            r.status = Some(RouteStatus {
                ingress: vec![RouteIngress {
                    host: Some(host.into()),
                    conditions: vec![RouteIngressCondition {
                        type_: "Admitted".into(),
                        status: "True".into(),
                        ..RouteIngressCondition::default()
                    }],
                    ..RouteIngress::default()
                }],
            });
        }
        r
    }

    #[test]
    fn the_route_is_found_by_its_owner_not_its_name() {
        let routes = vec![
            route("other", "other.example", None, true),
            route(
                "kubernetes-mcp-server-x7k2p",
                "mcp.example",
                Some("kubernetes-mcp-server"),
                true,
            ),
        ];
        let found = pick_route(&routes, "kubernetes-mcp-server").expect("route");
        assert_eq!(route_url(found).expect("url"), "https://mcp.example/mcp");
        assert!(pick_route(&routes, "nope").is_none());
        let mut plain = route("kubernetes-mcp-server", "plain.example", None, false);
        plain.spec.tls = None;
        assert!(route_url(&plain).is_err(), "no TLS, no URL");
    }

    #[test]
    fn settings_accept_three_spellings() {
        let data: BTreeMap<String, String> = [
            ("clientId".to_owned(), "cid".to_owned()),
            ("tenant-id".to_owned(), "tid".to_owned()),
            ("scopes".to_owned(), "openid, profile email".to_owned()),
        ]
        .into();
        assert_eq!(setting(&data, "client_id"), Some("cid"));
        assert_eq!(setting(&data, "tenant_id"), Some("tid"));
        let s = IssuerSettings::gather(None, Some(&data));
        assert_eq!(
            s.issuer.as_deref(),
            Some("https://login.microsoftonline.com/tid/v2.0")
        );
        assert_eq!(s.client_id.as_deref(), Some("cid"));
        assert_eq!(s.scopes, ["openid", "profile", "email"]);
    }

    #[test]
    fn the_server_config_comes_first_and_its_audience_is_the_client() {
        let config = ServerConfig {
            authorization_url: Some("https://idp/realms/x".into()),
            oauth_audience: Some("mcp-server".into()),
            oauth_scopes: Some(vec!["openid".into()]),
            ..ServerConfig::default()
        };
        let s = IssuerSettings::gather(Some(&config), None);
        assert_eq!(s.issuer.as_deref(), Some("https://idp/realms/x"));
        assert_eq!(s.client_id.as_deref(), Some("mcp-server"));
        assert_eq!(s.audience.as_deref(), Some("mcp-server"));
        assert_eq!(s.scopes, ["openid"]);
    }

    #[test]
    fn each_source_fills_only_what_the_stronger_one_left_unknown() {
        let flags = IssuerSettings {
            client_id: Some("from-flag".into()),
            ..IssuerSettings::default()
        };
        let cluster = IssuerSettings {
            issuer: Some("https://configmap".into()),
            client_id: Some("registration".into()),
            ..IssuerSettings::default()
        };
        let published = IssuerSettings {
            issuer: Some("https://published".into()),
            audience: Some("https://h/mcp".into()),
            scopes: vec!["openid".into()],
            client_id: None,
        };
        let s = flags.or(cluster).or(published);
        assert_eq!(s.client_id.as_deref(), Some("from-flag"));
        assert_eq!(s.issuer.as_deref(), Some("https://configmap"));
        assert_eq!(s.audience.as_deref(), Some("https://h/mcp"));
        assert_eq!(s.scopes, ["openid"]);
    }

    #[test]
    fn an_audience_that_is_the_endpoints_url_is_never_the_client_id() {
        let config = ServerConfig {
            authorization_url: Some("https://idp/realms/x".into()),
            oauth_audience: Some("https://mcp.example.com/mcp".into()),
            ..ServerConfig::default()
        };
        let s = IssuerSettings::gather(Some(&config), None);
        assert_eq!(s.client_id, None);
        assert_eq!(s.audience.as_deref(), Some("https://mcp.example.com/mcp"));
    }
}
