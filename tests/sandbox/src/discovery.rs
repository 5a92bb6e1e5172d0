//! Legacy (non-aggregated) discovery documents. kubectl 1.33 first asks for aggregated
//! discovery and falls back to these when the response is plain `application/json`.

use serde_json::{Value, json};

use crate::flavour::Flavour;
use crate::resources::{self, ResourceDef};

pub const KUBE_MINOR: &str = "33";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "emulationMajor": "1",
        "emulationMinor": KUBE_MINOR,
        "gitVersion": "v1.33.5",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-10-01T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group_json(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

pub fn api_group_list() -> Value {
    api_group_list_for(Flavour::OpenShift, false)
}

/// `/apis` of a flavour (`cert_manager`: the cert-manager stand-in is on).
pub fn api_group_list_for(flavour: Flavour, cert_manager: bool) -> Value {
    let groups: Vec<Value> = resources::api_groups_for(flavour, cert_manager)
        .into_iter()
        .map(|(g, v)| group_json(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(group: &str) -> Option<Value> {
    api_group_for(Flavour::OpenShift, false, group)
}

pub fn api_group_for(flavour: Flavour, cert_manager: bool, group: &str) -> Option<Value> {
    let (g, v) = resources::api_groups_for(flavour, cert_manager)
        .into_iter()
        .find(|(g, _)| *g == group)?;
    let mut doc = group_json(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn resource_json(r: &ResourceDef) -> Value {
    let mut v = json!({
        "name": r.name,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if r.name == "deployments/scale" {
        v["group"] = json!("autoscaling");
        v["version"] = json!("v1");
    }
    if r.name == "serviceaccounts/token" {
        v["group"] = json!("authentication.k8s.io");
        v["version"] = json!("v1");
    }
    v
}

/// `APIResourceList` for a group-version, or `None` when it is not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    resource_list_for(Flavour::OpenShift, false, group, version)
}

pub fn resource_list_for(
    flavour: Flavour,
    cert_manager: bool,
    group: &str,
    version: &str,
) -> Option<Value> {
    let list: Vec<Value> = resources::in_group_version(group, version)
        .filter(|r| flavour.serves(r, cert_manager))
        .map(resource_json)
        .collect();
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}
