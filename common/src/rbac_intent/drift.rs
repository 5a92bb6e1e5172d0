//! A ClusterRole's effective rules (aggregation followed) against the profile it records.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use super::{
    FINGERPRINT_ANNOTATION, PROFILE_ANNOTATION, Profile, describe_grant, grants, rules_fingerprint,
};
use crate::plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let exprs = selector.match_expressions.as_deref().unwrap_or_default();
    let match_labels = selector.match_labels.as_ref();
    // An empty selector selects nothing in aggregation (kube skips it), not everything.
    if exprs.is_empty() && match_labels.is_none_or(BTreeMap::is_empty) {
        return false;
    }
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && exprs.iter().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// The rules `role` grants: its own, and with an `aggregationRule` those of every ClusterRole
/// in `all` its selectors match, followed transitively (as the aggregation controller would;
/// a cluster where the controller has not run yet is judged the same).
pub fn effective_rules(role: &ClusterRole, all: &[ClusterRole]) -> Vec<PolicyRule> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue = vec![role];
    while let Some(current) = queue.pop() {
        let name = current.metadata.name.clone().unwrap_or_default();
        if !seen.insert(name) {
            continue;
        }
        for rule in current.rules.iter().flatten() {
            if !out.contains(rule) {
                out.push(rule.clone());
            }
        }
        let selectors = current
            .aggregation_rule
            .as_ref()
            .and_then(|a| a.cluster_role_selectors.as_deref())
            .unwrap_or_default();
        for candidate in all {
            let labels = candidate.metadata.labels.clone().unwrap_or_default();
            if selectors.iter().any(|s| selector_matches(s, &labels)) {
                queue.push(candidate);
            }
        }
    }
    out
}

/// Whether oc-mcp made the role: its managed-by label and a recorded profile.
pub fn is_managed(role: &ClusterRole) -> bool {
    let labels = role.metadata.labels.as_ref();
    let annotations = role.metadata.annotations.as_ref();
    labels
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .map(String::as_str)
        == Some(MANAGED_BY_VALUE)
        && annotations.is_some_and(|a| a.contains_key(PROFILE_ANNOTATION))
}

/// The profile the role records, if it names one oc-mcp knows.
pub fn recorded_profile(role: &ClusterRole) -> Option<Profile> {
    role.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .and_then(|p| Profile::parse(p))
}

fn fingerprint_matches(role: &ClusterRole) -> bool {
    let recorded = role
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(FINGERPRINT_ANNOTATION));
    recorded
        == Some(&rules_fingerprint(
            role.rules.as_deref().unwrap_or_default(),
        ))
}

/// The rules the role is meant to grant: the fixed rules of its profile; for `tools`, the rules
/// as oc-mcp applied them (the recorded fingerprint still matches). `None` when no profile is
/// recorded or a `tools` role was edited since: there is then no intent to compare with.
pub fn intended_rules(role: &ClusterRole) -> Option<Vec<PolicyRule>> {
    match recorded_profile(role)? {
        Profile::Tools if fingerprint_matches(role) && role.aggregation_rule.is_none() => {
            Some(role.rules.clone().unwrap_or_default())
        }
        Profile::Tools => None,
        fixed => fixed.fixed_rules(),
    }
}

/// How a live ClusterRole differs from the profile it records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDrift {
    /// The profile recorded on the role, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Grants the live role has and the profile does not (`verb resource.group`).
    pub added: Vec<String>,
    /// Grants the profile has and the live role lacks.
    pub removed: Vec<String>,
    /// A difference that is not one grant: an aggregation rule, an unknown profile, a `tools`
    /// role whose fingerprint no longer matches.
    pub other: Vec<String>,
}

impl ProfileDrift {
    /// No difference found.
    pub fn is_clean(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.other.is_empty()
    }

    /// One line per difference: `+ grant`, `- grant`, then the others.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.added.iter().map(|g| format!("+ {g}")).collect();
        lines.extend(self.removed.iter().map(|g| format!("- {g}")));
        lines.extend(self.other.iter().cloned());
        lines
    }
}

/// `+` / `-` grants between the live role and the profile it records. A role without a
/// recorded profile has no intent and so no drift (`profile: None`); whether such a role may
/// be used at all is for the caller to decide ([`is_managed`]).
pub fn profile_drift(role: &ClusterRole) -> ProfileDrift {
    let Some(recorded) = role
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .cloned()
    else {
        return ProfileDrift::default();
    };
    let mut drift = ProfileDrift {
        profile: Some(recorded.clone()),
        ..ProfileDrift::default()
    };
    if role.aggregation_rule.is_some() {
        drift.other.push(
            "an aggregationRule was added: the role also grants the rules of every ClusterRole it selects"
                .into(),
        );
    }
    let live = role.rules.as_deref().unwrap_or_default();
    match Profile::parse(&recorded) {
        None => drift.other.push(format!(
            "the recorded profile {recorded:?} is not one oc-mcp makes"
        )),
        Some(Profile::Tools) => {
            if !fingerprint_matches(role) {
                drift
                    .other
                    .push("rules changed since oc-mcp applied the tools profile".into());
            }
        }
        Some(fixed) => {
            let wanted = grants(&fixed.fixed_rules().unwrap_or_default());
            let have = grants(live);
            let show = |(g, r, v): &(String, String, String)| describe_grant(g, r, v);
            drift.added = have.difference(&wanted).map(show).collect();
            drift.removed = wanted.difference(&have).map(show).collect();
            // resourceNames narrow a grant: a rule that gained them no longer grants the profile.
            if live
                .iter()
                .any(|r| r.resource_names.as_ref().is_some_and(|n| !n.is_empty()))
            {
                drift
                    .other
                    .push("a rule was narrowed to named objects (resourceNames)".into());
            }
        }
    }
    drift
}
