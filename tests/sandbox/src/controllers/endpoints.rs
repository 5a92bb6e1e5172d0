//! Service -> Endpoints: the ready and not-ready addresses of the pods a Service selects.

use serde_json::{Value, json};

use super::pods::pod_ready;
use super::{TRIGGER_TIME, arr, def, int, list, map_selects, put, s};
use crate::store::{Key, Store, now_rfc3339};

/// A Service port's target resolved against a pod (named ports look up `containerPort`).
fn resolve_target(port: &Value, pod: &Value) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => arr(pod, "/spec/containers").iter().find_map(|c| {
            arr(c, "/ports")
                .iter()
                .find(|p| s(p, "/name") == name)
                .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
        }),
        _ => port.get("port").and_then(Value::as_i64),
    }
}

pub(super) fn endpoints(store: &mut Store) {
    let ep_def = def("", "endpoints");
    let services = list(store, "/services", None);
    for (key, svc) in &services {
        let Some(sel) = svc
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
        else {
            continue;
        };
        let pods: Vec<Value> = store
            .list("/pods", Some(&key.namespace))
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| {
                map_selects(sel, p.pointer("/metadata/labels").unwrap_or(&Value::Null))
                    && !s(p, "/status/podIP").is_empty()
                    && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
            })
            .cloned()
            .collect();
        let addr = |p: &Value| {
            json!({"ip": s(p, "/status/podIP"), "nodeName": s(p, "/spec/nodeName"),
                "targetRef": {"kind": "Pod", "namespace": key.namespace, "name": s(p, "/metadata/name"), "uid": s(p, "/metadata/uid")}})
        };
        let ready: Vec<Value> = pods.iter().filter(|p| pod_ready(p)).map(addr).collect();
        let not_ready: Vec<Value> = pods.iter().filter(|p| !pod_ready(p)).map(addr).collect();
        let ports: Vec<Value> = arr(svc, "/spec/ports")
            .iter()
            .map(|sp| {
                let target = pods
                    .iter()
                    .find_map(|p| resolve_target(sp, p))
                    .or_else(|| sp.get("targetPort").and_then(Value::as_i64))
                    .unwrap_or_else(|| int(sp, "/port", 0));
                let mut p = json!({"port": target, "protocol": sp.get("protocol").cloned().unwrap_or(json!("TCP"))});
                if let Some(n) = sp.get("name").filter(|n| n.as_str().is_some_and(|x| !x.is_empty())) {
                    p["name"] = n.clone();
                }
                p
            })
            .collect();
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        let subsets = if pods.is_empty() {
            json!([])
        } else {
            json!([subset])
        };
        let ekey = Key::new(ep_def, &key.namespace, &key.name);
        match store.get(&ekey).cloned() {
            Some(cur) => {
                if cur.get("subsets").unwrap_or(&json!([])) == &subsets
                    || cur
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(TRIGGER_TIME))
                        .is_none()
                {
                    continue;
                }
                let mut e = cur;
                e["subsets"] = subsets;
                e["metadata"]["annotations"][TRIGGER_TIME] = json!(now_rfc3339());
                put(store, &ekey, e);
            }
            None => {
                let e = json!({"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": key.name, "namespace": key.namespace,
                        "labels": svc.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                        "annotations": {TRIGGER_TIME: now_rfc3339()}},
                    "subsets": subsets});
                let _ = store.create(ekey, e);
            }
        }
    }
    // Endpoints this controller made whose Service is gone.
    for (k, e) in list(store, "/endpoints", None) {
        let managed = e
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(TRIGGER_TIME))
            .is_some();
        if managed
            && !services
                .iter()
                .any(|(sk, _)| sk.namespace == k.namespace && sk.name == k.name)
        {
            let _ = store.delete(&k);
        }
    }
}
