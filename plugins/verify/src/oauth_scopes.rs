//! The OAuthClient may issue only tokens scoped to the MCP role. A login through it that asks
//! for `user:full` gets a token that can do everything its user can (an administrator's can
//! write anything), and a `role:...:!` token also reads Secrets; the MCP server would carry
//! either. `oc mcp-oauth register openshift` restricts the client to `role:<role>:*`,
//! `user:info` and `user:check-access`, which OpenShift's OAuth server then enforces.

use kube::ResourceExt;
use oc_mcp_common::server_config::AuthMode;

use crate::{
    checks::CheckId,
    cluster::Facts,
    cluster_rows::{Context, read_failed},
    report::Row,
};

pub fn row(facts: &Facts, ctx: &Context<'_>) -> Row {
    let id = CheckId::RouteOAuthScopes;
    let mode = ctx
        .mode
        .or_else(|| facts.parsed_config().map(|p| p.config.auth_mode()));
    let client = match &facts.oauth_client {
        None => return Row::skip(id, "the OAuthClient was not read"),
        Some(Err(e)) => return read_failed(id, e),
        Some(Ok(None)) => {
            return Row::skip(
                id,
                match mode {
                    Some(AuthMode::Entra | AuthMode::Oidc) => format!(
                        "no OAuthClient {}: the client is registered with the issuer",
                        ctx.oauth_client
                    ),
                    _ => format!("no OAuthClient {}", ctx.oauth_client),
                },
            );
        }
        Some(Ok(Some(client))) => client,
    };
    let name = client.name_any();
    let problems = client.scope_problems(ctx.role);
    if problems.is_empty() {
        return Row::pass(id).evidence(format!(
            "oauthclient/{name} allows only {} (scopeRestrictions)",
            oc_mcp_common::openshift::mcp_login_scopes(ctx.role).join(", ")
        ));
    }
    Row::fail(id)
        .evidence_lines(problems.iter().map(|p| format!("oauthclient/{name}: {p}")))
        .fix(format!(
            "restrict it: `oc mcp-oauth register openshift --name {name} --role {}` (scopes role:{}:*, user:info, user:check-access only)",
            ctx.role, ctx.role
        ))
}

#[cfg(test)]
mod tests {
    use oc_mcp_common::openshift::{OAuthClient, mcp_scope_restrictions};

    use super::*;
    use crate::report::Status;

    fn ctx() -> Context<'static> {
        Context {
            release: "kubernetes-mcp-server",
            oauth_client: "kubernetes-mcp-server",
            role: "mcp-readonly",
            mode: Some(AuthMode::OpenShift),
            port_forward: false,
            url_given: false,
        }
    }

    fn with(client: Option<OAuthClient>) -> Row {
        let facts = Facts {
            oauth_client: Some(Ok(client)),
            ..Facts::default()
        };
        row(&facts, &ctx())
    }

    #[test]
    fn only_the_role_scope_passes() {
        let mut client = OAuthClient::named("kubernetes-mcp-server");
        client.scope_restrictions = mcp_scope_restrictions("mcp-readonly");
        assert_eq!(with(Some(client.clone())).status, Status::Pass);

        client.scope_restrictions[0]
            .literals
            .push("user:full".into());
        let failed = with(Some(client));
        assert_eq!(failed.status, Status::Fail);
        assert!(
            failed.evidence.iter().any(|e| e.contains("user:full")),
            "{:?}",
            failed.evidence
        );
        assert!(
            failed
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("oc mcp-oauth register openshift")),
            "{:?}",
            failed.fix
        );

        let unrestricted = with(Some(OAuthClient::named("kubernetes-mcp-server")));
        assert_eq!(unrestricted.status, Status::Fail);
        assert_eq!(with(None).status, Status::Skip);
    }
}
