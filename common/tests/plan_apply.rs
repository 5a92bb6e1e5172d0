//! What `Plan::apply` reports against an API server whose controllers write too.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use oc_mcp_common::plan::{ApplyMode, Outcome, Plan, PlannedObject};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

/// The Deployment the plan applies; `tier` is a label of ours when given.
fn deployment(tier: Option<&str>) -> Deployment {
    let labels = tier.map_or_else(|| json!({}), |tier| json!({"tier": tier}));
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "server", "namespace": "default", "labels": labels},
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

/// Controllers writing status and annotations between the plan's read and its apply (a
/// rollout) did not change what the plan applies: a re-run still says `unchanged`. A value of
/// ours that changes, or a field of ours the apply drops, is a change.
#[tokio::test]
async fn writes_by_controllers_are_not_reported_as_our_change() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sandbox.client_for("admin").await.expect("admin client");
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let desired = deployment(Some("web"));

    assert_eq!(
        outcome(&client, &plan(&desired, None)).await,
        Outcome::Created
    );
    let read_by_the_plan = api.get("server").await.expect("created");

    let controller = PatchParams {
        field_manager: Some("deployment-controller".into()),
        ..PatchParams::default()
    };
    let revision = json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "7"}}});
    api.patch("server", &controller, &Patch::Merge(&revision))
        .await
        .expect("annotation write");
    let status = json!({"status": {"conditions": [{
        "type": "Progressing", "status": "True", "reason": "ControllerWroteThis",
    }]}});
    let written = api
        .patch_status("server", &controller, &Patch::Merge(&status))
        .await
        .expect("status write");
    assert_ne!(
        written.resource_version(),
        read_by_the_plan.resource_version(),
        "the controller's writes must move resourceVersion for this test to mean anything"
    );

    let rerun = plan(&desired, Some(&read_by_the_plan));
    assert_eq!(outcome(&client, &rerun).await, Outcome::Unchanged);

    let relabelled = plan(&deployment(Some("api")), Some(&written));
    assert_eq!(outcome(&client, &relabelled).await, Outcome::Configured);

    let current = api.get("server").await.expect("relabelled");
    let label_dropped = plan(&deployment(None), Some(&current));
    assert_eq!(outcome(&client, &label_dropped).await, Outcome::Configured);
    let labels = api.get("server").await.expect("read").labels().clone();
    assert!(
        !labels.contains_key("tier"),
        "the apply removed our label: {labels:?}"
    );
}
