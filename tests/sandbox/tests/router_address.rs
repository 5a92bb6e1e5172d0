//! The router on an address and port of the caller's choosing (what `cargo xtask demo
//! --keep` uses so an editor can reach `https://<route host>/mcp`): the Route is served
//! there by its host with the sandbox CA, and an address off loopback is refused.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::https;
use common::mcp::McpApp;
use oc_mcp_sandbox::{Sandbox, SandboxConfig, SandboxError};
use serde_json::json;

/// An address of 127.0.0.0/8 no other test uses, so a fixed port on it cannot collide.
const ROUTER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 77, 5, 1);

/// A port free on `ip` a moment ago (bound, read, released).
fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Start a sandbox whose router listens on `ip:port`; a port taken between the probe and
/// the bind is probed again (at most 5 times).
fn start_on(ip: Ipv4Addr) -> (Sandbox, u16) {
    for _ in 0..5 {
        let port = free_port(ip);
        match Sandbox::start_blocking(SandboxConfig {
            router_addr: IpAddr::V4(ip),
            router_https_port: port,
            ..SandboxConfig::default()
        }) {
            Ok(sb) => return (sb, port),
            Err(SandboxError::Listen { .. }) => {}
            Err(e) => panic!("sandbox: {e}"),
        }
    }
    panic!("no free port on {ip} after 5 tries");
}

// Only Linux routes all of 127.0.0.0/8 to loopback without configuration.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_router_address_serves_the_route_by_its_host() {
    let (sb, port) = start_on(ROUTER_ADDR);
    let router = SocketAddr::new(IpAddr::V4(ROUTER_ADDR), port);
    assert_eq!(sb.router_https_addr(), router);
    assert_eq!(sb.router_http_addr().ip(), IpAddr::V4(ROUTER_ADDR));
    assert_ne!(sb.router_http_addr().port(), port);
    let app = McpApp::default();
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    assert_eq!(url, format!("https://{host}:{port}"));
    assert_eq!(sb.resolve(&host), Some(router));
    assert!(
        sb.resolve_lines()
            .contains(&format!("{host}:{port}:{ROUTER_ADDR}")),
        "{:?}",
        sb.resolve_lines()
    );
    let file = std::fs::read_to_string(sb.resolve_path()).unwrap_or_default();
    assert!(
        file.lines()
            .next()
            .is_some_and(|l| l == format!("{host}:{port}:{ROUTER_ADDR}")),
        "DIR/resolve: {file}"
    );
    // The client trusts only the sandbox CA and reaches the host through the fixed address.
    let client = https::client(&sb, &[&host]);
    let denied = client
        .post(format!("{url}/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .expect("through the router");
    assert_eq!(denied.status(), reqwest::StatusCode::UNAUTHORIZED);
    let token = sb.token("member").expect("member token");
    let ns = https::list_namespaces(&client, &url, &token).await;
    assert!(ns.to_string().contains(&app.namespace), "{ns}");
}

/// Port 443 itself, as `cargo xtask demo --keep` binds it, where this process may (root or
/// CAP_NET_BIND_SERVICE); elsewhere it is skipped, saying why.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_on_port_443_when_allowed() {
    let ip = Ipv4Addr::new(127, 77, 5, 2);
    if let Err(e) = std::net::TcpListener::bind((ip, 443)) {
        eprintln!("SKIPPING router_on_port_443_when_allowed: cannot bind {ip}:443 here ({e})");
        return;
    }
    let sb = Sandbox::start(SandboxConfig {
        router_addr: IpAddr::V4(ip),
        router_https_port: 443,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox on 443");
    assert_eq!(sb.router_https_addr(), SocketAddr::new(IpAddr::V4(ip), 443));
    // No Route has this host: the router answers itself, with the apps domain's certificate.
    let host = format!("nothing-here.{}", sb.apps_domain());
    let response = https::client(&sb, &[&host])
        .get(format!("https://{host}/"))
        .send()
        .await
        .expect("https on 443 with the sandbox CA");
    assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body = response.text().await.expect("body");
    assert!(body.contains("Application is not available"), "{body}");
}

#[test]
fn router_address_off_loopback_is_refused() {
    for ip in ["0.0.0.0", "192.0.2.1", "::"] {
        let err = Sandbox::start_blocking(SandboxConfig {
            router_addr: ip.parse().expect("ip"),
            ..SandboxConfig::default()
        })
        .expect_err(ip);
        assert!(
            matches!(&err, SandboxError::Config(m) if m.contains("not a loopback address")),
            "{ip}: {err}"
        );
    }
}

#[test]
fn serve_refuses_a_router_address_off_loopback() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"));
    cmd.args(["serve", "--router-addr", "0.0.0.0", "--dir"])
        .arg(dir.path());
    let out = common::run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(!dir.path().join("ready").exists(), "nothing started");
}
