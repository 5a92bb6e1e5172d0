//! The HTTPS server and the request pipeline: authenticate, impersonate, resolve the
//! request (kube's `RequestInfo`), authorize, dispatch, audit.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;

use crate::audit::{AuditEntry, AuditLog};
use crate::authn::{OidcVerifier, TokenTable, UserInfo};
use crate::rbac::{self, Attributes};
use crate::resources::{self, ResourceDef};
use crate::status::ApiError;
use crate::store::Store;

/// Everything the handlers share.
#[derive(Debug)]
pub struct State {
    pub store: Mutex<Store>,
    pub tokens: TokenTable,
    pub oidc: Option<OidcVerifier>,
    pub audit: AuditLog,
    pub server_address: String,
    pub apps_domain: String,
    pub next_ip: Mutex<u32>,
    /// `https://127.0.0.1:<port>`: what pods' kubeconfigs point at.
    pub api_url: String,
    pub ca_pem: String,
    pub kubelet: crate::kubelet::Kubelet,
    pub router: crate::router::RouterInfo,
    pub issuer: Arc<crate::issuer::Issuer>,
    pub oauth: crate::oauth::OAuthServer,
    pub faults: crate::faults::Faults,
    /// OpenShift or plain Kubernetes: which API groups are served, which ingress controller.
    pub flavour: crate::flavour::Flavour,
    /// The Kubernetes flavour's cert-manager stand-in (serves `cert-manager.io`).
    pub cert_manager: bool,
    /// The sandbox CA, for certificates the cert-manager stand-in issues.
    pub ca: Arc<crate::tls::Ca>,
}

impl State {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock is a sandbox bug; keep serving with the data.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn alloc_ip(&self) -> String {
        let mut n = self
            .next_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        format!("172.30.{}.{}", (*n >> 8) & 0xff, *n & 0xff)
    }
}

/// What a request addresses (kube's `RequestInfo`).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub resource_request: bool,
    pub path: String,
    pub verb: String,
    pub group: String,
    pub version: String,
    /// Plural resource name, without subresource.
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub watch: bool,
    /// The resource ("a/b" for subresources), if served.
    pub def: Option<&'static ResourceDef>,
}

/// Decode `%XX` escapes; in query strings `+` also means a space.
pub fn percent_decode(s: &str) -> String {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn request_info(method: &Method, path: &str, query: &BTreeMap<String, String>) -> RequestInfo {
    let mut ri = RequestInfo {
        path: path.to_string(),
        ..Default::default()
    };
    let http_verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    };
    ri.verb = http_verb.into();
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => {
            ri.version = (*v).into();
            rest
        }
        ["apis", g, v, rest @ ..] if !rest.is_empty() => {
            ri.group = (*g).into();
            ri.version = (*v).into();
            rest
        }
        _ => return ri,
    };
    ri.resource_request = true;
    let mut rest = rest;
    if rest.first() == Some(&"watch") {
        ri.watch = true;
        rest = &rest[1..];
    }
    if rest.len() >= 2 && rest[0] == "namespaces" {
        ri.namespace = rest[1].to_string();
        if rest.len() > 2 && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize")) {
            rest = &rest[2..];
        }
    }
    ri.resource = rest.first().map(|s| (*s).to_string()).unwrap_or_default();
    ri.name = rest.get(1).map(|s| (*s).to_string()).unwrap_or_default();
    ri.subresource = rest.get(2).map(|s| (*s).to_string()).unwrap_or_default();
    if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
        ri.watch = true;
    }
    // Connect subresources (WebSocket GETs included) need `create` (kube-apiserver's
    // AuthorizePodWebsocketUpgradeCreatePermission, on since 1.31).
    let connect = ri.resource == "pods"
        && matches!(ri.subresource.as_str(), "portforward" | "exec" | "attach");
    ri.verb = match (http_verb, ri.name.is_empty()) {
        _ if connect => "create",
        ("get", _) if ri.watch => "watch",
        ("get", true) => "list",
        ("get", false) => "get",
        ("post", _) => "create",
        ("put", _) => "update",
        ("patch", _) => "patch",
        ("delete", true) => "deletecollection",
        ("delete", false) => "delete",
        (v, _) => v,
    }
    .into();
    // OpenShift resolves a project's namespace to its own name, so project-level
    // RoleBindings grant access to the Project object.
    if ri.group == "project.openshift.io" && ri.resource == "projects" && !ri.name.is_empty() {
        ri.namespace.clone_from(&ri.name);
    }
    let full = if ri.subresource.is_empty() {
        ri.resource.clone()
    } else {
        format!("{}/{}", ri.resource, ri.subresource)
    };
    ri.def = resources::find(&ri.group, &ri.version, &full);
    ri
}

/// The per-request context handed to handlers.
#[derive(Debug)]
pub struct Ctx {
    pub user: UserInfo,
    pub info: RequestInfo,
    pub query: BTreeMap<String, String>,
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
    pub method: Method,
    /// The connection upgrade (port-forward), when the client asked for one.
    pub upgrade: Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

impl Ctx {
    pub fn q(&self, k: &str) -> &str {
        self.query.get(k).map_or("", String::as_str)
    }

    pub fn header(&self, k: &str) -> &str {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn dry_run(&self) -> bool {
        self.q("dryRun") == "All"
    }

    pub fn wants_table(&self) -> bool {
        self.header("accept")
            .split(',')
            .next()
            .is_some_and(|a| a.contains("as=Table"))
    }

    pub fn field_manager(&self) -> String {
        let fm = self.q("fieldManager");
        if !fm.is_empty() {
            return fm.to_string();
        }
        // kube-apiserver derives the manager from the User-Agent's program name.
        let ua = self.header("user-agent");
        let prog = ua.split('/').next().unwrap_or("").trim();
        if prog.is_empty() {
            "unknown".into()
        } else {
            prog.into()
        }
    }
}

pub type Resp = Response<Body>;

pub fn json_response(code: u16, v: &Value) -> Resp {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn error_response(e: &ApiError) -> Resp {
    json_response(e.code, &e.to_status())
}

pub fn text_response(code: u16, s: String) -> Resp {
    let mut r = Response::new(Body::from(s));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, tok) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| tok.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Add groups from OpenShift `Group` objects that list the user (OpenShift does this for
/// its own users, so binding a role to a Group object's name works).
fn with_openshift_groups(state: &State, mut user: UserInfo) -> UserInfo {
    let store = state.store();
    for (k, g) in store.list("user.openshift.io/groups", None) {
        let member = g
            .get("users")
            .and_then(Value::as_array)
            .is_some_and(|u| u.iter().any(|x| x.as_str() == Some(&user.name)));
        if member && !user.groups.contains(&k.name) {
            user.groups.push(k.name.clone());
        }
    }
    user
}

pub async fn authenticate_token(state: &State, token: &str) -> Result<UserInfo, String> {
    if let Some(u) = state.tokens.lookup(token) {
        if !state.flavour.is_openshift() {
            return Ok(u.authenticated());
        }
        return Ok(with_openshift_groups(state, u.authenticated()));
    }
    if let Some(oidc) = &state.oidc
        && crate::authn::looks_like_jwt(token)
    {
        return oidc.verify(token).await.map_err(|e| e.to_string());
    }
    Err("invalid bearer token".into())
}

/// Apply `Impersonate-*` headers after checking the `impersonate` verb for each.
fn impersonate(
    state: &State,
    user: UserInfo,
    headers: &HeaderMap,
) -> Result<(UserInfo, Option<String>), ApiError> {
    let get_all = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect()
    };
    let Some(target) = get_all("impersonate-user").into_iter().next() else {
        if !get_all("impersonate-group").is_empty() || !get_all("impersonate-uid").is_empty() {
            return Err(ApiError::new(
                500,
                "InternalError",
                "Internal error occurred: requested impersonation without a user",
            ));
        }
        return Ok((user, None));
    };
    let groups = get_all("impersonate-group");
    let uid = get_all("impersonate-uid")
        .into_iter()
        .next()
        .unwrap_or_default();
    let store = state.store();
    let mut checks = Vec::new();
    if let Some(sa) = target.strip_prefix("system:serviceaccount:") {
        let (ns, name) = sa.split_once(':').unwrap_or(("", sa));
        checks.push(Attributes::resource(
            &user,
            "impersonate",
            "",
            "serviceaccounts",
            ns,
            name,
        ));
    } else {
        checks.push(Attributes::resource(
            &user,
            "impersonate",
            "",
            "users",
            "",
            &target,
        ));
    }
    for g in &groups {
        checks.push(Attributes::resource(
            &user,
            "impersonate",
            "",
            "groups",
            "",
            g,
        ));
    }
    if !uid.is_empty() {
        checks.push(Attributes::resource(
            &user,
            "impersonate",
            "authentication.k8s.io",
            "uids",
            "",
            &uid,
        ));
    }
    for a in checks {
        if !rbac::authorize(&store, &a).allowed {
            return Err(ApiError::new(403, "Forbidden", a.forbidden_message())
                .with_details(serde_json::json!({"name": a.name, "kind": a.resource})));
        }
    }
    let mut u = UserInfo {
        name: target,
        uid,
        groups,
        ..Default::default()
    };
    if let Some(sa) = u.name.strip_prefix("system:serviceaccount:") {
        let ns = sa.split(':').next().unwrap_or("").to_string();
        u.groups.push("system:serviceaccounts".into());
        u.groups.push(format!("system:serviceaccounts:{ns}"));
    }
    Ok((u.authenticated(), Some(user.name)))
}

/// One request through the whole pipeline.
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let (mut parts, body) = req.into_parts();
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let body = match axum::body::to_bytes(Body::new(body), 64 << 20).await {
        Ok(b) => b,
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading the request body failed: {e}"
            ))));
        }
    };
    let path = decode(parts.uri.path(), false);
    let query = parse_query(parts.uri.query());
    let mut info = request_info(&parts.method, &path, &query);
    // What the flavour does not serve is a 404 after authorization, as on a cluster
    // without that API group.
    if info
        .def
        .is_some_and(|d| !state.flavour.serves(d, state.cert_manager))
    {
        info.def = None;
    }
    let mut entry = AuditEntry {
        timestamp: crate::store::now_rfc3339(),
        method: parts.method.to_string(),
        request_uri: parts.uri.to_string(),
        verb: info.verb.clone(),
        api_group: info.group.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .into(),
        dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .into(),
        ..Default::default()
    };
    let fault = state.faults.pick(
        crate::faults::Target::Api,
        parts.method.as_str(),
        &info.verb,
        &path,
    );
    entry.fault = fault.as_ref().map(ToString::to_string);
    let resp = if let Some(early) = fault.as_ref().and_then(fault_response) {
        early
    } else if state.flavour.is_openshift() && crate::oauth::serves(&path) {
        // The OAuth server is not behind the API's authentication and authorization.
        crate::oauth::handle(
            &state,
            &parts.method,
            &path,
            parts.uri.query(),
            &parts.headers,
            &body,
        )
    } else {
        pipeline(
            &state,
            parts.method,
            parts.headers,
            (info, on_upgrade),
            query,
            body,
            &mut entry,
        )
        .await
    };
    if let Some(crate::faults::FaultKind::Latency(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    entry.code = resp.status().as_u16();
    state.audit.write(&entry);
    if fault == Some(crate::faults::FaultKind::Drop) {
        return Ok(crate::faults::dropped(resp).await);
    }
    Ok(resp)
}

/// The response of a fault that replaces the real one (5xx, 429).
fn fault_response(f: &crate::faults::FaultKind) -> Option<Resp> {
    use crate::faults::FaultKind;
    match f {
        FaultKind::Status(500) => Some(error_response(&ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: fault injected by oc-mcp-sandbox",
        ))),
        FaultKind::Status(409) => Some(error_response(&ApiError::new(
            409,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply your \
             changes to the latest version and try again (fault injected by oc-mcp-sandbox)",
        ))),
        FaultKind::Status(code) => Some(error_response(&ApiError::new(
            *code,
            "ServiceUnavailable",
            "the server is currently unable to handle the request (fault injected by oc-mcp-sandbox)",
        ))),
        FaultKind::TooManyRequests { retry_after } => {
            let mut e = ApiError::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            );
            e = e.with_details(serde_json::json!({"retryAfterSeconds": retry_after}));
            let mut r = error_response(&e);
            if let Ok(v) = http::HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            Some(r)
        }
        FaultKind::Latency(_) | FaultKind::Drop => None,
    }
}

async fn pipeline(
    state: &Arc<State>,
    method: Method,
    headers: HeaderMap,
    (info, upgrade): (RequestInfo, Option<hyper::upgrade::OnUpgrade>),
    query: BTreeMap<String, String>,
    body: axum::body::Bytes,
    entry: &mut AuditEntry,
) -> Resp {
    let user = match bearer(&headers) {
        Some(tok) => match authenticate_token(state, &tok).await {
            Ok(u) => u,
            Err(why) => {
                tracing::debug!("authentication failed: {why}");
                entry.user = String::new();
                return error_response(&ApiError::unauthorized());
            }
        },
        None => UserInfo::anonymous(),
    };
    let (user, by) = match impersonate(state, user.clone(), &headers) {
        Ok(x) => x,
        Err(e) => {
            entry.user = user.name;
            entry.groups = user.groups;
            return error_response(&e);
        }
    };
    entry.user.clone_from(&user.name);
    entry.groups.clone_from(&user.groups);
    entry.impersonated_by = by;

    let attrs = if info.resource_request {
        let res = if info.subresource.is_empty() {
            info.resource.clone()
        } else {
            format!("{}/{}", info.resource, info.subresource)
        };
        Attributes::resource(
            &user,
            &info.verb,
            &info.group,
            &res,
            &info.namespace,
            &info.name,
        )
    } else {
        Attributes::non_resource(&user, &info.verb, &info.path)
    };
    let decision = rbac::authorize(&state.store(), &attrs);
    if !decision.allowed {
        let mut e = ApiError::new(403, "Forbidden", attrs.forbidden_message());
        if attrs.resource_request {
            e = e.with_details(serde_json::json!({"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource}));
        }
        return error_response(&e);
    }
    let ctx = Ctx {
        user,
        info,
        query,
        headers,
        body,
        method,
        upgrade: Mutex::new(upgrade),
    };
    if !ctx.info.resource_request {
        return crate::handlers::non_resource(state, &ctx);
    }
    crate::handlers::resource(state, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ri(method: Method, path_and_query: &str) -> RequestInfo {
        let (p, q) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        request_info(&method, p, &parse_query(Some(q)))
    }

    #[test]
    fn request_info_like_kube() {
        let r = ri(Method::GET, "/api/v1/namespaces/default/pods/web/log");
        assert_eq!(
            (
                r.verb.as_str(),
                r.resource.as_str(),
                r.subresource.as_str(),
                r.namespace.as_str(),
                r.name.as_str()
            ),
            ("get", "pods", "log", "default", "web")
        );
        let r = ri(Method::GET, "/api/v1/namespaces/team");
        assert_eq!(
            (
                r.verb.as_str(),
                r.resource.as_str(),
                r.namespace.as_str(),
                r.name.as_str()
            ),
            ("get", "namespaces", "team", "team")
        );
        let r = ri(Method::GET, "/apis/apps/v1/deployments?watch=true");
        assert_eq!((r.verb.as_str(), r.group.as_str()), ("watch", "apps"));
        let r = ri(
            Method::DELETE,
            "/api/v1/namespaces/x/configmaps?labelSelector=a%3Db",
        );
        assert_eq!(r.verb, "deletecollection");
        let r = ri(Method::PUT, "/api/v1/namespaces/x/status");
        assert_eq!(
            (r.resource.as_str(), r.subresource.as_str(), r.name.as_str()),
            ("namespaces", "status", "x")
        );
        let r = ri(Method::GET, "/apis/project.openshift.io/v1/projects/p1");
        assert_eq!(
            r.namespace, "p1",
            "OpenShift resolves a project's namespace to its name"
        );
        let r = ri(Method::GET, "/apis");
        assert!(!r.resource_request);
        assert_eq!(
            parse_query(Some("labelSelector=app+in+%28a%2Cb%29"))
                .get("labelSelector")
                .map(String::as_str),
            Some("app in (a,b)")
        );
        assert_eq!(
            decode("/api/v1/namespaces/a+b", false),
            "/api/v1/namespaces/a+b"
        );
    }
}
