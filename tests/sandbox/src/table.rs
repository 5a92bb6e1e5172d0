//! Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) with the
//! columns kube-apiserver and openshift-apiserver use, so `kubectl get` looks like a cluster.

use serde_json::{Value, json};

use crate::resources::ResourceDef;

/// kube's `duration.HumanDuration`, as used for the AGE column.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rs = s % 60;
        return if rs == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rs}s")
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let rm = m % 60;
        return if rm == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rm}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 192 {
        let rh = h % 24;
        let d = h / 24;
        return if rh == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rh}h")
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{}d", h / 24);
    }
    format!("{}y", h / (24 * 365))
}

fn age(obj: &Value) -> String {
    let Some(ts) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
    else {
        return "<unknown>".into();
    };
    match ts.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(t) => human_duration(k8s_openapi::jiff::Timestamp::now().as_second() - t.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn n(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn none_if_empty(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

fn subjects(obj: &Value, kind: &str) -> String {
    arr(obj, "/subjects")
        .iter()
        .filter(|x| s(x, "/kind") == kind)
        .map(|x| {
            if kind == "ServiceAccount" {
                format!("{}/{}", s(x, "/namespace"), s(x, "/name"))
            } else {
                s(x, "/name").to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: i64,
}

const fn col(name: &'static str, ty: &'static str, format: &'static str, priority: i64) -> Col {
    Col {
        name,
        ty,
        format,
        priority,
    }
}

const NAME: Col = col("Name", "string", "name", 0);
const AGE: Col = col("Age", "string", "", 0);

type Row = Vec<Value>;

fn columns_and_row(def: &ResourceDef, o: &Value) -> (Vec<Col>, Row) {
    let name = json!(s(o, "/metadata/name"));
    match (def.group, def.name) {
        ("", "namespaces") => (
            vec![NAME, col("Status", "string", "", 0), AGE],
            vec![name, json!(s(o, "/status/phase")), json!(age(o))],
        ),
        ("", "pods") => {
            let statuses = arr(o, "/status/containerStatuses");
            let total = arr(o, "/spec/containers").len();
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready") == Some(&json!(true)))
                .count();
            let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
            let phase = s(o, "/status/phase");
            // kubectl's printer: a waiting reason, else a terminated reason, else the phase.
            let status = statuses
                .iter()
                .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str))
                .or_else(|| {
                    statuses.iter().find_map(|c| {
                        c.pointer("/state/terminated/reason")
                            .and_then(Value::as_str)
                    })
                })
                .unwrap_or(if phase.is_empty() { "Pending" } else { phase });
            let status = if o.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating"
            } else {
                status
            };
            (
                vec![
                    NAME,
                    col("Ready", "string", "", 0),
                    col("Status", "string", "", 0),
                    col("Restarts", "string", "", 0),
                    AGE,
                    col("IP", "string", "", 1),
                    col("Node", "string", "", 1),
                    col("Nominated Node", "string", "", 1),
                    col("Readiness Gates", "string", "", 1),
                ],
                vec![
                    name,
                    json!(format!("{ready}/{total}")),
                    json!(status),
                    json!(restarts.to_string()),
                    json!(age(o)),
                    json!(none_if_empty(s(o, "/status/podIP").into())),
                    json!(none_if_empty(s(o, "/spec/nodeName").into())),
                    json!("<none>"),
                    json!("<none>"),
                ],
            )
        }
        ("", "secrets") => {
            let data = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, serde_json::Map::len);
            let ty = s(o, "/type");
            (
                vec![
                    NAME,
                    col("Type", "string", "", 0),
                    col("Data", "string", "", 0),
                    AGE,
                ],
                vec![
                    name,
                    json!(if ty.is_empty() { "Opaque" } else { ty }),
                    json!(data),
                    json!(age(o)),
                ],
            )
        }
        ("", "configmaps") => {
            let data = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, serde_json::Map::len)
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len);
            (
                vec![NAME, col("Data", "string", "", 0), AGE],
                vec![name, json!(data), json!(age(o))],
            )
        }
        ("", "services") => {
            let ports: Vec<String> = arr(o, "/spec/ports")
                .iter()
                .map(|p| {
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(np) => format!("{}:{np}/{proto}", n(p, "/port")),
                        None => format!("{}/{proto}", n(p, "/port")),
                    }
                })
                .collect();
            let sel = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            let ty = s(o, "/spec/type");
            (
                vec![
                    NAME,
                    col("Type", "string", "", 0),
                    col("Cluster-IP", "string", "", 0),
                    col("External-IP", "string", "", 0),
                    col("Port(s)", "string", "", 0),
                    AGE,
                    col("Selector", "string", "", 1),
                ],
                vec![
                    name,
                    json!(if ty.is_empty() { "ClusterIP" } else { ty }),
                    json!(none_if_empty(s(o, "/spec/clusterIP").into())),
                    json!("<none>"),
                    json!(none_if_empty(ports.join(","))),
                    json!(age(o)),
                    json!(none_if_empty(sel.unwrap_or_default())),
                ],
            )
        }
        ("", "serviceaccounts") => (
            vec![NAME, col("Secrets", "string", "", 0), AGE],
            vec![name, json!(arr(o, "/secrets").len()), json!(age(o))],
        ),
        ("", "endpoints") => {
            let mut eps = Vec::new();
            for sub in arr(o, "/subsets") {
                for a in arr(sub, "/addresses") {
                    for p in arr(sub, "/ports") {
                        eps.push(format!("{}:{}", s(a, "/ip"), n(p, "/port")));
                    }
                }
            }
            (
                vec![NAME, col("Endpoints", "string", "", 0), AGE],
                vec![name, json!(none_if_empty(eps.join(","))), json!(age(o))],
            )
        }
        ("", "events") => {
            let obj = format!(
                "{}/{}",
                s(o, "/involvedObject/kind").to_lowercase(),
                s(o, "/involvedObject/name")
            );
            (
                vec![
                    col("Last Seen", "string", "", 0),
                    col("Type", "string", "", 0),
                    col("Reason", "string", "", 0),
                    col("Object", "string", "", 0),
                    col("Message", "string", "", 0),
                ],
                vec![
                    json!(age(o)),
                    json!(s(o, "/type")),
                    json!(s(o, "/reason")),
                    json!(obj),
                    json!(s(o, "/message")),
                ],
            )
        }
        ("apps", "deployments") => {
            let containers = arr(o, "/spec/template/spec/containers");
            let cn: Vec<&str> = containers.iter().map(|c| s(c, "/name")).collect();
            let im: Vec<&str> = containers.iter().map(|c| s(c, "/image")).collect();
            let sel = o
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            let desired = o
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            (
                vec![
                    NAME,
                    col("Ready", "string", "", 0),
                    col("Up-to-date", "string", "", 0),
                    col("Available", "string", "", 0),
                    AGE,
                    col("Containers", "string", "", 1),
                    col("Images", "string", "", 1),
                    col("Selector", "string", "", 1),
                ],
                vec![
                    name,
                    json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
                    json!(n(o, "/status/updatedReplicas")),
                    json!(n(o, "/status/availableReplicas")),
                    json!(age(o)),
                    json!(cn.join(",")),
                    json!(im.join(",")),
                    json!(sel.unwrap_or_default()),
                ],
            )
        }
        ("apps", "replicasets") => (
            vec![
                NAME,
                col("Desired", "integer", "", 0),
                col("Current", "integer", "", 0),
                col("Ready", "integer", "", 0),
                AGE,
            ],
            vec![
                name,
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ),
                json!(n(o, "/status/replicas")),
                json!(n(o, "/status/readyReplicas")),
                json!(age(o)),
            ],
        ),
        ("rbac.authorization.k8s.io", "clusterroles" | "roles") => (
            vec![NAME, col("Created At", "date", "", 0)],
            vec![name, json!(s(o, "/metadata/creationTimestamp"))],
        ),
        ("rbac.authorization.k8s.io", "clusterrolebindings" | "rolebindings") => (
            vec![
                NAME,
                col("Role", "string", "", 0),
                AGE,
                col("Users", "string", "", 1),
                col("Groups", "string", "", 1),
                col("ServiceAccounts", "string", "", 1),
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    s(o, "/roleRef/kind"),
                    s(o, "/roleRef/name")
                )),
                json!(age(o)),
                json!(subjects(o, "User")),
                json!(subjects(o, "Group")),
                json!(subjects(o, "ServiceAccount")),
            ],
        ),
        ("networking.k8s.io", "ingresses") => {
            let hosts: Vec<&str> = arr(o, "/spec/rules")
                .iter()
                .map(|r| s(r, "/host"))
                .filter(|h| !h.is_empty())
                .collect();
            let addrs: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
                .iter()
                .map(|a| {
                    let ip = s(a, "/ip");
                    if ip.is_empty() { s(a, "/hostname") } else { ip }
                })
                .collect();
            let ports = if arr(o, "/spec/tls").is_empty() {
                "80"
            } else {
                "80, 443"
            };
            let class = s(o, "/spec/ingressClassName");
            (
                vec![
                    NAME,
                    col("Class", "string", "", 0),
                    col("Hosts", "string", "", 0),
                    col("Address", "string", "", 0),
                    col("Ports", "string", "", 0),
                    AGE,
                ],
                vec![
                    name,
                    json!(none_if_empty(class.into())),
                    json!(if hosts.is_empty() {
                        "*".to_string()
                    } else {
                        hosts.join(",")
                    }),
                    json!(addrs.join(",")),
                    json!(ports),
                    json!(age(o)),
                ],
            )
        }
        ("networking.k8s.io", "ingressclasses") => {
            let params = o.pointer("/spec/parameters").map_or_else(String::new, |p| {
                format!("{}/{}", s(p, "/kind"), s(p, "/name"))
            });
            (
                vec![
                    NAME,
                    col("Controller", "string", "", 0),
                    col("Parameters", "string", "", 0),
                    AGE,
                ],
                vec![
                    name,
                    json!(s(o, "/spec/controller")),
                    json!(none_if_empty(params)),
                    json!(age(o)),
                ],
            )
        }
        ("route.openshift.io", "routes") => {
            let host = s(o, "/spec/host");
            let svc = s(o, "/spec/to/name");
            let port = o
                .pointer("/spec/port/targetPort")
                .map(|p| p.as_str().map_or_else(|| p.to_string(), String::from))
                .unwrap_or_default();
            let term = s(o, "/spec/tls/termination");
            let redirect = s(o, "/spec/tls/insecureEdgeTerminationPolicy");
            let tls = if redirect.is_empty() {
                term.to_string()
            } else {
                format!("{term}/{redirect}")
            };
            (
                vec![
                    NAME,
                    col("Host/Port", "string", "", 0),
                    col("Path", "string", "", 0),
                    col("Services", "string", "", 0),
                    col("Port", "string", "", 0),
                    col("Termination", "string", "", 0),
                    col("Wildcard", "string", "", 0),
                ],
                vec![
                    name,
                    json!(host),
                    json!(s(o, "/spec/path")),
                    json!(svc),
                    json!(port),
                    json!(tls),
                    json!(if s(o, "/spec/wildcardPolicy").is_empty() {
                        "None"
                    } else {
                        s(o, "/spec/wildcardPolicy")
                    }),
                ],
            )
        }
        ("project.openshift.io", "projects") => (
            vec![
                NAME,
                col("Display Name", "string", "", 0),
                col("Status", "string", "", 0),
            ],
            vec![
                name,
                json!(s(o, "/metadata/annotations/openshift.io~1display-name")),
                json!(s(o, "/status/phase")),
            ],
        ),
        ("user.openshift.io", "users") => (
            vec![
                NAME,
                col("UID", "string", "", 0),
                col("Full Name", "string", "", 0),
                col("Identities", "string", "", 0),
            ],
            vec![
                name,
                json!(s(o, "/metadata/uid")),
                json!(s(o, "/fullName")),
                json!(
                    arr(o, "/identities")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
        ),
        ("user.openshift.io", "groups") => (
            vec![NAME, col("Users", "string", "", 0)],
            vec![
                name,
                json!(
                    arr(o, "/users")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
        ),
        _ => (
            vec![NAME, col("Created At", "date", "", 0)],
            vec![name, json!(s(o, "/metadata/creationTimestamp"))],
        ),
    }
}

fn partial_metadata(o: &Value) -> Value {
    let mut meta = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":meta})
}

/// Build a `meta.k8s.io/v1` Table. `include_object` is the `includeObject` parameter
/// (`None`, `Metadata` (default) or `Object`).
pub fn to_table(
    def: &ResourceDef,
    items: &[Value],
    list_meta: &Value,
    include_object: &str,
) -> Value {
    let probe = items.first().cloned().unwrap_or_else(|| json!({}));
    let (cols, _) = columns_and_row(def, &probe);
    let col_defs: Vec<Value> = cols
        .iter()
        .map(|c| json!({"name": c.name, "type": c.ty, "format": c.format, "description": "", "priority": c.priority}))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let (_, cells) = columns_and_row(def, o);
            let object = match include_object {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => partial_metadata(o),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":list_meta,"columnDefinitions":col_defs,"rows":rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(130), "2m10s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400), "3d");
        assert_eq!(human_duration(20 * 86400), "20d");
    }

    #[test]
    fn binding_columns() {
        let def = crate::resources::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
            .expect("served");
        let o = json!({"metadata":{"name":"b"},"roleRef":{"kind":"ClusterRole","name":"view"},
            "subjects":[{"kind":"Group","name":"mcp-users"},{"kind":"ServiceAccount","name":"sa","namespace":"ns"}]});
        let t = to_table(def, &[o], &json!({}), "");
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("cols")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        );
        assert_eq!(t["rows"][0]["cells"][1], "ClusterRole/view");
        assert_eq!(t["rows"][0]["cells"][4], "mcp-users");
        assert_eq!(t["rows"][0]["cells"][5], "ns/sa");
    }
}
