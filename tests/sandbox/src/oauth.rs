//! The OpenShift OAuth server, served on the API server URL: the RFC 8414 metadata at
//! `/.well-known/oauth-authorization-server`, `/oauth/authorize` (approves a sandbox user
//! without a login page: `login_hint`, a Basic or Bearer credential of a known user, else
//! `member`) and `/oauth/token`, which issues opaque `sha256~` tokens the API server accepts.
//! Clients are the `OAuthClient` objects in the store: secret or `additionalSecrets`,
//! `redirectURIs` (osin's prefix rule), `grantMethod`, `accessTokenMaxAgeSeconds`; PKCE.
//! Scopes as OpenShift checks them: none means `user:full`; a malformed one is
//! `invalid_scope`, one the client's `scopeRestrictions` do not allow is `access_denied`
//! ("scope denied: ..."), at authorize and again when the code is redeemed. The token carries
//! its scopes in the user's extra (`scopes.authorization.openshift.io`), where the scope
//! authorizer (`rbac::scopes`) finds them. Like OpenShift, it issues no refresh tokens.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderMap, Method, Response};
use serde_json::{Value, json};

use crate::issuer::{client_auth, json_resp, oauth_error, pkce_ok, redirect, with_query};
use crate::server::{State, parse_query};

const CODE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Grant {
    user: String,
    client: String,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    scopes: Vec<String>,
    created: Instant,
}

/// Outstanding authorization codes.
#[derive(Debug, Default)]
pub struct OAuthServer {
    codes: Mutex<HashMap<String, Grant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Whether a request path is served here rather than by the API pipeline.
pub fn serves(path: &str) -> bool {
    path == "/.well-known/oauth-authorization-server" || path.starts_with("/oauth/")
}

pub fn metadata(state: &State) -> Value {
    let u = &state.api_url;
    json!({"issuer": u, "authorization_endpoint": format!("{u}/oauth/authorize"),
        "token_endpoint": format!("{u}/oauth/token"),
        "scopes_supported": ["user:check-access", "user:full", "user:info", "user:list-projects", "user:list-scoped-projects"],
        "response_types_supported": ["code", "token"],
        "grant_types_supported": ["authorization_code", "implicit"],
        "code_challenge_methods_supported": ["plain", "S256"]})
}

fn client(state: &State, name: &str) -> Option<Value> {
    let def = crate::resources::find("oauth.openshift.io", "v1", "oauthclients")?;
    state
        .store()
        .get(&crate::store::Key::new(def, "", name))
        .cloned()
}

/// osin's rule: same scheme and host (and port), and the path starts with the registered
/// path; a loopback registration without a port accepts any port.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    let (Ok(r), Ok(q)) = (
        requested.parse::<http::Uri>(),
        registered.parse::<http::Uri>(),
    ) else {
        return false;
    };
    if requested.contains('#') || r.scheme() != q.scheme() || r.host() != q.host() {
        return false;
    }
    let loopback = matches!(q.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    let port_ok = r.port_u16() == q.port_u16() || (loopback && q.port_u16().is_none());
    let base = q.path().trim_end_matches('/');
    port_ok
        && (r.path() == q.path() || r.path().starts_with(&format!("{base}/")) || base.is_empty())
}

fn known_user(state: &State, headers: &HeaderMap, hint: &str) -> Result<String, String> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(tok) = auth.strip_prefix("Bearer ") {
        return state
            .tokens
            .lookup(tok.trim())
            .map(|u| u.name)
            .ok_or_else(|| "the bearer token is not valid".into());
    }
    if let Some(b) = auth.strip_prefix("Basic ")
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b.trim())
        && let Ok(text) = String::from_utf8(raw)
    {
        let user = text.split(':').next().unwrap_or("").to_string();
        return state
            .tokens
            .user(&user)
            .map(|u| u.name)
            .ok_or_else(|| format!("no sandbox user {user:?}"));
    }
    let name = if hint.is_empty() { "member" } else { hint };
    state
        .tokens
        .user(name)
        .map(|u| u.name)
        .ok_or_else(|| format!("no sandbox user {name:?}"))
}

/// Handle `/.well-known/oauth-authorization-server` and `/oauth/*`.
pub fn handle(
    state: &State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    match (method.as_str(), path) {
        ("GET", "/.well-known/oauth-authorization-server") => json_resp(200, &metadata(state)),
        ("GET", "/oauth/authorize") => authorize(state, headers, &parse_query(query)),
        ("POST", "/oauth/token") => {
            let form = parse_query(std::str::from_utf8(body).ok());
            token(state, headers, &form)
        }
        _ => oauth_error(404, "not_found", "no such OAuth endpoint"),
    }
}

fn authorize(state: &State, headers: &HeaderMap, q: &BTreeMap<String, String>) -> Response<Body> {
    let get = |k: &str| q.get(k).map_or("", String::as_str);
    let client_id = get("client_id");
    let Some(c) = client(state, client_id) else {
        return oauth_error(
            400,
            "unauthorized_client",
            "The client is not authorized to request a token using this method.",
        );
    };
    let registered: Vec<&str> = c
        .get("redirectURIs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let redirect_uri = match get("redirect_uri") {
        "" => registered.first().copied().unwrap_or(""),
        u => u,
    };
    if redirect_uri.is_empty() || !registered.iter().any(|r| redirect_matches(r, redirect_uri)) {
        return oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
        );
    }
    let st = get("state");
    let fail = |error: &str, description: &str| {
        let mut p = vec![("error", error), ("error_description", description)];
        if !st.is_empty() {
            p.push(("state", st));
        }
        redirect(&with_query(redirect_uri, &p))
    };
    if get("response_type") != "code" {
        return fail(
            "unsupported_response_type",
            "The authorization server does not support obtaining a token using this method.",
        );
    }
    if s(&c, "/grantMethod") == "deny" {
        return fail(
            "access_denied",
            "The resource owner or authorization server denied the request.",
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
            "code_challenge_method must be plain or S256",
        );
    }
    let user = match known_user(state, headers, get("login_hint")) {
        Ok(u) => u,
        Err(why) => return fail("access_denied", &why),
    };
    let mut scopes: Vec<String> = get("scope")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if scopes.is_empty() {
        scopes.push("user:full".into());
    }
    let malformed: Vec<String> = scopes
        .iter()
        .enumerate()
        .filter_map(|(i, sc)| crate::rbac::scopes::validate(i, sc).err())
        .collect();
    if !malformed.is_empty() {
        return fail("invalid_scope", &aggregate(&malformed));
    }
    let mut denied: Vec<&str> = scopes
        .iter()
        .filter(|sc| crate::rbac::scopes::restriction_refuses(&c, sc).is_some())
        .map(String::as_str)
        .collect();
    if !denied.is_empty() {
        denied.sort_unstable();
        denied.dedup();
        return fail(
            "access_denied",
            &format!("scope denied: {}", denied.join(" ")),
        );
    }
    let code: [u8; 32] = rand::random();
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(code);
    lock(&state.oauth.codes).insert(
        code.clone(),
        Grant {
            user,
            client: client_id.into(),
            redirect_uri: redirect_uri.into(),
            challenge: (!challenge.is_empty()).then(|| (method.to_string(), challenge.to_string())),
            scopes,
            created: Instant::now(),
        },
    );
    let mut p = vec![("code", code.as_str())];
    if !st.is_empty() {
        p.push(("state", st));
    }
    redirect(&with_query(redirect_uri, &p))
}

/// Several errors as Kubernetes aggregates them: one as is, more as `[a, b]`.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn secret_ok(c: &Value, given: Option<&str>) -> bool {
    let secret = s(c, "/secret");
    let extra: Vec<&str> = c
        .get("additionalSecrets")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if secret.is_empty() && extra.is_empty() {
        return true;
    }
    given.is_some_and(|g| !g.is_empty() && (g == secret || extra.contains(&g)))
}

/// An access token, as OpenShift issues it: opaque, expiring after the client's
/// `accessTokenMaxAgeSeconds` (default 24 h; 0: never), and without a refresh token (the
/// OpenShift OAuth server never issues one).
fn issue(state: &State, c: &Value, g: &Grant) -> Response<Body> {
    let Some(mut user) = state.tokens.user(&g.user) else {
        return oauth_error(400, "invalid_grant", "the user no longer exists");
    };
    user.extra
        .insert(crate::authn::SCOPES_KEY.into(), g.scopes.clone());
    let ttl = c
        .get("accessTokenMaxAgeSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(86_400)
        .max(0);
    let token = crate::authn::new_token();
    let expires = (ttl > 0)
        .then(|| Instant::now() + Duration::from_secs(u64::try_from(ttl).unwrap_or(86_400)));
    state.tokens.insert_issued(&token, user, expires);
    let mut body =
        json!({"access_token": token, "token_type": "Bearer", "scope": g.scopes.join(" ")});
    if ttl > 0 {
        body["expires_in"] = json!(ttl);
    }
    json_resp(200, &body)
}

fn token(state: &State, headers: &HeaderMap, form: &BTreeMap<String, String>) -> Response<Body> {
    let (client_id, secret) = client_auth(headers, form);
    let Some(c) = client(state, &client_id) else {
        return oauth_error(
            401,
            "unauthorized_client",
            "The client is not authorized to request a token using this method.",
        );
    };
    if !secret_ok(&c, secret.as_deref()) {
        return oauth_error(
            401,
            "unauthorized_client",
            "The client is not authorized to request a token using this method.",
        );
    }
    let get = |k: &str| form.get(k).map_or("", String::as_str);
    let invalid = || {
        oauth_error(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
    };
    match get("grant_type") {
        "authorization_code" => {
            let Some(g) = lock(&state.oauth.codes).remove(get("code")) else {
                return invalid();
            };
            if g.client != client_id
                || g.created.elapsed() > CODE_TTL
                || (!get("redirect_uri").is_empty() && g.redirect_uri != get("redirect_uri"))
            {
                return invalid();
            }
            if let Some((m, ch)) = &g.challenge
                && !pkce_ok(m, ch, get("code_verifier"))
            {
                return invalid();
            }
            // OpenShift checks the code's scopes against the client as it is now: a
            // restriction added since the authorize step refuses the code.
            if g.scopes
                .iter()
                .any(|sc| crate::rbac::scopes::restriction_refuses(&c, sc).is_some())
            {
                return invalid();
            }
            issue(state, &c, &g)
        }
        // No refresh token is ever issued, so none is valid.
        "refresh_token" => invalid(),
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!(
                "The authorization grant type {other:?} is not supported by the authorization server."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_rules() {
        assert!(redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb"
        ));
        assert!(redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb/x"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cbx"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "http://app.example.com/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://evil.example.com/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:43211/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1:43211/callback"
        ));
    }
}
