//! create and update: decode and validate the body, check its namespace and name, and store it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{key, main_def, object_response, with_warnings};
use crate::patch;
use crate::resources::{self, ResourceDef};
use crate::server::{Ctx, Resp, State};
use crate::status::ApiError;
use crate::store::{Key, StoreError, ensure_meta};
use crate::validation::{self};

/// Decode and type-check a write body for `def`.
fn read_object(ctx: &Ctx, def: &ResourceDef) -> Result<Value, ApiError> {
    let ct = ctx.header("content-type");
    let kind = validation::body_kind(ct).ok_or_else(|| ApiError::unsupported_media(ct))?;
    let mut obj = validation::decode(&ctx.body, kind, def)?;
    validation::check_type(&mut obj, def)?;
    Ok(obj)
}

pub(super) fn check_namespace(
    ctx: &Ctx,
    def: &ResourceDef,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let meta = ensure_meta(obj);
    if def.namespaced {
        let body_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        if !body_ns.is_empty() && body_ns != ctx.info.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta.insert("namespace".into(), json!(ctx.info.namespace));
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

fn require_namespace(state: &State, ns: &str) -> Result<(), ApiError> {
    let ns_def = resources::find("", "v1", "namespaces").ok_or_else(ApiError::not_found_path)?;
    if state.store().get(&Key::new(ns_def, "", ns)).is_none() {
        return Err(ApiError::namespace_not_found(ns));
    }
    Ok(())
}

pub(super) fn map_store(e: StoreError, def: &ResourceDef, name: &str) -> ApiError {
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(def, name),
        StoreError::NotFound => ApiError::not_found(def, name),
        StoreError::Conflict => ApiError::conflict(def, name),
    }
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

/// Create an already-decoded object (also used by ProjectRequest).
pub fn create_object(
    state: &State,
    ctx: &Ctx,
    def: &'static ResourceDef,
    mut obj: Value,
) -> Result<(Value, Vec<String>), ApiError> {
    check_namespace(ctx, def, &mut obj)?;
    let meta = ensure_meta(&mut obj);
    if meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
        && let Some(g) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
    {
        let n = format!("{g}{}", random_suffix());
        meta.insert("name".into(), json!(n));
    }
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "generation",
        "managedFields",
    ] {
        meta.remove(f);
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let warnings = validation::field_validation(def, &obj, ctx.q("fieldValidation"), false)?;
    validation::strip_nulls(&mut obj);
    validation::validate(def, &obj, None)?;
    if def.namespaced {
        require_namespace(state, &ctx.info.namespace)?;
    }
    crate::escalation::check(state, ctx, def, &obj)?;
    if def.kind == "Pod" && def.group.is_empty() {
        // Pod admission: defaults, the service account, the token volume.
        let store = state.store();
        crate::controllers::admit_pod(&store, &mut obj).map_err(|why| {
            ApiError::new(
                403,
                "Forbidden",
                format!("pods \"{name}\" is forbidden: {why}"),
            )
        })?;
    }
    validation::apply_defaults(def, &mut obj, &state.apps_domain, || state.alloc_ip());
    patch::track_update(
        None,
        &mut obj,
        &ctx.field_manager(),
        &def.api_version(),
        def.has_status,
    );
    let k = key(ctx, def, &name);
    let mut store = state.store();
    if ctx.dry_run() {
        if store.get(&k).is_some() {
            return Err(ApiError::already_exists(def, &name));
        }
        store.prepare_create(&mut obj);
        return Ok((obj, warnings));
    }
    let created = store.create(k, obj).map_err(|e| map_store(e, def, &name))?;
    if def.kind == "Namespace" && def.group.is_empty() {
        crate::seed::namespace_contents(&mut store, &name, &state.ca_pem);
    }
    Ok((created, warnings))
}

pub fn create(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let obj = read_object(ctx, def)?;
    let (created, warnings) = create_object(state, ctx, def, obj)?;
    Ok(with_warnings(
        object_response(ctx, def, 201, &created),
        &warnings,
    ))
}

pub(super) fn check_name(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    let meta = ensure_meta(obj);
    let body_name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if body_name.is_empty() {
        meta.insert("name".into(), json!(ctx.info.name));
    } else if body_name != ctx.info.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            ctx.info.name
        )));
    }
    Ok(())
}

/// Store an updated object: status subresource semantics, validation, ownership, 409s.
pub(super) fn store_update(
    state: &State,
    ctx: &Ctx,
    def: &'static ResourceDef,
    old: &Value,
    mut obj: Value,
    warnings: Vec<String>,
    apply: bool,
) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let status_only = def.name.ends_with("/status");
    if main.has_status {
        if status_only {
            // Only .status changes through the status subresource.
            let status = obj.get("status").cloned();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    merged.as_object_mut().map(|m| m.remove("status"));
                }
            }
            if let Some(rv) = obj.pointer("/metadata/resourceVersion").cloned() {
                ensure_meta(&mut merged).insert("resourceVersion".into(), rv);
            }
            obj = merged;
        } else if let Some(s) = old.get("status") {
            obj["status"] = s.clone();
        } else if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    validation::strip_nulls(&mut obj);
    validation::validate(main, &obj, Some(old))?;
    crate::escalation::check(state, ctx, main, &obj)?;
    if !apply {
        patch::track_update(
            Some(old),
            &mut obj,
            &ctx.field_manager(),
            &main.api_version(),
            main.has_status && !status_only,
        );
    }
    let k = key(ctx, main, &ctx.info.name);
    let mut store = state.store();
    let stored = if ctx.dry_run() {
        store.prepare_update(&k, obj)
    } else {
        store.update(&k, obj)
    }
    .map_err(|e| map_store(e, main, &ctx.info.name))?;
    Ok(with_warnings(
        object_response(ctx, main, 200, &stored),
        &warnings,
    ))
}

pub fn update(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let mut obj = read_object(ctx, main)?;
    check_name(ctx, &mut obj)?;
    check_namespace(ctx, main, &mut obj)?;
    let warnings = validation::field_validation(main, &obj, ctx.q("fieldValidation"), false)?;
    let old = state
        .store()
        .get(&key(ctx, main, &ctx.info.name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(main, &ctx.info.name))?;
    store_update(state, ctx, def, &old, obj, warnings, false)
}
