//! The authorize URL of an authorization-code login with PKCE S256.

use url::Url;

/// What the authorize request carries; the endpoint's own query parameters are kept.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub challenge: &'a str,
    pub state: &'a str,
    /// Joined with spaces; left out when empty.
    pub scopes: &'a [&'a str],
    /// RFC 8707 `resource`, when the login names one.
    pub resource: Option<&'a str>,
    /// Further parameters, such as OIDC's `nonce` or `login_hint`.
    pub extra: &'a [(&'a str, &'a str)],
}

/// The authorization endpoint is not a URL.
#[derive(Debug, thiserror::Error)]
#[error("the authorization endpoint {endpoint} is not a URL: {source}")]
pub struct BadEndpoint {
    pub endpoint: String,
    #[source]
    pub source: url::ParseError,
}

impl AuthorizeRequest<'_> {
    pub fn url(&self) -> Result<Url, BadEndpoint> {
        let mut url = Url::parse(self.endpoint).map_err(|source| BadEndpoint {
            endpoint: self.endpoint.to_owned(),
            source,
        })?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("code_challenge", self.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", self.state);
            if !self.scopes.is_empty() {
                query.append_pair("scope", &self.scopes.join(" "));
            }
            if let Some(resource) = self.resource {
                query.append_pair("resource", resource);
            }
            query.extend_pairs(self.extra);
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_pkce_state_and_keeps_the_endpoint_query() {
        let scopes = ["openid", "offline_access"];
        let request = AuthorizeRequest {
            endpoint: "https://i/authorize?tenant=t",
            client_id: "c",
            redirect_uri: "http://127.0.0.1:1/oauth/callback",
            challenge: "ch",
            state: "st",
            scopes: &scopes,
            resource: Some("https://h/mcp"),
            extra: &[("login_hint", "member")],
        };
        let url = request.url().expect("url");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "t");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "c");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:1/oauth/callback");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st");
        assert_eq!(q["scope"], "openid offline_access");
        assert_eq!(q["resource"], "https://h/mcp");
        assert_eq!(q["login_hint"], "member");
        let bare = AuthorizeRequest {
            scopes: &[],
            resource: None,
            extra: &[],
            ..request
        };
        let q: std::collections::HashMap<_, _> = bare
            .url()
            .expect("url")
            .query_pairs()
            .into_owned()
            .collect();
        assert!(!q.contains_key("scope") && !q.contains_key("resource"));
        let broken = AuthorizeRequest {
            endpoint: "not a url",
            ..request
        };
        assert!(broken.url().is_err());
    }
}
