//! Deploying the real kubernetes-mcp-server into the sandbox the way its chart (and
//! `oc mcp-install`) does, breaking it on purpose, and running `kubectl-mcp_verify` against it.
#![allow(dead_code)]

pub mod bench;
pub mod oidc;

use std::{
    io::Write as _,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::{DynamicObject, ListParams, Patch, PatchParams, PostParams},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

pub const IMAGE: &str = "quay.io/containers/kubernetes_mcp_server:v0.0.67";

/// openshift mode exactly as `ServerConfig::openshift` renders it.
pub fn openshift_config() -> String {
    oc_mcp_common::server_config::ServerConfig::openshift::<&str>(&[]).to_toml_string()
}

/// One deployment of the server, chart-shaped.
#[derive(Debug, Clone)]
pub struct App {
    pub namespace: String,
    pub name: String,
    pub image: String,
    pub automount_token: bool,
    pub config: String,
    /// `(mount path, ConfigMap name, key, content)`: extra files such as a CA bundle.
    pub extra_files: Vec<(String, String, String, String)>,
    /// The Ingress's `route.openshift.io/termination`; `None`: no Ingress (internal).
    pub termination: Option<String>,
    /// Bind the reader role to the server's ServiceAccount too (for "own identity" cases).
    pub sa_reads: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            namespace: "mcp-server".into(),
            name: "kubernetes-mcp-server".into(),
            image: IMAGE.into(),
            automount_token: true,
            config: openshift_config(),
            extra_files: Vec::new(),
            termination: Some("edge".into()),
            sa_reads: false,
        }
    }
}

impl App {
    pub fn host(&self, domain: &str) -> String {
        format!("{}-{}.{domain}", self.name, self.namespace)
    }

    fn labels(&self) -> Value {
        json!({"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/managed-by": "oc-mcp", "app.kubernetes.io/version": "v0.0.67"})
    }

    /// The ClusterRole `deploy` binds to group mcp-users (the MCP role of this deployment).
    pub fn role(&self) -> String {
        format!("{}-{}-reader", self.name, self.namespace)
    }

    fn selector(&self) -> Value {
        json!({"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": self.name})
    }
}

/// A sandbox, its admin kubeconfig and CA, and a scratch dir.
pub struct Env {
    pub sb: Sandbox,
    pub admin: PathBuf,
    pub ca: PathBuf,
    pub dir: tempfile::TempDir,
}

/// What a run of the plugin printed.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// Every check id with its status, for assertion messages.
    pub fn summary(&self) -> String {
        let json = self.json();
        json["checks"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{} {} {} | {}",
                            r["id"].as_str().unwrap_or(""),
                            r["status"].as_str().unwrap_or(""),
                            r["evidence"],
                            r["fix"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    pub fn row(&self, id: &str) -> Value {
        let json = self.json();
        json["checks"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["id"] == id).cloned())
            .unwrap_or_else(|| panic!("no row {id}:\n{}", self.summary()))
    }

    pub fn status(&self, id: &str) -> String {
        self.row(id)["status"].as_str().unwrap_or("").to_owned()
    }

    /// The report is complete: every check has exactly one row.
    pub fn assert_complete(&self) {
        let json = self.json();
        let ids: Vec<&str> = json["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        let expected: Vec<&str> = oc_mcp_verify::checks::CheckId::ALL
            .iter()
            .map(|c| c.id())
            .collect();
        assert_eq!(ids, expected, "{}", self.summary());
        assert_eq!(json["apiVersion"], "oc-mcp.io/verify/v1");
        assert_eq!(json["kind"], "VerifyReport");
    }

    /// `id` has `status`; the message lists every row.
    #[track_caller]
    pub fn assert_status(&self, id: &str, status: &str) {
        assert_eq!(self.status(id), status, "{id}:\n{}", self.summary());
    }

    /// Exit 0, no check failed, and every one of `ids` passed.
    #[track_caller]
    pub fn assert_passes(&self, ids: &[&str]) {
        assert_eq!(self.code, Some(0), "{}\n{}", self.summary(), self.stderr);
        self.assert_only_failures(&[]);
        self.assert_statuses(ids, "pass");
    }

    /// Exit 1, and `id` is the one failing check, its row containing every one of `needles`.
    #[track_caller]
    pub fn assert_fails_only(&self, id: &str, needles: &[&str]) {
        assert_eq!(self.code, Some(1), "{}", self.summary());
        self.assert_status(id, "fail");
        self.assert_row_contains(id, needles);
        self.assert_only_failures(&[id]);
    }

    /// Every one of `ids` has `status`.
    #[track_caller]
    pub fn assert_statuses(&self, ids: &[&str], status: &str) {
        for id in ids {
            self.assert_status(id, status);
        }
    }

    /// The row's fix, or "" without one.
    pub fn fix(&self, id: &str) -> String {
        self.row(id)["fix"].as_str().unwrap_or("").to_owned()
    }

    /// The row, as JSON text, contains every one of `needles`.
    #[track_caller]
    pub fn assert_row_contains(&self, id: &str, needles: &[&str]) {
        let row = self.row(id).to_string();
        for needle in needles {
            assert!(row.contains(needle), "{needle} missing in {row}");
        }
    }

    /// No row fails except those listed.
    #[track_caller]
    pub fn assert_only_failures(&self, allowed: &[&str]) {
        let json = self.json();
        let failing: Vec<&str> = json["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|r| r["status"] == "fail")
            .filter_map(|r| r["id"].as_str())
            .filter(|id| !allowed.contains(id))
            .collect();
        assert!(
            failing.is_empty(),
            "unexpected failures {failing:?}:\n{}",
            self.summary()
        );
    }

    /// None of `secrets` appears in anything the plugin printed.
    #[track_caller]
    pub fn assert_no_secrets(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "a token leaked into the output"
            );
        }
    }
}

/// Run a command with a deadline; the child is killed when it overruns.
pub fn run_bounded(mut cmd: Command, stdin: Option<&str>, limit: Duration) -> Outcome {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {limit:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Poll `f` every 200 ms until it yields a value; panic naming `what` after `limit`.
pub async fn wait_for<T, F, Fut>(mut f: F, limit: Duration, what: &str) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create<K>(client: &kube::Client, ns: Option<&str>, v: Value)
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: K = serde_json::from_value(v).expect("a valid object");
    let obj: DynamicObject =
        serde_json::from_value(serde_json::to_value(&typed).expect("serialize")).expect("object");
    let ar = kube::api::ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {} {:?}: {e}", ar.kind, obj.metadata.name));
}

pub fn routes_api(client: &kube::Client, ns: &str) -> Api<oc_mcp_common::openshift::Route> {
    Api::namespaced(client.clone(), ns)
}

impl Env {
    pub async fn start(config: SandboxConfig) -> Self {
        oc_mcp_common::install_crypto_provider();
        let sb = Sandbox::start(config).await.expect("sandbox");
        let admin = sb.kubeconfig_path("admin").expect("kubeconfig");
        let dir = tempfile::tempdir().expect("tmp");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, sb.ca_pem()).expect("ca");
        Env { sb, admin, ca, dir }
    }

    pub async fn admin(&self) -> kube::Client {
        self.sb.client_for("admin").await.expect("client")
    }

    /// Namespace, RBAC for group mcp-users (list namespaces, read pods), and the chart's
    /// objects: ServiceAccount, ConfigMap, Deployment, Service, Ingress.
    pub async fn deploy(&self, app: &App) {
        use k8s_openapi::api::{apps, core, networking, rbac};
        let client = self.admin().await;
        let ns = app.namespace.as_str();
        let labels = app.labels();
        let selector = app.selector();
        let namespaces: Api<core::v1::Namespace> = Api::all(client.clone());
        if namespaces.get_opt(ns).await.expect("get ns").is_none() {
            create::<core::v1::Namespace>(&client, None, json!({"metadata": {"name": ns}})).await;
        }
        let reader = app.role();
        // Made as `oc mcp-rbac role` makes a role from a tool list: labelled as oc-mcp's, with
        // its profile and the fingerprint of its rules recorded.
        let rules = json!([
            {"apiGroups": [""], "resources": ["namespaces", "pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["project.openshift.io"], "resources": ["projects"], "verbs": ["get", "list"]}]);
        let typed: Vec<rbac::v1::PolicyRule> =
            serde_json::from_value(rules.clone()).expect("rules");
        let fingerprint = oc_mcp_common::rbac_intent::rules_fingerprint(&typed);
        create::<rbac::v1::ClusterRole>(&client, None, json!({"metadata": {"name": reader,
                "labels": {"app.kubernetes.io/managed-by": "oc-mcp"},
                "annotations": {"oc-mcp.io/profile": "tools", "oc-mcp.io/rules-fingerprint": fingerprint}},
            "rules": rules})).await;
        let mut subjects = vec![
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mcp-users"}),
        ];
        if app.sa_reads {
            subjects.push(json!({"kind": "ServiceAccount", "name": app.name, "namespace": ns}));
        }
        create::<rbac::v1::ClusterRoleBinding>(&client, None, json!({"metadata": {"name": reader},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
            "subjects": subjects})).await;
        create::<core::v1::ServiceAccount>(
            &client,
            Some(ns),
            json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels}}),
        )
        .await;
        create::<core::v1::ConfigMap>(
            &client,
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
        for (i, (path, cm, key, content)) in app.extra_files.iter().enumerate() {
            create::<core::v1::ConfigMap>(
                &client,
                Some(ns),
                json!({"metadata": {"name": cm, "namespace": ns}, "data": {key.as_str(): content}}),
            )
            .await;
            volumes.push(json!({"name": format!("extra-{i}"), "configMap": {"name": cm}}));
            mounts.push(json!({"name": format!("extra-{i}"), "mountPath": path}));
        }
        create::<apps::v1::Deployment>(&client, Some(ns), json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": selector},
                    "spec": {"serviceAccountName": app.name, "automountServiceAccountToken": app.automount_token,
                        "containers": [{"name": "kubernetes-mcp-server", "image": app.image,
                            "args": ["--config", "/etc/kubernetes-mcp-server/config.toml"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "volumeMounts": mounts}],
                        "volumes": volumes}}}})).await;
        create::<core::v1::Service>(
            &client,
            Some(ns),
            json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels},
            "spec": {"type": "ClusterIP", "selector": selector,
                "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]}}),
        )
        .await;
        if let Some(termination) = &app.termination {
            create::<networking::v1::Ingress>(&client, Some(ns), json!({"metadata": {"name": app.name, "namespace": ns, "labels": labels,
                    "annotations": {"route.openshift.io/termination": termination}},
                "spec": {"rules": [{"host": app.host(self.sb.apps_domain()), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": app.name, "port": {"number": 8080}}}}]}}]}})).await;
        }
    }

    /// Wait until a pod of the app is Ready.
    pub async fn wait_ready(&self, app: &App) {
        let client = self.admin().await;
        let pods: Api<Pod> = Api::namespaced(client, &app.namespace);
        let selector = format!(
            "app.kubernetes.io/name=kubernetes-mcp-server,app.kubernetes.io/instance={}",
            app.name
        );
        wait_for(
            || async {
                let list = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .ok()?;
                list.items.into_iter().find(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        })
                })
            },
            Duration::from_secs(60),
            "a ready kubernetes-mcp-server pod",
        )
        .await;
    }

    /// Wait until the pod has restarted at least `restarts` times (a crash loop).
    pub async fn wait_restarts(&self, app: &App, restarts: i32) {
        let client = self.admin().await;
        let pods: Api<Pod> = Api::namespaced(client, &app.namespace);
        wait_for(
            || async {
                let list = pods.list(&ListParams::default()).await.ok()?;
                list.items.into_iter().find(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .is_some_and(|cs| cs.iter().any(|c| c.restart_count >= restarts))
                })
            },
            Duration::from_secs(60),
            "a restarting pod",
        )
        .await;
    }

    /// Wait for the admitted Route made from the app's Ingress; its name.
    pub async fn wait_route(&self, app: &App) -> String {
        let routes = routes_api(&self.admin().await, &app.namespace);
        wait_for(
            || async {
                let list = routes.list(&ListParams::default()).await.ok()?;
                list.items
                    .into_iter()
                    .find(oc_mcp_common::openshift::Route::admitted)
                    .and_then(|r| r.metadata.name)
            },
            Duration::from_secs(30),
            "an admitted Route",
        )
        .await
    }

    /// Wait until the router serves the app: `/healthz` through the Route answers 200 (the
    /// router learns about new endpoints shortly after the pod is ready).
    pub async fn wait_serving(&self, app: &App) {
        let host = app.host(self.sb.apps_domain());
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .resolve(&host, self.sb.router_https_addr());
        for cert in reqwest::Certificate::from_pem_bundle(self.sb.ca_pem().as_bytes()).expect("CA")
        {
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().expect("client");
        let url = format!("{}/healthz", self.sb.route_url(&host));
        wait_for(
            || async {
                let r = client.get(&url).send().await.ok()?;
                (r.status().as_u16() == 200).then_some(())
            },
            Duration::from_secs(30),
            "the Route to serve /healthz",
        )
        .await;
    }

    /// Merge-patch the Route (e.g. its TLS policy).
    pub async fn patch_route(&self, app: &App, name: &str, patch: Value) {
        routes_api(&self.admin().await, &app.namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch route");
    }

    /// An OpenShift OAuthClient with these redirect URIs, its tokens scoped to `role` as
    /// `oc mcp-oauth register openshift --role` scopes them.
    pub async fn oauth_client(&self, name: &str, redirects: &[String], role: &str) {
        let client = self.admin().await;
        let api: Api<oc_mcp_common::openshift::OAuthClient> = Api::all(client);
        let mut oc = oc_mcp_common::openshift::OAuthClient::named(name);
        oc.secret = Some("oauth-client-secret-value".into());
        oc.grant_method = Some("auto".into());
        oc.redirect_uris = redirects.to_vec();
        oc.scope_restrictions = oc_mcp_common::openshift::mcp_scope_restrictions(role);
        api.create(&PostParams::default(), &oc)
            .await
            .expect("oauthclient");
    }

    /// `--connect-to` for the app's Route host through the sandbox router.
    pub fn connect_to(&self, app: &App) -> String {
        format!(
            "{}:443:127.0.0.1:{}",
            app.host(self.sb.apps_domain()),
            self.sb.router_https_port()
        )
    }

    /// The plugin against `app`, as admin, with `-o json`, the router and its CA.
    pub fn verify(&self, app: &App, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        self.verify_stdin(app, args, env, None)
    }

    pub fn verify_stdin(
        &self,
        app: &App,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Outcome {
        self.verify_with(&self.admin, app, args, env, stdin)
    }

    /// The plugin with another kubeconfig (another user's).
    pub fn verify_with(
        &self,
        kubeconfig: &std::path::Path,
        app: &App,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Outcome {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_verify"));
        cmd.arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["-n", &app.namespace, "--release", &app.name])
            .args(["--connect-to", &self.connect_to(app)]);
        if !args.contains(&"--endpoint-ca") {
            cmd.arg("--endpoint-ca").arg(&self.ca);
        }
        if !args.contains(&"-o") {
            cmd.args(["-o", "json"]);
        }
        if !args.contains(&"--role") {
            cmd.args(["--role", &app.role()]);
        }
        cmd.args(args).env_remove("KUBECONFIG").env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_bounded(cmd, stdin, Duration::from_secs(120))
    }

    pub fn token(&self, user: &str) -> String {
        self.sb.token(user).expect("token")
    }
}
