//! `oc-mcp-sandbox serve --dir DIR`: files, contexts, and a clean stop on SIGTERM.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Kubectl;

#[test]
fn serve_writes_kubeconfig_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"))
        .args(["serve", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the sandbox");
    let start = Instant::now();
    while !dir.path().join("ready").exists() {
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            panic!("sandbox did not become ready");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let kc = dir.path().join("kubeconfig");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&kc)
            .expect("kubeconfig")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "kubeconfig holds tokens");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("ca.crt"))
            .expect("ca.crt")
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let k = Kubectl::with_kubeconfig(&kc);
    assert_eq!(k.ok(&["config", "current-context"]).trim(), "admin");
    let contexts = k.ok(&["config", "get-contexts", "-o", "name"]);
    let mut names: Vec<&str> = contexts.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["admin", "member", "outsider"]);
    assert!(
        k.ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}"
        ])
        .contains("admin")
    );
    assert!(
        k.ok(&[
            "--context",
            "outsider",
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}"
        ])
        .contains("outsider")
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit.jsonl");
    assert!(
        audit.lines().any(|l| l.contains("\"user\":\"outsider\"")),
        "audit lines are written"
    );
    let token = std::fs::read_to_string(&kc).expect("kubeconfig");
    let token = token
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("a token");
    assert!(
        !audit.contains(token.trim()),
        "tokens never reach the audit log"
    );

    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().expect("poll") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("sandbox ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "clean exit: {code:?}");
    assert!(
        !dir.path().join("ready").exists(),
        "ready marker removed on stop"
    );
}

/// Every process whose command line mentions `needle` (the sandbox dir).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{name}: {cmd}"));
            }
        }
    }
    out
}

#[test]
#[allow(clippy::too_many_lines)] // start, files, token, a running server pod, stop
fn serve_runs_pods_mints_tokens_and_leaves_no_child() {
    let dir = tempfile::tempdir().expect("dir");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"))
        .args(["serve", "--trust-issuer", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the sandbox");
    while !dir.path().join("ready").exists() {
        if start.elapsed() > Duration::from_secs(10) || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sandbox not ready within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = start.elapsed();
    assert!(started < Duration::from_secs(10), "{started:?}");
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
    assert!(read("issuer").trim().starts_with("https://127.0.0.1:"));
    assert_eq!(read("apps-domain").trim(), "apps.sandbox.example.com");
    assert!(dir.path().join("resolve").exists());
    let t = Instant::now();
    while !dir.path().join("issuer-key.pem").exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "no issuer-key.pem");
        std::thread::sleep(Duration::from_millis(50));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("issuer-key.pem"))
            .expect("issuer-key.pem")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    // `token` mints a JWT this (trusting) API server accepts.
    let out = common::run_bounded(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"));
            c.args(["token", "--user", "member", "--expires-in", "600", "--dir"])
                .arg(dir.path());
            c
        },
        None,
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwt = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    let kc = dir.path().join("kubeconfig");
    let k = Kubectl::with_kubeconfig(&kc);
    let who = k.ok(&[
        "--token",
        &jwt,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(who.trim(), "member");

    // A real server pod, then SIGTERM: no process of the sandbox is left.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let needle = dir.path().display().to_string();
    rt.block_on(async {
        let yaml = std::fs::read_to_string(&kc).expect("kubeconfig");
        let kcfg = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
        let cfg =
            kube::Config::from_custom_kubeconfig(kcfg, &kube::config::KubeConfigOptions::default())
                .await
                .expect("config");
        let client = kube::Client::try_from(cfg).expect("client");
        let app = common::mcp::McpApp::default();
        common::mcp::deploy(&client, &app, "apps.sandbox.example.com").await;
        common::mcp::wait_ready_pod(&client, &app).await;
    });
    let running = processes_mentioning(&needle);
    assert!(
        running.iter().any(|p| p.contains("--bind-address")),
        "the server pod's process runs: {running:?}"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let t = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().expect("poll") {
            break s;
        }
        if t.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("sandbox ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "clean exit: {code:?}");
    let t = Instant::now();
    loop {
        let left = processes_mentioning(&needle);
        if left.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigkill_of_serve_leaves_no_server_process() {
    if !std::path::Path::new("/usr/bin/setpriv").is_file()
        && !std::path::Path::new("/bin/setpriv").is_file()
    {
        // Without setpriv only a clean stop (SIGTERM, Drop) kills pod processes.
        eprintln!("setpriv not installed: nothing to check");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"))
        .args(["serve", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the sandbox");
    let start = Instant::now();
    while !dir.path().join("ready").exists() {
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sandbox not ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let kc = dir.path().join("kubeconfig");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let yaml = std::fs::read_to_string(&kc).expect("kubeconfig");
        let kcfg = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
        let cfg =
            kube::Config::from_custom_kubeconfig(kcfg, &kube::config::KubeConfigOptions::default())
                .await
                .expect("config");
        let client = kube::Client::try_from(cfg).expect("client");
        let app = common::mcp::McpApp::default();
        common::mcp::deploy(&client, &app, "apps.sandbox.example.com").await;
        common::mcp::wait_ready_pod(&client, &app).await;
    });
    let needle = dir.path().display().to_string();
    assert!(
        processes_mentioning(&needle)
            .iter()
            .any(|p| p.contains("--bind-address")),
        "the server pod's process runs"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let t = Instant::now();
    loop {
        let left = processes_mentioning(&needle);
        if left.is_empty() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "orphaned: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
