//! OpenShift's virtual resources: `users/~`, Projects (a view of Namespaces filtered by
//! access) and ProjectRequests (self-service namespace creation with an admin binding).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::handlers;
use crate::rbac::{self, Attributes};
use crate::resources::{self, ResourceDef};
use crate::server::{Ctx, Resp, State, json_response};
use crate::status::{ApiError, success_status};
use crate::store::Key;
use crate::validation;

fn ns_def() -> &'static ResourceDef {
    resources::find("", "v1", "namespaces").expect("namespaces are served")
}

fn project_def() -> &'static ResourceDef {
    resources::find("project.openshift.io", "v1", "projects").expect("projects are served")
}

/// A Namespace seen as a Project.
pub fn project_of(ns: &Value) -> Value {
    let mut meta = ns.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({"apiVersion": "project.openshift.io/v1", "kind": "Project", "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": ns.pointer("/status/phase").cloned().unwrap_or(json!("Active"))}})
}

fn can_see(state: &State, ctx: &Ctx, ns: &str) -> bool {
    let store = state.store();
    ["namespaces", "projects"].iter().any(|res| {
        let group = if *res == "projects" {
            "project.openshift.io"
        } else {
            ""
        };
        rbac::authorize(
            &store,
            &Attributes::resource(&ctx.user, "get", group, res, ns, ns),
        )
        .allowed
    })
}

fn user_object(state: &State, ctx: &Ctx) -> Value {
    let key = Key {
        gr: "user.openshift.io/users".into(),
        namespace: String::new(),
        name: ctx.user.name.clone(),
    };
    let mut u = state.store().get(&key).cloned().unwrap_or_else(|| {
        json!({"apiVersion": "user.openshift.io/v1", "kind": "User", "metadata": {"name": ctx.user.name}, "identities": []})
    });
    u["groups"] = json!(ctx.user.groups);
    u
}

pub fn handle(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    match (def.name, ctx.info.verb.as_str()) {
        ("users", "get") => Ok(json_response(200, &user_object(state, ctx))),
        ("users", _) => Err(ApiError::method_not_allowed()),
        ("projects", "list") => {
            let names: Vec<(String, Value)> = state
                .store()
                .list("/namespaces", None)
                .into_iter()
                .map(|(k, v)| (k.name.clone(), v.clone()))
                .collect();
            let items: Vec<Value> = names
                .into_iter()
                .filter(|(n, _)| can_see(state, ctx, n))
                .map(|(_, v)| project_of(&v))
                .collect();
            let rv = state.store().resource_version();
            if ctx.wants_table() {
                return Ok(json_response(
                    200,
                    &crate::table::to_table(
                        def,
                        &items,
                        &json!({"resourceVersion": rv.to_string()}),
                        ctx.q("includeObject"),
                    ),
                ));
            }
            Ok(json_response(
                200,
                &json!({"apiVersion": "project.openshift.io/v1", "kind": "ProjectList", "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
            ))
        }
        ("projects", "get") => {
            let ns = state
                .store()
                .get(&Key::new(ns_def(), "", &ctx.info.name))
                .cloned()
                .ok_or_else(|| ApiError::not_found(def, &ctx.info.name))?;
            let p = project_of(&ns);
            if ctx.wants_table() {
                return Ok(json_response(
                    200,
                    &crate::table::to_table(def, &[p], &json!({}), ctx.q("includeObject")),
                ));
            }
            Ok(json_response(200, &p))
        }
        ("projects", "delete") => {
            let mut store = state.store();
            let gone = store
                .delete(&Key::new(ns_def(), "", &ctx.info.name))
                .map_err(|_| ApiError::not_found(def, &ctx.info.name))?;
            let uid = gone
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("");
            Ok(json_response(
                200,
                &success_status(def, &ctx.info.name, uid),
            ))
        }
        ("projects", "create") => {
            let ct = ctx.header("content-type");
            let kind = validation::body_kind(ct).ok_or_else(|| ApiError::unsupported_media(ct))?;
            let mut obj = validation::decode(&ctx.body, kind, def)?;
            validation::check_type(&mut obj, def)?;
            let p = create_namespace(state, ctx, &obj, None)?;
            Ok(json_response(201, &p))
        }
        ("projectrequests", "list") => Ok(json_response(
            200,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
        )),
        ("projectrequests", "create") => {
            let ct = ctx.header("content-type");
            let kind = validation::body_kind(ct).ok_or_else(|| ApiError::unsupported_media(ct))?;
            let mut obj = validation::decode(&ctx.body, kind, def)?;
            validation::check_type(&mut obj, def)?;
            let p = create_namespace(state, ctx, &obj, Some(&ctx.user.name))?;
            Ok(json_response(201, &p))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Create the Namespace behind a Project (and, for a request, the requester's admin binding).
fn create_namespace(
    state: &Arc<State>,
    ctx: &Ctx,
    req: &Value,
    requester: Option<&str>,
) -> Result<Value, ApiError> {
    let name = req
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut annotations = serde_json::Map::new();
    if let Some(d) = req.get("displayName").and_then(Value::as_str) {
        annotations.insert("openshift.io/display-name".into(), json!(d));
    }
    if let Some(d) = req.get("description").and_then(Value::as_str) {
        annotations.insert("openshift.io/description".into(), json!(d));
    }
    if let Some(r) = requester {
        annotations.insert("openshift.io/requester".into(), json!(r));
    }
    if let Some(a) = req
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        annotations.extend(a.clone());
    }
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}});
    validation::validate(project_def(), &ns, None)?;
    let ns_ctx = Ctx {
        user: ctx.user.clone(),
        info: crate::server::RequestInfo {
            namespace: String::new(),
            name: String::new(),
            ..ctx.info.clone()
        },
        query: ctx.query.clone(),
        headers: ctx.headers.clone(),
        body: ctx.body.clone(),
        method: ctx.method.clone(),
        upgrade: std::sync::Mutex::new(None),
    };
    let (created, _) = handlers::create_object(state, &ns_ctx, ns_def(), ns).map_err(|e| {
        if e.reason == "AlreadyExists" {
            ApiError::already_exists(project_def(), &name)
        } else {
            e
        }
    })?;
    if let Some(user) = requester.filter(|_| !ctx.dry_run()) {
        let rb_def =
            resources::find("rbac.authorization.k8s.io", "v1", "rolebindings").expect("served");
        let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "admin", "namespace": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]});
        let mut store = state.store();
        // The namespace is new, so the binding cannot exist yet.
        let _ = store.create(Key::new(rb_def, &name, "admin"), rb);
    }
    Ok(project_of(&created))
}
