//! OpenAPI documents. kubectl and helm validate manifests by asking the v3 document of
//! the object's group-version whether the PATCH operation for its kind accepts the
//! `fieldValidation` query parameter; when it does they leave validation to the server
//! (`fieldValidation=Strict`), which the sandbox performs. So each per-group document
//! carries, per kind, the operations with `x-kubernetes-group-version-kind` and the
//! parameters kube-apiserver documents, plus a minimal schema for the kind.

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::flavour::Flavour;
use crate::resources::{self, ResourceDef};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn schema_name(r: &ResourceDef) -> String {
    let g = if r.group.is_empty() {
        "core".to_string()
    } else {
        r.group.to_string()
    };
    format!("sandbox.{g}.{}.{}", r.version, r.kind)
}

fn gvk(r: &ResourceDef) -> Value {
    json!([{"group": r.group, "version": r.version, "kind": r.kind}])
}

fn query(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn op(r: &ResourceDef, action: &str, params: &[&str], with_body: bool) -> Value {
    let schema_ref = json!({"$ref": format!("#/components/schemas/{}", schema_name(r))});
    let mut o = json!({
        "tags": [r.group],
        "operationId": format!("{action}{}", r.kind),
        "parameters": params.iter().map(|p| query(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref.clone()}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(r)[0].clone(),
    });
    if with_body {
        let ct = if action == "patch" {
            json!({
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/strategic-merge-patch+json": {"schema": {"type": "object"}}
            })
        } else {
            json!({"*/*": {"schema": schema_ref}})
        };
        o["requestBody"] = json!({"content": ct, "required": true});
    }
    o
}

/// The per group-version document (`/openapi/v3/apis/<g>/<v>`).
pub fn v3_group_doc(group: &str, version: &str) -> Option<Value> {
    v3_group_doc_for(Flavour::OpenShift, false, group, version)
}

/// `v3_group_doc` for what a flavour serves (`cert_manager`: the stand-in is on).
pub fn v3_group_doc_for(
    flavour: Flavour,
    cert_manager: bool,
    group: &str,
    version: &str,
) -> Option<Value> {
    let served: Vec<&ResourceDef> = resources::in_group_version(group, version)
        .filter(|r| !r.is_subresource() && flavour.serves(r, cert_manager))
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(META.into(), json!({"type": "object", "properties": {
        "name": {"type": "string"}, "generateName": {"type": "string"}, "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "resourceVersion": {"type": "string"}, "uid": {"type": "string"}}}));
    let base = format!("/{}", gv_path(group, version));
    let write = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
    let patch = [
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
        "pretty",
    ];
    for r in served {
        schemas.insert(schema_name(r), json!({
            "type": "object",
            "description": format!("{} (served by the oc-mcp sandbox)", r.kind),
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"allOf": [{"$ref": format!("#/components/schemas/{META}")}], "default": {}}
            },
            // No x-kubernetes-group-version-kind here on purpose: with it, kubectl's
            // client-side apply would compute strategic patches from this (minimal)
            // schema and warn; without it kubectl uses its compiled-in types, as it
            // does for any kind it finds no schema for.
        }));
        let coll = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.name)
        } else {
            format!("{base}/{}", r.name)
        };
        let mut c = Map::new();
        if r.supports("list") {
            c.insert(
                "get".into(),
                op(
                    r,
                    "list",
                    &[
                        "labelSelector",
                        "fieldSelector",
                        "limit",
                        "continue",
                        "watch",
                    ],
                    false,
                ),
            );
        }
        if r.supports("create") {
            c.insert("post".into(), op(r, "post", &write, true));
        }
        if r.supports("deletecollection") {
            c.insert(
                "delete".into(),
                op(
                    r,
                    "deletecollection",
                    &["dryRun", "labelSelector", "fieldSelector"],
                    false,
                ),
            );
        }
        paths.insert(coll.clone(), Value::Object(c));
        let mut item = Map::new();
        if r.supports("get") {
            item.insert("get".into(), op(r, "get", &["pretty"], false));
        }
        if r.supports("update") {
            item.insert("put".into(), op(r, "put", &write, true));
        }
        if r.supports("patch") {
            item.insert("patch".into(), op(r, "patch", &patch, true));
        }
        if r.supports("delete") {
            item.insert(
                "delete".into(),
                op(
                    r,
                    "delete",
                    &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
                    false,
                ),
            );
        }
        if !item.is_empty() {
            paths.insert(format!("{coll}/{{name}}"), Value::Object(item));
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.5", crate::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}

fn hash(v: &Value) -> String {
    let digest = sha2::Sha512::digest(v.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

/// The v3 root: one entry per served group-version, with a content hash as clients expect.
pub fn v3_root() -> Value {
    v3_root_for(Flavour::OpenShift, false)
}

pub fn v3_root_for(flavour: Flavour, cert_manager: bool) -> Value {
    let mut paths = Map::new();
    let mut gvs = vec![("", "v1")];
    gvs.extend(resources::api_groups_for(flavour, cert_manager));
    for (g, v) in gvs {
        if let Some(doc) = v3_group_doc_for(flavour, cert_manager, g, v) {
            let p = gv_path(g, v);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(&doc))}),
            );
        }
    }
    json!({"paths": paths})
}

/// A Swagger 2.0 document in JSON (for clients that ask for JSON; kubectl's protobuf v2
/// fetch is only a fallback when v3 is missing).
pub fn v2() -> Value {
    v2_for(Flavour::OpenShift, false)
}

pub fn v2_for(flavour: Flavour, cert_manager: bool) -> Value {
    let mut defs = Map::new();
    for r in resources::RESOURCES
        .iter()
        .filter(|r| !r.is_subresource() && flavour.serves(r, cert_manager))
    {
        defs.insert(
            schema_name(r),
            json!({"type": "object", "x-kubernetes-group-version-kind": gvk(r)}),
        );
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": format!("v1.{}.5", crate::discovery::KUBE_MINOR)}, "paths": {}, "definitions": defs})
}
