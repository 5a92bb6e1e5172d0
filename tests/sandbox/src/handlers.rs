//! Resource verbs: get, list, watch, create, update, patch, delete, deletecollection,
//! plus the non-resource endpoints (discovery, OpenAPI, health).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::patch;
use crate::resources::{self, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::{Ctx, Resp, State, error_response, json_response, text_response};
use crate::status::{ApiError, success_status};
use crate::store::{EventType, Key, StoreError, ensure_meta, gr_of};
use crate::validation::{self, BodyKind};

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

pub fn get(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let store = state.store();
    let obj = store
        .get(&key(ctx, main, &ctx.info.name))
        .ok_or_else(|| ApiError::not_found(main, &ctx.info.name))?;
    Ok(object_response(ctx, main, 200, obj))
}

/// Items of a list request after selectors, in key order, with their keys.
fn selected(state: &State, ctx: &Ctx, def: &ResourceDef) -> Result<Vec<(Key, Value)>, ApiError> {
    Ok(selected_page(state, ctx, def, None, 0)?.0)
}

/// One page of [`selected`]: the first `limit` items (0: all) after the `after` key
/// (namespace, name), and how many more match. Only the page is cloned, so paging through
/// 10,000 objects costs each page its own size, as in kube-apiserver.
fn selected_page(
    state: &State,
    ctx: &Ctx,
    def: &ResourceDef,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<(Vec<(Key, Value)>, usize), ApiError> {
    let ls = LabelSelector::parse(ctx.q("labelSelector"))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fs = FieldSelector::parse(ctx.q("fieldSelector")).map_err(ApiError::bad_request)?;
    let ns =
        (def.namespaced && !ctx.info.namespace.is_empty()).then_some(ctx.info.namespace.as_str());
    let store = state.store();
    let mut page = Vec::new();
    let mut remaining = 0;
    for (k, v) in store.list(&gr_of(def), ns) {
        if after.is_some_and(|a| (k.namespace.as_str(), k.name.as_str()) <= a)
            || !(ls.matches(v) && fs.matches(v))
        {
            continue;
        }
        if limit == 0 || page.len() < limit {
            page.push((k.clone(), v.clone()));
        } else {
            remaining += 1;
        }
    }
    Ok((page, remaining))
}

fn continue_token(rv: u64, k: &Key) -> String {
    let t = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}\u{0}", k.namespace, k.name)});
    base64::engine::general_purpose::STANDARD.encode(t.to_string())
}

fn parse_continue(tok: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {tok}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(tok)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .trim_end_matches('\u{0}');
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

pub fn list(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let after = if ctx.q("continue").is_empty() {
        None
    } else {
        Some(parse_continue(ctx.q("continue"))?)
    };
    let limit: usize = ctx.q("limit").parse().unwrap_or(0);
    let (items, remaining) = selected_page(
        state,
        ctx,
        def,
        after
            .as_ref()
            .map(|(ns, name)| (ns.as_str(), name.as_str())),
        limit,
    )?;
    let rv = state.store().resource_version();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if remaining > 0
        && let Some((k, _)) = items.last()
    {
        meta["continue"] = json!(continue_token(rv, k));
        meta["remainingItemCount"] = json!(remaining);
    }
    let objs: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    if ctx.wants_table() {
        return Ok(json_response(
            200,
            &crate::table::to_table(def, &objs, &meta, ctx.q("includeObject")),
        ));
    }
    Ok(json_response(
        200,
        &json!({"apiVersion": def.api_version(), "kind": format!("{}List", def.kind), "metadata": meta, "items": objs}),
    ))
}

fn watch_line(kind: &str, obj: &Value, table: Option<(&ResourceDef, &str)>) -> axum::body::Bytes {
    // `kubectl get -w` asks for Tables: each event then carries a one-row Table.
    let object = match table {
        Some((def, include)) if kind != "ERROR" => {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(json!(""));
            crate::table::to_table(
                def,
                std::slice::from_ref(obj),
                &json!({"resourceVersion": rv}),
                include,
            )
        }
        _ => obj.clone(),
    };
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    axum::body::Bytes::from(s)
}

pub fn watch(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let ls = LabelSelector::parse(ctx.q("labelSelector")).map_err(ApiError::bad_request)?;
    let mut fs = FieldSelector::parse(ctx.q("fieldSelector")).map_err(ApiError::bad_request)?;
    if !ctx.info.name.is_empty() {
        fs = FieldSelector::parse(&format!("metadata.name={}", ctx.info.name))
            .map_err(ApiError::bad_request)?;
    }
    let gr = gr_of(def);
    let ns = (def.namespaced && !ctx.info.namespace.is_empty()).then(|| ctx.info.namespace.clone());
    let timeout = ctx
        .q("timeoutSeconds")
        .parse::<u64>()
        .unwrap_or(1800)
        .min(3600);
    let matches = {
        let (gr, ns, ls, fs) = (gr.clone(), ns.clone(), ls.clone(), fs.clone());
        move |k: &Key, v: &Value| {
            k.gr == gr
                && ns.as_ref().is_none_or(|n| *n == k.namespace)
                && ls.matches(v)
                && fs.matches(v)
        }
    };
    let rv_param = ctx.q("resourceVersion");
    let include = ctx.q("includeObject").to_string();
    let table = ctx.wants_table().then_some(def);
    let mut initial: Vec<axum::body::Bytes> = Vec::new();
    let rx = {
        let store = state.store();
        if rv_param.is_empty() || rv_param == "0" {
            for (k, v) in store.list(&gr, ns.as_deref()) {
                if matches(k, v) {
                    initial.push(watch_line("ADDED", v, table.map(|d| (d, include.as_str()))));
                }
            }
        } else {
            let rv: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {rv_param}"))
            })?;
            match store.events_since(rv) {
                Some(evs) => {
                    for e in evs.iter().filter(|e| matches(&e.key, &e.object)) {
                        initial.push(watch_line(
                            e.kind.as_str(),
                            &e.object,
                            table.map(|d| (d, include.as_str())),
                        ));
                    }
                }
                None => {
                    let status = ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        store.resource_version()
                    ))
                    .to_status();
                    initial.push(watch_line("ERROR", &status, None));
                }
            }
        }
        // Subscribing under the same lock means no event falls between replay and live.
        store.subscribe()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let live = futures::stream::unfold(
        (rx, matches, table, include),
        move |(mut rx, m, table, include)| async move {
            loop {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Ok(e)) if m(&e.key, &e.object) => {
                        let line = watch_line(
                            e.kind.as_str(),
                            &e.object,
                            table.map(|d| (d, include.as_str())),
                        );
                        return Some((
                            Ok::<_, std::convert::Infallible>(line),
                            (rx, m, table, include),
                        ));
                    }
                    Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                    Ok(Err(_)) | Err(_) => return None,
                }
            }
        },
    );
    let stream =
        futures::StreamExt::chain(futures::stream::iter(initial.into_iter().map(Ok)), live);
    let mut r = http::Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Decode and type-check a write body for `def`.
fn read_object(ctx: &Ctx, def: &ResourceDef) -> Result<Value, ApiError> {
    let ct = ctx.header("content-type");
    let kind = validation::body_kind(ct).ok_or_else(|| ApiError::unsupported_media(ct))?;
    let mut obj = validation::decode(&ctx.body, kind, def)?;
    validation::check_type(&mut obj, def)?;
    Ok(obj)
}

fn check_namespace(ctx: &Ctx, def: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
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

fn map_store(e: StoreError, def: &ResourceDef, name: &str) -> ApiError {
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

fn check_name(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
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
fn store_update(
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

/// pods/log and deployments/scale.
fn subresource(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let k = key(ctx, main, &ctx.info.name);
    let obj = state
        .store()
        .get(&k)
        .cloned()
        .ok_or_else(|| ApiError::not_found(main, &ctx.info.name))?;
    match def.name {
        "pods/log" => {
            let containers: Vec<String> = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let container = ctx.q("container");
            if container.is_empty() && containers.len() > 1 {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {}, choose one of: [{}]",
                    ctx.info.name,
                    containers.join(" ")
                )));
            }
            if !container.is_empty() && !containers.iter().any(|c| c == container) {
                return Err(ApiError::bad_request(format!(
                    "container {container} is not valid for pod {}",
                    ctx.info.name
                )));
            }
            let container = if container.is_empty() {
                containers.first().cloned().unwrap_or_default()
            } else {
                container.to_string()
            };
            let uid = obj
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("");
            let previous = ctx.q("previous") == "true";
            match state
                .kubelet
                .log(uid, &ctx.info.name, &container, previous)
                .map_err(ApiError::bad_request)?
            {
                Some(buf) => Ok(log_response(ctx, &buf)),
                None => {
                    let log = obj
                        .pointer("/metadata/annotations/sandbox.oc-mcp.io~1log")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Ok(text_response(200, log))
                }
            }
        }
        "pods/portforward" => crate::portforward::handle(state, ctx, &obj),
        "deployments/scale" => {
            let scale = |o: &Value| {
                json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {"name": o.pointer("/metadata/name"), "namespace": o.pointer("/metadata/namespace"),
                        "uid": o.pointer("/metadata/uid"), "resourceVersion": o.pointer("/metadata/resourceVersion"),
                        "creationTimestamp": o.pointer("/metadata/creationTimestamp")},
                    "spec": {"replicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
                    "status": {"replicas": o.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                        "selector": o.pointer("/spec/selector/matchLabels").and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))}})
            };
            if ctx.info.verb == "get" {
                return Ok(json_response(200, &scale(&obj)));
            }
            let body: Value = match ctx.info.verb.as_str() {
                "patch" => {
                    let mut s = scale(&obj);
                    let p: Value = serde_json::from_slice(&ctx.body)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    patch::merge_patch(&mut s, &p);
                    s
                }
                _ => serde_json::from_slice(&ctx.body)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            };
            let replicas = body
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let mut new = obj.clone();
            new["spec"]["replicas"] = json!(replicas);
            let mut store = state.store();
            let stored = if ctx.dry_run() {
                store.prepare_update(&k, new)
            } else {
                store.update(&k, new)
            }
            .map_err(|e| map_store(e, main, &ctx.info.name))?;
            Ok(json_response(200, &scale(&stored)))
        }
        _ => Err(ApiError::not_found_path()),
    }
}

/// A process's output with `tailLines`, `timestamps`, `limitBytes`, `sinceSeconds`, and
/// `follow` (streams new lines until the run ends).
fn log_response(ctx: &Ctx, buf: &crate::kubelet::SharedLog) -> Resp {
    let tail: Option<usize> = ctx.q("tailLines").parse().ok();
    let timestamps = ctx.q("timestamps") == "true";
    let limit: Option<usize> = ctx.q("limitBytes").parse().ok();
    let since: Option<i64> = ctx.q("sinceSeconds").parse().ok();
    let follow = ctx.q("follow") == "true";
    let (mut lines, next) = buf
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .since(0);
    if let Some(secs) = since {
        let cutoff = k8s_openapi::jiff::Timestamp::now().as_second() - secs;
        lines.retain(|(ts, _)| {
            ts.parse::<k8s_openapi::jiff::Timestamp>()
                .is_ok_and(|t| t.as_second() >= cutoff)
        });
    }
    if let Some(n) = tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let render = move |lines: Vec<(String, String)>| -> String {
        lines
            .into_iter()
            .map(|(ts, l)| {
                if timestamps {
                    format!("{ts} {l}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    };
    let mut text = render(lines);
    if let Some(n) = limit
        && text.len() > n
    {
        let mut cut = n;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    if !follow {
        return text_response(200, text);
    }
    let buf = buf.clone();
    let first = futures::stream::once(async move {
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(text))
    });
    let rest = futures::stream::unfold((buf, next), move |(buf, mut pos)| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
        loop {
            let (lines, next, closed) = {
                let b = buf
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let (l, n) = b.since(pos);
                (l, n, b.is_closed())
            };
            if !lines.is_empty() {
                pos = next;
                return Some((Ok(axum::body::Bytes::from(render(lines))), (buf, pos)));
            }
            if closed || tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut r = http::Response::new(Body::from_stream(futures::StreamExt::chain(first, rest)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    r
}

/// Used by watchers of other modules (kept here so event names stay in one place).
pub fn event_name(kind: EventType) -> &'static str {
    kind.as_str()
}
