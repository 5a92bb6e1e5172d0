//! The MCP role judged against its intent: bound to a virtual group it fails `rbac.bindings`;
//! edited by hand to grant more than its profile it fails `rbac.role`; the role as oc-mcp
//! makes it passes both.

use crate::support;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use oc_mcp_sandbox::SandboxConfig;
use serde_json::json;
use support::{App, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_subject_or_a_drifted_role_fails() {
    let env = Env::start(SandboxConfig::default()).await;
    let app = App::default();
    env.deploy(&app).await;
    let admin = env.admin().await;
    let only = ["--only", "rbac"];

    let out = env.verify(&app, &only, &[]);
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_status("rbac.bindings", "pass");
    out.assert_status("rbac.role", "pass");
    let row = out.row("rbac.bindings").to_string();
    assert!(row.contains("Group mcp-users"), "{row}");

    // Bound to everyone who logged in.
    let crbs: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let everyone: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "mcp-everyone"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": app.role()},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]}))
    .expect("binding");
    crbs.create(&PostParams::default(), &everyone)
        .await
        .expect("create binding");
    let out = env.verify(&app, &only, &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("rbac.bindings", "fail");
    out.assert_status("rbac.role", "pass");
    let row = out.row("rbac.bindings").to_string();
    assert!(
        row.contains("clusterrolebinding/mcp-everyone binds")
            && row.contains("Group system:authenticated"),
        "{row}"
    );
    crbs.delete("mcp-everyone", &DeleteParams::default())
        .await
        .expect("delete binding");

    // The role edited by hand: Secrets and pod creation added.
    let roles: Api<ClusterRole> = Api::all(admin);
    let mut role = roles.get(&app.role()).await.expect("role");
    let mut granted = role.rules.take().unwrap_or_default();
    granted.push(
        serde_json::from_value(
            json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}),
        )
        .expect("rule"),
    );
    granted.push(
        serde_json::from_value(
            json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}),
        )
        .expect("rule"),
    );
    roles
        .patch(
            &app.role(),
            &PatchParams::default(),
            &Patch::Merge(json!({"rules": granted})),
        )
        .await
        .expect("patch role");
    let out = env.verify(&app, &only, &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("rbac.bindings", "pass");
    out.assert_status("rbac.role", "fail");
    let row = out.row("rbac.role").to_string();
    for needle in ["get secrets", "create pods", "drifted from profile tools"] {
        assert!(row.contains(needle), "{needle} missing in {row}");
    }
}
