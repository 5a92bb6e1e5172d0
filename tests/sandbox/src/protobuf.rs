//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`). Real clients built on
//! client-go send them for built-in types: helm for its release Secrets, the MCP server for
//! SelfSubjectAccessReview. The envelope is the magic `k8s\0` followed by a
//! `runtime.Unknown` whose `raw` holds the typed message; we turn it into the JSON the
//! rest of the server works with. Responses stay JSON, which those clients accept.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message as _;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("the protobuf body does not start with the Kubernetes magic prefix")]
    NoMagic,
    #[error("invalid protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("protobuf bodies of kind {0} are not supported by the sandbox; send JSON")]
    Unsupported(String),
}

fn map_json(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn opt(m: &mut Map<String, Value>, k: &str, v: Option<&String>) {
    if let Some(v) = v.filter(|v| !v.is_empty()) {
        m.insert(k.into(), json!(v));
    }
}

fn meta_json(m: Option<&meta::ObjectMeta>) -> Value {
    let Some(m) = m else { return json!({}) };
    let mut o = Map::new();
    opt(&mut o, "name", m.name.as_ref());
    opt(&mut o, "generateName", m.generate_name.as_ref());
    opt(&mut o, "namespace", m.namespace.as_ref());
    opt(&mut o, "uid", m.uid.as_ref());
    opt(&mut o, "resourceVersion", m.resource_version.as_ref());
    if !m.labels.is_empty() {
        o.insert("labels".into(), map_json(&m.labels));
    }
    if !m.annotations.is_empty() {
        o.insert("annotations".into(), map_json(&m.annotations));
    }
    if !m.finalizers.is_empty() {
        o.insert("finalizers".into(), json!(m.finalizers));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .iter()
            .map(|r| {
                let mut x = Map::new();
                opt(&mut x, "apiVersion", r.api_version.as_ref());
                opt(&mut x, "kind", r.kind.as_ref());
                opt(&mut x, "name", r.name.as_ref());
                opt(&mut x, "uid", r.uid.as_ref());
                if let Some(c) = r.controller {
                    x.insert("controller".into(), json!(c));
                }
                if let Some(b) = r.block_owner_deletion {
                    x.insert("blockOwnerDeletion".into(), json!(b));
                }
                Value::Object(x)
            })
            .collect();
        o.insert("ownerReferences".into(), Value::Array(refs));
    }
    Value::Object(o)
}

fn header(api_version: &str, kind: &str, metadata: Value) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("apiVersion".into(), json!(api_version));
    o.insert("kind".into(), json!(kind));
    o.insert("metadata".into(), metadata);
    o
}

fn resource_attributes(r: &k8s_pb::api::authorization::v1::ResourceAttributes) -> Value {
    let mut o = Map::new();
    opt(&mut o, "namespace", r.namespace.as_ref());
    opt(&mut o, "verb", r.verb.as_ref());
    opt(&mut o, "group", r.group.as_ref());
    opt(&mut o, "version", r.version.as_ref());
    opt(&mut o, "resource", r.resource.as_ref());
    opt(&mut o, "subresource", r.subresource.as_ref());
    opt(&mut o, "name", r.name.as_ref());
    Value::Object(o)
}

fn non_resource_attributes(r: &k8s_pb::api::authorization::v1::NonResourceAttributes) -> Value {
    let mut o = Map::new();
    opt(&mut o, "path", r.path.as_ref());
    opt(&mut o, "verb", r.verb.as_ref());
    Value::Object(o)
}

fn rules_json(rules: &[k8s_pb::api::rbac::v1::PolicyRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert("verbs".into(), json!(r.verbs));
                if !r.api_groups.is_empty() {
                    o.insert("apiGroups".into(), json!(r.api_groups));
                }
                if !r.resources.is_empty() {
                    o.insert("resources".into(), json!(r.resources));
                }
                if !r.resource_names.is_empty() {
                    o.insert("resourceNames".into(), json!(r.resource_names));
                }
                if !r.non_resource_ur_ls.is_empty() {
                    o.insert("nonResourceURLs".into(), json!(r.non_resource_ur_ls));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

fn binding_json(
    subjects: &[k8s_pb::api::rbac::v1::Subject],
    role_ref: Option<&k8s_pb::api::rbac::v1::RoleRef>,
) -> (Value, Value) {
    let subjects = subjects
        .iter()
        .map(|s| {
            let mut o = Map::new();
            opt(&mut o, "kind", s.kind.as_ref());
            opt(&mut o, "apiGroup", s.api_group.as_ref());
            opt(&mut o, "name", s.name.as_ref());
            opt(&mut o, "namespace", s.namespace.as_ref());
            Value::Object(o)
        })
        .collect();
    let mut rr = Map::new();
    if let Some(r) = role_ref {
        opt(&mut rr, "apiGroup", r.api_group.as_ref());
        opt(&mut rr, "kind", r.kind.as_ref());
        opt(&mut rr, "name", r.name.as_ref());
    }
    (Value::Array(subjects), Value::Object(rr))
}

use k8s_pb::api::core::v1 as core;

fn container_json(c: &core::Container) -> Value {
    let mut o = Map::new();
    opt(&mut o, "name", c.name.as_ref());
    opt(&mut o, "image", c.image.as_ref());
    if !c.command.is_empty() {
        o.insert("command".into(), json!(c.command));
    }
    if !c.args.is_empty() {
        o.insert("args".into(), json!(c.args));
    }
    if !c.ports.is_empty() {
        let ports: Vec<Value> = c
            .ports
            .iter()
            .map(|p| {
                let mut x = Map::new();
                opt(&mut x, "name", p.name.as_ref());
                if let Some(n) = p.container_port {
                    x.insert("containerPort".into(), json!(n));
                }
                opt(&mut x, "protocol", p.protocol.as_ref());
                Value::Object(x)
            })
            .collect();
        o.insert("ports".into(), Value::Array(ports));
    }
    if !c.env.is_empty() {
        let env: Vec<Value> = c
            .env
            .iter()
            .map(|e| {
                let mut x = Map::new();
                opt(&mut x, "name", e.name.as_ref());
                opt(&mut x, "value", e.value.as_ref());
                Value::Object(x)
            })
            .collect();
        o.insert("env".into(), Value::Array(env));
    }
    opt(&mut o, "imagePullPolicy", c.image_pull_policy.as_ref());
    o.insert("resources".into(), json!({}));
    Value::Object(o)
}

/// The PodSpec fields `kubectl create`/`run` generators set; richer specs come as JSON.
fn pod_spec_json(s: &core::PodSpec) -> Value {
    let mut o = Map::new();
    o.insert(
        "containers".into(),
        Value::Array(s.containers.iter().map(container_json).collect()),
    );
    opt(&mut o, "restartPolicy", s.restart_policy.as_ref());
    opt(
        &mut o,
        "serviceAccountName",
        s.service_account_name.as_ref(),
    );
    opt(&mut o, "dnsPolicy", s.dns_policy.as_ref());
    Value::Object(o)
}

fn template_json(t: Option<&core::PodTemplateSpec>) -> Value {
    let Some(t) = t else { return json!({}) };
    json!({"metadata": meta_json(t.metadata.as_ref()), "spec": t.spec.as_ref().map_or_else(|| json!({}), pod_spec_json)})
}

/// Decode a protobuf body into the equivalent JSON object.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtoError::NoMagic)?;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest)?;
    let tm = unknown.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD;
    let obj = match kind.as_str() {
        "Secret" => {
            let s = k8s_pb::api::core::v1::Secret::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(s.metadata.as_ref()));
            if !s.data.is_empty() {
                o.insert(
                    "data".into(),
                    Value::Object(
                        s.data
                            .iter()
                            .map(|(k, v)| (k.clone(), json!(b64.encode(v))))
                            .collect(),
                    ),
                );
            }
            if !s.string_data.is_empty() {
                o.insert("stringData".into(), map_json(&s.string_data));
            }
            opt(&mut o, "type", s.r#type.as_ref());
            if let Some(i) = s.immutable {
                o.insert("immutable".into(), json!(i));
            }
            o
        }
        "ConfigMap" => {
            let c = k8s_pb::api::core::v1::ConfigMap::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(c.metadata.as_ref()));
            if !c.data.is_empty() {
                o.insert("data".into(), map_json(&c.data));
            }
            if !c.binary_data.is_empty() {
                o.insert(
                    "binaryData".into(),
                    Value::Object(
                        c.binary_data
                            .iter()
                            .map(|(k, v)| (k.clone(), json!(b64.encode(v))))
                            .collect(),
                    ),
                );
            }
            o
        }
        "SelfSubjectAccessReview" => {
            let r =
                k8s_pb::api::authorization::v1::SelfSubjectAccessReview::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            let spec = r.spec.unwrap_or_default();
            let mut s = Map::new();
            if let Some(ra) = &spec.resource_attributes {
                s.insert("resourceAttributes".into(), resource_attributes(ra));
            }
            if let Some(na) = &spec.non_resource_attributes {
                s.insert("nonResourceAttributes".into(), non_resource_attributes(na));
            }
            o.insert("spec".into(), Value::Object(s));
            o
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let r = k8s_pb::api::authorization::v1::SubjectAccessReview::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            let spec = r.spec.unwrap_or_default();
            let mut s = Map::new();
            if let Some(ra) = &spec.resource_attributes {
                s.insert("resourceAttributes".into(), resource_attributes(ra));
            }
            if let Some(na) = &spec.non_resource_attributes {
                s.insert("nonResourceAttributes".into(), non_resource_attributes(na));
            }
            opt(&mut s, "user", spec.user.as_ref());
            opt(&mut s, "uid", spec.uid.as_ref());
            s.insert("groups".into(), json!(spec.groups));
            o.insert("spec".into(), Value::Object(s));
            o
        }
        "SelfSubjectRulesReview" => {
            let r = k8s_pb::api::authorization::v1::SelfSubjectRulesReview::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            let mut s = Map::new();
            opt(
                &mut s,
                "namespace",
                r.spec.as_ref().and_then(|s| s.namespace.as_ref()),
            );
            o.insert("spec".into(), Value::Object(s));
            o
        }
        "SelfSubjectReview" => {
            let r = k8s_pb::api::authentication::v1::SelfSubjectReview::decode(raw.as_slice())?;
            header(&api_version, &kind, meta_json(r.metadata.as_ref()))
        }
        "TokenReview" => {
            let r = k8s_pb::api::authentication::v1::TokenReview::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            let spec = r.spec.unwrap_or_default();
            let mut s = Map::new();
            opt(&mut s, "token", spec.token.as_ref());
            s.insert("audiences".into(), json!(spec.audiences));
            o.insert("spec".into(), Value::Object(s));
            o
        }
        "ClusterRole" | "Role" => {
            let r = k8s_pb::api::rbac::v1::ClusterRole::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            o.insert("rules".into(), rules_json(&r.rules));
            if let Some(a) = &r.aggregation_rule {
                let sel: Vec<Value> = a
                    .cluster_role_selectors
                    .iter()
                    .map(|s| json!({"matchLabels": map_json(&s.match_labels)}))
                    .collect();
                o.insert(
                    "aggregationRule".into(),
                    json!({"clusterRoleSelectors": sel}),
                );
            }
            o
        }
        "ClusterRoleBinding" | "RoleBinding" => {
            let r = k8s_pb::api::rbac::v1::ClusterRoleBinding::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(r.metadata.as_ref()));
            let (subjects, role_ref) = binding_json(&r.subjects, r.role_ref.as_ref());
            o.insert("subjects".into(), subjects);
            o.insert("roleRef".into(), role_ref);
            o
        }
        "Namespace" => {
            let n = k8s_pb::api::core::v1::Namespace::decode(raw.as_slice())?;
            header(&api_version, &kind, meta_json(n.metadata.as_ref()))
        }
        "ServiceAccount" => {
            let n = k8s_pb::api::core::v1::ServiceAccount::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(n.metadata.as_ref()));
            if let Some(a) = n.automount_service_account_token {
                o.insert("automountServiceAccountToken".into(), json!(a));
            }
            o
        }
        "Deployment" => {
            let d = k8s_pb::api::apps::v1::Deployment::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(d.metadata.as_ref()));
            let spec = d.spec.unwrap_or_default();
            let mut sp = Map::new();
            if let Some(r) = spec.replicas {
                sp.insert("replicas".into(), json!(r));
            }
            if let Some(sel) = &spec.selector {
                sp.insert(
                    "selector".into(),
                    json!({"matchLabels": map_json(&sel.match_labels)}),
                );
            }
            sp.insert("template".into(), template_json(spec.template.as_ref()));
            o.insert("spec".into(), Value::Object(sp));
            o
        }
        "Pod" => {
            let p = core::Pod::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(p.metadata.as_ref()));
            o.insert(
                "spec".into(),
                p.spec.as_ref().map_or_else(|| json!({}), pod_spec_json),
            );
            o
        }
        "Service" => {
            let svc = core::Service::decode(raw.as_slice())?;
            let mut o = header(&api_version, &kind, meta_json(svc.metadata.as_ref()));
            let spec = svc.spec.unwrap_or_default();
            let mut sp = Map::new();
            let ports: Vec<Value> = spec
                .ports
                .iter()
                .map(|p| {
                    let mut x = Map::new();
                    opt(&mut x, "name", p.name.as_ref());
                    opt(&mut x, "protocol", p.protocol.as_ref());
                    if let Some(n) = p.port {
                        x.insert("port".into(), json!(n));
                    }
                    if let Some(t) = &p.target_port {
                        let v = if t.r#type == Some(1) {
                            json!(t.str_val.clone().unwrap_or_default())
                        } else {
                            json!(t.int_val.unwrap_or(0))
                        };
                        x.insert("targetPort".into(), v);
                    }
                    Value::Object(x)
                })
                .collect();
            sp.insert("ports".into(), Value::Array(ports));
            if !spec.selector.is_empty() {
                sp.insert("selector".into(), map_json(&spec.selector));
            }
            opt(&mut sp, "type", spec.r#type.as_ref());
            opt(&mut sp, "clusterIP", spec.cluster_ip.as_ref());
            o.insert("spec".into(), Value::Object(sp));
            o
        }
        "DeleteOptions" => {
            let d = meta::DeleteOptions::decode(raw.as_slice())?;
            let mut o = Map::new();
            o.insert("apiVersion".into(), json!(api_version));
            o.insert("kind".into(), json!(kind));
            opt(&mut o, "propagationPolicy", d.propagation_policy.as_ref());
            if !d.dry_run.is_empty() {
                o.insert("dryRun".into(), json!(d.dry_run));
            }
            o
        }
        other => return Err(ProtoError::Unsupported(other.to_string())),
    };
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_secret_envelope() {
        let secret = k8s_pb::api::core::v1::Secret {
            metadata: Some(meta::ObjectMeta {
                name: Some("sh.helm.release.v1.demo.v1".into()),
                labels: [("owner".to_string(), "helm".to_string())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            data: [("release".to_string(), b"abc".to_vec())]
                .into_iter()
                .collect(),
            r#type: Some("helm.sh/release.v1".into()),
            ..Default::default()
        };
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some("v1".into()),
                kind: Some("Secret".into()),
            }),
            raw: Some(secret.encode_to_vec()),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        let v = decode(&body).expect("decodes");
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], "YWJj");
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert!(decode(b"{}").is_err());
    }
}
