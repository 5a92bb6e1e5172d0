use k8s_openapi::api::{core::v1::ConfigMap, rbac::v1::ClusterRole};
use kube::{ResourceExt as _, api::ObjectMeta};

use super::{apply::project, *};

fn plan() -> Plan {
    let role = ClusterRole {
        metadata: ObjectMeta {
            name: Some("mcp-readonly".into()),
            ..ObjectMeta::default()
        },
        ..ClusterRole::default()
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("cfg".into()),
            namespace: Some("mcp-server".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let mut plan = Plan::new();
    plan.push(PlannedObject::from_typed(&role).expect("role"));
    plan.push(PlannedObject::from_typed(&cm).expect("cm"));
    plan
}

#[test]
fn planned_objects_carry_type_and_managed_by_label() {
    let plan = plan();
    let role = &plan.objects[0];
    assert!(!role.namespaced);
    assert_eq!(role.resource.plural, "clusterroles");
    assert_eq!(
        role.object
            .labels()
            .get(MANAGED_BY_LABEL)
            .map(String::as_str),
        Some(MANAGED_BY_VALUE)
    );
    assert!(plan.objects[1].namespaced);
}

#[test]
fn render_yaml_is_multi_document_and_json_is_a_list() {
    let plan = plan();
    let yaml = plan.render(OutputFormat::Yaml).expect("yaml");
    assert_eq!(yaml.matches("---\n").count(), 1, "{yaml}");
    assert!(yaml.contains("kind: ClusterRole"));
    assert!(yaml.contains("apiVersion: rbac.authorization.k8s.io/v1"));
    let json: serde_json::Value =
        serde_json::from_str(&plan.render(OutputFormat::Json).expect("json")).expect("parse");
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][1]["metadata"]["namespace"], "mcp-server");
}

fn result(name: &str, outcome: Outcome, error: Option<Error>) -> ObjectResult {
    let mut result = ObjectResult::new("v1", "ConfigMap", name, Some("mcp-server".into()), outcome);
    if let Some(error) = error {
        result.fail(error);
    }
    result
}

#[test]
fn a_partial_apply_counts_what_was_applied_and_exits_by_the_cause() {
    let unreachable = Error::unreachable(
        "the Kubernetes API server",
        "GET /x: gave up after 8 attempts",
    );
    let report = ApplyReport {
        dry_run: false,
        objects: vec![
            result("a", Outcome::Created, None),
            result("b", Outcome::Failed, Some(unreachable)),
            result("c", Outcome::NotApplied, None),
        ],
    };
    assert!(!report.succeeded());
    let err = report.failure();
    assert_eq!(err.exit_code().code(), 4);
    let text = err.to_string();
    assert!(
        text.contains("1 of 3 objects applied, 1 failed, 1 not applied"),
        "{text}"
    );
    assert!(
        text.contains("ConfigMap b failed: GET /x: gave up"),
        "{text}"
    );
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["objects"][0]["outcome"], "created");
    assert_eq!(json["objects"][1]["outcome"], "failed");
    assert_eq!(json["objects"][2]["outcome"], "not-applied");

    let conflict = Error::Api(Box::new(kube::core::Status::failure(
        "conflict", "Conflict",
    )));
    let report = ApplyReport {
        dry_run: false,
        objects: vec![result("a", Outcome::Failed, Some(conflict))],
    };
    assert_eq!(report.failure().exit_code().code(), 1);
    let forbidden = Error::Forbidden {
        message: "no".into(),
    };
    let report = ApplyReport {
        dry_run: false,
        objects: vec![result("a", Outcome::Failed, Some(forbidden))],
    };
    assert_eq!(report.failure().exit_code().code(), 3);
}

#[test]
fn permissions_cover_get_create_and_patch_once() {
    let perms = plan().required_permissions();
    assert_eq!(perms.len(), 6);
    assert!(perms.iter().any(|p| p.verb == "create"
        && p.resource == "configmaps"
        && p.namespace.as_deref() == Some("mcp-server")));
}

#[test]
fn projection_keeps_the_fields_an_apply_sets_and_lists_whole() {
    let stored = serde_json::json!({
        "metadata": {"name": "server", "annotations": {"revision": "7"}, "labels": {"a": "1"}},
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
        "status": {"ready": true},
    });
    let body = serde_json::json!({
        "metadata": {"name": "server", "labels": {"a": "1", "b": "2"}},
        "spec": {"ports": [{"port": 80}]},
    });
    assert_eq!(
        project(&stored, &body),
        serde_json::json!({
            "metadata": {"name": "server", "labels": {"a": "1"}},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]},
        })
    );
}
