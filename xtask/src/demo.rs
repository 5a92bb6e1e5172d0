//! `cargo xtask demo`: the guide end to end on the local sandbox, with the plugins run through
//! the real kubectl the way a user types them.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};

use crate::dist::PLUGINS;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct DemoArgs {
    /// Keep the sandbox running at the end and print how to use the plugins against it
    #[arg(long)]
    pub keep: bool,
    /// Directory for the sandbox's files (default: a new temporary directory)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The sandbox process, stopped (SIGTERM, then kill) when dropped.
pub(crate) struct SandboxProcess {
    child: Child,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real kubectl: `OC_MCP_KUBECTL`, kubectl 1.33 of these machines, the one `xtask tools`
/// installs, or `kubectl` on PATH.
pub(crate) fn kubectl(root: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("OC_MCP_KUBECTL") {
        return PathBuf::from(path);
    }
    [
        PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.33"),
        root.join("target/tools/kubectl"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// What the steps need: where the plugins, the kubeconfig and the sandbox's files are.
pub(crate) struct Env {
    pub(crate) kubectl: PathBuf,
    pub(crate) path: std::ffi::OsString,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) sandbox_dir: PathBuf,
    pub(crate) bin: PathBuf,
}

impl Env {
    /// Print the command, run it through kubectl, fail the demo if it fails.
    pub(crate) fn run(&self, title: &str, args: &[&str]) -> Result<()> {
        self.run_with(title, args, &[])
    }

    /// [`Self::run`] with extra environment variables (tokens travel there, never in argv).
    pub(crate) fn run_with(
        &self,
        title: &str,
        args: &[&str],
        vars: &[(&str, String)],
    ) -> Result<()> {
        println!("\n### {title}\n$ kubectl {}", args.join(" "));
        let status = Command::new(&self.kubectl)
            .args(args)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", &self.path)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("_", &self.kubectl)
            .status()
            .with_context(|| format!("cannot run {}", self.kubectl.display()))?;
        ensure!(
            status.success(),
            "step failed: kubectl {} ({status})",
            args.join(" ")
        );
        Ok(())
    }
}

pub fn demo(root: &Path, tools: &Path, args: &DemoArgs) -> Result<()> {
    let mut build = crate::cargo(root);
    build.args(["build", "--locked", "--package", "oc-mcp-sandbox"]);
    for plugin in &PLUGINS {
        build.args(["--package", plugin.package]);
    }
    eprintln!("xtask: building the plugins and the sandbox");
    ensure!(
        build.status().context("cannot run cargo build")?.success(),
        "build failed"
    );
    let debug = root.join("target/debug");

    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("oc-mcp-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The plugins alone on PATH, as `~/.krew/bin` holds them.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    for plugin in &PLUGINS {
        let target = bin.join(plugin.binary());
        let _ = std::fs::remove_file(&target);
        std::fs::copy(debug.join(plugin.binary()), &target)
            .with_context(|| format!("cannot copy {}", plugin.binary()))?;
    }

    let sandbox_dir = dir.join("sandbox");
    let sandbox = start_sandbox(
        &debug.join("oc-mcp-sandbox"),
        tools,
        &sandbox_dir,
        &dir.join("sandbox.log"),
        &[],
    )?;

    let env = Env {
        kubectl: kubectl(root),
        path: std::env::join_paths([bin.clone(), tools.to_path_buf()].into_iter().chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))?,
        kubeconfig: sandbox_dir.join("kubeconfig"),
        sandbox_dir,
        bin,
    };
    let connect_to = guide(&env)?;
    if args.keep {
        println!(
            "\nThe sandbox keeps running (stop it with Ctrl-C). In another shell:\n  \
             export KUBECONFIG={}\n  export PATH={}:$PATH\n  \
             kubectl mcp-verify --connect-to {connect_to} --endpoint-ca {}\n\
             Contexts: admin (cluster-admin, current), member (group mcp-users), outsider.",
            env.kubeconfig.display(),
            env.bin.display(),
            env.sandbox_dir.join("ca.crt").display()
        );
        let mut sandbox = sandbox;
        let _ = sandbox.child.wait();
        return Ok(());
    }
    // Stop the sandbox (and its pods) before removing the directory it works in.
    drop(sandbox);
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("\nxtask: the demo ran every step of the guide");
    Ok(())
}

/// Start `oc-mcp-sandbox serve --dir sandbox_dir` (plus `extra` flags) with the real MCP
/// server, logging to `log`; returns once it is ready.
pub(crate) fn start_sandbox(
    program: &Path,
    tools: &Path,
    sandbox_dir: &Path,
    log: &Path,
    extra: &[&std::ffi::OsStr],
) -> Result<SandboxProcess> {
    std::fs::create_dir_all(sandbox_dir)?;
    let _ = std::fs::remove_file(sandbox_dir.join("ready"));
    let log = std::fs::File::create(log)?;
    let child = Command::new(program)
        .args(["serve", "--dir"])
        .arg(sandbox_dir)
        .arg("--mcp-server-bin")
        .arg(tools.join("kubernetes-mcp-server"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start oc-mcp-sandbox")?;
    let sandbox = SandboxProcess { child };
    wait_for(&sandbox_dir.join("ready"), Duration::from_secs(60))?;
    let api = std::fs::read_to_string(sandbox_dir.join("ready"))?;
    eprintln!("xtask: sandbox API server at {}", api.trim());
    Ok(sandbox)
}

/// The guide's steps, as a user types them. Returns the `--connect-to` that reaches the route.
fn guide(env: &Env) -> Result<String> {
    let host = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";
    env.run(
        "Guide steps 3-4: the read-only ClusterRole (option A)",
        &["mcp-rbac", "role", "--profile", "full"],
    )?;
    env.run(
        "Guide step 5: bind it to the group of MCP users",
        &["mcp-rbac", "bind", "mcp-users"],
    )?;
    env.run(
        "Guide step 5: who is bound, and is it read-only?",
        &["mcp-rbac", "status"],
    )?;
    env.run(
        "Guide step 5: prove it with SubjectAccessReviews",
        &["mcp-rbac", "check"],
    )?;
    // The sandbox cannot reach ghcr.io for the upstream chart: install the same resources natively.
    env.run(
        "Guide steps 2, 8-11: project, config, Deployment, Service and TLS route",
        &[
            "mcp-install",
            "--engine",
            "manifests",
            "--wait",
            "--timeout",
            "120s",
        ],
    )?;
    // After the install, so the redirect URI carries the Route's real host.
    env.run(
        "Guide steps 6-7: the OpenShift OAuth client and its secret",
        &["mcp-oauth", "register", "openshift"],
    )?;
    // No DNS serves the sandbox's apps domain: tell verify where the router listens.
    let route_line = std::fs::read_to_string(env.sandbox_dir.join("resolve"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(host))
        .map(str::to_owned)
        .context("the sandbox's resolve file has no line for the route host")?;
    let router_port = route_line
        .split(':')
        .nth(1)
        .context("malformed resolve line")?;
    let connect_to = format!("{host}:443:127.0.0.1:{router_port}");
    let ca = env.sandbox_dir.join("ca.crt").display().to_string();
    let tokens = [
        (
            "MCP_MEMBER_TOKEN",
            kubeconfig_token(&env.kubeconfig, "member")?,
        ),
        (
            "MCP_OUTSIDER_TOKEN",
            kubeconfig_token(&env.kubeconfig, "outsider")?,
        ),
    ];
    env.run_with(
        "Guide steps 12-14: verify everything; MCP calls as a member, the denial as an outsider",
        &[
            "mcp-verify",
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_MEMBER_TOKEN",
            "--denied-token-env",
            "MCP_OUTSIDER_TOKEN",
        ],
        &tokens,
    )?;
    env.run(
        "Guide step 15: VS Code configuration",
        &[
            "mcp-client",
            "config",
            "--for",
            "vscode",
            "--url",
            &format!("https://{host}/mcp"),
        ],
    )?;
    Ok(route_line)
}

/// A user's bearer token from the sandbox's kubeconfig (kept in memory, handed over in env).
pub(crate) fn kubeconfig_token(kubeconfig: &Path, user: &str) -> Result<String> {
    let text = std::fs::read_to_string(kubeconfig)?;
    let config: serde_json::Value =
        serde_saphyr::from_str(&text).context("the sandbox kubeconfig is not YAML")?;
    config["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"] == user)
        .and_then(|u| u["user"]["token"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no token for user {user} in {}", kubeconfig.display()))
}

fn wait_for(path: &Path, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        if Instant::now() > deadline {
            bail!(
                "{} did not appear within {}s (see sandbox.log)",
                path.display(),
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
