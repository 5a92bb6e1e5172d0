//! OpenShift's Ingress -> Route controller: a Route per Ingress rule, with its TLS from the
//! Ingress's Secret.

use serde_json::{Value, json};

use super::{arr, def, list, put, random_suffix, s};
use crate::events::{self, NORMAL};
use crate::store::{Key, Store};

const TERMINATION: &str = "route.openshift.io/termination";

/// The Route `spec.port.targetPort` for an Ingress backend: the Service port's name.
fn target_port(store: &Store, ns: &str, backend: &Value) -> Result<Option<String>, String> {
    let name = s(backend, "/service/name");
    let svc = store
        .get(&Key::new(def("", "services"), ns, name))
        .ok_or_else(|| format!("Backend service {name:?} not found"))?;
    let ports = arr(svc, "/spec/ports");
    let port_name = s(backend, "/service/port/name");
    let found = if port_name.is_empty() {
        let num = backend
            .pointer("/service/port/number")
            .and_then(Value::as_i64);
        ports
            .iter()
            .find(|p| p.get("port").and_then(Value::as_i64) == num)
    } else {
        ports.iter().find(|p| s(p, "/name") == port_name)
    };
    let p = found.ok_or_else(|| format!("No valid target port for backend service {name:?}"))?;
    Ok(Some(s(p, "/name").to_string()).filter(|n| !n.is_empty()))
}

fn tls_for(store: &Store, ing: &Value, host: &str) -> Result<Option<Value>, String> {
    let ann = ing.pointer("/metadata/annotations");
    let termination = ann
        .and_then(|a| a.get(TERMINATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    let secret_name = arr(ing, "/spec/tls").iter().find_map(|t| {
        arr(t, "/hosts")
            .iter()
            .any(|h| h.as_str() == Some(host))
            .then(|| s(t, "/secretName").to_string())
    });
    let secret = match &secret_name {
        Some(name) => {
            let sec = store
                .get(&Key::new(
                    def("", "secrets"),
                    s(ing, "/metadata/namespace"),
                    name,
                ))
                .filter(|sec| s(sec, "/type") == "kubernetes.io/tls")
                .ok_or_else(|| format!("Invalid or missing TLS secret for rule host {host:?}"))?;
            Some(sec.clone())
        }
        None => None,
    };
    let enabled = matches!(termination, "edge" | "reencrypt" | "passthrough") || secret.is_some();
    if !enabled {
        return Ok(None);
    }
    let termination = if termination.is_empty() {
        "edge"
    } else {
        termination
    };
    let mut tls = json!({"termination": termination, "insecureEdgeTerminationPolicy": "Redirect"});
    if termination != "passthrough"
        && let Some(sec) = &secret
    {
        let b64 = |k: &str| {
            sec.pointer(&format!("/data/{}", k.replace('/', "~1")))
                .and_then(Value::as_str)
                .and_then(|v| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.decode(v).ok()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        tls["certificate"] = json!(b64("tls.crt"));
        tls["key"] = json!(b64("tls.key"));
    }
    Ok(Some(tls))
}

pub(super) fn ingresses(store: &mut Store, apps_domain: &str) {
    let route_def = def("route.openshift.io", "routes");
    for (key, ing) in list(store, "networking.k8s.io/ingresses", None) {
        let class = ing
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("kubernetes.io/ingress.class"))
            .and_then(Value::as_str)
            .or_else(|| {
                ing.pointer("/spec/ingressClassName")
                    .and_then(Value::as_str)
            });
        if class.is_some_and(|c| c != "openshift-default") {
            continue;
        }
        let uid = s(&ing, "/metadata/uid").to_string();
        let mut old: Vec<(Key, Value)> =
            list(store, "route.openshift.io/routes", Some(&key.namespace))
                .into_iter()
                .filter(|(_, r)| {
                    arr(r, "/metadata/ownerReferences").iter().any(|o| {
                        s(o, "/kind") == "Ingress"
                            && s(o, "/name") == key.name
                            && o.get("controller") == Some(&json!(true))
                    })
                })
                .collect();
        let mut incomplete = Vec::new();
        let mut admitted_hosts = Vec::new();
        for (i, rule) in arr(&ing, "/spec/rules").iter().enumerate() {
            if rule.get("http").is_none() {
                incomplete.push(format!("Missing http field in rule at index {i}"));
                continue;
            }
            let host = s(rule, "/host");
            if host.is_empty() {
                incomplete.push(format!("Missing host field in rule at index {i}"));
                continue;
            }
            for (j, path) in arr(rule, "/http/paths").iter().enumerate() {
                let backend = path.get("backend").cloned().unwrap_or(json!({}));
                if s(&backend, "/service/name").is_empty() {
                    incomplete.push(format!(
                        "Missing backend service field in rule at index {i}, path index {j}"
                    ));
                    continue;
                }
                if s(path, "/pathType") == "Exact" {
                    incomplete.push(format!(
                        "Unsupported exact path type in rule at index {i}, path index {j}"
                    ));
                    continue;
                }
                let p = s(path, "/path");
                let existing = old
                    .iter()
                    .position(|(_, r)| s(r, "/spec/host") == host && s(r, "/spec/path") == p)
                    .map(|idx| old.swap_remove(idx));
                let spec = target_port(store, &key.namespace, &backend).and_then(|port| {
                    let tls = tls_for(store, &ing, host)?;
                    let mut spec = json!({"host": host, "to": {"kind": "Service", "name": s(&backend, "/service/name"), "weight": 100},
                        "wildcardPolicy": "None"});
                    if !p.is_empty() {
                        spec["path"] = json!(p);
                    }
                    if let Some(port) = port {
                        spec["port"] = json!({"targetPort": port});
                    }
                    if let Some(tls) = tls {
                        spec["tls"] = tls;
                    }
                    Ok(spec)
                });
                let spec = match spec {
                    Ok(spec) => spec,
                    Err(e) => {
                        incomplete.push(format!("{e} at index {i}, path index {j}"));
                        if let Some((k, _)) = existing {
                            let _ = store.delete(&k);
                        }
                        continue;
                    }
                };
                let annotations = ing
                    .pointer("/metadata/annotations")
                    .cloned()
                    .unwrap_or(json!({}));
                let owner = json!([{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "name": key.name, "uid": uid, "controller": true}]);
                match existing {
                    Some((k, r)) => {
                        let mut r2 = r.clone();
                        let mut spec = spec;
                        if let (Some(p), Some(t)) = (
                            r.pointer("/spec/tls/insecureEdgeTerminationPolicy"),
                            spec.get_mut("tls"),
                        ) {
                            t["insecureEdgeTerminationPolicy"] = p.clone();
                        }
                        spec["to"]["weight"] =
                            r.pointer("/spec/to/weight").cloned().unwrap_or(json!(100));
                        r2["spec"] = spec;
                        r2["metadata"]["annotations"] = annotations;
                        r2["metadata"]["ownerReferences"] = owner;
                        put(store, &k, r2);
                        admitted_hosts.push(host.to_string());
                    }
                    None => {
                        let name = format!("{}-{}", key.name, random_suffix(5));
                        let mut r = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
                            "metadata": {"name": name, "generateName": format!("{}-", key.name),
                                "namespace": key.namespace,
                                "annotations": annotations, "ownerReferences": owner},
                            "spec": spec});
                        if let Some(l) = ing
                            .pointer("/metadata/labels")
                            .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
                        {
                            r["metadata"]["labels"] = l.clone();
                        }
                        crate::validation::apply_defaults(
                            route_def,
                            &mut r,
                            apps_domain,
                            String::new,
                        );
                        if store
                            .create(Key::new(route_def, &key.namespace, &name), r)
                            .is_ok()
                        {
                            admitted_hosts.push(host.to_string());
                        }
                    }
                }
            }
        }
        for (k, _) in old {
            let _ = store.delete(&k);
        }
        if !incomplete.is_empty() {
            let msg = format!(
                "Incomplete ingress to route rules detected: {}",
                incomplete.join("; ")
            );
            let already = store
                .list("/events", Some(&key.namespace))
                .iter()
                .any(|(_, e)| s(e, "/involvedObject/uid") == uid && s(e, "/message") == msg);
            if !already {
                events::record(
                    store,
                    &ing,
                    NORMAL,
                    "IncompleteIngressToRouteRules",
                    &msg,
                    "route-controller-manager",
                );
            }
        }
        // The router's canonical hostname in the Ingress status, as OpenShift reports it.
        if let Some(cur) = store.get(&key).cloned() {
            let lb = if admitted_hosts.is_empty() {
                json!({})
            } else {
                json!({"ingress": [{"hostname": format!("router-default.{apps_domain}")}]})
            };
            if cur.pointer("/status/loadBalancer") != Some(&lb) {
                let mut i2 = cur;
                i2["status"] = json!({"loadBalancer": lb});
                put(store, &key, i2);
            }
        }
    }
}
