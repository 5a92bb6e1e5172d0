//! `oc-mcp-sandbox serve --dir DIR`: files, contexts, and a clean stop on SIGTERM.

mod common;

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
