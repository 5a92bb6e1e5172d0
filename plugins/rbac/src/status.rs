//! `status`: the role, every binding that references it, the subjects, and what looks wrong.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding};
use kube::{Api, Client, Resource, ResourceExt, api::ListParams};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, defaults,
    output::Tabular,
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
    rbac_intent,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{role::PROFILE_ANNOTATION, subjects::Subject};

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The ClusterRole to report on
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: String,

    /// Read bindings in pages of this many objects, as kubectl's --chunk-size (0: all at once)
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE, value_name = "N")]
    pub chunk_size: u32,
}

/// kubectl's page size: large clusters hold tens of thousands of bindings, and one page at a
/// time keeps the memory of both ends bounded (see BENCHMARKS.md for the trade-off).
pub const DEFAULT_CHUNK_SIZE: u32 = 500;

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
    /// What makes the state unsafe (exit 1): a risky rule, drift from the profile, a binding
    /// to a virtual subject.
    pub problems: Vec<String>,
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
    if report.problems.is_empty() {
        return Ok(ExitCode::Ok);
    }
    Err(Error::Failed {
        message: format!(
            "the RBAC of ClusterRole {} is not safe:\n  {}",
            report.role.name,
            report.problems.join("\n  ")
        ),
        hint: Some(format!(
            "restore the role with `oc mcp-rbac role --name {}`, and remove bindings to virtual \
             subjects with `oc mcp-rbac unbind --force SUBJECT`",
            report.role.name
        )),
    })
}

/// What makes the state unsafe: judged from the intent, so `status` exits 1 on any of them.
fn problems(role: &RoleStatus, bindings: &[BindingStatus]) -> Vec<String> {
    let mut problems: Vec<String> = role
        .risky_rules
        .iter()
        .map(|risky| format!("risky rule: {risky}"))
        .collect();
    if !role.drift.is_empty() {
        problems.push(format!(
            "ClusterRole {} differs from its profile: {}",
            role.name,
            role.drift.join(", ")
        ));
    }
    for binding in bindings {
        for subject in &binding.subjects {
            if let Some(why) = rbac_intent::virtual_subject(subject.kind(), &subject.display_name())
            {
                let place = binding
                    .namespace
                    .as_deref()
                    .map(|n| format!(" in namespace {n}"))
                    .unwrap_or_default();
                problems.push(format!(
                    "{} {}{place} binds the role to {subject}: {why}",
                    binding.kind, binding.name
                ));
            }
        }
    }
    problems
}

/// What makes a rule unsafe for a read-only MCP role, one line per grant
/// ([`rbac_intent::risky_grants`]).
pub fn risky_rules(rules: &[PolicyRule]) -> Vec<String> {
    rbac_intent::risky_grants(rules)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `all`: every ClusterRole, to follow an aggregation rule (empty when the role has none).
fn role_status(name: &str, role: Option<&ClusterRole>, all: &[ClusterRole]) -> RoleStatus {
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
    RoleStatus {
        name: name.to_owned(),
        present: true,
        profile: role.annotations().get(PROFILE_ANNOTATION).cloned(),
        managed_by_oc_mcp: role.labels().get(MANAGED_BY_LABEL).map(String::as_str)
            == Some(MANAGED_BY_VALUE),
        drift: rbac_intent::profile_drift(role).lines(),
        risky_rules: risky_rules(&rbac_intent::effective_rules(role, all)),
        rule_count: rules.len(),
    }
}

pub async fn status(client: &Client, args: &StatusArgs) -> Result<StatusReport> {
    Ok(status_and_role(client, args).await?.0)
}

/// [`status`], and the live ClusterRole it read (so `check` need not read it again).
pub async fn status_and_role(
    client: &Client,
    args: &StatusArgs,
) -> Result<(StatusReport, Option<ClusterRole>)> {
    let role_name = &args.role;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<RoleBinding> = Api::all(client.clone());
    let ours = |labels: &BTreeMap<String, String>| {
        labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
    };
    let to_subjects = |s: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        s.iter()
            .flatten()
            .filter_map(Subject::from_rbac)
            .collect::<Vec<_>>()
    };
    // Only bindings of the role are kept: the rest of each page is dropped as it arrives.
    let crb_status = |b: &ClusterRoleBinding| {
        (b.role_ref.kind == "ClusterRole" && &b.role_ref.name == role_name).then(|| BindingStatus {
            kind: "ClusterRoleBinding".into(),
            name: b.name_any(),
            namespace: None,
            managed_by_oc_mcp: ours(b.labels()),
            subjects: to_subjects(&b.subjects),
        })
    };
    let rb_status = |b: &RoleBinding| {
        (b.role_ref.kind == "ClusterRole" && &b.role_ref.name == role_name).then(|| BindingStatus {
            kind: "RoleBinding".into(),
            name: b.name_any(),
            namespace: b.namespace(),
            managed_by_oc_mcp: ours(b.labels()),
            subjects: to_subjects(&b.subjects),
        })
    };
    let (live, mut bindings, rb_bindings) = futures::try_join!(
        async { Ok(roles.get_opt(role_name).await?) },
        list_filtered(&crbs, args.chunk_size, crb_status),
        list_filtered(&rbs, args.chunk_size, rb_status),
    )?;
    bindings.extend(rb_bindings);
    bindings
        .sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));

    // Only an aggregated role needs the others (rare: oc-mcp never makes one).
    let all = if live.as_ref().is_some_and(|r| r.aggregation_rule.is_some()) {
        list_filtered(&roles, args.chunk_size, |r: &ClusterRole| Some(r.clone())).await?
    } else {
        Vec::new()
    };
    let role = role_status(role_name, live.as_ref(), &all);
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
    let problems = problems(&role, &bindings);
    Ok((
        StatusReport {
            role,
            bindings,
            subjects,
            problems,
            warnings,
        },
        live,
    ))
}

/// Every object of a kind, `chunk_size` per request (0: one request), mapped by `keep`; only
/// what `keep` returns is held, never the whole list.
pub(crate) async fn list_filtered<K, T>(
    api: &Api<K>,
    chunk_size: u32,
    keep: impl Fn(&K) -> Option<T>,
) -> Result<Vec<T>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default();
    if chunk_size > 0 {
        params = params.limit(chunk_size);
    }
    let mut out = Vec::new();
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            // The continue token expired (410 Gone: the list took longer than etcd keeps its
            // snapshot); start again in one request so the list still completes.
            Err(kube::Error::Api(status))
                if status.code == 410 && params.continue_token.is_some() =>
            {
                out.clear();
                params = ListParams::default();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        out.extend(page.items.iter().filter_map(&keep));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
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
    if bindings.is_empty() {
        warnings.push("no binding references the role: nobody can use the MCP server".into());
    }
    for binding in bindings {
        if binding.subjects.is_empty() {
            warnings.push(format!("{} {} has no subjects", binding.kind, binding.name));
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
        assert!(risky_rules(&rbac_intent::full_rules()).is_empty());
    }
}
