//! Shared by the integration tests: running the real binary with a clean environment, a
//! small authorization server (OIDC, or the OpenShift OAuth server behind an "API server"
//! that serves its metadata) that checks PKCE, and an HTTP driver in place of a browser.
#![allow(dead_code, clippy::missing_panics_doc)]

pub mod idp;

use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use std::{
    io::{BufRead as _, BufReader, Read as _},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A bound on each run: a refusal that blocked (a FIFO opened for reading waits for a writer)
/// fails here instead of hanging the suite.
pub const LIMIT: Duration = Duration::from_secs(60);
/// The server URL the `config` tests pass with `--url`.
pub const URL: &str = "https://kubernetes-mcp-server-mcp-server.apps.example.com/mcp";
/// The server's name in the clients' files (the default of `--name`).
pub const NAME: &str = "kubernetes-mcp-server";
/// `--auth oidc` with an issuer, a client and scopes (nothing is contacted for `config`).
pub const OIDC: [&str; 8] = [
    "--auth",
    "oidc",
    "--issuer",
    "https://idp.example.com/realms/ops",
    "--client-id",
    "mcp-cli",
    "--scope",
    "openid,profile",
];

/// `config --for client --url URL --auth openshift`: the arguments most `config` tests start
/// with.
pub fn openshift_config(client: &str) -> [&str; 7] {
    [
        "config",
        "--for",
        client,
        "--url",
        URL,
        "--auth",
        "openshift",
    ]
}

/// `--url url --auth openshift --write path -o json`: a `config --write` that reports in JSON.
pub fn write_json_flags<'a>(url: &'a str, path: &'a str) -> [&'a str; 8] {
    [
        "--url",
        url,
        "--auth",
        "openshift",
        "--write",
        path,
        "-o",
        "json",
    ]
}

/// A sandbox with its defaults, an empty home directory, and the member's token.
pub async fn sandbox_member() -> (Sandbox, tempfile::TempDir, String) {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let home = tempfile::tempdir().expect("home");
    let token = sb.token("member").expect("token");
    (sb, home, token)
}

/// The plugin binary with an environment of its own: HOME in `home`, no KUBECONFIG, no
/// cache directory but the one the test passes.
pub fn bin(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_client"));
    cmd.env("HOME", home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("OC_MCP_CACHE_DIR")
        .env_remove("BROWSER")
        .env_remove("RUST_LOG")
        .current_dir(home)
        .stdin(Stdio::null());
    cmd
}

/// Run with a deadline.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl-mcp_client");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("poll").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
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

/// A child whose stderr is read line by line while it runs.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl-mcp_client");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            stderr_seen: Vec::new(),
        }
    }

    /// The login URL the binary prints (the line with a PKCE challenge).
    pub fn login_url(&mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                let _ = self.child.kill();
                panic!(
                    "no login URL within {limit:?}; stderr so far:\n{}",
                    self.stderr_seen.join("\n")
                );
            };
            let found = line.contains("code_challenge=");
            self.stderr_seen.push(line.clone());
            if found {
                return line.trim().to_owned();
            }
        }
    }

    /// Wait for the exit; stdout and all of stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                let mut out = String::new();
                if let Some(mut s) = self.child.stdout.take() {
                    s.read_to_string(&mut out).expect("stdout");
                }
                // The reader thread ends at EOF; collect what it has.
                std::thread::sleep(Duration::from_millis(50));
                self.stderr_seen.extend(self.lines.try_iter());
                return (status.code(), out, self.stderr_seen.join("\n"));
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "did not finish within {limit:?}; stderr:\n{}",
                    self.stderr_seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What a browser does: follow the authorize URL to the redirect, and deliver the redirect to
/// the loopback listener. Returns the listener's status code.
pub async fn browse(url: &str) -> (reqwest::StatusCode, String) {
    browse_trusting(url, None).await
}

/// [`browse`] for an authorization server whose certificate `ca_pem` signed.
pub async fn browse_trusting(url: &str, ca_pem: Option<&str>) -> (reqwest::StatusCode, String) {
    oc_mcp_common::install_crypto_provider();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes()).expect("CA") {
            builder = builder.add_root_certificate(cert);
        }
    }
    let http = builder.build().expect("http client");
    let response = http.get(url).send().await.expect("authorize request");
    assert_eq!(
        response.status(),
        reqwest::StatusCode::FOUND,
        "authorize answered {}: {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned();
    let landing = http
        .get(&location)
        .send()
        .await
        .expect("redirect delivered");
    let status = landing.status();
    (status, location)
}

/// Every file under `dir` whose content contains `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && String::from_utf8_lossy(&bytes).contains(needle)
            {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
