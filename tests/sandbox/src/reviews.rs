//! Access and token reviews, answered by the same authenticator and RBAC evaluator that
//! guard every request.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::rbac::{self, Attributes};
use crate::resources::ResourceDef;
use crate::server::{Ctx, Resp, State, json_response};
use crate::status::ApiError;
use crate::validation;

fn attributes_from_spec(
    user: &UserInfo,
    spec: &Value,
    default_ns: Option<&str>,
) -> Result<Attributes, ApiError> {
    if let Some(ra) = spec.get("resourceAttributes") {
        let s = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let sub = s("subresource");
        let res = if sub.is_empty() {
            s("resource")
        } else {
            format!("{}/{sub}", s("resource"))
        };
        let ns = default_ns.map_or_else(|| s("namespace"), String::from);
        return Ok(Attributes::resource(
            user,
            &s("verb"),
            &s("group"),
            &res,
            &ns,
            &s("name"),
        ));
    }
    if let Some(na) = spec.get("nonResourceAttributes") {
        let s = |k: &str| na.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        return Ok(Attributes::non_resource(user, &s("verb"), &s("path")));
    }
    Err(ApiError::new(
        422,
        "Invalid",
        "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
    ))
}

fn review_status(state: &State, a: &Attributes) -> Value {
    let d = rbac::authorize(&state.store(), a);
    if d.allowed {
        json!({"allowed": true, "reason": d.reason})
    } else if d.reason.is_empty() {
        json!({"allowed": false})
    } else {
        // An authoritative deny (the scope authorizer's), as kube reports one.
        json!({"allowed": false, "denied": true, "reason": d.reason})
    }
}

/// The user's rules in `ns`; for a scoped token, only what both RBAC and the scopes allow.
fn effective_rules(state: &State, user: &UserInfo, ns: &str) -> Vec<Value> {
    let store = state.store();
    let granted: Vec<Value> = rbac::rules_for(&store, user, ns)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    if user.scopes().is_empty() {
        return granted;
    }
    let allowed = rbac::scopes::rules(&store, user.scopes(), ns);
    let mut out: Vec<Value> = Vec::new();
    for g in &granted {
        for a in &allowed {
            if let Some(r) = rbac::scopes::intersect(g, a)
                && !out.contains(&r)
            {
                out.push(r);
            }
        }
    }
    out
}

fn rules_review(state: &State, user: &UserInfo, ns: &str) -> Value {
    let rules = effective_rules(state, user, ns);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in rules {
        if r.get("nonResourceURLs").is_some() {
            non_resource_rules.push(
                json!({"verbs": r.get("verbs"), "nonResourceURLs": r.get("nonResourceURLs")}),
            );
        } else {
            let mut rr = json!({"verbs": r.get("verbs"), "apiGroups": r.get("apiGroups"), "resources": r.get("resources")});
            if let Some(n) = r.get("resourceNames") {
                rr["resourceNames"] = n.clone();
            }
            resource_rules.push(rr);
        }
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

pub async fn handle(
    state: &Arc<State>,
    ctx: &Ctx,
    def: &'static ResourceDef,
) -> Result<Resp, ApiError> {
    let ct = ctx.header("content-type");
    let kind = validation::body_kind(ct).ok_or_else(|| ApiError::unsupported_media(ct))?;
    let mut obj = validation::decode(&ctx.body, kind, def)?;
    validation::check_type(&mut obj, def)?;
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match def.kind {
        "SelfSubjectAccessReview" => {
            review_status(state, &attributes_from_spec(&ctx.user, &spec, None)?)
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let user = UserInfo {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                uid: spec.get("uid").and_then(Value::as_str).unwrap_or("").into(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                // Scopes in `extra` limit the answer as they limit the user's requests.
                extra: spec
                    .get("extra")
                    .cloned()
                    .and_then(|e| serde_json::from_value(e).ok())
                    .unwrap_or_default(),
            };
            if user.name.is_empty() && user.groups.is_empty() {
                return Err(ApiError::invalid(
                    def,
                    "",
                    &[crate::status::Cause {
                        reason: "FieldValueRequired",
                        message:
                            "Invalid value: \"\": at least one of user or group must be specified"
                                .into(),
                        field: "spec.user".into(),
                    }],
                ));
            }
            let ns =
                (def.kind == "LocalSubjectAccessReview").then_some(ctx.info.namespace.as_str());
            review_status(state, &attributes_from_spec(&user, &spec, ns)?)
        }
        "SelfSubjectRulesReview" => {
            let ns = spec.get("namespace").and_then(Value::as_str).unwrap_or("");
            rules_review(state, &ctx.user, ns)
        }
        "TokenReview" => {
            let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
            match crate::server::authenticate_token(state, token).await {
                Ok(u) => {
                    json!({"authenticated": true, "user": u.to_json(), "audiences": spec.get("audiences").cloned().unwrap_or(json!([]))})
                }
                Err(e) => json!({"authenticated": false, "user": {}, "error": e}),
            }
        }
        "SelfSubjectReview" => json!({"userInfo": ctx.user.to_json()}),
        "TokenRequest" => {
            return Err(ApiError::new(
                403,
                "Forbidden",
                "the sandbox does not issue service account tokens",
            ));
        }
        _ => return Err(ApiError::not_found_path()),
    };
    obj["status"] = status;
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    Ok(json_response(201, &obj))
}
