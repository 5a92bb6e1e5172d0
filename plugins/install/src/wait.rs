//! `--wait`: until the Deployment is available and the Route admitted, with progress on
//! stderr; on timeout, the evidence a person needs (pod status, events, log tail).

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Event, Pod},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, LogParams},
};
use oc_mcp_common::{Error, Result, openshift::Route};

use crate::{plan::InstallPlan, render::INSTANCE_LABEL};

/// What is ready so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub deployment: String,
    pub route: Option<String>,
    pub done: bool,
}

/// The admitted Route made from our Ingress: found by owner reference (its name carries a
/// random suffix), or by host.
pub fn route_for<'a>(routes: &'a [Route], ingress: &str, host: &str) -> Option<&'a Route> {
    routes.iter().find(|r| {
        r.owner_references()
            .iter()
            .any(|o| o.kind == "Ingress" && o.name == ingress)
            || r.spec.host.as_deref() == Some(host)
    })
}

async fn check(client: &Client, plan: &InstallPlan) -> Result<Progress> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &plan.namespace);
    let deployment_state = match deployments.get_opt(&plan.fullname).await? {
        None => (false, "Deployment not created yet".to_owned()),
        Some(d) => {
            let generation = d.metadata.generation.unwrap_or(0);
            let status = d.status.unwrap_or_default();
            let wanted = d.spec.replicas.unwrap_or(1);
            let updated = status.updated_replicas.unwrap_or(0);
            let available = status.available_replicas.unwrap_or(0);
            let observed = status.observed_generation.unwrap_or(0) >= generation;
            let ready = observed && updated >= wanted && available >= wanted;
            (
                ready,
                format!(
                    "Deployment {}: {available}/{wanted} available, {updated} updated",
                    plan.fullname
                ),
            )
        }
    };
    // Not OpenShift (or no route): an Ingress is served by whatever controller the cluster has.
    let route_state = match plan.host() {
        Some(host) if plan.openshift => {
            let routes: Api<Route> = Api::namespaced(client.clone(), &plan.namespace);
            let list = routes.list(&ListParams::default()).await?.items;
            Some(match route_for(&list, &plan.fullname, host) {
                Some(r) if r.admitted() => {
                    (true, format!("Route {} admitted for {host}", r.name_any()))
                }
                Some(r) => (false, format!("Route {} not admitted yet", r.name_any())),
                None => (false, "Route not created yet".to_owned()),
            })
        }
        _ => None,
    };
    let done = deployment_state.0 && route_state.as_ref().is_none_or(|r| r.0);
    Ok(Progress {
        deployment: deployment_state.1,
        route: route_state.map(|r| r.1),
        done,
    })
}

/// Poll until ready or `timeout`.
pub async fn wait_ready(
    client: &Client,
    plan: &InstallPlan,
    timeout: Duration,
) -> Result<Progress> {
    let deadline = Instant::now() + timeout;
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last = String::new();
    loop {
        let progress = check(client, plan).await?;
        let line = match &progress.route {
            Some(route) => format!("{}; {route}", progress.deployment),
            None => progress.deployment.clone(),
        };
        if line != last {
            match &spinner {
                Some(bar) => bar.set_message(line.clone()),
                None => eprintln!("waiting: {line}"),
            }
            last = line;
        }
        if progress.done {
            if let Some(bar) = spinner {
                bar.finish_and_clear();
            }
            return Ok(progress);
        }
        if Instant::now() >= deadline {
            if let Some(bar) = spinner {
                bar.finish_and_clear();
            }
            let evidence = evidence(client, plan).await;
            return Err(Error::Failed {
                message: format!("not ready after {}s: {last}\n{evidence}", timeout.as_secs()),
                hint: Some(
                    "read the pod status, events and log above; `oc mcp-verify` checks each part"
                        .into(),
                ),
            });
        }
        tokio::time::sleep(
            Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}

/// Pod states, recent events and the log tail of the release's pods.
async fn evidence(client: &Client, plan: &InstallPlan) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &plan.namespace);
    let selector = format!("{INSTANCE_LABEL}={}", plan.release);
    let mut out = Vec::new();
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    for pod in &list {
        let name = pod.name_any();
        for status in pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
        {
            let waiting = status
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .map(|w| format!("waiting: {}", w.reason.clone().unwrap_or_default()))
                .unwrap_or_default();
            let last_exit = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| {
                    format!(
                        ", last exit {} ({})",
                        t.exit_code,
                        t.reason.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            out.push(format!(
                "pod {name}: ready={}, restarts={} {waiting}{last_exit}",
                status.ready, status.restart_count
            ));
        }
        let params = LogParams {
            tail_lines: Some(10),
            ..LogParams::default()
        };
        if let Ok(log) = pods.logs(&name, &params).await
            && !log.trim().is_empty()
        {
            out.push(format!(
                "log of {name} (last lines):\n  {}",
                log.trim().replace('\n', "\n  ")
            ));
        }
    }
    let events: Api<Event> = Api::namespaced(client.clone(), &plan.namespace);
    if let Ok(list) = events.list(&ListParams::default()).await {
        for event in list.items.iter().rev().take(10) {
            out.push(format!(
                "event {} {}: {}",
                event.type_.clone().unwrap_or_default(),
                event.reason.clone().unwrap_or_default(),
                event.message.clone().unwrap_or_default()
            ));
        }
    }
    if out.is_empty() {
        "no pods found for the release".to_owned()
    } else {
        out.join("\n")
    }
}
