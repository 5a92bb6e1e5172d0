//! The plugins run as a user types them in a shell: the real kubectl as plugin host, the
//! user's kubeconfig of the sandbox, a private HOME, nothing else of the test's environment,
//! and always the route proxy (`route_proxy.rs`), so no plugin run can look the route host up
//! in the machine's DNS.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Stdio,
};

use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use tokio::process::Command;

use crate::{harness::write_private, kubectl, plugin_dir, route_proxy::RouteProxy, workspace_root};

/// The guide's install: the manifests, waiting (bounded) until the server is rolled out and
/// its route admitted.
pub const INSTALL_AND_WAIT: [&str; 6] = [
    "mcp-install",
    "--engine",
    "manifests",
    "--wait",
    "--timeout",
    "120s",
];

/// The sandbox's users a test runs plugins as.
const USERS: [&str; 3] = ["admin", "member", "outsider"];

/// The plugins on PATH, each user's kubeconfig and the route proxy, for one sandbox.
#[derive(Debug)]
pub struct KubectlShell {
    plugins: tempfile::TempDir,
    /// Each user's kubeconfig, written once: the sandbox rewrites its own on every request
    /// for the path, under the feet of a program reading it.
    kubeconfigs: tempfile::TempDir,
    home: PathBuf,
    /// Keeps [`Self::home`] alive when the shell made it.
    owned_home: Option<tempfile::TempDir>,
    helm_home: PathBuf,
    proxy: RouteProxy,
}

impl KubectlShell {
    /// The shell for `sandbox`, whose route host `host` goes through the proxy to the router;
    /// HOME is a fresh private directory.
    pub async fn start(sandbox: &Sandbox, host: &str) -> Self {
        let own_home = tempfile::tempdir().expect("home");
        let mut shell = Self::start_in(sandbox, host, own_home.path()).await;
        shell.owned_home = Some(own_home);
        shell
    }

    /// A new sandbox of `config` and its shell ([`Self::start`]).
    pub async fn with_sandbox(config: SandboxConfig, host: &str) -> (Sandbox, Self) {
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let shell = Self::start(&sandbox, host).await;
        (sandbox, shell)
    }

    /// [`Self::start`] with HOME `home`, which the caller keeps (shared with other programs
    /// of the test).
    pub async fn start_in(sandbox: &Sandbox, host: &str, home: &Path) -> Self {
        let kubeconfigs = tempfile::tempdir().expect("kubeconfigs");
        for user in USERS {
            write_private(
                kubeconfigs.path(),
                user,
                sandbox.kubeconfig_for(user).expect("kubeconfig").as_bytes(),
            );
        }
        Self {
            plugins: plugin_dir(),
            kubeconfigs,
            home: home.to_path_buf(),
            owned_home: None,
            helm_home: sandbox.dir().join("helm"),
            proxy: RouteProxy::start(sandbox.router_https_addr(), host).await,
        }
    }

    /// The directory holding the five plugins.
    pub fn plugins(&self) -> &Path {
        self.plugins.path()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.kubeconfigs.path().join(user)
    }

    /// The proxy every run goes through (it records what was asked of it).
    pub fn proxy(&self) -> &RouteProxy {
        &self.proxy
    }

    /// The proxy's environment, for a program that runs the plugins itself (an MCP client
    /// running `kubectl mcp-client token`).
    pub fn proxy_env(&self) -> Vec<(String, OsString)> {
        self.proxy
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect()
    }

    /// `PATH`: the plugins, the tools `cargo xtask` fetched (helm), the system.
    pub fn path(&self) -> OsString {
        std::env::join_paths([
            self.plugins.path().to_path_buf(),
            workspace_root().join("target/tools"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
        .expect("PATH")
    }

    /// `kubectl args` as `user`: see [`Self::command`].
    pub fn kubectl(&self, user: &str, args: &[&str]) -> Command {
        self.command(user, &kubectl(), args)
    }

    /// `program args` as `user` would run it in a shell: their kubeconfig as `KUBECONFIG`, the
    /// private HOME (helm's directories in the sandbox's), the proxy for the route host, no
    /// stdin, stdout and stderr piped, killed if the test drops it.
    pub fn command(&self, user: &str, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", self.path())
            .env("HOME", &self.home)
            .env("KUBECONFIG", self.kubeconfig(user))
            .env("_", program)
            .env("HELM_CONFIG_HOME", &self.helm_home)
            .env("HELM_CACHE_HOME", &self.helm_home)
            .env("HELM_DATA_HOME", &self.helm_home)
            .envs(self.proxy.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}
