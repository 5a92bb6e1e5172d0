//! The Deployment controller: one ReplicaSet per template revision, rolled out within
//! `maxUnavailable`, and the Deployment's status and conditions.

use serde_json::{Value, json};

use super::{
    REVISION, TEMPLATE_HASH, arr, def, int, list, owned_by, owner_ref, put, s, set_condition,
    template_hash,
};
use crate::events::{self, NORMAL};
use crate::store::{Key, Store};

pub(super) fn revision(o: &Value) -> i64 {
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

pub(super) fn deployments(store: &mut Store) {
    for (key, d) in list(store, "apps/deployments", None) {
        deployment(store, &key, &d);
    }
}

pub(super) fn deployment(store: &mut Store, key: &Key, d: &Value) {
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
