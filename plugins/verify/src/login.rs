//! `--login`: log in the way an MCP client does, then use the token. Authorization code with
//! PKCE (S256) and `resource` (RFC 8707) on a loopback redirect (RFC 8252), the browser opened
//! with `$BROWSER` or the desktop's opener (all three `oc_mcp_common::login`'s, as for
//! `oc mcp-client token`), the code redeemed, then initialize and a read tool call.
//! The token never leaves this module except as the bearer header of those calls.

use std::{
    fmt::Write as _,
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use oc_mcp_common::{
    error::describe_chain,
    kube_args::Secret,
    login::{
        authorize::AuthorizeRequest,
        browser,
        jwt::{audiences, jwt_claims},
        loopback::Loopback,
        pkce::{Pkce, random_string},
    },
};
use reqwest::Url;

use crate::{
    audience::Discovered,
    checks::CheckId,
    http::{Http, shorten},
    report::Row,
    session::{ConnectError, Session, result_text},
};

/// How long a person (or the test's headless browser) has to finish the login.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
const READ_TOOL: &str = "namespaces_list";

/// What the login needs besides discovery.
#[derive(Debug, Clone)]
pub struct LoginArgs {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub login_hint: Option<String>,
    /// What the server checks, for the evidence.
    pub audience: Option<String>,
}

/// The authorize URL (the issuer's own query parameters kept).
pub fn authorize_url(
    found: &Discovered,
    args: &LoginArgs,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
) -> Result<Url, String> {
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let hint: Vec<(&str, &str)> = args
        .login_hint
        .as_deref()
        .map(|h| ("login_hint", h))
        .into_iter()
        .collect();
    AuthorizeRequest {
        endpoint: &found.authorization_endpoint,
        client_id: &args.client_id,
        redirect_uri,
        challenge,
        state,
        scopes: &scopes,
        resource: Some(&found.resource),
        extra: &hint,
    }
    .url()
    .map_err(|e| e.to_string())
}

/// The `aud` claim of a JWT, unverified (for the evidence only; the server verifies).
fn audience_claim(token: &str) -> Option<String> {
    let claims = jwt_claims(token)?;
    let auds = audiences(&claims);
    (!auds.is_empty()).then(|| auds.join(","))
}

/// The login itself: a token, or why there is none.
async fn obtain(http: &Http, found: &Discovered, args: &LoginArgs) -> Result<Secret, String> {
    if !found.code_challenge_methods.is_empty()
        && !found.code_challenge_methods.iter().any(|m| m == "S256")
    {
        return Err(format!(
            "{} does not offer PKCE S256 (code_challenge_methods_supported: {}): MCP clients refuse it",
            found.issuer,
            found.code_challenge_methods.join(", ")
        ));
    }
    let pkce = Pkce::generate().map_err(|e| e.to_string())?;
    let state = random_string(16).map_err(|e| e.to_string())?;
    let listener = Loopback::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), &state)
        .await
        .map_err(|e| e.to_string())?;
    let redirect_uri = listener.redirect_uri().to_owned();
    let url = authorize_url(found, args, &redirect_uri, &pkce.challenge, &state)?;
    let opened = browser::open(url.as_str());
    let mut note = String::new();
    let _ = writeln!(
        note,
        "{} log in at:\n\n    {url}\n",
        if opened {
            "Opened a browser to"
        } else {
            "Open this URL in a browser to"
        }
    );
    oc_mcp_common::cli::warn(note.trim_end());
    let callback = listener
        .wait(LOGIN_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(iss) = &callback.iss
        && iss.trim_end_matches('/') != found.issuer.trim_end_matches('/')
    {
        return Err(format!(
            "the login answer came from issuer {iss}, not {} (RFC 9207 mix-up check)",
            found.issuer
        ));
    }
    let endpoint = Url::parse(&found.token_endpoint).map_err(|e| {
        format!(
            "the token endpoint {} is not a URL: {e}",
            found.token_endpoint
        )
    })?;
    let client = http
        .client_for(&endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback.code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", args.client_id.as_str()),
        ("resource", found.resource.as_str()),
    ];
    // application/x-www-form-urlencoded, as url's query serializer writes it.
    let mut encoder = Url::parse("http://form.invalid/").map_err(|e| e.to_string())?;
    encoder.query_pairs_mut().extend_pairs(form);
    let body = encoder.query().unwrap_or_default().to_owned();
    let response = client
        .post(endpoint.clone())
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {endpoint}: {}", describe_chain(&e)))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| format!("POST {endpoint}: {}", describe_chain(&e)))?;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "the token endpoint {endpoint} refused the code: {} {}",
            status.as_u16(),
            json.get("error")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        ));
    }
    json.get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| format!("the token endpoint {endpoint} returned no access_token"))
}

/// Whether metadata naming `resource` is about `endpoint`: same origin, and the endpoint's
/// path within the resource's (the rule the MCP SDKs apply). MCP clients refuse to log in
/// for another resource (RFC 9728 section 3.3): a token for it could be replayed there.
fn resource_matches(endpoint: &Url, resource: &str) -> bool {
    let Ok(resource) = Url::parse(resource) else {
        return false;
    };
    if resource.origin() != endpoint.origin() {
        return false;
    }
    let base = resource.path().trim_end_matches('/');
    let path = endpoint.path();
    path == base || path.starts_with(&format!("{base}/"))
}

/// The `login.pkce` row; `secrets` gets the token so the report can scrub it.
pub async fn row(
    http: &Http,
    url: &Url,
    found: &Result<Discovered, String>,
    args: &LoginArgs,
    secrets: &mut Vec<String>,
) -> Row {
    let id = CheckId::LoginPkce;
    let found = match found {
        Ok(f) => f,
        Err(e) => return Row::fail(id).evidence(format!("discovery failed: {e}")),
    };
    if found.resource_in_metadata && !resource_matches(url, &found.resource) {
        return Row::fail(id)
            .evidence(format!(
                "{} names resource {}, not this endpoint {url}: MCP clients refuse to log in for another resource (RFC 9728 section 3.3), so no login was tried",
                found.prm_url, found.resource
            ))
            .fix("the server's protected-resource metadata must name the URL clients use (https://<route host>/mcp)");
    }
    let token = match obtain(http, found, args).await {
        Ok(t) => t,
        Err(e) => {
            return Row::fail(id)
                .evidence(e)
                .fix("see discovery.authorization-server; the issuer must accept this client id and a loopback redirect URI");
        }
    };
    secrets.push(token.expose().to_owned());
    let aud = audience_claim(token.expose()).unwrap_or_else(|| "<not a JWT>".into());
    let login_line = format!(
        "PKCE login at {} as client {} with resource {}: token aud {aud}",
        found.issuer, args.client_id, found.resource
    );
    let client = match http.client_for(url).await {
        Ok(c) => c,
        Err(e) => return Row::fail(id).evidence(login_line).evidence(e.to_string()),
    };
    let session = match Session::connect(client, url.as_str(), Some(&token), http.timeout).await {
        Ok(s) => s,
        Err(ConnectError::Rejected { challenge }) => {
            return Row::fail(id)
                .evidence(login_line)
                .evidence(format!("initialize with that token: 401, WWW-Authenticate: {challenge}"))
                .fix(format!(
                    "the server expects oauth_audience {:?}: oc mcp-install --audience {} (see discovery.audience)",
                    args.audience.as_deref().unwrap_or("<unset>"),
                    found.resource
                ));
        }
        Err(e) => {
            return Row::fail(id)
                .evidence(login_line)
                .evidence(format!("initialize with that token: {e}"));
        }
    };
    let outcome = session.call(READ_TOOL, serde_json::Map::new()).await;
    session.close().await;
    match outcome {
        Ok(result) if result.is_error != Some(true) => Row::pass(id)
            .evidence(login_line)
            .evidence(format!("initialize and {READ_TOOL} with that token: ok")),
        Ok(result) => Row::fail(id)
            .evidence(login_line)
            .evidence(format!(
                "initialize ok; {READ_TOOL}: {}",
                shorten(&result_text(&result), 200)
            ))
            .fix("the cluster refused the passed-through token: its OIDC provider must accept this issuer and audience (or configure token exchange)"),
        Err(e) => Row::fail(id)
            .evidence(login_line)
            .evidence(format!("tools/call {READ_TOOL}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_and_the_authorize_url() {
        let found = Discovered {
            prm_url: Url::parse("https://h/.well-known/oauth-protected-resource").expect("url"),
            prm_from_challenge: false,
            resource: "https://h/mcp".into(),
            resource_in_metadata: true,
            issuer: "https://i".into(),
            authorization_endpoint: "https://i/authorize?tenant=t".into(),
            token_endpoint: "https://i/token".into(),
            code_challenge_methods: vec!["S256".into()],
        };
        let args = LoginArgs {
            client_id: "c".into(),
            scopes: vec!["openid".into()],
            login_hint: Some("member".into()),
            audience: None,
        };
        let url = authorize_url(
            &found,
            &args,
            "http://127.0.0.1:1/oauth/callback",
            "ch",
            "st",
        )
        .expect("url");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "t");
        assert_eq!(q["resource"], "https://h/mcp");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["login_hint"], "member");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["state"], "st");
        assert_eq!(q["scope"], "openid");
        let endpoint = Url::parse("https://h/mcp").expect("url");
        assert!(resource_matches(&endpoint, "https://h/mcp"));
        assert!(resource_matches(&endpoint, "https://h"));
        assert!(resource_matches(&endpoint, "https://h/"));
        assert!(!resource_matches(&endpoint, "https://evil.example.com/mcp"));
        assert!(!resource_matches(&endpoint, "http://h/mcp"));
        assert!(!resource_matches(&endpoint, "https://h/mc"));
        assert!(!resource_matches(&endpoint, "https://h/mcp/other"));
        assert!(!resource_matches(&endpoint, "not a url"));
        // e30 is `{}`; the payloads are `{"aud":"https://h/mcp"}` and `{"aud":["a","b"]}`.
        let single = "e30.eyJhdWQiOiJodHRwczovL2gvbWNwIn0.sig";
        assert_eq!(audience_claim(single).as_deref(), Some("https://h/mcp"));
        let list = "e30.eyJhdWQiOlsiYSIsImIiXX0.sig";
        assert_eq!(audience_claim(list).as_deref(), Some("a,b"));
        assert_eq!(audience_claim("opaque"), None);
    }
}
