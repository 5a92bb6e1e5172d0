//! The rule sets of the read-only ClusterRole.
//!
//! `full` and `minimal` are the guide's options A and B, rule for rule. `tools` is derived from
//! the server's own per-tool RBAC metadata (`_meta["io.kubernetes-mcp-server/rbac"]` in
//! `tools/list`), so the role grants what the exposed tools use and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::PolicyRule;
use oc_mcp_common::{Error, Result};
use serde::Deserialize;

/// The profiles and their rule sets live in `oc_mcp_common::rbac_intent`, shared with verify;
/// re-exported here so this crate's paths keep working.
pub use oc_mcp_common::rbac_intent::{
    Profile, READ_VERBS, full_rules, grants, minimal_rules, normalize, rules_fingerprint,
};

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
            } else if let Some(risk) = risky_read(&target.api_group, &resource, &verbs)
                && resource != "nodes/proxy"
            {
                omit(
                    omissions,
                    format!(
                        "needs {resource}, which a read-only MCP role never grants: {}",
                        risk.kind
                    ),
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

/// The first risk of reading `resource` (secrets, tokens, exec, proxies), judged by the same
/// rules `check` and `status` use.
fn risky_read(
    group: &str,
    resource: &str,
    verbs: &BTreeSet<String>,
) -> Option<oc_mcp_common::rbac_intent::Risk> {
    let rule = PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        verbs: verbs.iter().cloned().collect(),
        ..PolicyRule::default()
    };
    oc_mcp_common::rbac_intent::risky_grants(&[rule])
        .into_iter()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../fixtures/tools-list-v0.0.67-read-only.json");

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

    /// The fingerprint recorded on roles made before it moved to the shared crate.
    #[test]
    fn the_fingerprint_is_unchanged() {
        use sha2::{Digest, Sha256};
        for rules in [full_rules(), minimal_rules()] {
            let canonical = serde_json::to_vec(&normalize(&rules)).expect("json");
            let old = format!("{:x}", Sha256::digest(&canonical))[..16].to_owned();
            assert_eq!(rules_fingerprint(&rules), old);
        }
    }
}
