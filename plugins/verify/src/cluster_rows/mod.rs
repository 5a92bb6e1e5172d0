//! Report rows from what the cluster holds, in report order: the install, the Deployment and
//! its pods, the Service, the server's logs, its config, the Route and the OAuthClient's
//! redirects. One module per check group.

mod config;
mod deployment;
mod logs;
mod oauth_client;
mod pods;
mod route;
mod service;
#[cfg(test)]
mod tests;

use oc_mcp_common::server_config::AuthMode;

use crate::{
    checks::CheckId,
    cluster::{Facts, ReadError},
    report::{FailureClass, Row},
};

use config::config_rows;
use deployment::{deployment_row, install_row};
use logs::logs_row;
pub use logs::scrub;
use pods::pods_row;
use route::route_rows;
use service::service_row;

/// What the rows need besides the facts.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub release: &'a str,
    pub oauth_client: &'a str,
    /// The MCP ClusterRole (`--role`): the one scope the OAuthClient may issue tokens for.
    pub role: &'a str,
    /// The mode the server runs in (from its config, or `--auth-mode`).
    pub mode: Option<AuthMode>,
    /// The endpoint is reached by port-forward (a missing Route is then expected).
    pub port_forward: bool,
    /// `--url` was given.
    pub url_given: bool,
}

/// A failed read as a row. Forbidden is never "missing": the state is unknown, and the run
/// exits 3 (forbidden) so that a user who may not look is not told everything is fine.
pub(crate) fn read_failed(id: CheckId, e: &ReadError) -> Row {
    if e.forbidden {
        Row::fail(id)
            .evidence(format!("unknown (forbidden): {}", e.message))
            .class(FailureClass::Auth)
            .fix(format!(
                "the verifying user may not read this: run as a user who can read the namespace (e.g. its admin), or --skip {id}",
                id = id.id()
            ))
    } else {
        let row = Row::fail(id).evidence(e.message.clone()).class(e.class);
        match (e.class, &e.hint) {
            // The address first: for verify it comes from the kubeconfig, as for `oc`.
            (FailureClass::Unreachable, _) => {
                row.fix("check the API server address, network and VPN (`oc whoami --show-server`)")
            }
            (_, Some(hint)) => row.fix(hint.clone()),
            (_, None) => row,
        }
    }
}

/// Why the checks that need the Deployment did not run: it is missing, or unreadable.
pub(crate) fn no_deployment(facts: &Facts) -> &'static str {
    if matches!(&facts.deployment, Some(Err(_))) {
        "the Deployment could not be read (see cluster.deployment)"
    } else {
        "no Deployment"
    }
}

pub fn rows(facts: &Facts, ctx: &Context<'_>, logs_wanted: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let ns = facts.namespace.as_str();
    match &facts.namespace_found {
        Some(Ok(true)) => rows
            .push(Row::pass(CheckId::ClusterNamespace).evidence(format!("namespace {ns} exists"))),
        Some(Ok(false)) => {
            rows.push(
                Row::fail(CheckId::ClusterNamespace)
                    .evidence(format!("namespace {ns} does not exist"))
                    .fix("install with `oc mcp-install`, or pass -n <namespace> of the deployment"),
            );
            skip_rest(&mut rows, &format!("namespace {ns} does not exist"));
            return rows;
        }
        Some(Err(e)) => {
            rows.push(read_failed(CheckId::ClusterNamespace, e));
            if e.class != FailureClass::Check {
                skip_rest(&mut rows, "the API server could not be read");
                return rows;
            }
        }
        None => {}
    }
    rows.push(install_row(facts, ctx));
    rows.push(deployment_row(facts, ctx));
    rows.push(pods_row(facts));
    rows.push(service_row(facts));
    rows.push(crate::service_account::row(facts));
    if logs_wanted {
        rows.push(logs_row(facts));
    }
    rows.extend(config_rows(facts, ctx));
    rows.extend(route_rows(facts, ctx));
    rows.push(crate::oauth_scopes::row(facts, ctx));
    rows.extend(crate::exposure::rows(facts));
    rows
}

/// Every cluster-side row as skipped.
fn skip_rest(rows: &mut Vec<Row>, why: &str) {
    for id in CheckId::ALL.iter().copied().filter(|c| {
        matches!(
            c.group(),
            "cluster" | "logs" | "config" | "route" | "exposure"
        ) && *c != CheckId::ClusterNamespace
    }) {
        rows.push(Row::skip(id, why));
    }
}
