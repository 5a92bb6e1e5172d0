//! The guide's verification steps: `kubectl-mcp_verify` against the same checks by hand.

use std::{
    ffi::OsStr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::measure::{any_output, measure, ratio, sh_quote, summary};
use crate::demo;

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

/// `--connect-to HOST:443:127.0.0.1:PORT` for the route (no DNS serves the apps domain).
pub(super) fn connect_to_arg(env: &demo::Env) -> Result<String> {
    let line = route_line(env)?;
    let port = line.split(':').nth(1).context("malformed resolve line")?;
    Ok(format!("{HOST}:443:127.0.0.1:{port}"))
}

/// `HOST:PORT:127.0.0.1` from the sandbox's resolve file (curl's `--resolve`), once the
/// router serves the route (the sandbox rewrites the file as Routes are admitted).
fn route_line(env: &demo::Env) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(env.sandbox_dir.join("resolve")).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with(&format!("{HOST}:"))) {
            return Ok(line.to_owned());
        }
        ensure!(
            Instant::now() < deadline,
            "the sandbox's resolve file has no line for {HOST} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn verify_args<'a>(connect_to: &'a str, ca: &'a str) -> Vec<&'a str> {
    vec![
        "mcp-verify",
        "--connect-to",
        connect_to,
        "--endpoint-ca",
        ca,
        "--token-env",
        "MCP_MEMBER_TOKEN",
        "--denied-token-env",
        "MCP_OUTSIDER_TOKEN",
    ]
}

/// The guide's steps 12-14 by hand: 3 kubectl and 2 curl calls; the token reaches curl in a
/// header file, never in argv.
const HAND_SCRIPT: &str = r#"set -e
"$KUBECTL" get pods -n mcp-server
"$KUBECTL" logs deployment/kubernetes-mcp-server -n mcp-server >/dev/null
ROUTE_HOST=$("$KUBECTL" get route -n mcp-server -o jsonpath='{.items[0].spec.host}')
BODY='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}}}'
HDR=$(mktemp); chmod 600 "$HDR"; printf 'Authorization: Bearer %s\n' "$MCP_MEMBER_TOKEN" > "$HDR"
trap 'rm -f "$HDR"' EXIT
unauth=$(curl -s -o /dev/null -w '%{http_code}' --connect-to "$CONNECT_TO" --cacert "$CA" -X POST "https://${ROUTE_HOST}/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$BODY")
auth=$(curl -s -o /dev/null -w '%{http_code}' --connect-to "$CONNECT_TO" --cacert "$CA" -X POST "https://${ROUTE_HOST}/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H @"$HDR" -d "$BODY")
echo "unauthenticated=$unauth authenticated=$auth"
test "$unauth" = 401 && test "$auth" = 200
"#;

/// What the hand script lets a person check: pods running, the log read, the route's host,
/// 401 without a token, 200 with one.
const HAND_CHECKS: usize = 5;

pub(super) fn verification(env: &demo::Env, runs: usize, work: &Path) -> Result<Value> {
    let connect_to = connect_to_arg(env)?;
    let ca = env.sandbox_dir.join("ca.crt");
    let member = demo::kubeconfig_token(&env.kubeconfig, "member")?;
    let outsider = demo::kubeconfig_token(&env.kubeconfig, "outsider")?;
    let vars: Vec<(&str, &OsStr)> = vec![
        ("PATH", env.path.as_os_str()),
        ("KUBECONFIG", env.kubeconfig.as_os_str()),
        ("MCP_MEMBER_TOKEN", OsStr::new(&member)),
        ("MCP_OUTSIDER_TOKEN", OsStr::new(&outsider)),
        ("KUBECTL", env.kubectl.as_os_str()),
        // No DNS serves the apps domain: curl connects to the router as verify does.
        ("CONNECT_TO", OsStr::new(&connect_to)),
        ("CA", ca.as_os_str()),
    ];
    let ca_text = ca.display().to_string();
    let verify = verify_args(&connect_to, &ca_text)
        .iter()
        .skip(1)
        .map(|a| sh_quote(OsStr::new(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let verify_script = format!("kubectl-mcp_verify -o json {verify}");
    let checks = std::cell::Cell::new(0usize);
    eprintln!("xtask: bench verification x{runs}");
    let ours = measure(work, &verify_script, &vars, runs, |stdout| {
        let report: Value = serde_json::from_slice(stdout)?;
        let rows = report["checks"].as_array().context("no checks")?;
        let bad: Vec<&Value> = rows
            .iter()
            .filter(|c| matches!(c["status"].as_str(), Some("fail" | "error")))
            .collect();
        ensure!(bad.is_empty(), "checks failed: {bad:?}");
        checks.set(rows.len());
        Ok(())
    })?;
    let hand = measure(work, HAND_SCRIPT, &vars, runs, any_output)?;
    let ours = summary(&ours);
    let hand = summary(&hand);
    Ok(json!({
        "verify": ours,
        "byHand": hand,
        "ratio": ratio(&hand, &ours, "medianMs"),
        "checksVerify": checks.get(),
        "checksByHand": HAND_CHECKS,
    }))
}
