//! `cargo xtask demo`: the guide end to end on the local sandbox, with the plugins run through
//! the real kubectl the way a user types them.

use std::{
    net::Ipv4Addr,
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
    /// The router's address, for /etc/hosts (default with --keep: 127.77.0.1; without it and
    /// --router-port: 127.0.0.1). Loopback only: an address of 127.0.0.0/8
    #[arg(long, value_name = "IP", value_parser = parse_loopback)]
    pub router_addr: Option<Ipv4Addr>,
    /// The router's HTTPS port (default with --keep: 443, which needs root or
    /// CAP_NET_BIND_SERVICE; without it and --router-addr: a free one)
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub router_port: Option<u16>,
    /// Build nothing: run the plugins and the sandbox already in target/debug (`cargo xtask
    /// test` built them with the tests)
    #[arg(long)]
    pub prebuilt: bool,
}

/// The router's own address with `--keep`: any of 127.0.0.0/8 is loopback on Linux, and one
/// apart from 127.0.0.1 keeps its port 443 clear of whatever else listens on localhost.
pub const KEEP_ROUTER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
/// The port a client uses for `https://<route host>/mcp`.
pub const HTTPS_PORT: u16 = 443;

impl DemoArgs {
    /// Where the router listens: fixed with `--keep` or either router flag (so an editor can
    /// be pointed at it), else `None`, a free port on 127.0.0.1 (runs side by side, as in
    /// `cargo xtask test`).
    pub fn router(&self) -> Option<(Ipv4Addr, u16)> {
        if !self.keep && self.router_addr.is_none() && self.router_port.is_none() {
            return None;
        }
        let default_addr = if self.keep {
            KEEP_ROUTER_ADDR
        } else {
            Ipv4Addr::LOCALHOST
        };
        Some((
            self.router_addr.unwrap_or(default_addr),
            self.router_port.unwrap_or(HTTPS_PORT),
        ))
    }
}

/// The plugins and the sandbox, with the demo's packages only.
fn build(root: &Path) -> Result<()> {
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
    Ok(())
}

/// `--router-addr`: an IPv4 address of 127.0.0.0/8. The router must never listen off
/// loopback, so anything else is a usage error (exit 2) before anything starts.
fn parse_loopback(value: &str) -> std::result::Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = value.parse().map_err(|_| {
        format!("{value:?} is not an IPv4 address; use one of 127.0.0.0/8, e.g. 127.77.0.1")
    })?;
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(format!(
            "{ip} is not a loopback address: the sandbox's router listens on 127.0.0.0/8 only \
             (e.g. --router-addr 127.77.0.1)"
        ))
    }
}

/// The sandbox process, stopped (SIGTERM, then kill) when dropped.
pub(crate) struct SandboxProcess {
    child: Child,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        // Already gone (it failed to start): nothing to signal.
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
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
    if !args.prebuilt {
        build(root)?;
    }
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
    let router = args.router();
    let router_flags: Vec<std::ffi::OsString> = router
        .map(|(addr, port)| {
            vec![
                "--router-addr".into(),
                addr.to_string().into(),
                "--router-port".into(),
                port.to_string().into(),
            ]
        })
        .unwrap_or_default();
    let extra: Vec<&std::ffi::OsStr> = router_flags
        .iter()
        .map(std::ffi::OsString::as_os_str)
        .collect();
    let log = dir.join("sandbox.log");
    let sandbox = start_sandbox(
        &debug.join("oc-mcp-sandbox"),
        tools,
        &sandbox_dir,
        &log,
        &extra,
    )
    .map_err(|e| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match router.and_then(|(addr, port)| router_failure(&text, addr, port)) {
            Some(why) => anyhow::anyhow!("{why}"),
            None => e,
        }
    })?;

    let env = Env {
        kubectl: kubectl(root),
        path: std::env::join_paths([bin.clone(), tools.to_path_buf()].into_iter().chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))?,
        kubeconfig: sandbox_dir.join("kubeconfig"),
        sandbox_dir,
        bin,
    };
    let route = guide(&env)?;
    if args.keep {
        match router {
            Some((addr, port)) => println!(
                "\n{}",
                keep_instructions(&Keep {
                    host: &route.host,
                    addr,
                    port,
                    ca: &env.sandbox_dir.join("ca.crt"),
                    kubeconfig: &env.kubeconfig,
                    bin: &env.bin,
                })
            ),
            None => bail!("--keep always fixes the router's address"),
        }
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
    let log_path = log;
    let log = std::fs::File::create(log_path)?;
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
    let mut sandbox = SandboxProcess { child };
    wait_ready(
        &mut sandbox.child,
        &sandbox_dir.join("ready"),
        log_path,
        Duration::from_secs(60),
    )?;
    let api = std::fs::read_to_string(sandbox_dir.join("ready"))?;
    eprintln!("xtask: sandbox API server at {}", api.trim());
    Ok(sandbox)
}

/// Where the router serves the Route host, from the sandbox's `DIR/resolve`.
pub(crate) struct RouteAddr {
    host: String,
    port: u16,
    ip: Ipv4Addr,
}

impl RouteAddr {
    /// A `host:port:ip` line of `DIR/resolve` (curl's `--resolve` format).
    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.trim().splitn(3, ':');
        Some(RouteAddr {
            host: parts.next()?.to_owned(),
            port: parts.next()?.parse().ok()?,
            ip: parts.next()?.parse().ok()?,
        })
    }

    /// mcp-verify's `--connect-to HOST:443:ADDR:PORT`.
    fn connect_to(&self) -> String {
        format!("{}:{HTTPS_PORT}:{}:{}", self.host, self.ip, self.port)
    }

    /// The MCP endpoint as a client writes it.
    fn url(&self) -> String {
        if self.port == HTTPS_PORT {
            format!("https://{}/mcp", self.host)
        } else {
            format!("https://{}:{}/mcp", self.host, self.port)
        }
    }
}

/// The guide's steps, as a user types them. Returns where the router serves the route.
fn guide(env: &Env) -> Result<RouteAddr> {
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
    // The first line for the host is the HTTPS listener's (the HTTP one follows).
    let route = std::fs::read_to_string(env.sandbox_dir.join("resolve"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("{host}:")))
        .and_then(RouteAddr::parse)
        .context("the sandbox's resolve file has no line for the route host")?;
    let connect_to = route.connect_to();
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
            &route.url(),
        ],
    )?;
    Ok(route)
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

/// Wait until `path` appears; fail at once when the sandbox exits first (a port it cannot
/// bind, say), with its error line from `log`.
fn wait_ready(child: &mut Child, path: &Path, log: &Path, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let error = text
                .lines()
                .rfind(|l| l.starts_with("Error"))
                .unwrap_or("no error line");
            bail!(
                "oc-mcp-sandbox exited ({status}) before it was ready: {error} (see {})",
                log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not appear within {}s (see {})",
                path.display(),
                limit.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Why the sandbox could not listen where the demo asked, with both ways out, from the
/// `cannot listen on ...` line of its log; `None` for any other failure.
fn router_failure(log: &str, addr: Ipv4Addr, port: u16) -> Option<String> {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("cannot listen on {addr}:{port}")))?;
    let why = if line.contains("permission denied") {
        format!(
            "cannot listen on {addr}:{port}: ports below 1024 need root or CAP_NET_BIND_SERVICE. \
             Either run the sandbox with the capability (sudo setcap cap_net_bind_service=+ep \
             target/debug/oc-mcp-sandbox, again after a rebuild; or run the demo as root), or \
             pass --router-port 8443 (clients then use https://<route host>:8443/mcp)"
        )
    } else if line.contains("address in use") {
        format!(
            "cannot listen on {addr}:{port}: something else listens there (another \
             `cargo xtask demo --keep`?). Stop it, or pass another --router-addr (any of \
             127.0.0.0/8, e.g. 127.77.0.2) or --router-port 8443"
        )
    } else if line.contains("address not available") {
        format!(
            "cannot listen on {addr}:{port}: {addr} is not an address of this machine (macOS has \
             only 127.0.0.1 unless aliased: sudo ifconfig lo0 alias {addr}). Alias it, or pass \
             --router-addr 127.0.0.1"
        )
    } else {
        return None;
    };
    Some(why)
}

/// What `--keep` prints: where everything is, to reach the route from an editor.
struct Keep<'a> {
    host: &'a str,
    addr: Ipv4Addr,
    port: u16,
    ca: &'a Path,
    kubeconfig: &'a Path,
    bin: &'a Path,
}

/// How to use the kept sandbox by hand and from an editor. Names where tokens are, never a
/// token: the commands print or fetch one when the user runs them.
fn keep_instructions(k: &Keep) -> String {
    let Keep {
        host, addr, port, ..
    } = *k;
    let ca = k.ca.display();
    let kubeconfig = k.kubeconfig.display();
    let authority = if port == HTTPS_PORT {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    let url = format!("https://{authority}/mcp");
    // The default URL is https://<route host>/mcp; another port has to be spelled out.
    let url_flag = if port == HTTPS_PORT {
        String::new()
    } else {
        format!(" --url {url}")
    };
    // The editor runs the token command itself, without this shell's KUBECONFIG.
    let client = format!("kubectl mcp-client --kubeconfig {kubeconfig} --context member");
    format!(
        "The sandbox keeps running (stop it with Ctrl-C). The route is served at {url}, \
         on {addr}:{port}.

1. Point the route host at the router: one line in /etc/hosts (as root; remove it afterwards)
     {addr} {host}
   e.g. echo '{addr} {host}' | sudo tee -a /etc/hosts

2. Trust the sandbox CA, {ca}
     Node clients (Claude Code, mcp-remote, the MCP Inspector): export NODE_EXTRA_CA_CERTS={ca}
     VS Code: start it from a shell with NODE_EXTRA_CA_CERTS set, or add the CA to the OS trust
       store (Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/oc-mcp-sandbox.crt
       && sudo update-ca-certificates)
     curl: curl --cacert {ca} {url}   (401: no token)

3. The plugins and kubectl, in another shell:
     export KUBECONFIG={kubeconfig}
     export PATH={bin}:$PATH
   Contexts: admin (cluster-admin, current), member (group mcp-users), outsider.
     kubectl mcp-verify --endpoint-ca {ca}   # after step 1, or with --connect-to {host}:443:{addr}:{port}

4. Connect an editor as the member (in the folder you open in it; start the editor from the
   shell of steps 2 and 3, so it finds the CA and the plugins):
     {client} config --for vscode --write{url_flag}        # .vscode/mcp.json
     {client} config --for claude-code --write{url_flag}   # .mcp.json
   A client that asks for a token: the member's, printed where you run this:
     {client} token",
        bin = k.bin.display(),
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Demo {
        #[command(flatten)]
        args: DemoArgs,
    }

    fn parse(args: &[&str]) -> std::result::Result<DemoArgs, clap::Error> {
        Demo::try_parse_from(std::iter::once("demo").chain(args.iter().copied())).map(|d| d.args)
    }

    #[test]
    fn router_address_must_be_loopback() {
        for bad in ["0.0.0.0", "192.0.2.10", "10.1.2.3", "::1", "localhost"] {
            let err = parse(&["--keep", "--router-addr", bad]).expect_err(bad);
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
            assert_eq!(err.exit_code(), 2, "{bad}: a usage error");
            assert!(err.to_string().contains("127.0.0.0/8"), "{bad}: {err}");
        }
        let ok = parse(&["--keep", "--router-addr", "127.12.0.7"]).expect("loopback");
        assert_eq!(ok.router(), Some((Ipv4Addr::new(127, 12, 0, 7), 443)));
        let err = parse(&["--router-port", "0"]).expect_err("port 0");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn router_is_fixed_only_when_asked() {
        assert_eq!(parse(&[]).expect("no flags").router(), None);
        assert_eq!(
            parse(&["--keep"]).expect("keep").router(),
            Some((KEEP_ROUTER_ADDR, 443))
        );
        assert_eq!(
            parse(&["--keep", "--router-port", "8443"])
                .expect("port")
                .router(),
            Some((KEEP_ROUTER_ADDR, 8443))
        );
        assert_eq!(
            parse(&["--router-port", "8443"]).expect("port").router(),
            Some((Ipv4Addr::LOCALHOST, 8443))
        );
    }

    #[test]
    fn resolve_lines_give_the_route_address() {
        let r = RouteAddr::parse("h.apps.example.com:8443:127.77.0.1\n").expect("line");
        assert_eq!(r.connect_to(), "h.apps.example.com:443:127.77.0.1:8443");
        assert_eq!(r.url(), "https://h.apps.example.com:8443/mcp");
        let r = RouteAddr::parse("h.apps.example.com:443:127.77.0.1").expect("line");
        assert_eq!(r.url(), "https://h.apps.example.com/mcp");
        assert!(RouteAddr::parse("h.apps.example.com:x:127.0.0.1").is_none());
        assert!(RouteAddr::parse("h.apps.example.com:443").is_none());
    }

    #[test]
    fn bind_failures_name_both_fixes() {
        let addr = KEEP_ROUTER_ADDR;
        let log = "INFO starting\nError: cannot listen on 127.77.0.1:443 (router HTTPS): permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE; grant the capability or use a port of 1024 or above (Permission denied (os error 13))\n";
        let why = router_failure(log, addr, 443).expect("recognised");
        assert!(why.contains("cap_net_bind_service"), "{why}");
        assert!(why.contains("--router-port 8443"), "{why}");
        let log = "Error: cannot listen on 127.77.0.1:443 (router HTTPS): address in use: another process listens there; stop it or pick another port (Address already in use (os error 98))";
        let why = router_failure(log, addr, 443).expect("recognised");
        assert!(
            why.contains("--router-addr") && why.contains("--router-port"),
            "{why}"
        );
        let log = "Error: cannot listen on 127.77.0.1:443 (router HTTPS): address not available: 127.77.0.1 is not configured on this machine";
        let why = router_failure(log, addr, 443).expect("recognised");
        assert!(why.contains("ifconfig lo0 alias 127.77.0.1"), "{why}");
        // Another port's failure, or another failure, is left as the sandbox said it.
        assert_eq!(router_failure(log, addr, 8443), None);
        assert_eq!(router_failure("Error: no such file", addr, 443), None);
    }

    #[test]
    fn keep_instructions_say_how_to_connect_an_editor() {
        let dir = Path::new("/tmp/oc-mcp-demo-1");
        let ca = dir.join("sandbox/ca.crt");
        let kubeconfig = dir.join("sandbox/kubeconfig");
        let bin = dir.join("bin");
        let keep = |port| {
            keep_instructions(&Keep {
                host: "mcp.apps.sandbox.example.com",
                addr: KEEP_ROUTER_ADDR,
                port,
                ca: &ca,
                kubeconfig: &kubeconfig,
                bin: &bin,
            })
        };
        let text = keep(443);
        for want in [
            "\n     127.77.0.1 mcp.apps.sandbox.example.com\n",
            "export NODE_EXTRA_CA_CERTS=/tmp/oc-mcp-demo-1/sandbox/ca.crt",
            "curl --cacert /tmp/oc-mcp-demo-1/sandbox/ca.crt https://mcp.apps.sandbox.example.com/mcp",
            "export KUBECONFIG=/tmp/oc-mcp-demo-1/sandbox/kubeconfig",
            "export PATH=/tmp/oc-mcp-demo-1/bin:$PATH",
            "kubectl mcp-client --kubeconfig /tmp/oc-mcp-demo-1/sandbox/kubeconfig --context member config --for vscode --write ",
            "--context member config --for claude-code --write ",
            "--context member token",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        assert!(!text.contains("--url"), "443 is the default URL's port");
        let text = keep(8443);
        assert!(
            text.contains(
                "--for vscode --write --url https://mcp.apps.sandbox.example.com:8443/mcp"
            ),
            "{text}"
        );
        assert!(text.contains("on 127.77.0.1:8443"), "{text}");
    }
}
