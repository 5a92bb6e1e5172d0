//! Static analysis: the bindings each checked subject holds, resolved to their rules and
//! judged against the role's intent.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
};
use kube::{Api, Client, ResourceExt};
use oc_mcp_common::{
    Result,
    rbac_intent::{self},
};

use super::{AUTOUPDATE_ANNOTATION, Finding};
use crate::{status::list_filtered, subjects::Subject};

/// The RBAC objects static analysis reads: every binding that names one of the checked
/// subjects (or a group their requests carry), and the roles to resolve them.
#[derive(Debug, Default)]
pub struct RbacSnapshot {
    pub cluster_roles: Vec<ClusterRole>,
    pub roles: BTreeMap<(String, String), Role>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
}

impl RbacSnapshot {
    /// List what the checked subjects may hold; bindings naming none of them are dropped page
    /// by page.
    pub async fn load(client: &Client, subjects: &[Subject], chunk_size: u32) -> Result<Self> {
        let identities: Vec<Identity> = subjects.iter().map(Identity::of).collect();
        let relevant = |subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>,
                        namespace: &str| {
            identities.iter().any(|id| {
                id.matches(subjects.map_or(&[][..], Vec::as_slice), namespace)
                    .is_some()
            })
        };
        let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
        let rbs: Api<RoleBinding> = Api::all(client.clone());
        let cluster_role_api: Api<ClusterRole> = Api::all(client.clone());
        let roles: Api<Role> = Api::all(client.clone());
        let (cluster_roles, cluster_role_bindings, role_bindings, roles) = futures::try_join!(
            list_filtered(&cluster_role_api, chunk_size, |r: &ClusterRole| Some(
                r.clone()
            )),
            list_filtered(&crbs, chunk_size, |b: &ClusterRoleBinding| {
                relevant(b.subjects.as_ref(), "").then(|| b.clone())
            }),
            list_filtered(&rbs, chunk_size, |b: &RoleBinding| {
                let namespace = b.namespace().unwrap_or_default();
                relevant(b.subjects.as_ref(), &namespace).then(|| b.clone())
            }),
            list_filtered(&roles, chunk_size, |r: &Role| {
                Some(((r.namespace().unwrap_or_default(), r.name_any()), r.clone()))
            }),
        )?;
        Ok(Self {
            cluster_roles,
            roles: roles.into_iter().collect(),
            cluster_role_bindings,
            role_bindings,
        })
    }

    /// The rules a role reference grants, aggregation followed; `(name, rules)`.
    fn resolve(&self, role_ref: &RoleRef, namespace: &str) -> (String, Vec<PolicyRule>) {
        match role_ref.kind.as_str() {
            "ClusterRole" => (
                format!("ClusterRole {}", role_ref.name),
                self.cluster_roles
                    .iter()
                    .find(|r| r.name_any() == role_ref.name)
                    .map(|r| rbac_intent::effective_rules(r, &self.cluster_roles))
                    .unwrap_or_default(),
            ),
            _ => (
                format!("Role {namespace}/{}", role_ref.name),
                self.roles
                    .get(&(namespace.to_owned(), role_ref.name.clone()))
                    .and_then(|r| r.rules.clone())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// Who a subject's requests come from: the user name and groups a review uses.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    user: Option<String>,
    groups: Vec<String>,
}

impl Identity {
    fn of(subject: &Subject) -> Self {
        let (user, groups) = subject.review_identity();
        Self { user, groups }
    }

    /// The binding subject that grants to this identity, as RBAC matches subjects, and whether
    /// it matched only through a group every identity carries (`system:authenticated`).
    fn matches(
        &self,
        subjects: &[k8s_openapi::api::rbac::v1::Subject],
        binding_namespace: &str,
    ) -> Option<(String, bool)> {
        subjects.iter().find_map(|s| {
            let hit = match s.kind.as_str() {
                "User" => self.user.as_deref() == Some(s.name.as_str()),
                "Group" => self.groups.contains(&s.name),
                "ServiceAccount" => {
                    let namespace = s
                        .namespace
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(binding_namespace);
                    self.user.as_deref()
                        == Some(format!("system:serviceaccount:{namespace}:{}", s.name).as_str())
                }
                _ => false,
            };
            hit.then(|| {
                let everyone =
                    s.kind == "Group" && rbac_intent::virtual_subject("Group", &s.name).is_some();
                (format!("{} {}", s.kind, s.name), everyone)
            })
        })
    }
}

/// Static analysis: every risky grant each subject holds through a binding, the namespaces
/// where it holds RoleBindings, and the platform defaults left unjudged.
pub fn analyze(
    snapshot: &RbacSnapshot,
    subjects: &[Subject],
) -> (Vec<Finding>, BTreeSet<String>, Vec<String>) {
    let mut findings = Vec::new();
    let mut namespaces = BTreeSet::new();
    let mut defaults = BTreeSet::new();
    for subject in subjects {
        let identity = Identity::of(subject);
        let crbs = snapshot.cluster_role_bindings.iter().map(|b| {
            (
                format!("ClusterRoleBinding {}", b.name_any()),
                None,
                b.subjects.as_deref().unwrap_or_default(),
                &b.role_ref,
                b.annotations(),
            )
        });
        let rbs = snapshot.role_bindings.iter().map(|b| {
            let namespace = b.namespace().unwrap_or_default();
            (
                format!("RoleBinding {namespace}/{}", b.name_any()),
                Some(namespace),
                b.subjects.as_deref().unwrap_or_default(),
                &b.role_ref,
                b.annotations(),
            )
        });
        for (binding, namespace, binding_subjects, role_ref, annotations) in crbs.chain(rbs) {
            let Some((via, through_everyone)) =
                identity.matches(binding_subjects, namespace.as_deref().unwrap_or_default())
            else {
                continue;
            };
            // The defaults kube and OpenShift give every authenticated user (self reviews,
            // discovery, deleting one's own OAuth tokens) are the platform's, not a deviation
            // of the MCP role; anything else bound to those groups is judged like the rest.
            if through_everyone
                && annotations.get(AUTOUPDATE_ANNOTATION).map(String::as_str) == Some("true")
            {
                defaults.insert(binding);
                continue;
            }
            if let Some(namespace) = &namespace {
                namespaces.insert(namespace.clone());
            }
            let (role, rules) =
                snapshot.resolve(role_ref, namespace.as_deref().unwrap_or_default());
            for risk in rbac_intent::risky_grants(&rules) {
                findings.push(Finding {
                    subject: subject.clone(),
                    binding: binding.clone(),
                    role: role.clone(),
                    namespace: namespace.clone(),
                    via: via.clone(),
                    risk,
                });
            }
        }
    }
    (findings, namespaces, defaults.into_iter().collect())
}

/// What the role is meant to grant, how it says so, and how it falls short of its intent:
/// drift from its profile (one line), and its own risky grants unless `named` (a finding
/// already names them through a binding).
pub(super) fn intent_of(
    role: &ClusterRole,
    all: &[ClusterRole],
    named: bool,
) -> (Vec<PolicyRule>, String, Vec<String>) {
    let mut problems = Vec::new();
    let drift = rbac_intent::profile_drift(role);
    if !drift.is_clean() {
        problems.push(format!(
            "differs from its profile: {}",
            drift.lines().join(", ")
        ));
    }
    if !named {
        problems.extend(
            rbac_intent::risky_grants(&rbac_intent::effective_rules(role, all))
                .iter()
                .map(|risk| format!("grants {risk}")),
        );
    }
    match (
        rbac_intent::intended_rules(role),
        rbac_intent::recorded_profile(role),
    ) {
        (Some(rules), Some(profile)) => (rules, format!("profile {}", profile.as_str()), problems),
        // An edited `tools` role: its reads cannot be told from the edit; expect none and let
        // the drift fail the check.
        (None, Some(profile)) => (
            Vec::new(),
            format!("profile {} (edited: no reads expected)", profile.as_str()),
            problems,
        ),
        // A role bound with --allow-unmanaged-role has no profile: its own read-only rules are
        // the reads expected (risky ones never are); what must be denied stays fixed.
        (_, None) => (
            role.rules.clone().unwrap_or_default(),
            "none recorded: the role's own read-only rules".into(),
            problems,
        ),
    }
}
