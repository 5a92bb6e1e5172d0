//! The real kubernetes-mcp-server v0.0.67 with a passthrough token against the sandbox:
//! member sees the sandbox's data, outsider gets authorization errors.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// Kills the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Minimal HTTP/1.1 POST; returns (status, headers, de-chunked body).
fn post(port: u16, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(k);
        req.push_str(": ");
        req.push_str(v);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (code, head.to_string(), body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// initialize + initialized + one tool call; returns the JSON-RPC result.
fn call_tool(port: u16, token: &str, tool: &str, args: &Value) -> Value {
    let auth = format!("Bearer {token}");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "oc-mcp-sandbox-test", "version": "0.1.0"}}});
    let (code, head, _) = post(port, &[("Authorization", &auth)], &init.to_string());
    assert_eq!(code, 200, "initialize: {head}");
    let sid = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("mcp-session-id"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("a session id");
    let h = [
        ("Authorization", auth.as_str()),
        ("Mcp-Session-Id", sid.as_str()),
    ];
    post(
        port,
        &h,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    );
    let (code, _, body) = post(port, &h, &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string());
    assert_eq!(code, 200, "{body}");
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no SSE data in {body}"));
    let v: Value = serde_json::from_str(data).expect("JSON-RPC");
    v["result"].clone()
}

fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // setup, the five calls and their checks are one story
async fn mcp_server_passthrough_sees_sandbox_data() {
    let bin = oc_mcp_sandbox::tools::mcp_server().unwrap_or_else(|e| panic!("{e}"));
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("admin");
    let role: k8s_openapi::api::rbac::v1::ClusterRole = serde_json::from_value(json!({"metadata": {"name": "mcp-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["get", "list"]}]}))
    .expect("role");
    let pp = kube::api::PostParams::default();
    kube::Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .create(&pp, &role)
        .await
        .expect("role");
    let crb: k8s_openapi::api::rbac::v1::ClusterRoleBinding = serde_json::from_value(json!({"metadata": {"name": "mcp-users"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mcp-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mcp-users"}]}))
    .expect("binding");
    kube::Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin.clone())
        .create(&pp, &crb)
        .await
        .expect("binding");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(
        json!({"metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1"}]}}),
    )
    .expect("pod");
    kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(admin, "default")
        .create(&pp, &pod)
        .await
        .expect("pod");

    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let kubeconfig = sb.kubeconfig_path("admin").expect("kubeconfig");
    let config = format!(
        "port = \"{port}\"\nbind_address = \"127.0.0.1\"\nkubeconfig = \"{}\"\nrequire_oauth = true\nskip_jwt_verification = true\ncluster_auth_mode = \"passthrough\"\nread_only = true\nlog_level = 2\n",
        kubeconfig.display()
    );
    std::fs::write(dir.path().join("config.toml"), config).expect("config");
    let log = std::fs::File::create(dir.path().join("mcp.log")).expect("log");
    let child = Command::new(bin)
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn kubernetes-mcp-server");
    let _server = Server(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "MCP server did not listen: {}",
            std::fs::read_to_string(dir.path().join("mcp.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let member = sb.token("member").expect("token");
    let outsider = sb.token("outsider").expect("token");
    let result = tokio::task::spawn_blocking(move || {
        let ns = call_tool(port, &member, "namespaces_list", &json!({}));
        let pods = call_tool(port, &member, "pods_list", &json!({}));
        let roles = call_tool(
            port,
            &member,
            "resources_list",
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}),
        );
        let denied_ns = call_tool(port, &outsider, "namespaces_list", &json!({}));
        let denied_roles = call_tool(
            port,
            &outsider,
            "resources_list",
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}),
        );
        (ns, pods, roles, denied_ns, denied_roles)
    })
    .await
    .expect("MCP calls");
    let (ns, pods, roles, denied_ns, denied_roles) = result;
    assert_ne!(ns["isError"], true, "{ns}");
    assert!(
        text(&ns).contains("openshift-config") && text(&ns).contains("default"),
        "{ns}"
    );
    assert_ne!(pods["isError"], true, "{pods}");
    assert!(text(&pods).contains("web-1"), "{pods}");
    assert!(
        text(&roles).contains("mcp-reader") && text(&roles).contains("cluster-admin"),
        "{roles}"
    );
    assert_eq!(denied_ns["isError"], true, "{denied_ns}");
    assert!(
        text(&denied_ns).contains(
            "namespaces is forbidden: User \"outsider\" cannot list resource \"namespaces\""
        ),
        "{denied_ns}"
    );
    assert_eq!(denied_roles["isError"], true, "{denied_roles}");
    assert!(text(&denied_roles).contains("forbidden"), "{denied_roles}");

    // The API saw the callers' own identities (passthrough), never admin's for the tools.
    let audit = sb.audit();
    assert!(
        audit.iter().any(|e| e.user == "member"
            && e.resource == "pods"
            && e.verb == "list"
            && e.code == 200)
    );
    assert!(audit.iter().any(|e| e.user == "member"
        && e.resource == "selfsubjectaccessreviews"
        && e.content_type.contains("protobuf")));
    assert!(
        audit
            .iter()
            .any(|e| e.user == "outsider" && e.resource == "namespaces" && e.code == 403)
    );
}
