//! API requests per command, counted in the sandbox's audit log. Each budget is the fewest the
//! task needs (listed below); a change that adds requests fails here.

use std::{path::PathBuf, process::Command};

use oc_mcp_e2e::{plugin_dir, text};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

struct Counter {
    sandbox: Sandbox,
    plugins: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Counter {
    async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let kubeconfig = sandbox.kubeconfig_path("admin").expect("kubeconfig");
        Self {
            sandbox,
            plugins: plugin_dir(),
            kubeconfig,
        }
    }

    /// Run one plugin command as admin; the API requests it made, as `VERB path` lines.
    fn requests(&self, binary: &str, args: &[&str]) -> Vec<String> {
        self.requests_with(binary, args, &[])
    }

    /// [`Self::requests`] with environment variables (tokens travel there, never in argv).
    fn requests_with(&self, binary: &str, args: &[&str], vars: &[(&str, String)]) -> Vec<String> {
        let before = self.sandbox.audit().len();
        let out = Command::new(self.plugins.path().join(binary))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run plugin");
        assert!(
            out.status.success(),
            "{binary} {args:?}: {}",
            text(&out.stderr)
        );
        self.sandbox.audit()[before..]
            .iter()
            .filter(|e| e.user == "admin")
            .map(|e| {
                format!(
                    "{} {}",
                    e.method,
                    e.request_uri.split('?').next().unwrap_or_default()
                )
            })
            .collect()
    }
}

#[track_caller]
fn within(what: &str, requests: &[String], budget: usize) {
    assert!(
        requests.len() <= budget,
        "{what} made {} API requests, budget {budget}:\n  {}",
        requests.len(),
        requests.join("\n  ")
    );
}

#[tokio::test]
async fn rbac_commands_make_the_fewest_requests_their_task_needs() {
    let c = Counter::start().await;
    // role: 4 access reviews (get, create, patch clusterroles; escalate on the role, which
    // writing a role one does not hold needs), read the live role, apply it.
    let role = c.requests("kubectl-mcp_rbac", &["role"]);
    within("role", &role, 6);
    assert_eq!(
        role.iter()
            .filter(|r| r.starts_with("GET /apis/rbac"))
            .count(),
        1,
        "the role is read once: {role:?}"
    );
    // A re-run is the same 6: nothing is written twice, and the apply is a no-op.
    within(
        "role (re-run)",
        &c.requests("kubectl-mcp_rbac", &["role"]),
        6,
    );
    // bind one group: 4 reviews (get clusterroles, get/create/patch clusterrolebindings) and
    // `bind` on the role asked in the same batch, the role's existence, discovery of the
    // OpenShift groups API, the OpenShift Group, the live binding, the apply.
    within(
        "bind",
        &c.requests("kubectl-mcp_rbac", &["bind", "mcp-users"]),
        10,
    );
    // status: the role, all ClusterRoleBindings, all RoleBindings (concurrently).
    within("status", &c.requests("kubectl-mcp_rbac", &["status"]), 3);
}

#[tokio::test]
async fn install_makes_the_fewest_requests_its_task_needs() {
    let c = Counter::start().await;
    // Discovery, then one batch of access reviews before anything is read (project, the two
    // cluster facts, 5 objects x get/create/patch, prune list/delete x 6 kinds, the install
    // lock's Lease get/create/update/delete: 34), the facts (apps domain, authentication,
    // OAuth settings), the project (read, request), the lock (create, delete), 5 objects x
    // (read + apply), and 6 prune lists.
    let install = c.requests("kubectl-mcp_install", &["--engine", "manifests"]);
    within("install", &install, 1 + 34 + 3 + 2 + 2 + 10 + 6);
    let reviews = install
        .iter()
        .filter(|r| r.contains("selfsubjectaccessreviews"))
        .count();
    assert!(reviews <= 34, "permissions are asked once: {reviews}");
}

#[tokio::test]
async fn verify_makes_the_fewest_requests_its_task_needs() {
    let c = Counter::start().await;
    c.requests("kubectl-mcp_rbac", &["role", "--profile", "full"]);
    c.requests("kubectl-mcp_rbac", &["bind", "mcp-users"]);
    c.requests(
        "kubectl-mcp_install",
        &["--engine", "manifests", "--wait", "--timeout", "120s"],
    );
    c.requests("kubectl-mcp_oauth", &["register", "openshift"]);
    let router = c
        .sandbox
        .resolve(HOST)
        .expect("the router serves the route host");
    let connect_to = format!("{HOST}:443:{}:{}", router.ip(), router.port());
    let ca = c.sandbox.dir().join("ca.crt");
    let tokens = [
        ("MEMBER_TOKEN", c.sandbox.token("member").expect("token")),
        (
            "OUTSIDER_TOKEN",
            c.sandbox.token("outsider").expect("token"),
        ),
    ];
    // Only the admin's requests count: the MCP calls run as the member (token passthrough).
    let verify = c.requests_with(
        "kubectl-mcp_verify",
        &[
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            ca.to_str().expect("path"),
            "--token-env",
            "MEMBER_TOKEN",
            "--denied-token-env",
            "OUTSIDER_TOKEN",
        ],
        &tokens,
    );
    // Each fact read once: the namespace, the Deployment, its pods and their ReplicaSets
    // (which pods are the release's), one pod's log, the config ConfigMap, the Secrets
    // (drop-in config), the Service and its Endpoints, the Ingresses and Routes (the Route is
    // found by its owner; every one of them is an exposure), the namespace's Services and
    // Deployments (other paths to the pods), the OAuthClient, the cluster's authentication
    // config, the MCP ClusterRole, and the ClusterRoleBindings and RoleBindings (the role's
    // subjects; does any name the server's ServiceAccount?). 18 reads; the fewest for these
    // checks is 15: the namespace only matters when the Deployment is missing, Endpoints follow
    // from ready pods, and the Service the Deployment's pods need is in the Services list.
    within("verify", &verify, 18);
    assert!(
        !verify.iter().any(|r| r.contains("accessreview")),
        "verify changes nothing, so it asks for no permissions up front: {verify:?}"
    );
}

#[tokio::test]
async fn status_reads_every_binding_in_pages_and_keeps_only_the_roles() {
    // 1,200 bindings of other teams, and one of ours that sorts after all of them.
    let mut preload: Vec<serde_json::Value> = (0..1_200)
        .map(|i| {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("team-{i:05}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("team-{i:05}")}]})
        })
        .collect();
    preload.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "zz-last-page"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mcp-readonly"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "late-group"}]}));
    let c = Counter::start_with(SandboxConfig {
        preload,
        ..SandboxConfig::default()
    })
    .await;
    let total = c.sandbox.with_store(|s| {
        s.list("rbac.authorization.k8s.io/clusterrolebindings", None)
            .len()
    });
    let status = c.requests("kubectl-mcp_rbac", &["status", "-o", "json"]);
    let lists = status
        .iter()
        .filter(|r| r.ends_with("/clusterrolebindings"))
        .count();
    // kubectl's page size: every binding is read, 500 at a time, none twice.
    assert_eq!(lists, total.div_ceil(500), "{status:?}");
    let out = Command::new(c.plugins.path().join("kubectl-mcp_rbac"))
        .args(["status", "-o", "json", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .output()
        .expect("run status");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["subjects"]["Group"],
        json!(["late-group"]),
        "the binding on the last page is found, the others' are not listed"
    );
    // One request when asked: fewer round trips, more memory at once (see BENCHMARKS.md).
    let unpaged = c.requests(
        "kubectl-mcp_rbac",
        &["status", "-o", "json", "--chunk-size", "0"],
    );
    assert_eq!(
        unpaged
            .iter()
            .filter(|r| r.ends_with("/clusterrolebindings"))
            .count(),
        1
    );
}
