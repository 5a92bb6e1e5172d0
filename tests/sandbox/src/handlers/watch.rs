//! watch: the store's events for the selected objects, one JSON line (or one-row Table) each.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use serde_json::{Value, json};

use crate::resources::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::{Ctx, Resp, State};
use crate::status::ApiError;
use crate::store::{Key, gr_of};

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
