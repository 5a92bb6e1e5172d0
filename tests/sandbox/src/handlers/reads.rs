//! get and list: one object, or a page of the selected ones with a continue token.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{key, main_def, object_response};
use crate::resources::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::{Ctx, Resp, State, json_response};
use crate::status::ApiError;
use crate::store::{Key, gr_of};

pub fn get(state: &Arc<State>, ctx: &Ctx, def: &'static ResourceDef) -> Result<Resp, ApiError> {
    let main = main_def(def);
    let store = state.store();
    let obj = store
        .get(&key(ctx, main, &ctx.info.name))
        .ok_or_else(|| ApiError::not_found(main, &ctx.info.name))?;
    Ok(object_response(ctx, main, 200, obj))
}

/// Items of a list request after selectors, in key order, with their keys.
pub(super) fn selected(
    state: &State,
    ctx: &Ctx,
    def: &ResourceDef,
) -> Result<Vec<(Key, Value)>, ApiError> {
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
