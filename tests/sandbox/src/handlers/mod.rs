//! Resource verbs: get, list, watch, create, update, patch, delete, deletecollection,
//! plus the non-resource endpoints (discovery, OpenAPI, health).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::resources::{self, ResourceDef};
use crate::server::{Ctx, Resp, State, error_response, json_response, text_response};
use crate::status::ApiError;
use crate::store::{EventType, Key};

mod deletes;
mod patches;
mod reads;
mod subresources;
mod watch;
mod writes;

pub use deletes::{delete, delete_collection};
pub use patches::patch_handler;
pub use reads::{get, list};
use subresources::subresource;
pub use watch::watch;
pub use writes::{create, create_object, update};

pub fn non_resource(state: &Arc<State>, ctx: &Ctx) -> Resp {
    let p = ctx.info.path.trim_end_matches('/');
    let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    let (fl, cm) = (state.flavour, state.cert_manager);
    match segs.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => text_response(200, "ok".into()),
        ["version"] => json_response(200, &crate::discovery::version()),
        ["api"] => json_response(200, &crate::discovery::api_versions(&state.server_address)),
        ["api", v] => opt(crate::discovery::resource_list_for(fl, cm, "", v)),
        ["apis"] => json_response(200, &crate::discovery::api_group_list_for(fl, cm)),
        ["apis", g] => opt(crate::discovery::api_group_for(fl, cm, g)),
        ["apis", g, v] => opt(crate::discovery::resource_list_for(fl, cm, g, v)),
        ["openapi", "v2"] => json_response(200, &crate::openapi::v2_for(fl, cm)),
        ["openapi", "v3"] => json_response(200, &crate::openapi::v3_root_for(fl, cm)),
        ["openapi", "v3", "api", v] => opt(crate::openapi::v3_group_doc_for(fl, cm, "", v)),
        ["openapi", "v3", "apis", g, v] => opt(crate::openapi::v3_group_doc_for(fl, cm, g, v)),
        _ => error_response(&ApiError::not_found_path()),
    }
}

fn opt(v: Option<Value>) -> Resp {
    match v {
        Some(v) => json_response(200, &v),
        None => error_response(&ApiError::not_found_path()),
    }
}

fn respond(r: Result<Resp, ApiError>) -> Resp {
    r.unwrap_or_else(|e| error_response(&e))
}

pub async fn resource(state: &Arc<State>, ctx: Ctx) -> Resp {
    let Some(def) = ctx.info.def else {
        return error_response(&ApiError::not_found_path());
    };
    let verb = ctx.info.verb.as_str();
    // A namespaced collection at cluster scope only lists; kube has no route for writes there.
    if def.namespaced
        && ctx.info.namespace.is_empty()
        && !matches!(verb, "list" | "watch")
        && !def.is_virtual()
    {
        return error_response(&ApiError::method_not_allowed());
    }
    if !def.supports(verb) {
        return error_response(&ApiError::method_not_allowed());
    }
    if def.group == "authorization.k8s.io"
        || def.group == "authentication.k8s.io"
        || def.name == "serviceaccounts/token"
    {
        return respond(crate::reviews::handle(state, &ctx, def).await);
    }
    if def.group == "project.openshift.io"
        || (def.group == "user.openshift.io" && def.name == "users" && ctx.info.name == "~")
    {
        return respond(crate::openshift::handle(state, &ctx, def));
    }
    if def.is_subresource() && !def.name.ends_with("/status") {
        return respond(subresource(state, &ctx, def));
    }
    match verb {
        "get" => respond(get(state, &ctx, def)),
        "list" => respond(list(state, &ctx, def)),
        "watch" => respond(watch(state, &ctx, def)),
        "create" => respond(create(state, &ctx, def)),
        "update" => respond(update(state, &ctx, def)),
        "patch" => respond(patch_handler(state, &ctx, def)),
        "delete" => respond(delete(state, &ctx, def)),
        "deletecollection" => respond(delete_collection(state, &ctx, def)),
        _ => error_response(&ApiError::method_not_allowed()),
    }
}

/// The main (non-sub) resource for a request.
fn main_def(def: &'static ResourceDef) -> &'static ResourceDef {
    let base = def.name.split('/').next().unwrap_or(def.name);
    resources::find(def.group, def.version, base).unwrap_or(def)
}

pub fn key(ctx: &Ctx, def: &ResourceDef, name: &str) -> Key {
    Key::new(def, &ctx.info.namespace, name)
}

fn object_response(ctx: &Ctx, def: &ResourceDef, code: u16, obj: &Value) -> Resp {
    if ctx.wants_table() {
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(json!(""));
        return json_response(
            code,
            &crate::table::to_table(
                def,
                std::slice::from_ref(obj),
                &json!({"resourceVersion": rv}),
                ctx.q("includeObject"),
            ),
        );
    }
    json_response(code, obj)
}

fn with_warnings(mut r: Resp, warnings: &[String]) -> Resp {
    for w in warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(h) = http::HeaderValue::from_str(&v) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}

/// Used by watchers of other modules (kept here so event names stay in one place).
pub fn event_name(kind: EventType) -> &'static str {
    kind.as_str()
}
