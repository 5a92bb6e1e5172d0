//! logs.startup: whether the server's recent log shows it started, with credentials scrubbed
//! from the lines quoted.

use crate::{checks::CheckId, cluster::Facts, http::shorten, report::Row};

use super::{
    pods::{AUTOMOUNT_FIX, logs_mention},
    read_failed,
};

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

pub(super) fn logs_row(facts: &Facts) -> Row {
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
