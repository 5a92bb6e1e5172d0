//! delete and deletecollection.

use std::sync::Arc;

use serde_json::{Value, json};

use super::key;
use super::reads::selected;
use super::writes::map_store;
use crate::resources::ResourceDef;
use crate::server::{Ctx, Resp, State, json_response};
use crate::status::{ApiError, success_status};
use crate::store::ensure_meta;

fn delete_options(ctx: &Ctx) -> Value {
    if ctx.body.is_empty() {
        return json!({});
    }
    if ctx.header("content-type").contains("protobuf") {
        return crate::protobuf::decode(&ctx.body).unwrap_or_else(|_| json!({}));
    }
    serde_json::from_slice(&ctx.body).unwrap_or_else(|_| json!({}))
}

pub fn delete(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let opts = delete_options(ctx);
    let dry = ctx.dry_run()
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let k = key(ctx, def, &ctx.info.name);
    let mut store = state.store();
    let obj = store
        .get(&k)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def, &ctx.info.name))?;
    if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str)
        && obj.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
    {
        return Err(ApiError::conflict(def, &ctx.info.name));
    }
    let gone = if dry {
        obj
    } else {
        store
            .delete(&k)
            .map_err(|e| map_store(e, def, &ctx.info.name))?
    };
    let uid = gone
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Pods and namespaces answer with the object (graceful deletion); others with a Status.
    if matches!(def.kind, "Pod" | "Namespace") && def.group.is_empty() {
        let mut g = gone;
        ensure_meta(&mut g).insert(
            "deletionTimestamp".into(),
            json!(crate::store::now_rfc3339()),
        );
        if def.kind == "Namespace" {
            g["status"]["phase"] = json!("Terminating");
        }
        return Ok(json_response(200, &g));
    }
    Ok(json_response(
        200,
        &success_status(def, &ctx.info.name, &uid),
    ))
}

pub fn delete_collection(
    state: &Arc<State>,
    ctx: &Ctx,
    def: &'static ResourceDef,
) -> Result<Resp, ApiError> {
    let items = selected(state, ctx, def)?;
    let mut gone = Vec::new();
    if ctx.dry_run() {
        gone = items.into_iter().map(|(_, v)| v).collect();
    } else {
        let mut store = state.store();
        for (k, _) in &items {
            if let Ok(g) = store.delete(k) {
                gone.push(g);
            }
        }
    }
    let rv = state.store().resource_version();
    Ok(json_response(
        200,
        &json!({"apiVersion": def.api_version(), "kind": format!("{}List", def.kind), "metadata": {"resourceVersion": rv.to_string()}, "items": gone}),
    ))
}
