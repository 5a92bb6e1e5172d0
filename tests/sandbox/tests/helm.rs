//! The real helm v3.17.1 installs, lists and uninstalls a tiny chart on the sandbox
//! (release Secrets arrive as protobuf; validation uses the OpenAPI v3 documents).

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::run_bounded;
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

fn helm(sb_kubeconfig: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = oc_mcp_sandbox::tools::helm().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(sb_kubeconfig)
        .env_remove("KUBECONFIG")
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    let out = run_bounded(cmd, None, Duration::from_secs(120));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn helm_upgrade_install_list_uninstall() {
    let sb = Sandbox::start_blocking(SandboxConfig::default()).expect("sandbox");
    let kc = sb.kubeconfig_path("admin").expect("kubeconfig");
    let home = tempfile::tempdir().expect("helm home");
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-chart");
    let chart = chart.to_str().expect("utf-8 path");

    let (code, out, err) = helm(
        &kc,
        home.path(),
        &["upgrade", "--install", "demo", chart, "-n", "default"],
    );
    assert_eq!(code, 0, "install failed: {out}{err}");
    assert!(
        out.contains("STATUS: deployed") && out.contains("REVISION: 1"),
        "{out}"
    );

    let (code, out, err) = helm(
        &kc,
        home.path(),
        &[
            "upgrade",
            "--install",
            "demo",
            chart,
            "-n",
            "default",
            "--set",
            "greeting=hi",
        ],
    );
    assert_eq!(code, 0, "upgrade failed: {out}{err}");
    assert!(out.contains("REVISION: 2"), "{out}");

    let (code, out, err) = helm(&kc, home.path(), &["list", "-n", "default", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("helm list -o json");
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["revision"], "2");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "tiny-0.1.0");

    let cm = sb.with_store(|s| {
        s.get(&oc_mcp_sandbox::store::Key {
            gr: "/configmaps".into(),
            namespace: "default".into(),
            name: "demo-config".into(),
        })
        .cloned()
    });
    assert_eq!(
        cm.expect("chart ConfigMap exists")["data"]["greeting"],
        "hi"
    );
    let audit = sb.audit();
    assert!(
        audit.iter().any(|e| e.resource == "secrets"
            && e.verb == "create"
            && e.code == 201
            && e.content_type == "application/vnd.kubernetes.protobuf"),
        "the release Secret was sent as protobuf and stored"
    );

    let (code, out, err) = helm(&kc, home.path(), &["uninstall", "demo", "-n", "default"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("release \"demo\" uninstalled"), "{out}");
    let (_, out, _) = helm(&kc, home.path(), &["list", "-n", "default", "-o", "json"]);
    assert_eq!(out.trim(), "[]");
    let left = sb.with_store(|s| {
        s.list("/configmaps", Some("default"))
            .iter()
            .filter(|(k, _)| k.name == "demo-config")
            .count()
    });
    assert_eq!(left, 0);
}
