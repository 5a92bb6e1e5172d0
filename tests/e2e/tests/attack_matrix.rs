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

use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use oc_mcp_e2e::{admin::AdminBench, text, workspace_root};
use serde_json::{Value, json};

const NAMESPACE: &str = "mcp-server";
const RELEASE: &str = "kubernetes-mcp-server";

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

    /// The guide done right: the full read-only role, bound to the members' group, the
    /// manifests installed and rolled out, the OAuthClient registered.
    async fn deployed() -> Self {
        let scene = Self::bare().await;
        for (plugin, args) in [
            (
                "kubectl-mcp_rbac",
                &["role", "--profile", "full", "--yes"][..],
            ),
            ("kubectl-mcp_rbac", &["bind", "mcp-users", "--yes"]),
            (
                "kubectl-mcp_install",
                &[
                    "--engine",
                    "manifests",
                    "--wait",
                    "--timeout",
                    "120s",
                    "--yes",
                ],
            ),
            ("kubectl-mcp_oauth", &["register", "openshift", "--yes"]),
        ] {
            let out = scene.run(plugin, args).await;
            assert!(out.status.success(), "{}", describe(plugin, args, &out));
        }
        scene
    }

    fn host(&self) -> String {
        format!("{RELEASE}-{NAMESPACE}.{}", self.sandbox.apps_domain())
    }

    /// `mcp-verify -o json` through the router, with a member's token for the MCP calls and an
    /// outsider's for the passthrough denial.
    async fn verify(&self, extra: &[&str]) -> Output {
        let host = self.host();
        let addr = self
            .sandbox
            .resolve(&host)
            .expect("the router serves the route host");
        let connect_to = format!("{host}:443:{}:{}", addr.ip(), addr.port());
        let ca = self.sandbox.dir().join("ca.crt").display().to_string();
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
