//! Node 22 and the real MCP clients `cargo xtask tools` installs (the MCP Inspector,
//! mcp-remote), run in a private HOME with only the environment a test gives them, every
//! connection kept on loopback by a preload.

use std::{
    ffi::OsString,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use crate::workspace_root;

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
