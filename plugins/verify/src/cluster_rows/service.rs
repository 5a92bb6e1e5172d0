//! cluster.service: the release's Service and whether it has ready endpoints.

use k8s_openapi::{
    api::core::v1::{EndpointSubset, Pod, ServicePort},
    apimachinery::pkg::util::intstr::IntOrString,
};
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
    let ports: Vec<String> = spec.ports.iter().flatten().map(port_text).collect();
    let head = format!("service/{name} ports {}", ports.join(","));
    let (ready, line, fix) = if let Some(endpoints) = &facts.endpoints {
        let subsets = endpoints.subsets.clone().unwrap_or_default();
        let count = |addresses: fn(&EndpointSubset) -> usize| -> usize {
            subsets.iter().map(addresses).sum()
        };
        let ready = count(|s| s.addresses.as_ref().map_or(0, Vec::len));
        let not_ready = count(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len));
        (
            ready,
            format!("endpoints/{name}: {ready} ready, {not_ready} not ready"),
            "no ready endpoint: the Route has nowhere to send traffic; see cluster.pods",
        )
    } else {
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
        (
            ready,
            format!(
                "no Endpoints object; {ready} ready of {} pods match the selector",
                matching.len()
            ),
            "no ready pod behind the Service: see cluster.pods",
        )
    };
    let row = if ready > 0 {
        Row::pass(id)
    } else {
        Row::fail(id).fix(fix)
    };
    row.evidence(head).evidence(line)
}

/// `port->target`, the target as the Service names it (a number or a port name).
fn port_text(port: &ServicePort) -> String {
    let target = match &port.target_port {
        Some(IntOrString::Int(i)) => i.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => port.port.to_string(),
    };
    format!("{}->{target}", port.port)
}
