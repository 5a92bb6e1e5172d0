//! The Helm release of the deployment, from the release Secrets Helm keeps.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt, api::ListParams};

use super::{Facts, MANAGED_BY_LABEL};

pub(super) async fn read_helm(client: &Client, ns: &str, release: &str, facts: &mut Facts) {
    let annotated = facts.deployment().and_then(|d| {
        let managed = d.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some("Helm");
        let name = d.annotations().get("meta.helm.sh/release-name").cloned();
        managed.then_some(name).flatten()
    });
    let name = annotated.unwrap_or_else(|| release.to_owned());
    // Helm 3 keeps one Secret per revision, labelled owner=helm,name=<release>,status,version.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
    if let Ok(list) = secrets.list_metadata(&params).await {
        let latest = list.items.iter().max_by_key(|s| {
            s.labels()
                .get("version")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        if let Some(latest) = latest {
            facts.helm_release = Some(name);
            facts.helm_status = Some(format!(
                "revision {} {}",
                latest.labels().get("version").map_or("?", String::as_str),
                latest
                    .labels()
                    .get("status")
                    .map_or("unknown", String::as_str)
            ));
        }
    }
}
