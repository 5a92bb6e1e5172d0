//! Authorization server metadata: OIDC discovery (`/.well-known/openid-configuration`) or
//! RFC 8414 (`/.well-known/oauth-authorization-server`, root and path-inserted), as the MCP
//! SDKs try them; and the OpenShift OAuth server's metadata, which the API server serves.

use oc_mcp_common::{Error, Result};
use serde::Deserialize;

/// The endpoints a login needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Empty when the server does not say.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

impl Metadata {
    /// Parse and check a metadata document fetched from `source`.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let metadata: Self = serde_json::from_str(text).map_err(|e| Error::Failed {
            message: format!("{source} is not authorization server metadata: {e}"),
            hint: Some("check the issuer URL".into()),
        })?;
        for (name, url) in [
            ("authorization_endpoint", &metadata.authorization_endpoint),
            ("token_endpoint", &metadata.token_endpoint),
        ] {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                Error::failed(format!("{source}: {name} {url:?} is not a URL: {e}"))
            })?;
            let loopback = parsed
                .host_str()
                .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
            if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                return Err(Error::Failed {
                    message: format!("{source}: {name} {url} does not use https"),
                    hint: Some(
                        "a login over plain http would expose the code and the token".into(),
                    ),
                });
            }
        }
        if !metadata.code_challenge_methods_supported.is_empty()
            && !metadata
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
        {
            return Err(Error::Failed {
                message: format!(
                    "{source}: the authorization server does not support PKCE S256 (it lists {})",
                    metadata.code_challenge_methods_supported.join(", ")
                ),
                hint: None,
            });
        }
        Ok(metadata)
    }
}

/// The URLs to try for an issuer, in order: OIDC discovery, then RFC 8414 (path-inserted
/// for an issuer with a path, and appended as some servers serve it).
pub fn candidate_urls(issuer: &str) -> Vec<String> {
    let issuer = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{issuer}/.well-known/openid-configuration")];
    if let Ok(url) = reqwest::Url::parse(issuer) {
        let path = url.path().trim_end_matches('/');
        if !path.is_empty() {
            let origin = url.origin().ascii_serialization();
            urls.push(format!(
                "{origin}/.well-known/oauth-authorization-server{path}"
            ));
            urls.push(format!("{origin}/.well-known/openid-configuration{path}"));
        }
    }
    urls.push(format!("{issuer}/.well-known/oauth-authorization-server"));
    urls.dedup();
    urls
}

/// Discover an OIDC issuer's endpoints.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Metadata> {
    let mut tried = Vec::new();
    for url in candidate_urls(issuer) {
        let response = http
            .get(&url)
            .send()
            .await
            .map_err(|e| Error::unreachable(format!("the issuer {issuer}"), e))?;
        let status = response.status();
        if !status.is_success() {
            tried.push(format!("{url} ({status})"));
            continue;
        }
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable(url.clone(), e))?;
        let metadata = Metadata::parse(&text, &url)?;
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(Error::Failed {
                message: format!(
                    "{url} names issuer {} but the server is configured with {issuer}",
                    metadata.issuer
                ),
                hint: Some(
                    "use the issuer exactly as in the server's authorization_url (tokens carry it in `iss`)".into(),
                ),
            });
        }
        return Ok(metadata);
    }
    Err(Error::Failed {
        message: format!(
            "no authorization server metadata for {issuer}: tried {}",
            tried.join(", ")
        ),
        hint: Some("check the issuer URL (--issuer or the server's authorization_url)".into()),
    })
}

/// The OpenShift OAuth server's metadata, from the API server (`oc login --web` does the same).
pub async fn openshift(client: &kube::Client) -> Result<Metadata> {
    let request = http::Request::get("/.well-known/oauth-authorization-server")
        .body(Vec::new())
        .map_err(|e| Error::failed(format!("cannot build a request: {e}")))?;
    let text = client.request_text(request).await.map_err(|e| match e {
        kube::Error::Api(status) if status.code == 404 => Error::Failed {
            message: "the API server has no /.well-known/oauth-authorization-server: this cluster has no OpenShift OAuth server".into(),
            hint: Some(
                "use the kubeconfig token (without --oauth-client), or the cluster's OIDC issuer with --issuer".into(),
            ),
        },
        other => Error::from(other),
    })?;
    Metadata::parse(
        &text,
        "the API server's /.well-known/oauth-authorization-server",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_issuers_get_path_inserted_urls() {
        assert_eq!(
            candidate_urls("https://login.microsoftonline.com/tenant/v2.0"),
            [
                "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration",
                "https://login.microsoftonline.com/.well-known/oauth-authorization-server/tenant/v2.0",
                "https://login.microsoftonline.com/.well-known/openid-configuration/tenant/v2.0",
                "https://login.microsoftonline.com/tenant/v2.0/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            candidate_urls("https://issuer.example/"),
            [
                "https://issuer.example/.well-known/openid-configuration",
                "https://issuer.example/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn metadata_must_offer_s256_and_https() {
        let ok = r#"{"issuer":"https://i","authorization_endpoint":"https://i/a","token_endpoint":"https://i/t","code_challenge_methods_supported":["plain","S256"]}"#;
        assert!(Metadata::parse(ok, "x").is_ok());
        let plain = ok.replace("\"plain\",\"S256\"", "\"plain\"");
        assert!(Metadata::parse(&plain, "x").is_err());
        let http = ok.replace("https://i/t", "http://i.example/t");
        assert!(Metadata::parse(&http, "x").is_err());
        let loopback = ok.replace("https://i/t", "http://127.0.0.1:9/t");
        assert!(Metadata::parse(&loopback, "x").is_ok());
    }
}
