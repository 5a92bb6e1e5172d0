//! `--login`: log in the way an MCP client does, then use the token. Authorization code with
//! PKCE (S256) and `resource` (RFC 8707) on a loopback redirect (RFC 8252), the browser opened
//! with `$BROWSER` or xdg-open, the code redeemed, then initialize and a read tool call.
//! The token never leaves this module except as the bearer header of those calls.

use std::{fmt::Write as _, time::Duration};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use oc_mcp_common::{error::describe_chain, kube_args::Secret};
use rand::RngCore as _;
use reqwest::Url;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{
    audience::Discovered,
    checks::CheckId,
    http::{Http, shorten},
    report::Row,
    session::{ConnectError, Session, result_text},
};

/// How long a person (or the test's headless browser) has to finish the login.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
const CALLBACK_PATH: &str = "/oauth/callback";
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

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorize URL (the issuer's own query parameters kept).
pub fn authorize_url(
    found: &Discovered,
    args: &LoginArgs,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
) -> Result<Url, String> {
    let mut url = Url::parse(&found.authorization_endpoint).map_err(|e| {
        format!(
            "the authorization endpoint {} is not a URL: {e}",
            found.authorization_endpoint
        )
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &args.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state)
            .append_pair("resource", &found.resource);
        if !args.scopes.is_empty() {
            q.append_pair("scope", &args.scopes.join(" "));
        }
        if let Some(hint) = &args.login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    Ok(url)
}

/// Start the user's browser on `url`: `$BROWSER`, else the desktop's opener.
fn open_browser(url: &str) -> bool {
    use std::process::{Command, Stdio};
    let mut candidates: Vec<Command> = Vec::new();
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        let mut cmd = Command::new(browser);
        cmd.arg(url);
        candidates.push(cmd);
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut cmd = Command::new(opener);
    cmd.arg(url);
    candidates.push(cmd);
    candidates.into_iter().any(|mut cmd| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .is_ok()
    })
}

/// The query of a request line `GET /path?query HTTP/1.1`, when the path is the callback's.
fn callback_query(request: &str) -> Option<Vec<(String, String)>> {
    let line = request.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        return None;
    }
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    (url.path() == CALLBACK_PATH).then(|| url.query_pairs().into_owned().collect())
}

async fn reply(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>oc mcp-verify</title></head><body><p>{text}</p></body></html>"
    );
    let mut response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    response.push_str(&body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Wait for the redirect that carries our `state`; others are answered and ignored.
async fn wait_for_code(
    listener: tokio::net::TcpListener,
    state: &str,
) -> Result<(String, Option<String>), String> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| format!("the login listener failed: {e}"))?;
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        // Only the request head matters; it is small.
        while len < buf.len() {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf[len..])).await
            {
                Ok(Ok(0) | Err(_)) | Err(_) => break,
                Ok(Ok(n)) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let request = String::from_utf8_lossy(&buf[..len]).into_owned();
        let Some(query) = callback_query(&request) else {
            reply(&mut stream, "404 Not Found", "Not the login callback.").await;
            continue;
        };
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        if get("state").as_deref() != Some(state) {
            reply(
                &mut stream,
                "400 Bad Request",
                "This is not the login this run is waiting for (state mismatch).",
            )
            .await;
            continue;
        }
        if let Some(error) = get("error") {
            reply(
                &mut stream,
                "401 Unauthorized",
                "Login failed; the terminal says why.",
            )
            .await;
            return Err(format!(
                "the issuer refused the login: {error}{}",
                get("error_description")
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
        let Some(code) = get("code").filter(|c| !c.is_empty()) else {
            reply(&mut stream, "400 Bad Request", "No code in the redirect.").await;
            return Err("the login redirect carried neither a code nor an error".into());
        };
        reply(
            &mut stream,
            "200 OK",
            "Login complete. You can close this window.",
        )
        .await;
        return Ok((code, get("iss")));
    }
}

/// The `aud` claim of a JWT, unverified (for the evidence only; the server verifies).
fn audience_claim(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("aud")? {
        serde_json::Value::String(a) => Some(a.clone()),
        serde_json::Value::Array(list) => Some(
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
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
    let verifier = random(32);
    let state = random(16);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1 for the login redirect: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the login listener has no address: {e}"))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
    let url = authorize_url(found, args, &redirect_uri, &s256(&verifier), &state)?;
    let opened = open_browser(url.as_str());
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
    let (code, iss) = tokio::time::timeout(LOGIN_TIMEOUT, wait_for_code(listener, &state))
        .await
        .map_err(|_| {
            format!(
                "no login arrived at {redirect_uri} within {}s",
                LOGIN_TIMEOUT.as_secs()
            )
        })??;
    if let Some(iss) = iss
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
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
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
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
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
        assert_eq!(
            callback_query("GET /oauth/callback?code=a&state=b HTTP/1.1\r\n\r\n"),
            Some(vec![
                ("code".into(), "a".into()),
                ("state".into(), "b".into())
            ])
        );
        assert_eq!(callback_query("GET /favicon.ico HTTP/1.1\r\n"), None);
        let endpoint = Url::parse("https://h/mcp").expect("url");
        assert!(resource_matches(&endpoint, "https://h/mcp"));
        assert!(resource_matches(&endpoint, "https://h"));
        assert!(resource_matches(&endpoint, "https://h/"));
        assert!(!resource_matches(&endpoint, "https://evil.example.com/mcp"));
        assert!(!resource_matches(&endpoint, "http://h/mcp"));
        assert!(!resource_matches(&endpoint, "https://h/mc"));
        assert!(!resource_matches(&endpoint, "https://h/mcp/other"));
        assert!(!resource_matches(&endpoint, "not a url"));
        let payload = URL_SAFE_NO_PAD.encode(br#"{"aud":"https://h/mcp"}"#);
        assert_eq!(
            audience_claim(&format!("e30.{payload}.sig")).as_deref(),
            Some("https://h/mcp")
        );
    }
}
