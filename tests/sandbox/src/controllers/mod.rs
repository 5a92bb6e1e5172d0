//! The controllers a cluster runs behind the API: Deployment -> ReplicaSet -> Pod, the
//! scheduler, Service -> Endpoints, and OpenShift's Ingress -> Route (the Kubernetes
//! flavour's ingress controller instead: crate::ingress). Each pass reads the
//! whole store under its lock and writes only what changed, so passes converge and a quiet
//! cluster stays quiet.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::resources;
use crate::server::State;
use crate::store::{Key, Store, now_rfc3339};

mod deployments;
mod endpoints;
mod pods;
mod routes;
#[cfg(test)]
mod tests;

use deployments::deployments;
use endpoints::endpoints;
pub use pods::admit_pod;
use pods::{replicasets, schedule};
use routes::ingresses;

pub const TEMPLATE_HASH: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn int(v: &Value, p: &str, default: i64) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(default)
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// Kubernetes' name-suffix alphabet (no vowels, no confusable digits).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn random_suffix(n: usize) -> String {
    (0..n)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `pod-template-hash`: a stable hash of the pod template, encoded like kube's
/// `rand.SafeEncodeString` (so it looks like `5d4f7b8c9`).
pub fn template_hash(template: &Value) -> String {
    let digest = sha2::Sha256::digest(template.to_string().as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    n.to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// Whether a `LabelSelector` object (matchLabels + matchExpressions) selects `labels`.
pub fn selector_matches(sel: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            if label(k) != v.as_str() {
                return false;
            }
        }
    }
    for e in arr(sel, "/matchExpressions") {
        let key = s(e, "/key");
        let values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        let ok = match s(e, "/operator") {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A Service's `spec.selector` (a plain map) against pod labels.
fn map_selects(sel: &Map<String, Value>, labels: &Value) -> bool {
    sel.iter()
        .all(|(k, v)| labels.get(k).and_then(Value::as_str) == v.as_str())
}

fn owned_by(obj: &Value, uid: &str) -> bool {
    arr(obj, "/metadata/ownerReferences")
        .iter()
        .any(|r| s(r, "/uid") == uid)
}

fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": s(owner, "/metadata/name"),
        "uid": s(owner, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true})
}

fn def(group: &str, resource: &str) -> &'static resources::ResourceDef {
    resources::find(group, "v1", resource).expect("the sandbox serves every controller kind")
}

fn list(store: &Store, gr: &str, ns: Option<&str>) -> Vec<(Key, Value)> {
    store
        .list(gr, ns)
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Write `obj` at `key` only when it differs from what is stored.
fn put(store: &mut Store, key: &Key, obj: Value) -> Option<Value> {
    if store.get(key) == Some(&obj) {
        return None;
    }
    store.update(key, obj).ok()
}

/// Set a status condition, keeping `lastTransitionTime` while the status stays the same.
fn set_condition(conds: &mut Vec<Value>, ty: &str, status: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    if let Some(c) = conds.iter_mut().find(|c| s(c, "/type") == ty) {
        let changed_status = s(c, "/status") != status;
        let changed = changed_status || s(c, "/reason") != reason || s(c, "/message") != message;
        if changed_status {
            c["lastTransitionTime"] = json!(now);
        }
        if changed && c.get("lastUpdateTime").is_some() {
            c["lastUpdateTime"] = json!(now);
        }
        c["status"] = json!(status);
        c["reason"] = json!(reason);
        c["message"] = json!(message);
    } else {
        conds.push(json!({"type": ty, "status": status, "lastUpdateTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message}));
    }
}

/// The background loop: a pass after every burst of store events, and at least every
/// half second (for time-based conditions).
pub async fn run(state: Arc<State>) {
    let mut rx = state.store().subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            r = rx.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                // Let a burst of writes settle, then take them all at once.
                tokio::time::sleep(Duration::from_millis(10)).await;
                while rx.try_recv().is_ok() {}
            }
            _ = tick.tick() => {}
        }
        reconcile(&state);
    }
}

/// One pass of every controller.
pub fn reconcile(state: &State) {
    let mut store = state.store();
    deployments(&mut store);
    replicasets(&mut store);
    schedule(&mut store);
    endpoints(&mut store);
    if state.flavour.is_openshift() {
        ingresses(&mut store, &state.apps_domain);
    } else {
        crate::ingress::reconcile(&mut store, state);
    }
}
