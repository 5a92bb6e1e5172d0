//! ReplicaSet -> Pod, what admission does to a new pod, and the scheduler.

use serde_json::{Value, json};

use super::{arr, def, int, list, owned_by, owner_ref, put, random_suffix, s};
use crate::events::{self, NORMAL, WARNING};
use crate::store::{Key, Store, now_rfc3339};

pub(super) fn pod_ready(p: &Value) -> bool {
    arr(p, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
}

pub(super) fn replicasets(store: &mut Store) {
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

pub(super) fn schedule(store: &mut Store) {
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
