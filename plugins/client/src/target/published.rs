//! What the server tells anyone without a token: the 401 challenge of its MCP endpoint, its
//! RFC 9728 protected-resource metadata, and the authorization server metadata that names.
//! A member whose role grants no reads in the server's namespace learns the auth mode, the
//! issuer, the audience and the scopes here instead of from the ConfigMap.
//!
//! kubernetes-mcp-server publishes metadata only when it has an `authorization_url`
//! (entra/oidc); in openshift mode (token passthrough) every well-known path is 404 and the
//! 401 challenge names no audience. The OAuth client ID is never published.

use std::collections::{BTreeMap, BTreeSet};

use oc_mcp_common::{error::describe_chain, server_config::AuthMode};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::IssuerSettings;
use crate::oauth::discovery::candidate_urls;

/// A metadata document larger than this is not one.
const MAX_BODY: usize = 64 * 1024;

/// The MCP request every client starts with, sent without a token to get the challenge.
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"oc-mcp-client","version":"0"}}}"#;

/// The parameters of a `WWW-Authenticate: Bearer ...` challenge, keys in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// The first Bearer challenge among the header values.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        values.into_iter().find_map(parse_bearer)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The audience the server checks tokens for (the server's `oauth_audience`).
    pub fn audience(&self) -> Option<&str> {
        self.get("audience")
    }

    /// RFC 9728 section 5.1: where the protected-resource metadata is.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.get("resource_metadata")
    }

    /// The scopes the server asks for (RFC 6750 section 3).
    pub fn scope(&self) -> Option<&str> {
        self.get("scope")
    }
}

/// `Bearer k=v, k="quoted", ...` of one header value; `None` for another scheme.
fn parse_bearer(value: &str) -> Option<Challenge> {
    let value = value.trim_start();
    let (scheme, rest) = value.split_at(value.find(' ').unwrap_or(value.len()));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    // Each round takes one `key=value` (or stops): bounded by the header's length.
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() || key.contains(' ') {
            // The end, or the next challenge's scheme.
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                val.push(c);
            }
            val.truncate(val.trim_end().len());
        }
        params.insert(key, val);
    }
    Some(Challenge { params })
}

/// RFC 9728 protected-resource metadata, the fields used here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ResourceMetadata {
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// Authorization server (or OIDC) metadata, the fields used here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IssuerMetadata {
    pub issuer: String,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// Everything the server published, from one probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The endpoint answered an MCP request without a token with 401.
    pub token_required: bool,
    pub challenge: Challenge,
    pub resource: Option<ResourceMetadata>,
    pub issuer: Option<IssuerMetadata>,
}

impl Published {
    /// The auth mode these documents show, or why they show none.
    pub fn mode(&self) -> Result<AuthMode, String> {
        if !self.token_required {
            return Ok(AuthMode::None);
        }
        if let Some(issuer) = &self.issuer {
            let entra = Url::parse(&issuer.issuer)
                .is_ok_and(|u| u.host_str() == Some("login.microsoftonline.com"));
            return Ok(if entra {
                AuthMode::Entra
            } else {
                AuthMode::Oidc
            });
        }
        // Only openshift mode (passthrough, no authorization_url) requires a token and names
        // neither an authorization server nor an audience.
        match self.challenge.audience() {
            None => Ok(AuthMode::OpenShift),
            Some(audience) => Err(format!(
                "the server checks tokens for audience {audience} but publishes no authorization server"
            )),
        }
    }

    /// The issuer-mode settings these documents give. The client ID is never published; in
    /// entra mode the audience is the app's client ID, as [`IssuerSettings::gather`] says.
    pub fn settings(&self) -> IssuerSettings {
        let audience = self.challenge.audience().map(str::to_owned);
        IssuerSettings {
            issuer: self.issuer.as_ref().map(|m| m.issuer.clone()),
            client_id: audience.clone().filter(|a| !a.contains("://")),
            audience,
            scopes: self.own_scopes(),
        }
    }

    /// The scopes the server itself asks for: its challenge's `scope`, else its metadata's
    /// `scopes_supported` unless that is the issuer's whole list (the server copies the
    /// issuer's when it has no `oauth_scopes`, and asking for every scope an issuer knows is
    /// not what the server needs).
    fn own_scopes(&self) -> Vec<String> {
        if let Some(scope) = self.challenge.scope() {
            return super::split_scopes(scope);
        }
        let Some(resource) = &self.resource else {
            return Vec::new();
        };
        let own: BTreeSet<&String> = resource.scopes_supported.iter().collect();
        let issuers: BTreeSet<&String> = self
            .issuer
            .as_ref()
            .map(|m| m.scopes_supported.iter().collect())
            .unwrap_or_default();
        if own == issuers {
            Vec::new()
        } else {
            resource.scopes_supported.clone()
        }
    }
}

/// Where the protected-resource metadata of `endpoint` may be, in order: the challenge's
/// `resource_metadata`, then RFC 9728's path-inserted URL, then the origin's root.
pub fn metadata_urls(endpoint: &Url, challenge: &Challenge) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some(url) = challenge
        .resource_metadata()
        .filter(|u| Url::parse(u).is_ok_and(|u| secure(&u)))
    {
        urls.push(url.to_owned());
    }
    let origin = endpoint.origin().ascii_serialization();
    let path = endpoint.path().trim_end_matches('/');
    if !path.is_empty() {
        urls.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    urls.push(format!("{origin}/.well-known/oauth-protected-resource"));
    urls.dedup();
    urls
}

/// https, or http to loopback (a port-forward).
fn secure(url: &Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http"
            && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
}

/// Ask the server at `url` (its MCP endpoint) what it publishes. At most one MCP request, three
/// protected-resource and four issuer metadata requests. `Err` says why it told nothing.
pub async fn fetch(http: &reqwest::Client, url: &str) -> Result<Published, String> {
    let endpoint = Url::parse(url).map_err(|e| format!("{url} is not a URL: {e}"))?;
    let probe = http
        .post(endpoint.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", describe_chain(&e)))?;
    let status = probe.status();
    if status.is_success() {
        end_session(http, &endpoint, &probe).await;
        return Ok(Published::default());
    }
    if status != StatusCode::UNAUTHORIZED {
        return Err(format!(
            "{url} answered {status} to an MCP request without a token (is it the MCP endpoint?)"
        ));
    }
    let challenge = Challenge::parse(
        probe
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
    .ok_or_else(|| format!("{url} answered 401 without a Bearer challenge"))?;
    let mut published = Published {
        token_required: true,
        challenge,
        ..Published::default()
    };
    published.resource = resource_metadata(http, &endpoint, &published.challenge).await?;
    if let Some(server) = published
        .resource
        .as_ref()
        .and_then(|r| r.authorization_servers.first())
    {
        published.issuer = Some(issuer_metadata(http, server).await?);
    }
    Ok(published)
}

/// The server took the request without a token and may have opened a session: close it.
async fn end_session(http: &reqwest::Client, endpoint: &Url, probe: &reqwest::Response) {
    if let Some(id) = probe.headers().get("mcp-session-id") {
        let _ = http
            .delete(endpoint.clone())
            .header("mcp-session-id", id)
            .send()
            .await;
    }
}

async fn resource_metadata(
    http: &reqwest::Client,
    endpoint: &Url,
    challenge: &Challenge,
) -> Result<Option<ResourceMetadata>, String> {
    for url in metadata_urls(endpoint, challenge) {
        let Some(text) = get_document(http, &url).await? else {
            continue;
        };
        let metadata: ResourceMetadata = serde_json::from_str(&text)
            .map_err(|e| format!("{url} is not protected-resource metadata: {e}"))?;
        // RFC 9728 section 3.3: metadata for another resource must not be used.
        if let Some(resource) = &metadata.resource {
            let same = Url::parse(resource).is_ok_and(|r| r.origin() == endpoint.origin());
            if !same {
                return Err(format!(
                    "{url} describes the resource {resource}, not {endpoint} (the server's server_url names another address)"
                ));
            }
        }
        return Ok(Some(metadata));
    }
    Ok(None)
}

/// The issuer behind `server`: the server may name the issuer itself or its own URL (it
/// then serves the issuer's metadata), so the metadata's `issuer` is what counts.
async fn issuer_metadata(http: &reqwest::Client, server: &str) -> Result<IssuerMetadata, String> {
    let parsed = Url::parse(server)
        .map_err(|e| format!("the authorization server {server:?} is not a URL: {e}"))?;
    if !secure(&parsed) {
        return Err(format!(
            "the authorization server {server} does not use https"
        ));
    }
    let mut tried = Vec::new();
    for url in candidate_urls(server) {
        let Some(text) = get_document(http, &url).await? else {
            tried.push(url);
            continue;
        };
        let metadata: IssuerMetadata = serde_json::from_str(&text)
            .map_err(|e| format!("{url} is not authorization server metadata: {e}"))?;
        if !Url::parse(&metadata.issuer).is_ok_and(|u| secure(&u)) {
            return Err(format!(
                "{url} names issuer {:?}, not an https URL",
                metadata.issuer
            ));
        }
        return Ok(metadata);
    }
    Err(format!(
        "the authorization server {server} has no metadata (tried {})",
        tried.join(", ")
    ))
}

/// A document's text; `None` when it is not there (404, 405, or an empty 200 as some
/// issuers answer for paths they do not serve).
async fn get_document(http: &reqwest::Client, url: &str) -> Result<Option<String>, String> {
    let mut response = http
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", describe_chain(&e)))?;
    let status = response.status();
    if matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let mut body = Vec::new();
    // Bounded by MAX_BODY: the loop stops once the body is too large.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {}", describe_chain(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(format!("{url} is larger than {MAX_BODY} bytes"));
        }
    }
    let text = String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8"))?;
    Ok((!text.trim().is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSHIFT: &str = r#"Bearer realm="Kubernetes MCP Server", error="missing_token""#;
    const OIDC: &str = r#"Bearer realm="Kubernetes MCP Server", audience="https://mcp.example/mcp", error="missing_token""#;

    fn issuer(url: &str, scopes: &[&str]) -> IssuerMetadata {
        IssuerMetadata {
            issuer: url.into(),
            scopes_supported: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn challenges_parse_as_the_server_writes_them() {
        let c = Challenge::parse([OIDC]).expect("bearer");
        assert_eq!(c.audience(), Some("https://mcp.example/mcp"));
        assert_eq!(c.params["realm"], "Kubernetes MCP Server");
        assert_eq!(c.params["error"], "missing_token");
        let c = Challenge::parse([
            r#"Basic realm="x""#,
            r#"bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="openid a\"b", error=invalid_token"#,
        ])
        .expect("bearer");
        assert_eq!(
            c.resource_metadata(),
            Some("https://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.scope(), Some("openid a\"b"));
        assert_eq!(c.params["error"], "invalid_token");
        assert_eq!(Challenge::parse([r#"Basic realm="x""#]), None);
        assert_eq!(Challenge::parse(["Bearer"]), Some(Challenge::default()));
    }

    #[test]
    fn the_mode_follows_what_is_published() {
        let openshift = Published {
            token_required: true,
            challenge: Challenge::parse([OPENSHIFT]).expect("bearer"),
            ..Published::default()
        };
        assert_eq!(openshift.mode(), Ok(AuthMode::OpenShift));
        assert_eq!(openshift.settings(), IssuerSettings::default());
        assert_eq!(Published::default().mode(), Ok(AuthMode::None));

        let oidc = Published {
            token_required: true,
            challenge: Challenge::parse([OIDC]).expect("bearer"),
            resource: Some(ResourceMetadata {
                resource: Some("https://mcp.example/mcp".into()),
                authorization_servers: vec!["https://mcp.example/mcp".into()],
                scopes_supported: vec!["openid".into(), "groups".into()],
            }),
            issuer: Some(issuer(
                "https://idp.example/realms/ops",
                &["groups", "openid"],
            )),
        };
        assert_eq!(oidc.mode(), Ok(AuthMode::Oidc));
        let s = oidc.settings();
        assert_eq!(s.issuer.as_deref(), Some("https://idp.example/realms/ops"));
        assert_eq!(s.audience.as_deref(), Some("https://mcp.example/mcp"));
        assert_eq!(s.client_id, None, "a URL audience is not a client ID");
        assert!(s.scopes.is_empty(), "the issuer's own list: {:?}", s.scopes);

        // An audience but no metadata: an issuer mode whose documents are missing.
        let broken = Published {
            resource: None,
            issuer: None,
            ..oidc.clone()
        };
        assert!(broken.mode().is_err());
    }

    #[test]
    fn entra_is_told_by_its_issuer_and_its_audience_is_the_client() {
        let entra = Published {
            token_required: true,
            challenge: Challenge::parse([r#"Bearer realm="K", audience="app-123""#])
                .expect("bearer"),
            resource: Some(ResourceMetadata {
                resource: None,
                authorization_servers: vec!["https://login.microsoftonline.com/t/v2.0".into()],
                scopes_supported: vec!["openid".into(), "profile".into(), "email".into()],
            }),
            issuer: Some(issuer(
                "https://login.microsoftonline.com/t/v2.0",
                &["openid", "profile", "email", "offline_access"],
            )),
        };
        assert_eq!(entra.mode(), Ok(AuthMode::Entra));
        let s = entra.settings();
        assert_eq!(s.client_id.as_deref(), Some("app-123"));
        assert_eq!(s.scopes, ["openid", "profile", "email"]);
        let mut asked = entra.clone();
        asked
            .challenge
            .params
            .insert("scope".into(), "api://app-123/mcp".into());
        assert_eq!(asked.settings().scopes, ["api://app-123/mcp"]);
    }

    #[test]
    fn metadata_is_looked_for_where_rfc_9728_puts_it() {
        let endpoint = Url::parse("https://mcp.example/mcp").expect("url");
        assert_eq!(
            metadata_urls(&endpoint, &Challenge::default()),
            [
                "https://mcp.example/.well-known/oauth-protected-resource/mcp",
                "https://mcp.example/.well-known/oauth-protected-resource",
            ]
        );
        let mut challenge = Challenge::default();
        challenge.params.insert(
            "resource_metadata".into(),
            "https://meta.example/prm".into(),
        );
        assert_eq!(
            metadata_urls(&endpoint, &challenge)[0],
            "https://meta.example/prm"
        );
        challenge
            .params
            .insert("resource_metadata".into(), "http://meta.example/prm".into());
        assert_eq!(
            metadata_urls(&endpoint, &challenge).len(),
            2,
            "a plain-http metadata URL is not followed"
        );
        let root = Url::parse("http://127.0.0.1:8080/").expect("url");
        assert_eq!(
            metadata_urls(&root, &Challenge::default()),
            ["http://127.0.0.1:8080/.well-known/oauth-protected-resource"]
        );
    }
}
