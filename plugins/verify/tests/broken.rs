//! Broken deployments of the real server in the sandbox: each one fails the check that names
//! the mistake, the report stays complete (no other check crashes), and the exit code is the
//! documented class.

use crate::support;

use std::time::Duration;

use oc_mcp_common::server_config::ServerConfig;
use oc_mcp_sandbox::SandboxConfig;
use serde_json::json;
use support::{App, Env};

fn app_in(namespace: &str, config: String) -> App {
    App {
        namespace: namespace.into(),
        config,
        ..App::default()
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn with(config: &ServerConfig, edit: impl FnOnce(&mut ServerConfig)) -> String {
    let mut c = config.clone();
    edit(&mut c);
    c.to_toml_string()
}

/// Configuration mistakes and Route/OAuthClient mistakes, one namespace each, one sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one deployment per mistake, checked in turn
async fn each_configuration_mistake_fails_its_check() {
    let env = Env::start(SandboxConfig::default()).await;
    let openshift = ServerConfig::openshift::<&str>(&[]);
    let noauth = app_in(
        "v-noauth",
        ServerConfig::without_auth::<&str>(&[]).to_toml_string(),
    );
    let writable = app_in(
        "v-writable",
        with(&openshift, |c| {
            c.read_only = Some(false);
            c.disable_destructive = Some(false);
        }),
    );
    let allow = app_in("v-allow", openshift.to_toml_string());
    let http_url = app_in(
        "v-httpurl",
        with(&openshift, |c| {
            c.server_url = Some(format!(
                "http://kubernetes-mcp-server-v-httpurl.{}",
                env.sb.apps_domain()
            ));
        }),
    );
    let wrong_host = app_in(
        "v-wronghost",
        with(&openshift, |c| {
            c.server_url = Some("https://mcp.elsewhere.example.com".into());
        }),
    );
    let redirect = app_in("v-redirect", openshift.to_toml_string());
    let apps = [
        &noauth,
        &writable,
        &allow,
        &http_url,
        &wrong_host,
        &redirect,
    ];
    let routes = env.deploy_serving(&apps).await;
    env.patch_route(
        &allow,
        &routes[2],
        json!({"spec": {"tls": {"insecureEdgeTerminationPolicy": "Allow"}}}),
    )
    .await;
    env.oauth_client(
        "stale-client",
        &["https://old-host.example.com/oauth/callback".to_owned()],
        &redirect.role(),
    )
    .await;

    let tokens = env.tokens();
    let run = |app: &App, extra: &[&str]| env.verify_tokens(app, &tokens, extra);

    // require_oauth = false: anyone gets in.
    let out = run(&noauth, &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("unauth.no-token", "fail");
    out.assert_row_contains("unauth.no-token", &["without a token: 200 OK"]);
    out.assert_status("config.auth-mode", "fail");
    out.assert_status("discovery.protected-resource", "skip");
    out.assert_only_failures(&["unauth.no-token", "config.auth-mode"]);

    // read_only = false: write and destructive tools are exposed.
    let out = run(&writable, &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("mcp.tools", "fail");
    out.assert_row_contains(
        "mcp.tools",
        &[
            "pods_delete (destructive)",
            "pods_exec (destructive)",
            "resources_delete (destructive)",
            "pods_run",
        ],
    );
    out.assert_status("config.tools", "fail");
    out.assert_only_failures(&["mcp.tools", "config.tools"]);

    // The Route lets plain HTTP through.
    run(&allow, &[]).assert_fails_only("route.insecure-policy", &[]);

    // server_url http://, and server_url on another host.
    for app in [&http_url, &wrong_host] {
        let out = run(app, &[]);
        assert_eq!(out.code, Some(1), "{}", out.summary());
        out.assert_status("route.server-url", "fail");
        let fix = out.fix("route.server-url");
        assert!(
            fix.contains(&format!(
                "server_url = \"https://{}/mcp\"",
                app.host(env.sb.apps_domain())
            )),
            "{fix}"
        );
        out.assert_only_failures(&["route.server-url"]);
    }

    // The OAuthClient's redirect URI is for another host.
    run(&redirect, &["--oauth-client", "stale-client"]).assert_fails_only(
        "route.oauth-redirect",
        &["https://old-host.example.com/oauth/callback"],
    );
}

/// `serviceAccount.automountToken: false`: the pod crash-loops on "no current-context", and
/// the report says so and says what to change; nothing else crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automount_token_false_is_a_crash_loop_with_its_cause() {
    let env = Env::start(SandboxConfig {
        crash_backoff: Duration::from_millis(500),
        ..SandboxConfig::default()
    })
    .await;
    let app = App {
        automount_token: false,
        ..App::default()
    };
    env.deploy(&app).await;
    env.wait_route(&app).await;
    env.wait_restarts(&app, 1).await;
    let member = env.token("member");
    let out = env.verify(
        &app,
        &["--token-env", "MEMBER_TOKEN"],
        &[("MEMBER_TOKEN", &member)],
    );
    out.assert_complete();
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("cluster.pods", "fail");
    let pods = out.row("cluster.pods");
    assert!(
        pods["fix"]
            .as_str()
            .unwrap_or("")
            .contains("automountToken is false"),
        "{pods}"
    );
    out.assert_status("logs.startup", "fail");
    out.assert_row_contains("logs.startup", &["no current-context"]);
    out.assert_status("cluster.deployment", "fail");
    // The router has no backend: the endpoint answers, with a 503.
    out.assert_status("endpoint.health", "fail");
    out.assert_row_contains("endpoint.health", &["503"]);
    out.assert_no_secrets(&[&member]);
}

/// A server that uses its own identity (no token required, cluster_auth_mode kubeconfig):
/// a user outside the bound groups gets answers. Passthrough denial fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_using_its_own_identity_fails_passthrough_denial() {
    let env = Env::start(SandboxConfig::default()).await;
    let config = with(&ServerConfig::without_auth::<&str>(&[]), |c| {
        c.cluster_auth_mode = Some("kubeconfig".into());
    });
    let app = App {
        config,
        sa_reads: true,
        ..App::default()
    };
    env.deploy_serving(&[&app]).await;
    let out = env.verify_tokens(&app, &env.tokens(), &[]);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("passthrough.denied", "fail");
    out.assert_status("unauth.no-token", "fail");
    out.assert_status("unauth.garbage-token", "fail");
    // The reads it was given make its ServiceAccount hold a role: caught as well.
    out.assert_status("cluster.service-account", "fail");
    out.assert_only_failures(&[
        "passthrough.denied",
        "unauth.no-token",
        "unauth.garbage-token",
        "config.auth-mode",
        // The linter names the shared identity too (cluster_auth_mode = "kubeconfig").
        "config.lint",
        "cluster.service-account",
    ]);
}

/// Token and reachability problems against a correct deployment: an unbound user's token
/// (exit 1, passthrough.user), a token the cluster rejects (exit 3), no endpoint (exit 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_reachability_failures_have_their_exit_codes() {
    let (env, app) = Env::serving(App::default()).await;

    // An unbound user's token: the cluster refuses the read tool.
    let outsider = env.token("outsider");
    let out = env.verify(&app, &["--token-env", "T"], &[("T", &outsider)]);
    out.assert_complete();
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("passthrough.user", "fail");
    let fix = out.fix("passthrough.user");
    assert!(fix.contains("oc mcp-rbac bind"), "{fix}");
    out.assert_only_failures(&["passthrough.user"]);
    out.assert_no_secrets(&[&outsider]);

    // A token the cluster does not know (expired or revoked): exit 3.
    let file = env.dir.path().join("stale-token");
    std::fs::write(&file, "sha256~expired-or-revoked-token-value\n").expect("token file");
    let out = env.verify(&app, &["--token-file", file.to_str().expect("path")], &[]);
    out.assert_complete();
    assert_eq!(out.code, Some(3), "{}", out.summary());
    out.assert_status("passthrough.user", "fail");
    assert_eq!(out.row("passthrough.user")["failureClass"], "auth");
    out.assert_no_secrets(&["sha256~expired-or-revoked-token-value"]);

    // Nothing listens where the Route should be reached: exit 4.
    let closed = closed_port();
    let out = env.verify(
        &app,
        &[
            "--url",
            &format!("https://127.0.0.1:{closed}/mcp"),
            "--only",
            "endpoint,unauth,mcp",
        ],
        &[],
    );
    out.assert_status("endpoint.health", "fail");
    assert_eq!(out.row("endpoint.health")["failureClass"], "unreachable");
    assert_eq!(out.code, Some(4), "{}", out.summary());
    out.assert_status("mcp.initialize", "skip");
}

/// An internal deployment (no Ingress) and a Route without TLS, side by side; and `--url`
/// with no cluster access at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_plain_http_and_url_only() {
    let env = Env::start(SandboxConfig::default()).await;
    let internal = App {
        namespace: "v-internal".into(),
        termination: None,
        ..App::default()
    };
    let plain = App {
        namespace: "v-plain".into(),
        termination: Some(String::new()),
        ..App::default()
    };
    let routed = App {
        namespace: "v-url".into(),
        ..App::default()
    };
    // The plain Route serves no https: it is only waited for.
    env.deploy(&internal).await;
    env.deploy(&plain).await;
    env.deploy_serving(&[&routed]).await;
    env.wait_ready(&internal).await;
    env.wait_ready(&plain).await;
    env.wait_route(&plain).await;
    let member = env.token("member");
    let tokens = [("MEMBER_TOKEN", member.as_str())];

    // No Route: nothing to probe without --port-forward; said as a warning, not a failure.
    let out = env.verify(&internal, &["--token-env", "MEMBER_TOKEN"], &tokens);
    out.assert_complete();
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_status("route.found", "warn");
    let fix = out.fix("route.found");
    assert!(fix.contains("--port-forward"), "{fix}");
    out.assert_status("endpoint.health", "skip");
    out.assert_status("mcp.initialize", "skip");
    // ... and --strict makes the warning count.
    let out = env.verify(
        &internal,
        &["--token-env", "MEMBER_TOKEN", "--strict"],
        &tokens,
    );
    assert_eq!(out.code, Some(1), "{}", out.summary());
    assert_eq!(out.json()["summary"]["result"], "fail");

    // A Route without TLS: the token is never sent over plain HTTP.
    let host = plain.host(env.sb.apps_domain());
    let http = format!("{host}:80:127.0.0.1:{}", env.sb.router_http_port());
    let out = env.verify(
        &plain,
        &["--connect-to", &http, "--token-env", "MEMBER_TOKEN"],
        &tokens,
    );
    out.assert_complete();
    assert_eq!(out.code, Some(1), "{}", out.summary());
    assert_eq!(out.json()["target"]["url"], format!("http://{host}/mcp"));
    out.assert_status("route.tls", "fail");
    out.assert_status("route.insecure-policy", "skip");
    out.assert_status("endpoint.tls", "fail");
    out.assert_status("unauth.no-token", "pass");
    out.assert_status("mcp.initialize", "skip");
    let why = out.fix("mcp.initialize");
    assert!(why.contains("plain http"), "{why}");
    out.assert_only_failures(&["route.tls", "endpoint.tls"]);

    // --url with no kubeconfig at all: the cluster checks are skipped, the endpoint checked.
    let home = tempfile::tempdir().expect("home");
    let host = routed.host(env.sb.apps_domain());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_verify"));
    // curl's --resolve: the URL carries the router's port, DNS is replaced for host:port.
    let port = env.sb.router_https_port();
    cmd.args(["--url", &format!("https://{host}:{port}/mcp")])
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg("--endpoint-ca")
        .arg(&env.ca)
        .args(["--token-env", "MEMBER_TOKEN", "-o", "json"])
        .env("MEMBER_TOKEN", &member)
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST");
    let out = support::run_bounded(cmd, None, Duration::from_secs(120));
    out.assert_complete();
    out.assert_status("cluster.namespace", "skip");
    out.assert_status("config.lint", "skip");
    out.assert_status("endpoint.tls", "pass");
    out.assert_status("unauth.no-token", "pass");
    // The mode is unknown without the ConfigMap; the 404 metadata says openshift-like.
    out.assert_status("discovery.protected-resource", "info");
    out.assert_status("passthrough.user", "pass");
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_no_secrets(&[&member]);
}

/// A router that stalls on /mcp: every wait is bounded by --timeout, the run ends, and the
/// endpoint counts as unreachable (exit 4). A dropped connection is reported, not a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_router_is_bounded_by_the_timeout() {
    use oc_mcp_sandbox::faults::{FaultKind, FaultRule, Target};
    let (env, app) = Env::serving(App::default()).await;
    env.sb.add_fault(
        FaultRule::new(FaultKind::Latency(Duration::from_secs(20)))
            .path("/mcp")
            .target(Target::Router),
    );
    let member = env.token("member");
    let started = std::time::Instant::now();
    let out = env.verify(
        &app,
        &["--timeout", "2s", "--token-env", "T"],
        &[("T", &member)],
    );
    out.assert_complete();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.code, Some(4), "{}", out.summary());
    out.assert_status("endpoint.health", "pass");
    out.assert_status("unauth.no-token", "fail");
    assert_eq!(out.row("unauth.no-token")["failureClass"], "unreachable");
    assert!(env.sb.faults_injected() > 0);

    env.sb.clear_faults();
    env.sb.add_fault(
        FaultRule::new(FaultKind::Drop)
            .path("/healthz")
            .target(Target::Router),
    );
    let out = env.verify(&app, &["--token-env", "T"], &[("T", &member)]);
    out.assert_complete();
    out.assert_status("endpoint.health", "fail");
    assert_ne!(out.code, Some(0), "{}", out.summary());
    out.assert_no_secrets(&[&member]);
}

/// The API server cannot be reached: exit 4, even when only endpoint checks were asked for
/// (the Route, and so the endpoint, is unknown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_server_is_exit_4() {
    let env = Env::start(SandboxConfig::default()).await;
    let closed = closed_port();
    let yaml = std::fs::read_to_string(&env.admin).expect("kubeconfig");
    let dead = env.dir.path().join("dead-kubeconfig");
    std::fs::write(
        &dead,
        yaml.replace(env.sb.url(), &format!("https://127.0.0.1:{closed}")),
    )
    .expect("write");
    for only in [None, Some("mcp")] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_verify"));
        cmd.arg("--kubeconfig")
            .arg(&dead)
            .args(["--request-timeout", "5s", "-o", "json"])
            .env_remove("KUBECONFIG");
        if let Some(only) = only {
            cmd.args(["--only", only]);
        }
        let out = support::run_bounded(cmd, None, Duration::from_secs(120));
        assert_eq!(
            out.code,
            Some(4),
            "{only:?}: {}\n{}",
            out.summary(),
            out.stderr
        );
        if only.is_none() {
            out.assert_complete();
            assert_eq!(out.row("cluster.namespace")["failureClass"], "unreachable");
        } else {
            out.assert_status("mcp.initialize", "fail");
        }
    }
}
