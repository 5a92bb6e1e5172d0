//! Helpers shared by the sandbox's integration tests: bounded child processes and
//! kubectl invocations with a fresh discovery cache.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use oc_mcp_sandbox::Sandbox;

/// Run a command with a deadline; the child is killed when it overruns.
pub fn run_bounded(mut cmd: Command, stdin: Option<&str>, limit: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?} failed: {e}"));
    if let Some(input) = stdin {
        let mut s = child.stdin.take().expect("stdin is piped");
        s.write_all(input.as_bytes()).expect("writing stdin");
    }
    let start = Instant::now();
    loop {
        if child.try_wait().expect("polling the child").is_some() {
            return child.wait_with_output().expect("collecting output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "{cmd:?} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// kubectl bound to one sandbox user, with its own discovery cache.
pub struct Kubectl {
    pub kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    pub fn new(sb: &Sandbox, user: &str) -> Self {
        Kubectl {
            kubeconfig: sb.kubeconfig_path(user).expect("kubeconfig"),
            cache: tempfile::tempdir().expect("cache dir"),
        }
    }

    pub fn with_kubeconfig(path: &Path) -> Self {
        Kubectl {
            kubeconfig: path.to_path_buf(),
            cache: tempfile::tempdir().expect("cache dir"),
        }
    }

    pub fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(oc_mcp_sandbox::tools::kubectl());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args);
        cmd.env_remove("KUBECONFIG");
        let out = run_bounded(cmd, stdin, Duration::from_secs(60));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    /// Run and require success.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "kubectl {args:?} failed: {}{}",
            r.stdout, r.stderr
        );
        r.stdout
    }
}

/// The header line of a kubectl table, split into column names.
pub fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect()
}

pub mod https;
pub mod mcp;

/// Wait (up to 5 s) until `DIR/resolve` of `sb` lists `line`.
pub async fn wait_for_resolve_line(sb: &Sandbox, line: &str, what: &str) {
    wait_for(
        || async {
            std::fs::read_to_string(sb.resolve_path())
                .ok()
                .filter(|t| t.lines().any(|l| l == line))
        },
        Duration::from_secs(5),
        what,
    )
    .await;
}

/// Poll `f` every 100 ms until it yields a value; panic naming `what` after `limit`.
pub async fn wait_for<T, F, Fut>(mut f: F, limit: Duration, what: &str) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
