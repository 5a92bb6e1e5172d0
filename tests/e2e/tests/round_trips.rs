//! API requests per command, counted in the sandbox's audit log. Each budget is the fewest the
//! task needs (listed below); a change that adds requests fails here.

use std::{path::PathBuf, process::Command};

use oc_mcp_e2e::{plugin_dir, text};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

struct Counter {
    sandbox: Sandbox,
    plugins: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Counter {
    async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        let kubeconfig = sandbox.kubeconfig_path("admin").expect("kubeconfig");
        Self {
            sandbox,
            plugins: plugin_dir(),
            kubeconfig,
        }
    }

    /// Run one plugin command as admin; the API requests it made, as `VERB path` lines.
    fn requests(&self, binary: &str, args: &[&str]) -> Vec<String> {
        let before = self.sandbox.audit().len();
        let out = Command::new(self.plugins.path().join(binary))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
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
    // role: 3 access reviews (get, create, patch clusterroles), read the live role, apply it.
    let role = c.requests("kubectl-mcp_rbac", &["role"]);
    within("role", &role, 5);
    assert_eq!(
        role.iter()
            .filter(|r| r.starts_with("GET /apis/rbac"))
            .count(),
        1,
        "the role is read once: {role:?}"
    );
    // A re-run is the same 5: nothing is written twice, and the apply is a no-op.
    within(
        "role (re-run)",
        &c.requests("kubectl-mcp_rbac", &["role"]),
        5,
    );
    // bind one group: 4 reviews, the role's existence, discovery of the OpenShift groups API,
    // the OpenShift Group, the live binding, the apply.
    within(
        "bind",
        &c.requests("kubectl-mcp_rbac", &["bind", "mcp-users"]),
        9,
    );
    // status: the role, all ClusterRoleBindings, all RoleBindings (concurrently).
    within("status", &c.requests("kubectl-mcp_rbac", &["status"]), 3);
}

#[tokio::test]
async fn install_makes_the_fewest_requests_its_task_needs() {
    let c = Counter::start().await;
    // Facts: discovery, the apps domain, the cluster's authentication, the OAuth settings.
    // Then one batch of access reviews (project, 5 objects x get/create/patch, prune list/delete
    // x 6 kinds: 28), the project, 5 objects x (read + apply), and 6 prune lists.
    let install = c.requests("kubectl-mcp_install", &["--engine", "manifests"]);
    within("install", &install, 4 + 28 + 2 + 10 + 6);
    let reviews = install
        .iter()
        .filter(|r| r.contains("selfsubjectaccessreviews"))
        .count();
    assert!(reviews <= 28, "permissions are asked once: {reviews}");
}
