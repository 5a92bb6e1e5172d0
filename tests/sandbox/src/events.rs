//! core/v1 Events as the controllers and the kubelet record them (`kubectl describe` and
//! `kubectl get events` read these).

use serde_json::{Value, json};

use crate::resources;
use crate::store::{Key, Store, now_rfc3339};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Record an event about `obj`; a repeat of the same reason and message bumps `count`.
pub fn record(
    store: &mut Store,
    obj: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    source: &str,
) {
    let Some(def) = resources::find("", "v1", "events") else {
        return;
    };
    let ns = match s(obj, "/metadata/namespace") {
        "" => "default",
        ns => ns,
    }
    .to_string();
    let name = s(obj, "/metadata/name").to_string();
    let uid = s(obj, "/metadata/uid").to_string();
    let now = now_rfc3339();
    let existing = store
        .list("/events", Some(&ns))
        .into_iter()
        .find(|(_, e)| {
            s(e, "/involvedObject/uid") == uid
                && s(e, "/reason") == reason
                && s(e, "/message") == message
        })
        .map(|(k, e)| (k.clone(), e.clone()));
    if let Some((k, mut e)) = existing {
        let count = e.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
        e["count"] = json!(count);
        e["lastTimestamp"] = json!(now);
        let _ = store.update(&k, e);
        return;
    }
    let suffix: u64 = rand::random();
    let ev_name = format!("{name}.{suffix:016x}");
    let api_version = obj.get("apiVersion").cloned().unwrap_or(json!("v1"));
    let mut involved = json!({"kind": obj.get("kind").cloned().unwrap_or(json!("")), "namespace": ns,
        "name": name, "uid": uid, "apiVersion": api_version,
        "resourceVersion": s(obj, "/metadata/resourceVersion")});
    if let Some(fp) = obj.get("__fieldPath").and_then(Value::as_str) {
        involved["fieldPath"] = json!(fp);
    }
    let host = (source == "kubelet").then_some(crate::kubelet::NODE_NAME);
    let mut src = json!({"component": source});
    if let Some(h) = host {
        src["host"] = json!(h);
    }
    let ev = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": ev_name, "namespace": ns},
        "involvedObject": involved, "reason": reason, "message": message, "source": src,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": kind,
        "eventTime": null, "reportingComponent": source, "reportingInstance": host.unwrap_or("")});
    let _ = store.create(Key::new(def, &ns, &ev_name), ev);
}

/// `record` for a container of a pod: the event names the container in `fieldPath`.
pub fn record_container(
    store: &mut Store,
    pod: &Value,
    container: &str,
    kind: &str,
    reason: &str,
    message: &str,
) {
    let mut p = pod.clone();
    p["__fieldPath"] = json!(format!("spec.containers{{{container}}}"));
    record(store, &p, kind, reason, message, "kubelet");
}
