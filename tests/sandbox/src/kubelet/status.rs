//! The pod status the kubelet reports: container states, conditions, QoS class, and the
//! events of a sync.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{CState, PendingEvent, PodRt, arr, lock, repository, s};
use crate::server::State;
use crate::store::{Key, Store, now_rfc3339};

pub(super) fn flush_events(store: &mut Store, events: Vec<PendingEvent>) {
    if events.is_empty() {
        return;
    }
    let pods: HashMap<String, Value> = store
        .list("/pods", None)
        .into_iter()
        .map(|(_, p)| (s(p, "/metadata/uid").to_string(), p.clone()))
        .collect();
    for e in events {
        let Some(pod) = pods.get(&e.uid) else {
            continue;
        };
        match &e.container {
            Some(c) => crate::events::record_container(store, pod, c, e.kind, e.reason, &e.message),
            None => crate::events::record(store, pod, e.kind, e.reason, &e.message, "kubelet"),
        }
    }
}

fn qos(pod: &Value) -> &'static str {
    let cs = arr(pod, "/spec/containers");
    let any = cs.iter().any(|c| {
        c.pointer("/resources/requests")
            .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
            || c.pointer("/resources/limits")
                .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = cs.iter().all(|c| {
        ["cpu", "memory"].iter().all(|k| {
            let l = c.pointer(&format!("/resources/limits/{k}"));
            let r = c.pointer(&format!("/resources/requests/{k}")).or(l);
            l.is_some() && l == r
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(old: &Value, ty: &str, ok: bool, reason: Option<(&str, String)>) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = arr(old, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty);
    let ltt = prev
        .filter(|c| s(c, "/status") == status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now_rfc3339()));
    let mut c =
        json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": ltt});
    if let Some((r, m)) = reason.filter(|_| !ok) {
        c["reason"] = json!(r);
        c["message"] = json!(m);
    }
    c
}

fn pod_status(rt: &PodRt, pod: &Value) -> Value {
    let statuses: Vec<Value> = rt
        .ctrs
        .iter()
        .map(|c| {
            let state = match &c.state {
                CState::Waiting { reason, message } => {
                    let mut w = json!({"reason": reason});
                    if !message.is_empty() {
                        w["message"] = json!(message);
                    }
                    json!({"waiting": w})
                }
                CState::Running { started_at } => json!({"running": {"startedAt": started_at}}),
                CState::Terminated(t) => t.to_json(),
            };
            let last = match (&c.state, &c.last) {
                (CState::Terminated(_), _) | (_, None) => json!({}),
                (_, Some(t)) => t.to_json(),
            };
            let mut st = json!({"name": c.name, "state": state, "lastState": last, "ready": c.ready,
                "restartCount": c.restarts, "image": c.image,
                "imageID": format!("{}@sha256:{}", repository(&c.image), hash_image(&c.image)),
                "started": matches!(c.state, CState::Running { .. })});
            if !c.container_id.is_empty() {
                st["containerID"] = json!(c.container_id);
            }
            st
        })
        .collect();
    let all_ready = rt.ctrs.iter().all(|c| c.ready);
    let any_running = rt
        .ctrs
        .iter()
        .any(|c| matches!(c.state, CState::Running { .. }));
    let all_started = rt.ctrs.iter().all(|c| c.started_once);
    let all_done = rt
        .ctrs
        .iter()
        .all(|c| matches!(c.state, CState::Terminated(_)) && c.next_start.is_none());
    let phase = if all_done && !rt.ctrs.is_empty() {
        if rt
            .ctrs
            .iter()
            .all(|c| matches!(&c.state, CState::Terminated(t) if t.exit_code == 0))
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if any_running || all_started {
        "Running"
    } else {
        "Pending"
    };
    let unready: Vec<&str> = rt
        .ctrs
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let why = format!("containers with unready status: [{}]", unready.join(" "));
    let done_reason = (phase == "Succeeded" || phase == "Failed").then_some("PodCompleted");
    let ready_reason = done_reason.unwrap_or("ContainersNotReady");
    let ready_message = if done_reason.is_some() {
        String::new()
    } else {
        why
    };
    let conds = vec![
        condition(pod, "PodReadyToStartContainers", true, None),
        condition(pod, "Initialized", true, None),
        condition(
            pod,
            "Ready",
            all_ready,
            Some((ready_reason, ready_message.clone())),
        ),
        condition(
            pod,
            "ContainersReady",
            all_ready,
            Some((ready_reason, ready_message)),
        ),
        condition(pod, "PodScheduled", true, None),
    ];
    json!({"phase": phase, "conditions": conds, "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": rt.ip, "podIPs": [{"ip": rt.ip}], "startTime": rt.started_at,
        "containerStatuses": statuses, "qosClass": qos(pod)})
}

fn hash_image(image: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(image.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn write_status(state: &State, pods: &[(String, Value)], events: Vec<PendingEvent>) {
    let statuses: Vec<(String, Value)> = {
        let rts = lock(&state.kubelet.pods);
        pods.iter()
            .filter_map(|(uid, pod)| rts.get(uid).map(|rt| (uid.clone(), pod_status(rt, pod))))
            .collect()
    };
    let mut store = state.store();
    let Some(def) = crate::resources::find("", "v1", "pods") else {
        return;
    };
    for (uid, status) in statuses {
        let Some((key, cur)) = pods
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, p)| Key::new(def, s(p, "/metadata/namespace"), s(p, "/metadata/name")))
            .and_then(|k| store.get(&k).cloned().map(|c| (k, c)))
        else {
            continue;
        };
        if s(&cur, "/metadata/uid") != uid || cur.get("status") == Some(&status) {
            continue;
        }
        let mut p2 = cur;
        p2["status"] = status;
        let _ = store.update(&key, p2);
    }
    flush_events(&mut store, events);
}
