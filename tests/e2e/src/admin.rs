//! A sandbox with the plugins installed, driven as its administrator: what the fault, race and
//! round-trip tests share.

use std::path::PathBuf;

use oc_mcp_sandbox::{Sandbox, SandboxConfig};

use crate::plugin_dir;

#[derive(Debug)]
pub struct AdminBench {
    pub sandbox: Sandbox,
    pub plugins: tempfile::TempDir,
    /// A private HOME, so no user configuration or cache leaks in or out.
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl AdminBench {
    pub async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        let kubeconfig = sandbox.kubeconfig_path("admin").expect("kubeconfig");
        Self {
            sandbox,
            plugins: plugin_dir(),
            home: tempfile::tempdir().expect("home"),
            kubeconfig,
        }
    }

    /// `binary args... --kubeconfig <admin>`, with no stdin, no inherited KUBECONFIG or
    /// RUST_LOG, and killed if the test drops it.
    pub fn command(&self, binary: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(self.plugins.path().join(binary));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.home.path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }
}
