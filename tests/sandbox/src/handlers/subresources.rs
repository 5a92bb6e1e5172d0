//! Subresources: pods/log and deployments/scale.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use serde_json::{Value, json};

use super::writes::map_store;
use super::{key, main_def};
use crate::patch;
use crate::resources::ResourceDef;
use crate::server::{Ctx, Resp, State, json_response, text_response};
use crate::status::ApiError;

/// pods/log and deployments/scale.
pub(super) fn subresource(
    state: &Arc<State>,
    ctx: &Ctx,
    def: &'static ResourceDef,
) -> Result<Resp, ApiError> {
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
