//! A sandbox with the plugins installed, driven as its administrator: what the fault, race and
//! round-trip tests share.

use std::path::PathBuf;

use oc_mcp_sandbox::{Sandbox, SandboxConfig};

use crate::{plugin_dir, text};

/// The guide's commands, by binary, each confirmed without a prompt.
const GUIDE: [(&str, &[&str]); 4] = [
    ("kubectl-mcp_rbac", &["role", "--profile", "full", "--yes"]),
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
];

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
        Self::start_with(SandboxConfig::default()).await
    }

    /// The guide done right, through the plugins: the full read-only role, bound to the
    /// members' group, the manifests installed and rolled out, the OAuthClient registered.
    pub async fn deployed() -> Self {
        let bench = Self::start().await;
        for (binary, args) in GUIDE {
            let out = bench.run(binary, args).await;
            assert!(
                out.status.success(),
                "{binary} {}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
                args.join(" "),
                out.status.code(),
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        bench
    }

    /// [`Self::start`] with a sandbox of another make (flavour, trusted issuer, ...).
    pub async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox");
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
        self.command_with(&self.kubeconfig, binary, args)
    }

    /// [`Self::command`] as another of the sandbox's users (`member`, `outsider`).
    pub fn command_as(&self, user: &str, binary: &str, args: &[&str]) -> tokio::process::Command {
        let kubeconfig = self.sandbox.kubeconfig_path(user).expect("kubeconfig");
        self.command_with(&kubeconfig, binary, args)
    }

    fn command_with(
        &self,
        kubeconfig: &std::path::Path,
        binary: &str,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(self.plugins.path().join(binary));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env_remove("KUBECONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.home.path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }
}

impl AdminBench {
    /// Run a plugin binary to its end.
    pub async fn run(&self, binary: &str, args: &[&str]) -> std::process::Output {
        self.command(binary, args).output().await.expect("run")
    }

    /// Writes (not reads, reviews or dry runs) by `user` that succeeded, from audit index
    /// `from`, as `METHOD path`.
    pub fn writes_since(&self, user: &str, from: usize) -> Vec<String> {
        self.sandbox.audit()[from..]
            .iter()
            .filter(|e| e.user == user && !e.dry_run && e.code < 300)
            .filter(|e| matches!(e.method.as_str(), "PATCH" | "PUT" | "POST" | "DELETE"))
            .filter(|e| !e.resource.ends_with("reviews"))
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
