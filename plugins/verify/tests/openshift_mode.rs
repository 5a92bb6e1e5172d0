//! `oc mcp-verify` against the real kubernetes-mcp-server deployed in the sandbox in openshift
//! mode (opaque tokens passed through): a correct deployment passes every check, and each
//! broken one fails the check that names the mistake while every other check still reports.

use crate::support;

use oc_mcp_sandbox::SandboxConfig;
use support::{
    App, Env,
    bench::{MCP_PASSES, UNAUTH_PASSES},
};

/// The release deployed as `oc mcp-install` does, ready, with its Route and OAuthClient.
async fn deployed() -> (Env, App) {
    let (env, app) = Env::serving(App::default()).await;
    env.register_oauth_client(&app).await;
    (env, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_openshift_deployment_passes_every_check() {
    let (env, app) = deployed().await;
    let host = app.host(env.sb.apps_domain());
    let tokens = env.tokens();
    let junit = env.dir.path().join("verify.xml");
    let out = env.verify_tokens(&app, &tokens, &["--junit", junit.to_str().expect("path")]);
    out.assert_passes(&[
        "cluster.namespace",
        "cluster.install",
        "cluster.deployment",
        "cluster.pods",
        "cluster.service",
        "logs.startup",
        "config.lint",
        "config.auth-mode",
        "config.secrets",
        "config.tools",
        "route.found",
        "route.tls",
        "route.insecure-policy",
        "route.admitted",
        "route.server-url",
        "route.oauth-redirect",
        "endpoint.tls",
    ]);
    out.assert_passes(&UNAUTH_PASSES);
    out.assert_passes(&MCP_PASSES);
    // No OAuth discovery in openshift mode: reported, not failed.
    out.assert_status("discovery.protected-resource", "info");
    out.assert_status("discovery.authorization-server", "info");

    // The evidence is what the server really said.
    let no_token = out.row("unauth.no-token").to_string();
    assert!(
        no_token.contains("401 Unauthorized")
            && no_token.contains("Bearer realm=\\\"Kubernetes MCP Server\\\"")
            && no_token.contains("missing_token"),
        "{no_token}"
    );
    let tools = out.row("mcp.tools").to_string();
    assert!(tools.contains("14 tools, all read-only"), "{tools}");
    out.assert_row_contains("passthrough.denied", &["forbidden"]);
    out.assert_row_contains("route.found", &["made from ingress/kubernetes-mcp-server"]);
    out.assert_row_contains(
        "mcp.initialize",
        &["kubernetes-mcp-server v0.0.67", "Mcp-Session-Id issued"],
    );
    let json = out.json();
    assert_eq!(json["summary"]["result"], "pass");
    assert_eq!(json["target"]["via"], "route");
    assert_eq!(json["target"]["authMode"], "openshift");
    assert_eq!(json["target"]["tokenSource"], "env MEMBER_TOKEN");
    assert_eq!(json["target"]["url"], format!("https://{host}/mcp"));

    let xml = std::fs::read_to_string(&junit).expect("junit");
    let tests = format!(
        "tests=\"{}\" failures=\"0\"",
        oc_mcp_verify::checks::CheckId::ALL.len()
    );
    assert!(xml.contains(&tests), "{xml}");
    assert!(
        xml.contains("name=\"unauth.no-token (No token: 401)\""),
        "{xml}"
    );
    assert!(!xml.contains(&tokens.member) && !xml.contains(&tokens.outsider));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_output_stdin_token_and_the_kubeconfig_token() {
    let (env, app) = deployed().await;
    let member = env.token("member");
    let table = env.verify(&app, &["-o", "table", "--token-stdin"], &[]);
    // --token-stdin with no stdin piped in reads an empty token: a usage error, exit 2.
    assert_eq!(table.code, Some(2), "{}", table.stderr);
    let table = env.verify_stdin(&app, &["-o", "table", "--token-stdin"], &[], Some(&member));
    assert_eq!(table.code, Some(0), "{}{}", table.stdout, table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("CHECK") && lines[0].contains("STATUS"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("unauth.no-token"), "{}", table.stdout);
    assert!(
        table.stdout.contains("the deployment is verified"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("why: pass a token of a user outside the bound groups"),
        "{}",
        table.stdout
    );
    table.assert_no_secrets(&[&member]);

    // Without --token-*: the kubeconfig user's own token (admin here), as `oc whoami -t`.
    let default = env.verify(&app, &["--only", "mcp,passthrough.user"], &[]);
    assert_eq!(default.code, Some(0), "{}", default.summary());
    assert_eq!(default.json()["target"]["tokenSource"], "kubeconfig");
    default.assert_no_secrets(&[&env.token("admin")]);
}

/// `-o json` is a stable, versioned document: a snapshot with the volatile values (random
/// suffixes, ports, timestamps, dates) replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_matches_its_snapshot() {
    let (env, app) = deployed().await;
    let out = env.verify_tokens(&app, &env.tokens(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.summary());
    insta::with_settings!({filters => vec![
        (r"kubernetes-mcp-server-[a-z0-9]{6,10}-[a-z0-9]{5}", "[pod]"),
        (r"route/kubernetes-mcp-server-[a-z0-9]{5}", "route/kubernetes-mcp-server-[suffix]"),
        (r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ", "[klog] "),
        (r"\d+\.\d+\.\d+\.\d+:\d+", "[addr]"),
        (r"\d{4}-\d\d-\d\d \(-?\d+ days\)", "[date] ([n] days)"),
    ]}, {
        insta::assert_snapshot!(out.stdout);
    });
}

/// `kubectl mcp-verify`: kubectl finds the plugin on PATH and runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_runs_the_plugin() {
    let (env, app) = deployed().await;
    let plugins = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        env!("CARGO_BIN_EXE_kubectl-mcp_verify"),
        plugins.path().join("kubectl-mcp_verify"),
    )
    .expect("copy");
    let kubectl = oc_mcp_sandbox::tools::kubectl();
    let path = std::env::join_paths([
        plugins.path().to_path_buf(),
        std::path::PathBuf::from("/usr/bin"),
        std::path::PathBuf::from("/bin"),
    ])
    .expect("PATH");
    let member = env.token("member");
    let mut cmd = std::process::Command::new(&kubectl);
    cmd.args(["mcp-verify", "--kubeconfig"])
        .arg(&env.admin)
        .args(["-n", &app.namespace, "--connect-to", &env.connect_to(&app)])
        .arg("--endpoint-ca")
        .arg(&env.ca)
        .args(["--token-env", "MEMBER_TOKEN", "-o", "json"])
        .args(["--role", &app.role()])
        .env("PATH", &path)
        .env("_", &kubectl)
        .env("MEMBER_TOKEN", &member)
        .env_remove("KUBECONFIG");
    let out = support::run_bounded(cmd, None, std::time::Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{}\n{}", out.summary(), out.stderr);
    out.assert_complete();
    out.assert_only_failures(&[]);
    out.assert_no_secrets(&[&member]);
    // Help names the command the user typed.
    let mut help = std::process::Command::new(&kubectl);
    help.args(["mcp-verify", "--help"])
        .env("PATH", &path)
        .env("_", &kubectl);
    let help = support::run_bounded(help, None, std::time::Duration::from_secs(60));
    assert!(
        help.stdout.contains("Usage: kubectl mcp-verify"),
        "{}",
        help.stdout
    );
}

/// `--port-forward`: an internal deployment (no Ingress) checked through a native
/// port-forward to its pod; everything but the Route checks runs and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_verifies_an_internal_deployment() {
    let env = Env::start(SandboxConfig::default()).await;
    let app = App {
        termination: None,
        ..App::default()
    };
    env.deploy(&app).await;
    env.wait_ready(&app).await;
    let out = env.verify_tokens(&app, &env.tokens(), &["--port-forward"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.summary(), out.stderr);
    out.assert_only_failures(&[]);
    let json = out.json();
    assert_eq!(json["target"]["via"], "port-forward");
    let url = json["target"]["url"].as_str().unwrap_or("");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    out.assert_status("route.found", "info");
    out.assert_status("endpoint.tls", "skip");
    out.assert_passes(&UNAUTH_PASSES);
    out.assert_passes(&MCP_PASSES);
}

/// The Helm release's own record (its revision Secrets' labels), `-o yaml`, and `-vvv`
/// debug logs that still carry no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_release_yaml_output_and_verbose_logs() {
    use k8s_openapi::api::core::v1::Secret;
    let (env, app) = deployed().await;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(env.admin().await, &app.namespace);
    let release = |version: u32, status: &str| -> Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("sh.helm.release.v1.kubernetes-mcp-server.v{version}"),
                "labels": {"owner": "helm", "name": "kubernetes-mcp-server", "status": status,
                    "version": version.to_string()}},
            "type": "helm.sh/release.v1",
            "data": {"release": "SDRzSUFBQUFBQUFBLzZxdUJRUUFBUC8vbGFCc1RRTUFBQUE9"}
        }))
        .expect("secret")
    };
    secrets
        .create(&kube::api::PostParams::default(), &release(1, "deployed"))
        .await
        .expect("release v1");
    let member = env.token("member");
    let out = env.verify(&app, &["--only", "cluster"], &[]);
    out.assert_status("cluster.install", "pass");
    out.assert_row_contains(
        "cluster.install",
        &["Helm release kubernetes-mcp-server: revision 1 deployed"],
    );
    secrets
        .create(&kube::api::PostParams::default(), &release(2, "failed"))
        .await
        .expect("release v2");
    let out = env.verify(&app, &["--only", "cluster"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("cluster.install", "fail");
    let fix = out.fix("cluster.install");
    assert!(fix.contains("helm history kubernetes-mcp-server"), "{fix}");

    let yaml = env.verify(&app, &["-o", "yaml", "--only", "endpoint,unauth"], &[]);
    assert_eq!(yaml.code, Some(0), "{}{}", yaml.stdout, yaml.stderr);
    assert!(
        yaml.stdout
            .starts_with("apiVersion: oc-mcp.io/verify/v1\nkind: VerifyReport\n"),
        "{}",
        yaml.stdout
    );

    let verbose = env.verify(
        &app,
        &["-vvv", "--token-env", "T", "--only", "mcp,passthrough"],
        &[("T", &member)],
    );
    assert_eq!(verbose.code, Some(0), "{}", verbose.stderr);
    assert!(!verbose.stderr.is_empty(), "-vvv logs on stderr");
    verbose.assert_no_secrets(&[&member, &env.token("admin")]);
}

/// The router's certificate is not trusted without its CA: TLS fails and the token is not
/// sent; --endpoint-insecure sends it anyway, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_keeps_the_token_home() {
    let (env, app) = deployed().await;
    let member = env.token("member");
    let empty_ca = env.dir.path().join("other-ca.pem");
    // Some other CA: a self-contained PEM that did not sign the router's certificate.
    let other = rcgen::generate_simple_self_signed(vec!["other.example.com".into()]).expect("cert");
    std::fs::write(&empty_ca, other.cert.pem()).expect("write");
    let out = env.verify(
        &app,
        &[
            "--endpoint-ca",
            empty_ca.to_str().expect("path"),
            "--token-env",
            "T",
        ],
        &[("T", &member)],
    );
    out.assert_complete();
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("endpoint.tls", "fail");
    // The negative probes still run (they carry no secret) and show the server's answers.
    out.assert_status("endpoint.health", "pass");
    out.assert_status("unauth.no-token", "pass");
    out.assert_status("mcp.initialize", "skip");
    let why = out.fix("mcp.initialize");
    assert!(why.contains("not trusted"), "{why}");
    out.assert_only_failures(&["endpoint.tls"]);

    let out = env.verify(
        &app,
        &[
            "--endpoint-ca",
            empty_ca.to_str().expect("path"),
            "--endpoint-insecure",
            "--token-env",
            "T",
        ],
        &[("T", &member)],
    );
    // --endpoint-ca and --endpoint-insecure contradict each other.
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_verify"));
    cmd.arg("--kubeconfig")
        .arg(&env.admin)
        .args(["-n", &app.namespace, "--connect-to", &env.connect_to(&app)])
        .args(["--endpoint-insecure", "--token-env", "T", "-o", "json"])
        .args(["--role", &app.role()])
        .env("T", &member)
        .env_remove("KUBECONFIG");
    let out = support::run_bounded(cmd, None, std::time::Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_status("endpoint.tls", "warn");
    out.assert_status("mcp.initialize", "pass");
    assert!(out.stderr.contains("--endpoint-insecure"), "{}", out.stderr);
    out.assert_no_secrets(&[&member]);
}
