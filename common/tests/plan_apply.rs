//! What `Plan::apply` reports against an API server whose controllers write too.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use oc_mcp_common::plan::{ApplyMode, Outcome, Plan, PlannedObject};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

fn deployment(label: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "server", "namespace": "default", "labels": {"tier": label}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "server"}},
            "template": {
                "metadata": {"labels": {"app": "server"}},
                "spec": {"containers": [{"name": "server", "image": "example.test/server:1"}]}
            }
        }
    }))
    .expect("a valid Deployment")
}

fn plan(object: &Deployment, live: Option<&Deployment>) -> Plan {
    let mut plan = Plan::new();
    plan.push(
        PlannedObject::from_typed(object)
            .expect("plannable")
            .with_live(live),
    );
    plan
}

async fn outcome(client: &kube::Client, plan: &Plan) -> Outcome {
    let report = plan
        .apply_preflighted(client, ApplyMode::Apply)
        .await
        .expect("apply");
    report.objects[0].outcome
}

/// A controller writing status between the plan's read and its apply (a rollout) is not a
/// change the plan made: a re-run still says `unchanged`. A change to what we own still counts.
#[tokio::test]
async fn a_status_write_by_a_controller_is_not_reported_as_our_change() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sandbox.client_for("admin").await.expect("admin client");
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let desired = deployment("web");

    assert_eq!(
        outcome(&client, &plan(&desired, None)).await,
        Outcome::Created
    );
    let read_by_the_plan = api.get("server").await.expect("created");

    let status = json!({"status": {"conditions": [{
        "type": "Progressing", "status": "True", "reason": "ControllerWroteThis",
    }]}});
    let written = api
        .patch_status("server", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status write");
    assert_ne!(
        written.resource_version(),
        read_by_the_plan.resource_version(),
        "the status write must move resourceVersion for this test to mean anything"
    );

    let rerun = plan(&desired, Some(&read_by_the_plan));
    assert_eq!(outcome(&client, &rerun).await, Outcome::Unchanged);

    let relabelled = plan(&deployment("api"), Some(&written));
    assert_eq!(outcome(&client, &relabelled).await, Outcome::Configured);
}
