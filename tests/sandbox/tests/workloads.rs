//! Controllers and the kubelet: Deployment -> ReplicaSet -> Pods with status, events, a
//! rollout on a template change, Service -> Endpoints, and the real kubernetes-mcp-server
//! run for pods of its image (logs, readiness, the crash loop without a token).

use crate::common;

use std::time::Duration;

use common::mcp::{self, McpApp};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod};
use kube::Api;
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one rollout story
async fn deployment_rolls_out_replicasets_pods_and_endpoints() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let pp = PostParams::default();
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}, "annotations": {"checksum/config": "one"}},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1",
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}}}))
    .expect("deployment");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments.create(&pp, &deploy).await.expect("create");
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
    .expect("service");
    Api::namespaced(client.clone(), "default")
        .create(&pp, &svc)
        .await
        .expect("service");

    let d = common::wait_for(
        || async {
            let d = deployments.get("web").await.ok()?;
            let st = d.status.clone()?;
            (st.available_replicas == Some(2) && st.updated_replicas == Some(2)).then_some(d)
        },
        Duration::from_secs(20),
        "deployment web available",
    )
    .await;
    let st = d.status.expect("status");
    assert_eq!(st.ready_replicas, Some(2));
    assert_eq!(st.observed_generation, d.metadata.generation);
    let conds: Vec<(String, String, String)> = st
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            (
                c.type_.unwrap_or_default(),
                c.status.unwrap_or_default(),
                c.reason.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        conds.contains(&(
            "Available".into(),
            "True".into(),
            "MinimumReplicasAvailable".into()
        )),
        "{conds:?}"
    );
    assert!(
        conds.contains(&(
            "Progressing".into(),
            "True".into(),
            "NewReplicaSetAvailable".into()
        )),
        "{conds:?}"
    );
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let first = rss.list(&ListParams::default()).await.expect("rs");
    assert_eq!(first.items.len(), 1);
    let rs1 = first.items[0].clone();
    let rs1_name = rs1.metadata.name.clone().expect("name");
    let hash = rs1
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"))
        .expect("pod-template-hash")
        .clone();
    assert_eq!(rs1_name, format!("web-{hash}"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("pods");
    assert_eq!(list.items.len(), 2);
    for p in &list.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        assert!(name.starts_with(&format!("{rs1_name}-")), "{name}");
        let st = p.status.as_ref().expect("status");
        assert_eq!(st.phase.as_deref(), Some("Running"));
        assert!(st.pod_ip.is_some());
        let cs = &st.container_statuses.as_ref().expect("container statuses")[0];
        assert!(cs.ready && cs.restart_count == 0, "{cs:?}");
        let owner = &p.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", rs1_name.as_str())
        );
    }
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let ep = common::wait_for(
        || async {
            let e = eps.get("web").await.ok()?;
            let n = e.subsets.as_ref()?.first()?.addresses.as_ref()?.len();
            (n == 2).then_some(e)
        },
        Duration::from_secs(10),
        "endpoints with two ready addresses",
    )
    .await;
    let port = &ep.subsets.expect("subsets")[0]
        .ports
        .clone()
        .expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let evs = events.list(&ListParams::default()).await.expect("events");
    let reasons: Vec<String> = evs.items.iter().filter_map(|e| e.reason.clone()).collect();
    for want in [
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
        "NotRunBySandbox",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }

    // A template change (the chart's config checksum) rolls out a new ReplicaSet.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {"checksum/config": "two"}}}}})),
        )
        .await
        .expect("patch");
    let d = common::wait_for(
        || async {
            let d = deployments.get("web").await.ok()?;
            let rev = d
                .metadata
                .annotations
                .as_ref()?
                .get("deployment.kubernetes.io/revision")?
                .clone();
            let st = d.status.clone()?;
            (rev == "2"
                && st.updated_replicas == Some(2)
                && st.replicas == Some(2)
                && st.available_replicas == Some(2))
            .then_some(d)
        },
        Duration::from_secs(20),
        "rollout to revision 2",
    )
    .await;
    assert_eq!(d.status.and_then(|s| s.observed_generation), Some(2));
    let all = rss.list(&ListParams::default()).await.expect("rs");
    assert_eq!(all.items.len(), 2);
    let old = all
        .items
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(rs1_name.as_str()))
        .expect("old rs kept for history");
    assert_eq!(old.spec.replicas, Some(0));
    let pods_now = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("pods");
    assert!(
        pods_now.items.iter().all(|p| !p
            .metadata
            .name
            .clone()
            .unwrap_or_default()
            .starts_with(&rs1_name)),
        "old pods are gone"
    );
    // Scale to zero: pods go away, endpoints empty.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .expect("scale");
    common::wait_for(
        || async {
            let e = eps.get("web").await.ok()?;
            e.subsets.as_ref().is_none_or(Vec::is_empty).then_some(())
        },
        Duration::from_secs(10),
        "endpoints empty",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_pod_runs_and_serves_logs() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let app = McpApp::default();
    mcp::deploy(&client, &app, sb.apps_domain()).await;
    let pod = mcp::wait_ready_pod(&client, &app).await;
    let name = pod.metadata.name.clone().expect("name");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &app.namespace);
    let logs = pods.logs(&name, &LogParams::default()).await.expect("logs");
    assert!(logs.contains("Starting kubernetes-mcp-server"), "{logs}");
    let tail = pods
        .logs(
            &name,
            &LogParams {
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .expect("logs");
    assert_eq!(tail.lines().count(), 1, "{tail}");
    let cs = &pod
        .status
        .expect("status")
        .container_statuses
        .expect("statuses")[0];
    assert!(
        cs.ready && cs.started == Some(true) && cs.restart_count == 0,
        "{cs:?}"
    );
    assert!(
        cs.container_id
            .as_deref()
            .is_some_and(|c| c.starts_with("cri-o://"))
    );
    // No previous run yet.
    let prev = pods
        .logs(
            &name,
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await;
    assert!(
        prev.is_err_and(|e| e.to_string().contains("previous terminated container")),
        "no previous container"
    );
    // Deleting the pod kills the process; the ReplicaSet makes a new one.
    let uid = pod.metadata.uid.clone().expect("uid");
    let addr = sb
        .pod_address(&app.namespace, &name, 8080)
        .expect("the pod's process");
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "serving before the delete"
    );
    pods.delete(&name, &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    let next = mcp::wait_ready_pod(&client, &app).await;
    assert_ne!(next.metadata.uid.as_deref(), Some(uid.as_str()));
    common::wait_for(
        || async { std::net::TcpStream::connect(addr).is_err().then_some(()) },
        Duration::from_secs(5),
        "the deleted pod's process to be gone",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_account_token_crash_loops() {
    let sb = Sandbox::start(SandboxConfig {
        crash_backoff: Duration::from_secs(2),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let app = McpApp {
        automount_token: false,
        ..McpApp::default()
    };
    mcp::deploy(&client, &app, sb.apps_domain()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &app.namespace);
    let pod = common::wait_for(
        || async {
            let list = pods
                .list(&ListParams::default().labels(&app.selector()))
                .await
                .ok()?;
            let p = list.items.into_iter().next()?;
            let cs = p
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .clone();
            let waiting = cs.state.as_ref()?.waiting.as_ref()?.reason.clone()?;
            (waiting == "CrashLoopBackOff" && cs.restart_count >= 1).then_some(p)
        },
        Duration::from_secs(30),
        "CrashLoopBackOff",
    )
    .await;
    let spec = pod.spec.clone().expect("spec");
    assert!(
        spec.volumes
            .unwrap_or_default()
            .iter()
            .all(|v| !v.name.starts_with("kube-api-access-")),
        "no token volume"
    );
    let st = pod.status.clone().expect("status");
    assert_eq!(st.phase.as_deref(), Some("Running"));
    let cs = &st.container_statuses.expect("statuses")[0];
    assert!(!cs.ready);
    let last = cs
        .last_state
        .as_ref()
        .and_then(|l| l.terminated.clone())
        .expect("last terminated");
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    let name = pod.metadata.name.clone().expect("name");
    let prev = pods
        .logs(
            &name,
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .expect("previous logs");
    assert!(prev.contains("no current-context"), "{prev}");
    let d: Api<Deployment> = Api::namespaced(client.clone(), &app.namespace);
    let dep = d.get(&app.name).await.expect("deployment");
    let st = dep.status.expect("status");
    assert_eq!(st.available_replicas, None);
    assert_eq!(st.unavailable_replicas, Some(1));
    let events: Api<Event> = Api::namespaced(client, &app.namespace);
    let evs = events.list(&ListParams::default()).await.expect("events");
    assert!(
        evs.items.iter().any(
            |e| e.reason.as_deref() == Some("BackOff") && e.type_.as_deref() == Some("Warning")
        ),
        "BackOff event"
    );
}

/// The plugins' secret pattern: a drop-in TOML in a Secret, `--config-dir` on the command
/// line; the kubelet mounts it and rewrites the path, and the server reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_drop_in_config_is_mounted_and_read() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let app = McpApp {
        extra_secrets: vec![(
            "/etc/mcp-secrets".into(),
            "mcp-drop-in".into(),
            vec![(
                "10-toolsets.toml".into(),
                "toolsets = [\"config\"]\n".into(),
            )],
        )],
        extra_args: vec!["--config-dir=/etc/mcp-secrets".into()],
        ..McpApp::default()
    };
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    let c = common::https::client(&sb, &[&host]);
    let mcp = format!("{url}/mcp");
    let member = sb.token("member").expect("token");
    let sid = common::https::initialize(&c, &mcp, &member).await;
    let (code, _, body) = common::https::post(
        &c,
        &mcp,
        Some(&member),
        Some(&sid),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let msgs = common::https::messages(&body);
    let names: Vec<String> = msgs[0]["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert!(
        names.contains(&"configuration_view".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"pods_list".to_string()),
        "only the drop-in's toolsets: {names:?}"
    );
    // The Secret's file is private on disk.
    let pods_dir = sb.dir().join("pods");
    let file = std::fs::read_dir(&pods_dir)
        .expect("pods dir")
        .flatten()
        .map(|e| e.path().join("volumes/secret-0/10-toolsets.toml"))
        .find(|p| p.exists())
        .expect("materialised secret file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(file.parent().expect("dir"))
            .expect("dir")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
}
