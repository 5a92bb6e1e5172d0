//! `role --profile tools`, derived from the real server's tools/list, lets the real server's
//! read-only tools work for a bound user through token passthrough, and nothing works for an
//! unbound one.

// The story test reads top to bottom; splitting it would hide the order.
#![allow(clippy::too_many_lines)]

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{Api, api::PostParams};
use oc_mcp_common::{
    kube_args::Secret,
    mcp::{McpSession, McpTarget, result_text},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

use crate::sandbox::ok;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/tools-list-v0.0.67-read-only.json"
);

/// The real kubernetes-mcp-server, killed when dropped.
struct McpServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl McpServer {
    /// Passthrough mode as `oc mcp-install --auth openshift` configures it: every call uses the
    /// caller's bearer token; the server's own kubeconfig belongs to a user without rights.
    fn start(sandbox: &Sandbox) -> Self {
        let bin = oc_mcp_sandbox::tools::mcp_server().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().expect("tmp");
        let kubeconfig = sandbox.kubeconfig_path("outsider").expect("kubeconfig");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "port = \"{port}\"\nbind_address = \"127.0.0.1\"\nkubeconfig = \"{}\"\nrequire_oauth = true\n\
             skip_jwt_verification = true\ncluster_auth_mode = \"passthrough\"\nread_only = true\n\
             disable_destructive = true\nlog_level = 2\n",
            kubeconfig.display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).expect("config");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kubernetes-mcp-server");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "kubernetes-mcp-server did not listen within 30s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

fn run(sandbox: &Sandbox, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_rbac"))
        .args(args)
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path("admin").expect("kubeconfig"))
        .output()
        .unwrap_or_else(|e| panic!("run plugin {args:?}: {e}"));
    ok(&out);
}

/// Each read-only tool with arguments that exercise it against the sandbox's objects.
fn calls() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("namespaces_list", json!({})),
        ("pods_list", json!({})),
        ("pods_list_in_namespace", json!({"namespace": "team-a"})),
        ("pods_get", json!({"namespace": "team-a", "name": "web"})),
        ("events_list", json!({"namespace": "team-a"})),
        ("projects_list", json!({})),
        (
            "resources_list",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "team-a"}),
        ),
        (
            "resources_get",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "team-a", "name": "settings"}),
        ),
        ("configuration_view", json!({})),
    ]
}

fn forbidden(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("forbidden") || lower.contains("cannot list") || lower.contains("cannot get")
}

#[tokio::test]
async fn tools_profile_lets_every_read_only_tool_work_for_a_bound_user_only() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let admin = sandbox.client_for("admin").await.expect("client");
    let ns = k8s_openapi::api::core::v1::Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some("team-a".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    }))
    .expect("pod");
    Api::namespaced(admin.clone(), "team-a")
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings", "namespace": "team-a"}, "data": {"mode": "blue"}
    }))
    .expect("cm");
    Api::namespaced(admin, "team-a")
        .create(&PostParams::default(), &cm)
        .await
        .expect("configmap");

    run(
        &sandbox,
        &["role", "--profile", "tools", "--from-tools", FIXTURE],
    );
    run(&sandbox, &["bind", "mcp-users"]);
    let server = McpServer::start(&sandbox);

    // member (group mcp-users) gets every tool's answer.
    let member = McpTarget::new(&server.url)
        .with_token(Some(Secret::new(sandbox.token("member").expect("token"))));
    let session = McpSession::connect(&member)
        .await
        .expect("initialize as member");
    let tools = session.tools().await.expect("tools/list");
    assert_eq!(
        tools.len(),
        14,
        "read_only + disable_destructive expose the 14 read-only tools"
    );
    for (tool, args) in calls() {
        let result = session.call(tool, args).await.expect("tools/call");
        let text = result_text(&result);
        assert!(!forbidden(&text), "{tool} was refused for member: {text}");
        if tool != "configuration_view" {
            assert_ne!(
                result.is_error,
                Some(true),
                "{tool} failed for member: {text}"
            );
        }
        match tool {
            "namespaces_list" | "pods_list_in_namespace" | "pods_get" => {
                assert!(
                    text.contains("team-a") || text.contains("web"),
                    "{tool}: {text}"
                );
            }
            "resources_get" => assert!(text.contains("blue"), "{tool}: {text}"),
            _ => {}
        }
    }
    session.close().await;

    // outsider (no binding) is refused by the cluster for the same calls.
    let outsider = McpTarget::new(&server.url)
        .with_token(Some(Secret::new(sandbox.token("outsider").expect("token"))));
    let session = McpSession::connect(&outsider)
        .await
        .expect("initialize as outsider");
    for (tool, args) in calls()
        .into_iter()
        .filter(|(t, _)| *t != "configuration_view" && *t != "projects_list")
    {
        let result = session.call(tool, args).await.expect("tools/call");
        let text = result_text(&result);
        assert!(
            result.is_error == Some(true) && forbidden(&text),
            "{tool} should be refused for outsider: {text}"
        );
    }
    session.close().await;

    // The same role, read from the running server instead of a saved reply (token from the
    // environment, never from the command line).
    let token = sandbox.token("member").expect("token");
    let out = role_from_server(&server.url, Some(&token));
    let from_server: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    let applied: k8s_openapi::api::rbac::v1::ClusterRole =
        Api::all(sandbox.client_for("admin").await.expect("client"))
            .get("mcp-readonly")
            .await
            .expect("role");
    let fingerprint = "oc-mcp.io/rules-fingerprint";
    assert_eq!(
        from_server["items"][0]["metadata"]["annotations"][fingerprint].as_str(),
        applied
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(fingerprint))
            .map(String::as_str),
        "the live server and the saved reply give the same rules"
    );
    let out = role_from_server(&server.url, None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "no token: the server's 401 is an auth error"
    );

    // No token at all: the server itself answers 401.
    let err = McpSession::connect(&McpTarget::new(&server.url))
        .await
        .expect_err("no token");
    assert_eq!(err.exit_code().code(), 3, "{err}");
}

/// `role --profile tools --from-server URL --dry-run=client -o json`, with `token` in the
/// environment (never on the command line) or none at all.
fn role_from_server(url: &str, token: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_rbac"));
    cmd.args([
        "role",
        "--profile",
        "tools",
        "--from-server",
        url,
        "--dry-run=client",
        "-o",
        "json",
    ]);
    match token {
        Some(token) => cmd.env("OC_MCP_TOKEN", token),
        None => cmd.env_remove("OC_MCP_TOKEN"),
    };
    cmd.output().expect("run plugin")
}
