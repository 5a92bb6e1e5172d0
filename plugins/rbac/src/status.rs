//! `status`: the role, every binding that references it, the subjects, and what looks wrong.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding};
use kube::{Api, Client, ResourceExt, api::ListParams};
use oc_mcp_common::{
    ExitCode, GlobalArgs, Result, cli, defaults,
    output::Tabular,
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
};
use serde::Serialize;

use crate::{
    profiles::{self, Profile, READ_VERBS},
    role::{FINGERPRINT_ANNOTATION, PROFILE_ANNOTATION},
    subjects::Subject,
};

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The ClusterRole to report on
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleStatus {
    pub name: String,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub managed_by_oc_mcp: bool,
    /// Grants that differ from the recorded profile (`+` extra, `-` missing).
    pub drift: Vec<String>,
    /// Rules that are not read-only or touch sensitive resources.
    pub risky_rules: Vec<String>,
    pub rule_count: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingStatus {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub managed_by_oc_mcp: bool,
    pub subjects: Vec<Subject>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub role: RoleStatus,
    pub bindings: Vec<BindingStatus>,
    /// Subject names by kind (`Group`, `User`, `ServiceAccount`).
    pub subjects: BTreeMap<String, Vec<String>>,
    pub warnings: Vec<String>,
}

impl StatusReport {
    /// Every distinct subject bound to the role.
    pub fn bound_subjects(&self) -> Vec<Subject> {
        let mut all: Vec<Subject> = self
            .bindings
            .iter()
            .flat_map(|b| b.subjects.clone())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// `oc mcp-rbac status`
pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<ExitCode> {
    crate::role::validate_object_name(&args.role, "--role")?;
    let client = global.kube.client().await?;
    let report = status(&client, args).await?;
    cli::emit(&report, global.output.output)?;
    if !global.output.output.is_machine() {
        for warning in &report.warnings {
            cli::warn(warning);
        }
    }
    Ok(ExitCode::Ok)
}

/// What makes a rule unsafe for a read-only MCP role.
pub fn risky_rules(rules: &[PolicyRule]) -> Vec<String> {
    const SENSITIVE: [&str; 7] = [
        "secrets",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "nodes/proxy",
        "serviceaccounts/token",
        "*",
    ];
    const DANGEROUS_VERBS: [&str; 4] = ["impersonate", "escalate", "bind", "*"];
    let mut out = Vec::new();
    for (group, resource, verb) in profiles::grants(rules) {
        let name = if group.is_empty() {
            resource.clone()
        } else {
            format!("{resource}.{group}")
        };
        if DANGEROUS_VERBS.contains(&verb.as_str()) {
            out.push(format!(
                "{verb} {name}: lets the holder gain other identities or permissions"
            ));
        } else if !READ_VERBS.contains(&verb.as_str()) {
            out.push(format!("{verb} {name}: not read-only"));
        } else if SENSITIVE.contains(&resource.as_str()) || group == "*" {
            out.push(format!(
                "{verb} {name}: exposes credentials or command execution"
            ));
        }
    }
    out
}

fn role_status(name: &str, role: Option<&ClusterRole>) -> RoleStatus {
    let Some(role) = role else {
        return RoleStatus {
            name: name.to_owned(),
            present: false,
            profile: None,
            managed_by_oc_mcp: false,
            drift: Vec::new(),
            risky_rules: Vec::new(),
            rule_count: 0,
        };
    };
    let rules = role.rules.clone().unwrap_or_default();
    let profile = role.annotations().get(PROFILE_ANNOTATION).cloned();
    let drift = match profile.as_deref().and_then(Profile::parse) {
        Some(Profile::Full) => crate::role::diff(&profiles::full_rules(), &rules),
        Some(Profile::Minimal) => crate::role::diff(&profiles::minimal_rules(), &rules),
        // A derived role is compared with the fingerprint recorded when it was applied.
        Some(Profile::Tools) => {
            if role.annotations().get(FINGERPRINT_ANNOTATION)
                == Some(&profiles::rules_fingerprint(&rules))
            {
                Vec::new()
            } else {
                vec!["rules changed since oc-mcp applied the tools profile".to_owned()]
            }
        }
        None => Vec::new(),
    };
    RoleStatus {
        name: name.to_owned(),
        present: true,
        profile,
        managed_by_oc_mcp: role.labels().get(MANAGED_BY_LABEL).map(String::as_str)
            == Some(MANAGED_BY_VALUE),
        drift,
        risky_rules: risky_rules(&rules),
        rule_count: rules.len(),
    }
}

/// Everyone who can use a group binding: these names make the role public.
const EVERYONE_GROUPS: [&str; 3] = [
    "system:authenticated",
    "system:unauthenticated",
    "system:serviceaccounts",
];

pub async fn status(client: &Client, args: &StatusArgs) -> Result<StatusReport> {
    let role_name = &args.role;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<RoleBinding> = Api::all(client.clone());
    let all = ListParams::default();
    let (role, crb_list, rb_list) =
        futures::try_join!(roles.get_opt(role_name), crbs.list(&all), rbs.list(&all))?;
    let ours = |labels: &BTreeMap<String, String>| {
        labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
    };
    let to_subjects = |s: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        s.iter()
            .flatten()
            .filter_map(Subject::from_rbac)
            .collect::<Vec<_>>()
    };
    let mut bindings: Vec<BindingStatus> = crb_list
        .items
        .iter()
        .filter(|b| b.role_ref.kind == "ClusterRole" && &b.role_ref.name == role_name)
        .map(|b| BindingStatus {
            kind: "ClusterRoleBinding".into(),
            name: b.name_any(),
            namespace: None,
            managed_by_oc_mcp: ours(b.labels()),
            subjects: to_subjects(&b.subjects),
        })
        .collect();
    bindings.extend(
        rb_list
            .items
            .iter()
            .filter(|b| b.role_ref.kind == "ClusterRole" && &b.role_ref.name == role_name)
            .map(|b| BindingStatus {
                kind: "RoleBinding".into(),
                name: b.name_any(),
                namespace: b.namespace(),
                managed_by_oc_mcp: ours(b.labels()),
                subjects: to_subjects(&b.subjects),
            }),
    );
    bindings
        .sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));

    let role = role_status(role_name, role.as_ref());
    let mut subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for subject in bindings.iter().flat_map(|b| &b.subjects) {
        let list = subjects.entry(subject.kind().to_owned()).or_default();
        if !list.contains(&subject.display_name()) {
            list.push(subject.display_name());
        }
    }
    for list in subjects.values_mut() {
        list.sort();
    }
    let warnings = warnings(&role, &bindings, &subjects);
    Ok(StatusReport {
        role,
        bindings,
        subjects,
        warnings,
    })
}

fn warnings(
    role: &RoleStatus,
    bindings: &[BindingStatus],
    subjects: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if !role.present {
        warnings.push(format!(
            "ClusterRole {} does not exist: run `oc mcp-rbac role`",
            role.name
        ));
    } else if role.profile.is_none() {
        warnings.push(format!(
            "ClusterRole {} was not made by oc-mcp (no profile recorded)",
            role.name
        ));
    }
    if !role.drift.is_empty() {
        warnings.push(format!(
            "ClusterRole {} differs from its profile: {}",
            role.name,
            role.drift.join(", ")
        ));
    }
    for risky in &role.risky_rules {
        warnings.push(format!("risky rule: {risky}"));
    }
    if bindings.is_empty() {
        warnings.push("no binding references the role: nobody can use the MCP server".into());
    }
    for binding in bindings {
        if binding.subjects.is_empty() {
            warnings.push(format!("{} {} has no subjects", binding.kind, binding.name));
        }
    }
    if let Some(groups) = subjects.get("Group") {
        for group in groups
            .iter()
            .filter(|g| EVERYONE_GROUPS.contains(&g.as_str()))
        {
            warnings.push(format!(
                "group {group} is bound: every such identity gets the role"
            ));
        }
    }
    if !subjects.is_empty() && subjects.keys().all(|k| k == "ServiceAccount") {
        warnings.push(
            "only service accounts are bound: with token passthrough users get nothing from the role".into(),
        );
    }
    warnings
}

impl Tabular for StatusReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        let mut h = vec!["KIND", "NAME", "NAMESPACE", "OC-MCP", "SUBJECTS"];
        if wide {
            h.push("SUBJECT KINDS");
        }
        h
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        let role_row = vec![
            "ClusterRole".to_owned(),
            self.role.name.clone(),
            "-".into(),
            if self.role.managed_by_oc_mcp {
                "yes"
            } else {
                "no"
            }
            .into(),
            match (&self.role.present, &self.role.profile) {
                (false, _) => "(missing)".into(),
                (true, Some(p)) => format!("profile {p}, {} rules", self.role.rule_count),
                (true, None) => format!("{} rules", self.role.rule_count),
            },
        ];
        let mut rows = vec![role_row];
        for b in &self.bindings {
            let mut row = vec![
                b.kind.clone(),
                b.name.clone(),
                b.namespace.clone().unwrap_or_else(|| "-".into()),
                if b.managed_by_oc_mcp { "yes" } else { "no" }.into(),
                b.subjects
                    .iter()
                    .map(Subject::display_name)
                    .collect::<Vec<_>>()
                    .join(","),
            ];
            if wide {
                row.push(
                    b.subjects
                        .iter()
                        .map(Subject::kind)
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
            rows.push(row);
        }
        if wide {
            rows[0].push("-".into());
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_rules_flag_writes_secrets_and_escalation() {
        let rules = vec![
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".into(), "secrets".into(), "pods/exec".into()]),
                verbs: vec!["get".into(), "create".into()],
                ..PolicyRule::default()
            },
            PolicyRule {
                api_groups: Some(vec!["rbac.authorization.k8s.io".into()]),
                resources: Some(vec!["clusterroles".into()]),
                verbs: vec!["escalate".into()],
                ..PolicyRule::default()
            },
        ];
        let risky = risky_rules(&rules).join("\n");
        assert!(risky.contains("create pods: not read-only"));
        assert!(risky.contains("get secrets: exposes credentials"));
        assert!(risky.contains("get pods/exec"));
        assert!(risky.contains("escalate clusterroles.rbac.authorization.k8s.io"));
        assert!(!risky.contains("get pods:"));
        assert!(risky_rules(&profiles::full_rules()).is_empty());
    }
}
