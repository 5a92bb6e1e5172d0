//! `role --profile full|minimal --dry-run=client -o yaml` is the guide's option A / B, rule for rule.

use std::process::Command;

use k8s_openapi::api::rbac::v1::ClusterRole;

use crate::sandbox::ok;

fn rendered(profile: &str) -> ClusterRole {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_rbac"))
        .args([
            "role",
            "--profile",
            profile,
            "--dry-run=client",
            "-o",
            "yaml",
        ])
        .env(
            "KUBECONFIG",
            "/nonexistent/a client dry run needs no cluster",
        )
        .output()
        .expect("run kubectl-mcp_rbac");
    serde_saphyr::from_str(&ok(&out)).expect("the output is one ClusterRole in YAML")
}

fn guide(file: &str) -> ClusterRole {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_saphyr::from_str(&text).expect("the guide's YAML parses")
}

/// `profile` rendered is the guide's `fixture`, name and rules, and records its profile.
fn assert_profile_is_the_guides(profile: &str, fixture: &str) -> ClusterRole {
    let ours = rendered(profile);
    let guide = guide(fixture);
    assert_eq!(ours.metadata.name, guide.metadata.name);
    assert_eq!(ours.rules, guide.rules);
    let annotations = ours.metadata.annotations.as_ref().expect("annotations");
    assert_eq!(annotations["oc-mcp.io/profile"], profile);
    ours
}

#[test]
fn full_profile_is_the_guides_option_a() {
    let ours = assert_profile_is_the_guides("full", "guide-step3-option-a.yaml");
    assert_eq!(ours.rules.as_ref().map(Vec::len), Some(11));
    let labels = ours.metadata.labels.expect("labels");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "oc-mcp");
}

#[test]
fn minimal_profile_is_the_guides_option_b() {
    assert_profile_is_the_guides("minimal", "guide-step3-option-b.yaml");
}

#[test]
fn json_output_is_a_list_with_the_same_role() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_rbac"))
        .args(["role", "--dry-run=client", "-o", "json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list["kind"], "List");
    let role: ClusterRole = serde_json::from_value(list["items"][0].clone()).expect("role");
    assert_eq!(role.rules, guide("guide-step3-option-a.yaml").rules);
}
