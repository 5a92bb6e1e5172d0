//! With the user's token: the MCP session, its tools (read-only only), the identity the
//! cluster sees, and a user who must be denied.

use oc_mcp_common::server_config::AuthMode;

use super::{Probe, READ_TOOL, Refusal, refusal};
use crate::{
    checks::CheckId,
    http::shorten,
    report::{FailureClass, Row},
    session::{ConnectError, Session, result_text},
    token::Token,
};

pub(super) async fn session_rows(p: &Probe<'_>, client: &reqwest::Client) -> Vec<Row> {
    let mut rows = Vec::new();
    let token = match &p.token {
        Ok(t) => t,
        Err(why) => {
            for id in [
                CheckId::McpInitialize,
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ] {
                rows.push(Row::skip(id, why.clone()));
            }
            return rows;
        }
    };
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&token.secret),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            let row = Row::fail(CheckId::McpInitialize).evidence(format!(
                "initialize with the token from {}: {e}",
                token.source
            ));
            rows.push(match e {
                ConnectError::Rejected { .. } => row.class(FailureClass::Auth).fix(match p.mode {
                    Some(AuthMode::Entra | AuthMode::Oidc) => "the server rejected the token: it must be a JWT from authorization_url for oauth_audience, not expired (get one with `oc mcp-client token` or your IdP)",
                    _ => "the token was rejected: log in again (`oc login`) or pass a fresh token",
                }),
                ConnectError::Unreachable(_) => row.class(FailureClass::Unreachable),
                ConnectError::Other(ref m) if m.contains("HTTP 50") => row.fix("the server is not answering behind the router: see endpoint.health and cluster.pods"),
                ConnectError::Other(_) => row.fix("the endpoint does not speak MCP streamable HTTP here: check the URL path (/mcp)"),
            });
            for id in [
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ] {
                rows.push(Row::skip(id, "initialize failed"));
            }
            return rows;
        }
    };
    rows.push(initialize_row(&session, token));
    let tools = session.tools().await;
    rows.push(tools_row(&tools));
    let has_read_tool = tools
        .as_ref()
        .is_ok_and(|t| t.iter().any(|tool| tool.name == READ_TOOL));
    rows.push(if has_read_tool {
        user_row(&session, token).await
    } else {
        Row::skip(
            CheckId::PassthroughUser,
            format!("the server does not offer {READ_TOOL}"),
        )
    });
    session.close().await;
    rows.push(if has_read_tool {
        denied_row(p, client).await
    } else {
        Row::skip(
            CheckId::PassthroughDenied,
            format!("the server does not offer {READ_TOOL}"),
        )
    });
    rows
}

pub(super) fn initialize_row(session: &Session, token: &Token) -> Row {
    let id = CheckId::McpInitialize;
    let Some(peer) = session.peer() else {
        return Row::fail(id).evidence("initialize returned no server information");
    };
    let server = peer.server_info.as_ref().map_or_else(
        || "<no serverInfo>".to_owned(),
        |i| {
            format!(
                "{} {}",
                i.name,
                if i.version.is_empty() {
                    "<no version>"
                } else {
                    &i.version
                }
            )
        },
    );
    let session_line = session.session_id.as_ref().map_or_else(
        || "no Mcp-Session-Id (stateless server)".to_owned(),
        |s| format!("Mcp-Session-Id issued ({} chars)", s.len()),
    );
    Row::pass(id)
        .evidence(format!(
            "200 with the token from {}: protocol {}, server {server}",
            token.source, peer.protocol_version
        ))
        .evidence(format!("{session_line}; notifications/initialized sent"))
}

pub(super) fn tools_row(tools: &std::result::Result<Vec<rmcp::model::Tool>, String>) -> Row {
    let id = CheckId::McpTools;
    let tools = match tools {
        Ok(t) => t,
        Err(e) => return Row::fail(id).evidence(format!("tools/list: {e}")),
    };
    if tools.is_empty() {
        return Row::fail(id)
            .evidence("tools/list returned no tools")
            .fix("check toolsets, enabled_tools and disabled_tools in the config");
    }
    let unsafe_tools: Vec<String> = tools
        .iter()
        .filter(|t| {
            let a = t.annotations.as_ref();
            a.and_then(|a| a.read_only_hint) != Some(true)
                || a.and_then(|a| a.destructive_hint) == Some(true)
        })
        .map(|t| {
            // MCP's defaults: readOnlyHint false, destructiveHint true unless said otherwise.
            let a = t.annotations.as_ref();
            let what = if a.and_then(|a| a.destructive_hint) == Some(true)
                || (a.and_then(|a| a.read_only_hint) != Some(true)
                    && a.and_then(|a| a.destructive_hint) != Some(false))
            {
                "destructive"
            } else {
                "writes"
            };
            format!("{} ({what})", t.name)
        })
        .collect();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    if unsafe_tools.is_empty() {
        Row::pass(id).evidence(format!(
            "{} tools, all read-only: {}",
            tools.len(),
            names.join(" ")
        ))
    } else {
        Row::fail(id)
            .evidence(format!(
                "{} of {} tools are not read-only: {}",
                unsafe_tools.len(),
                tools.len(),
                unsafe_tools.join(", ")
            ))
            .fix("set read_only = true and disable_destructive = true in config.toml (re-run `oc mcp-install`)")
    }
}

pub(super) async fn user_row(session: &Session, token: &Token) -> Row {
    let id = CheckId::PassthroughUser;
    match session.call(READ_TOOL, serde_json::Map::new()).await {
        Err(e) => Row::fail(id).evidence(format!("tools/call {READ_TOOL}: {e}")),
        Ok(result) => {
            let text = result_text(&result);
            let excerpt = shorten(text.lines().next().unwrap_or(""), 120);
            if result.is_error != Some(true) {
                return Row::pass(id).evidence(format!(
                    "{READ_TOOL} with the token from {}: {} lines of output, e.g. {excerpt:?}",
                    token.source,
                    text.lines().count()
                ));
            }
            let row = Row::fail(id).evidence(format!(
                "{READ_TOOL} with the token from {}: {}",
                token.source,
                shorten(&text, 240)
            ));
            match refusal(&text) {
                Some(Refusal::Unauthenticated) => row
                    .class(FailureClass::Auth)
                    .fix("the API server rejected the token the server passed through: log in again, or (entra/oidc) make the cluster trust the issuer or configure token exchange"),
                Some(Refusal::Forbidden) => row.fix("the token's user may not list namespaces: bind its group with `oc mcp-rbac bind <group>`"),
                None => row.fix("the tool failed: see the server log"),
            }
        }
    }
}

pub(super) async fn denied_row(p: &Probe<'_>, client: &reqwest::Client) -> Row {
    let id = CheckId::PassthroughDenied;
    let Some(denied) = &p.denied else {
        return Row::skip(
            id,
            "pass a token of a user outside the bound groups with --denied-token-stdin, --denied-token-env or --denied-token-file",
        );
    };
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&denied.secret),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(ConnectError::Rejected { challenge }) => {
            return Row::warn(id)
                .evidence(format!("initialize with the denied token ({}) was rejected: {challenge}", denied.source))
                .fix("inconclusive: use a token the server accepts but the cluster does not authorize (an unbound user's, not an invalid one)");
        }
        Err(e) => return Row::fail(id).evidence(format!("initialize with the denied token: {e}")),
    };
    let outcome = session.call(READ_TOOL, serde_json::Map::new()).await;
    session.close().await;
    match outcome {
        Err(e) => {
            Row::fail(id).evidence(format!("tools/call {READ_TOOL} with the denied token: {e}"))
        }
        Ok(result) => {
            let text = shorten(&result_text(&result), 240);
            match (result.is_error == Some(true), refusal(&text)) {
                (true, Some(Refusal::Forbidden)) => Row::pass(id).evidence(format!(
                    "{READ_TOOL} with the denied token from {} was refused by the cluster: {text}",
                    denied.source
                )),
                (true, Some(Refusal::Unauthenticated)) => Row::warn(id)
                    .evidence(format!("{READ_TOOL} with the denied token: {text}"))
                    .fix("the cluster did not recognise the denied token at all; use a valid token of an unbound user to prove authorization"),
                (true, None) => Row::warn(id)
                    .evidence(format!("{READ_TOOL} with the denied token failed: {text}"))
                    .fix("expected a Forbidden from the API server"),
                (false, _) => Row::fail(id)
                    .evidence(format!("{READ_TOOL} with the denied token from {} succeeded", denied.source))
                    .fix("the server does not use the caller's identity (cluster_auth_mode must be \"passthrough\"), or that user is bound after all (`oc mcp-rbac status`)"),
            }
        }
    }
}
