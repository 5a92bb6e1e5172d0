//! What `check` found: one cell per question and subject, the risky grants, and the table.

use oc_mcp_common::{
    output::Tabular,
    rbac_intent::{self},
};
use serde::Serialize;

use super::{Expect, Probe};
use crate::subjects::Subject;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub subject: Subject,
    #[serde(flatten)]
    pub probe: Probe,
    pub allowed: bool,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A risky grant a checked subject holds through a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub subject: Subject,
    /// `ClusterRoleBinding NAME` or `RoleBinding NAMESPACE/NAME`.
    pub binding: String,
    /// `ClusterRole NAME` or `Role NAMESPACE/NAME`.
    pub role: String,
    /// Where the grant applies; `None`: cluster-wide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The binding subject that matched (the checked subject itself, or a group it carries).
    pub via: String,
    pub risk: rbac_intent::Risk,
}

impl Finding {
    pub fn describe(&self) -> String {
        format!(
            "{} (via {}) of {} grants {} (rules[{}])",
            self.binding, self.via, self.role, self.risk, self.risk.rule
        )
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub role: String,
    /// Where the expected reads come from: `profile full`, or why there is none.
    pub intent: String,
    pub subjects: Vec<Subject>,
    /// The namespaces checked besides cluster scope.
    pub namespaces: Vec<String>,
    pub checked: usize,
    pub deviations: usize,
    /// How the role differs from its profile, and its own risky grants.
    pub role_problems: Vec<String>,
    pub findings: Vec<Finding>,
    /// Bindings of the platform's defaults (for every authenticated user) left unjudged.
    pub platform_defaults: Vec<String>,
    pub matrix: Vec<Cell>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.deviations == 0
    }

    fn scopes(&self) -> String {
        let mut scopes = vec!["cluster".to_owned()];
        scopes.extend(self.namespaces.iter().cloned());
        scopes.join(",")
    }

    /// The deviations, one line each, for the error message.
    pub fn deviation_lines(&self, limit: usize) -> Vec<String> {
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" };
        let mut lines: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.subject, f.describe()))
            .collect();
        lines.extend(
            self.role_problems
                .iter()
                .map(|p| format!("ClusterRole {}: {p}", self.role)),
        );
        lines.extend(self.matrix.iter().filter(|c| !c.ok).map(|c| {
            let scope = c
                .probe
                .namespace
                .as_deref()
                .map_or_else(|| "cluster-wide".to_owned(), |n| format!("in {n}"));
            let why = c
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "{}: {} {} {scope}{why}",
                c.subject,
                c.probe.describe(),
                word(c.allowed)
            )
        }));
        let total = lines.len();
        lines.truncate(limit);
        if total > limit {
            lines.push(format!("... and {} more (see -o json)", total - limit));
        }
        lines
    }
}

impl Tabular for CheckReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        if wide {
            vec![
                "SUBJECT",
                "NAMESPACE",
                "ACCESS",
                "EXPECTED",
                "ACTUAL",
                "RESULT",
            ]
        } else {
            vec![
                "SUBJECT",
                "SCOPES",
                "CHECKS",
                "DEVIATIONS",
                "RESULT",
                "FIRST DEVIATIONS",
            ]
        }
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" }.to_owned();
        if wide {
            let mut rows: Vec<Vec<String>> = self
                .findings
                .iter()
                .map(|f| {
                    vec![
                        f.subject.to_string(),
                        f.namespace.clone().unwrap_or_else(|| "*".into()),
                        f.risk.to_string(),
                        "denied".into(),
                        format!("granted by {}", f.binding),
                        "DEVIATION".into(),
                    ]
                })
                .collect();
            rows.extend(self.matrix.iter().map(|c| {
                vec![
                    c.subject.to_string(),
                    c.probe.namespace.clone().unwrap_or_else(|| "*".into()),
                    c.probe.describe(),
                    word(c.probe.expect == Expect::Allow),
                    word(c.allowed),
                    if c.ok { "ok" } else { "DEVIATION" }.into(),
                ]
            }));
            return rows;
        }
        self.subjects
            .iter()
            .map(|s| {
                let cells: Vec<&Cell> = self.matrix.iter().filter(|c| &c.subject == s).collect();
                let mut bad: Vec<String> = self
                    .findings
                    .iter()
                    .filter(|f| &f.subject == s)
                    .map(Finding::describe)
                    .collect();
                bad.extend(
                    self.role_problems
                        .iter()
                        .map(|p| format!("role {}: {p}", self.role)),
                );
                bad.extend(cells.iter().filter(|c| !c.ok).map(|c| {
                    format!(
                        "{} {} in {}",
                        c.probe.describe(),
                        word(c.allowed),
                        c.probe.namespace.as_deref().unwrap_or("*")
                    )
                }));
                let first: Vec<&String> = bad.iter().take(3).collect();
                vec![
                    s.to_string(),
                    self.scopes(),
                    cells.len().to_string(),
                    bad.len().to_string(),
                    if bad.is_empty() { "pass" } else { "FAIL" }.into(),
                    if first.is_empty() {
                        "-".into()
                    } else {
                        first
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                ]
            })
            .collect()
    }
}
