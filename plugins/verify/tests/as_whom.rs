//! As whom verify ran: the report names the MCP token's user and groups; an administrator's
//! token makes `passthrough.user` a warning, not proof; a member's is proof. An outsider who
//! may not read the namespace gets "unknown (forbidden)" rows and exit 3, never "missing".

use crate::support;

use support::{App, Env};

async fn deployed() -> (Env, App) {
    Env::serving(App::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_as_whom_and_an_admin_token_is_no_proof() {
    let (env, app) = deployed().await;
    let tokens = env.tokens();
    let admin = env.token("admin");

    // A member's token: proof, and the report says whose it was.
    let out = env.verify_tokens(&app, &tokens, &[]);
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_status("passthrough.user", "pass");
    let json = out.json();
    assert_eq!(json["target"]["identity"]["user"], "member", "{json}");
    assert_eq!(json["target"]["identity"]["source"], "SelfSubjectReview");
    let groups = json["target"]["identity"]["groups"].to_string();
    assert!(groups.contains("mcp-users"), "{groups}");
    assert_eq!(json["target"]["deniedIdentity"]["user"], "outsider");
    for id in ["mcp.initialize", "passthrough.user"] {
        out.assert_row_contains(id, &["ran as user member"]);
    }
    out.assert_row_contains("passthrough.denied", &["ran as user outsider"]);

    // The administrator's own token (the kubeconfig's): a warning naming why.
    let out = env.verify(&app, &[], &[]);
    assert_eq!(out.code, Some(0), "warnings do not fail: {}", out.summary());
    out.assert_status("passthrough.user", "warn");
    out.assert_row_contains(
        "passthrough.user",
        &[
            "ran as user admin",
            "outside the subjects bound to clusterrole/",
            "can create pods in every namespace",
            "not proof of what members get",
        ],
    );
    assert_eq!(out.json()["target"]["identity"]["user"], "admin");
    // With --strict the warning fails the run.
    let out = env.verify_stdin(&app, &["--strict", "--token-stdin"], &[], Some(&admin));
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_no_secrets(&[&admin]);

    // The table says it too.
    let table = env.verify_stdin(
        &app,
        &["-o", "table", "--token-stdin"],
        &[],
        Some(&tokens.member),
    );
    assert!(
        table
            .stdout
            .contains("the MCP checks ran as user member (groups "),
        "{}",
        table.stdout
    );
    table.assert_no_secrets(&[&tokens.member]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_sees_unknown_forbidden_and_exit_3() {
    let (env, app) = deployed().await;
    let kubeconfig = env.sb.kubeconfig_path("outsider").expect("kubeconfig");
    let out = env.verify_with(&kubeconfig, &app, &[], &[], None);
    out.assert_complete();
    assert_eq!(out.code, Some(3), "{}", out.summary());
    for id in [
        "cluster.namespace",
        "cluster.install",
        "cluster.deployment",
        "cluster.service",
        "config.lint",
    ] {
        out.assert_status(id, "fail");
        let row = out.row(id);
        let evidence = row["evidence"].to_string();
        assert!(evidence.contains("unknown (forbidden)"), "{id}: {row}");
    }
    // Nothing is reported as missing, and nobody is told to reinstall.
    let json = out.json();
    for row in json["checks"].as_array().expect("checks") {
        let text = row.to_string();
        assert!(
            !text.contains("no Deployment") && !text.contains("mcp-install"),
            "a forbidden read reported as missing: {text}"
        );
    }
}
