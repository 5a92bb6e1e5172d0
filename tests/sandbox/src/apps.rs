//! The kubernetes-mcp-server deployed the way its Helm chart renders it (ServiceAccount,
//! ConfigMap `config.toml`, Deployment with probes and the `checksum/config` annotation,
//! Service `http` 8080, Ingress with the OpenShift termination annotation), for tests that
//! need a running server without helm. Created through the API as `admin`.

use std::time::{Duration, Instant};

use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use oc_mcp_common::release::{
    self, CHART_NAME, INSTANCE_LABEL, MANAGED_BY_LABEL, SERVICE_PORT, VERSION_LABEL,
};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{Sandbox, SandboxError};

/// Passthrough of opaque OpenShift tokens (auth mode `openshift`).
pub const OPENSHIFT_CONFIG: &str = "port = \"8080\"\nrequire_oauth = true\nskip_jwt_verification = true\ncluster_auth_mode = \"passthrough\"\nread_only = true\nlog_level = 2\n";

/// `(file name, content)` pairs.
pub type Files = Vec<(String, String)>;

/// What to deploy.
#[derive(Debug, Clone)]
pub struct McpServerApp {
    pub namespace: String,
    /// Deployment, Service, ConfigMap, ServiceAccount and Ingress name (the chart's fullname).
    pub name: String,
    pub image: String,
    /// The pod's `automountServiceAccountToken` (the chart's `serviceAccount.automountToken`).
    pub automount_token: bool,
    /// `config.toml`.
    pub config: String,
    /// Extra ConfigMap files: `(mount directory, ConfigMap, key)`, e.g. a CA bundle from the
    /// namespace's `kube-root-ca.crt`.
    pub extra_config_maps: Vec<(String, String, String)>,
    /// Secrets mounted as directories: `(mount directory, Secret, files)`; the Secrets are
    /// created with these files (e.g. a drop-in TOML for `--config-dir`).
    pub extra_secrets: Vec<(String, String, Files)>,
    /// Arguments after `--config <path>` (the chart's `extraArgs`).
    pub extra_args: Vec<String>,
    /// The Ingress's `route.openshift.io/termination` (`None`: no Ingress at all).
    pub termination: Option<String>,
    /// A group given read access to namespaces, pods, logs, events and projects (the
    /// `mcp-users` group of the seeded user `member`); `None`: no RBAC is created.
    pub reader_group: Option<String>,
}

impl Default for McpServerApp {
    fn default() -> Self {
        McpServerApp {
            namespace: release::NAMESPACE.into(),
            name: release::RELEASE.into(),
            image: release::DEFAULT_IMAGE.into(),
            automount_token: true,
            config: OPENSHIFT_CONFIG.into(),
            extra_config_maps: Vec::new(),
            extra_secrets: Vec::new(),
            extra_args: Vec::new(),
            termination: Some("edge".into()),
            reader_group: Some("mcp-users".into()),
        }
    }
}

impl McpServerApp {
    /// Validating the sandbox issuer's JWTs (`authorization_url`, `oauth_audience`, the
    /// sandbox CA from `kube-root-ca.crt`); pair with `SandboxConfig::trust_issuer`.
    /// `server_url` is the endpoint's public URL (`<public_url>/mcp`), as the plugins set it:
    /// the server would otherwise name the Host it receives, which in the sandbox is the pod's
    /// loopback address. Changing `name` or `namespace` afterwards changes the host: call
    /// [`McpServerApp::with_server_url`] again.
    pub fn oidc(sb: &Sandbox) -> Self {
        let app = McpServerApp {
            config: format!(
                "port = \"8080\"\nrequire_oauth = true\nauthorization_url = \"{}\"\noauth_audience = \"{}\"\ncertificate_authority = \"/etc/mcp-ca/ca.crt\"\ncluster_auth_mode = \"passthrough\"\nread_only = true\nlog_level = 2\n",
                sb.issuer_url(),
                sb.oidc_audience()
            ),
            extra_config_maps: vec![(
                "/etc/mcp-ca".into(),
                "kube-root-ca.crt".into(),
                "ca.crt".into(),
            )],
            ..Self::default()
        };
        let url = format!("{}/mcp", app.public_url(sb));
        app.with_server_url(&url)
    }

    /// `config` with `server_url = url` (replacing any `server_url` line).
    #[must_use]
    pub fn with_server_url(mut self, url: &str) -> Self {
        let quoted = url.replace('\\', "\\\\").replace('"', "\\\"");
        let line = format!("server_url = \"{quoted}\"\n");
        self.config = self
            .config
            .lines()
            .filter(|l| !l.trim_start().starts_with("server_url"))
            .flat_map(|l| [l, "\n"])
            .chain([line.as_str()])
            .collect();
        self
    }

    /// Where clients reach the app's Ingress host through the router: the Route URL
    /// (`https://<host>:<router https port>`), or in the Kubernetes flavour
    /// `http://<host>:<router http port>` (the chart's Ingress has no tls entry).
    pub fn public_url(&self, sb: &Sandbox) -> String {
        let host = self.host(sb.apps_domain());
        if sb.flavour().is_openshift() {
            sb.route_url(&host)
        } else {
            format!("http://{host}:{}", sb.router_http_port())
        }
    }

    /// The Route host: `<name>-<namespace>.<apps domain>` (what the plugins derive).
    pub fn host(&self, apps_domain: &str) -> String {
        format!("{}-{}.{apps_domain}", self.name, self.namespace)
    }

    /// The pods' label selector.
    pub fn selector(&self) -> String {
        release::selector(&self.name)
    }
}

fn ar(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: if group.is_empty() {
            "v1".into()
        } else {
            format!("{group}/v1")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

async fn create(
    client: &kube::Client,
    ar: &ApiResource,
    ns: Option<&str>,
    v: Value,
) -> Result<(), SandboxError> {
    let obj: DynamicObject =
        serde_json::from_value(v).map_err(|e| SandboxError::Client(e.to_string()))?;
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(SandboxError::Client(format!(
            "creating {} {:?}: {e}",
            ar.kind, obj.metadata.name
        ))),
    }
}

/// Create the app's objects through `client` (a cluster admin; existing objects are left
/// as they are). `apps_domain` gives the Ingress host.
pub async fn deploy(
    client: &kube::Client,
    apps_domain: &str,
    app: &McpServerApp,
) -> Result<(), SandboxError> {
    let c = client;
    let ns = app.namespace.as_str();
    let selector = json!(release::selector_labels(&app.name));
    let mut labels = selector.clone();
    labels[MANAGED_BY_LABEL] = json!("Helm");
    // The chart's appVersion: the tag of the image it defaults to.
    let version = release::DEFAULT_IMAGE
        .rsplit_once(':')
        .map_or("", |(_, tag)| tag);
    labels[VERSION_LABEL] = json!(version);
    create(
        c,
        &ar("", "Namespace", "namespaces"),
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await?;
    if let Some(group) = &app.reader_group {
        let rbac = "rbac.authorization.k8s.io";
        let reader = format!("{}-{ns}-reader", app.name);
        create(c, &ar(rbac, "ClusterRole", "clusterroles"), None, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": reader}, "rules": [
            {"apiGroups": [""], "resources": ["namespaces", "pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["project.openshift.io"], "resources": ["projects"], "verbs": ["get", "list"]}]})).await?;
        create(c, &ar(rbac, "ClusterRoleBinding", "clusterrolebindings"), None, json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding", "metadata": {"name": reader},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]})).await?;
    }
    create(
        c,
        &ar("", "ServiceAccount", "serviceaccounts"),
        Some(ns),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": app.name, "namespace": ns, "labels": labels}}),
    )
    .await?;
    create(c, &ar("", "ConfigMap", "configmaps"), Some(ns), json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": app.name, "namespace": ns, "labels": labels}, "data": {"config.toml": app.config}})).await?;
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
    for (i, (path, secret, files)) in app.extra_secrets.iter().enumerate() {
        use base64::Engine as _;
        let data: serde_json::Map<String, Value> = files
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect();
        create(c, &ar("", "Secret", "secrets"), Some(ns), json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret, "namespace": ns, "labels": labels}, "type": "Opaque", "data": data})).await?;
        volumes.push(json!({"name": format!("secret-{i}"), "secret": {"secretName": secret}}));
        mounts.push(json!({"name": format!("secret-{i}"), "mountPath": path, "readOnly": true}));
    }
    let mut args = vec![
        json!("--config"),
        json!("/etc/kubernetes-mcp-server/config.toml"),
    ];
    args.extend(app.extra_args.iter().map(|a| json!(a)));
    let checksum: String = sha2::Sha256::digest(app.config.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    create(c, &ar("apps", "Deployment", "deployments"), Some(ns), json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app.name, "namespace": ns, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector, "annotations": {"checksum/config": checksum}},
                "spec": {"serviceAccountName": app.name, "automountServiceAccountToken": app.automount_token,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": CHART_NAME, "image": app.image, "imagePullPolicy": "IfNotPresent",
                        "args": args,
                        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                        "ports": [{"name": "http", "containerPort": SERVICE_PORT, "protocol": "TCP"}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true},
                        "volumeMounts": mounts}],
                    "volumes": volumes}}}})).await?;
    create(
        c,
        &ar("", "Service", "services"),
        Some(ns),
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": app.name, "namespace": ns, "labels": labels},
        "spec": {"type": "ClusterIP", "selector": selector,
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}]}}),
    )
    .await?;
    if let Some(termination) = &app.termination {
        create(c, &ar("networking.k8s.io", "Ingress", "ingresses"), Some(ns), json!({"apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress", "metadata": {"name": app.name, "namespace": ns, "labels": labels,
                "annotations": {"route.openshift.io/termination": termination}},
            "spec": {"rules": [{"host": app.host(apps_domain), "http": {"paths": [{"path": "/", "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": app.name, "port": {"number": SERVICE_PORT}}}}]}}]}})).await?;
    }
    Ok(())
}

/// Wait until a pod of the app is Ready and, with an Ingress, its Route host is served;
/// returns the route URL (`https://<host>:<router port>`) or, without an Ingress, "".
pub async fn wait_ready(
    sb: &Sandbox,
    app: &McpServerApp,
    limit: Duration,
) -> Result<String, SandboxError> {
    let start = Instant::now();
    let host = app.host(sb.apps_domain());
    let instance = format!("/metadata/labels/{}", INSTANCE_LABEL.replace('/', "~1"));
    loop {
        let ready = sb.with_store(|store| {
            store
                .list("/pods", Some(&app.namespace))
                .iter()
                .any(|(_, p)| {
                    p.pointer(&instance).and_then(Value::as_str) == Some(app.name.as_str())
                        && p.pointer("/status/conditions")
                            .and_then(Value::as_array)
                            .is_some_and(|cs| {
                                cs.iter()
                                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
                            })
                })
        });
        let routed = app.termination.is_none() || sb.resolve(&host).is_some();
        if ready && routed {
            return Ok(match (&app.termination, sb.ingress_url(&host)) {
                (None, _) => String::new(),
                // The Kubernetes flavour: http:// unless a tls entry covers the host.
                (Some(_), Some(url)) => url,
                (Some(_), None) => sb.route_url(&host),
            });
        }
        if start.elapsed() > limit {
            return Err(SandboxError::Client(format!(
                "kubernetes-mcp-server in {} not ready within {limit:?} (pod ready: {ready}, route: {routed}); see `kubectl -n {} describe pods` and `kubectl logs`",
                app.namespace, app.namespace
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
