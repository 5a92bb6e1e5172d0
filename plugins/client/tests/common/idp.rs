//! A small authorization server on loopback, as strict as a real one where it matters:
//! registered client, loopback redirect URI, PKCE S256 checked at the token endpoint,
//! single-use codes, refresh tokens that rotate, client secrets checked (Basic or form).
//!
//! `Flavor::Oidc` serves OIDC discovery, `/authorize`, `/token` and issues JWT-shaped tokens
//! (unsigned: the client never verifies them). `Flavor::OpenShift` plays an API server that
//! serves `/.well-known/oauth-authorization-server` and the OpenShift OAuth server's
//! `/oauth/authorize` and `/oauth/token`, issuing `sha256~` tokens without refresh tokens.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Oidc,
    OpenShift,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub flavor: Flavor,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Lifetime of access and ID tokens.
    pub expires_in: u64,
    /// `aud` of access tokens (ID tokens always carry the client id).
    pub access_audience: String,
    /// Answer every authorization request with this error instead of a code.
    pub deny: Option<String>,
}

impl Config {
    pub fn oidc(client_id: &str) -> Self {
        Self {
            flavor: Flavor::Oidc,
            client_id: client_id.into(),
            client_secret: None,
            expires_in: 3600,
            access_audience: client_id.into(),
            deny: None,
        }
    }

    pub fn openshift(client_id: &str) -> Self {
        Self {
            flavor: Flavor::OpenShift,
            ..Self::oidc(client_id)
        }
    }
}

#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    nonce: Option<String>,
}

/// What the server saw and issued; tests assert on it.
#[derive(Debug, Default)]
pub struct Seen {
    pub authorize_requests: Vec<HashMap<String, String>>,
    pub code_grants: usize,
    pub refresh_grants: usize,
    pub rejected: Vec<String>,
    /// Every access, ID and refresh token issued.
    pub issued: Vec<String>,
    pub basic_auth: Vec<String>,
    codes: HashMap<String, Code>,
    refresh_tokens: HashMap<String, String>,
    counter: u64,
}

impl Seen {
    /// Forget every refresh token (as when a session is revoked).
    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh_tokens.clear();
    }
}

#[derive(Clone)]
struct Shared {
    url: String,
    config: Arc<Mutex<Config>>,
    seen: Arc<Mutex<Seen>>,
}

pub struct Idp {
    pub url: String,
    pub config: Arc<Mutex<Config>>,
    pub seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Idp {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Shared {
            url: url.clone(),
            config: Arc::new(Mutex::new(config.clone())),
            seen: Arc::new(Mutex::new(Seen::default())),
        };
        let (authorize_path, token_path) = match config.flavor {
            Flavor::Oidc => ("/authorize", "/token"),
            Flavor::OpenShift => ("/oauth/authorize", "/oauth/token"),
        };
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(discovery),
            )
            .route(authorize_path, axum::routing::get(authorize))
            .route(token_path, axum::routing::post(token))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            config: shared.config,
            seen: shared.seen,
            task,
        }
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("lock")
    }

    /// A kubeconfig whose API server is this server (the OpenShift flavor), as `user` with
    /// a static token.
    pub fn kubeconfig(&self, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: {token}\n",
            self.url
        )
    }
}

async fn discovery(State(s): State<Shared>) -> Response {
    let flavor = s.config.lock().expect("lock").flavor;
    let u = &s.url;
    let doc = match flavor {
        Flavor::Oidc => json!({
            "issuer": u,
            "authorization_endpoint": format!("{u}/authorize"),
            "token_endpoint": format!("{u}/token"),
            "jwks_uri": format!("{u}/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }),
        // What the OpenShift API server serves (openshift-apiserver's oauthMetadata).
        Flavor::OpenShift => json!({
            "issuer": u,
            "authorization_endpoint": format!("{u}/oauth/authorize"),
            "token_endpoint": format!("{u}/oauth/token"),
            "scopes_supported": ["user:check-access", "user:full", "user:info", "user:list-projects", "user:list-scoped-projects"],
            "response_types_supported": ["code", "token"],
            "grant_types_supported": ["authorization_code", "implicit"],
            "code_challenge_methods_supported": ["plain", "S256"],
        }),
    };
    axum::Json(doc).into_response()
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = reqwest::Url::parse(redirect_uri).expect("redirect uri");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn bad_request(error: &str, description: &str, seen: &Mutex<Seen>) -> Response {
    bad(StatusCode::BAD_REQUEST, error, description, seen)
}

fn bad(status: StatusCode, error: &str, description: &str, seen: &Mutex<Seen>) -> Response {
    seen.lock()
        .expect("lock")
        .rejected
        .push(format!("{error}: {description}"));
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let config = s.config.lock().expect("lock").clone();
    s.seen
        .lock()
        .expect("lock")
        .authorize_requests
        .push(q.clone());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != config.client_id {
        return bad_request("unauthorized_client", "unknown client", &s.seen);
    }
    let redirect_uri = get("redirect_uri");
    let Ok(parsed) = reqwest::Url::parse(&redirect_uri) else {
        return bad_request("invalid_request", "redirect_uri", &s.seen);
    };
    // Registered as http://127.0.0.1/oauth/callback, any port (RFC 8252 section 7.3).
    if parsed.scheme() != "http"
        || parsed.host_str() != Some("127.0.0.1")
        || parsed.path() != "/oauth/callback"
    {
        return bad_request("invalid_request", "redirect_uri not registered", &s.seen);
    }
    if get("response_type") != "code" {
        return bad_request("unsupported_response_type", "code only", &s.seen);
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
        return bad_request("invalid_request", "PKCE S256 required", &s.seen);
    }
    let state = get("state");
    if let Some(error) = &config.deny {
        return redirect_with(
            &redirect_uri,
            &[
                ("error", error),
                ("error_description", "the user said no"),
                ("state", &state),
            ],
        );
    }
    let code = {
        let mut seen = s.seen.lock().expect("lock");
        seen.counter += 1;
        let code = format!(
            "code-{}-{}",
            seen.counter,
            URL_SAFE_NO_PAD.encode(rand_bytes())
        );
        seen.codes.insert(
            code.clone(),
            Code {
                client_id: config.client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                challenge: get("code_challenge"),
                scope: get("scope"),
                nonce: q.get("nonce").cloned(),
            },
        );
        code
    };
    let mut params = vec![("code", code.as_str()), ("state", state.as_str())];
    if config.flavor == Flavor::Oidc {
        params.push(("iss", s.url.as_str()));
    }
    redirect_with(&redirect_uri, &params)
}

fn rand_bytes() -> [u8; 12] {
    use rand::RngCore as _;
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    b
}

fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn form(body: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        reqwest::Url::parse(&format!("http://x/?v={s}"))
            .ok()
            .and_then(|u| u.query_pairs().next().map(|(_, v)| v.into_owned()))
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

// One match over the grant types, as the spec lists them.
#[allow(clippy::too_many_lines)]
async fn token(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let config = s.config.lock().expect("lock").clone();
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    // Client authentication.
    let (client_id, secret) = match basic(&headers) {
        Some((id, secret)) => {
            s.seen.lock().expect("lock").basic_auth.push(id.clone());
            (id, Some(secret))
        }
        None => (get("client_id"), f.get("client_secret").cloned()),
    };
    if client_id != config.client_id {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client",
            &s.seen,
        );
    }
    if config.client_secret.is_some() && secret != config.client_secret {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "bad client secret",
            &s.seen,
        );
    }
    let (scope, nonce) = match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = s.seen.lock().expect("lock").codes.remove(&get("code")) else {
                return bad_request("invalid_grant", "unknown or used code", &s.seen);
            };
            if code.client_id != client_id || code.redirect_uri != get("redirect_uri") {
                return bad_request("invalid_grant", "redirect_uri mismatch", &s.seen);
            }
            let verifier = get("code_verifier");
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || challenge != code.challenge {
                return bad_request("invalid_grant", "PKCE verification failed", &s.seen);
            }
            s.seen.lock().expect("lock").code_grants += 1;
            (code.scope, code.nonce)
        }
        "refresh_token" if config.flavor == Flavor::Oidc => {
            let Some(scope) = s
                .seen
                .lock()
                .expect("lock")
                .refresh_tokens
                .remove(&get("refresh_token"))
            else {
                return bad_request("invalid_grant", "refresh token revoked or unknown", &s.seen);
            };
            s.seen.lock().expect("lock").refresh_grants += 1;
            (scope, None)
        }
        other => {
            return bad(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                other,
                &s.seen,
            );
        }
    };
    let mut seen = s.seen.lock().expect("lock");
    seen.counter += 1;
    let n = seen.counter;
    let exp = now() + config.expires_in;
    let mut response = serde_json::Map::new();
    match config.flavor {
        Flavor::OpenShift => {
            let access = format!("sha256~access-{n}-{}", URL_SAFE_NO_PAD.encode(rand_bytes()));
            seen.issued.push(access.clone());
            response.insert("access_token".into(), json!(access));
            response.insert("token_type".into(), json!("Bearer"));
            response.insert("expires_in".into(), json!(config.expires_in));
            response.insert("scope".into(), json!(scope));
        }
        Flavor::Oidc => {
            let access = jwt(
                &json!({"iss": s.url, "sub": "alice", "aud": config.access_audience, "exp": exp, "n": n, "scp": scope}),
            );
            let mut id_claims =
                json!({"iss": s.url, "sub": "alice", "aud": config.client_id, "exp": exp, "n": n});
            if let Some(nonce) = nonce {
                id_claims["nonce"] = json!(nonce);
            }
            let id = jwt(&id_claims);
            let refresh = format!("refresh-{n}-{}", URL_SAFE_NO_PAD.encode(rand_bytes()));
            seen.refresh_tokens.insert(refresh.clone(), scope.clone());
            seen.issued
                .extend([access.clone(), id.clone(), refresh.clone()]);
            response.insert("access_token".into(), json!(access));
            response.insert("token_type".into(), json!("Bearer"));
            response.insert("expires_in".into(), json!(config.expires_in));
            response.insert("id_token".into(), json!(id));
            response.insert("refresh_token".into(), json!(refresh));
            response.insert("scope".into(), json!(scope));
        }
    }
    axum::Json(Value::Object(response)).into_response()
}
