//! The real MCP clients run exactly what `oc mcp-client config` prints, as a member and as an
//! outsider would: the MCP Inspector's CLI (the printed command line, through `sh`, its
//! `--method` changed for the tool call) and mcp-remote (the Claude Desktop entry and the
//! printed mcp-remote line, spawned with their arguments and environment and driven over
//! stdio like a desktop app: initialize, tools/list, tools/call). In openshift mode the token
//! comes from `kubectl mcp-client token`; in oidc mode each client runs its own OAuth login,
//! with a headless stand-in for the browser that follows the authorize URL (the sandbox
//! issuer approves the `login_hint` user). The member lists namespaces; the cluster refuses
//! the outsider's call. Node 22, the Inspector and mcp-remote are the pinned packages
//! `cargo xtask tools` installs; `npx` finds them in that npm project. The clients reach the
//! route host through the sandbox router on loopback (a preload maps the host and its port
//! 443, and refuses any other destination that is not loopback), trusting the sandbox CA
//! through `NODE_EXTRA_CA_CERTS`.

use std::{
    ffi::OsString,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use oc_mcp_e2e::{kubectl, plugin_dir, route_proxy::RouteProxy, workspace_root};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";
const NAME: &str = "kubernetes-mcp-server";
/// The OAuth client the administrator registered with the issuer (`oc mcp-install --client-id`).
const OIDC_CLIENT_ID: &str = "mcp-server";
/// Each client run, request and plugin command is bounded by this.
const LIMIT: Duration = Duration::from_secs(90);

/// Loaded into every node process of a client (`NODE_OPTIONS=--require`): the hosts of
/// `OC_MCP_TEST_ROUTES` resolve to their loopback address, and their port 443 becomes the
/// router's port, so the clients use the real `https://<route host>/mcp` URL; any other
/// destination that is not loopback is refused, so nothing leaves the machine.
const PRELOAD: &str = r"'use strict';
const dns = require('node:dns');
const net = require('node:net');
const routes = JSON.parse(process.env.OC_MCP_TEST_ROUTES || '{}');
const norm = (h) => (typeof h === 'string' ? h.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '') : h);
const loopback = (h) => h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1';
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (typeof options === 'number') { options = { family: options }; }
  const route = routes[norm(hostname)];
  if (!route) { return lookup.call(this, hostname, options || {}, callback); }
  if (options && options.all) {
    process.nextTick(callback, null, [{ address: route.address, family: 4 }]);
  } else {
    process.nextTick(callback, null, route.address, 4);
  }
  return {};
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof options === 'number' || typeof options === 'string') {
    options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : 'localhost' };
    args = [options, ...args.slice(typeof args[1] === 'string' ? 2 : 1)];
  }
  if (options && typeof options === 'object' && options.path === undefined) {
    const host = norm(options.host || 'localhost');
    const route = routes[host];
    if (route) {
      if (Number(options.port) === 443) { options.port = route.port; }
    } else if (!loopback(host)) {
      throw new Error('oc-mcp test preload: refusing to connect to ' + host + ' (loopback only)');
    }
  }
  return connect.apply(this, args);
};
";

/// Node 22 and the installed clients.
#[derive(Debug)]
pub struct NodeClients {
    /// `node` (Node 22).
    pub node: PathBuf,
    /// The npm project whose `node_modules` holds the clients (npx resolves them here).
    pub npm_dir: PathBuf,
    work: tempfile::TempDir,
    preload: PathBuf,
}

impl NodeClients {
    /// The clients `cargo xtask tools` installed (or `OC_MCP_NODE` / `OC_MCP_NPM_CLIENTS`).
    pub fn installed() -> Self {
        let tools = workspace_root().join("target/tools");
        let node = std::env::var_os("OC_MCP_NODE")
            .map_or_else(|| tools.join("node22/bin/node"), PathBuf::from);
        let npm_dir =
            std::env::var_os("OC_MCP_NPM_CLIENTS").map_or_else(|| tools.join("npm"), PathBuf::from);
        for needed in [
            node.clone(),
            npm_dir.join("node_modules/.bin/mcp-inspector"),
            npm_dir.join("node_modules/.bin/mcp-remote"),
        ] {
            assert!(
                needed.exists(),
                "{} is missing: run `cargo xtask tools` (it installs Node 22, the MCP Inspector and mcp-remote)",
                needed.display()
            );
        }
        let work = tempfile::tempdir().expect("tempdir");
        let preload = work.path().join("route-to-router.cjs");
        std::fs::write(&preload, PRELOAD).expect("write the preload");
        for dir in ["home", "npm-cache"] {
            std::fs::create_dir_all(work.path().join(dir)).expect("mkdir");
        }
        Self {
            node,
            npm_dir,
            work,
            preload,
        }
    }

    /// A private HOME for the clients (their token stores and logs land here).
    pub fn home(&self) -> PathBuf {
        self.work.path().join("home")
    }

    /// `PATH` for a client: `first` (plugins, a `kubectl`), Node 22, then the system's
    /// `npx`, `sh` and `sed`.
    pub fn path(&self, first: &[&Path]) -> OsString {
        let node_dir = self.node.parent().expect("node's directory").to_path_buf();
        std::env::join_paths(
            first
                .iter()
                .map(|p| p.to_path_buf())
                .chain([node_dir])
                .chain(["/usr/bin", "/bin"].map(PathBuf::from)),
        )
        .expect("PATH")
    }

    /// The environment every client process gets, and nothing else of the test's: `routes`
    /// map a host's port 443 to a loopback address, `ca` is trusted besides Node's roots.
    pub fn env(
        &self,
        path: OsString,
        routes: &[(&str, SocketAddr)],
        ca: &Path,
    ) -> Vec<(String, OsString)> {
        for (_, addr) in routes {
            assert!(addr.ip().is_loopback(), "{addr} is not loopback");
        }
        let routes: serde_json::Map<String, serde_json::Value> = routes
            .iter()
            .map(|(host, addr)| {
                (
                    host.to_ascii_lowercase(),
                    serde_json::json!({"address": addr.ip().to_string(), "port": addr.port()}),
                )
            })
            .collect();
        let home = self.home();
        vec![
            ("PATH".into(), path),
            ("HOME".into(), home.clone().into()),
            ("TMPDIR".into(), home.clone().into()),
            ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
            ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
            (
                "NODE_OPTIONS".into(),
                format!("--require {}", self.preload.display()).into(),
            ),
            ("NODE_EXTRA_CA_CERTS".into(), ca.into()),
            (
                "OC_MCP_TEST_ROUTES".into(),
                serde_json::Value::Object(routes).to_string().into(),
            ),
            (
                "npm_config_cache".into(),
                self.work.path().join("npm-cache").into(),
            ),
            ("npm_config_update_notifier".into(), "false".into()),
            ("npm_config_audit".into(), "false".into()),
            ("npm_config_fund".into(), "false".into()),
            ("npm_config_offline".into(), "true".into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// `program args` in the clients' npm project, with only `env`, piped, killed on drop.
    pub fn command(&self, program: &str, args: &[String], env: &[(String, OsString)]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
            .current_dir(&self.npm_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// What a bounded run printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run to the end with no input; killed (and the test failed) after `limit`.
pub async fn run_bounded(mut command: Command, limit: Duration, what: &str) -> Ran {
    command.stdin(Stdio::null());
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}: killed"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An MCP client over stdio (newline-delimited JSON-RPC), as a desktop app drives the
/// servers of its `mcpServers`: the child is killed when this is dropped.
#[derive(Debug)]
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    next_id: u64,
    /// What came on stdout besides the responses (notifications, requests, noise).
    pub other: Vec<String>,
}

impl StdioSession {
    pub fn spawn(mut command: Command, what: &str) -> Self {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
            text
        });
        Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            stderr,
            next_id: 1,
            other: Vec::new(),
        }
    }

    /// Send a request and wait (at most `limit`) for the response with its id.
    pub async fn request(
        &mut self,
        method: &str,
        params: serde_json::Value,
        limit: Duration,
    ) -> Result<serde_json::Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + limit;
        // Bounded by the deadline, and by the output: the child's stdout ends when it exits.
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .map_err(|_| format!("no response to {method} within {limit:?}"))?
                .map_err(|e| format!("reading the client's stdout: {e}"))?
                .ok_or_else(|| format!("the client exited before answering {method}"))?;
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(message) if message["id"] == id && message.get("method").is_none() => {
                    return Ok(message);
                }
                _ => self.other.push(line),
            }
        }
    }

    /// Send a notification.
    pub async fn notify(&mut self, method: &str, params: serde_json::Value) -> Result<(), String> {
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    async fn send(&mut self, message: &serde_json::Value) -> Result<(), String> {
        let mut bytes = message.to_string().into_bytes();
        bytes.push(b'\n');
        self.stdin
            .write_all(&bytes)
            .await
            .map_err(|e| format!("writing to the client: {e}"))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| format!("writing to the client: {e}"))
    }

    /// `initialize` then `notifications/initialized`, as every MCP host starts.
    pub async fn initialize(&mut self, limit: Duration) -> Result<serde_json::Value, String> {
        let response = self
            .request(
                "initialize",
                serde_json::json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "oc-mcp-e2e", "version": "0"}
                }),
                limit,
            )
            .await?;
        self.notify("notifications/initialized", serde_json::json!({}))
            .await?;
        Ok(response)
    }

    /// Stop the client (stdin closed, then killed after a grace period) and return its stderr.
    pub async fn close(mut self) -> String {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        tokio::time::timeout(Duration::from_secs(5), self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

/// A sandbox with the guide's openshift-mode deployment, the plugins and a `kubectl` on PATH.
struct Deployment {
    sandbox: Sandbox,
    plugins: tempfile::TempDir,
    /// Holds `kubectl` (a link to the real one): the printed commands call it by that name.
    shims: tempfile::TempDir,
    clients: NodeClients,
    /// Each user's kubeconfig, written once: the sandbox rewrites its own on every request
    /// for the path, under the feet of a client reading it.
    kubeconfigs: tempfile::TempDir,
    /// The route host for the plugins (the clients map it with their preload).
    proxy: RouteProxy,
}

impl Deployment {
    /// role --profile full, bind mcp-users, install --engine manifests --wait, oauth register
    /// openshift: what an administrator does before handing out the URL.
    async fn openshift() -> Self {
        let deployment = Self::bare(SandboxConfig::default()).await;
        for args in [
            &["mcp-rbac", "role", "--profile", "full"][..],
            &["mcp-rbac", "bind", "mcp-users"],
            &[
                "mcp-install",
                "--engine",
                "manifests",
                "--wait",
                "--timeout",
                "120s",
            ],
            &["mcp-oauth", "register", "openshift"],
        ] {
            deployment.kubectl_ok("admin", args).await;
        }
        assert!(
            deployment.sandbox.resolve(HOST).is_some(),
            "the router serves {HOST}"
        );
        deployment
    }

    /// The guide's oidc mode: the cluster trusts the sandbox issuer (external OIDC) for the
    /// server's URL as audience (the `resource` a spec-following client asks its token for),
    /// the server validates the issuer's JWTs.
    async fn oidc() -> Self {
        // The sandbox's API server takes one audience: the server's URL, which is what the
        // install's check asks the administrator to add for spec-following clients.
        let deployment = Self::bare(SandboxConfig {
            trust_issuer: true,
            oidc_audience: format!("https://{HOST}/mcp"),
            ..SandboxConfig::default()
        })
        .await;
        let issuer = deployment.sandbox.issuer_url().to_owned();
        // The sandbox's Authentication names the issuer and that audience, as OpenShift's
        // external OIDC does.
        let client_id = OIDC_CLIENT_ID;
        let ca = deployment
            .sandbox
            .dir()
            .join("ca.crt")
            .display()
            .to_string();
        for args in [
            &["mcp-rbac", "role", "--profile", "full"][..],
            &["mcp-rbac", "bind", "mcp-users"],
            &[
                "mcp-install",
                "--engine",
                "manifests",
                "--auth",
                "oidc",
                "--issuer",
                &issuer,
                "--client-id",
                client_id,
                "--issuer-ca",
                &ca,
                "--wait",
                "--timeout",
                "120s",
            ],
        ] {
            deployment.kubectl_ok("admin", args).await;
        }
        deployment
    }

    async fn bare(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let shims = tempfile::tempdir().expect("shims");
        std::os::unix::fs::symlink(kubectl(), shims.path().join("kubectl")).expect("link kubectl");
        let kubeconfigs = tempfile::tempdir().expect("kubeconfigs");
        for user in ["admin", "member", "outsider"] {
            oc_mcp_e2e::harness::write_private(
                kubeconfigs.path(),
                user,
                sandbox.kubeconfig_for(user).expect("kubeconfig").as_bytes(),
            );
        }
        let proxy = RouteProxy::start(sandbox.router_https_addr(), HOST).await;
        Self {
            sandbox,
            plugins: plugin_dir(),
            shims,
            clients: NodeClients::installed(),
            kubeconfigs,
            proxy,
        }
    }

    fn kubeconfig(&self, user: &str) -> PathBuf {
        self.kubeconfigs.path().join(user)
    }

    fn path(&self) -> OsString {
        self.clients.path(&[self.plugins.path(), self.shims.path()])
    }

    /// `kubectl <args>` as `user`, as typed in a shell; its stdout.
    async fn kubectl_ok(&self, user: &str, args: &[&str]) -> String {
        let kubectl = kubectl();
        let tools = workspace_root().join("target/tools");
        let path = std::env::join_paths([
            self.plugins.path().to_path_buf(),
            tools,
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
        .expect("PATH");
        let mut command = Command::new(&kubectl);
        command
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.clients.home())
            .env("KUBECONFIG", self.kubeconfig(user))
            .env("_", &kubectl)
            .env("HELM_CONFIG_HOME", self.sandbox.dir().join("helm"))
            .env("HELM_CACHE_HOME", self.sandbox.dir().join("helm"))
            .env("HELM_DATA_HOME", self.sandbox.dir().join("helm"))
            .envs(self.proxy.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let ran = run_bounded(command, LIMIT, &format!("kubectl {args:?}")).await;
        assert_eq!(
            ran.code,
            Some(0),
            "kubectl {args:?} as {user}\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
        ran.stdout
    }

    /// What `kubectl mcp-client config --for <client>` prints for `user`, given the route's
    /// URL as the administrator hands it out.
    async fn config(&self, user: &str, client: &str) -> String {
        self.kubectl_ok(
            user,
            &[
                "mcp-client",
                "config",
                "--for",
                client,
                "--url",
                &format!("https://{HOST}/mcp"),
            ],
        )
        .await
    }

    /// The client environment for `user`: their kubeconfig is the default one, the route
    /// host goes to the router, the sandbox CA is trusted.
    fn env(&self, user: &str) -> Vec<(String, OsString)> {
        let router = self.sandbox.resolve(HOST).expect("router");
        let mut env = self.clients.env(
            self.path(),
            &[(HOST, router)],
            &self.sandbox.dir().join("ca.crt"),
        );
        env.push(("KUBECONFIG".into(), self.kubeconfig(user).into()));
        // An unexpected login must not wait for a browser: the stand-in fails at once.
        env.push(("BROWSER".into(), "/bin/false".into()));
        // For the plugins the clients run (`mcp-client token`); the node clients ignore it.
        env.extend(self.proxy.env().map(|(k, v)| (k.to_owned(), v.into())));
        env
    }

    /// [`Self::env`] with a headless browser that logs `user` in: it follows the authorize
    /// URL the client opens (the sandbox issuer approves the `login_hint` user, as a user who
    /// clicks "allow") to the client's loopback callback.
    fn env_with_browser(&self, user: &str) -> Vec<(String, OsString)> {
        let script = self.clients.home().join(format!("browser-{user}"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# Loopback only: the issuer and the client's callback.\ncase \"$1\" in https://127.0.0.1:*) ;; *) echo \"not the sandbox issuer: $1\" >&2; exit 1 ;; esac\necho \"$1\" >> {log}\nexec /usr/bin/curl -sS -L --max-redirs 3 --max-time 30 --cacert {ca} -o /dev/null \"$1&login_hint={user}\" >> {log} 2>&1\n",
                log = self.clients.home().join(format!("browser-{user}.log")).display(),
                ca = self.sandbox.dir().join("ca.crt").display(),
            ),
        )
        .expect("write the browser");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let mut env = self.env(user);
        env.retain(|(k, _)| k != "BROWSER");
        env.push(("BROWSER".into(), script.into()));
        env
    }
}

/// The text of a tools/call result's content.
fn content_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn tool_names(result: &Value) -> Vec<String> {
    result["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Run the printed Inspector line through `sh`, with its `--method tools/list` (the end of
/// what `config` prints) replaced by `method_args`, asking for JSON output.
async fn inspector(deployment: &Deployment, user: &str, line: &str, method_args: &str) -> Ran {
    let base = line
        .strip_suffix("--method tools/list")
        .unwrap_or_else(|| panic!("the printed line ends with --method tools/list: {line}"));
    let script = format!("{base}{method_args} --format json");
    let command =
        deployment
            .clients
            .command("/bin/sh", &["-c".to_owned(), script], &deployment.env(user));
    run_bounded(command, LIMIT, &format!("the Inspector as {user}")).await
}

#[tokio::test]
async fn the_inspector_cli_runs_the_printed_command_in_openshift_mode() {
    let deployment = Deployment::openshift().await;
    let members = deployment.sandbox.token("member").expect("token");
    let outsiders = deployment.sandbox.token("outsider").expect("token");
    for user in ["member", "outsider"] {
        let printed = deployment.config(user, "inspector").await;
        let line = printed.trim();
        assert_eq!(printed.lines().count(), 1, "one command line: {printed}");
        // The token command may carry what the plugin learned from the server (`--auth
        // openshift` for a user who cannot read the server's config), so the user's own run
        // of it needs no read either.
        let (token_command, client) = line.split_once(" | ").unwrap_or_default();
        assert!(
            token_command.starts_with("kubectl mcp-client token ")
                && token_command.contains(" --format inspector-config")
                && client
                    .starts_with("npx @modelcontextprotocol/inspector --cli --config /dev/stdin"),
            "{line}"
        );
        for token in [&members, &outsiders] {
            assert!(
                !line.contains(token.as_str()),
                "a token in the line: {line}"
            );
        }

        let listed = inspector(&deployment, user, line, "--method tools/list").await;
        let called = inspector(
            &deployment,
            user,
            line,
            "--method tools/call --tool-name namespaces_list",
        )
        .await;
        let context = format!(
            "{user}:\n{line}\ntools/list: {:?}\n{}\n{}\ntools/call: {:?}\n{}\n{}",
            listed.code, listed.stdout, listed.stderr, called.code, called.stdout, called.stderr
        );
        // --format json prints {"result": <the MCP result>}.
        let list: Value = serde_json::from_str(&listed.stdout)
            .unwrap_or_else(|e| panic!("tools/list output is not JSON ({e}): {context}"));
        assert_eq!(listed.code, Some(0), "{context}");
        assert!(
            tool_names(&list["result"])
                .iter()
                .any(|n| n == "namespaces_list"),
            "{context}"
        );
        let call: Value = serde_json::from_str::<Value>(&called.stdout)
            .map_or(Value::Null, |v| v["result"].clone());
        if user == "member" {
            assert_eq!(called.code, Some(0), "{context}");
            assert_ne!(call["isError"], true, "{context}");
            assert!(content_text(&call).contains("mcp-server"), "{context}");
        } else {
            // The server runs the call with the outsider's own token: the cluster refuses it.
            let refusal = format!("{}{}{}", content_text(&call), called.stdout, called.stderr);
            assert!(
                call["isError"] == true || called.code != Some(0),
                "{context}"
            );
            assert!(
                refusal.contains(r#"User "outsider" cannot list resource "namespaces""#),
                "{context}"
            );
            assert!(!content_text(&call).contains("mcp-server"), "{context}");
        }
    }
}

/// initialize, tools/list, tools/call namespaces_list over stdio; the tools/call result.
async fn drive(mut session: StdioSession, what: &str) -> (Value, String) {
    let outcome = async {
        let init = session.initialize(LIMIT).await?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}"));
        }
        let list = session.request("tools/list", json!({}), LIMIT).await?;
        if !tool_names(&list["result"])
            .iter()
            .any(|n| n == "namespaces_list")
        {
            return Err(format!("tools/list has no namespaces_list: {list}"));
        }
        session
            .request(
                "tools/call",
                json!({"name": "namespaces_list", "arguments": {}}),
                LIMIT,
            )
            .await
    }
    .await;
    let other = session.other.join("\n");
    let stderr = session.close().await;
    match outcome {
        Ok(call) => (call, stderr),
        Err(e) => panic!("{what}: {e}\nstdout:\n{other}\nstderr:\n{stderr}"),
    }
}

/// A `mcpServers` entry spawned as a desktop app does: its command, args and env.
fn spawn_entry(deployment: &Deployment, user: &str, entry: &Value, what: &str) -> StdioSession {
    let command = entry["command"].as_str().expect("command");
    let args: Vec<String> = serde_json::from_value(entry["args"].clone()).expect("args");
    let mut env = deployment.env(user);
    if let Some(vars) = entry["env"].as_object() {
        env.extend(
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().into())),
        );
    }
    StdioSession::spawn(deployment.clients.command(command, &args, &env), what)
}

#[tokio::test]
async fn mcp_remote_runs_the_claude_desktop_entry_and_the_printed_line_in_openshift_mode() {
    let deployment = Deployment::openshift().await;
    for user in ["member", "outsider"] {
        let desktop: Value = serde_json::from_str(&deployment.config(user, "claude-desktop").await)
            .expect("claude-desktop JSON");
        let entry = &desktop["mcpServers"][NAME];
        let line = deployment.config(user, "mcp-remote").await;
        assert_eq!(line.lines().count(), 1, "one command line: {line}");
        let sessions = [
            (
                "the Claude Desktop entry",
                spawn_entry(&deployment, user, entry, "Claude Desktop's mcp-remote"),
            ),
            (
                "the printed mcp-remote line",
                StdioSession::spawn(
                    deployment.clients.command(
                        "/bin/sh",
                        &["-c".to_owned(), line.trim().to_owned()],
                        &deployment.env(user),
                    ),
                    "mcp-remote",
                ),
            ),
        ];
        for (what, session) in sessions {
            let (call, stderr) = drive(session, &format!("{what} as {user}")).await;
            let result = &call["result"];
            let context = format!("{what} as {user}: {call}\nstderr:\n{stderr}");
            if user == "member" {
                assert_ne!(result["isError"], true, "{context}");
                assert!(content_text(result).contains("mcp-server"), "{context}");
            } else {
                let refused = result["isError"] == true || call.get("error").is_some();
                assert!(refused, "{context}");
                assert!(
                    content_text(result)
                        .contains(r#"User "outsider" cannot list resource "namespaces""#),
                    "{context}"
                );
                assert!(!content_text(result).contains("mcp-server"), "{context}");
            }
        }
    }
}

#[tokio::test]
async fn mcp_remote_logs_in_itself_in_oidc_mode() {
    let deployment = Deployment::oidc().await;
    // The administrator hands out the configuration (a member may not read the server's
    // settings); the login picks the user.
    let desktop: Value = serde_json::from_str(
        &deployment
            .kubectl_ok(
                "admin",
                &[
                    "mcp-client",
                    "config",
                    "--for",
                    "claude-desktop",
                    "--url",
                    &format!("https://{HOST}/mcp"),
                    "--client-id",
                    OIDC_CLIENT_ID,
                ],
            )
            .await,
    )
    .expect("claude-desktop JSON");
    let entry = &desktop["mcpServers"][NAME];
    assert!(
        entry["args"]
            .to_string()
            .contains("--static-oauth-client-info"),
        "{entry}"
    );
    for user in ["member", "outsider"] {
        let mut env = deployment.env_with_browser(user);
        // Each user's own token store.
        let home = deployment.clients.home().join(user);
        std::fs::create_dir_all(&home).expect("home");
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home.into()));
        let command = entry["command"].as_str().expect("command");
        let argv: Vec<String> = serde_json::from_value(entry["args"].clone()).expect("args");
        let session = StdioSession::spawn(
            deployment.clients.command(command, &argv, &env),
            "mcp-remote (oidc)",
        );
        let (call, stderr) = drive(session, &format!("mcp-remote's own login as {user}")).await;
        let result = &call["result"];
        let context = format!("oidc, {user}: {call}\nstderr:\n{stderr}");
        if user == "member" {
            assert_ne!(result["isError"], true, "{context}");
            assert!(content_text(result).contains("mcp-server"), "{context}");
        } else {
            assert_eq!(result["isError"], true, "{context}");
            assert!(
                content_text(result)
                    .contains(r#"User "outsider" cannot list resource "namespaces""#),
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn the_inspector_cli_logs_in_itself_in_oidc_mode() {
    let deployment = Deployment::oidc().await;
    let printed = deployment
        .kubectl_ok(
            "admin",
            &[
                "mcp-client",
                "config",
                "--for",
                "inspector",
                "--url",
                &format!("https://{HOST}/mcp"),
                "--client-id",
                OIDC_CLIENT_ID,
            ],
        )
        .await;
    let line = printed.trim();
    assert!(line.contains("--client-id"), "{line}");
    for user in ["member", "outsider"] {
        let mut env = deployment.env_with_browser(user);
        let home = deployment.clients.home().join(format!("inspector-{user}"));
        std::fs::create_dir_all(&home).expect("home");
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home.into()));
        // A user runs it in a terminal; without one the Inspector logs in only when told
        // it may open the browser.
        env.push(("MCP_AUTO_OPEN_ENABLED".into(), "true".into()));
        let base = line
            .strip_suffix("--method tools/list")
            .unwrap_or_else(|| panic!("the printed line ends with --method tools/list: {line}"));
        let mut results = Vec::new();
        for method in [
            "--method tools/list",
            "--method tools/call --tool-name namespaces_list",
        ] {
            let command = deployment.clients.command(
                "/bin/sh",
                &["-c".to_owned(), format!("{base}{method} --format json")],
                &env,
            );
            results.push(run_bounded(command, LIMIT, &format!("the Inspector as {user}")).await);
        }
        let context = format!(
            "oidc, {user}:\n{line}\n{}",
            results
                .iter()
                .map(|r| format!("{:?}\n{}\n{}", r.code, r.stdout, r.stderr))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let list: Value = serde_json::from_str(&results[0].stdout)
            .unwrap_or_else(|e| panic!("tools/list output is not JSON ({e}): {context}"));
        assert!(
            tool_names(&list["result"])
                .iter()
                .any(|n| n == "namespaces_list"),
            "{context}"
        );
        let call: Value = serde_json::from_str::<Value>(&results[1].stdout)
            .map_or(Value::Null, |v| v["result"].clone());
        if user == "member" {
            assert_ne!(call["isError"], true, "{context}");
            assert!(content_text(&call).contains("mcp-server"), "{context}");
        } else {
            assert!(
                content_text(&call)
                    .contains(r#"User "outsider" cannot list resource "namespaces""#),
                "{context}"
            );
        }
    }
}
