//! cluster.service: the release's Service and whether it has ready endpoints.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::{checks::CheckId, cluster::Facts, report::Row};

use super::{pods::pod_ready, read_failed};

pub(super) fn service_row(facts: &Facts) -> Row {
    let id = CheckId::ClusterService;
    let service = match &facts.service {
        Some(Ok(Some(s))) => s,
        Some(Ok(None)) | None => {
            return Row::fail(id)
                .evidence(format!("no Service for the release in {}", facts.namespace))
                .fix("re-run `oc mcp-install`: the Route needs the Service");
        }
        Some(Err(e)) => return read_failed(id, e),
    };
    let name = service.name_any();
    let spec = service.spec.clone().unwrap_or_default();
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let target = p.target_port.as_ref().map_or_else(
                || p.port.to_string(),
                |t| match t {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                        i.to_string()
                    }
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                        s.clone()
                    }
                },
            );
            format!("{}->{target}", p.port)
        })
        .collect();
    let head = format!("service/{name} ports {}", ports.join(","));
    if let Some(endpoints) = &facts.endpoints {
        let subsets = endpoints.subsets.clone().unwrap_or_default();
        let ready: usize = subsets
            .iter()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum();
        let not_ready: usize = subsets
            .iter()
            .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
            .sum();
        let line = format!("endpoints/{name}: {ready} ready, {not_ready} not ready");
        return if ready > 0 {
            Row::pass(id).evidence(head).evidence(line)
        } else {
            Row::fail(id)
                .evidence(head)
                .evidence(line)
                .fix("no ready endpoint: the Route has nowhere to send traffic; see cluster.pods")
        };
    }
    // No Endpoints object: evaluate the selector against the pods we read.
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Row::fail(id)
            .evidence(head)
            .evidence("the Service has no selector and no Endpoints")
            .fix("re-run `oc mcp-install`");
    }
    let matching: Vec<&Pod> = facts
        .pods
        .iter()
        .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .collect();
    let ready = matching.iter().filter(|p| pod_ready(p)).count();
    let line = format!(
        "no Endpoints object; {ready} ready of {} pods match the selector",
        matching.len()
    );
    if ready > 0 {
        Row::pass(id).evidence(head).evidence(line)
    } else {
        Row::fail(id)
            .evidence(head)
            .evidence(line)
            .fix("no ready pod behind the Service: see cluster.pods")
    }
}
