//! The kubernetes-mcp-server deployed the way its Helm chart renders it (ServiceAccount,
//! ConfigMap `config.toml`, Deployment with probes and the config checksum, Service, and an
//! Ingress with the OpenShift termination annotation).

use std::fmt::Write as _;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

pub use oc_mcp_sandbox::apps::McpServerApp as McpApp;

/// The library's chart-like deployment, through `client`.
pub async fn deploy(client: &kube::Client, app: &McpApp, apps_domain: &str) {
    oc_mcp_sandbox::apps::deploy(client, apps_domain, app)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Wait until the app's pod is Running and Ready; on timeout, panic with its status and logs.
pub async fn wait_ready_pod(client: &kube::Client, app: &McpApp) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &app.namespace);
    let sel = app.selector();
    let start = std::time::Instant::now();
    loop {
        let list = pods.list(&ListParams::default().labels(&sel)).await.ok();
        let items = list.map(|l| l.items).unwrap_or_default();
        if let Some(p) = items.iter().find(|p| {
            p.status.as_ref().is_some_and(|st| {
                st.conditions
                    .as_ref()
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
        }) {
            return p.clone();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let mut why = String::new();
            for p in &items {
                let name = p.metadata.name.clone().unwrap_or_default();
                let _ = writeln!(why, "{name}: {:?}", p.status);
                for previous in [false, true] {
                    let lp = kube::api::LogParams {
                        previous,
                        ..Default::default()
                    };
                    let log = pods
                        .logs(&name, &lp)
                        .await
                        .unwrap_or_else(|e| e.to_string());
                    let _ = writeln!(why, "--- logs (previous={previous}):\n{log}");
                }
            }
            panic!("no ready kubernetes-mcp-server pod after 30 s:\n{why}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A bare HTTP/1.1 `GET /healthz` for the server's port 8080.
pub const HEALTHZ: &[u8] =
    b"GET /healthz HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n";

/// `GET /healthz` on port 8080 of `pod` through kube-rs port-forward, which must answer 200.
pub async fn healthz_through_portforward(admin: &kube::Client, namespace: &str, pod: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let pods: Api<Pod> = Api::namespaced(admin.clone(), namespace);
    let mut pf = pods.portforward(pod, &[8080]).await.expect("portforward");
    let mut stream = pf.take_stream(8080).expect("stream");
    stream.write_all(HEALTHZ).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    drop(stream);
    pf.abort();
}
