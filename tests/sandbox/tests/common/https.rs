//! HTTPS through the sandbox router with reqwest: the sandbox CA, Route hosts resolved to
//! the router, and the MCP streamable-HTTP handshake.

use std::time::Duration;

use oc_mcp_sandbox::Sandbox;
use serde_json::{Value, json};

/// The settings every test client shares: a bounded wait, and redirects left to the test.
fn builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
}

/// A client that trusts the sandbox CA and resolves `hosts` to the router.
pub fn client(sb: &Sandbox, hosts: &[&str]) -> reqwest::Client {
    let mut b = builder().pool_max_idle_per_host(0);
    for cert in reqwest::Certificate::from_pem_bundle(sb.ca_pem().as_bytes()).expect("CA") {
        b = b.add_root_certificate(cert);
    }
    for h in hosts {
        b = b.resolve(h, sb.router_https_addr());
    }
    b.build().expect("client")
}

/// A client for plain HTTP through the router: `host` resolved to its HTTP port.
pub fn http_client(sb: &Sandbox, host: &str) -> reqwest::Client {
    builder()
        .resolve(host, sb.router_http_addr())
        .build()
        .expect("client")
}

/// A client that takes any certificate from the router's HTTPS port for `host` (to reach what
/// answers there when no Route or Ingress has the host).
pub fn insecure_client(sb: &Sandbox, host: &str) -> reqwest::Client {
    builder()
        .danger_accept_invalid_certs(true)
        .resolve(host, sb.router_https_addr())
        .build()
        .expect("client")
}

/// `namespaces_list` through the MCP endpoint under `url` as the holder of `token`, which
/// must succeed; the tool's result.
pub async fn list_namespaces(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let ns = call_tool(
        c,
        &format!("{url}/mcp"),
        token,
        "namespaces_list",
        &json!({}),
    )
    .await;
    assert_ne!(ns["isError"], true, "{ns}");
    ns
}

/// The JSON-RPC messages of an SSE (or plain JSON) MCP response.
pub fn messages(body: &str) -> Vec<Value> {
    let from_sse: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    if from_sse.is_empty() {
        serde_json::from_str(body).into_iter().collect()
    } else {
        from_sse
    }
}

/// POST one JSON-RPC message to `url` (the `/mcp` endpoint).
pub async fn post(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut r = c
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(s) = session {
        r = r.header("mcp-session-id", s);
    }
    let resp = r.send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    (code, headers, text)
}

/// `initialize` (+ `notifications/initialized`); returns the session id.
pub async fn initialize(c: &reqwest::Client, url: &str, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "oc-mcp-sandbox-test", "version": "0.1.0"}}});
    let (code, headers, body) = post(c, url, Some(token), None, &init).await;
    assert_eq!(code, 200, "initialize: {body}");
    let msgs = messages(&body);
    assert_eq!(
        msgs.first()
            .and_then(|m| m.pointer("/result/serverInfo/name")),
        Some(&json!("kubernetes-mcp-server")),
        "{body}"
    );
    let sid = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("Mcp-Session-Id")
        .to_string();
    let (code, _, _) = post(
        c,
        url,
        Some(token),
        Some(&sid),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(code, 202);
    sid
}

/// initialize + one `tools/call`; returns the call's `result`.
pub async fn call_tool(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    args: &Value,
) -> Value {
    let sid = initialize(c, url, token).await;
    let (code, _, body) = post(
        c,
        url,
        Some(token),
        Some(&sid),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    messages(&body)
        .into_iter()
        .find(|m| m.get("id") == Some(&json!(2)))
        .map_or_else(|| panic!("no result in {body}"), |m| m["result"].clone())
}

/// The text content of a tool result.
pub fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
