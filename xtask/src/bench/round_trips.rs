//! The API requests each command of the guide makes, counted from the sandbox's audit log,
//! against the fewest its task needs.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::verification::{connect_to_arg, verify_args};
use crate::demo;

/// The API requests the kubeconfig's user (`admin`) made, as `VERB path` lines, from line
/// `from` of the audit log on.
fn admin_requests(env: &demo::Env, from: usize) -> Result<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(env.sandbox_dir.join("audit.jsonl"))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for line in lines.iter().skip(from) {
        let entry: Value = serde_json::from_str(line).context("audit.jsonl is not JSON lines")?;
        if entry["user"] == "admin" {
            let uri = entry["requestUri"].as_str().unwrap_or_default();
            out.push(format!(
                "{} {}",
                entry["method"].as_str().unwrap_or_default(),
                uri.split('?').next().unwrap_or_default()
            ));
        }
    }
    Ok((lines.len(), out))
}

/// The fewest API requests each command's task needs, and why.
pub(super) const MINIMUMS: [(&str, usize, &str); 5] = [
    (
        "role",
        6,
        "4 permission reviews (get, create, patch clusterroles: one review per verb, since \
         SelfSubjectRulesReview is not authoritative; escalate on the role, which writing it \
         needs unless the caller holds every rule), the live role (to report what changes), \
         the apply",
    ),
    (
        "bind",
        9,
        "5 permission reviews (get clusterroles; get, create, patch clusterrolebindings; bind \
         the role), the role (warn when missing), the OpenShift Group (warn when missing; its \
         404 body says whether the API exists, so no discovery request), the live binding, \
         the apply",
    ),
    (
        "status",
        3,
        "the role, all ClusterRoleBindings, all RoleBindings (the API has no filter on roleRef); \
         one page each up to 500 objects, one more per 500",
    ),
    (
        "install",
        57,
        "34 permission reviews asked before anything is read (project; the 2 cluster facts; \
         5 objects x get, create, patch; list and delete for pruning x 6 kinds; the install \
         lock's Lease get, create, update, delete), the facts (apps domain, authentication \
         config, OAuth settings), the project (read, request), the lock (create, delete), \
         5 objects x (read, apply), 6 prune lists; API discovery is the one request a cache \
         (kubectl keeps one for 10 minutes) would save",
    ),
    (
        "verify",
        9,
        "Deployment, pods, one pod log, config ConfigMap, Secrets, Service, Routes, \
         OAuthClient, authentication config; the namespace (only needed when the Deployment \
         is missing), Endpoints (they follow from ready pods) and Ingresses (a Route's owner \
         reference names its Ingress) are the 3 it could skip",
    ),
];

pub(super) fn round_trips(env: &demo::Env) -> Result<Value> {
    let (mut at, _) = admin_requests(env, 0)?;
    let mut counted = serde_json::Map::new();
    let tokens = [
        (
            "MCP_MEMBER_TOKEN",
            demo::kubeconfig_token(&env.kubeconfig, "member")?,
        ),
        (
            "MCP_OUTSIDER_TOKEN",
            demo::kubeconfig_token(&env.kubeconfig, "outsider")?,
        ),
    ];
    let ca = env.sandbox_dir.join("ca.crt").display().to_string();
    let steps: [(&str, Vec<&str>); 7] = [
        ("role", vec!["mcp-rbac", "role", "--profile", "full"]),
        ("bind", vec!["mcp-rbac", "bind", "mcp-users"]),
        ("status", vec!["mcp-rbac", "status"]),
        // Without --wait, as the round-trip test counts it; the rollout is awaited below.
        ("install", vec!["mcp-install", "--engine", "manifests"]),
        (
            "rollout",
            vec![
                "wait",
                "--for=condition=Available",
                "deployment/kubernetes-mcp-server",
                "-n",
                "mcp-server",
                "--timeout=120s",
            ],
        ),
        ("oauth register", vec!["mcp-oauth", "register", "openshift"]),
        ("verify", Vec::new()),
    ];
    for (name, args) in steps {
        let connect_to;
        let args = if name == "verify" {
            connect_to = connect_to_arg(env)?;
            verify_args(&connect_to, &ca)
        } else {
            args
        };
        env.run_with(&format!("bench: {name}"), &args, &tokens)?;
        let (next, requests) = admin_requests(env, at)?;
        at = next;
        if let Some((_, minimum, why)) = MINIMUMS.iter().find(|(n, _, _)| *n == name) {
            counted.insert(
                name.to_owned(),
                json!({"requests": requests.len(), "minimum": minimum, "why": why, "log": requests}),
            );
        }
    }
    Ok(json!({ "roundTrips": counted }))
}
