//! The Deployment, its pods (told from other workloads' by their ReplicaSets) and their
//! recent logs.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ConfigMap, Pod},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, LogParams},
};
use oc_mcp_common::server_config::{ParsedConfig, ServerVersion};

use super::{
    CHART_NAME, ClusterConfig, Facts, INSTANCE_LABEL, NAME_LABEL, PodLog, ReadError, Scope,
    candidate_names, config::read_config, get_opt, list, read_error,
};

/// The Deployment's pods, their logs and its config (or, without a Deployment, the config
/// the chart's ConfigMap name finds).
pub(super) async fn read_workload(
    client: &Client,
    scope: &Scope,
    names: &[String],
    facts: &mut Facts,
) {
    let ns = scope.namespace.as_str();
    if let Some(deployment) = facts.deployment().cloned() {
        facts.server_version = server_version(&deployment);
        read_pods(client, ns, &deployment, facts).await;
        if scope.logs {
            read_logs(client, ns, facts).await;
        }
        facts.config = Some(read_config(client, ns, &deployment).await);
        return;
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for name in names {
        if let Ok(Some(cm)) = get_opt(&cms, name, "configmap").await
            && let Some(text) = cm.data.as_ref().and_then(|d| d.get("config.toml"))
        {
            facts.config = Some(Ok(ClusterConfig {
                source: format!("configmap/{name} key config.toml"),
                parsed: ParsedConfig::parse(text).map_err(|e| e.to_string()),
                unread_drop_ins: Vec::new(),
            }));
            return;
        }
    }
}

pub(super) async fn find_deployment(
    api: &Api<Deployment>,
    release: &str,
) -> Result<Option<Deployment>, ReadError> {
    for name in candidate_names(release) {
        if let Some(d) = get_opt(api, &name, "deployment").await? {
            return Ok(Some(d));
        }
    }
    let params = ListParams::default().labels(&format!(
        "{INSTANCE_LABEL}={release},{NAME_LABEL}={CHART_NAME}"
    ));
    let (items, _) = list(api, &params, "deployments").await?;
    Ok(items.into_iter().next())
}

/// The server version from the image tag (`...:v0.0.67`); `Latest` otherwise.
pub(super) fn server_version(deployment: &Deployment) -> ServerVersion {
    server_container(deployment)
        .and_then(|c| c.image.as_deref())
        .and_then(|image| {
            let last = image.rsplit('/').next().unwrap_or(image);
            let tag = last.split_once(':')?.1;
            tag.split('@').next()?.parse().ok()
        })
        .unwrap_or_default()
}

/// The container running the server: named like the chart, else the first.
pub fn server_container(deployment: &Deployment) -> Option<&k8s_openapi::api::core::v1::Container> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .find(|c| c.name == CHART_NAME)
        .or_else(|| containers.first())
}

fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn read_pods(client: &Client, ns: &str, deployment: &Deployment, facts: &mut Facts) {
    let Some(labels) = deployment
        .spec
        .selector
        .match_labels
        .as_ref()
        .filter(|l| !l.is_empty())
    else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let params = ListParams::default().labels(&selector_string(labels));
    let every = ListParams::default();
    let (listed, sets) = futures::join!(
        list(&pods, &params, "pods"),
        list(&replica_sets, &every, "replicasets"),
    );
    facts.replica_sets = Some(sets.map(|(items, _)| items));
    match listed {
        Ok((items, _)) => {
            let live: Vec<Pod> = items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let sets = facts
                .replica_sets
                .as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(Vec::as_slice);
            // Pods of another workload with the same labels must not count as the server's.
            let (own, foreign) = crate::exposure::split_pods(deployment, sets, live);
            facts.pods = own;
            facts.foreign_pods = foreign;
        }
        Err(e) => facts.pods_error = Some(e),
    }
}

pub fn restart_count(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
}

async fn read_logs(client: &Client, ns: &str, facts: &mut Facts) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let container = facts
        .deployment()
        .and_then(server_container)
        .map(|c| c.name.clone());
    for pod in facts.pods.iter().take(3) {
        let name = pod.name_any();
        let restarted = restart_count(pod) > 0;
        let mut which: Vec<(&'static str, bool)> = vec![("current", false)];
        if restarted {
            which.push(("previous", true));
        }
        for (label, previous) in which {
            let params = LogParams {
                container: container.clone(),
                tail_lines: Some(200),
                previous,
                ..LogParams::default()
            };
            match pods.logs(&name, &params).await {
                Ok(text) => facts.logs.push(PodLog {
                    pod: name.clone(),
                    which: label,
                    text,
                }),
                // A container that never ran has no previous log: not an error.
                Err(kube::Error::Api(s)) if previous && s.code == 400 => {}
                Err(e) => {
                    facts.logs_error = Some(read_error(&format!("logs of pod {name}"), e));
                }
            }
        }
    }
}
