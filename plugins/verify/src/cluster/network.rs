//! How the pods are reached: the release's Service and its Endpoints, its Ingress and Route.

use k8s_openapi::api::{
    core::v1::{Endpoints, Service},
    networking::v1::Ingress,
};
use kube::{Api, Client, ResourceExt, api::ListParams};
use oc_mcp_common::openshift::Route;

use super::{CHART_NAME, Facts, INSTANCE_LABEL, NAME_LABEL, get_opt, list};

pub(super) async fn read_service(
    client: &Client,
    ns: &str,
    names: &[String],
    release: &str,
    facts: &mut Facts,
) {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let mut found = Ok(None);
    for name in names {
        match get_opt(&services, name, "service").await {
            Ok(Some(s)) => {
                found = Ok(Some(s));
                break;
            }
            Ok(None) => {}
            Err(e) => {
                found = Err(e);
                break;
            }
        }
    }
    if matches!(found, Ok(None)) {
        let params = ListParams::default().labels(&format!(
            "{INSTANCE_LABEL}={release},{NAME_LABEL}={CHART_NAME}"
        ));
        found = list(&services, &params, "services")
            .await
            .map(|(items, _)| items.into_iter().next());
    }
    if let Ok(Some(service)) = &found {
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), ns);
        facts.endpoints = endpoints.get_opt(&service.name_any()).await.ok().flatten();
    }
    facts.service = Some(found);
}

/// The release's Ingress and Route; every Ingress and Route of the namespace is kept for the
/// exposure checks, which need them all (one list each).
pub(super) async fn read_route(
    client: &Client,
    ns: &str,
    names: &[String],
    release: &str,
    facts: &mut Facts,
) {
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
    let listed = list(&ingresses, &ListParams::default(), "ingresses").await;
    facts.paths.ingresses = Some(listed.clone().map(|(items, _)| items));
    if let Ok((items, _)) = listed {
        facts.ingress = items
            .iter()
            .find(|i| names.contains(&i.name_any()))
            .or_else(|| {
                items
                    .iter()
                    .find(|i| i.labels().get(INSTANCE_LABEL).map(String::as_str) == Some(release))
            })
            .cloned();
    }
    let routes: Api<Route> = Api::namespaced(client.clone(), ns);
    let all = match list(&routes, &ListParams::default(), "routes").await {
        Ok((_, true)) => {
            facts.no_route_api = true;
            facts.routes = Some(Ok(Vec::new()));
            return;
        }
        Ok((items, false)) => {
            facts.paths.routes = Some(Ok(items.clone()));
            items
        }
        Err(e) => {
            facts.paths.routes = Some(Err(e.clone()));
            facts.routes = Some(Err(e));
            return;
        }
    };
    let service = facts.service().map(ResourceExt::name_any);
    // 1. Owned by the Ingress (OpenShift names it <ingress>-<random>).
    let mut matched: Vec<Route> = match &facts.ingress {
        Some(ingress) => all
            .iter()
            .filter(|r| {
                r.metadata.owner_references.iter().flatten().any(|o| {
                    o.kind == "Ingress"
                        && o.name == ingress.name_any()
                        && ingress.uid().is_none_or(|uid| uid == o.uid)
                })
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    // 2. By name; 3. by the Service it targets.
    if matched.is_empty() {
        matched = all
            .iter()
            .filter(|r| names.contains(&r.name_any()))
            .cloned()
            .collect();
    }
    if matched.is_empty()
        && let Some(service) = &service
    {
        matched = all
            .iter()
            .filter(|r| r.spec.to.kind == "Service" && &r.spec.to.name == service)
            .cloned()
            .collect();
    }
    facts.routes = Some(Ok(matched));
}
