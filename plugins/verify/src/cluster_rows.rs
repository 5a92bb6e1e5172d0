//! Report rows from what the cluster holds (issue 8 items 1-4).

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use oc_mcp_common::server_config::{AuthMode, Finding, LintContext, Rule, Severity};

use crate::{
    checks::CheckId,
    cluster::{Facts, ReadError, restart_count, server_container},
    http::shorten,
    report::{FailureClass, Row, Status},
};

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
        match e.class {
            FailureClass::Auth => row.fix("log in again (`oc login`) and retry"),
            FailureClass::Unreachable => {
                row.fix("check the API server address, network and VPN (`oc whoami --show-server`)")
            }
            FailureClass::Check => row,
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

fn install_row(facts: &Facts, ctx: &Context<'_>) -> Row {
    let id = CheckId::ClusterInstall;
    if let (Some(name), Some(status)) = (&facts.helm_release, &facts.helm_status) {
        let row = Row::pass(id).evidence(format!("Helm release {name}: {status}"));
        return if status.ends_with("deployed") {
            row
        } else {
            Row {
                status: Status::Fail,
                ..row
            }
            .fix(format!(
                "see `helm history {name} -n {}`; re-run `oc mcp-install` to roll forward",
                facts.namespace
            ))
        };
    }
    if let Some(Err(e)) = &facts.deployment {
        return read_failed(id, e);
    }
    let Some(deployment) = facts.deployment() else {
        return Row::fail(id)
            .evidence(format!(
                "no Helm release {} and no Deployment for it in {}",
                ctx.release, facts.namespace
            ))
            .fix("install with `oc mcp-install` (or pass --release / -n of the deployment)");
    };
    let labels = deployment.labels();
    match labels
        .get("app.kubernetes.io/managed-by")
        .map(String::as_str)
    {
        Some("oc-mcp") => Row::pass(id).evidence(format!(
            "deployment/{} applied by oc-mcp (app.kubernetes.io/managed-by=oc-mcp)",
            deployment.name_any()
        )),
        Some("Helm") => Row::pass(id).evidence(format!(
            "deployment/{} managed by Helm release {} (release Secrets not readable)",
            deployment.name_any(),
            deployment
                .annotations()
                .get("meta.helm.sh/release-name")
                .map_or(ctx.release, String::as_str)
        )),
        other => Row::warn(id)
            .evidence(format!(
                "deployment/{} was not installed by Helm or oc-mcp (managed-by: {})",
                deployment.name_any(),
                other.unwrap_or("<none>")
            ))
            .fix("reinstall with `oc mcp-install` so upgrades and checks know its parts"),
    }
}

fn deployment_row(facts: &Facts, ctx: &Context<'_>) -> Row {
    let id = CheckId::ClusterDeployment;
    let deployment = match &facts.deployment {
        Some(Ok(Some(d))) => d,
        Some(Ok(None)) | None => {
            return Row::fail(id)
                .evidence(format!(
                    "no Deployment {} (or labelled app.kubernetes.io/instance={}) in {}",
                    crate::cluster::candidate_names(ctx.release).join(" or "),
                    ctx.release,
                    facts.namespace
                ))
                .fix("install with `oc mcp-install`, or pass --release and -n of the deployment");
        }
        Some(Err(e)) => return read_failed(id, e),
    };
    let name = deployment.name_any();
    let desired = deployment.spec.replicas.unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let image = server_container(deployment)
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let condition = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Available"));
    let summary =
        format!("deployment/{name}: {available}/{desired} available, {ready} ready, image {image}");
    let messages: Vec<String> = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status.as_deref() != Some("True"))
        .map(|c| {
            format!(
                "{} {}: {} {}",
                c.type_.as_deref().unwrap_or("?"),
                c.status.as_deref().unwrap_or("?"),
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned()
        })
        .collect();
    let mut row = if desired == 0 {
        Row::fail(id).evidence(summary).fix(format!(
            "scale it up: oc scale deployment/{name} --replicas=1 -n {}",
            facts.namespace
        ))
    } else if available >= desired && condition.is_none_or(|c| c.status.as_deref() == Some("True"))
    {
        Row::pass(id).evidence(summary)
    } else if available > 0 {
        Row::warn(id)
            .evidence(summary)
            .fix("some replicas are not available: see cluster.pods and logs.startup")
    } else {
        Row::fail(id)
            .evidence(summary)
            .fix("no replica is available: see cluster.pods and logs.startup for why")
    };
    row.evidence.extend(messages);
    if !image_is_pinned(&image) {
        // A moving tag runs whatever upstream published last, not the release that was
        // checked: the report would prove a server nobody runs tomorrow.
        row.evidence.push(format!(
            "image {image} is not pinned: `latest` (or no tag) follows upstream main"
        ));
        row.status = Status::Fail;
        row.fix = Some("pin a tested release: re-run `oc mcp-install` (it pins the image), or --image quay.io/containers/kubernetes_mcp_server:v0.0.67".into());
    }
    row
}

/// A digest, or a tag other than `latest`.
fn image_is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    // The tag follows the last `:` after the last `/` (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':')
        .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest")
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `pod/x: Running, ready, 3 restarts, waiting CrashLoopBackOff, last exit Error (1)`.
fn describe_pod(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut parts = vec![status.phase.clone().unwrap_or_else(|| "Unknown".into())];
    parts.push(if pod_ready(pod) {
        "ready".into()
    } else {
        "not ready".into()
    });
    let restarts = restart_count(pod);
    if restarts > 0 {
        parts.push(format!("{restarts} restarts"));
    }
    for cs in status.container_statuses.iter().flatten() {
        if let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            parts.push(format!(
                "waiting {}",
                waiting.reason.as_deref().unwrap_or("")
            ));
        }
        if let Some(term) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            parts.push(format!(
                "last exit {} ({})",
                term.reason.as_deref().unwrap_or("?"),
                term.exit_code
            ));
        }
    }
    format!("pod/{}: {}", pod.name_any(), parts.join(", "))
}

fn crash_looping(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("CrashLoopBackOff")
                    || c.last_state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .is_some_and(|t| t.exit_code != 0)
            })
        })
}

/// The token automount is off for the pod (pod spec or Deployment template).
fn automount_off(facts: &Facts) -> bool {
    facts
        .deployment()
        .and_then(|d| d.spec.template.spec.as_ref())
        .and_then(|s| s.automount_service_account_token)
        == Some(false)
        || facts.pods.iter().any(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.automount_service_account_token)
                == Some(false)
        })
}

fn logs_mention(facts: &Facts, needle: &str) -> bool {
    facts.logs.iter().any(|l| l.text.contains(needle))
}

const AUTOMOUNT_FIX: &str = "the server finds no cluster credentials (\"no current-context\"): \
    serviceAccount.automountToken is false. Set it to true (the service account needs no extra \
    RBAC in passthrough mode), e.g. re-run `oc mcp-install`";

fn pods_row(facts: &Facts) -> Row {
    let id = CheckId::ClusterPods;
    if facts.deployment().is_none() {
        return Row::skip(id, crate::cluster_rows::no_deployment(facts));
    }
    if let Some(e) = &facts.pods_error {
        return read_failed(id, e);
    }
    if facts.pods.is_empty() {
        return Row::fail(id)
            .evidence("no pod matches the Deployment's selector")
            .fix(
                "see `oc describe deployment` and its ReplicaSet events (quota, image pull, SCC)",
            );
    }
    let ready = facts.pods.iter().filter(|p| pod_ready(p)).count();
    let lines: Vec<String> = facts.pods.iter().map(describe_pod).collect();
    let crash = facts.pods.iter().any(crash_looping);
    let no_credentials =
        logs_mention(facts, "no current-context") || (crash && automount_off(facts));
    let restarts: i32 = facts.pods.iter().map(restart_count).sum();
    let row = if ready == 0 {
        Row::fail(id).fix(if no_credentials {
            AUTOMOUNT_FIX.to_owned()
        } else if crash {
            "the server exits at startup: see logs.startup (`oc logs deployment/<name> --previous`)"
                .to_owned()
        } else {
            "no pod is ready: see `oc describe pod` events".to_owned()
        })
    } else if ready < facts.pods.len() || restarts > 0 {
        Row::warn(id).fix(if no_credentials {
            AUTOMOUNT_FIX.to_owned()
        } else {
            "a pod restarted or is not ready: see logs.startup and `oc describe pod`".to_owned()
        })
    } else {
        Row::pass(id)
    };
    row.evidence(format!("{ready}/{} pods ready", facts.pods.len()))
        .evidence_lines(lines)
}

fn service_row(facts: &Facts) -> Row {
    let id = CheckId::ClusterService;
    let service = match &facts.service {
        Some(Ok(Some(s))) => s,
        Some(Ok(None)) | None => {
            return Row::fail(id)
                .evidence(format!("no Service for the release in {}", facts.namespace))
                .fix("re-run `oc mcp-install`: the Route needs the Service");
        }
        Some(Err(e)) => return read_failed(id, e),
    };
    let name = service.name_any();
    let spec = service.spec.clone().unwrap_or_default();
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let target = p.target_port.as_ref().map_or_else(
                || p.port.to_string(),
                |t| match t {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                        i.to_string()
                    }
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                        s.clone()
                    }
                },
            );
            format!("{}->{target}", p.port)
        })
        .collect();
    let head = format!("service/{name} ports {}", ports.join(","));
    if let Some(endpoints) = &facts.endpoints {
        let subsets = endpoints.subsets.clone().unwrap_or_default();
        let ready: usize = subsets
            .iter()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum();
        let not_ready: usize = subsets
            .iter()
            .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
            .sum();
        let line = format!("endpoints/{name}: {ready} ready, {not_ready} not ready");
        return if ready > 0 {
            Row::pass(id).evidence(head).evidence(line)
        } else {
            Row::fail(id)
                .evidence(head)
                .evidence(line)
                .fix("no ready endpoint: the Route has nowhere to send traffic; see cluster.pods")
        };
    }
    // No Endpoints object: evaluate the selector against the pods we read.
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Row::fail(id)
            .evidence(head)
            .evidence("the Service has no selector and no Endpoints")
            .fix("re-run `oc mcp-install`");
    }
    let matching: Vec<&Pod> = facts
        .pods
        .iter()
        .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .collect();
    let ready = matching.iter().filter(|p| pod_ready(p)).count();
    let line = format!(
        "no Endpoints object; {ready} ready of {} pods match the selector",
        matching.len()
    );
    if ready > 0 {
        Row::pass(id).evidence(head).evidence(line)
    } else {
        Row::fail(id)
            .evidence(head)
            .evidence(line)
            .fix("no ready pod behind the Service: see cluster.pods")
    }
}

/// Lines that show the server did not start or refused its config.
const FAILURE_MARKERS: &[&str] = &[
    "Error:",
    "no current-context",
    "failed to decode config",
    "unable to create",
    "unable to setup",
    "unable to load",
    "invalid toolset",
    "invalid output name",
    "invalid cluster-provider",
    "panic:",
    "unknown flag",
    "is not supported",
    "refus",
];

/// Strip anything that looks like a credential from a log line.
pub fn scrub(line: &str) -> String {
    let mut out = Vec::new();
    let mut redact_next = false;
    for word in line.split(' ') {
        let bare = word.trim_matches(|c: char| c == '"' || c == '\'' || c == ',');
        let secret = redact_next
            || bare.starts_with("sha256~")
            || crate::token::looks_like_jwt(bare)
            || (bare.len() >= 40
                && bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.=~".contains(c)));
        redact_next = bare.eq_ignore_ascii_case("bearer");
        out.push(if secret { "<redacted>" } else { word });
    }
    out.join(" ")
}

fn logs_row(facts: &Facts) -> Row {
    let id = CheckId::LogsStartup;
    if facts.deployment().is_none() {
        return Row::skip(id, crate::cluster_rows::no_deployment(facts));
    }
    if facts.logs.is_empty() {
        if let Some(e) = &facts.logs_error {
            return read_failed(id, e);
        }
        return Row::skip(id, "no pod to read logs from");
    }
    let mut failures = Vec::new();
    let mut started = Vec::new();
    let mut empty = 0;
    for log in &facts.logs {
        if log.text.trim().is_empty() {
            empty += 1;
        }
        for line in log.text.lines() {
            if FAILURE_MARKERS.iter().any(|m| line.contains(m)) {
                failures.push((
                    log.which,
                    format!(
                        "{} ({}): {}",
                        log.pod,
                        log.which,
                        shorten(&scrub(line.trim()), 220)
                    ),
                ));
            }
            if line.contains("HTTP server starting")
                || line.contains("Streaming and SSE HTTP servers starting")
            {
                started.push(format!(
                    "{} ({}): {}",
                    log.pod,
                    log.which,
                    shorten(&scrub(line.trim()), 160)
                ));
            }
        }
    }
    let current_failures: Vec<&String> = failures
        .iter()
        .filter(|(w, _)| *w == "current")
        .map(|(_, l)| l)
        .collect();
    let previous_failures: Vec<&String> = failures
        .iter()
        .filter(|(w, _)| *w == "previous")
        .map(|(_, l)| l)
        .collect();
    let fix = if logs_mention(facts, "no current-context") {
        AUTOMOUNT_FIX.to_owned()
    } else if logs_mention(facts, "failed to decode config") || logs_mention(facts, "invalid") {
        "the server refused its config: run `oc mcp-install render` to lint it, fix config.toml, re-run `oc mcp-install`".to_owned()
    } else {
        "read the full log: oc logs deployment/<name> -n <namespace> (--previous after a restart)"
            .to_owned()
    };
    let started_now = started.iter().any(|l| l.contains("(current)"));
    if !failures.is_empty() && !started_now {
        return Row::fail(id)
            .evidence_lines(
                current_failures
                    .iter()
                    .chain(previous_failures.iter())
                    .take(5)
                    .map(|s| (*s).clone()),
            )
            .fix(fix);
    }
    if !current_failures.is_empty() || !previous_failures.is_empty() {
        return Row::warn(id)
            .evidence_lines(started.iter().take(1).cloned())
            .evidence_lines(
                current_failures
                    .iter()
                    .chain(previous_failures.iter())
                    .take(5)
                    .map(|s| (*s).clone()),
            )
            .fix(fix);
    }
    if started.is_empty() {
        return Row::warn(id)
            .evidence(if empty == facts.logs.len() {
                "the log is empty".to_owned()
            } else {
                "no \"HTTP server starting\" line in the last 200 lines".to_owned()
            })
            .fix("read the full log: oc logs deployment/<name>");
    }
    Row::pass(id).evidence_lines(started.into_iter().take(2))
}

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

fn config_rows(facts: &Facts, ctx: &Context<'_>) -> Vec<Row> {
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
    let secrets: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == Rule::SecretInConfigMap)
        .collect();
    rows.push(findings_row(
        CheckId::ConfigSecrets,
        &secrets,
        format!("no secret-like key in {}", config.source),
    ));
    let tools: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == Rule::ToolsNotRestricted)
        .collect();
    rows.push(findings_row(
        CheckId::ConfigTools,
        &tools,
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

fn route_rows(facts: &Facts, ctx: &Context<'_>) -> Vec<Row> {
    let rest = [
        CheckId::RouteTls,
        CheckId::RouteInsecure,
        CheckId::RouteAdmitted,
        CheckId::RouteServerUrl,
        CheckId::RouteOAuthRedirect,
    ];
    let skip_all = |first: Row, why: &str| {
        let mut rows = vec![first];
        rows.extend(rest.iter().map(|id| Row::skip(*id, why)));
        rows
    };
    let found = CheckId::RouteFound;
    let routes = match &facts.routes {
        None => {
            return skip_all(
                Row::skip(found, "the namespace could not be read"),
                "no Route",
            );
        }
        Some(Err(e)) => return skip_all(read_failed(found, e), "the Routes could not be read"),
        Some(Ok(r)) => r,
    };
    if facts.no_route_api {
        let row = match facts.host() {
            Some(host) => Row::info(found).evidence(format!(
                "no route.openshift.io API (not OpenShift); ingress host {host}"
            )),
            None => Row::info(found).evidence("no route.openshift.io API (not OpenShift)"),
        };
        return skip_all(row, "not OpenShift: no Route");
    }
    let Some(route) = facts.route() else {
        let row = match &facts.ingress {
            Some(ingress) => Row::fail(found)
                .evidence(format!(
                    "ingress/{} exists but no Route is owned by it or named after the release",
                    ingress.name_any()
                ))
                .fix("OpenShift makes the Route from the Ingress: check the ingress class and the route.openshift.io/termination annotation, and `oc describe ingress`"),
            None if ctx.port_forward || ctx.url_given => Row::info(found)
                .evidence("no Ingress or Route: an internal deployment"),
            None => Row::warn(found)
                .evidence("no Ingress or Route for the release: an internal deployment?")
                .fix("re-run with --port-forward to check the server itself, or --url if it is exposed another way"),
        };
        return skip_all(row, "no Route");
    };
    let name = route.name_any();
    let host = facts.host().unwrap_or_default();
    let how = if route
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Ingress")
    {
        format!(
            "route/{name} (made from ingress/{}) host {host}",
            facts
                .ingress
                .as_ref()
                .map(ResourceExt::name_any)
                .unwrap_or_default()
        )
    } else {
        format!("route/{name} host {host}")
    };
    let mut found_row = Row::pass(found).evidence(how);
    if routes.len() > 1 {
        found_row.evidence.push(format!(
            "{} Routes match; checked {name}; others: {}",
            routes.len(),
            routes
                .iter()
                .map(ResourceExt::name_any)
                .filter(|n| *n != name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut rows = vec![found_row];

    rows.extend(tls_rows(route, &name, &host, &facts.namespace));
    rows.push(admitted_row(route));
    rows.push(server_url_row(facts, ctx, &host));
    rows.push(oauth_redirect_row(facts, ctx, &host));
    rows
}

fn tls_rows(
    route: &oc_mcp_common::openshift::Route,
    name: &str,
    host: &str,
    namespace: &str,
) -> [Row; 2] {
    let tls = route.spec.tls.as_ref();
    let termination = tls.map(|t| t.termination.to_ascii_lowercase());
    let tls_row = match termination.as_deref() {
        Some("edge" | "reencrypt") => Row::pass(CheckId::RouteTls)
            .evidence(format!("termination {}", termination.as_deref().unwrap_or(""))),
        Some("passthrough") => Row::warn(CheckId::RouteTls)
            .evidence("termination passthrough: the router does not terminate TLS")
            .fix("the server must then serve TLS itself (tls_cert/tls_key); prefer edge or reencrypt"),
        Some(other) => Row::fail(CheckId::RouteTls)
            .evidence(format!("unknown termination {other:?}"))
            .fix("use edge (annotation route.openshift.io/termination: edge on the Ingress)"),
        None => Row::fail(CheckId::RouteTls)
            .evidence(format!("route/{name} has no TLS: http://{host} carries tokens in clear"))
            .fix("re-run `oc mcp-install` (Ingress annotation route.openshift.io/termination: edge)"),
    };

    let policy = tls.and_then(|t| t.insecure_edge_termination_policy.clone());
    let policy_row = match (tls, policy.as_deref()) {
        (None, _) => Row::skip(CheckId::RouteInsecure, "the Route has no TLS (see route.tls)"),
        (Some(_), Some(p)) if p.eq_ignore_ascii_case("allow") => Row::fail(CheckId::RouteInsecure)
            .evidence(format!("insecureEdgeTerminationPolicy Allow: http://{host}/mcp serves the endpoint without TLS"))
            .fix(format!(
                "set it to Redirect: oc patch route/{name} -n {namespace} --type=merge -p '{{\"spec\":{{\"tls\":{{\"insecureEdgeTerminationPolicy\":\"Redirect\"}}}}}}' (and fix whatever set Allow)",
            )),
        (Some(_), p) => Row::pass(CheckId::RouteInsecure).evidence(format!(
            "insecureEdgeTerminationPolicy {}",
            p.unwrap_or("<unset>: plain HTTP is refused")
        )),
    };
    [tls_row, policy_row]
}

fn admitted_row(route: &oc_mcp_common::openshift::Route) -> Row {
    let conditions: Vec<String> = route
        .status
        .iter()
        .flat_map(|s| s.ingress.iter())
        .flat_map(|i| {
            let router_name = i.router_name.clone().unwrap_or_else(|| "?".into());
            i.conditions.iter().map(move |c| {
                format!(
                    "router {router_name}: {}={} {} {}",
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    c.message.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            })
        })
        .collect();
    if route.admitted() {
        Row::pass(CheckId::RouteAdmitted).evidence_lines(conditions)
    } else if conditions.is_empty() {
        Row::fail(CheckId::RouteAdmitted)
            .evidence("no router has admitted the Route yet (empty status)")
            .fix("wait a moment; if it stays, check the router and `oc describe route`")
    } else {
        Row::fail(CheckId::RouteAdmitted)
            .evidence_lines(conditions)
            .fix("see the condition's reason (HostAlreadyClaimed: another Route has the host)")
    }
}

fn server_url_row(facts: &Facts, ctx: &Context<'_>, host: &str) -> Row {
    let id = CheckId::RouteServerUrl;
    let Some(parsed) = facts.parsed_config() else {
        return Row::skip(id, "the config could not be read");
    };
    let config = &parsed.config;
    let expected = format!("https://{host}/mcp");
    let mode = ctx.mode.unwrap_or_else(|| config.auth_mode());
    // The route's origin, or the MCP endpoint on it (what install sets, so that the metadata's
    // `resource` is the URL clients connect to).
    let matches = |url: &str| {
        let url = url.trim_end_matches('/');
        url == expected || url == format!("https://{host}")
    };
    match config.server_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(url) if matches(url) => Row::pass(id).evidence(format!("server_url = {url:?}")),
        Some(url) => {
            let why = if url.starts_with("http://") {
                "is plain http but the route serves https"
            } else {
                "is not the route's URL"
            };
            Row::fail(id)
                .evidence(format!("server_url = {url:?} {why} ({expected})"))
                .fix(format!(
                    "set server_url = {expected:?}: it is the resource URL OAuth clients are told (re-run `oc mcp-install`)"
                ))
        }
        None => match mode {
            AuthMode::Entra | AuthMode::Oidc if config.trust_proxy_headers != Some(true) => {
                Row::warn(id)
                    .evidence(format!("server_url is not set; behind the edge Route the metadata will name http://{host}"))
                    .fix(format!("set server_url = {expected:?}"))
            }
            AuthMode::Entra | AuthMode::Oidc => Row::pass(id)
                .evidence("server_url not set; trust_proxy_headers = true derives it from X-Forwarded-*"),
            _ => Row::pass(id)
                .evidence(format!("server_url not set: not needed in {mode} mode (no OAuth discovery)")),
        },
    }
}

fn oauth_redirect_row(facts: &Facts, ctx: &Context<'_>, host: &str) -> Row {
    let id = CheckId::RouteOAuthRedirect;
    let callback = format!("https://{host}/oauth/callback");
    let mode = ctx
        .mode
        .or_else(|| facts.parsed_config().map(|p| p.config.auth_mode()));
    match &facts.oauth_client {
        None => Row::skip(id, "the OAuthClient was not read"),
        Some(Err(e)) => read_failed(id, e),
        Some(Ok(None)) => match mode {
            Some(AuthMode::Entra | AuthMode::Oidc) => Row::skip(
                id,
                format!(
                    "no OAuthClient {}: in {} mode the client is registered with the issuer",
                    ctx.oauth_client,
                    mode.map_or("oidc", AuthMode::as_str)
                ),
            ),
            _ => Row::skip(
                id,
                format!(
                    "no OAuthClient {} (optional in openshift mode: only browser logins through OpenShift OAuth need it; `oc mcp-oauth register openshift`)",
                    ctx.oauth_client
                ),
            ),
        },
        Some(Ok(Some(client))) => {
            let uris = client.redirect_uris.join(", ");
            let foreign: Vec<&String> = client
                .redirect_uris
                .iter()
                .filter(|u| !redirect_is_ours(u, host))
                .collect();
            if !foreign.is_empty() {
                // OpenShift sends the authorization code to any listed URI: one on another
                // host hands a member's login to whoever runs it.
                return Row::fail(id)
                    .evidence(format!(
                        "oauthclient/{} redirectURIs [{uris}] include {} not on {host} or loopback",
                        client.name_any(),
                        foreign
                            .iter()
                            .map(|u| u.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .fix(format!(
                        "remove them: `oc mcp-oauth register openshift` sets exactly the route's callback and the loopback ones (oc edit oauthclient/{})",
                        client.name_any()
                    ));
            }
            if client
                .redirect_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == callback)
            {
                Row::pass(id).evidence(format!(
                    "oauthclient/{} redirectURIs include {callback}",
                    client.name_any()
                ))
            } else {
                Row::fail(id)
                    .evidence(format!(
                        "oauthclient/{} redirectURIs [{uris}] lack {callback}",
                        client.name_any()
                    ))
                    .fix(format!(
                        "add it: `oc mcp-oauth register openshift` (or oc patch oauthclient/{} --type=json -p '[{{\"op\":\"add\",\"path\":\"/redirectURIs/-\",\"value\":\"{callback}\"}}]')",
                        client.name_any()
                    ))
            }
        }
    }
}

/// The route's own host over https, or a loopback redirect of a CLI login (RFC 8252).
fn redirect_is_ours(uri: &str, host: &str) -> bool {
    use url::Host;
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(Host::Domain(h))) => h.eq_ignore_ascii_case(host),
        ("http", Some(Host::Domain(h))) => h.eq_ignore_ascii_case("localhost"),
        ("http", Some(Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_tokens_in_log_lines() {
        let line = r#"I1126 "Authorization" header="Bearer sha256~abcdefghijkl" jwt=eyJhbGciOi.eyJzdWIiOi.c2ln ok"#;
        let out = scrub(line);
        assert!(!out.contains("sha256~abcdefghijkl"), "{out}");
        assert!(!out.contains("eyJzdWIiOi"), "{out}");
        assert!(out.contains("ok"));
        assert_eq!(
            scrub("Bearer xyz123 and more"),
            "Bearer <redacted> and more"
        );
    }
}
