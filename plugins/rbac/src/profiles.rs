//! The rule sets of the read-only ClusterRole.
//!
//! `full` and `minimal` are the guide's options A and B, rule for rule. `tools` is derived from
//! the server's own per-tool RBAC metadata (`_meta["io.kubernetes-mcp-server/rbac"]` in
//! `tools/list`), so the role grants what the exposed tools use and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::PolicyRule;
use oc_mcp_common::{Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The only verbs any profile grants.
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

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
}

fn rule(group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: READ_VERBS.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// Guide step 3, option A (11 rules).
pub fn full_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            "",
            &[
                "pods",
                "services",
                "configmaps",
                "namespaces",
                "events",
                "nodes",
                "persistentvolumeclaims",
                "persistentvolumes",
                "replicationcontrollers",
                "serviceaccounts",
            ],
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
        rule(
            "",
            &[
                "pods",
                "services",
                "configmaps",
                "namespaces",
                "events",
                "nodes",
            ],
        ),
        rule("apps", &["deployments", "daemonsets", "statefulsets"]),
        rule("route.openshift.io", &["routes"]),
    ]
}

/// Options for deriving the `tools` profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolsOptions {
    /// Resources granted to tools whose target is chosen by the caller (`resources_get`,
    /// `resources_list`): the guide's option A or B resource list.
    pub generic_resources: Profile,
    /// Grant `nodes/proxy` (kubelet API: node logs and stats). Off by default: `get` on
    /// nodes/proxy reaches the kubelet, which can be abused to run commands in pods.
    pub include_node_proxy: bool,
}

impl Default for ToolsOptions {
    fn default() -> Self {
        Self {
            generic_resources: Profile::Minimal,
            include_node_proxy: false,
        }
    }
}

/// A tool the derivation could not fully grant, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Omission {
    pub tool: String,
    pub reason: String,
}

/// The derived rules and what was left out.
#[derive(Debug, Clone)]
pub struct DerivedRules {
    pub rules: Vec<PolicyRule>,
    pub tools: Vec<String>,
    pub omissions: Vec<Omission>,
}

#[derive(Debug, Deserialize)]
struct ToolsReply {
    result: Option<ToolsResult>,
    tools: Option<Vec<Tool>>,
}

#[derive(Debug, Deserialize)]
struct ToolsResult {
    tools: Vec<Tool>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    name: String,
    #[serde(rename = "_meta", default)]
    meta: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RbacMeta {
    version: String,
    #[serde(default)]
    none: Option<serde_json::Value>,
    #[serde(default)]
    bounded: Option<Bounded>,
}

#[derive(Debug, Deserialize)]
struct Bounded {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Deserialize)]
struct Requirement {
    verbs: Vec<String>,
    target: Target,
}

#[derive(Debug, Deserialize)]
struct Target {
    resource: Option<ResourceTarget>,
    gvk: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ResourceTarget {
    #[serde(rename = "apiGroup", default)]
    api_group: String,
    resource: String,
    #[serde(default)]
    subresource: Option<String>,
}

const RBAC_META_KEY: &str = "io.kubernetes-mcp-server/rbac";

/// Derive the smallest read-only rule set from a `tools/list` reply (the JSON-RPC envelope or
/// its `result`).
pub fn derive_from_tools(json: &str, options: ToolsOptions) -> Result<DerivedRules> {
    let bad = |why: String| {
        Error::usage_with_hint(
            format!("not a tools/list reply from kubernetes-mcp-server: {why}"),
            "save the server's reply to `tools/list` (JSON-RPC result with `tools[]._meta`) and pass it again",
        )
    };
    let reply: ToolsReply = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let tools = reply
        .result
        .map(|r| r.tools)
        .or(reply.tools)
        .ok_or_else(|| bad("no `result.tools` array".into()))?;
    if tools.is_empty() {
        return Err(bad("the tool list is empty".into()));
    }
    let generic = match options.generic_resources {
        Profile::Full => full_rules(),
        _ => minimal_rules(),
    };
    // (group, resource) -> verbs
    let mut grants = Grants::new();
    let mut omissions = Vec::new();
    let mut names = Vec::new();
    for tool in tools {
        names.push(tool.name.clone());
        let Some(meta) = tool.meta.get(RBAC_META_KEY) else {
            omissions.push(Omission {
                tool: tool.name,
                reason: "the server publishes no RBAC metadata for this tool".into(),
            });
            continue;
        };
        let meta: RbacMeta = serde_json::from_value(meta.clone())
            .map_err(|e| bad(format!("tool {}: {e}", tool.name)))?;
        if meta.version != "v1alpha1" {
            return Err(bad(format!(
                "tool {} uses RBAC metadata version {:?}; this plugin understands v1alpha1",
                tool.name, meta.version
            )));
        }
        let Some(bounded) = meta.bounded else {
            if meta.none.is_none() {
                omissions.push(Omission {
                    tool: tool.name,
                    reason: "RBAC metadata is neither `none` nor `bounded`".into(),
                });
            }
            continue;
        };
        for requirement in bounded.requirements {
            grant_requirement(
                &tool.name,
                requirement,
                &generic,
                options,
                &mut grants,
                &mut omissions,
            )
            .map_err(&bad)?;
        }
    }
    Ok(DerivedRules {
        rules: merge_grants(grants),
        tools: names,
        omissions,
    })
}

type Grants = BTreeMap<(String, String), BTreeSet<String>>;

/// Add what one requirement of one tool needs, or record why it is not granted.
fn grant_requirement(
    tool: &str,
    requirement: Requirement,
    generic: &[PolicyRule],
    options: ToolsOptions,
    grants: &mut Grants,
    omissions: &mut Vec<Omission>,
) -> std::result::Result<(), String> {
    let verbs: BTreeSet<String> = requirement.verbs.iter().cloned().collect();
    let omit = |omissions: &mut Vec<Omission>, reason: String| {
        omissions.push(Omission {
            tool: tool.to_owned(),
            reason,
        });
    };
    if let Some(write) = verbs.iter().find(|v| !READ_VERBS.contains(&v.as_str())) {
        omit(
            omissions,
            format!("needs the write verb {write:?}; a read-only role never grants it"),
        );
        return Ok(());
    }
    match (requirement.target.resource, requirement.target.gvk) {
        (Some(target), _) => {
            let resource = match &target.subresource {
                Some(sub) => format!("{}/{sub}", target.resource),
                None => target.resource.clone(),
            };
            if resource == "nodes/proxy" && !options.include_node_proxy {
                omit(
                    omissions,
                    "needs nodes/proxy (kubelet API access, which can lead to command execution); \
                     pass --include-node-proxy to grant it"
                        .into(),
                );
            } else if is_secret_like(&target.api_group, &resource) {
                omit(
                    omissions,
                    format!("needs {resource}, which exposes credentials"),
                );
            } else {
                grants
                    .entry((target.api_group, resource))
                    .or_default()
                    .extend(verbs);
            }
        }
        (None, Some(_)) => {
            // The caller picks the kind: grant the verbs on the chosen resource list.
            for rule in generic {
                for group in rule.api_groups.iter().flatten() {
                    for resource in rule.resources.iter().flatten() {
                        grants
                            .entry((group.clone(), resource.clone()))
                            .or_default()
                            .extend(verbs.iter().cloned());
                    }
                }
            }
        }
        (None, None) => return Err(format!("tool {tool} has a requirement without a target")),
    }
    Ok(())
}

/// One rule per (group, verb set), resources sorted: stable output for reviews and diffs.
fn merge_grants(grants: Grants) -> Vec<PolicyRule> {
    let mut by_group_and_verbs: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for ((group, resource), verbs) in grants {
        let mut verbs: Vec<String> = verbs.into_iter().collect();
        verbs.sort_by_key(|v| READ_VERBS.iter().position(|r| r == v));
        by_group_and_verbs
            .entry((group, verbs))
            .or_default()
            .push(resource);
    }
    by_group_and_verbs
        .into_iter()
        .map(|((group, verbs), resources)| PolicyRule {
            api_groups: Some(vec![group]),
            resources: Some(resources),
            verbs,
            ..PolicyRule::default()
        })
        .collect()
}

fn is_secret_like(group: &str, resource: &str) -> bool {
    group.is_empty() && (resource == "secrets" || resource.starts_with("secrets/"))
}

/// A stable fingerprint of a rule list, recorded on the role to detect drift later.
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

/// Flatten rules into `(group, resource, verb)` grants, for diffs and checks.
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

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../fixtures/tools-list-v0.0.67-read-only.json");

    #[test]
    fn profiles_are_read_only() {
        for rules in [full_rules(), minimal_rules()] {
            for (_, _, verb) in grants(&rules) {
                assert!(READ_VERBS.contains(&verb.as_str()), "{verb}");
            }
        }
        assert_eq!(full_rules().len(), 11);
        assert_eq!(minimal_rules().len(), 3);
    }

    #[test]
    fn tools_profile_grants_what_the_fixture_tools_need_and_no_more() {
        let derived = derive_from_tools(FIXTURE, ToolsOptions::default()).expect("derive");
        assert_eq!(derived.tools.len(), 14);
        let g = grants(&derived.rules);
        let has = |group: &str, resource: &str, verb: &str| {
            g.contains(&(group.into(), resource.into(), verb.into()))
        };
        assert!(has("", "pods", "list"));
        assert!(has("", "pods/log", "get"));
        assert!(has("", "events", "list"));
        assert!(has("project.openshift.io", "projects", "list"));
        assert!(has("metrics.k8s.io", "nodes", "get"));
        // resources_get/list on the minimal resource list
        assert!(has("apps", "deployments", "get"));
        assert!(has("route.openshift.io", "routes", "list"));
        // never granted: writes, secrets, nodes/proxy (by default), watch (no tool asks for it)
        assert!(
            !g.iter()
                .any(|(_, r, _)| r == "secrets" || r == "nodes/proxy")
        );
        assert!(!g.iter().any(|(_, _, v)| v == "watch"));
        let omitted: Vec<&str> = derived.omissions.iter().map(|o| o.tool.as_str()).collect();
        assert_eq!(omitted, ["nodes_log", "nodes_stats_summary"]);
        // Deterministic: same input, same fingerprint.
        let again = derive_from_tools(FIXTURE, ToolsOptions::default()).expect("derive");
        assert_eq!(
            rules_fingerprint(&derived.rules),
            rules_fingerprint(&again.rules)
        );
    }

    #[test]
    fn node_proxy_only_on_request() {
        let options = ToolsOptions {
            include_node_proxy: true,
            ..ToolsOptions::default()
        };
        let derived = derive_from_tools(FIXTURE, options).expect("derive");
        assert!(grants(&derived.rules).contains(&(
            String::new(),
            "nodes/proxy".into(),
            "get".into()
        )));
        assert!(derived.omissions.is_empty());
    }

    #[test]
    fn malformed_tools_files_are_usage_errors() {
        for bad in [
            "",
            "{}",
            "[1,2]",
            r#"{"result":{"tools":[]}}"#,
            r#"{"result":{"tools":[{"name":"x","_meta":{"io.kubernetes-mcp-server/rbac":{"version":"v9"}}}]}}"#,
        ] {
            let err = derive_from_tools(bad, ToolsOptions::default()).expect_err(bad);
            assert_eq!(err.exit_code().code(), 2, "{bad}: {err}");
        }
    }

    #[test]
    fn write_verbs_in_metadata_are_never_granted() {
        let json = r#"{"result":{"tools":[{"name":"pods_delete","_meta":{"io.kubernetes-mcp-server/rbac":
            {"version":"v1alpha1","bounded":{"requirements":[{"verbs":["delete"],"target":{"resource":{"resource":"pods"}}}]}}}}]}}"#;
        let derived = derive_from_tools(json, ToolsOptions::default()).expect("derive");
        assert!(derived.rules.is_empty());
        assert_eq!(derived.omissions[0].tool, "pods_delete");
    }

    #[test]
    fn normalize_ignores_order() {
        let mut a = full_rules();
        a.reverse();
        assert_eq!(rules_fingerprint(&a), rules_fingerprint(&full_rules()));
        assert_ne!(
            rules_fingerprint(&minimal_rules()),
            rules_fingerprint(&full_rules())
        );
    }
}
