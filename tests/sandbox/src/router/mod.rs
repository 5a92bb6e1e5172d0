//! The OpenShift router: one loopback HTTPS listener terminating TLS for every admitted
//! Route (a `*.<apps domain>` certificate signed by the sandbox CA; other hosts get a
//! certificate minted for their SNI, Routes with their own certificate use it), choosing the
//! Route by Host and path, and forwarding to a ready pod process of the Route's Service; plus
//! a plain HTTP listener that redirects or allows per `insecureEdgeTerminationPolicy`.
//! `DIR/resolve` lists `host:port:127.0.0.1` for every admitted host (the curl `--resolve`
//! format), because no DNS serves the apps domain. In the Kubernetes flavour the same
//! listeners serve Ingresses instead (see crate::ingress).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::server::State;

mod certificates;

pub use certificates::{key_from_pem, tls_config};

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Where the router listens.
#[derive(Debug, Clone, Copy)]
pub struct RouterInfo {
    pub https: SocketAddr,
    pub http: SocketAddr,
}

/// Hop-by-hop headers a proxy must not forward.
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

const NOT_AVAILABLE: &str = "<html>\n  <head>\n    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n    <title>Application is not available</title>\n  </head>\n  <body>\n    <h1>Application is not available</h1>\n    <p>The application is currently not serving requests at this endpoint. It may not have been started or is still starting.</p>\n  </body>\n</html>\n";

fn not_available() -> Response<Body> {
    let mut r = Response::new(Body::from(NOT_AVAILABLE));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0, no-cache, no-store"),
    );
    h.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn is_admitted(route: &Value) -> bool {
    route
        .pointer("/status/ingress")
        .and_then(Value::as_array)
        .is_some_and(|ings| {
            ings.iter().any(|i| {
                i.get("conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| s(c, "/type") == "Admitted" && s(c, "/status") == "True")
                    })
            })
        })
}

/// Every admitted Route.
pub fn admitted_routes(state: &State) -> Vec<Value> {
    state
        .store()
        .list("route.openshift.io/routes", None)
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| is_admitted(r))
        .cloned()
        .collect()
}

/// The admitted Route for a host and path: exact host, longest matching path prefix.
pub fn find_route(state: &State, host: &str, path: &str) -> Option<Value> {
    admitted_routes(state)
        .into_iter()
        .filter(|r| s(r, "/spec/host").eq_ignore_ascii_case(host))
        .filter(|r| {
            let p = s(r, "/spec/path");
            p.is_empty()
                || p == "/"
                || path == p
                || path.starts_with(&format!("{}/", p.trim_end_matches('/')))
        })
        .max_by_key(|r| s(r, "/spec/path").len())
}

/// A ready backend address for a Route: its Service's Endpoints, the Route's target port,
/// then the kubelet's process for that pod.
pub fn backend(state: &State, route: &Value) -> Option<SocketAddr> {
    let ns = s(route, "/metadata/namespace");
    let svc = s(route, "/spec/to/name");
    let def = crate::resources::find("", "v1", "endpoints")?;
    let ep = state
        .store()
        .get(&crate::store::Key::new(def, ns, svc))
        .cloned()?;
    let target = route.pointer("/spec/port/targetPort");
    let mut candidates = Vec::new();
    for subset in ep
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports: Vec<&Value> = subset
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let port = match target {
            Some(Value::String(name)) => ports.iter().find(|p| s(p, "/name") == name),
            Some(Value::Number(n)) => ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_i64) == n.as_i64()),
            _ => ports.first(),
        }
        .and_then(|p| p.get("port").and_then(Value::as_u64))
        .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for a in subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            candidates.push((s(a, "/targetRef/uid").to_string(), port));
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let start = rand::random_range(0..candidates.len());
    candidates
        .iter()
        .cycle()
        .skip(start)
        .take(candidates.len())
        .find_map(|(uid, port)| state.kubelet.address(uid, *port))
}

/// Serve the HTTPS (`tls: Some`) or HTTP listener (until the task is aborted).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<State>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("router accept failed: {e}");
                continue;
            }
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let https = acceptor.is_some();
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req, https, peer).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            let result = match acceptor {
                Some(a) => match a.accept(tcp).await {
                    Ok(stream) => builder.serve_connection(TokioIo::new(stream), svc).await,
                    Err(_) => return,
                },
                None => builder.serve_connection(TokioIo::new(tcp), svc).await,
            };
            if let Err(e) = result {
                tracing::debug!("router connection ended: {e}");
            }
        });
    }
}

async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    https: bool,
    peer: SocketAddr,
) -> Response<Body> {
    use crate::faults::{FaultKind, Target};
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let fault = state
        .faults
        .pick(Target::Router, &method, &method.to_ascii_lowercase(), &path);
    let Some(f) = fault else {
        return route(state, req, https, peer).await;
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let resp = match &f {
        FaultKind::Latency(d) => {
            tokio::time::sleep(*d).await;
            route(state, req, https, peer).await
        }
        FaultKind::Status(code) => {
            let mut r = Response::new(Body::from(format!(
                "fault injected by oc-mcp-sandbox: {code}\n"
            )));
            *r.status_mut() =
                StatusCode::from_u16(*code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            r
        }
        FaultKind::TooManyRequests { retry_after } => {
            let mut r = Response::new(Body::from("Too many requests, please try again later.\n"));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            r
        }
        FaultKind::Drop => route(state, req, https, peer).await,
    };
    state.audit.write(&crate::audit::AuditEntry {
        timestamp: crate::store::now_rfc3339(),
        method: method.clone(),
        request_uri: format!("{}://{host}{path}", if https { "https" } else { "http" }),
        verb: method.to_ascii_lowercase(),
        code: resp.status().as_u16(),
        user_agent: "router".into(),
        fault: Some(f.to_string()),
        ..Default::default()
    });
    if f == FaultKind::Drop {
        return crate::faults::dropped(resp).await;
    }
    resp
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    https: bool,
    peer: SocketAddr,
) -> Response<Body> {
    let host_header = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(http::uri::Authority::as_str))
        .unwrap_or("")
        .to_string();
    let host = host_header
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host_header.as_str(), |(h, _)| h)
        .to_ascii_lowercase();
    let path = req.uri().path().to_string();
    if !state.flavour.is_openshift() {
        return ingress(state, req, https, peer, (&host_header, &host)).await;
    }
    let Some(route) = find_route(state, &host, &path) else {
        return not_available();
    };
    let tls = route.pointer("/spec/tls").filter(|t| t.is_object());
    let termination = tls.map_or("", |t| s(t, "/termination"));
    if !https && tls.is_some() {
        match s(&route, "/spec/tls/insecureEdgeTerminationPolicy") {
            "Redirect" => {
                let pq = req
                    .uri()
                    .path_and_query()
                    .map_or("/", http::uri::PathAndQuery::as_str);
                let location = format!("https://{host}:{}{pq}", state.router.https.port());
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::FOUND;
                if let Ok(v) = HeaderValue::from_str(&location) {
                    r.headers_mut().insert(http::header::LOCATION, v);
                }
                r.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                );
                return r;
            }
            "Allow" if termination == "edge" => {}
            _ => return not_available(),
        }
    }
    if https && (tls.is_none() || termination == "passthrough") {
        // Passthrough is decided before TLS termination on a real router; plain Routes are not
        // served on 443 at all.
        return not_available();
    }
    let Some(addr) = backend(state, &route) else {
        return not_available();
    };
    let timeout = route_timeout(&route);
    forward(state, req, (addr, timeout), https, peer, &host_header).await
}

const NGINX_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const NGINX_503: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn nginx_page(code: StatusCode, page: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    r
}

/// The Kubernetes flavour: ingress-nginx's behaviour for a request (see crate::ingress).
async fn ingress(
    state: &Arc<State>,
    req: Request<Incoming>,
    https: bool,
    peer: SocketAddr,
    (host_header, host): (&str, &str),
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let (found, tls_host) = {
        let store = state.store();
        let found = crate::ingress::find(&store, host, &path);
        let tls = crate::ingress::serves_host(&store, host) == Some(true);
        (found, tls)
    };
    // A host without a tls entry has no HTTPS server: the catch-all answers.
    let Some(m) = found.filter(|_| tls_host || !https) else {
        return nginx_page(StatusCode::NOT_FOUND, NGINX_404);
    };
    if !https && tls_host && crate::ingress::ssl_redirect(&m.ingress) {
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let location = format!("https://{host}:{}{pq}", state.router.https.port());
        let mut r = nginx_page(StatusCode::PERMANENT_REDIRECT, "");
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        return r;
    }
    let Some(addr) = crate::ingress::backend(state, &m) else {
        return nginx_page(StatusCode::SERVICE_UNAVAILABLE, NGINX_503);
    };
    let timeout = crate::ingress::read_timeout(&m.ingress);
    forward(state, req, (addr, timeout), https, peer, host_header).await
}

/// HAProxy's `timeout server` for a Route: the `haproxy.router.openshift.io/timeout`
/// annotation (`500ms`, `30s`, `5m`, `1h`, `1d`; a bare number is milliseconds), else 30 s.
pub fn route_timeout(route: &Value) -> Duration {
    let ann = route
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("haproxy.router.openshift.io/timeout"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (num, unit): (String, String) = ann.trim().chars().partition(char::is_ascii_digit);
    let Ok(n) = num.parse::<u64>() else {
        return Duration::from_secs(30);
    };
    match unit.as_str() {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => Duration::from_secs(30),
    }
}

/// A body that fails when the upstream sends nothing for `idle` (HAProxy's server timeout
/// cuts quiet streams, such as an SSE stream without events).
fn idle_limited(body: Incoming, idle: Duration) -> Body {
    use futures::StreamExt as _;
    let stream = futures::stream::unfold(
        Some(Body::new(body).into_data_stream()),
        move |s| async move {
            let mut s = s?;
            match tokio::time::timeout(idle, s.next()).await {
                Ok(Some(item)) => Some((item.map_err(std::io::Error::other), Some(s))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "router: server timeout",
                    )),
                    None,
                )),
            }
        },
    );
    Body::from_stream(stream)
}

async fn forward(
    state: &Arc<State>,
    req: Request<Incoming>,
    (addr, timeout): (SocketAddr, Duration),
    https: bool,
    peer: SocketAddr,
    host_header: &str,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    for h in HOP {
        parts.headers.remove(*h);
    }
    let port = if https {
        state.router.https.port()
    } else {
        state.router.http.port()
    };
    let proto = if https { "https" } else { "http" };
    let host_only = host_header.split(':').next().unwrap_or(host_header);
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let set = |parts: &mut http::request::Parts, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            parts.headers.insert(k, v);
        }
    };
    set(&mut parts, "x-forwarded-host", host_header.to_string());
    set(&mut parts, "x-forwarded-port", port.to_string());
    set(&mut parts, "x-forwarded-proto", proto.to_string());
    set(&mut parts, "x-forwarded-for", xff);
    set(
        &mut parts,
        "forwarded",
        format!("for={};host={host_only};proto={proto}", peer.ip()),
    );
    if addr.ip().is_loopback() {
        // Pods listen on loopback, where the server refuses a foreign Host (DNS-rebinding
        // guard; see KubeletConfig::pod_network). A real router keeps the client's Host;
        // here it travels in X-Forwarded-Host and Forwarded only.
        set(&mut parts, "host", addr.to_string());
    }
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_string();
    parts.uri = match pq.parse() {
        Ok(u) => u,
        Err(_) => return not_available(),
    };
    let Ok(Ok(tcp)) =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await
    else {
        return not_available();
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await
    else {
        return not_available();
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let upstream = Request::from_parts(parts, Body::new(body));
    match tokio::time::timeout(timeout, sender.send_request(upstream)).await {
        Err(_) => {
            let mut r = Response::new(Body::from(
                "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n",
            ));
            *r.status_mut() = StatusCode::GATEWAY_TIMEOUT;
            r
        }
        Ok(Ok(resp)) => {
            let (mut parts, body) = resp.into_parts();
            for h in HOP {
                parts.headers.remove(*h);
            }
            Response::from_parts(parts, idle_limited(body, timeout))
        }
        Ok(Err(e)) => {
            tracing::debug!("router upstream {addr} failed: {e}");
            let mut r = Response::new(Body::from(
                "upstream connect error or disconnect/reset before headers\n",
            ));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}

/// `host:port:127.0.0.1` for the HTTPS and HTTP ports of every admitted host, sorted.
pub fn resolve_lines(state: &State) -> Vec<String> {
    let mut hosts: Vec<String> = if state.flavour.is_openshift() {
        admitted_routes(state)
            .iter()
            .map(|r| s(r, "/spec/host").to_string())
            .filter(|h| !h.is_empty())
            .collect()
    } else {
        crate::ingress::hosts(&state.store())
    };
    hosts.sort();
    hosts.dedup();
    let mut out = Vec::new();
    for h in hosts {
        out.push(format!(
            "{h}:{}:{}",
            state.router.https.port(),
            state.router.https.ip()
        ));
        out.push(format!(
            "{h}:{}:{}",
            state.router.http.port(),
            state.router.http.ip()
        ));
    }
    out
}

/// Keep `path` (DIR/resolve) in step with the admitted Routes.
pub async fn write_resolve(state: Arc<State>, path: PathBuf) {
    let mut rx = state.store().subscribe();
    let mut last: Option<Vec<String>> = None;
    loop {
        let lines = resolve_lines(&state);
        if last.as_ref() != Some(&lines) {
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            last = Some(lines);
        }
        match rx.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                while rx.try_recv().is_ok() {}
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn haproxy_timeouts() {
        let r = |t: &str| json!({"metadata": {"annotations": {"haproxy.router.openshift.io/timeout": t}}});
        assert_eq!(route_timeout(&json!({})), Duration::from_secs(30));
        assert_eq!(route_timeout(&r("5m")), Duration::from_secs(300));
        assert_eq!(route_timeout(&r("2h")), Duration::from_secs(7200));
        assert_eq!(route_timeout(&r("1500")), Duration::from_millis(1500));
        assert_eq!(route_timeout(&r("90s")), Duration::from_secs(90));
        assert_eq!(route_timeout(&r("bogus")), Duration::from_secs(30));
    }
}
