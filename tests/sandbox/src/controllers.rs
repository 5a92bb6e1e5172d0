//! The controllers a cluster runs behind the API: Deployment -> ReplicaSet -> Pod, the
//! scheduler, Service -> Endpoints, and OpenShift's Ingress -> Route (the Kubernetes
//! flavour's ingress controller instead: crate::ingress). Each pass reads the
//! whole store under its lock and writes only what changed, so passes converge and a quiet
//! cluster stays quiet.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::events::{self, NORMAL, WARNING};
use crate::resources;
use crate::server::State;
use crate::store::{Key, Store, now_rfc3339};

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

// ---------------------------------------------------------------- Deployments

fn revision(o: &Value) -> i64 {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// `maxUnavailable` (int or percentage, rounded down) of a RollingUpdate deployment.
fn max_unavailable(d: &Value, desired: i64) -> i64 {
    if s(d, "/spec/strategy/type") == "Recreate" {
        return desired;
    }
    let v = d
        .pointer("/spec/strategy/rollingUpdate/maxUnavailable")
        .cloned()
        .unwrap_or(json!("25%"));
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(p) => {
            let pct: i64 = p.trim_end_matches('%').parse().unwrap_or(25);
            desired * pct / 100
        }
        _ => 0,
    }
}

fn deployments(store: &mut Store) {
    for (key, d) in list(store, "apps/deployments", None) {
        deployment(store, &key, &d);
    }
}

fn deployment(store: &mut Store, key: &Key, d: &Value) {
    let ns = key.namespace.clone();
    let uid = s(d, "/metadata/uid").to_string();
    let dname = key.name.clone();
    let desired = int(d, "/spec/replicas", 1).max(0);
    let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = template_hash(&template);
    let rs_def = def("apps", "replicasets");
    let owned: Vec<(Key, Value)> = list(store, "apps/replicasets", Some(&ns))
        .into_iter()
        .filter(|(_, rs)| owned_by(rs, &uid))
        .collect();
    let max_rev = owned.iter().map(|(_, rs)| revision(rs)).max().unwrap_or(0);
    let is_new = |rs: &Value| {
        rs.pointer("/metadata/labels")
            .and_then(|l| l.get(TEMPLATE_HASH))
            .and_then(Value::as_str)
            == Some(&hash)
    };
    let recreate = s(d, "/spec/strategy/type") == "Recreate";
    let old_pods: i64 = owned
        .iter()
        .filter(|(_, rs)| !is_new(rs))
        .map(|(_, rs)| int(rs, "/status/replicas", 0))
        .sum();
    let mut new_name = String::new();
    let mut created_new = false;
    match owned.iter().find(|(_, rs)| is_new(rs)) {
        None => {
            let name = format!("{dname}-{hash}");
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(json!({}));
            labels[TEMPLATE_HASH] = json!(hash);
            let mut match_labels = d
                .pointer("/spec/selector/matchLabels")
                .cloned()
                .unwrap_or(json!({}));
            match_labels[TEMPLATE_HASH] = json!(hash);
            let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"] = match_labels;
            let mut tmpl = template.clone();
            tmpl["metadata"]["labels"] = labels.clone();
            let start = if recreate && old_pods > 0 { 0 } else { desired };
            let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": ns, "labels": labels,
                    "annotations": {REVISION: (max_rev + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                        "deployment.kubernetes.io/max-replicas": (desired + 1).to_string()},
                    "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")]},
                "spec": {"replicas": start, "minReadySeconds": int(d, "/spec/minReadySeconds", 0),
                    "selector": selector, "template": tmpl},
                "status": {"replicas": 0}});
            if store.create(Key::new(rs_def, &ns, &name), rs).is_ok() {
                created_new = true;
                if start > 0 {
                    events::record(
                        store,
                        d,
                        NORMAL,
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {name} from 0 to {start}"),
                        "deployment-controller",
                    );
                }
            }
            new_name = name;
        }
        Some((k, rs)) => {
            new_name.clone_from(&k.name);
            let cur = int(rs, "/spec/replicas", 0);
            let target = if recreate && old_pods > 0 { 0 } else { desired };
            let mut rs2 = rs.clone();
            rs2["spec"]["replicas"] = json!(target);
            if revision(rs) < max_rev {
                // Rolled back to an older template: it becomes the newest revision.
                rs2["metadata"]["annotations"][REVISION] = json!((max_rev + 1).to_string());
            }
            rs2["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                json!(desired.to_string());
            if put(store, k, rs2).is_some() && cur != target {
                let verb = if target > cur { "up" } else { "down" };
                events::record(
                    store,
                    d,
                    NORMAL,
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled {verb} replica set {} from {cur} to {target}",
                        k.name
                    ),
                    "deployment-controller",
                );
            }
        }
    }
    let new_key = Key::new(rs_def, &ns, &new_name);
    let new_rs = store.get(&new_key).cloned().unwrap_or(json!({}));
    let new_available = int(&new_rs, "/status/availableReplicas", 0);
    // Old replica sets go to zero once the new one is available (RollingUpdate), or at once
    // (Recreate).
    let mut old: Vec<(Key, Value)> = list(store, "apps/replicasets", Some(&ns))
        .into_iter()
        .filter(|(k, rs)| owned_by(rs, &uid) && k.name != new_name)
        .collect();
    for (k, rs) in &old {
        let cur = int(rs, "/spec/replicas", 0);
        if cur > 0 && (recreate || new_available >= desired) {
            let mut rs2 = rs.clone();
            rs2["spec"]["replicas"] = json!(0);
            if put(store, k, rs2).is_some() {
                events::record(
                    store,
                    d,
                    NORMAL,
                    "ScalingReplicaSet",
                    &format!("Scaled down replica set {} from {cur} to 0", k.name),
                    "deployment-controller",
                );
            }
        }
    }
    // revisionHistoryLimit: drop the oldest empty replica sets.
    let limit = usize::try_from(int(d, "/spec/revisionHistoryLimit", 10).max(0)).unwrap_or(10);
    old.retain(|(k, _)| {
        store.get(k).is_some_and(|rs| {
            int(rs, "/spec/replicas", 0) == 0 && int(rs, "/status/replicas", 0) == 0
        })
    });
    if old.len() > limit {
        old.sort_by_key(|(_, rs)| revision(rs));
        let excess = old.len() - limit;
        for (k, _) in old.into_iter().take(excess) {
            let _ = store.delete(&k);
        }
    }
    deployment_status(store, key, &uid, &new_name, desired, created_new);
}

fn deployment_status(
    store: &mut Store,
    key: &Key,
    uid: &str,
    new_name: &str,
    desired: i64,
    created_new: bool,
) {
    let Some(d) = store.get(key).cloned() else {
        return;
    };
    let all: Vec<Value> = store
        .list("apps/replicasets", Some(&key.namespace))
        .into_iter()
        .filter(|(_, rs)| owned_by(rs, uid))
        .map(|(_, rs)| rs.clone())
        .collect();
    let sum = |p: &str| all.iter().map(|rs| int(rs, p, 0)).sum::<i64>();
    let replicas = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let new_rs = all
        .iter()
        .find(|rs| s(rs, "/metadata/name") == new_name)
        .cloned()
        .unwrap_or(json!({}));
    let updated = int(&new_rs, "/status/replicas", 0);
    let unavailable = (desired - available).max(0);
    let mut status = d.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }
    status["observedGeneration"] = json!(int(&d, "/metadata/generation", 1));
    for (k, v) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if v > 0 {
            status[k] = json!(v);
        } else if let Some(m) = status.as_object_mut() {
            m.remove(k);
        }
    }
    let mut conds: Vec<Value> = arr(&status, "/conditions").to_vec();
    let min_available = desired - max_unavailable(&d, desired);
    if available >= min_available {
        set_condition(
            &mut conds,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        );
    } else {
        set_condition(
            &mut conds,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        );
    }
    let complete = updated == desired && replicas == desired && available == desired;
    let progressing = conds
        .iter()
        .find(|c| s(c, "/type") == "Progressing")
        .cloned();
    if complete {
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        );
    } else if created_new || progressing.is_none() {
        set_condition(
            &mut conds,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            &format!("Created new replica set \"{new_name}\""),
        );
    } else if let Some(p) = progressing {
        let deadline = int(&d, "/spec/progressDeadlineSeconds", 600);
        let since = p
            .get("lastUpdateTime")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map_or(0, |t| {
                k8s_openapi::jiff::Timestamp::now().as_second() - t.as_second()
            });
        if s(&p, "/reason") == "ProgressDeadlineExceeded" || since > deadline {
            set_condition(
                &mut conds,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            );
        } else if s(&p, "/reason") == "NewReplicaSetAvailable" {
            set_condition(
                &mut conds,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{new_name}\" is progressing."),
            );
        }
    }
    // kube lists Available before Progressing.
    conds.sort_by_key(|c| s(c, "/type") != "Available");
    status["conditions"] = json!(conds);
    let mut d2 = d.clone();
    d2["status"] = status;
    if let Some(rev) = store
        .get(&Key::new(
            def("apps", "replicasets"),
            &key.namespace,
            new_name,
        ))
        .map(revision)
        .filter(|r| *r > 0)
    {
        let meta = crate::store::ensure_meta(&mut d2);
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        if ann.is_object() {
            ann[REVISION] = json!(rev.to_string());
        }
    }
    put(store, key, d2);
}

// ---------------------------------------------------------------- ReplicaSets

fn pod_ready(p: &Value) -> bool {
    arr(p, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
}

fn replicasets(store: &mut Store) {
    for (key, rs) in list(store, "apps/replicasets", None) {
        replicaset(store, &key, &rs);
    }
}

fn replicaset(store: &mut Store, key: &Key, rs: &Value) {
    let uid = s(rs, "/metadata/uid").to_string();
    let desired = int(rs, "/spec/replicas", 1).max(0);
    let pod_def = def("", "pods");
    let mut pods: Vec<(Key, Value)> = list(store, "/pods", Some(&key.namespace))
        .into_iter()
        .filter(|(_, p)| owned_by(p, &uid))
        .collect();
    let have = i64::try_from(pods.len()).unwrap_or(i64::MAX);
    if have < desired {
        for _ in have..desired {
            let name = format!("{}-{}", key.name, random_suffix(5));
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "generateName": format!("{}-", key.name), "namespace": key.namespace,
                    "labels": rs.pointer("/spec/template/metadata/labels").cloned().unwrap_or(json!({})),
                    "ownerReferences": [owner_ref(rs, "apps/v1", "ReplicaSet")]},
                "spec": rs.pointer("/spec/template/spec").cloned().unwrap_or(json!({}))});
            if let Some(a) = rs.pointer("/spec/template/metadata/annotations") {
                pod["metadata"]["annotations"] = a.clone();
            }
            if let Err(why) = admit_pod(store, &mut pod) {
                events::record(
                    store,
                    rs,
                    WARNING,
                    "FailedCreate",
                    &format!("Error creating: pods \"{}-\" is forbidden: {why}", key.name),
                    "replicaset-controller",
                );
                break;
            }
            crate::validation::apply_defaults(pod_def, &mut pod, "", String::new);
            if let Ok(p) = store.create(Key::new(pod_def, &key.namespace, &name), pod) {
                events::record(
                    store,
                    rs,
                    NORMAL,
                    "SuccessfulCreate",
                    &format!("Created pod: {name}"),
                    "replicaset-controller",
                );
                pods.push((Key::new(pod_def, &key.namespace, &name), p));
            }
        }
    } else if have > desired {
        // Delete unready pods first, then the newest.
        pods.sort_by(|(_, a), (_, b)| {
            pod_ready(a).cmp(&pod_ready(b)).then_with(|| {
                s(b, "/metadata/creationTimestamp").cmp(s(a, "/metadata/creationTimestamp"))
            })
        });
        let excess = usize::try_from(have - desired).unwrap_or(0);
        for (k, _) in pods.drain(..excess) {
            if store.delete(&k).is_ok() {
                events::record(
                    store,
                    rs,
                    NORMAL,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", k.name),
                    "replicaset-controller",
                );
            }
        }
    }
    let min_ready = int(rs, "/spec/minReadySeconds", 0);
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let ready = pods.iter().filter(|(_, p)| pod_ready(p)).count();
    let available = pods
        .iter()
        .filter(|(_, p)| {
            pod_ready(p)
                && arr(p, "/status/conditions")
                    .iter()
                    .find(|c| s(c, "/type") == "Ready")
                    .and_then(|c| c.get("lastTransitionTime").and_then(Value::as_str))
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                    .is_none_or(|t| now - t.as_second() >= min_ready)
        })
        .count();
    let Some(cur) = store.get(key).cloned() else {
        return;
    };
    let mut status =
        json!({"replicas": pods.len(), "observedGeneration": int(&cur, "/metadata/generation", 1)});
    if !pods.is_empty() {
        status["fullyLabeledReplicas"] = json!(pods.len());
    }
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
    }
    if available > 0 {
        status["availableReplicas"] = json!(available);
    }
    let mut rs2 = cur;
    rs2["status"] = status;
    put(store, key, rs2);
}

/// What admission does to a new pod: defaults, the service account (which must exist), and
/// the projected `kube-api-access-*` token volume unless automounting is turned off.
pub fn admit_pod(store: &Store, pod: &mut Value) -> Result<(), String> {
    let ns = s(pod, "/metadata/namespace").to_string();
    if !pod.get("spec").is_some_and(Value::is_object) {
        pod["spec"] = json!({});
    }
    let spec = &mut pod["spec"];
    let sa = match s(spec, "/serviceAccountName") {
        "" => match s(spec, "/serviceAccount") {
            "" => "default".to_string(),
            x => x.to_string(),
        },
        x => x.to_string(),
    };
    spec["serviceAccountName"] = json!(sa);
    spec["serviceAccount"] = json!(sa);
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
        ("priority", json!(0)),
    ] {
        if spec.get(k).is_none() {
            spec[k] = v;
        }
    }
    let sa_obj = store
        .get(&Key::new(def("", "serviceaccounts"), &ns, &sa))
        .cloned()
        .ok_or_else(|| {
            format!("error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found")
        })?;
    let automount = match spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
    {
        Some(b) => b,
        None => sa_obj
            .get("automountServiceAccountToken")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let has_sa_mount = |c: &Value| {
        arr(c, "/volumeMounts")
            .iter()
            .any(|m| s(m, "/mountPath") == crate::kubelet::SA_MOUNT)
    };
    let mut containers: Vec<Value> = arr(spec, "/containers").to_vec();
    if automount && !containers.iter().any(has_sa_mount) {
        let vol = format!("kube-api-access-{}", random_suffix(5));
        let mut vols: Vec<Value> = arr(spec, "/volumes").to_vec();
        vols.push(json!({"name": vol, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}));
        spec["volumes"] = json!(vols);
        for c in &mut containers {
            let mut mounts: Vec<Value> = arr(c, "/volumeMounts").to_vec();
            mounts.push(
                json!({"name": vol, "readOnly": true, "mountPath": crate::kubelet::SA_MOUNT}),
            );
            c["volumeMounts"] = json!(mounts);
        }
    }
    for c in &mut containers {
        let image = s(c, "/image").to_string();
        if c.get("imagePullPolicy").is_none() {
            let tagged = image.contains('@')
                || image
                    .rsplit('/')
                    .next()
                    .and_then(|last| last.split_once(':'))
                    .is_some_and(|(_, tag)| tag != "latest");
            c["imagePullPolicy"] = json!(if tagged { "IfNotPresent" } else { "Always" });
        }
        for (k, v) in [
            ("terminationMessagePath", json!("/dev/termination-log")),
            ("terminationMessagePolicy", json!("File")),
            ("resources", json!({})),
        ] {
            if c.get(k).is_none() {
                c[k] = v;
            }
        }
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
                for (k, v) in [
                    ("timeoutSeconds", 1),
                    ("periodSeconds", 10),
                    ("successThreshold", 1),
                    ("failureThreshold", 3),
                ] {
                    if p.get(k).is_none() {
                        p[k] = json!(v);
                    }
                }
                if let Some(h) = p.get_mut("httpGet").filter(|h| h.is_object())
                    && h.get("scheme").is_none()
                {
                    h["scheme"] = json!("HTTP");
                }
            }
        }
    }
    spec["containers"] = json!(containers);
    Ok(())
}

// ---------------------------------------------------------------- scheduler

fn schedule(store: &mut Store) {
    for (key, p) in list(store, "/pods", None) {
        if !s(&p, "/spec/nodeName").is_empty() {
            continue;
        }
        let mut p2 = p.clone();
        p2["spec"]["nodeName"] = json!(crate::kubelet::NODE_NAME);
        let mut status = p.get("status").cloned().unwrap_or(json!({}));
        if !status.is_object() {
            status = json!({});
        }
        status["phase"] = json!("Pending");
        let mut conds: Vec<Value> = arr(&status, "/conditions").to_vec();
        conds.retain(|c| s(c, "/type") != "PodScheduled");
        conds.push(
            json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
            "lastTransitionTime": now_rfc3339()}),
        );
        status["conditions"] = json!(conds);
        p2["status"] = status;
        if let Some(stored) = put(store, &key, p2) {
            events::record(
                store,
                &stored,
                NORMAL,
                "Scheduled",
                &format!(
                    "Successfully assigned {}/{} to {}",
                    key.namespace,
                    key.name,
                    crate::kubelet::NODE_NAME
                ),
                "default-scheduler",
            );
        }
    }
}

// ---------------------------------------------------------------- Endpoints

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

fn endpoints(store: &mut Store) {
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

// ---------------------------------------------------------------- Ingress -> Route

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

fn ingresses(store: &mut Store, apps_domain: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_selectors() {
        let t = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}});
        let h = template_hash(&t);
        assert_eq!(h, template_hash(&t.clone()));
        assert!(h.bytes().all(|b| ALPHABET.contains(&b)), "{h}");
        let mut t2 = t.clone();
        t2["metadata"]["annotations"] = json!({"checksum/config": "abc"});
        assert_ne!(h, template_hash(&t2));
        let sel = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]});
        assert!(selector_matches(&sel, &json!({"app": "x"})));
        assert!(!selector_matches(&sel, &json!({"app": "x", "tier": "db"})));
        assert!(!selector_matches(&sel, &json!({"app": "y"})));
    }
}
