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

    // The two rows' statuses (a failure is exit 1), and what the row `id` says.
    let judged = |bindings: &str, role: &str, id: &str, needles: &[&str]| {
        let out = env.verify(&app, &only, &[]);
        let code = i32::from(!(bindings == "pass" && role == "pass"));
        assert_eq!(out.code, Some(code), "{}", out.summary());
        out.assert_status("rbac.bindings", bindings);
        out.assert_status("rbac.role", role);
        out.assert_row_contains(id, needles);
    };
    judged("pass", "pass", "rbac.bindings", &["Group mcp-users"]);

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
    judged(
        "fail",
        "pass",
        "rbac.bindings",
        &[
            "clusterrolebinding/mcp-everyone binds",
            "Group system:authenticated",
        ],
    );
    crbs.delete("mcp-everyone", &DeleteParams::default())
        .await
        .expect("delete binding");

    // The role edited by hand: Secrets and pod creation added.
    let roles: Api<ClusterRole> = Api::all(admin);
    let mut role = roles.get(&app.role()).await.expect("role");
    let mut granted = role.rules.take().unwrap_or_default();
    for rule in [
        json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}),
        json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}),
    ] {
        granted.push(serde_json::from_value(rule).expect("rule"));
    }
    roles
        .patch(
            &app.role(),
            &PatchParams::default(),
            &Patch::Merge(json!({"rules": granted})),
        )
        .await
        .expect("patch role");
    judged(
        "pass",
        "fail",
        "rbac.role",
        &["get secrets", "create pods", "drifted from profile tools"],
    );
}
