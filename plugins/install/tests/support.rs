//! The sandbox and the install binary, as the install tests drive them.

use std::process::{Command, Output};

use kube::{
    Api,
    api::{Patch, PatchParams},
};
use oc_mcp_common::openshift::AuthenticationConfig;
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

pub struct Cluster {
    pub sandbox: Sandbox,
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        Self {
            sandbox: Sandbox::start(config).await.expect("sandbox"),
        }
    }

    pub fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_install"));
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(self.sandbox.kubeconfig_path(user).expect("kubeconfig"))
            .env_remove("KUBECONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command("admin", args)
            .output()
            .expect("run kubectl-mcp_install")
    }

    pub async fn admin(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }

    /// Writes other than access reviews, from the audit log.
    pub fn writes(&self) -> Vec<String> {
        self.sandbox
            .audit()
            .into_iter()
            .filter(oc_mcp_sandbox::AuditEntry::is_write)
            .map(|e| e.summary())
            .collect()
    }

    /// Make the API server trust an OIDC issuer, as a cluster admin configures external OIDC.
    pub async fn trust_issuer(&self, issuer: &str, audience: &str) {
        let auths: Api<AuthenticationConfig> = Api::all(self.admin().await);
        let patch = serde_json::json!({
            "apiVersion": "config.openshift.io/v1", "kind": "Authentication",
            "metadata": {"name": "cluster"},
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "idp",
                "issuer": {"issuerURL": issuer, "audiences": [audience]}}]}
        });
        auths
            .patch(
                "cluster",
                &PatchParams::apply("cluster-admin").force(),
                &Patch::Apply(&patch),
            )
            .await
            .expect("configure external OIDC");
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Both outputs, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
