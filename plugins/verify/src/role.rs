//! The MCP ClusterRole (`--role`) judged against its intent, never against the live object:
//! its bindings must name real groups of people (no virtual subject such as
//! `system:authenticated`), its rules (aggregation followed) must hold no risky grant, and
//! they must be the rules of the profile it records. The judgements are common's
//! `rbac_intent`, shared with `oc mcp-rbac`.

use k8s_openapi::api::rbac::v1::{ClusterRole, Subject};
use kube::{Api, Client, ResourceExt, api::ListParams};
use oc_mcp_common::rbac_intent::{
    effective_rules, is_managed, profile_drift, risky_grants, virtual_subject,
};

use crate::{
    checks::CheckId,
    cluster::{Bindings, ReadError, get_opt, list},
    cluster_rows::read_failed,
    report::Row,
};

/// A subject and the binding that names it (`clusterrolebinding/x`, `rolebinding/x -n ns`).
#[derive(Debug, Clone)]
pub struct Binding {
    pub binding: String,
    pub subject: Subject,
}

/// What the cluster says about the role.
#[derive(Debug)]
pub struct RoleFacts {
    pub name: String,
    pub role: Result<Option<ClusterRole>, ReadError>,
    /// Every ClusterRole, for an `aggregationRule`; `None` when the role aggregates nothing.
    pub all: Option<Result<Vec<ClusterRole>, ReadError>>,
    pub bindings: Result<Vec<Binding>, ReadError>,
}

impl RoleFacts {
    /// The bound subjects, or why they are unknown (for the passthrough judgement).
    pub fn subjects(&self) -> Result<Vec<Subject>, String> {
        match &self.bindings {
            Ok(b) => Ok(b.iter().map(|b| b.subject.clone()).collect()),
            Err(e) if e.forbidden => Err(format!("unknown (forbidden): {}", e.message)),
            Err(e) => Err(e.message.clone()),
        }
    }
}

/// Read the role, its bindings (cluster-wide and in every namespace) and, when it aggregates,
/// every ClusterRole.
pub async fn read(
    client: &Client,
    name: &str,
    bindings: Option<&Result<Bindings, ReadError>>,
) -> RoleFacts {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let all = ListParams::default();
    let role = get_opt(&roles, name, "clusterrole").await;
    let of_role =
        |r: &k8s_openapi::api::rbac::v1::RoleRef| r.kind == "ClusterRole" && r.name == name;
    let listed = match bindings {
        Some(read) => read.clone(),
        None => Err(ReadError::check("the bindings were not read")),
    };
    let bindings = listed.map(
        |Bindings {
             cluster,
             namespaced,
         }| {
            let mut out = Vec::new();
            for b in cluster.into_iter().filter(|b| of_role(&b.role_ref)) {
                let binding = format!("clusterrolebinding/{}", b.name_any());
                for subject in b.subjects.unwrap_or_default() {
                    out.push(Binding {
                        binding: binding.clone(),
                        subject,
                    });
                }
            }
            for b in namespaced.into_iter().filter(|b| of_role(&b.role_ref)) {
                let binding = format!(
                    "rolebinding/{} -n {}",
                    b.name_any(),
                    b.namespace().unwrap_or_default()
                );
                for subject in b.subjects.unwrap_or_default() {
                    out.push(Binding {
                        binding: binding.clone(),
                        subject,
                    });
                }
            }
            out
        },
    );
    let aggregates = matches!(&role, Ok(Some(r)) if r.aggregation_rule.is_some());
    let all = if aggregates {
        Some(
            list(&roles, &all, "clusterroles")
                .await
                .map(|(items, _)| items),
        )
    } else {
        None
    };
    RoleFacts {
        name: name.to_owned(),
        role,
        all,
        bindings,
    }
}

/// `rbac.bindings` and `rbac.role`.
pub fn rows(facts: &RoleFacts) -> Vec<Row> {
    vec![bindings_row(facts), role_row(facts)]
}

fn bindings_row(facts: &RoleFacts) -> Row {
    let id = CheckId::RbacBindings;
    let name = &facts.name;
    let bindings = match &facts.bindings {
        Ok(b) => b,
        Err(e) => return read_failed(id, e),
    };
    if bindings.is_empty() {
        return Row::warn(id)
            .evidence(format!("no binding of clusterrole/{name}"))
            .fix("bind the group of people who use the MCP server: oc mcp-rbac bind <group> (or pass --role with the MCP role)");
    }
    let mut failures = Vec::new();
    let mut fixes = Vec::new();
    let mut real = Vec::new();
    for b in bindings {
        let s = &b.subject;
        let who = format!("{} {}", s.kind, s.name);
        match virtual_subject(&s.kind, &s.name) {
            Some(v) => {
                failures.push(format!(
                    "{} binds clusterrole/{name} to {who}: {v}",
                    b.binding
                ));
                fixes.push(format!(
                    "remove {who} from {} (`oc mcp-rbac unbind` for a binding it made, else oc edit {}); {}",
                    b.binding,
                    b.binding,
                    v.hint()
                ));
            }
            None => real.push(format!("{who} ({})", b.binding)),
        }
    }
    if failures.is_empty() {
        Row::pass(id).evidence(format!(
            "clusterrole/{name} is bound to {}",
            real.join(", ")
        ))
    } else {
        Row::fail(id).evidence_lines(failures).fix(fixes.join("; "))
    }
}

fn role_row(facts: &RoleFacts) -> Row {
    let id = CheckId::RbacRole;
    let name = &facts.name;
    let role = match &facts.role {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Row::warn(id)
                .evidence(format!("clusterrole/{name} does not exist"))
                .fix("create it with `oc mcp-rbac role`, or pass --role with the MCP role");
        }
        Err(e) => return read_failed(id, e),
    };
    let rules = match &facts.all {
        None => role.rules.clone().unwrap_or_default(),
        Some(Ok(all)) => effective_rules(role, all),
        Some(Err(e)) => return read_failed(id, e),
    };
    let risks = risky_grants(&rules);
    let drift = profile_drift(role);
    let mut evidence: Vec<String> = risks.iter().map(|r| format!("risky: {r}")).collect();
    if !drift.is_clean() {
        evidence.push(format!(
            "drifted from profile {}:",
            drift.profile.as_deref().unwrap_or("?")
        ));
        evidence.extend(drift.lines().into_iter().map(|l| format!("  {l}")));
    }
    if !evidence.is_empty() {
        let profile = drift
            .profile
            .as_deref()
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default();
        return Row::fail(id).evidence_lines(evidence).fix(format!(
            "restore the read-only role: oc mcp-rbac role --name {name}{profile} (and find who edited it)"
        ));
    }
    let summary = format!("clusterrole/{name}: {} rules, no risky grant", rules.len());
    if is_managed(role) {
        Row::pass(id).evidence(format!(
            "{summary}, as profile {} says",
            drift.profile.as_deref().unwrap_or("?")
        ))
    } else {
        Row::warn(id)
            .evidence(summary)
            .evidence("not made by oc mcp-rbac role: no recorded profile, so its intent is unknown")
            .fix(format!(
                "let oc-mcp own it: oc mcp-rbac role --name {name} (a read-only profile it can check later)"
            ))
    }
}
