//! `pods/portforward` to the real server's process: kube-rs (WebSocket, v4 channels) and
//! kubectl 1.33 (SPDY tunneled in a WebSocket) both reach its `/healthz`.

use crate::common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mcp::{self, McpApp};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

/// Kills kubectl when the test ends, whatever happens.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `kubectl port-forward <target> :8080`, wait for its "Forwarding from" line, GET
/// /healthz through the local port; returns the status line.
fn kubectl_healthz(
    kubeconfig: &std::path::Path,
    ns: &str,
    target: &str,
    websockets: bool,
) -> String {
    let cache = tempfile::tempdir().expect("cache");
    let mut child = Child(
        Command::new(oc_mcp_sandbox::tools::kubectl())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(["-n", ns, "port-forward", target, ":8080"])
            .env_remove("KUBECONFIG")
            .env(
                "KUBECTL_PORT_FORWARD_WEBSOCKETS",
                if websockets { "true" } else { "false" },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let port: u16 = loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "kubectl port-forward did not start"
        );
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("kubectl port-forward exited {status}: {err}");
        }
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:")
        {
            break rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a local port");
        }
    };
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(mcp::HEALTHZ).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_reaches_the_server_from_kube_rs_and_kubectl() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let app = McpApp::default();
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    let pod = mcp::wait_ready_pod(&admin, &app).await;
    let name = pod.metadata.name.clone().expect("name");

    // kube-rs (feature ws).
    mcp::healthz_through_portforward(&admin, &app.namespace, &name).await;

    // Port-forward needs create on pods/portforward.
    let outsider = sb.client_for("outsider").await.expect("client");
    let denied = Api::<Pod>::namespaced(outsider, &app.namespace)
        .portforward(&name, &[8080])
        .await;
    assert!(denied.is_err(), "outsider may not port-forward");

    // kubectl 1.33, by pod and by service.
    let kc = sb.kubeconfig_path("admin").expect("kubeconfig");
    let ns = app.namespace.clone();
    let pod_target = format!("pod/{name}");
    let svc_target = format!("svc/{}", app.name);
    let (by_pod, by_svc, spdy) = tokio::task::spawn_blocking(move || {
        (
            kubectl_healthz(&kc, &ns, &pod_target, true),
            kubectl_healthz(&kc, &ns, &svc_target, true),
            // The pre-1.31 path: a plain SPDY/3.1 upgrade.
            kubectl_healthz(&kc, &ns, &pod_target, false),
        )
    })
    .await
    .expect("kubectl");
    assert_eq!(by_pod, "HTTP/1.1 200 OK");
    assert_eq!(by_svc, "HTTP/1.1 200 OK");
    assert_eq!(spdy, "HTTP/1.1 200 OK");
    let methods: Vec<String> = sb
        .audit()
        .into_iter()
        .filter(|e| e.subresource == "portforward" && e.code == 101)
        .map(|e| e.method)
        .collect();
    assert!(
        methods.contains(&"GET".to_string()) && methods.contains(&"POST".to_string()),
        "{methods:?}"
    );
    assert!(sb.audit().iter().any(|e| e.subresource == "portforward"
        && e.user == "admin"
        && e.code == 101
        && e.user_agent.starts_with("kubectl")));
}
