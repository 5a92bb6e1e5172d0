//! cluster.pods: whether the Deployment's pods are ready, and why not (crash loops, missing
//! cluster credentials).

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::{
    checks::CheckId,
    cluster::{Facts, restart_count},
    report::Row,
};

use super::read_failed;

pub(super) fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `pod/x: Running, ready, 3 restarts, waiting CrashLoopBackOff, last exit Error (1)`.
fn describe_pod(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut parts = vec![status.phase.clone().unwrap_or_else(|| "Unknown".into())];
    parts.push(if pod_ready(pod) {
        "ready".into()
    } else {
        "not ready".into()
    });
    let restarts = restart_count(pod);
    if restarts > 0 {
        parts.push(format!("{restarts} restarts"));
    }
    for cs in status.container_statuses.iter().flatten() {
        if let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            parts.push(format!(
                "waiting {}",
                waiting.reason.as_deref().unwrap_or("")
            ));
        }
        if let Some(term) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            parts.push(format!(
                "last exit {} ({})",
                term.reason.as_deref().unwrap_or("?"),
                term.exit_code
            ));
        }
    }
    format!("pod/{}: {}", pod.name_any(), parts.join(", "))
}

fn crash_looping(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("CrashLoopBackOff")
                    || c.last_state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .is_some_and(|t| t.exit_code != 0)
            })
        })
}

/// The token automount is off for the pod (pod spec or Deployment template).
fn automount_off(facts: &Facts) -> bool {
    facts
        .deployment()
        .and_then(|d| d.spec.template.spec.as_ref())
        .and_then(|s| s.automount_service_account_token)
        == Some(false)
        || facts.pods.iter().any(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.automount_service_account_token)
                == Some(false)
        })
}

pub(super) fn logs_mention(facts: &Facts, needle: &str) -> bool {
    facts.logs.iter().any(|l| l.text.contains(needle))
}

pub(super) const AUTOMOUNT_FIX: &str = "the server finds no cluster credentials (\"no current-context\"): \
    serviceAccount.automountToken is false. Set it to true (the service account needs no extra \
    RBAC in passthrough mode), e.g. re-run `oc mcp-install`";

pub(super) fn pods_row(facts: &Facts) -> Row {
    let id = CheckId::ClusterPods;
    if facts.deployment().is_none() {
        return Row::skip(id, crate::cluster_rows::no_deployment(facts));
    }
    if let Some(e) = &facts.pods_error {
        return read_failed(id, e);
    }
    if facts.pods.is_empty() {
        return Row::fail(id)
            .evidence("no pod matches the Deployment's selector")
            .fix(
                "see `oc describe deployment` and its ReplicaSet events (quota, image pull, SCC)",
            );
    }
    let ready = facts.pods.iter().filter(|p| pod_ready(p)).count();
    let lines: Vec<String> = facts.pods.iter().map(describe_pod).collect();
    let crash = facts.pods.iter().any(crash_looping);
    let no_credentials =
        logs_mention(facts, "no current-context") || (crash && automount_off(facts));
    let restarts: i32 = facts.pods.iter().map(restart_count).sum();
    let row = if ready == 0 {
        Row::fail(id).fix(if no_credentials {
            AUTOMOUNT_FIX.to_owned()
        } else if crash {
            "the server exits at startup: see logs.startup (`oc logs deployment/<name> --previous`)"
                .to_owned()
        } else {
            "no pod is ready: see `oc describe pod` events".to_owned()
        })
    } else if ready < facts.pods.len() || restarts > 0 {
        Row::warn(id).fix(if no_credentials {
            AUTOMOUNT_FIX.to_owned()
        } else {
            "a pod restarted or is not ready: see logs.startup and `oc describe pod`".to_owned()
        })
    } else {
        Row::pass(id)
    };
    row.evidence(format!("{ready}/{} pods ready", facts.pods.len()))
        .evidence_lines(lines)
}
