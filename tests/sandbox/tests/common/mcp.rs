//! The kubernetes-mcp-server deployed the way its Helm chart renders it (ServiceAccount,
//! ConfigMap `config.toml`, Deployment with probes and the config checksum, Service, and an
//! Ingress with the OpenShift termination annotation).

use std::fmt::Write as _;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::{Value, json};

/// The passthrough mode for opaque OpenShift tokens (design.md section 3, `openshift`).
pub const OPENSHIFT_CONFIG: &str = "port = \"8080\"\nrequire_oauth = true\nskip_jwt_verification = true\ncluster_auth_mode = \"passthrough\"\nread_only = true\nlog_level = 2\n";

#[derive(Debug, Clone)]
pub struct McpApp {
    pub namespace: String,
    pub name: String,
    pub image: String,
    pub automount_token: bool,
    pub config: String,
    /// `(mount path, ConfigMap name, key)` extra files, e.g. a CA bundle.
    pub extra_config_maps: Vec<(String, String, String)>,
    pub termination: String,
}

impl Default for McpApp {
    fn default() -> Self {
        McpApp {
            namespace: "mcp-server".into(),
            name: "kubernetes-mcp-server".into(),
            image: "quay.io/containers/kubernetes_mcp_server:v0.0.67".into(),
            automount_token: true,
            config: OPENSHIFT_CONFIG.into(),
            extra_config_maps: Vec::new(),
            termination: "edge".into(),
        }
    }
}

impl McpApp {
    pub fn selector(&self) -> String {
        format!(
            "app.kubernetes.io/name=kubernetes-mcp-server,app.kubernetes.io/instance={}",
            self.name
        )
    }

    pub fn host(&self, apps_domain: &str) -> String {
        format!("{}-{}.{apps_domain}", self.name, self.namespace)
    }
}

async fn create<K>(client: &kube::Client, ns: Option<&str>, v: Value)
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + serde::Serialize,
{
    // Typed first, so a typo in a test manifest fails here and not on the server.
    let typed: K = serde_json::from_value(v).expect("a valid object");
    let obj: kube::api::DynamicObject =
        serde_json::from_value(serde_json::to_value(&typed).expect("serialize")).expect("object");
    let ar = kube::api::ApiResource::erase::<K>(&());
    let api: Api<kube::api::DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {} {:?}: {e}", ar.kind, obj.metadata.name));
}

/// Namespace, RBAC for group mcp-users (list namespaces, read pods), and the chart's objects.
pub async fn deploy(client: &kube::Client, app: &McpApp, apps_domain: &str) {
    use k8s_openapi::api::{apps, core, networking, rbac};
    let ns = app.namespace.as_str();
    let labels = json!({"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": app.name,
        "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "v0.0.67"});
    let selector = json!({"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": app.name});
    create::<core::v1::Namespace>(client, None, json!({"metadata": {"name": ns}})).await;
    let reader = format!("{}-{ns}-reader", app.name);
    create::<rbac::v1::ClusterRole>(client, None, json!({"metadata": {"name": reader}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["project.openshift.io"], "resources": ["projects"], "verbs": ["get", "list"]}]})).await;
    create::<rbac::v1::ClusterRoleBinding>(client, None, json!({"metadata": {"name": reader},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mcp-users"}]})).await;
    create::<core::v1::ServiceAccount>(
        client,
        Some(ns),
        json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels}}),
    )
    .await;
    create::<core::v1::ConfigMap>(
        client,
        Some(ns),
        json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels},
        "data": {"config.toml": app.config}}),
    )
    .await;
    let mut volumes = vec![
        json!({"name": "tmp", "emptyDir": {}}),
        json!({"name": "config", "configMap": {"name": app.name}}),
    ];
    let mut mounts = vec![
        json!({"name": "tmp", "mountPath": "/tmp"}),
        json!({"name": "config", "mountPath": "/etc/kubernetes-mcp-server"}),
    ];
    for (i, (path, cm, key)) in app.extra_config_maps.iter().enumerate() {
        volumes.push(json!({"name": format!("extra-{i}"), "configMap": {"name": cm, "items": [{"key": key, "path": key}]}}));
        mounts.push(json!({"name": format!("extra-{i}"), "mountPath": path}));
    }
    let checksum = format!("{:x}", sha2_digest(&app.config));
    create::<apps::v1::Deployment>(client, Some(ns), json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector, "annotations": {"checksum/config": checksum}},
                "spec": {"serviceAccountName": app.name, "automountServiceAccountToken": app.automount_token,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "kubernetes-mcp-server", "image": app.image, "imagePullPolicy": "IfNotPresent",
                        "args": ["--config", "/etc/kubernetes-mcp-server/config.toml"],
                        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true},
                        "volumeMounts": mounts}],
                    "volumes": volumes}}}})).await;
    create::<core::v1::Service>(
        client,
        Some(ns),
        json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels},
        "spec": {"type": "ClusterIP", "selector": selector,
            "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]}}),
    )
    .await;
    let domain = apps_domain.to_string();
    create::<networking::v1::Ingress>(client, Some(ns), json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels,
            "annotations": {"route.openshift.io/termination": app.termination}},
        "spec": {"rules": [{"host": app.host(&domain), "http": {"paths": [{"path": "/", "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": app.name, "port": {"number": 8080}}}}]}}]}})).await;
}

fn sha2_digest(s: &str) -> u128 {
    // A stable, cheap checksum of the config (the chart uses sha256 of the rendered ConfigMap).
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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
