//! patch: JSON patch, merge patch, strategic merge patch and server-side apply.

use std::sync::Arc;

use serde_json::{Value, json};

use super::writes::{check_name, check_namespace, create_object, map_store, store_update};
use super::{key, main_def, object_response, with_warnings};
use crate::patch;
use crate::resources::ResourceDef;
use crate::server::{Ctx, Resp, State};
use crate::status::ApiError;
use crate::store::ensure_meta;
use crate::validation::{self, BodyKind};

/// RFC 6902 JSON patch (add/remove/replace/test/copy/move).
fn json_patch(target: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let (parent, last) = path
            .rsplit_once('/')
            .ok_or_else(|| ApiError::bad_request(format!("invalid JSON patch path {path:?}")))?;
        let last = last.replace("~1", "/").replace("~0", "~");
        match kind {
            "test" => {
                if target.pointer(path) != Some(&value) {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: testing value {path} failed"
                        ),
                    ));
                }
            }
            "remove" => {
                let p = target.pointer_mut(parent).ok_or_else(|| {
                    ApiError::new(422, "Invalid", format!("doc is missing path: {path}"))
                })?;
                match p {
                    Value::Object(m) => {
                        m.remove(&last).ok_or_else(|| {
                            ApiError::new(422, "Invalid", format!("doc is missing path: {path}"))
                        })?;
                    }
                    Value::Array(a) => {
                        let i: usize = last
                            .parse()
                            .map_err(|_| ApiError::bad_request("bad index"))?;
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                    _ => {
                        return Err(ApiError::new(
                            422,
                            "Invalid",
                            format!("doc is missing path: {path}"),
                        ));
                    }
                }
            }
            "add" | "replace" => {
                let p = target.pointer_mut(parent).ok_or_else(|| {
                    ApiError::new(422, "Invalid", format!("doc is missing path: {path}"))
                })?;
                match p {
                    Value::Object(m) => {
                        m.insert(last, value);
                    }
                    Value::Array(a) if last == "-" => a.push(value),
                    Value::Array(a) => {
                        let i: usize = last
                            .parse()
                            .map_err(|_| ApiError::bad_request("bad index"))?;
                        if kind == "add" && i <= a.len() {
                            a.insert(i, value);
                        } else if i < a.len() {
                            a[i] = value;
                        }
                    }
                    _ => {
                        return Err(ApiError::new(
                            422,
                            "Invalid",
                            format!("doc is missing path: {path}"),
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unsupported JSON patch operation {other:?}"
                )));
            }
        }
    }
    Ok(())
}

pub fn patch_handler(
    state: &Arc<State>,
    ctx: &Ctx,
    def: &'static ResourceDef,
) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let ct = ctx.header("content-type");
    let kind = validation::body_kind(ct)
        .filter(|k| !matches!(k, BodyKind::Json | BodyKind::Yaml | BodyKind::Protobuf))
        .ok_or_else(|| ApiError::unsupported_media(ct))?;
    let body = validation::decode(&ctx.body, kind, main)?;
    let old = state.store().get(&key(ctx, main, &ctx.info.name)).cloned();
    if kind == BodyKind::ApplyPatch {
        return apply_patch(state, ctx, def, old, body);
    }
    let old = old.ok_or_else(|| ApiError::not_found(main, &ctx.info.name))?;
    let mut obj = old.clone();
    // Clients that send no resourceVersion get an unconditional patch.
    obj.as_object_mut()
        .and_then(|m| m.get_mut("metadata"))
        .and_then(Value::as_object_mut)
        .map(|m| m.remove("resourceVersion"));
    match kind {
        BodyKind::MergePatch => patch::merge_patch(&mut obj, &body),
        BodyKind::StrategicMergePatch => patch::strategic_merge_patch(&mut obj, &body),
        _ => json_patch(&mut obj, &body)?,
    }
    if obj.pointer("/metadata/resourceVersion").is_none()
        && let Some(rv) = old.pointer("/metadata/resourceVersion").cloned()
    {
        ensure_meta(&mut obj).insert("resourceVersion".into(), rv);
    }
    validation::check_type(&mut obj, main)?;
    check_name(ctx, &mut obj)?;
    check_namespace(ctx, main, &mut obj)?;
    let warnings = validation::field_validation(main, &obj, ctx.q("fieldValidation"), false)?;
    store_update(state, ctx, def, &old, obj, warnings, false)
}

fn apply_patch(
    state: &Arc<State>,
    ctx: &Ctx,
    def: &'static ResourceDef,
    old: Option<Value>,
    mut config: Value,
) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let manager = ctx.q("fieldManager");
    if manager.is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    if config.get("apiVersion").is_none() || config.get("kind").is_none() {
        return Err(ApiError::bad_request("invalid object type: /, Kind="));
    }
    validation::check_type(&mut config, main)?;
    check_name(ctx, &mut config)?;
    check_namespace(ctx, main, &mut config)?;
    let warnings = validation::field_validation(main, &config, ctx.q("fieldValidation"), true)?;
    validation::strip_nulls(&mut config);
    let force = ctx.q("force") == "true";
    let status_only = def.name.ends_with("/status");
    let track_status = main.has_status && !status_only;
    match patch::apply(
        old.as_ref(),
        &config,
        manager,
        &main.api_version(),
        force,
        track_status,
    ) {
        Err(conflicts) => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version), "field": patch::render_path(&c.path)}))
                .collect();
            Err(
                ApiError::new(409, "Conflict", patch::conflict_message(&conflicts))
                    .with_details(json!({"causes": causes})),
            )
        }
        Ok(obj) => match old {
            Some(old) => store_update(state, ctx, def, &old, obj, warnings, true),
            None => {
                if status_only {
                    return Err(ApiError::not_found(main, &ctx.info.name));
                }
                let managed = patch::read_managed(&obj);
                let mut sub = ctx_for_create(ctx);
                sub.query.insert("fieldValidation".into(), "Ignore".into());
                let (mut created, _) = create_object(state, &sub, main, obj)?;
                // create_object recorded an Update; SSA creates are owned by the Apply manager.
                patch::write_managed(&mut created, &managed);
                if !ctx.dry_run() {
                    let k = key(ctx, main, &ctx.info.name);
                    let mut store = state.store();
                    // A controller may have written the new object already (the Ingress ->
                    // Route controller does): record the ownership on the latest version, as
                    // kube-apiserver's single atomic create would have.
                    if let Some(latest) = store.get(&k) {
                        let mut latest = latest.clone();
                        patch::write_managed(&mut latest, &managed);
                        created = latest;
                    }
                    created = store
                        .update(&k, created)
                        .map_err(|e| map_store(e, main, &ctx.info.name))?;
                }
                Ok(with_warnings(
                    object_response(ctx, main, 201, &created),
                    &warnings,
                ))
            }
        },
    }
}

fn ctx_for_create(ctx: &Ctx) -> Ctx {
    Ctx {
        user: ctx.user.clone(),
        info: ctx.info.clone(),
        query: ctx.query.clone(),
        headers: ctx.headers.clone(),
        body: ctx.body.clone(),
        method: ctx.method.clone(),
        upgrade: std::sync::Mutex::new(None),
    }
}
