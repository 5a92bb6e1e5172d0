//! Every path to the server's pods, not only the Route the release made: all Routes and
//! Ingresses that send traffic to a Service selecting the pods, Services that publish the pods
//! on node ports, load balancers or external IPs (they bypass the router's TLS), and other
//! workloads whose pods carry the server's labels (they receive the Service's traffic).

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Pod, Service},
    networking::v1::Ingress,
};
use kube::{Api, Client, ResourceExt, api::ListParams};
use oc_mcp_common::openshift::Route;
use serde_json::Value;

use crate::{
    checks::CheckId,
    cluster::{Facts, ReadError, list},
    cluster_rows::read_failed,
    report::Row,
};

/// What the namespace holds besides the release's own objects; `None`: not read.
#[derive(Debug, Default)]
pub struct Paths {
    /// `None` also when the Route API does not exist (not OpenShift).
    pub routes: Option<Result<Vec<Route>, ReadError>>,
    pub ingresses: Option<Result<Vec<Ingress>, ReadError>>,
    pub services: Option<Result<Vec<Service>, ReadError>>,
    pub deployments: Option<Result<Vec<Deployment>, ReadError>>,
}

/// List the namespace's Services and Deployments at once (its Routes and Ingresses come
/// from the release's own read, which lists them all).
pub async fn read(client: &Client, ns: &str, paths: &mut Paths) {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let all = ListParams::default();
    let (s, d) = futures::join!(
        list(&services, &all, "services"),
        list(&deployments, &all, "deployments"),
    );
    paths.services = Some(s.map(|(items, _)| items));
    paths.deployments = Some(d.map(|(items, _)| items));
}

/// The controller owner reference of an object, as (kind, name, uid).
fn controller(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<(&str, &str, &str)> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
        .map(|o| (o.kind.as_str(), o.name.as_str(), o.uid.as_str()))
}

/// Split the pods the Deployment's selector matches into its own (through a ReplicaSet it
/// controls) and the others'. Without the ReplicaSets, a pod is the Deployment's when its
/// ReplicaSet is named `<deployment>-<pod-template-hash>`, as the Deployment controller names
/// them.
pub fn split_pods(
    deployment: &Deployment,
    replica_sets: Option<&[ReplicaSet]>,
    pods: Vec<Pod>,
) -> (Vec<Pod>, Vec<Pod>) {
    let name = deployment.name_any();
    let uid = deployment.uid();
    let owned_by_deployment = |rs: &ReplicaSet| {
        controller(&rs.metadata).is_some_and(|(kind, owner, owner_uid)| {
            kind == "Deployment" && owner == name && uid.as_deref().is_none_or(|u| u == owner_uid)
        })
    };
    let own_sets: Option<Vec<(String, Option<String>)>> = replica_sets.map(|sets| {
        sets.iter()
            .filter(|rs| owned_by_deployment(rs))
            .map(|rs| (rs.name_any(), rs.uid()))
            .collect()
    });
    pods.into_iter().partition(|pod| {
        let Some(("ReplicaSet", rs_name, rs_uid)) = controller(&pod.metadata) else {
            return false;
        };
        match &own_sets {
            Some(sets) => sets
                .iter()
                .any(|(n, u)| n == rs_name && u.as_deref().is_none_or(|u| u == rs_uid)),
            None => pod
                .labels()
                .get("pod-template-hash")
                .is_some_and(|hash| rs_name == format!("{name}-{hash}")),
        }
    })
}

/// A selector picks objects with these labels (an empty selector picks nothing here: a
/// Service without selector has hand-made endpoints, not the pods).
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn template_labels(deployment: &Deployment) -> BTreeMap<String, String> {
    deployment
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn service_selector(service: &Service) -> BTreeMap<String, String> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

/// The Services that send traffic to the server's pods: the release's, and every other whose
/// selector matches the pods' labels.
fn server_services<'a>(facts: &Facts, services: &'a [Service]) -> Vec<&'a Service> {
    let labels = facts.deployment().map(template_labels).unwrap_or_default();
    let own = facts.service().map(ResourceExt::name_any);
    services
        .iter()
        .filter(|s| {
            own.as_deref() == Some(s.name_any().as_str()) || selects(&service_selector(s), &labels)
        })
        .collect()
}

/// Every row of the exposure group.
pub fn rows(facts: &Facts) -> Vec<Row> {
    let ids = [
        CheckId::ExposureRoutes,
        CheckId::ExposureIngresses,
        CheckId::ExposureServices,
        CheckId::ExposureWorkloads,
    ];
    if facts.deployment().is_none() {
        return ids
            .iter()
            .map(|id| Row::skip(*id, crate::cluster_rows::no_deployment(facts)))
            .collect();
    }
    let services = match &facts.paths.services {
        Some(Ok(s)) => s.as_slice(),
        Some(Err(e)) => {
            return ids.iter().map(|id| read_failed(*id, e)).collect();
        }
        None => &[],
    };
    let targets: Vec<String> = server_services(facts, services)
        .iter()
        .map(|s| s.name_any())
        .collect();
    vec![
        routes_row(facts, &targets),
        ingresses_row(facts, &targets),
        services_row(facts, services),
        workloads_row(facts),
    ]
}

fn list_line(what: &str, names: &[String]) -> String {
    if names.is_empty() {
        format!("no {what}")
    } else {
        format!("{what}: {}", names.join(", "))
    }
}

/// The Services a Route sends traffic to (`to` and `alternateBackends`).
fn route_backends(route: &Route) -> Vec<String> {
    let mut out = Vec::new();
    if route.spec.to.kind.is_empty() || route.spec.to.kind == "Service" {
        out.push(route.spec.to.name.clone());
    }
    if let Some(Value::Array(alternates)) = route.spec.extra.get("alternateBackends") {
        for b in alternates {
            let kind = b.get("kind").and_then(Value::as_str).unwrap_or("Service");
            if kind == "Service"
                && let Some(name) = b.get("name").and_then(Value::as_str)
            {
                out.push(name.to_owned());
            }
        }
    }
    out
}

fn routes_row(facts: &Facts, targets: &[String]) -> Row {
    let id = CheckId::ExposureRoutes;
    let ns = facts.namespace.as_str();
    let routes = match &facts.paths.routes {
        None => return Row::info(id).evidence("no route.openshift.io API (not OpenShift)"),
        Some(Err(e)) => return read_failed(id, e),
        Some(Ok(r)) => r,
    };
    // The release's own Route is judged by route.tls and route.insecure-policy.
    let primary = facts.route().map(ResourceExt::name_any);
    let to_server: Vec<&Route> = routes
        .iter()
        .filter(|r| route_backends(r).iter().any(|b| targets.contains(b)))
        .collect();
    let others: Vec<&Route> = to_server
        .iter()
        .copied()
        .filter(|r| primary.as_deref() != Some(r.name_any().as_str()))
        .collect();
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut fixes = Vec::new();
    let mut fine = Vec::new();
    for route in &others {
        let name = route.name_any();
        let host = route
            .spec
            .host
            .clone()
            .unwrap_or_else(|| "<no host>".into());
        let tls = route.spec.tls.as_ref();
        let termination = tls.map(|t| t.termination.to_ascii_lowercase());
        let policy = tls
            .and_then(|t| t.insecure_edge_termination_policy.as_deref())
            .unwrap_or("");
        match termination.as_deref() {
            None => {
                failures.push(format!(
                    "route/{name} (host {host}, to {}) has no TLS: http://{host} reaches the server in clear",
                    route_backends(route).join(",")
                ));
                fixes.push(format!(
                    "delete it (oc delete route/{name} -n {ns}) or give it edge TLS: oc patch route/{name} -n {ns} --type=merge -p '{{\"spec\":{{\"tls\":{{\"termination\":\"edge\",\"insecureEdgeTerminationPolicy\":\"Redirect\"}}}}}}'"
                ));
            }
            Some(_) if policy.eq_ignore_ascii_case("allow") => {
                failures.push(format!(
                    "route/{name} (host {host}) has insecureEdgeTerminationPolicy Allow: http://{host}/mcp serves the endpoint without TLS"
                ));
                fixes.push(format!(
                    "oc patch route/{name} -n {ns} --type=merge -p '{{\"spec\":{{\"tls\":{{\"insecureEdgeTerminationPolicy\":\"Redirect\"}}}}}}'"
                ));
            }
            Some("passthrough") => {
                warnings.push(format!(
                    "route/{name} (host {host}) is passthrough: the router does not terminate TLS and the server serves none"
                ));
                fixes.push(format!(
                    "delete route/{name} or make it edge (oc mcp-install makes the one Route needed)"
                ));
            }
            Some(t) => fine.push(format!("route/{name} ({t}, host {host})")),
        }
    }
    let checked = primary.map_or_else(
        || "no release Route".to_owned(),
        |p| format!("route/{p} is judged by route.tls and route.insecure-policy"),
    );
    let head = format!(
        "{} Route(s) to service {}: {checked}",
        to_server.len(),
        if targets.is_empty() {
            "<none>".to_owned()
        } else {
            targets.join(", ")
        }
    );
    finish(
        id,
        head,
        failures,
        warnings,
        &fixes,
        &fine,
        "other Routes with TLS",
    )
}

/// Rows with failures first, then warnings, then what was fine.
fn finish(
    id: CheckId,
    head: String,
    failures: Vec<String>,
    warnings: Vec<String>,
    fixes: &[String],
    fine: &[String],
    fine_what: &str,
) -> Row {
    let row = if !failures.is_empty() {
        Row::fail(id)
    } else if !warnings.is_empty() {
        Row::warn(id)
    } else {
        Row::pass(id)
    };
    let row = if failures.is_empty() && warnings.is_empty() {
        row.evidence(head)
    } else {
        row.evidence_lines(failures)
            .evidence_lines(warnings)
            .evidence(head)
            .fix(fixes.join("; "))
    };
    if fine.is_empty() {
        row
    } else {
        row.evidence(list_line(fine_what, fine))
    }
}

/// The Services an Ingress sends traffic to.
fn ingress_backends(ingress: &Ingress) -> Vec<String> {
    let Some(spec) = ingress.spec.as_ref() else {
        return Vec::new();
    };
    let mut out: Vec<String> = spec
        .default_backend
        .iter()
        .filter_map(|b| b.service.as_ref().map(|s| s.name.clone()))
        .collect();
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
            if let Some(s) = &path.backend.service {
                out.push(s.name.clone());
            }
        }
    }
    out
}

/// The Ingress the release's Route was made from.
fn primary_ingress(facts: &Facts) -> Option<String> {
    facts.route().and_then(|r| {
        r.metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "Ingress")
            .map(|o| o.name.clone())
    })
}

fn ingresses_row(facts: &Facts, targets: &[String]) -> Row {
    let id = CheckId::ExposureIngresses;
    let ns = facts.namespace.as_str();
    let ingresses = match &facts.paths.ingresses {
        None => return Row::skip(id, "the Ingresses were not read"),
        Some(Err(e)) => return read_failed(id, e),
        Some(Ok(i)) => i,
    };
    let openshift = facts.paths.routes.is_some();
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut fixes = Vec::new();
    let mut fine = Vec::new();
    // The Ingress the release's Route was made from is judged through it (route.tls).
    let primary = primary_ingress(facts);
    let to_server: Vec<&Ingress> = ingresses
        .iter()
        .filter(|i| ingress_backends(i).iter().any(|b| targets.contains(b)))
        .collect();
    if let Some(p) = &primary {
        fine.push(format!(
            "ingress/{p}: served through its Route, judged by route.tls and route.insecure-policy"
        ));
    }
    let to_server: Vec<&Ingress> = to_server
        .into_iter()
        .filter(|i| primary.as_deref() != Some(i.name_any().as_str()))
        .collect();
    for ingress in &to_server {
        let name = ingress.name_any();
        let spec = ingress.spec.clone().unwrap_or_default();
        let hosts: Vec<String> = spec
            .rules
            .iter()
            .flatten()
            .filter_map(|r| r.host.clone())
            .collect();
        let hosts = if hosts.is_empty() {
            "every host".to_owned()
        } else {
            hosts.join(",")
        };
        if spec.tls.as_ref().is_some_and(|t| !t.is_empty()) {
            fine.push(format!("ingress/{name} (tls, {hosts})"));
            continue;
        }
        let termination = ingress
            .annotations()
            .get("route.openshift.io/termination")
            .map(|t| t.to_ascii_lowercase());
        let class = spec.ingress_class_name.as_deref();
        let openshift_class = class.is_none_or(|c| c == "openshift-default");
        match termination.as_deref() {
            Some("edge" | "reencrypt") if openshift && openshift_class => fine.push(format!(
                "ingress/{name} ({hosts}): served through the Route OpenShift makes from it (route.openshift.io/termination {})",
                termination.as_deref().unwrap_or_default()
            )),
            Some("passthrough") if openshift && openshift_class => {
                warnings.push(format!(
                    "ingress/{name} ({hosts}) asks for a passthrough Route: the router does not terminate TLS and the server serves none"
                ));
                fixes.push(format!(
                    "oc annotate ingress/{name} -n {ns} --overwrite route.openshift.io/termination=edge"
                ));
            }
            _ => {
                let why = if openshift && openshift_class {
                    "OpenShift makes a Route without TLS from it"
                } else {
                    "its ingress controller serves it over plain HTTP"
                };
                failures.push(format!(
                    "ingress/{name} ({hosts}, class {}) has no tls section: {why}",
                    class.unwrap_or("<default>")
                ));
                fixes.push(if openshift && openshift_class {
                    format!(
                        "oc annotate ingress/{name} -n {ns} --overwrite route.openshift.io/termination=edge, or delete it"
                    )
                } else {
                    format!(
                        "give ingress/{name} a spec.tls with a certificate Secret for its host, or delete it"
                    )
                });
            }
        }
    }
    let head = format!(
        "{} other Ingress(es) to service {}",
        to_server.len(),
        if targets.is_empty() {
            "<none>".to_owned()
        } else {
            targets.join(", ")
        }
    );
    finish(id, head, failures, warnings, &fixes, &fine, "checked")
}

fn services_row(facts: &Facts, services: &[Service]) -> Row {
    let id = CheckId::ExposureServices;
    let ns = facts.namespace.as_str();
    let mut failures = Vec::new();
    let mut fixes = Vec::new();
    let mut fine = Vec::new();
    for service in server_services(facts, services) {
        let name = service.name_any();
        let spec = service.spec.clone().unwrap_or_default();
        let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let external = spec.external_ips.clone().unwrap_or_default();
        let node_ports: Vec<String> = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.node_port.map(|n| n.to_string()))
            .collect();
        let mut bad = false;
        match kind.as_str() {
            "NodePort" => {
                bad = true;
                failures.push(format!(
                    "service/{name} is type NodePort (node port {}): every node serves the pods over plain HTTP, past the router's TLS",
                    if node_ports.is_empty() { "?".to_owned() } else { node_ports.join(",") }
                ));
            }
            "LoadBalancer" => {
                bad = true;
                failures.push(format!(
                    "service/{name} is type LoadBalancer: a load balancer (and node ports) serve the pods over plain HTTP, past the router's TLS"
                ));
            }
            _ => {}
        }
        if !external.is_empty() {
            bad = true;
            failures.push(format!(
                "service/{name} has externalIPs {}: traffic to them reaches the pods over plain HTTP",
                external.join(",")
            ));
        }
        if bad {
            if facts.service().map(ResourceExt::name_any).as_deref() == Some(name.as_str()) {
                fixes.push(format!(
                    "oc patch service/{name} -n {ns} --type=merge -p '{{\"spec\":{{\"type\":\"ClusterIP\",\"externalIPs\":null}}}}' (or re-run `oc mcp-install`)"
                ));
            } else {
                fixes.push(format!("oc delete service/{name} -n {ns}"));
            }
        } else {
            fine.push(format!("service/{name} ({kind})"));
        }
    }
    let head = if failures.is_empty() {
        "no Service publishes the pods outside the cluster".to_owned()
    } else {
        "the router is not the only way in".to_owned()
    };
    finish(
        id,
        head,
        failures,
        Vec::new(),
        &fixes,
        &fine,
        "Services selecting the pods",
    )
}

fn workloads_row(facts: &Facts) -> Row {
    let id = CheckId::ExposureWorkloads;
    let ns = facts.namespace.as_str();
    let Some(deployment) = facts.deployment() else {
        return Row::skip(id, crate::cluster_rows::no_deployment(facts));
    };
    let deployments = match &facts.paths.deployments {
        None => return Row::skip(id, "the Deployments were not read"),
        Some(Err(e)) => return read_failed(id, e),
        Some(Ok(d)) => d,
    };
    // What the pods of another workload need to receive the server's traffic.
    let mut selectors: Vec<BTreeMap<String, String>> = Vec::new();
    if let Some(s) = facts
        .service()
        .map(service_selector)
        .filter(|s| !s.is_empty())
    {
        selectors.push(s);
    }
    if let Some(m) = deployment
        .spec
        .selector
        .match_labels
        .clone()
        .filter(|m| !m.is_empty())
    {
        selectors.push(m);
    }
    let mut failures = Vec::new();
    let mut fixes = Vec::new();
    let own = deployment.name_any();
    for other in deployments.iter().filter(|d| d.name_any() != own) {
        let labels = template_labels(other);
        if selectors.iter().any(|s| selects(s, &labels)) {
            let name = other.name_any();
            let replicas = other.spec.replicas.unwrap_or(1);
            failures.push(format!(
                "deployment/{name} ({replicas} replicas) has the server's pod labels: its pods receive the Service's traffic"
            ));
            fixes.push(format!("oc delete deployment/{name} -n {ns}"));
        }
    }
    // Pods of anything else (ReplicaSets, StatefulSets, bare pods) matching the selector.
    let other_deployments: Vec<String> = deployments
        .iter()
        .filter(|d| d.name_any() != own)
        .map(ResourceExt::name_any)
        .collect();
    let sets = facts
        .replica_sets
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let owner_of_set = |rs_name: &str| -> Option<String> {
        sets.iter()
            .find(|rs| rs.name_any() == rs_name)
            .and_then(|rs| controller(&rs.metadata).map(|(_, n, _)| n.to_owned()))
    };
    for pod in &facts.foreign_pods {
        let owner = controller(&pod.metadata);
        let by_other_deployment = match owner {
            Some(("ReplicaSet", rs, _)) => {
                owner_of_set(rs).is_some_and(|d| other_deployments.contains(&d))
            }
            _ => false,
        };
        if by_other_deployment {
            continue;
        }
        let name = pod.name_any();
        let what = owner.map_or_else(
            || "a bare pod".to_owned(),
            |(k, n, _)| format!("owned by {k}/{n}"),
        );
        failures.push(format!(
            "pod/{name} ({what}) has the server's labels but is not the release's: it receives the Service's traffic"
        ));
        fixes.push(match owner {
            Some((kind, n, _)) => format!("oc delete {}/{n} -n {ns}", kind.to_ascii_lowercase()),
            None => format!("oc delete pod/{name} -n {ns}"),
        });
    }
    let head = format!(
        "deployment/{own} is the only workload with the server's pod labels ({} pods)",
        facts.pods.len()
    );
    if failures.is_empty() {
        Row::pass(id).evidence(head)
    } else {
        Row::fail(id)
            .evidence_lines(failures)
            .evidence(format!(
                "only the {} pods of deployment/{own} are counted in cluster.pods",
                facts.pods.len()
            ))
            .fix(fixes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, rs: Option<(&str, &str)>, hash: &str) -> Pod {
        let owners = rs.map_or_else(Vec::new, |(n, uid)| {
            vec![
                serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": n,
                "uid": uid, "controller": true}),
            ]
        });
        serde_json::from_value(serde_json::json!({"metadata": {"name": name,
            "labels": {"app": "mcp", "pod-template-hash": hash}, "ownerReferences": owners}}))
        .expect("pod")
    }

    #[test]
    fn pods_of_another_workload_are_not_the_deployments() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "mcp", "uid": "d1"},
            "spec": {"selector": {"matchLabels": {"app": "mcp"}}, "template": {}}}))
        .expect("deployment");
        let sets: Vec<ReplicaSet> = serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "mcp-abc", "uid": "r1", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mcp", "uid": "d1", "controller": true}]},
             "spec": {"selector": {}}},
            {"metadata": {"name": "evil-xyz", "uid": "r2", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "evil", "uid": "d2", "controller": true}]},
             "spec": {"selector": {}}}]))
        .expect("sets");
        let pods = vec![
            pod("mcp-abc-1", Some(("mcp-abc", "r1")), "abc"),
            pod("evil-xyz-1", Some(("evil-xyz", "r2")), "xyz"),
            pod("bare", None, "abc"),
        ];
        let (own, foreign) = split_pods(&d, Some(&sets), pods.clone());
        assert_eq!(
            own.iter().map(ResourceExt::name_any).collect::<Vec<_>>(),
            ["mcp-abc-1"]
        );
        assert_eq!(foreign.len(), 2);
        // Without the ReplicaSets: by the controller's naming.
        let (own, foreign) = split_pods(&d, None, pods);
        assert_eq!(own.len(), 1);
        assert_eq!(foreign.len(), 2);
    }

    #[test]
    fn selectors_and_backends() {
        let labels: BTreeMap<String, String> = [
            ("app".to_owned(), "mcp".to_owned()),
            ("x".to_owned(), "y".to_owned()),
        ]
        .into();
        assert!(selects(
            &[("app".to_owned(), "mcp".to_owned())].into(),
            &labels
        ));
        assert!(!selects(&BTreeMap::new(), &labels));
        assert!(!selects(
            &[("app".to_owned(), "other".to_owned())].into(),
            &labels
        ));
        let route: Route = serde_json::from_value(serde_json::json!({"spec": {
            "to": {"kind": "Service", "name": "a"},
            "alternateBackends": [{"kind": "Service", "name": "b"}]}}))
        .expect("route");
        assert_eq!(route_backends(&route), ["a", "b"]);
        let ingress: Ingress = serde_json::from_value(serde_json::json!({"spec": {
            "defaultBackend": {"service": {"name": "d", "port": {"number": 80}}},
            "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "e", "port": {"number": 80}}}}]}}]}}))
        .expect("ingress");
        assert_eq!(ingress_backends(&ingress), ["d", "e"]);
    }
}
