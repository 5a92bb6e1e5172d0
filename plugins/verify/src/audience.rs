//! The audience a spec-following MCP client's token will carry, found the way such a client
//! finds it: the protected-resource metadata (RFC 9728) names the `resource`, the client asks
//! the authorization server for a token for that resource (RFC 8707), and an issuer that
//! honours the parameter puts it in `aud`. The server accepts only `oauth_audience`; when the
//! two differ, every such client's login ends in a 401.
//!
//! The metadata is found in a client's order: the `resource_metadata` of the 401 challenge
//! an initialize without a token gets, then the well-known URLs (path-specific first).

use oc_mcp_common::server_config::{AuthMode, ServerConfig};
use reqwest::Url;
use serde_json::Value;

use crate::{
    checks::CheckId,
    http::{Http, initialize_request, join, origin, send, shorten},
    probes::{challenge_param, metadata_urls},
    report::Row,
};

/// What discovery yields.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub prm_url: Url,
    /// Whether `prm_url` came from the 401 challenge's `resource_metadata`.
    pub prm_from_challenge: bool,
    /// The metadata's `resource`, else the endpoint URL (the MCP spec's canonical server URI).
    pub resource: String,
    pub resource_in_metadata: bool,
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub code_challenge_methods: Vec<String>,
}

/// The 401 challenge's `resource_metadata` URL, which clients try before the well-known URLs
/// (RFC 9728 section 5.1, the MCP authorization spec). Followed only on the endpoint's origin
/// or over https: a challenge must not send verify to a plain-http host elsewhere. `None`
/// when the challenge has none; `Err` says why the one it names is not followed.
pub fn challenge_metadata_url(
    endpoint: &Url,
    challenge: Option<&str>,
) -> Option<Result<Url, String>> {
    let raw = challenge_param(challenge?, "resource_metadata")?;
    let shown = shorten(&raw, 120);
    let Ok(url) = Url::parse(&raw) else {
        return Some(Err(format!(
            "the 401 challenge's resource_metadata {shown:?} is not a URL: not followed"
        )));
    };
    if url.scheme() == "https" || url.origin() == endpoint.origin() {
        Some(Ok(url))
    } else {
        Some(Err(format!(
            "the 401 challenge's resource_metadata {shown} is neither https nor on {}: not followed",
            origin(endpoint)
        )))
    }
}

/// The `WWW-Authenticate` of the 401 an initialize without a token gets, as a client's first
/// request does; `None` when there is no such answer (the well-known URLs are tried then).
async fn challenge(http: &Http, url: &Url) -> Option<String> {
    let client = http.client_for(url).await.ok()?;
    let answer = send(initialize_request(&client, url, None)).await.ok()?;
    (answer.status == 401)
        .then(|| answer.header("www-authenticate").map(str::to_owned))
        .flatten()
}

async fn get_json(http: &Http, url: &Url) -> Result<Value, String> {
    let client = http.client_for(url).await.map_err(|e| e.to_string())?;
    let answer = send(client.get(url.clone()).header("accept", "application/json"))
        .await
        .map_err(|f| format!("GET {url}: {f}"))?;
    if answer.status != 200 {
        return Err(format!("GET {url}: {}", answer.status_line()));
    }
    serde_json::from_str(&answer.body).map_err(|_| format!("GET {url}: not JSON"))
}

fn text(json: &Value, key: &str) -> String {
    json.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Protected-resource metadata (the challenge's URL, then the path-specific well-known URL,
/// then the root one, as the SDKs do), then the first authorization server's metadata.
pub async fn discover(http: &Http, url: &Url) -> Result<Discovered, String> {
    let path = url.path().trim_end_matches('/');
    let mut candidates = Vec::new();
    let mut tried = Vec::new();
    let from_challenge = match challenge_metadata_url(url, challenge(http, url).await.as_deref()) {
        Some(Ok(u)) => {
            candidates.push(u.clone());
            Some(u)
        }
        Some(Err(why)) => {
            tried.push(why);
            None
        }
        None => None,
    };
    if !path.is_empty()
        && let Ok(u) = join(url, &format!("/.well-known/oauth-protected-resource{path}"))
    {
        candidates.push(u);
    }
    if let Ok(u) = join(url, "/.well-known/oauth-protected-resource") {
        candidates.push(u);
    }
    let mut prm = None;
    for candidate in candidates {
        match get_json(http, &candidate).await {
            Ok(json) => {
                prm = Some((candidate, json));
                break;
            }
            Err(e) => tried.push(e),
        }
    }
    let Some((prm_url, json)) = prm else {
        return Err(format!(
            "no protected-resource metadata: {}",
            tried.join("; ")
        ));
    };
    let in_metadata = json
        .get("resource")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let server = json
        .get("authorization_servers")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| format!("{prm_url} names no authorization_servers"))?;
    let mut metadata = None;
    let mut tried = Vec::new();
    for candidate in metadata_urls(&server) {
        let Ok(u) = Url::parse(&candidate) else {
            continue;
        };
        match get_json(http, &u).await {
            Ok(json) if json.get("authorization_endpoint").is_some() => {
                metadata = Some(json);
                break;
            }
            Ok(_) => tried.push(format!("GET {u}: no authorization_endpoint")),
            Err(e) => tried.push(e),
        }
    }
    let metadata = metadata.ok_or_else(|| {
        format!(
            "no authorization-server metadata for {server}: {}",
            tried.join("; ")
        )
    })?;
    Ok(Discovered {
        prm_from_challenge: from_challenge.as_ref() == Some(&prm_url),
        prm_url,
        resource_in_metadata: in_metadata.is_some(),
        resource: in_metadata.unwrap_or_else(|| url.to_string()),
        issuer: text(&metadata, "issuer"),
        authorization_endpoint: text(&metadata, "authorization_endpoint"),
        token_endpoint: text(&metadata, "token_endpoint"),
        code_challenge_methods: metadata
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The static check: the audience the login yields against `oauth_audience`.
pub fn row(
    mode: Option<AuthMode>,
    config: Option<&ServerConfig>,
    discovered: &Result<Discovered, String>,
) -> Row {
    let id = CheckId::DiscoveryAudience;
    let mode = match mode {
        Some(m @ (AuthMode::Entra | AuthMode::Oidc)) => m,
        // Not a gap: in this mode no client logs in by itself, so there is nothing to match.
        Some(m) => {
            return Row::info(id).evidence(format!(
                "{m} mode: clients are handed a token, they do not log in by themselves"
            ));
        }
        None => return Row::skip(id, "the auth mode is unknown"),
    };
    let Some(config) = config else {
        return Row::skip(id, "the server's config could not be read");
    };
    let found = match discovered {
        Ok(d) => d,
        Err(e) => {
            return Row::skip(id, format!("{e} (see discovery.protected-resource)"));
        }
    };
    let resource = found.resource.as_str();
    let how = format!(
        "a client following the MCP spec asks {} for a token with resource={resource} (RFC 8707, from {}{}{}); an issuer that honours it issues aud={resource}",
        found.issuer,
        found.prm_url,
        if found.prm_from_challenge {
            ", the 401 challenge's resource_metadata"
        } else {
            ""
        },
        if found.resource_in_metadata {
            ""
        } else {
            ", which has no resource: the endpoint URL"
        }
    );
    let Some(audience) = config
        .oauth_audience
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    else {
        return Row::fail(id)
            .evidence(how)
            .evidence("oauth_audience is not set")
            .fix(format!("oc mcp-install --audience {resource}"));
    };
    if audience == resource {
        return Row::pass(id)
            .evidence(format!(
                "oauth_audience = {audience:?} is the resource clients ask for"
            ))
            .evidence(how);
    }
    let near = audience.trim_end_matches('/') == resource.trim_end_matches('/');
    let entra = if mode == AuthMode::Entra {
        "; in Entra the app registration's Application ID URI must be it too, or Entra refuses the resource"
    } else {
        ""
    };
    Row::fail(id)
        .evidence(format!(
            "oauth_audience = {audience:?}, but the token such a login yields has aud {resource:?}{}: the server answers 401",
            if near { " (they differ only in a trailing slash, which is a different audience)" } else { "" }
        ))
        .evidence(how)
        .fix(format!(
            "oc mcp-install --audience {resource} (oauth_audience = {resource:?}){entra}; for passthrough the cluster's OIDC provider must accept that audience as well"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(resource: &str) -> Discovered {
        Discovered {
            prm_url: Url::parse("https://h/.well-known/oauth-protected-resource/mcp").expect("url"),
            prm_from_challenge: false,
            resource: resource.into(),
            resource_in_metadata: true,
            issuer: "https://issuer".into(),
            authorization_endpoint: "https://issuer/authorize".into(),
            token_endpoint: "https://issuer/token".into(),
            code_challenge_methods: vec!["S256".into()],
        }
    }

    #[test]
    fn the_audience_must_be_the_resource() {
        let config = ServerConfig {
            oauth_audience: Some("mcp-server".into()),
            ..ServerConfig::default()
        };
        let row = row(
            Some(AuthMode::Oidc),
            Some(&config),
            &Ok(found("https://h/mcp")),
        );
        assert_eq!(row.status, crate::report::Status::Fail);
        assert!(
            row.fix
                .as_deref()
                .is_some_and(|f| f.contains("oc mcp-install --audience https://h/mcp")),
            "{row:?}"
        );
        let config = ServerConfig {
            oauth_audience: Some("https://h/mcp".into()),
            ..ServerConfig::default()
        };
        let ok = super::row(
            Some(AuthMode::Oidc),
            Some(&config),
            &Ok(found("https://h/mcp")),
        );
        assert_eq!(ok.status, crate::report::Status::Pass);
        // No client logs in by itself in openshift mode: nothing to match, not a gap.
        let not_needed = super::row(Some(AuthMode::OpenShift), Some(&config), &Ok(found("x")));
        assert_eq!(not_needed.status, crate::report::Status::Info);
    }

    #[test]
    fn the_challenge_metadata_url_is_followed_on_the_same_origin_or_https() {
        let endpoint = Url::parse("http://127.0.0.1:8080/mcp").expect("url");
        let at = |c: &str| challenge_metadata_url(&endpoint, Some(c));
        assert_eq!(challenge_metadata_url(&endpoint, None), None);
        assert_eq!(at(r#"Bearer realm="x", error="invalid_token""#), None);
        assert_eq!(
            at(r#"Bearer resource_metadata="http://127.0.0.1:8080/custom/prm.json""#),
            Some(Ok(
                Url::parse("http://127.0.0.1:8080/custom/prm.json").expect("url")
            ))
        );
        assert_eq!(
            at("Bearer resource_metadata=https://elsewhere.example.com/prm"),
            Some(Ok(
                Url::parse("https://elsewhere.example.com/prm").expect("url")
            ))
        );
        // Plain http on another origin (another port counts) is refused, and says why.
        for refused in [
            r#"Bearer resource_metadata="http://elsewhere.example.com/prm""#,
            r#"Bearer resource_metadata="http://127.0.0.1:9090/prm""#,
        ] {
            let why = at(refused).and_then(Result::err).unwrap_or_default();
            assert!(
                why.contains("neither https nor on http://127.0.0.1:8080"),
                "{refused}: {why}"
            );
        }
        let why = at(r#"Bearer resource_metadata="not a url""#)
            .and_then(Result::err)
            .unwrap_or_default();
        assert!(why.contains("is not a URL"), "{why}");
    }
}
