//! A local OIDC issuer on its own loopback HTTPS port (certificate from the sandbox CA):
//! discovery, JWKS, `/authorize` with PKCE that approves the sandbox's users without a
//! prompt (`login_hint` picks the user), `/token` (authorization_code, refresh_token,
//! client_credentials) and `/userinfo`. Tokens are RS256 JWTs with iss, sub, aud, exp, iat,
//! `preferred_username` and `groups`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};

use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::authn::TokenTable;
use crate::server::parse_query;

/// The default audience of issued access tokens (the MCP server's `oauth_audience`).
pub const DEFAULT_AUDIENCE: &str = "mcp-server";
const CODE_TTL: Duration = Duration::from_secs(120);

/// An RSA signing key and its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub pem: String,
    pub kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating the issuer's RSA key failed: {0}")]
    Generate(String),
    #[error("the issuer key is not a usable RSA PEM: {0}")]
    Pem(String),
}

impl SigningKey {
    fn from_private(key: &rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::Pem(e.to_string()))?
            .to_string();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let n = key.n().to_bytes_be();
        let e = key.e().to_bytes_be();
        let digest = sha2::Sha256::digest(&n);
        let kid = b64(&digest[..12]);
        let encoding =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(SigningKey {
            jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64(&n), "e": b64(&e)}),
            pem,
            kid,
            encoding,
        })
    }

    /// Load a key written by [`SigningKey::pem`] (`oc-mcp-sandbox token` uses this).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        use rsa::pkcs8::DecodePrivateKey as _;
        let key =
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        Self::from_private(&key)
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    /// Sign claims as an RS256 JWT with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.kid.clone());
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, claims, &self.encoding).map_err(|e| e.to_string())
    }
}

/// One RSA key per process: generating 2048-bit keys takes seconds in debug builds, and
/// every sandbox's issuer has its own URL, so tokens still do not cross sandboxes.
static KEY: LazyLock<Result<SigningKey, String>> = LazyLock::new(|| {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| KeyError::Generate(e.to_string()).to_string())?;
    SigningKey::from_private(&key).map_err(|e| e.to_string())
});

/// The process's issuer key (generated on first use; [`warm_up`] starts that early).
pub fn signing_key() -> Result<&'static SigningKey, String> {
    KEY.as_ref().map_err(Clone::clone)
}

/// Generate the key on a background thread so it is ready when first needed.
pub fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("oc-mcp-sandbox-keygen".into())
        .spawn(|| {
            let _ = signing_key();
        });
}

/// Seconds since the Unix epoch, as JWT times are written.
pub fn now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// The claims of an access token for a user.
pub fn user_claims(
    issuer: &str,
    user: &str,
    groups: &[String],
    audience: &str,
    client_id: &str,
    expires_in: Duration,
) -> Value {
    let iat = now();
    let exp = iat + i64::try_from(expires_in.as_secs()).unwrap_or(3600);
    let jti: u128 = rand::random();
    json!({"iss": issuer, "sub": user, "aud": audience, "exp": exp, "iat": iat, "nbf": iat,
        "preferred_username": user, "email": format!("{user}@sandbox.example.com"), "email_verified": true,
        "groups": groups, "azp": client_id, "client_id": client_id, "jti": format!("{jti:032x}"),
        "scope": "openid profile email groups"})
}

/// An OAuth client of the issuer.
#[derive(Debug, Clone, Default)]
pub struct OidcClient {
    pub id: String,
    /// `None`: a public client (PKCE, no secret).
    pub secret: Option<String>,
    /// Empty: any loopback redirect URI (RFC 8252 native apps).
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
struct Grant {
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    nonce: Option<String>,
    scope: String,
    audience: String,
    created: std::time::Instant,
}

/// The issuer's state.
#[derive(Debug)]
pub struct Issuer {
    pub url: String,
    pub audience: String,
    /// Who `/authorize` approves when no `login_hint` names a user.
    pub default_user: String,
    clients: Mutex<HashMap<String, OidcClient>>,
    codes: Mutex<HashMap<String, Grant>>,
    refresh: Mutex<HashMap<String, Grant>>,
}

impl Issuer {
    pub fn new(url: String, audience: String) -> Self {
        Issuer {
            url,
            audience,
            default_user: "member".into(),
            clients: Mutex::new(HashMap::new()),
            codes: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
        }
    }

    pub fn add_client(&self, c: OidcClient) {
        lock(&self.clients).insert(c.id.clone(), c);
    }

    pub fn discovery(&self) -> Value {
        let u = &self.url;
        json!({"issuer": u, "authorization_endpoint": format!("{u}/authorize"), "token_endpoint": format!("{u}/token"),
            "jwks_uri": format!("{u}/jwks"), "userinfo_endpoint": format!("{u}/userinfo"),
            "response_types_supported": ["code"], "response_modes_supported": ["query"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "preferred_username", "email", "groups"]})
    }

    /// Mint an access token for a user (the `token` subcommand and `Sandbox::oidc_token`).
    pub fn mint(
        &self,
        user: &str,
        groups: &[String],
        audience: Option<&str>,
        expires_in: Duration,
    ) -> Result<String, String> {
        let claims = user_claims(
            &self.url,
            user,
            groups,
            audience.unwrap_or(&self.audience),
            "oc-mcp-sandbox",
            expires_in,
        );
        signing_key()?.sign(&claims)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a PKCE verifier matches its challenge.
pub fn pkce_ok(method: &str, challenge: &str, verifier: &str) -> bool {
    match method {
        "S256" => {
            let d = sha2::Sha256::digest(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d) == challenge
        }
        "plain" | "" => verifier == challenge,
        _ => false,
    }
}

/// RFC 8252: loopback redirect URIs match whatever the port.
fn loopback_uri(uri: &str) -> bool {
    let rest = uri.strip_prefix("http://").unwrap_or("");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

pub fn json_resp(code: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

pub fn oauth_error(code: u16, error: &str, description: &str) -> Response<Body> {
    json_resp(
        code,
        &json!({"error": error, "error_description": description}),
    )
}

pub fn redirect(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// `uri` with query parameters appended.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", q.join("&"))
}

/// Client credentials from `Authorization: Basic` or the form.
pub fn client_auth(
    headers: &http::HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> (String, Option<String>) {
    if let Some(basic) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(text) = String::from_utf8(raw)
        && let Some((id, secret)) = text.split_once(':')
    {
        return (
            crate::server::percent_decode(id),
            Some(crate::server::percent_decode(secret)),
        );
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned(),
    )
}

/// Serve the issuer on `listener` (until the task is aborted).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<crate::server::State>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state.issuer, &state.tokens, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn groups_of(users: &TokenTable, user: &str) -> Option<Vec<String>> {
    users.user(user).map(|u| u.groups)
}

async fn handle(issuer: &Issuer, users: &TokenTable, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(Body::new(body), 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let query = parse_query(parts.uri.query());
    match (parts.method.as_str(), path.as_str()) {
        (
            "GET",
            "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server",
        ) => json_resp(200, &issuer.discovery()),
        ("GET", "/jwks") => match signing_key() {
            Ok(k) => json_resp(200, &k.jwks()),
            Err(e) => oauth_error(500, "server_error", &e),
        },
        ("GET", "/authorize") => authorize(issuer, users, &query),
        ("POST", "/token") => {
            let form = parse_query(std::str::from_utf8(&body).ok());
            token(issuer, users, &parts.headers, &form)
        }
        ("GET" | "POST", "/userinfo") => userinfo(issuer, &parts.headers),
        _ => oauth_error(404, "not_found", "no such endpoint"),
    }
}

fn authorize(
    issuer: &Issuer,
    users: &TokenTable,
    q: &std::collections::BTreeMap<String, String>,
) -> Response<Body> {
    let get = |k: &str| q.get(k).map_or("", String::as_str);
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    if client_id.is_empty() || redirect_uri.is_empty() {
        return oauth_error(
            400,
            "invalid_request",
            "client_id and redirect_uri are required",
        );
    }
    let client = lock(&issuer.clients).get(client_id).cloned();
    let uri_ok = match &client {
        Some(c) if !c.redirect_uris.is_empty() => c.redirect_uris.iter().any(|u| u == redirect_uri),
        _ => loopback_uri(redirect_uri) || redirect_uri.starts_with("https://"),
    };
    if !uri_ok {
        return oauth_error(
            400,
            "invalid_request",
            "redirect_uri is not registered for this client",
        );
    }
    let state = get("state");
    let fail = |error: &str, description: &str| {
        let mut p = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            p.push(("state", state));
        }
        redirect(&with_query(redirect_uri, &p))
    };
    if get("response_type") != "code" {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let challenge = get("code_challenge");
    let method = match get("code_challenge_method") {
        "" => "plain",
        m => m,
    };
    if !challenge.is_empty() && !matches!(method, "S256" | "plain") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256 or plain",
        );
    }
    if challenge.is_empty() && client.as_ref().is_none_or(|c| c.secret.is_none()) {
        return fail(
            "invalid_request",
            "public clients must use PKCE (code_challenge)",
        );
    }
    let user = match get("login_hint") {
        "" => issuer.default_user.clone(),
        u => u.to_string(),
    };
    if groups_of(users, &user).is_none() {
        return fail("access_denied", &format!("no sandbox user {user:?}"));
    }
    let code: [u8; 24] = rand::random();
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(code);
    lock(&issuer.codes).insert(
        code.clone(),
        Grant {
            user,
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            challenge: (!challenge.is_empty()).then(|| (method.to_string(), challenge.to_string())),
            nonce: q.get("nonce").cloned(),
            scope: match get("scope") {
                "" => "openid".into(),
                s => s.into(),
            },
            audience: q
                .get("audience")
                .or_else(|| q.get("resource"))
                .cloned()
                .unwrap_or_else(|| issuer.audience.clone()),
            created: std::time::Instant::now(),
        },
    );
    let mut p = vec![("code", code.as_str())];
    if !state.is_empty() {
        p.push(("state", state));
    }
    p.push(("iss", issuer.url.as_str()));
    redirect(&with_query(redirect_uri, &p))
}

fn issue(issuer: &Issuer, users: &TokenTable, g: &Grant) -> Response<Body> {
    let Ok(key) = signing_key() else {
        return oauth_error(500, "server_error", "no signing key");
    };
    let groups = groups_of(users, &g.user).unwrap_or_default();
    let ttl = Duration::from_secs(3600);
    let access = user_claims(
        &issuer.url,
        &g.user,
        &groups,
        &g.audience,
        &g.client_id,
        ttl,
    );
    let mut id = user_claims(
        &issuer.url,
        &g.user,
        &groups,
        &g.client_id,
        &g.client_id,
        ttl,
    );
    if let Some(n) = &g.nonce {
        id["nonce"] = json!(n);
    }
    let (Ok(at), Ok(it)) = (key.sign(&access), key.sign(&id)) else {
        return oauth_error(500, "server_error", "signing failed");
    };
    let refresh: [u8; 24] = rand::random();
    let refresh = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(refresh);
    lock(&issuer.refresh).insert(refresh.clone(), g.clone());
    json_resp(
        200,
        &json!({"access_token": at, "token_type": "Bearer", "expires_in": ttl.as_secs(),
            "id_token": it, "refresh_token": refresh, "scope": g.scope}),
    )
}

fn token(
    issuer: &Issuer,
    users: &TokenTable,
    headers: &http::HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Response<Body> {
    let (client_id, secret) = client_auth(headers, form);
    let client = lock(&issuer.clients).get(&client_id).cloned();
    // Registered confidential clients must authenticate.
    if let Some(want) = client.as_ref().and_then(|c| c.secret.clone())
        && secret.as_deref() != Some(want.as_str())
    {
        return oauth_error(401, "invalid_client", "client authentication failed");
    }
    let get = |k: &str| form.get(k).map_or("", String::as_str);
    match get("grant_type") {
        "authorization_code" => {
            let Some(g) = lock(&issuer.codes).remove(get("code")) else {
                return oauth_error(400, "invalid_grant", "unknown or used authorization code");
            };
            if g.created.elapsed() > CODE_TTL {
                return oauth_error(400, "invalid_grant", "the authorization code expired");
            }
            if g.client_id != client_id {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "the code was issued to another client",
                );
            }
            if g.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                );
            }
            if let Some((method, challenge)) = &g.challenge
                && !pkce_ok(method, challenge, get("code_verifier"))
            {
                return oauth_error(400, "invalid_grant", "PKCE verification failed");
            }
            issue(issuer, users, &g)
        }
        "refresh_token" => {
            let Some(g) = lock(&issuer.refresh).remove(get("refresh_token")) else {
                return oauth_error(400, "invalid_grant", "unknown refresh token");
            };
            if g.client_id != client_id {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "the refresh token was issued to another client",
                );
            }
            issue(issuer, users, &g)
        }
        "client_credentials" => {
            if client.as_ref().is_none_or(|c| c.secret.is_none()) {
                return oauth_error(
                    401,
                    "invalid_client",
                    "client_credentials needs a registered confidential client",
                );
            }
            let Ok(key) = signing_key() else {
                return oauth_error(500, "server_error", "no signing key");
            };
            let audience = form
                .get("audience")
                .or_else(|| form.get("resource"))
                .cloned()
                .unwrap_or_else(|| issuer.audience.clone());
            let ttl = Duration::from_secs(3600);
            let claims = user_claims(&issuer.url, &client_id, &[], &audience, &client_id, ttl);
            match key.sign(&claims) {
                Ok(at) => json_resp(
                    200,
                    &json!({"access_token": at, "token_type": "Bearer", "expires_in": ttl.as_secs(),
                    "scope": form.get("scope").cloned().unwrap_or_default()}),
                ),
                Err(e) => oauth_error(500, "server_error", &e),
            }
        }
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

fn userinfo(issuer: &Issuer, headers: &http::HeaderMap) -> Response<Body> {
    let Some(tok) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return oauth_error(401, "invalid_token", "a bearer token is required");
    };
    let Ok(key) = signing_key() else {
        return oauth_error(500, "server_error", "no signing key");
    };
    let Some(dk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.jwk.clone())
        .ok()
        .and_then(|j| jsonwebtoken::DecodingKey::from_jwk(&j).ok())
    else {
        return oauth_error(500, "server_error", "no verification key");
    };
    let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer.url.as_str()]);
    v.validate_aud = false;
    match jsonwebtoken::decode::<Value>(tok, &dk, &v) {
        Ok(d) => json_resp(
            200,
            &json!({"sub": d.claims["sub"], "preferred_username": d.claims["preferred_username"],
                "email": d.claims["email"], "groups": d.claims["groups"]}),
        ),
        Err(e) => oauth_error(401, "invalid_token", &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_and_loopback() {
        // RFC 7636 appendix B.
        assert!(pkce_ok(
            "S256",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_ok(
            "S256",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "nope"
        ));
        assert!(loopback_uri("http://127.0.0.1:4567/callback"));
        assert!(loopback_uri("http://localhost/cb"));
        assert!(!loopback_uri("http://evil.example/cb"));
        assert_eq!(
            with_query(
                "http://127.0.0.1/cb?x=1",
                &[("code", "a b"), ("state", "s/t")]
            ),
            "http://127.0.0.1/cb?x=1&code=a%20b&state=s%2Ft"
        );
    }
}
