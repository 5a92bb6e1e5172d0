//! The Kubernetes flavour's ingress controller, modelled on ingress-nginx: it serves every
//! Ingress of its classes (`sandbox`, `nginx`, or no class) on the router's listeners.
//! A host named in a `spec.tls[].hosts` entry is served over HTTPS with the certificate of
//! that entry's `kubernetes.io/tls` Secret (the self-signed "fake" certificate when the
//! Secret is missing or unusable), and its plain HTTP requests are redirected (308) unless
//! `nginx.ingress.kubernetes.io/ssl-redirect: "false"`. A host without a tls entry is
//! served on plain HTTP only. Requests go to a ready pod of the backend Service, as the
//! Route router does. The controller sets `status.loadBalancer.ingress` to the router's
//! address, and with the cert-manager stand-in on, issues missing TLS Secrets of Ingresses
//! annotated `cert-manager.io/cluster-issuer` (or `cert-manager.io/issuer`) from the sandbox
//! CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::State;
use crate::store::{Key, Store};

/// The controller name of the seeded IngressClasses.
pub const CONTROLLER: &str = "k8s.io/ingress-nginx";
/// The classes served without an IngressClass object naming [`CONTROLLER`].
pub const CLASSES: &[&str] = &["sandbox", "nginx"];
/// The cert-manager stand-in's ClusterIssuer (backed by the sandbox CA).
pub const CLUSTER_ISSUER: &str = "sandbox-ca";

const SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/ssl-redirect";
const READ_TIMEOUT: &str = "nginx.ingress.kubernetes.io/proxy-read-timeout";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

fn annotation<'a>(ing: &'a Value, name: &str) -> Option<&'a str> {
    ing.pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

fn def(group: &str, resource: &str) -> Option<&'static crate::resources::ResourceDef> {
    crate::resources::find(group, "v1", resource)
}

/// Whether this controller serves the Ingress (its class, by field or legacy annotation).
fn ours(store: &Store, ing: &Value) -> bool {
    let class = ing
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .or_else(|| annotation(ing, "kubernetes.io/ingress.class"));
    let Some(class) = class else {
        return true;
    };
    CLASSES.contains(&class)
        || def("networking.k8s.io", "ingressclasses")
            .and_then(|d| store.get(&Key::new(d, "", class)))
            .is_some_and(|c| s(c, "/spec/controller") == CONTROLLER)
}

/// Every Ingress this controller serves.
pub fn served(store: &Store) -> Vec<Value> {
    store
        .list("networking.k8s.io/ingresses", None)
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| ours(store, i))
        .cloned()
        .collect()
}

/// An Ingress host pattern against a request host: exact, or `*.example.com` for exactly
/// one more label (the Ingress API's wildcard rule).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(suffix));
    }
    pattern.eq_ignore_ascii_case(host)
}

/// The tls entry of `ing` covering `host`.
fn tls_entry<'a>(ing: &'a Value, host: &str) -> Option<&'a Value> {
    arr(ing, "/spec/tls").iter().find(|t| {
        arr(t, "/hosts")
            .iter()
            .filter_map(Value::as_str)
            .any(|h| host_matches(h, host))
    })
}

/// Whether some served Ingress has a rule for `host` (`Some(true)`: and a tls entry for it,
/// so it is served over HTTPS; `Some(false)`: plain HTTP only).
pub fn serves_host(store: &Store, host: &str) -> Option<bool> {
    let ings = served(store);
    let has_rule = ings.iter().any(|i| {
        arr(i, "/spec/rules")
            .iter()
            .any(|r| !s(r, "/host").is_empty() && host_matches(s(r, "/host"), host))
    });
    has_rule.then(|| is_tls_host(&ings, host))
}

fn is_tls_host(ings: &[Value], host: &str) -> bool {
    ings.iter().any(|i| tls_entry(i, host).is_some())
}

/// The certificate for an SNI host from its tls entry's Secret; `None` when no entry covers
/// the host or the Secret is missing, of another type, or does not parse.
pub fn certified_key(store: &Store, host: &str) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let ings = served(store);
    let (ing, entry) = ings
        .iter()
        .find_map(|i| tls_entry(i, host).map(|t| (i, t)))?;
    let secret = store.get(&Key::new(
        def("", "secrets")?,
        s(ing, "/metadata/namespace"),
        s(entry, "/secretName"),
    ))?;
    if s(secret, "/type") != "kubernetes.io/tls" {
        return None;
    }
    let field = |k: &str| {
        secret
            .get("data")
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
    };
    crate::router::key_from_pem(&field("tls.crt")?, &field("tls.key")?)
}

/// The backend a request reaches: the Ingress it came through and its Service port.
#[derive(Debug, Clone)]
pub struct Match {
    pub ingress: Value,
    pub service: String,
    /// `{"number": n}` or `{"name": "http"}`.
    pub port: Value,
}

/// ingress-nginx's choice for a host and path: rules of the exact host before wildcard
/// rules before host-less rules; within those, an `Exact` match, then the longest
/// `Prefix`/`ImplementationSpecific` path (element-wise); else an Ingress's
/// `spec.defaultBackend`.
pub fn find(store: &Store, host: &str, path: &str) -> Option<Match> {
    let ings = served(store);
    let mut best: Option<((u8, bool, usize), Match)> = None;
    for ing in &ings {
        for rule in arr(ing, "/spec/rules") {
            let rh = s(rule, "/host");
            let host_rank = if rh.is_empty() {
                0
            } else if !host_matches(rh, host) {
                continue;
            } else if rh.starts_with("*.") {
                1
            } else {
                2
            };
            for p in arr(rule, "/http/paths") {
                let want = match s(p, "/path") {
                    "" => "/",
                    x => x,
                };
                let exact = s(p, "/pathType") == "Exact";
                let hit = if exact {
                    path == want
                } else {
                    let base = want.trim_end_matches('/');
                    base.is_empty() || path == base || path.starts_with(&format!("{base}/"))
                };
                let service = s(p, "/backend/service/name");
                if !hit || service.is_empty() {
                    continue;
                }
                let rank = (host_rank, exact, want.len());
                if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                    best = Some((
                        rank,
                        Match {
                            ingress: ing.clone(),
                            service: service.to_string(),
                            port: p
                                .pointer("/backend/service/port")
                                .cloned()
                                .unwrap_or(json!({})),
                        },
                    ));
                }
            }
        }
    }
    if let Some((_, m)) = best {
        return Some(m);
    }
    ings.iter().find_map(|ing| {
        let b = ing.pointer("/spec/defaultBackend/service")?;
        Some(Match {
            ingress: ing.clone(),
            service: s(b, "/name").to_string(),
            port: b.get("port").cloned().unwrap_or(json!({})),
        })
        .filter(|m| !m.service.is_empty())
    })
}

/// A ready pod address for a match: the Service port (by number or name) names the
/// Endpoints port, then the kubelet's process for the pod.
pub fn backend(state: &State, m: &Match) -> Option<SocketAddr> {
    let ns = s(&m.ingress, "/metadata/namespace").to_string();
    let target = {
        let store = state.store();
        let svc = store.get(&Key::new(def("", "services")?, &ns, &m.service))?;
        let ports = arr(svc, "/spec/ports");
        let port = match (
            m.port.get("number").and_then(Value::as_i64),
            m.port.get("name").and_then(Value::as_str),
        ) {
            (Some(n), _) => ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_i64) == Some(n))?,
            (None, Some(name)) => ports.iter().find(|p| s(p, "/name") == name)?,
            (None, None) => return None,
        };
        s(port, "/name").to_string()
    };
    // The Route router's Endpoints lookup, given the Service port's name (an unnamed port
    // is a single-port Service: the first Endpoints port).
    let mut route = json!({"metadata": {"namespace": ns}, "spec": {"to": {"name": m.service}}});
    if !target.is_empty() {
        route["spec"]["port"] = json!({"targetPort": target});
    }
    crate::router::backend(state, &route)
}

/// Whether plain HTTP to a TLS host is redirected (ingress-nginx's default).
pub fn ssl_redirect(ing: &Value) -> bool {
    annotation(ing, SSL_REDIRECT) != Some("false")
}

/// `proxy-read-timeout` in seconds (default 60).
pub fn read_timeout(ing: &Value) -> Duration {
    let secs = annotation(ing, READ_TIMEOUT)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Every exact (non-wildcard) rule host of a served Ingress, sorted (for `DIR/resolve`).
pub fn hosts(store: &Store) -> Vec<String> {
    let mut out: Vec<String> = served(store)
        .iter()
        .flat_map(|i| {
            arr(i, "/spec/rules")
                .iter()
                .map(|r| s(r, "/host").to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|h| !h.is_empty() && !h.starts_with("*."))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One controller pass: the load-balancer status of every served Ingress, and the
/// cert-manager stand-in's Secrets.
pub fn reconcile(store: &mut Store, state: &State) {
    let Some(ing_def) = def("networking.k8s.io", "ingresses") else {
        return;
    };
    let lb = json!({"ingress": [{"ip": state.router.https.ip().to_string()}]});
    for ing in served(store) {
        let key = Key::new(
            ing_def,
            s(&ing, "/metadata/namespace"),
            s(&ing, "/metadata/name"),
        );
        if state.cert_manager {
            issue_certificates(store, state, &ing);
        }
        if ing.pointer("/status/loadBalancer") != Some(&lb) {
            let mut i2 = ing.clone();
            i2["status"] = json!({"loadBalancer": lb});
            let _ = store.update(&key, i2);
        }
    }
}

/// cert-manager's ingress-shim, shortened: for each tls entry whose Secret is missing, a
/// `Certificate` (Ready) and its Secret signed by the sandbox CA, when the annotated issuer
/// exists.
fn issue_certificates(store: &mut Store, state: &State, ing: &Value) {
    let ns = s(ing, "/metadata/namespace").to_string();
    let (kind, issuer) = match (
        annotation(ing, "cert-manager.io/cluster-issuer"),
        annotation(ing, "cert-manager.io/issuer"),
    ) {
        (Some(i), _) => ("ClusterIssuer", i.to_string()),
        (None, Some(i)) => ("Issuer", i.to_string()),
        (None, None) => return,
    };
    let (Some(secret_def), Some(cert_def), Some(issuer_def)) = (
        def("", "secrets"),
        crate::resources::find(crate::flavour::CERT_MANAGER, "v1", "certificates"),
        crate::resources::find(
            crate::flavour::CERT_MANAGER,
            "v1",
            if kind == "ClusterIssuer" {
                "clusterissuers"
            } else {
                "issuers"
            },
        ),
    ) else {
        return;
    };
    let issuer_ns = if kind == "ClusterIssuer" { "" } else { &ns };
    if store
        .get(&Key::new(issuer_def, issuer_ns, &issuer))
        .is_none()
    {
        return;
    }
    for t in arr(ing, "/spec/tls") {
        let name = s(t, "/secretName");
        let hosts: Vec<String> = arr(t, "/hosts")
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        let secret_key = Key::new(secret_def, &ns, name);
        if name.is_empty() || hosts.is_empty() || store.get(&secret_key).is_some() {
            continue;
        }
        let Ok((crt, key)) = state.ca.issue_pem(&hosts) else {
            continue;
        };
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let owner = json!([{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "name": s(ing, "/metadata/name"), "uid": s(ing, "/metadata/uid"),
            "controller": true, "blockOwnerDeletion": true}]);
        let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": owner},
            "spec": {"secretName": name, "dnsNames": hosts,
                "issuerRef": {"group": "cert-manager.io", "kind": kind, "name": issuer},
                "usages": ["digital signature", "key encipherment"]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                "message": "Certificate is up to date and has not expired"}],
                "notAfter": "2099-01-01T00:00:00Z"}});
        let cert_key = Key::new(cert_def, &ns, name);
        if store.get(&cert_key).is_none() {
            let _ = store.create(cert_key, cert);
        }
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns, "annotations": {
                "cert-manager.io/alt-names": hosts.join(","),
                "cert-manager.io/certificate-name": name,
                "cert-manager.io/common-name": hosts.first().cloned().unwrap_or_default(),
                "cert-manager.io/issuer-kind": kind,
                "cert-manager.io/issuer-name": issuer,
                "cert-manager.io/issuer-group": "cert-manager.io"}},
            "data": {"tls.crt": b64(&crt), "tls.key": b64(&key), "ca.crt": b64(&state.ca_pem)}});
        let _ = store.create(secret_key, secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_hosts_match_one_label() {
        assert!(host_matches("a.example.com", "A.example.com"));
        assert!(host_matches("*.example.com", "mcp.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "mcpexample.com"));
    }

    #[test]
    fn longest_path_and_exact_host_win() {
        let mut store = Store::new();
        crate::seed::seed_flavour(
            &mut store,
            "apps.example.com",
            "",
            crate::flavour::Flavour::Kubernetes,
        );
        let def = def("networking.k8s.io", "ingresses").expect("served");
        let ing = |name: &str, host: &str, path: &str, svc: &str, class: Option<&str>| {
            let mut i = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": "Prefix",
                    "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}}]}});
            if let Some(c) = class {
                i["spec"]["ingressClassName"] = json!(c);
            }
            i
        };
        for (n, h, p, svc, c) in [
            ("a", "*.example.com", "/", "wild", None),
            ("b", "mcp.example.com", "/", "root", Some("sandbox")),
            ("c", "mcp.example.com", "/mcp", "mcp", Some("nginx")),
            ("d", "mcp.example.com", "/mcp/x", "other", Some("traefik")),
        ] {
            store
                .create(Key::new(def, "default", n), ing(n, h, p, svc, c))
                .expect("create");
        }
        let svc = |host: &str, path: &str| find(&store, host, path).map(|m| m.service);
        assert_eq!(svc("mcp.example.com", "/mcp/x").as_deref(), Some("mcp"));
        assert_eq!(svc("mcp.example.com", "/mcpx").as_deref(), Some("root"));
        assert_eq!(svc("x.example.com", "/mcp").as_deref(), Some("wild"));
        assert_eq!(svc("other.test", "/"), None);
        assert_eq!(serves_host(&store, "mcp.example.com"), Some(false));
        assert_eq!(hosts(&store), ["mcp.example.com"]);
    }
}
