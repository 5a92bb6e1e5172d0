//! Report rows from the endpoint itself: TLS and health, the negative probes (raw reqwest, so
//! the report shows exact codes and headers), OAuth discovery, and the authenticated MCP
//! session (rmcp) with passthrough proofs. One module per check group, in report order.

mod authenticated;
mod discovery;
#[cfg(test)]
mod tests;
mod tls;
mod unauthenticated;

use oc_mcp_common::{
    Result,
    server_config::{AuthMode, ServerConfig},
};
use reqwest::Url;

use crate::{
    checks::{CheckId, Selection},
    http::{Answer, FailureKind, Http, initialize_request, is_loopback_host, join, send},
    report::{FailureClass, Row},
    token::Token,
};

use authenticated::session_rows;
use discovery::discovery_rows;
pub use discovery::{challenge_param, metadata_urls};
use tls::tls_row;
pub use tls::{CertInfo, cert_info, name_matches};
pub use unauthenticated::{Refusal, refusal};
use unauthenticated::{garbage_row, no_token_row};

/// How the endpoint was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Route,
    Url,
    PortForward,
}

impl Via {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Url => "url",
            Self::PortForward => "port-forward",
        }
    }
}

/// Everything the probes need.
#[derive(Debug)]
pub struct Probe<'a> {
    pub http: &'a Http,
    pub url: Url,
    pub via: Via,
    /// The mode the server should be in (from its config or `--auth-mode`); `None` unknown.
    pub mode: Option<AuthMode>,
    pub config: Option<&'a ServerConfig>,
    /// The public host the metadata must name (the Route's), when known.
    pub public_host: Option<String>,
    /// The user's token, or why there is none.
    pub token: std::result::Result<Token, String>,
    pub denied: Option<Token>,
    pub cert_min_days: u32,
    pub selection: &'a Selection,
}

/// A random token no issuer signed and no cluster issued.
pub(super) fn garbage_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("oc-mcp-verify-garbage-{nanos:x}")
}

/// The read tool used to prove passthrough.
pub(super) const READ_TOOL: &str = "namespaces_list";

pub async fn run(p: &Probe<'_>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let verifying = p.http.client_for(&p.url).await?;
    let healthz = join(&p.url, "/healthz")?;
    let https = p.url.scheme() == "https";

    // 5. TLS and /healthz.
    let mut tls_trusted = true;
    let first = send(verifying.get(healthz.clone())).await;
    let health_answer = match first {
        Ok(answer) => {
            rows.push(tls_row(p, Some(&answer), None));
            answer
        }
        Err(failure) if failure.kind == FailureKind::Tls => {
            tls_trusted = false;
            let inspecting = p.http.inspecting_client_for(&p.url).await?;
            match send(inspecting.get(healthz.clone())).await {
                Ok(answer) => {
                    rows.push(tls_row(p, Some(&answer), Some(&failure)));
                    answer
                }
                Err(again) => {
                    rows.push(tls_row(p, None, Some(&failure)));
                    rows.push(unreachable_row(
                        CheckId::EndpointHealth,
                        &healthz,
                        &again.message,
                    ));
                    skip_after(
                        &mut rows,
                        CheckId::EndpointHealth,
                        "the endpoint could not be reached",
                    );
                    return Ok(rows);
                }
            }
        }
        Err(failure) => {
            rows.push(Row::skip(
                CheckId::EndpointTls,
                "the endpoint could not be reached",
            ));
            rows.push(unreachable_row(
                CheckId::EndpointHealth,
                &healthz,
                &failure.message,
            ));
            skip_after(
                &mut rows,
                CheckId::EndpointHealth,
                "the endpoint could not be reached",
            );
            return Ok(rows);
        }
    };
    rows.push(health_row(&healthz, &health_answer));

    // Negative probes may use an untrusted connection; the token never does.
    let probe_client = if tls_trusted {
        verifying.clone()
    } else {
        p.http.inspecting_client_for(&p.url).await?
    };

    let token_blocker = token_blocker(p, tls_trusted, https);
    // 6-9 are independent once the endpoint answers: run them at once (the MCP sessions are
    // most of verify's time), report them in order.
    let unauthenticated = async {
        // 6. Unauthenticated; 7. discovery follows the challenge it gets.
        let no_token = send(initialize_request(&probe_client, &p.url, None)).await;
        let challenge = no_token
            .as_ref()
            .ok()
            .and_then(|a| a.header("www-authenticate").map(str::to_owned));
        let row = no_token_row(p, &no_token);
        (
            row,
            discovery_rows(p, &probe_client, challenge.as_deref()).await,
        )
    };
    let garbage = garbage_row(p, &probe_client);
    // 8-9. Authenticated session and passthrough.
    let sessions = async {
        match &token_blocker {
            None => session_rows(p, &verifying).await,
            Some(why) => [
                CheckId::McpInitialize,
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ]
            .into_iter()
            .map(|id| Row::skip(id, why.clone()))
            .collect(),
        }
    };
    let ((no_token, discovery), garbage, sessions) =
        futures::join!(unauthenticated, garbage, sessions);
    rows.push(no_token);
    rows.push(garbage);
    rows.extend(discovery);
    rows.extend(sessions);
    Ok(rows)
}

/// Why the user's token must not be sent to this endpoint, if it must not.
pub(super) fn token_blocker(p: &Probe<'_>, tls_trusted: bool, https: bool) -> Option<String> {
    if !tls_trusted && !p.http.insecure {
        Some("the endpoint's certificate is not trusted: the token is not sent (pass --endpoint-ca, or --endpoint-insecure to send it anyway)".into())
    } else if !https && !is_loopback_host(&p.url) {
        Some(format!(
            "{} is plain http: the token would cross the network in clear",
            p.url
        ))
    } else {
        None
    }
}

pub(super) fn health_row(healthz: &Url, answer: &Answer) -> Row {
    if answer.status == 200 {
        Row::pass(CheckId::EndpointHealth)
            .evidence(format!("GET {healthz}: {}", answer.status_line()))
    } else {
        Row::fail(CheckId::EndpointHealth)
            .evidence(format!(
                "GET {healthz}: {} {}",
                answer.status_line(),
                answer.body_excerpt()
            ))
            .fix(match answer.status {
                503 => "the router has no ready backend: see cluster.pods and cluster.service",
                404 => "something other than the MCP server answers on this host: check the Route's host and target Service",
                _ => "check the Route, the Service port and the pod",
            })
    }
}

pub(super) fn unreachable_row(id: CheckId, url: &Url, message: &str) -> Row {
    Row::fail(id)
        .evidence(format!("{url}: {message}"))
        .class(FailureClass::Unreachable)
        .fix("check the URL, DNS (--resolve/--connect-to when it does not resolve here), the router and your network; internal deployments: --port-forward")
}

/// Every check after `after` in report order, skipped.
pub(super) fn skip_after(rows: &mut Vec<Row>, after: CheckId, why: &str) {
    for id in CheckId::ALL.iter().copied().filter(|c| {
        *c > after
            && matches!(
                c.group(),
                "endpoint" | "unauth" | "discovery" | "mcp" | "passthrough"
            )
    }) {
        rows.push(Row::skip(id, why));
    }
}
