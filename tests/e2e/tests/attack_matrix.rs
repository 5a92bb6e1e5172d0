//! The threat model, tried: every unsafe state of `docs/threat-model.md` is set up on the
//! sandbox, by an administrator acting as an attacker or a careless colleague (through the
//! plugins or straight through the API, as `kubectl` would), and the command the threat model
//! names must refuse it or fail on it with its documented exit code. The correct deployment
//! passes every command, so a state that is caught is caught for its own reason.
//!
//! Each state is its own test on a fresh sandbox: `cargo test -p oc-mcp-e2e --test it
//! attack_matrix::t14` runs one. `every_state_of_the_threat_model_is_tried` keeps this file and
//! the document in step.

use std::{process::Output, time::Duration};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        coordination::v1::Lease,
        core::v1::{ConfigMap, Service},
        rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding},
    },
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use oc_mcp_common::openshift::OAuthClient;
use oc_mcp_e2e::{admin::AdminBench, text, workspace_root};
use oc_mcp_sandbox::{Flavour, SandboxConfig};
use serde_json::{Value, json};

const NAMESPACE: &str = "mcp-server";
const RELEASE: &str = "kubernetes-mcp-server";
const ROLE: &str = "mcp-readonly";
/// The sandbox's apps domain (its default).
const APPS_DOMAIN: &str = "apps.sandbox.example.com";
/// The MCP client's ID at the issuer in oidc mode (a public client, as MCP clients are).
const OIDC_CLIENT: &str = "mcp-inspector";

/// A sandbox, the plugins, and (for `deployed`) the guide's correct deployment.
struct Scene(AdminBench);

impl std::ops::Deref for Scene {
    type Target = AdminBench;
    fn deref(&self) -> &AdminBench {
        &self.0
    }
}

impl Scene {
    /// A sandbox with nothing of ours in it.
    async fn bare() -> Self {
        Self(AdminBench::start().await)
    }

    /// The guide done right ([`AdminBench::deployed`]).
    async fn deployed() -> Self {
        Self(AdminBench::deployed().await)
    }

    fn host(&self) -> String {
        format!("{RELEASE}-{NAMESPACE}.{}", self.sandbox.apps_domain())
    }

    /// `--connect-to` for the route host (to the sandbox's router) and `--endpoint-ca` (the
    /// sandbox CA), as verify needs them to reach the endpoint on loopback.
    fn route_flags(&self) -> (String, String) {
        let host = self.host();
        let addr = self
            .sandbox
            .resolve(&host)
            .expect("the router serves the route host");
        (
            format!("{host}:443:{}:{}", addr.ip(), addr.port()),
            self.sandbox.dir().join("ca.crt").display().to_string(),
        )
    }

    /// `mcp-verify -o json` through the router, with a member's token for the MCP calls and an
    /// outsider's for the passthrough denial.
    async fn verify(&self, extra: &[&str]) -> Output {
        let (connect_to, ca) = self.route_flags();
        let mut args = vec![
            "-o",
            "json",
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_TOKEN",
            "--denied-token-env",
            "MCP_DENIED_TOKEN",
        ];
        args.extend_from_slice(extra);
        let mut command = self.command("kubectl-mcp_verify", &args);
        command
            .env("MCP_TOKEN", self.sandbox.token("member").expect("token"))
            .env(
                "MCP_DENIED_TOKEN",
                self.sandbox.token("outsider").expect("token"),
            );
        command.output().await.expect("run verify")
    }

    /// `mcp-verify -o json` as the sandbox user `user`: its kubeconfig for the cluster and its
    /// own token for the MCP calls, as someone who just runs `oc mcp-verify`.
    async fn verify_as(&self, user: &str, extra: &[&str]) -> Output {
        let (connect_to, ca) = self.route_flags();
        let mut args = vec![
            "-o",
            "json",
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            &ca,
        ];
        args.extend_from_slice(extra);
        self.command_as(user, "kubectl-mcp_verify", &args)
            .output()
            .await
            .expect("run verify")
    }

    /// A Service of the server's namespace, selecting the server's pods, applied as kubectl.
    async fn expose(&self, name: &str, spec: Value) {
        let services: Api<Service> = Api::namespaced(self.client().await, NAMESPACE);
        let mut spec = spec;
        spec["selector"] =
            json!({"app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE});
        spec["ports"] = json!([{"name": "http", "port": 8080, "targetPort": "http"}]);
        let service: Service =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))
                .expect("service");
        services
            .create(&PostParams::default(), &service)
            .await
            .expect("create service");
    }

    /// The guide in oidc mode: the cluster trusts the sandbox issuer (external OIDC) for the
    /// audience the server expects (`audience`, else the one install derives), and install
    /// deploys the server for that issuer.
    async fn oidc(audience: Option<&str>) -> Self {
        // What a spec-following client's token carries: the metadata's `resource`.
        let resource = format!("https://{RELEASE}-{NAMESPACE}.{APPS_DOMAIN}/mcp");
        let expected = audience.unwrap_or(&resource).to_owned();
        let scene = Self(
            AdminBench::start_with(SandboxConfig {
                trust_issuer: true,
                oidc_audience: expected,
                ..SandboxConfig::default()
            })
            .await,
        );
        assert_eq!(scene.sandbox.apps_domain(), APPS_DOMAIN);
        // The sandbox publishes its trust as OpenShift does (the cluster's Authentication
        // names the issuer and `expected`): install checks it, as it would on a cluster.
        let issuer = scene.sandbox.issuer_url().to_owned();
        let ca = scene.sandbox.dir().join("ca.crt").display().to_string();
        let mut install = vec![
            "--engine",
            "manifests",
            "--auth",
            "oidc",
            "--issuer",
            &issuer,
            "--client-id",
            OIDC_CLIENT,
            "--issuer-ca",
            &ca,
            "--wait",
            "--timeout",
            "120s",
            "--yes",
        ];
        if let Some(audience) = audience {
            install.extend(["--audience", audience]);
        }
        for (plugin, args) in [
            ("kubectl-mcp_rbac", &["role", "--yes"][..]),
            ("kubectl-mcp_rbac", &["bind", "mcp-users", "--yes"]),
            ("kubectl-mcp_install", &install),
        ] {
            let out = scene.run(plugin, args).await;
            assert!(out.status.success(), "{}", describe(plugin, args, &out));
        }
        scene
    }

    /// `mcp-verify -o json` in oidc mode: a member's JWT for the MCP calls, and a headless
    /// browser (curl following the issuer's redirects) for `--login`.
    async fn verify_oidc(&self, login: bool, extra: &[&str]) -> Output {
        let (connect_to, ca) = self.route_flags();
        let browser = self.home.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!("#!/bin/sh\nexec curl -sS -L --max-redirs 5 --max-time 20 --cacert '{ca}' -o /dev/null \"$1\"\n"),
        )
        .expect("browser script");
        std::fs::set_permissions(
            &browser,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        // A member's token for the audience the cluster trusts (the sandbox's own).
        let jwt = self
            .sandbox
            .oidc_token("member", None, Duration::from_secs(600))
            .expect("jwt");
        let mut args = vec![
            "-o",
            "json",
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_TOKEN",
        ];
        if login {
            args.extend([
                "--login",
                "--login-client-id",
                OIDC_CLIENT,
                "--login-hint",
                "member",
            ]);
        }
        args.extend_from_slice(extra);
        self.command("kubectl-mcp_verify", &args)
            .env("MCP_TOKEN", jwt)
            .env("BROWSER", &browser)
            .output()
            .await
            .expect("verify")
    }

    async fn client(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }

    /// Edit the server's `config.toml` in its ConfigMap as `kubectl edit` would (another field
    /// manager). The running pods keep the old file until [`Self::roll_pods`].
    async fn edit_config(&self, edit: impl FnOnce(&str) -> String) {
        let maps: Api<ConfigMap> = Api::namespaced(self.client().await, NAMESPACE);
        let map = maps.get(RELEASE).await.expect("configmap");
        let old = map
            .data
            .as_ref()
            .and_then(|d| d.get("config.toml"))
            .expect("config.toml")
            .clone();
        let new = edit(&old);
        assert_ne!(old, new, "the edit changes the config");
        maps.patch(
            RELEASE,
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"config.toml": new}})),
        )
        .await
        .expect("edit the configmap");
    }

    /// `kubectl rollout restart`, so the server reads its config again; waits for the rollout.
    async fn roll_pods(&self) {
        self.edit_deployment(|d| {
            d.spec
                .template
                .metadata
                .get_or_insert_default()
                .annotations
                .get_or_insert_default()
                .insert("kubectl.kubernetes.io/restartedAt".into(), "attack".into());
        })
        .await;
    }

    /// Edit the server's Deployment as `kubectl edit` would (read, change, replace); waits for
    /// the rollout.
    async fn edit_deployment(&self, edit: impl FnOnce(&mut Deployment)) {
        let deployments: Api<Deployment> = Api::namespaced(self.client().await, NAMESPACE);
        let mut deployment = deployments.get(RELEASE).await.expect("deployment");
        edit(&mut deployment);
        deployments
            .replace(
                RELEASE,
                &PostParams {
                    field_manager: Some("kubectl-edit".into()),
                    ..PostParams::default()
                },
                &deployment,
            )
            .await
            .expect("replace the deployment");
        self.wait_rolled_out().await;
    }

    /// Until every replica runs the newest template (bounded).
    async fn wait_rolled_out(&self) {
        let deployments: Api<Deployment> = Api::namespaced(self.client().await, NAMESPACE);
        for _ in 0..300 {
            let d = deployments.get(RELEASE).await.expect("deployment");
            let generation = d.metadata.generation.unwrap_or_default();
            let status = d.status.unwrap_or_default();
            let want = d.spec.replicas.unwrap_or(1);
            if status.observed_generation.unwrap_or_default() >= generation
                && status.updated_replicas.unwrap_or_default() == want
                && status.available_replicas.unwrap_or_default() == want
                && status.replicas.unwrap_or_default() == want
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the deployment did not roll out in 30 s");
    }
}

impl Scene {
    /// A plugin run whose refusal must leave the cluster as it was: exit `code`, `says` in
    /// stderr, and no write by the administrator.
    async fn refuses(&self, plugin: &str, args: &[&str], code: i32, says: &str) {
        let from = self.sandbox.audit().len();
        let out = self.run(plugin, args).await;
        refused(&out, code, says);
        let writes: Vec<String> = self
            .writes_since("admin", from)
            .into_iter()
            .filter(|w| !w.contains("/leases"))
            .collect();
        assert!(writes.is_empty(), "a refusal wrote: {writes:?}");
    }

    /// Add a rule to the MCP ClusterRole as `kubectl edit` would.
    async fn add_rule(&self, rule: Value) {
        let api: Api<ClusterRole> = Api::all(self.client().await);
        let mut edited = api.get(ROLE).await.expect("clusterrole");
        edited
            .rules
            .get_or_insert_default()
            .push(serde_json::from_value(rule).expect("rule"));
        api.replace(
            ROLE,
            &PostParams {
                field_manager: Some("kubectl-edit".into()),
                ..PostParams::default()
            },
            &edited,
        )
        .await
        .expect("edit the role");
    }

    /// `oc mcp-rbac check` and `status` both fail, and check names `names`.
    async fn rbac_fails(&self, names: &[&str]) {
        let check = self.run("kubectl-mcp_rbac", &["check", "-o", "wide"]).await;
        let said = format!("{}{}", text(&check.stdout), text(&check.stderr));
        assert_eq!(check.status.code(), Some(1), "check: {said}");
        for name in names {
            assert!(said.contains(name), "check does not name {name}: {said}");
        }
        let status = self.run("kubectl-mcp_rbac", &["status"]).await;
        assert_eq!(
            status.status.code(),
            Some(1),
            "status: {}",
            text(&status.stderr)
        );
    }
}

fn describe(plugin: &str, args: &[&str], out: &Output) -> String {
    format!(
        "{plugin} {}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The report of `verify -o json`.
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify -o json: {e}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// `id=status` for every check that did not pass.
fn not_passed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["id"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default()
            )
        })
        .filter(|s| !s.ends_with("=pass") && !s.ends_with("=info"))
        .collect()
}

/// Verify exits 1 and the named check fails.
#[track_caller]
fn verify_fails(out: &Output, check: &str) {
    let report = report(out);
    let failed = not_passed(&report);
    assert!(
        out.status.code() == Some(1) && failed.contains(&format!("{check}=fail")),
        "expected {check}=fail and exit 1, got exit {:?}: {failed:?}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
}

/// The command exits with `code` and its stderr says `says`.
#[track_caller]
fn refused(out: &Output, code: i32, says: &str) {
    let stderr = text(&out.stderr);
    assert!(
        out.status.code() == Some(code) && stderr.contains(says),
        "expected exit {code} saying {says:?}, got exit {:?}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status.code(),
        text(&out.stdout)
    );
}

/// A cluster without OpenShift's APIs (AKS, EKS, kind), with cert-manager.
fn plain_kubernetes() -> SandboxConfig {
    SandboxConfig {
        flavour: Flavour::Kubernetes,
        cert_manager: true,
        ..SandboxConfig::default()
    }
}

fn route_api() -> kube::core::ApiResource {
    kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("route.openshift.io", "v1", "Route"),
        "routes",
    )
}

/// One test per state, and the list of their ids for the document check.
macro_rules! states {
    ($($name:ident => $body:block)*) => {
        const STATES: &[&str] = &[$(stringify!($name),)*];
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() $body
        )*
    };
}

states! {
    t01_bind_to_anonymous_requests => {
        let scene = Scene::bare().await;
        for group in ["system:unauthenticated", "system:anonymous"] {
            scene
                .refuses("kubectl-mcp_rbac", &["bind", group, "--yes"], 2, "refusing to bind")
                .await;
        }
    }

    t02_bind_to_every_logged_in_user => {
        let scene = Scene::bare().await;
        scene
            .refuses(
                "kubectl-mcp_rbac",
                &["bind", "system:authenticated", "--force", "--yes"],
                2,
                "every authenticated identity",
            )
            .await;
    }

    t03_bind_to_the_anonymous_user => {
        let scene = Scene::bare().await;
        scene
            .refuses(
                "kubectl-mcp_rbac",
                &["bind", "--user", "system:anonymous", "--yes"],
                2,
                "anonymous",
            )
            .await;
    }

    t04_bind_to_the_administrators_or_everyone => {
        let scene = Scene::bare().await;
        for group in ["system:masters", "*"] {
            scene
                .refuses("kubectl-mcp_rbac", &["bind", group, "--yes"], 2, "refusing to bind")
                .await;
        }
    }

    t05_a_virtual_group_bound_by_hand => {
        let scene = Scene::deployed().await;
        let bindings: Api<ClusterRoleBinding> = Api::all(scene.client().await);
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "mcp-for-everyone"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
        }))
        .expect("binding");
        bindings
            .create(&PostParams::default(), &binding)
            .await
            .expect("bind by hand");
        scene.rbac_fails(&["system:authenticated"]).await;
        verify_fails(&scene.verify(&[]).await, "rbac.bindings");
    }

    t06_members_bound_to_a_role_that_writes => {
        let scene = Scene::bare().await;
        for role in ["cluster-admin", "admin", "edit"] {
            scene
                .refuses(
                    "kubectl-mcp_rbac",
                    &["bind", "--role", role, "mcp-users", "--force", "--yes"],
                    2,
                    &format!("refusing to bind ClusterRole {role}"),
                )
                .await;
        }
    }

    t07_the_role_edited_to_mint_tokens => {
        let scene = Scene::deployed().await;
        scene
            .add_rule(json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}))
            .await;
        scene.rbac_fails(&["serviceaccounts/token"]).await;
        verify_fails(&scene.verify(&[]).await, "rbac.role");
    }

    t08_the_role_edited_to_a_wildcard_on_machine_configs => {
        let scene = Scene::deployed().await;
        scene
            .add_rule(json!({"apiGroups": ["machineconfiguration.openshift.io"], "resources": ["*"], "verbs": ["*"]}))
            .await;
        scene.rbac_fails(&["machineconfiguration.openshift.io"]).await;
        verify_fails(&scene.verify(&[]).await, "rbac.role");
    }

    t09_the_role_edited_to_change_auth_or_approve_certificates => {
        let scene = Scene::deployed().await;
        scene
            .add_rule(json!({"apiGroups": ["config.openshift.io"], "resources": ["oauths"], "verbs": ["update"]}))
            .await;
        scene
            .add_rule(json!({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}))
            .await;
        scene
            .add_rule(json!({"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"], "verbs": ["use"]}))
            .await;
        scene
            .rbac_fails(&["oauths", "signers", "securitycontextconstraints"])
            .await;
    }

    t10_the_role_edited_to_read_credentials => {
        let scene = Scene::deployed().await;
        scene
            .add_rule(json!({"apiGroups": ["oauth.openshift.io"], "resources": ["oauthaccesstokens"], "verbs": ["list"]}))
            .await;
        scene
            .add_rule(json!({"apiGroups": [""], "resources": ["nodes/proxy", "secrets"], "verbs": ["get"]}))
            .await;
        scene
            .rbac_fails(&["oauthaccesstokens", "nodes/proxy", "secrets"])
            .await;
    }

    t11_members_hold_another_role_in_one_namespace => {
        let scene = Scene::deployed().await;
        let client = scene.client().await;
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "precious"}})).expect("ns"),
            )
            .await
            .expect("namespace");
        let bindings: Api<RoleBinding> = Api::namespaced(client, "precious");
        let binding: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mcp-users"}]
        }))
        .expect("binding");
        bindings
            .create(&PostParams::default(), &binding)
            .await
            .expect("rolebinding");
        let check = scene.run("kubectl-mcp_rbac", &["check", "-o", "wide"]).await;
        let said = format!("{}{}", text(&check.stdout), text(&check.stderr));
        assert_eq!(check.status.code(), Some(1), "{said}");
        assert!(said.contains("precious"), "check names the namespace: {said}");
    }

    t12_a_log_level_that_logs_bodies_asked_for_at_install => {
        let scene = Scene::bare().await;
        let extra = scene.home.path().join("extra.toml");
        std::fs::write(&extra, "log_level = 9\n").expect("write");
        scene
            .refuses(
                "kubectl-mcp_install",
                &["--engine", "manifests", "--extra-config", extra.to_str().expect("path"), "--yes"],
                2,
                "log_level",
            )
            .await;
    }

    t13_a_log_level_that_logs_bodies_edited_into_the_configmap => {
        let scene = Scene::deployed().await;
        scene.edit_config(|c| format!("{c}log_level = 9\n")).await;
        verify_fails(&scene.verify(&[]).await, "config.lint");
    }

    t19_an_unpinned_image_asked_for_at_install => {
        let scene = Scene::bare().await;
        for image in [
            "quay.io/containers/kubernetes_mcp_server:latest",
            "quay.io/containers/kubernetes_mcp_server",
        ] {
            scene
                .refuses(
                    "kubectl-mcp_install",
                    &["--engine", "manifests", "--image", image, "--yes"],
                    2,
                    "is not pinned",
                )
                .await;
        }
    }

    t21_a_route_host_that_is_an_address => {
        let scene = Scene::bare().await;
        for host in ["10.0.0.5", "[fd00::5]"] {
            scene
                .refuses(
                    "kubectl-mcp_install",
                    &["--engine", "manifests", "--host", host, "--yes"],
                    2,
                    "is an IP address",
                )
                .await;
        }
    }

    t28_plain_kubernetes_an_ingress_without_tls => {
        let scene = Scene(AdminBench::start_with(plain_kubernetes()).await);
        scene
            .refuses(
                "kubectl-mcp_install",
                &["--engine", "manifests", "--auth", "oidc", "--issuer", scene.sandbox.issuer_url(),
                  "--client-id", "mcp", "--host", "mcp.example.com", "--yes"],
                2,
                "--tls-secret",
            )
            .await;
    }

    t29_plain_kubernetes_an_auth_mode_that_cannot_work => {
        let scene = Scene(AdminBench::start_with(plain_kubernetes()).await);
        scene
            .refuses(
                "kubectl-mcp_install",
                &["--engine", "manifests", "--auth", "openshift", "--host", "mcp.example.com",
                  "--tls-secret", "mcp-tls", "--yes"],
                2,
                "--auth openshift needs OpenShift",
            )
            .await;
    }

    t36_a_kubeconfig_token_with_a_control_character => {
        let scene = Scene::bare().await;
        let good = std::fs::read_to_string(&scene.kubeconfig).expect("kubeconfig");
        let token = scene.sandbox.token("admin").expect("token");
        let bad = good.replace(&token, &format!("{token}\\u0001"));
        assert_ne!(good, bad, "the token is in the kubeconfig");
        let path = scene.home.path().join("bad-kubeconfig");
        let quoted = bad.replace(&format!("{token}\\u0001"), &format!("\"{token}\\u0001\""));
        std::fs::write(&path, quoted).expect("write");
        for (binary, args) in [
            ("kubectl-mcp_rbac", &["status"][..]),
            ("kubectl-mcp_oauth", &["status"]),
            ("kubectl-mcp_install", &["render"]),
            ("kubectl-mcp_verify", &[]),
            ("kubectl-mcp_client", &["token"]),
        ] {
            let mut all = args.to_vec();
            all.extend(["--kubeconfig", path.to_str().expect("path")]);
            let out = tokio::process::Command::new(scene.plugins.path().join(binary))
                .args(&all)
                .env_remove("KUBECONFIG")
                .env("HOME", scene.home.path())
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .expect("run");
            refused(&out, 2, "control character");
            let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!said.contains(&token), "{binary} printed the token");
        }
    }

    t37_a_dead_install_holds_the_lock => {
        let scene = Scene::deployed().await;
        // A process of this host that has ended: its pid names nobody now.
        let mut gone = std::process::Command::new("true").spawn().expect("spawn");
        let pid = gone.id();
        gone.wait().expect("wait");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
        let leases: Api<Lease> = Api::namespaced(scene.client().await, NAMESPACE);
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": format!("oc-mcp-install-{RELEASE}")},
            "spec": {"holderIdentity": format!("oc-mcp@{}/pid-{pid}/0badc0de", host.trim()),
                     "leaseDurationSeconds": 120, "acquireTime": now, "renewTime": now}
        }))
        .expect("lease");
        leases
            .create(&PostParams::default(), &lease)
            .await
            .expect("a dead run's lease");
        let out = scene
            .run("kubectl-mcp_install", &["--engine", "manifests", "--yes"])
            .await;
        assert!(
            out.status.success(),
            "{}",
            describe("kubectl-mcp_install", &[], &out)
        );
    }

    t38_a_hand_edit_is_undone_by_a_rerun => {
        let scene = Scene::deployed().await;
        scene
            .edit_config(|c| c.replace("read_only = true", "read_only = false"))
            .await;
        let out = scene
            .run("kubectl-mcp_install", &["--engine", "manifests", "--wait", "--timeout", "120s", "--yes"])
            .await;
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("restored read_only"),
            "{}",
            describe("kubectl-mcp_install", &[], &out)
        );
        let out = scene.verify(&[]).await;
        assert!(out.status.success(), "{:?}", not_passed(&report(&out)));
    }

    t14_config_edited_to_expose_write_tools => {
        let scene = Scene::deployed().await;
        scene
            .edit_config(|c| c.replace("read_only = true", "read_only = false"))
            .await;
        scene.roll_pods().await;
        let out = scene.verify(&[]).await;
        verify_fails(&out, "config.tools");
        verify_fails(&out, "mcp.tools");
    }

    t15_config_edited_to_serve_without_a_token => {
        let scene = Scene::deployed().await;
        scene
            .edit_config(|c| {
                c.replace("require_oauth = true", "require_oauth = false")
                    .replace("skip_jwt_verification = true\n", "")
            })
            .await;
        scene.roll_pods().await;
        let out = scene.verify(&[]).await;
        verify_fails(&out, "config.auth-mode");
        verify_fails(&out, "unauth.no-token");
    }

    t16_config_edited_to_use_the_servers_own_identity => {
        let scene = Scene::deployed().await;
        scene
            .edit_config(|c| c.replace("\"passthrough\"", "\"kubeconfig\""))
            .await;
        verify_fails(&scene.verify(&[]).await, "config.lint");
    }

    t17_a_secret_written_into_the_configmap => {
        let scene = Scene::deployed().await;
        scene
            .edit_config(|c| format!("{c}sts_client_secret = \"hunter2-in-a-configmap\"\n"))
            .await;
        let out = scene.verify(&[]).await;
        verify_fails(&out, "config.secrets");
        assert!(!text(&out.stdout).contains("hunter2"), "the value is never shown");
    }

    t18_deployment_args_override_read_only => {
        let scene = Scene::deployed().await;
        scene
            .edit_deployment(|d| {
                if let Some(pod) = d.spec.template.spec.as_mut() {
                    pod.containers[0]
                        .args
                        .get_or_insert_default()
                        .push("--read-only=false".into());
                }
            })
            .await;
        verify_fails(&scene.verify(&[]).await, "mcp.tools");
    }

    t22_a_second_route_without_tls => {
        let scene = Scene::deployed().await;
        let routes: Api<kube::core::DynamicObject> =
            Api::namespaced_with(scene.client().await, NAMESPACE, &route_api());
        let route: kube::core::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": "plain", "namespace": NAMESPACE},
            "spec": {"host": format!("plain.{}", scene.sandbox.apps_domain()),
                     "to": {"kind": "Service", "name": RELEASE}, "port": {"targetPort": "http"}}
        }))
        .expect("route");
        routes
            .create(&PostParams::default(), &route)
            .await
            .expect("create route");
        verify_fails(&scene.verify(&[]).await, "exposure.routes");
    }

    t25_the_pods_on_every_node => {
        let scene = Scene::deployed().await;
        let services: Api<Service> = Api::namespaced(scene.client().await, NAMESPACE);
        services
            .patch(
                RELEASE,
                &PatchParams {
                    field_manager: Some("kubectl-patch".into()),
                    ..PatchParams::default()
                },
                &Patch::Merge(json!({"spec": {"type": "NodePort"}})),
            )
            .await
            .expect("patch the service");
        verify_fails(&scene.verify(&[]).await, "exposure.services");
    }

    t26_the_pods_on_a_load_balancer => {
        let scene = Scene::deployed().await;
        scene.expose("public", json!({"type": "LoadBalancer"})).await;
        scene
            .expose("external", json!({"type": "ClusterIP", "externalIPs": ["198.51.100.7"]}))
            .await;
        let out = scene.verify(&[]).await;
        verify_fails(&out, "exposure.services");
        let said = text(&out.stdout);
        assert!(
            said.contains("public") && said.contains("external"),
            "both Services are named: {said}"
        );
    }

    t27_a_second_workload_behind_the_service => {
        let scene = Scene::deployed().await;
        let deployments: Api<Deployment> = Api::namespaced(scene.client().await, NAMESPACE);
        let mut shadow = deployments.get(RELEASE).await.expect("deployment");
        shadow.metadata = kube::core::ObjectMeta {
            name: Some("shadow".into()),
            namespace: Some(NAMESPACE.into()),
            ..kube::core::ObjectMeta::default()
        };
        shadow.status = None;
        deployments
            .create(&PostParams::default(), &shadow)
            .await
            .expect("a second deployment");
        verify_fails(&scene.verify(&[]).await, "exposure.workloads");
    }

    t30_oidc_no_client_can_log_in => {
        // The guide's configuration: the client ID as the audience the server expects.
        let scene = Scene::oidc(Some(OIDC_CLIENT)).await;
        let out = scene.verify_oidc(false, &["--only", "discovery"]).await;
        verify_fails(&out, "discovery.audience");
        assert!(text(&out.stdout).contains("--audience"), "the fix names the flag");
        // The client's own login proves it: its token is refused.
        verify_fails(&scene.verify_oidc(true, &["--only", "login"]).await, "login.pkce");
    }

    t31_passthrough_proved_with_an_administrators_token => {
        let scene = Scene::deployed().await;
        let out = scene.verify_as("admin", &["--strict"]).await;
        let report = report(&out);
        assert_eq!(out.status.code(), Some(1), "{:?}", not_passed(&report));
        assert!(
            not_passed(&report).contains(&"passthrough.user=warn".to_owned()),
            "{:?}",
            not_passed(&report)
        );
        assert_eq!(report["target"]["identity"]["user"], "admin", "says as whom");
    }

    t32_a_forbidden_read_reported_as_missing => {
        let scene = Scene::deployed().await;
        let out = scene.verify_as("outsider", &[]).await;
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(said.contains("unknown (forbidden)"), "{said}");
        assert!(!said.contains("mcp-install"), "no reinstall advice: {said}");
    }

    t33_a_member_reads_the_oauth_status => {
        let scene = Scene::deployed().await;
        let out = scene
            .command_as("member", "kubectl-mcp_oauth", &["status"])
            .output()
            .await
            .expect("run");
        refused(&out, 3, "cannot read OAuthClients");
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("unknown (forbidden)") && !stdout.contains("missing"),
            "{stdout}"
        );
    }

    t20_an_unpinned_image_in_the_running_deployment => {
        let scene = Scene::deployed().await;
        scene
            .edit_deployment(|d| {
                if let Some(pod) = d.spec.template.spec.as_mut() {
                    pod.containers[0].image =
                        Some("quay.io/containers/kubernetes_mcp_server:latest".into());
                }
            })
            .await;
        verify_fails(&scene.verify(&[]).await, "cluster.deployment");
    }

    t34_the_oauth_login_redirects_to_a_foreign_host => {
        let scene = Scene::deployed().await;
        let clients: Api<OAuthClient> = Api::all(scene.client().await);
        let mut client = clients.get(RELEASE).await.expect("oauthclient");
        client
            .redirect_uris
            .push("https://collector.example.net/oauth/callback".into());
        clients
            .replace(RELEASE, &PostParams::default(), &client)
            .await
            .expect("add a redirect URI");
        verify_fails(&scene.verify(&[]).await, "route.oauth-redirect");
    }

    t35_the_servers_service_account_holds_a_role => {
        let scene = Scene::deployed().await;
        let bindings: Api<ClusterRoleBinding> = Api::all(scene.client().await);
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "mcp-server-can-do-anything"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
        }))
        .expect("binding");
        bindings
            .create(&PostParams::default(), &binding)
            .await
            .expect("bind cluster-admin");
        let out = scene.verify(&[]).await;
        verify_fails(&out, "cluster.service-account");
        assert!(
            text(&out.stdout).contains("mcp-server-can-do-anything"),
            "the binding is named"
        );
    }

    t23_route_allows_plain_http => {
        let scene = Scene::deployed().await;
        let routes: Api<kube::core::DynamicObject> =
            Api::namespaced_with(scene.client().await, NAMESPACE, &route_api());
        let route = routes.list(&ListParams::default()).await.expect("routes").items;
        let name = route[0].metadata.name.clone().expect("name");
        routes
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"tls": {"insecureEdgeTerminationPolicy": "Allow"}}})),
            )
            .await
            .expect("patch route");
        verify_fails(&scene.verify(&[]).await, "route.insecure-policy");
    }

    t39_the_oauth_client_issues_unscoped_tokens => {
        let scene = Scene::deployed().await;
        let clients: Api<OAuthClient> = Api::all(scene.client().await);
        let mut client = clients.get(RELEASE).await.expect("oauthclient");
        // What `register` made: only the read-only role's scope and two literal ones.
        assert!(client.scope_problems(ROLE).is_empty(), "{:?}", client.scope_restrictions);
        client.scope_restrictions[0].literals.push("user:full".into());
        clients
            .replace(RELEASE, &PostParams::default(), &client)
            .await
            .expect("allow user:full");
        let out = scene.verify(&[]).await;
        verify_fails(&out, "route.oauth-scopes");
        assert!(
            text(&out.stdout).contains("oc mcp-oauth register openshift"),
            "the fix names the command"
        );
    }
}

/// No false alarm: on the correct deployment every command of the threat model passes, and a
/// re-run of every writing command changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_correct_deployment_passes_every_command() {
    let scene = Scene::deployed().await;
    let out = scene.verify(&[]).await;
    assert!(
        out.status.success() && not_passed(&report(&out)).is_empty(),
        "{:?}\n{}",
        not_passed(&report(&out)),
        text(&out.stderr)
    );
    for (plugin, args) in [
        ("kubectl-mcp_rbac", &["status"][..]),
        ("kubectl-mcp_rbac", &["check"]),
        ("kubectl-mcp_oauth", &["status"]),
    ] {
        let out = scene.run(plugin, args).await;
        assert!(out.status.success(), "{}", describe(plugin, args, &out));
    }
    let from = scene.sandbox.audit().len();
    for (plugin, args) in [
        (
            "kubectl-mcp_rbac",
            &["role", "--profile", "full", "--yes"][..],
        ),
        ("kubectl-mcp_rbac", &["bind", "mcp-users", "--yes"]),
        ("kubectl-mcp_install", &["--engine", "manifests", "--yes"]),
    ] {
        let out = scene.run(plugin, args).await;
        assert!(
            out.status.success() && !text(&out.stdout).contains("configured"),
            "{}",
            describe(plugin, args, &out)
        );
    }
    let writes: Vec<String> = scene
        .writes_since("admin", from)
        .into_iter()
        .filter(|w| !w.contains("/leases"))
        .collect();
    // Server-side apply of an unchanged object is a PATCH the server answers without change;
    // the audit log records it, so only creates and deletes count as changes here.
    let changes: Vec<&String> = writes
        .iter()
        .filter(|w| w.starts_with("POST") || w.starts_with("DELETE"))
        .collect();
    assert!(
        changes.is_empty(),
        "a re-run changed the cluster: {changes:?}"
    );
}

/// No false alarm in oidc mode: install sets the audience a spec-following client's login
/// yields, and the client's own login (PKCE with `resource`) reaches a tool call.
#[tokio::test(flavor = "multi_thread")]
async fn the_correct_oidc_deployment_lets_a_client_log_in() {
    let scene = Scene::oidc(None).await;
    let out = scene
        .verify_oidc(true, &["--skip", "passthrough.denied"])
        .await;
    let report = report(&out);
    // No OpenShift OAuthClient in oidc mode: the issuer's own client is used.
    let expected_skips = [
        "route.oauth-redirect=skip",
        "route.oauth-scopes=skip",
        "passthrough.denied=skip",
    ];
    let failed: Vec<String> = not_passed(&report)
        .into_iter()
        .filter(|c| !expected_skips.contains(&c.as_str()))
        .collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "{failed:?}\n{}",
        text(&out.stderr)
    );
}

/// The states here and the threat model's table name the same ids: a state written down is
/// tried, and a state tried is written down.
#[test]
fn every_state_of_the_threat_model_is_tried() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/threat-model.md"))
        .expect("docs/threat-model.md");
    let (mut caught, mut open) = (Vec::new(), Vec::new());
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(id) = cells.get(1).filter(|id| is_state_id(id)) else {
            continue;
        };
        let id = id.to_lowercase();
        if cells.iter().any(|c| c.starts_with("open")) {
            open.push(id);
        } else {
            caught.push(id);
        }
    }
    let tried: Vec<String> = STATES
        .iter()
        .map(|name| name.split('_').next().unwrap_or_default().to_owned())
        .collect();
    let untried: Vec<&String> = caught.iter().filter(|id| !tried.contains(id)).collect();
    let unlisted: Vec<&String> = tried.iter().filter(|id| !caught.contains(id)).collect();
    assert!(
        untried.is_empty() && unlisted.is_empty(),
        "caught in the document but not tried here: {untried:?}; tried here but not listed \
         as caught: {unlisted:?} (open: {open:?})"
    );
}

/// `T01` ... `T99`.
fn is_state_id(cell: &str) -> bool {
    cell.len() == 3 && cell.starts_with('T') && cell[1..].chars().all(|c| c.is_ascii_digit())
}
