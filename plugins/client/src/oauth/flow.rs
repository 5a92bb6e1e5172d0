//! Getting a token from an authorization server: the cache, then the refresh token, then an
//! authorization-code login with PKCE S256 on a loopback redirect (RFC 8252), the browser
//! opened on a terminal or the URL printed.

use std::{
    io::IsTerminal as _,
    net::SocketAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use oc_mcp_common::{
    Error, Result,
    kube_args::Secret,
    login::{
        authorize::AuthorizeRequest,
        browser,
        jwt::{self, Claims},
        loopback::{Loopback, LoopbackError},
        pkce::{self, Pkce, RandomUnavailable},
    },
};
use serde::Deserialize;

use super::{
    cache::{Cache, CacheKey, Entry},
    discovery::Metadata,
};

/// A token this close to expiry is refreshed first (as kube does for exec credentials).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How long a token without any expiry information is trusted.
const UNKNOWN_LIFETIME: u64 = 3600;

/// Which of the returned tokens the MCP server wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenKind {
    /// The access token when its audience is the server's, else an ID token that is
    /// (Entra issues access tokens for Microsoft Graph when asked only for `openid`); with
    /// the audience unknown, the access token unless it is for Microsoft Graph
    Auto,
    /// Always the access token
    Access,
    /// Always the ID token
    Id,
}

/// What to log in to.
#[derive(Debug, Clone)]
pub struct Login {
    pub metadata: Metadata,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    /// The audience the server checks (`oauth_audience`), when known.
    pub audience: Option<String>,
    pub kind: TokenKind,
}

impl Login {
    pub fn cache_key(&self) -> CacheKey {
        CacheKey::new(&self.metadata.issuer, &self.client_id, &self.scopes)
    }
}

/// How to behave.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// Open a browser (only honoured on a terminal).
    pub browser: bool,
    pub timeout: Duration,
    /// Never start a login: the cache or a refresh, or fail.
    pub stored_only: bool,
    /// Ignore the cached token (still refresh nothing): a new login.
    pub relogin: bool,
}

/// Where the token came from (for `-v` logs and tests; never the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Refresh,
    Login,
}

/// A token ready to print.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: Secret,
    pub expires_at: Option<u64>,
    pub source: Source,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token to use from an entry, and when it expires.
pub fn pick(entry: &Entry, login: &Login) -> (String, Option<u64>) {
    let access_claims = jwt::jwt_claims(&entry.access_token);
    let id_claims = entry.id_token.as_deref().and_then(jwt::jwt_claims);
    let access = || {
        let exp = access_claims
            .as_ref()
            .and_then(jwt::expiry)
            .or(entry.access_token_expires_at);
        (entry.access_token.clone(), exp)
    };
    let id = || {
        entry.id_token.clone().map(|t| {
            let exp = id_claims
                .as_ref()
                .and_then(jwt::expiry)
                .or(entry.access_token_expires_at);
            (t, exp)
        })
    };
    match login.kind {
        TokenKind::Access => access(),
        TokenKind::Id => id().unwrap_or_else(access),
        TokenKind::Auto => {
            let fits = |claims: Option<&Claims>| {
                claims.is_some_and(|c| match &login.audience {
                    Some(audience) => jwt::has_audience(c, audience),
                    None => !only_graph(c),
                })
            };
            let access_fits = match &login.audience {
                // An opaque access token may well be for the server: only a JWT can say no.
                None => access_claims.is_none() || fits(access_claims.as_ref()),
                Some(_) => fits(access_claims.as_ref()),
            };
            if !access_fits && fits(id_claims.as_ref()) {
                id().unwrap_or_else(access)
            } else {
                access()
            }
        }
    }
}

/// Microsoft Graph's audiences: an Entra access token for Graph is no use to the MCP server.
const GRAPH_AUDIENCES: [&str; 2] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
];

fn only_graph(claims: &Claims) -> bool {
    let auds = jwt::audiences(claims);
    !auds.is_empty()
        && auds.iter().all(|a| {
            GRAPH_AUDIENCES
                .iter()
                .any(|g| a.trim_end_matches('/') == *g)
        })
}

fn fresh(expires_at: Option<u64>, obtained_at: u64, now: u64) -> bool {
    let expires_at = expires_at.unwrap_or(obtained_at + UNKNOWN_LIFETIME);
    now + EXPIRY_MARGIN.as_secs() < expires_at
}

/// The token: from the cache while fresh, else by refresh, else by a login.
pub async fn token(
    http: &reqwest::Client,
    login: &Login,
    cache: &Cache,
    options: &Options,
) -> Result<Issued> {
    let key = login.cache_key();
    // Held until the token is in the cache: a concurrent `token` waits and then reads it.
    let _lock = cache
        .lock(
            &key,
            options.timeout + Duration::from_secs(30),
            options.timeout + Duration::from_secs(60),
        )
        .await?;
    let cached = cache.load(&key);
    if let Some(entry) = &cached {
        let (token, expires_at) = pick(entry, login);
        if !options.relogin && fresh(expires_at, entry.obtained_at, now()) {
            tracing::info!("using the cached token from {}", cache.path(&key).display());
            return Ok(Issued {
                token: Secret::new(token),
                expires_at,
                source: Source::Cache,
            });
        }
        if !options.relogin
            && let Some(refresh_token) = &entry.refresh_token
        {
            match refresh(http, login, refresh_token).await {
                Ok(response) => {
                    let mut updated = response.into_entry(&key, now());
                    if updated.refresh_token.is_none() {
                        updated.refresh_token = Some(refresh_token.clone());
                    }
                    cache.store(&key, &updated)?;
                    let (token, expires_at) = pick(&updated, login);
                    tracing::info!("refreshed the token");
                    return Ok(Issued {
                        token: Secret::new(token),
                        expires_at,
                        source: Source::Refresh,
                    });
                }
                Err(e) => {
                    tracing::warn!("the refresh token no longer works ({e}); logging in again");
                }
            }
        }
    }
    if options.stored_only {
        return Err(Error::Unauthenticated {
            message: format!(
                "no usable cached token for client {} at {} (--stored-only)",
                login.client_id, login.metadata.issuer
            ),
        });
    }
    let response = interactive(http, login, options).await?;
    let entry = response.into_entry(&key, now());
    let path = cache.store(&key, &entry)?;
    tracing::info!("cached the token in {}", path.display());
    let (token, expires_at) = pick(&entry, login);
    Ok(Issued {
        token: Secret::new(token),
        expires_at,
        source: Source::Login,
    })
}

/// The token endpoint's answer. `Debug` never shows a token.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<serde_json::Value>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn expires_in(&self) -> Option<u64> {
        match &self.expires_in {
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            // Entra's v1 endpoints send it as a string.
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn into_entry(self, key: &CacheKey, now: u64) -> Entry {
        let expires_at = self.expires_in().map(|s| now + s);
        let mut entry = Entry::new(key, self.access_token, now);
        entry.access_token_expires_at = expires_at;
        entry.id_token = self.id_token;
        entry.refresh_token = self.refresh_token;
        entry
    }
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// POST a grant to the token endpoint, authenticating the client when it has a secret.
async fn grant(
    http: &reqwest::Client,
    login: &Login,
    mut form: Vec<(&'static str, String)>,
) -> Result<TokenResponse> {
    let endpoint = &login.metadata.token_endpoint;
    let mut request = http.post(endpoint).header("accept", "application/json");
    match &login.client_secret {
        Some(secret) => {
            let methods = &login.metadata.token_endpoint_auth_methods_supported;
            let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
            if basic {
                request = request.basic_auth(
                    form_urlencode(&login.client_id),
                    Some(form_urlencode(secret.expose())),
                );
            } else {
                form.push(("client_id", login.client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
            }
        }
        None => form.push(("client_id", login.client_id.clone())),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::unreachable(format!("the token endpoint {endpoint}"), e))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Error::unreachable(format!("the token endpoint {endpoint}"), e))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<ErrorResponse>(&text).map_or_else(
            |_| format!("HTTP {status}"),
            |e| match e.error_description {
                Some(d) => format!("{}: {d}", e.error),
                None => e.error,
            },
        );
        return Err(Error::Unauthenticated {
            message: format!("the token endpoint {endpoint} refused the request ({detail})"),
        });
    }
    let parsed: TokenResponse = serde_json::from_str(&text).map_err(|e| {
        Error::failed(format!(
            "the token endpoint {endpoint} answered with something that is not a token response ({})",
            // serde's message may quote the input (a token): keep only its category.
            category(&e)
        ))
    })?;
    if let Some(kind) = parsed.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Error::failed(format!(
            "the token endpoint issued a {kind} token; the MCP server takes bearer tokens"
        )));
    }
    Ok(parsed)
}

/// `form` with the login's `resource`, when it has one.
fn with_resource(
    login: &Login,
    mut form: Vec<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    if let Some(resource) = login.resource() {
        form.push(("resource", resource.to_owned()));
    }
    form
}

/// RFC 6749 appendix B: client credentials in Basic auth are form-urlencoded first.
fn form_urlencode(text: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse("http://x/") else {
        return text.to_owned();
    };
    url.query_pairs_mut().append_pair("v", text);
    url.query()
        .and_then(|q| q.strip_prefix("v="))
        .unwrap_or(text)
        .to_owned()
}

fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "missing or mistyped fields",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

async fn refresh(
    http: &reqwest::Client,
    login: &Login,
    refresh_token: &str,
) -> Result<TokenResponse> {
    grant(
        http,
        login,
        with_resource(
            login,
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.to_owned()),
            ],
        ),
    )
    .await
}

/// The authorize URL with PKCE, state and (for OIDC) nonce.
pub fn authorize_url(
    login: &Login,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
    nonce: Option<&str>,
) -> Result<String> {
    let scopes = login.requested_scopes();
    let nonce: Vec<(&str, &str)> = nonce.map(|n| ("nonce", n)).into_iter().collect();
    let request = AuthorizeRequest {
        endpoint: &login.metadata.authorization_endpoint,
        client_id: &login.client_id,
        redirect_uri,
        challenge: &pkce.challenge,
        state,
        scopes: &scopes,
        resource: login.resource(),
        extra: &nonce,
    };
    let url = request.url().map_err(|e| Error::failed(e.to_string()))?;
    Ok(url.into())
}

fn random_failed(e: RandomUnavailable) -> Error {
    Error::failed(e.to_string())
}

/// The listener's errors in the plugin's classes: a bad `--listen-address` is a usage error,
/// a refused or missing login is not being authenticated.
fn listener_error(e: LoopbackError) -> Error {
    match e {
        LoopbackError::NotLoopback { .. } | LoopbackError::Bind { .. } => Error::usage_with_hint(
            e.to_string(),
            "pick another address with --listen-address (e.g. 127.0.0.1:0 for any free port)",
        ),
        LoopbackError::Listener { source } => Error::io("serving the login redirect", source),
        LoopbackError::Refused { .. } | LoopbackError::NoCode | LoopbackError::TimedOut { .. } => {
            Error::Unauthenticated {
                message: e.to_string(),
            }
        }
    }
}

/// The browser login: listen, send the user to the authorize URL, take the code, redeem it.
async fn interactive(
    http: &reqwest::Client,
    login: &Login,
    options: &Options,
) -> Result<TokenResponse> {
    let pkce = Pkce::generate().map_err(random_failed)?;
    let state = pkce::random_string(16).map_err(random_failed)?;
    let nonce = login
        .scopes
        .iter()
        .any(|s| s == "openid")
        .then(|| pkce::random_string(16))
        .transpose()
        .map_err(random_failed)?;
    let listener = Loopback::bind(options.listen, &state)
        .await
        .map_err(listener_error)?;
    let redirect_uri = listener.redirect_uri().to_owned();
    let url = authorize_url(login, &redirect_uri, &pkce, &state, nonce.as_deref())?;

    let terminal = std::io::stderr().is_terminal();
    let opened = options.browser && terminal && browser::open(&url);
    let mut stderr = std::io::stderr().lock();
    let intro = if opened {
        "Opened a browser to log in. If it did not open, visit:"
    } else {
        "To log in, open this URL in a browser:"
    };
    // Written straight to stderr (not a log line): the user must see it at any -v level.
    let _ = std::io::Write::write_all(&mut stderr, format!("{intro}\n\n    {url}\n\n").as_bytes());
    drop(stderr);

    let callback = listener
        .wait(options.timeout)
        .await
        .map_err(listener_error)?;
    if let Some(iss) = &callback.iss
        && iss.trim_end_matches('/') != login.metadata.issuer.trim_end_matches('/')
    {
        return Err(Error::Unauthenticated {
            message: format!(
                "the login answer came from issuer {iss}, not {} (RFC 9207 mix-up check)",
                login.metadata.issuer
            ),
        });
    }
    let response = grant(
        http,
        login,
        with_resource(
            login,
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", callback.code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", pkce.verifier.clone()),
            ],
        ),
    )
    .await?;
    if let (Some(nonce), Some(id_token)) = (&nonce, &response.id_token)
        && let Some(claims) = jwt::jwt_claims(id_token)
        && let Some(returned) = claims.get("nonce").and_then(serde_json::Value::as_str)
        && returned != nonce
    {
        return Err(Error::Unauthenticated {
            message: "the ID token's nonce is not the one this login sent".into(),
        });
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn login(kind: TokenKind) -> Login {
        Login {
            metadata: Metadata {
                issuer: "https://issuer".into(),
                authorization_endpoint: "https://issuer/authorize?tenant=x".into(),
                token_endpoint: "https://issuer/token".into(),
                code_challenge_methods_supported: vec!["S256".into()],
                token_endpoint_auth_methods_supported: Vec::new(),
                scopes_supported: Vec::new(),
            },
            client_id: "client".into(),
            client_secret: None,
            scopes: vec!["openid".into(), "offline_access".into()],
            audience: Some("api".into()),
            kind,
        }
    }

    fn jwt(aud: &str, exp: u64) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"aud":"{aud}","exp":{exp}}}"#));
        format!("e30.{payload}.sig")
    }

    fn entry(access: String, id: Option<String>) -> Entry {
        let key = login(TokenKind::Auto).cache_key();
        let mut e = Entry::new(&key, access, 100);
        e.id_token = id;
        e.access_token_expires_at = Some(500);
        e
    }

    #[test]
    fn auto_picks_the_token_made_for_the_server() {
        let graph = jwt("00000003-0000-0000-c000-000000000000", 900);
        let app = jwt("api", 800);
        let e = entry(graph.clone(), Some(app.clone()));
        assert_eq!(pick(&e, &login(TokenKind::Auto)), (app.clone(), Some(800)));
        assert_eq!(
            pick(&e, &login(TokenKind::Access)),
            (graph.clone(), Some(900))
        );
        let e = entry(jwt("api", 700), Some(app.clone()));
        assert_eq!(pick(&e, &login(TokenKind::Auto)).1, Some(700));
        let opaque = entry("sha256~x".into(), None);
        assert_eq!(
            pick(&opaque, &login(TokenKind::Auto)),
            ("sha256~x".into(), Some(500))
        );
        assert_eq!(pick(&opaque, &login(TokenKind::Id)).0, "sha256~x");

        // Audience unknown: the access token, unless it is for Microsoft Graph.
        let mut unknown = login(TokenKind::Auto);
        unknown.audience = None;
        let e = entry(jwt("mcp-server", 700), Some(jwt("client", 800)));
        assert_eq!(pick(&e, &unknown).1, Some(700));
        let e = entry(graph, Some(app));
        assert_eq!(pick(&e, &unknown).1, Some(800));
    }

    #[test]
    fn freshness_keeps_a_margin() {
        assert!(fresh(Some(1000), 0, 900));
        assert!(!fresh(Some(1000), 0, 950));
        assert!(fresh(None, 1000, 1000 + UNKNOWN_LIFETIME - 61));
        assert!(!fresh(None, 1000, 1000 + UNKNOWN_LIFETIME));
    }

    #[test]
    fn the_authorize_url_carries_pkce_state_and_keeps_its_query() {
        let pkce = Pkce::from_verifier("v".repeat(43));
        let url = authorize_url(
            &login(TokenKind::Auto),
            "http://127.0.0.1:5000/oauth/callback",
            &pkce,
            "st",
            Some("no"),
        )
        .expect("url");
        let parsed = reqwest::Url::parse(&url).expect("parse");
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "x");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5000/oauth/callback");
        assert_eq!(q["code_challenge"], pkce.challenge);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st");
        assert_eq!(q["nonce"], "no");
        assert_eq!(q["scope"], "openid offline_access");
        assert!(!url.contains(&pkce.verifier));
    }

    #[test]
    fn responses_accept_numeric_and_string_lifetimes() {
        let key = login(TokenKind::Auto).cache_key();
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"3600"}"#).expect("parse");
        assert_eq!(r.into_entry(&key, 10).access_token_expires_at, Some(3610));
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":60.0,"token_type":"Bearer"}"#)
                .expect("parse");
        assert!(!format!("{r:?}").contains("\"a\""));
        assert_eq!(r.into_entry(&key, 10).access_token_expires_at, Some(70));
    }

    #[test]
    fn basic_auth_credentials_are_form_encoded() {
        assert_eq!(form_urlencode("a b:c/d"), "a+b%3Ac%2Fd");
        assert_eq!(form_urlencode("plain"), "plain");
    }
}
