//! RBAC escalation prevention: a user may only create a role with permissions they hold
//! (or with `escalate`), and only bind a role whose permissions they hold (or with `bind`).

use serde_json::{Value, json};

use crate::rbac::{self, Attributes};
use crate::resources::ResourceDef;
use crate::server::{Ctx, State};
use crate::status::ApiError;

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `owned` covers every permission in `rule`.
fn covered(owned: &[Value], rule: &Value, user: &crate::authn::UserInfo, ns: &str) -> bool {
    let verbs = strs(rule.get("verbs"));
    let urls = strs(rule.get("nonResourceURLs"));
    if !urls.is_empty() {
        return urls.iter().all(|u| {
            verbs.iter().all(|v| {
                owned
                    .iter()
                    .any(|o| rbac::rule_allows(o, &Attributes::non_resource(user, v, u)))
            })
        });
    }
    let mut names = strs(rule.get("resourceNames"));
    if names.is_empty() {
        names.push(String::new());
    }
    for g in strs(rule.get("apiGroups")) {
        for r in strs(rule.get("resources")) {
            for v in &verbs {
                for n in &names {
                    let a = Attributes::resource(user, v, &g, &r, ns, n);
                    if !owned.iter().any(|o| rbac::rule_allows(o, &a)) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

fn format_rule(r: &Value) -> String {
    let q = |k: &str| {
        strs(r.get(k))
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut parts = Vec::new();
    if r.get("nonResourceURLs").is_some() {
        parts.push(format!("NonResourceURLs:[{}]", q("nonResourceURLs")));
    } else {
        parts.push(format!("APIGroups:[{}]", q("apiGroups")));
        parts.push(format!("Resources:[{}]", q("resources")));
        if r.get("resourceNames").is_some() {
            parts.push(format!("ResourceNames:[{}]", q("resourceNames")));
        }
    }
    parts.push(format!("Verbs:[{}]", q("verbs")));
    format!("{{{}}}", parts.join(", "))
}

pub fn check(state: &State, ctx: &Ctx, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    if def.group != "rbac.authorization.k8s.io" {
        return Ok(());
    }
    let ns = if def.namespaced {
        ctx.info.namespace.as_str()
    } else {
        ""
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let store = state.store();
    let user = &ctx.user;
    let wanted: Vec<Value> = match def.kind {
        "ClusterRole" | "Role" => {
            let esc = Attributes::resource(user, "escalate", def.group, def.name, ns, name);
            if rbac::authorize(&store, &esc).allowed {
                return Ok(());
            }
            if def.kind == "ClusterRole" && obj.get("aggregationRule").is_some() {
                // An aggregated role's rules come from others; kube requires escalate-level
                // rights (cluster-admin) to create one.
                vec![json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})]
            } else {
                obj.get("rules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
        }
        "ClusterRoleBinding" | "RoleBinding" => {
            let rkind = obj
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or("");
            let rname = obj
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            // kube checks `bind` on the referenced role in the binding's namespace.
            let res = if rkind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            let bind =
                Attributes::resource(user, "bind", "rbac.authorization.k8s.io", res, ns, rname);
            if rbac::authorize(&store, &bind).allowed {
                return Ok(());
            }
            if rkind == "Role" {
                let key = crate::store::Key {
                    gr: "rbac.authorization.k8s.io/roles".into(),
                    namespace: ns.into(),
                    name: rname.into(),
                };
                store
                    .get(&key)
                    .and_then(|r| r.get("rules"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            } else {
                rbac::cluster_role_rules(&store, rname)
            }
        }
        _ => return Ok(()),
    };
    let owned: Vec<Value> = rbac::rules_for(&store, user, ns)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|r| !covered(&owned, r, user, ns))
        .map(format_rule)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let groups = user
        .groups
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let msg = format!(
        "{}.{} \"{name}\" is forbidden: user \"{}\" (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{}",
        def.name,
        def.group,
        user.name,
        missing.join("\n")
    );
    Err(ApiError::new(403, "Forbidden", msg)
        .with_details(json!({"name": name, "group": def.group, "kind": def.name})))
}
