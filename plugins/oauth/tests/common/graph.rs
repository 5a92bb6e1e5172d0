//! A fake Microsoft Graph v1.0 on 127.0.0.1 (plain http, which the plugin allows only for
//! loopback): enough of applications, servicePrincipals, addPassword and
//! oauth2PermissionGrants to register an app, and a log of every request in order.

use std::sync::{Arc, Mutex};

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const GRAPH_SP_ID: &str = "5c8a7b1e-0000-4000-8000-00000000g5p1";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `METHOD /path?query` with the `/v1.0` prefix removed and the query percent-decoded.
    pub line: String,
    pub prefer: Option<String>,
    pub authorization: Option<String>,
    pub body: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    token: String,
    apps: Vec<Value>,
    sps: Vec<Value>,
    grants: Vec<Value>,
    seen: Vec<Seen>,
    secrets_issued: Vec<String>,
    counter: u32,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist."}})),
    )
        .into_response()
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// `name='value'` inside `(...)` of a path segment.
fn key_in(path: &str, name: &str) -> Option<String> {
    quoted_after(path, &format!("{name}="))
}

/// The `'...'` right after `prefix`.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let path = text;
    let start = path.find(&format!("{prefix}'"))? + prefix.len() + 1;
    let end = path[start..].find('\'')? + start;
    Some(path[start..end].to_owned())
}

impl FakeGraph {
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            ..State::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v1.0", listener.local_addr().expect("addr"));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, &method, &uri, &headers, &body) }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("lock").seen.clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.line).collect()
    }

    pub fn clear(&self) {
        self.state.lock().expect("lock").seen.clear();
    }

    pub fn app(&self, unique: &str) -> Option<Value> {
        self.state
            .lock()
            .expect("lock")
            .apps
            .iter()
            .find(|a| a["uniqueName"] == unique)
            .cloned()
    }

    pub fn grants(&self) -> Vec<Value> {
        self.state.lock().expect("lock").grants.clone()
    }

    /// Every secretText addPassword handed out.
    pub fn secrets_issued(&self) -> Vec<String> {
        self.state.lock().expect("lock").secrets_issued.clone()
    }
}

#[allow(clippy::too_many_lines)]
fn handle(
    state: &Mutex<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut st = state.lock().expect("lock");
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_owned();
    let path = decode(&path);
    let query = uri.query().map(decode);
    let line = match &query {
        Some(q) => format!("{method} {path}?{q}"),
        None => format!("{method} {path}"),
    };
    let body: Option<Value> = serde_json::from_slice(body).ok();
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    st.seen.push(Seen {
        line,
        prefer: header("prefer"),
        authorization: header("authorization"),
        body: body.clone(),
    });
    if header("authorization") != Some(format!("Bearer {}", st.token)) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}})),
        )
            .into_response();
    }
    st.counter += 1;
    let n = st.counter;
    let id = |kind: u32| format!("{kind:08x}-0000-4000-8000-{n:012x}");
    let body = body.unwrap_or(Value::Null);
    match (method.as_str(), path.as_str()) {
        ("GET", "/organization") => axum::Json(json!({"value": [{"id": TENANT,
            "verifiedDomains": [{"name": DOMAIN, "isDefault": true}]}]}))
        .into_response(),
        ("GET", "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')") => {
            axum::Json(json!({"id": GRAPH_SP_ID, "oauth2PermissionScopes": [
                {"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "value": "User.Read"},
                {"id": "37f7f235-527c-4136-accd-4a02d197296e", "value": "openid"},
                {"id": "14dad69e-099b-42c9-810b-d002981feec1", "value": "profile"},
                {"id": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "value": "email"},
                {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "value": "offline_access"}]}))
            .into_response()
        }
        ("GET" | "PATCH", p) if p.starts_with("/applications(uniqueName=") => {
            let unique = key_in(p, "uniqueName").unwrap_or_default();
            let existing = st.apps.iter().position(|a| a["uniqueName"] == unique);
            match (method.as_str(), existing) {
                ("GET", Some(i)) => axum::Json(st.apps[i].clone()).into_response(),
                ("GET", None) => not_found(),
                ("PATCH", Some(i)) => {
                    merge(&mut st.apps[i], &body);
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => {
                    if header("prefer").as_deref() != Some("create-if-missing") {
                        return not_found();
                    }
                    let mut app = json!({"id": id(0xa), "appId": id(0xc), "uniqueName": unique,
                        "identifierUris": [], "passwordCredentials": [],
                        "api": {"requestedAccessTokenVersion": null, "oauth2PermissionScopes": []}});
                    merge(&mut app, &body);
                    st.apps.push(app.clone());
                    (StatusCode::CREATED, axum::Json(app)).into_response()
                }
            }
        }
        (m, p) if p.starts_with("/applications/") => {
            let rest = &p["/applications/".len()..];
            let (object_id, action) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(i) = st.apps.iter().position(|a| a["id"] == object_id) else {
                return not_found();
            };
            match (m, action) {
                ("GET", "") => axum::Json(st.apps[i].clone()).into_response(),
                ("PATCH", "") => {
                    merge(&mut st.apps[i], &body);
                    StatusCode::NO_CONTENT.into_response()
                }
                ("POST", "addPassword") => {
                    let text = format!("graph~secret{n:04}~{}", id(0x5ec));
                    let credential = json!({"keyId": id(0x1d), "displayName": body.pointer("/passwordCredential/displayName"),
                        "endDateTime": body.pointer("/passwordCredential/endDateTime"), "hint": &text[..3]});
                    if let Some(list) = st.apps[i]["passwordCredentials"].as_array_mut() {
                        list.push(credential.clone());
                    }
                    st.secrets_issued.push(text.clone());
                    let mut answer = credential;
                    answer["secretText"] = json!(text);
                    axum::Json(answer).into_response()
                }
                _ => not_found(),
            }
        }
        ("GET", p) if p.starts_with("/servicePrincipals(appId=") => {
            let app_id = key_in(p, "appId").unwrap_or_default();
            match st.sps.iter().find(|s| s["appId"] == app_id) {
                Some(sp) => axum::Json(sp.clone()).into_response(),
                None => not_found(),
            }
        }
        ("POST", "/servicePrincipals") => {
            let sp = json!({"id": id(0x5b), "appId": body["appId"]});
            st.sps.push(sp.clone());
            (StatusCode::CREATED, axum::Json(sp)).into_response()
        }
        ("GET", "/oauth2PermissionGrants") => {
            let filter = query.unwrap_or_default();
            let client = quoted_after(&filter, "clientId eq ").unwrap_or_default();
            let list: Vec<Value> = st
                .grants
                .iter()
                .filter(|g| g["clientId"] == client)
                .cloned()
                .collect();
            axum::Json(json!({"value": list})).into_response()
        }
        ("POST", "/oauth2PermissionGrants") => {
            let mut grant = body.clone();
            grant["id"] = json!(id(0x6a));
            st.grants.push(grant.clone());
            (StatusCode::CREATED, axum::Json(grant)).into_response()
        }
        ("PATCH", p) if p.starts_with("/oauth2PermissionGrants/") => {
            let gid = &p["/oauth2PermissionGrants/".len()..];
            match st.grants.iter_mut().find(|g| g["id"] == gid) {
                Some(g) => {
                    merge(g, &body);
                    StatusCode::NO_CONTENT.into_response()
                }
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}
