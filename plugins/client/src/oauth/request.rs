//! What a login asks the authorization server for besides the code: the RFC 8707
//! `resource` and the scopes the server offers.

use super::flow::Login;

impl Login {
    /// The RFC 8707 `resource` to ask for: the server's audience when it is a URL (https, or
    /// http on loopback), which is the canonical server URI MCP clients send, so that the
    /// issuer puts the server into `aud`. Not to Entra: its v2 endpoints refuse the parameter
    /// (AADSTS901002) and take the audience from the scope.
    pub fn resource(&self) -> Option<&str> {
        let audience = self.audience.as_deref()?;
        let url = reqwest::Url::parse(audience).ok()?;
        let loopback = url
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        let web = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        let entra = reqwest::Url::parse(&self.metadata.issuer)
            .ok()
            .and_then(|i| i.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|h| ENTRA_HOSTS.iter().any(|e| h == *e));
        (web && url.fragment().is_none() && !entra).then_some(audience)
    }

    /// The scopes to ask for: `offline_access` only when the server lists it, or lists
    /// nothing (asking for a scope the server does not offer is an error).
    pub fn requested_scopes(&self) -> Vec<&str> {
        let supported = &self.metadata.scopes_supported;
        self.scopes
            .iter()
            .map(String::as_str)
            .filter(|s| {
                *s != "offline_access"
                    || supported.is_empty()
                    || supported.iter().any(|x| x == "offline_access")
            })
            .collect()
    }
}

/// Entra ID's login hosts (public and national clouds).
const ENTRA_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{discovery::Metadata, flow::TokenKind};

    fn login(issuer: &str, audience: Option<&str>, supported: &[&str]) -> Login {
        Login {
            metadata: Metadata {
                issuer: issuer.into(),
                authorization_endpoint: format!("{issuer}/authorize"),
                token_endpoint: format!("{issuer}/token"),
                code_challenge_methods_supported: vec!["S256".into()],
                token_endpoint_auth_methods_supported: Vec::new(),
                scopes_supported: supported.iter().map(|s| (*s).to_owned()).collect(),
            },
            client_id: "client".into(),
            client_secret: None,
            scopes: vec!["openid".into(), "offline_access".into()],
            audience: audience.map(str::to_owned),
            kind: TokenKind::Auto,
        }
    }

    #[test]
    fn the_resource_is_a_url_audience_except_for_entra() {
        let url = "https://mcp.apps.example.com/mcp";
        assert_eq!(
            login("https://keycloak.example", Some(url), &[]).resource(),
            Some(url)
        );
        let local = "http://localhost:8080/mcp";
        assert_eq!(
            login("http://127.0.0.1:1", Some(local), &[]).resource(),
            Some(local)
        );
        for audience in [
            "api://mcp",
            "6a5f0c4e-client-id",
            "http://mcp.example.com/mcp",
            "https://h/mcp#x",
        ] {
            assert_eq!(
                login("https://keycloak.example", Some(audience), &[]).resource(),
                None,
                "{audience}"
            );
        }
        assert_eq!(
            login("https://keycloak.example", None, &[]).resource(),
            None
        );
        let entra = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
        assert_eq!(login(entra, Some(url), &[]).resource(), None);
    }

    #[test]
    fn offline_access_only_when_the_server_offers_it() {
        let ask = |supported: &[&str]| {
            login("https://i", None, supported)
                .requested_scopes()
                .join(" ")
        };
        assert_eq!(ask(&[]), "openid offline_access");
        assert_eq!(ask(&["openid", "offline_access"]), "openid offline_access");
        assert_eq!(ask(&["openid", "mcp:read"]), "openid");
    }
}
