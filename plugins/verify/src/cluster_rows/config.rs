//! config.*: the server's config as the cluster holds it, linted (general findings, the auth
//! mode, secrets in the ConfigMap, tool restrictions).

use oc_mcp_common::server_config::{AuthMode, Finding, LintContext, Rule, Severity};

use crate::{
    checks::CheckId,
    cluster::Facts,
    report::{Row, Status},
};

use super::{Context, read_failed};

const AUTH_RULES: &[Rule] = &[
    Rule::PublicWithoutOAuth,
    Rule::AudienceMissing,
    Rule::IssuerUrl,
];

fn finding_line(f: &Finding) -> String {
    let key = f
        .key
        .as_deref()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    format!("{}[{}]{key}: {}", f.severity, f.rule, f.message)
}

fn findings_row(id: CheckId, findings: &[&Finding], pass_line: String) -> Row {
    if findings.is_empty() {
        return Row::pass(id).evidence(pass_line);
    }
    let worst = findings.iter().map(|f| f.severity).max();
    let row = if worst == Some(Severity::Error) {
        Row::fail(id)
    } else {
        Row::warn(id)
    };
    let fixes: Vec<String> = findings
        .iter()
        .filter(|f| Some(f.severity) == worst)
        .map(|f| f.fix.clone())
        .collect();
    row.evidence_lines(findings.iter().map(|f| finding_line(f)))
        .fix(fixes.join("; "))
}

pub(super) fn config_rows(facts: &Facts, ctx: &Context<'_>) -> Vec<Row> {
    let ids = [
        CheckId::ConfigLint,
        CheckId::ConfigAuthMode,
        CheckId::ConfigSecrets,
        CheckId::ConfigTools,
    ];
    // The Deployment names the config; when it could not be read, neither could that.
    if let (None, Some(Err(e))) = (&facts.config, &facts.deployment) {
        return ids.iter().map(|id| read_failed(*id, e)).collect();
    }
    let config = match &facts.config {
        None => {
            return ids
                .iter()
                .map(|id| {
                    Row::fail(*id)
                        .evidence(
                            "no config found: no Deployment and no ConfigMap with config.toml",
                        )
                        .fix("re-run `oc mcp-install`")
                })
                .collect();
        }
        Some(Err(e)) => return ids.iter().map(|id| read_failed(*id, e)).collect(),
        Some(Ok(c)) => c,
    };
    let parsed = match &config.parsed {
        Ok(p) => p,
        Err(e) => {
            let mut rows = vec![
                Row::fail(CheckId::ConfigLint)
                    .evidence(format!("{}: {e}", config.source))
                    .fix("fix the TOML syntax; the server exits on it"),
            ];
            rows.extend(
                ids[1..]
                    .iter()
                    .map(|id| Row::skip(*id, "config.toml is not valid TOML")),
            );
            return rows;
        }
    };
    let mut lint_ctx = LintContext::new(facts.server_version).in_configmap();
    lint_ctx = match facts.host() {
        Some(host) if facts.route().is_some() || facts.ingress.is_some() => {
            lint_ctx.public_route(host)
        }
        _ if facts.routes.as_ref().is_some_and(Result::is_ok) && facts.ingress.is_none() => {
            lint_ctx.internal()
        }
        _ => lint_ctx,
    };
    let findings = parsed.lint(&lint_ctx);
    let claimed = |f: &&Finding| {
        f.rule == Rule::SecretInConfigMap
            || f.rule == Rule::ToolsNotRestricted
            || f.rule == Rule::ServerUrl
            || AUTH_RULES.contains(&f.rule)
    };
    let general: Vec<&Finding> = findings.iter().filter(|f| !claimed(f)).collect();
    let mut lint = findings_row(
        CheckId::ConfigLint,
        &general,
        format!(
            "{}: {} keys, no findings (rules of {})",
            config.source,
            parsed.merged.len(),
            facts.server_version
        ),
    );
    if !general.is_empty() {
        lint.evidence.insert(0, config.source.clone());
    }
    for unread in &config.unread_drop_ins {
        lint.evidence.push(format!("drop-in not read: {unread}"));
        if lint.status == Status::Pass {
            lint.status = Status::Warn;
            lint.fix = Some("let the verifying user read the --config-dir volume, or check the drop-ins by hand".into());
        }
    }
    let mut rows = vec![lint];
    rows.push(auth_mode_row(facts, ctx, parsed, &findings));
    // A row per rule: its findings, or what was seen when there are none.
    let rule_row = |id: CheckId, rule: Rule, pass_line: String| {
        let found: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
        findings_row(id, &found, pass_line)
    };
    rows.push(rule_row(
        CheckId::ConfigSecrets,
        Rule::SecretInConfigMap,
        format!("no secret-like key in {}", config.source),
    ));
    rows.push(rule_row(
        CheckId::ConfigTools,
        Rule::ToolsNotRestricted,
        "read_only = true, disable_destructive = true".to_owned(),
    ));
    rows
}

fn auth_mode_row(
    facts: &Facts,
    ctx: &Context<'_>,
    parsed: &oc_mcp_common::server_config::ParsedConfig,
    findings: &[Finding],
) -> Row {
    let id = CheckId::ConfigAuthMode;
    let config = &parsed.config;
    let mode = config.auth_mode();
    let related: Vec<&Finding> = findings
        .iter()
        .filter(|f| AUTH_RULES.contains(&f.rule))
        .collect();
    let describe = match mode {
        AuthMode::OpenShift => format!(
            "openshift: require_oauth, skip_jwt_verification, no authorization_url, cluster_auth_mode={}",
            config.effective_cluster_auth_mode()
        ),
        AuthMode::Entra | AuthMode::Oidc => format!(
            "{mode}: issuer {}, audience {}, cluster_auth_mode={}",
            config.authorization_url.as_deref().unwrap_or(""),
            config.oauth_audience.as_deref().unwrap_or("<none>"),
            config.effective_cluster_auth_mode()
        ),
        AuthMode::None => {
            "none: require_oauth is not true, the server takes requests without a token".to_owned()
        }
    };
    let mut row = findings_row(id, &related, describe.clone());
    if !related.is_empty() {
        row.evidence.insert(0, describe);
    }
    if mode == AuthMode::None && row.status == Status::Pass {
        // Internal deployments may run without a token; say so loudly anyway.
        row = Row::warn(id)
            .evidence_lines(row.evidence)
            .fix("anyone who reaches the Service uses the server's identity; set require_oauth = true unless this is a throwaway internal deployment");
    }
    if let Some(expected) = ctx.mode
        && expected != mode
    {
        row.evidence.push(format!(
            "--auth-mode {expected} was given, but the config is {mode}"
        ));
        row.status = row.status.max(Status::Warn);
        row.fix
            .get_or_insert_with(|| "drop --auth-mode or fix the config".into());
    }
    // The cluster must accept the issuer's tokens, unless they are exchanged first.
    if matches!(mode, AuthMode::Entra | AuthMode::Oidc)
        && let Some(auth) = &facts.authentication
        && config.token_exchange.is_none()
        && config.token_exchange_strategy.is_none()
    {
        let issuer = config.authorization_url.clone().unwrap_or_default();
        let audience = config.oauth_audience.clone().unwrap_or_default();
        if !auth.trusts_issuer(&issuer, &audience) {
            row.evidence.push(format!(
                "authentications.config.openshift.io/cluster is {} and does not list issuer {issuer}",
                auth.spec.type_.as_deref().unwrap_or("IntegratedOAuth")
            ));
            row.status = row.status.max(Status::Warn);
            row.fix.get_or_insert_with(|| {
                "the API server will reject the passed-through tokens: configure the cluster for the issuer, or a token exchange".into()
            });
        }
    }
    row
}
