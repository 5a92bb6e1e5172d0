//! Without a valid token: no token, and a token nobody issued, must both be refused.

use std::fmt::Write as _;

use oc_mcp_common::{kube_args::Secret, server_config::AuthMode};

use super::{Probe, READ_TOOL, garbage_token};
use crate::{
    checks::CheckId,
    http::{Answer, FailureKind, initialize_request, send, shorten},
    report::{FailureClass, Row},
    session::{Session, result_text},
};

pub(super) fn describe(answer: &Answer) -> String {
    let mut text = answer.status_line();
    if let Some(challenge) = answer.header("www-authenticate") {
        let _ = write!(text, ", WWW-Authenticate: {challenge}");
    }
    let body = answer.body_excerpt();
    if !body.is_empty() {
        let _ = write!(text, ", body {:?}", shorten(&body, 80));
    }
    text
}

pub(super) fn no_token_row(
    p: &Probe<'_>,
    answer: &std::result::Result<Answer, crate::http::Failure>,
) -> Row {
    let id = CheckId::UnauthNoToken;
    let answer = match answer {
        Ok(a) => a,
        Err(f) => {
            let row = Row::fail(id).evidence(format!("POST {} without a token: {f}", p.url));
            return if f.kind == FailureKind::Unreachable {
                row.class(FailureClass::Unreachable)
            } else {
                row
            };
        }
    };
    let line = format!(
        "POST {} initialize without a token: {}",
        p.url,
        describe(answer)
    );
    match answer.status {
        401 => {
            let row = Row::pass(id).evidence(line);
            match answer.header("www-authenticate") {
                Some(c) if c.trim_start().to_ascii_lowercase().starts_with("bearer") => row,
                _ => Row::warn(id)
                    .evidence_lines(row.evidence)
                    .fix("a 401 should carry a `WWW-Authenticate: Bearer` challenge so clients know to send a token"),
            }
        }
        s if (200..300).contains(&s) => Row::fail(id)
            .evidence(line)
            .fix("anyone who can reach this URL uses the server's cluster access: set require_oauth = true (auth mode openshift, entra or oidc) and re-run `oc mcp-install`"),
        403 if answer.body.contains("invalid Host header") => Row::fail(id)
            .evidence(line)
            .fix("the server refused the Host header (DNS-rebinding protection on a loopback listener): reach it through the Route, or by port-forward with a loopback Host"),
        502..=504 => Row::fail(id)
            .evidence(line)
            .fix("expected 401, but no server answered behind the router: see endpoint.health and cluster.pods"),
        _ => Row::fail(id)
            .evidence(line)
            .fix("expected 401 from the MCP server: check that the URL reaches the server's /mcp"),
    }
}

/// Is a tool result a refusal by the cluster, and which kind?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    Forbidden,
}

pub fn refusal(text: &str) -> Option<Refusal> {
    let lower = text.to_lowercase();
    if lower.contains("provide credentials")
        || lower.contains("unauthorized")
        || lower.contains("oauth token required")
        || lower.contains("401")
    {
        Some(Refusal::Unauthenticated)
    } else if lower.contains("forbidden")
        || lower.contains("cannot list")
        || lower.contains("cannot get")
    {
        Some(Refusal::Forbidden)
    } else {
        None
    }
}

pub(super) async fn garbage_row(p: &Probe<'_>, client: &reqwest::Client) -> Row {
    let id = CheckId::UnauthGarbageToken;
    let garbage = garbage_token();
    let answer = match send(initialize_request(client, &p.url, Some(&garbage))).await {
        Ok(a) => a,
        Err(f) => {
            return Row::fail(id).evidence(format!("POST {} with a garbage token: {f}", p.url));
        }
    };
    let line = format!(
        "POST {} initialize with a garbage token: {}",
        p.url,
        describe(&answer)
    );
    if answer.status == 401 {
        return Row::pass(id).evidence(line);
    }
    if (502..=504).contains(&answer.status) {
        return Row::fail(id)
            .evidence(line)
            .fix("no server answered behind the router: see endpoint.health and cluster.pods");
    }
    if !answer.is_success() {
        return Row::fail(id)
            .evidence(line)
            .fix("expected 401 (or, in openshift mode, a refusal by the cluster)");
    }
    if matches!(p.mode, Some(AuthMode::Entra | AuthMode::Oidc)) {
        return Row::fail(id)
            .evidence(line)
            .fix("the server accepted a token its issuer never signed: check authorization_url, oauth_audience and skip_jwt_verification = false");
    }
    // openshift mode forwards tokens unvalidated; the cluster must refuse it.
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&Secret::new(garbage)),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return Row::fail(id)
                .evidence(line)
                .evidence(format!("MCP session with the garbage token: {e}"));
        }
    };
    let outcome = session.call(READ_TOOL, serde_json::Map::new()).await;
    session.close().await;
    match outcome {
        Ok(result) => {
            let text = shorten(&result_text(&result), 200);
            match (result.is_error == Some(true), refusal(&text)) {
                (true, Some(Refusal::Unauthenticated)) => Row::pass(id)
                    .evidence(line)
                    .evidence(format!("initialize is accepted (openshift mode forwards tokens; the cluster decides); {READ_TOOL} was refused by the cluster: {text}")),
                (true, _) => Row::warn(id)
                    .evidence(line)
                    .evidence(format!("{READ_TOOL} failed, but not as unauthenticated: {text}"))
                    .fix("expected the API server to reject the token (401); check cluster_auth_mode = \"passthrough\""),
                (false, _) => Row::fail(id)
                    .evidence(line)
                    .evidence(format!("{READ_TOOL} with a garbage token succeeded: {text}"))
                    .fix("the server answers with its own identity: set require_oauth = true and cluster_auth_mode = \"passthrough\""),
            }
        }
        Err(e) => Row::warn(id)
            .evidence(line)
            .evidence(format!("tools/call {READ_TOOL}: {e}"))
            .fix("could not complete the passthrough proof"),
    }
}
