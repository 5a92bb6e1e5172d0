//! The profiles' rule sets, their fingerprint, and grants as `(group, resource, verb)`.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;
use sha2::{Digest, Sha256};

/// The only verbs any profile grants.
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// The verbs that change an object; every one must be denied on everything a profile grants.
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Annotation recording which profile the role was made from.
pub const PROFILE_ANNOTATION: &str = "oc-mcp.io/profile";
/// Annotation recording the fingerprint of the rules as applied, to detect later edits.
pub const FINGERPRINT_ANNOTATION: &str = "oc-mcp.io/rules-fingerprint";

/// The rule sets `oc mcp-rbac role` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The guide's option A: broad read-only access (recommended by the guide)
    Full,
    /// The guide's option B: the minimum the guide names
    Minimal,
    /// Derived from the tools the server exposes (--from-tools FILE)
    Tools,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Minimal => "minimal",
            Self::Tools => "tools",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Self::Full),
            "minimal" => Some(Self::Minimal),
            "tools" => Some(Self::Tools),
            _ => None,
        }
    }

    /// The fixed rules of the profile; `None` for `tools`, whose rules come from a tool list.
    pub fn fixed_rules(self) -> Option<Vec<PolicyRule>> {
        match self {
            Self::Full => Some(full_rules()),
            Self::Minimal => Some(minimal_rules()),
            Self::Tools => None,
        }
    }
}

fn rule(group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: READ_VERBS.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// The core kinds both profiles read.
const CORE_KINDS: [&str; 6] = [
    "pods",
    "services",
    "configmaps",
    "namespaces",
    "events",
    "nodes",
];

/// Guide step 3, option A (11 rules).
pub fn full_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            "",
            &[
                &CORE_KINDS[..],
                &[
                    "persistentvolumeclaims",
                    "persistentvolumes",
                    "replicationcontrollers",
                    "serviceaccounts",
                ],
            ]
            .concat(),
        ),
        rule("", &["pods/log"]),
        // The guide's comment says "exec/attach", but its rule grants only pods/status.
        rule("", &["pods/status"]),
        rule(
            "apps",
            &["deployments", "daemonsets", "statefulsets", "replicasets"],
        ),
        rule("batch", &["jobs", "cronjobs"]),
        rule("route.openshift.io", &["routes"]),
        rule("project.openshift.io", &["projects"]),
        rule("image.openshift.io", &["imagestreams", "imagestreamtags"]),
        rule("metrics.k8s.io", &["pods", "nodes"]),
        rule(
            "monitoring.coreos.com",
            &[
                "servicemonitors",
                "podmonitors",
                "prometheusrules",
                "prometheuses",
                "alertmanagers",
            ],
        ),
        rule(
            "config.openshift.io",
            &[
                "clusterversions",
                "clusteroperators",
                "infrastructures",
                "networks",
                "ingresses",
            ],
        ),
    ]
}

/// Guide step 3, option B (3 rules).
pub fn minimal_rules() -> Vec<PolicyRule> {
    vec![
        rule("", &CORE_KINDS),
        rule("apps", &["deployments", "daemonsets", "statefulsets"]),
        rule("route.openshift.io", &["routes"]),
    ]
}

/// A stable fingerprint of a rule list, recorded on the role to detect drift later.
/// The first 16 hex digits of the SHA-256 of the normalized rules as JSON.
pub fn rules_fingerprint(rules: &[PolicyRule]) -> String {
    let canonical = serde_json::to_vec(&normalize(rules)).unwrap_or_default();
    format!("{:x}", Sha256::digest(&canonical))[..16].to_owned()
}

/// Rules in a canonical order with sorted lists, so equal grants compare equal.
pub fn normalize(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let sorted = |v: &Option<Vec<String>>| {
        v.as_ref().map(|v| {
            let mut v = v.clone();
            v.sort();
            v
        })
    };
    let mut out: Vec<PolicyRule> = rules
        .iter()
        .map(|r| {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            PolicyRule {
                api_groups: sorted(&r.api_groups),
                resources: sorted(&r.resources),
                resource_names: sorted(&r.resource_names).filter(|v| !v.is_empty()),
                non_resource_urls: sorted(&r.non_resource_urls).filter(|v| !v.is_empty()),
                verbs,
            }
        })
        .collect();
    out.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
    out
}

/// Flatten rules into `(group, resource, verb)` grants, for diffs and checks. A non-resource
/// URL is `("", url, verb)`; URLs start with `/`, so they never collide with a resource.
pub fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
        for url in rule.non_resource_urls.iter().flatten() {
            for verb in &rule.verbs {
                out.insert((String::new(), url.clone(), verb.clone()));
            }
        }
    }
    out
}

/// `verb resource.group` (`verb resource` in the core group), as `oc auth can-i` words it.
pub fn describe_grant(group: &str, resource: &str, verb: &str) -> String {
    if group.is_empty() {
        format!("{verb} {resource}")
    } else {
        format!("{verb} {resource}.{group}")
    }
}
