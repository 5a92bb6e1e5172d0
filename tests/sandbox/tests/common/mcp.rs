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
