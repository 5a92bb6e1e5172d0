//! The real kubernetes-mcp-server deployed like its chart (ConfigMap config.toml with
//! require_oauth, skip_jwt_verification, passthrough, read_only; an Ingress with the
//! OpenShift termination annotation), reached over HTTPS through the sandbox router.

use crate::common;

use std::time::Duration;

use common::https;
use common::mcp::{self, McpApp};
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

fn routes_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource {
        group: "route.openshift.io".into(),
        version: "v1".into(),
        api_version: "route.openshift.io/v1".into(),
        kind: "Route".into(),
        plural: "routes".into(),
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

/// Wait for the admitted Route the ingress controller made for the app.
pub async fn admitted_route(client: &kube::Client, app: &McpApp) -> Value {
    let routes = routes_api(client, &app.namespace);
    common::wait_for(
        || async {
            let list = routes.list(&ListParams::default()).await.ok()?;
            list.items
                .into_iter()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .find(|r| {
                    r.pointer("/status/ingress/0/conditions/0/status") == Some(&json!("True"))
                })
        },
        Duration::from_secs(20),
        "an admitted Route",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // the guide's verification steps, one after the other
async fn real_server_behind_route_with_openshift_tokens() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let app = McpApp::default();
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    mcp::wait_ready_pod(&admin, &app).await;
    let route = admitted_route(&admin, &app).await;

    // The ingress-to-route controller's Route: suffixed name, owner, edge + Redirect.
    let name = route["metadata"]["name"].as_str().expect("name");
    let suffix = name
        .strip_prefix("kubernetes-mcp-server-")
        .expect("generateName <ingress>-");
    assert_eq!(suffix.len(), 5, "{name}");
    assert_eq!(route["metadata"]["generateName"], "kubernetes-mcp-server-");
    let owner = &route["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            owner["kind"].as_str(),
            owner["name"].as_str(),
            owner["controller"].as_bool()
        ),
        (Some("Ingress"), Some("kubernetes-mcp-server"), Some(true))
    );
    assert_eq!(
        route["spec"]["tls"],
        json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"})
    );
    assert_eq!(route["spec"]["port"]["targetPort"], "http");
    assert_eq!(route["spec"]["to"]["name"], "kubernetes-mcp-server");
    let host = app.host(sb.apps_domain());
    assert_eq!(route["spec"]["host"], host.as_str());
    assert_eq!(route["status"]["ingress"][0]["routerName"], "default");
    assert_eq!(
        route["status"]["ingress"][0]["conditions"][0]["type"],
        "Admitted"
    );
    // `oc get route kubernetes-mcp-server` finds nothing, as on a real cluster.
    assert!(
        routes_api(&admin, &app.namespace)
            .get_opt("kubernetes-mcp-server")
            .await
            .expect("get")
            .is_none()
    );

    // DIR/resolve and the library accessors agree.
    let line = format!("{host}:{}:127.0.0.1", sb.router_https_port());
    common::wait_for_resolve_line(&sb, &line, "DIR/resolve lists the route host").await;
    assert_eq!(sb.resolve(&host), Some(sb.router_https_addr()));
    assert!(sb.resolve_lines().contains(&line));

    let c = https::client(&sb, &[&host]);
    let base = sb.route_url(&host);
    let health = c
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);

    // Plain HTTP is redirected to HTTPS (insecureEdgeTerminationPolicy: Redirect).
    let plain = https::http_client(&sb, &host);
    let r = plain
        .get(format!("http://{host}:{}/healthz", sb.router_http_port()))
        .send()
        .await
        .expect("http");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("{base}/healthz").as_str())
    );
    // An unknown host gets the router's "Application is not available".
    let other = format!("nothing-here.{}", sb.apps_domain());
    let c_other = https::client(&sb, &[&other]);
    let r = c_other
        .get(format!("{}/healthz", sb.route_url(&other)))
        .send()
        .await
        .expect("unknown host");
    assert_eq!(r.status().as_u16(), 503);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("Application is not available")
    );

    let url = format!("{base}/mcp");
    let (code, headers, body) = https::post(
        &c,
        &url,
        None,
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
    )
    .await;
    assert_eq!(code, 401, "{body}");
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(challenge.contains("error=\"missing_token\""), "{challenge}");

    let member = sb.token("member").expect("token");
    assert!(member.starts_with("sha256~"), "opaque OpenShift token");
    let ns = https::call_tool(&c, &url, &member, "namespaces_list", &json!({})).await;
    assert_ne!(ns["isError"], true, "{ns}");
    let listing = https::text(&ns);
    for want in ["mcp-server", "openshift-config", "default"] {
        assert!(listing.contains(want), "{want} in {listing}");
    }
    let outsider = sb.token("outsider").expect("token");
    let denied = https::call_tool(&c, &url, &outsider, "namespaces_list", &json!({})).await;
    assert_eq!(denied["isError"], true, "{denied}");
    assert!(
        https::text(&denied)
            .contains("forbidden: User \"outsider\" cannot list resource \"namespaces\""),
        "{denied}"
    );
    // The API server saw each caller's own identity through the server (passthrough).
    let audit = sb.audit();
    assert!(audit.iter().any(|e| e.user == "member"
        && e.resource == "namespaces"
        && e.verb == "list"
        && e.code == 200
        && e.user_agent.starts_with("kubernetes-mcp-server")));
    assert!(
        audit
            .iter()
            .any(|e| e.user == "outsider" && e.resource == "namespaces" && e.code == 403)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_helpers_deploy_and_reach_the_server() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let app = oc_mcp_sandbox::apps::McpServerApp {
        namespace: "team-mcp".into(),
        ..Default::default()
    };
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    assert_eq!(url, format!("https://{host}:{}", sb.router_https_port()));
    let c = https::client(&sb, &[&host]);
    let r = c
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status().as_u16(), 200);
    // The pod's own address (what the router and port-forward reach).
    let pod = sb.with_store(|s| {
        s.list("/pods", Some("team-mcp"))
            .first()
            .map(|(k, _)| k.name.clone())
            .expect("a pod")
    });
    let addr = sb.pod_address("team-mcp", &pod, 8080).expect("served");
    assert!(sb.pod_address("team-mcp", &pod, 9999).is_none());
    // A loopback address of the pod's own (Linux routes all of 127/8 to lo).
    #[cfg(target_os = "linux")]
    assert!(
        matches!(addr.ip(), std::net::IpAddr::V4(ip) if ip.octets()[..2] == [127, 128]),
        "{addr}"
    );
    let direct = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("direct");
    assert_eq!(direct.status().as_u16(), 200);
    // Deploying again changes nothing.
    sb.deploy_mcp_server(&app).await.expect("idempotent");
}

/// With `pod_network: Some(127.0.0.1)` every pod listens on 127.0.0.1 (instead of an
/// address of its own) and still serves MCP through the Route; a non-loopback
/// `pod_network` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_loopback_pod_network_still_serves_mcp_through_the_route() {
    let refused = Sandbox::start(SandboxConfig {
        pod_network: Some(std::net::IpAddr::from([192, 0, 2, 2])),
        ..SandboxConfig::default()
    })
    .await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("not a loopback address")),
        "a non-loopback pod_network is refused"
    );
    let sb = Sandbox::start(SandboxConfig {
        pod_network: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let app = oc_mcp_sandbox::apps::McpServerApp::default();
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    let c = https::client(&sb, &[&host]);
    let member = sb.token("member").expect("token");
    let ns = https::list_namespaces(&c, &url, &member).await;
    assert!(https::text(&ns).contains("mcp-server"), "{ns}");
    let pod = sb.with_store(|s| {
        s.list("/pods", Some(&app.namespace))
            .first()
            .map(|(k, _)| k.name.clone())
            .expect("a pod")
    });
    let addr = sb.pod_address(&app.namespace, &pod, 8080).expect("served");
    assert_eq!(addr.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
}
