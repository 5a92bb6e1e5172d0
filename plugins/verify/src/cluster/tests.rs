use k8s_openapi::api::apps::v1::Deployment;
use oc_mcp_common::server_config::ServerVersion;

use super::{
    config::{flag_value, key_for_file, volume_for},
    workload::server_version,
    *,
};

#[test]
fn names_follow_helm_fullname() {
    assert_eq!(
        candidate_names("kubernetes-mcp-server"),
        ["kubernetes-mcp-server"]
    );
    assert_eq!(candidate_names("mcp"), ["mcp-kubernetes-mcp-server", "mcp"]);
}

#[test]
fn config_flags_and_volumes_are_followed() {
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "kubernetes-mcp-server"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {
            "containers": [{"name": "kubernetes-mcp-server",
                "image": "quay.io/containers/kubernetes_mcp_server:v0.0.67",
                "args": ["--config", "/etc/kubernetes-mcp-server/config.toml", "--config-dir=/etc/mcp-secrets"],
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/kubernetes-mcp-server"},
                    {"name": "secrets", "mountPath": "/etc/mcp-secrets/"}]}],
            "volumes": [
                {"name": "config", "configMap": {"name": "cm", "items": [{"key": "main.toml", "path": "config.toml"}]}},
                {"name": "secrets", "secret": {"secretName": "s"}}]}}}
    }))
    .expect("deployment");
    let args = server_container(&d)
        .and_then(|c| c.args.clone())
        .expect("args");
    assert_eq!(
        flag_value(&args, "--config").as_deref(),
        Some("/etc/kubernetes-mcp-server/config.toml")
    );
    assert_eq!(
        flag_value(&args, "--config-dir").as_deref(),
        Some("/etc/mcp-secrets")
    );
    let (volume, rel) = volume_for(&d, "/etc/kubernetes-mcp-server/config.toml").expect("volume");
    assert_eq!(volume.name, "config");
    let source = volume.config_map.as_ref().expect("cm");
    assert_eq!(key_for_file(source.items.as_ref(), &rel), "main.toml");
    let (volume, _) = volume_for(&d, "/etc/mcp-secrets/x.toml").expect("volume");
    assert_eq!(volume.name, "secrets");
    assert_eq!(server_version(&d), ServerVersion::release(0, 0, 67));
}
