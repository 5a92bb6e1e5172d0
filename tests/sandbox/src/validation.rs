//! Decoding request bodies and validating objects the way kube-apiserver does: type
//! checks and unknown-field detection (`fieldValidation`), name rules, and the defaults
//! the API server fills in.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::resources::ResourceDef;
use crate::status::{ApiError, Cause};

/// How a body is encoded, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Yaml,
    Protobuf,
    MergePatch,
    StrategicMergePatch,
    JsonPatch,
    ApplyPatch,
}

pub fn body_kind(content_type: &str) -> Option<BodyKind> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match ct.as_str() {
        "" | "application/json" | "*/*" => BodyKind::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyKind::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyKind::Protobuf,
        "application/merge-patch+json" => BodyKind::MergePatch,
        "application/strategic-merge-patch+json" => BodyKind::StrategicMergePatch,
        "application/json-patch+json" => BodyKind::JsonPatch,
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => BodyKind::ApplyPatch,
        _ => return None,
    })
}

fn summarize(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.chars().take(30).collect();
    if body.len() > 30 {
        format!("{s} ...")
    } else {
        s
    }
}

/// Decode a body into JSON. `def` names the expected type for kube's error wording.
pub fn decode(body: &[u8], kind: BodyKind, def: &ResourceDef) -> Result<Value, ApiError> {
    let parsed: Result<Value, String> = match kind {
        BodyKind::Protobuf => match crate::protobuf::decode(body) {
            Ok(v) => Ok(v),
            // Tell the client to use JSON; client-go falls back on 415.
            Err(crate::protobuf::ProtoError::Unsupported(_)) => {
                return Err(ApiError::unsupported_media(
                    "application/vnd.kubernetes.protobuf",
                ));
            }
            Err(e) => Err(e.to_string()),
        },
        BodyKind::Yaml | BodyKind::ApplyPatch => serde_json::from_slice(body)
            .or_else(|_| serde_saphyr::from_slice::<Value>(body))
            .map_err(|e| format!("error converting YAML to JSON: {e}")),
        _ => serde_json::from_slice(body).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {e} ({})",
            def.kind,
            summarize(body)
        ))),
    }
}

/// Check `apiVersion`/`kind` against the path and fill them in when missing.
pub fn check_type(obj: &mut Value, def: &ResourceDef) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: expected an object",
            def.kind
        )));
    };
    let api_version = m
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = m
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !kind.is_empty() && kind != def.kind {
        let v = api_version.rsplit('/').next().unwrap_or("");
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {}: no kind \"{kind}\" is registered for version \"{api_version}\"",
            def.kind
        )));
    }
    if !api_version.is_empty() && api_version != def.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            def.api_version()
        )));
    }
    m.insert("apiVersion".into(), json!(def.api_version()));
    m.insert("kind".into(), json!(def.kind));
    Ok(())
}

/// Remove JSON nulls (Go decoding treats them as "unset").
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                paths(x, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: &Value,
) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Round-trip through the k8s-openapi type (when there is one): type errors fail, and
/// fields that do not survive are unknown fields.
fn typed(def: &ResourceDef, v: &Value) -> Option<Result<Value, String>> {
    use k8s_openapi::api::{
        apps::v1 as apps, core::v1 as core, networking::v1 as net, rbac::v1 as rbac,
    };
    Some(match (def.group, def.kind) {
        ("", "Namespace") => round_trip::<core::Namespace>(v),
        ("", "Secret") => round_trip::<core::Secret>(v),
        ("", "ConfigMap") => round_trip::<core::ConfigMap>(v),
        ("", "Service") => round_trip::<core::Service>(v),
        ("", "ServiceAccount") => round_trip::<core::ServiceAccount>(v),
        ("", "Pod") => round_trip::<core::Pod>(v),
        ("", "Endpoints") => round_trip::<core::Endpoints>(v),
        ("", "Event") => round_trip::<core::Event>(v),
        ("apps", "Deployment") => round_trip::<apps::Deployment>(v),
        ("apps", "ReplicaSet") => round_trip::<apps::ReplicaSet>(v),
        ("rbac.authorization.k8s.io", "ClusterRole") => round_trip::<rbac::ClusterRole>(v),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            round_trip::<rbac::ClusterRoleBinding>(v)
        }
        ("rbac.authorization.k8s.io", "Role") => round_trip::<rbac::Role>(v),
        ("rbac.authorization.k8s.io", "RoleBinding") => round_trip::<rbac::RoleBinding>(v),
        ("networking.k8s.io", "Ingress") => round_trip::<net::Ingress>(v),
        _ => return None,
    })
}

/// The unknown fields of an object (dotted paths), or a type error.
pub fn unknown_fields(def: &ResourceDef, obj: &Value) -> Result<Vec<String>, ApiError> {
    let mut clean = obj.clone();
    strip_nulls(&mut clean);
    // managedFields carry free-form fieldsV1 that k8s-openapi keeps anyway; skip them.
    if let Some(m) = clean.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let Some(rt) = typed(def, &clean) else {
        return Ok(Vec::new());
    };
    let rt = rt.map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    })?;
    let (mut sent, mut kept) = (BTreeSet::new(), BTreeSet::new());
    paths(&clean, "", &mut sent);
    paths(&rt, "", &mut kept);
    Ok(sent
        .difference(&kept)
        .filter(|p| !p.contains('[') || kept_parent(p, &kept))
        .cloned()
        .collect())
}

fn kept_parent(p: &str, kept: &BTreeSet<String>) -> bool {
    // A field inside a list element is unknown only if its element survived.
    p.rfind('.').is_none_or(|i| kept.contains(&p[..i]))
}

/// Apply the `fieldValidation` directive (`Strict`, `Warn` (default), `Ignore`).
/// Returns warnings to send back in `Warning` headers.
pub fn field_validation(
    def: &ResourceDef,
    obj: &Value,
    directive: &str,
    apply: bool,
) -> Result<Vec<String>, ApiError> {
    let unknown = unknown_fields(def, obj)?;
    if unknown.is_empty() || directive.eq_ignore_ascii_case("Ignore") {
        return Ok(Vec::new());
    }
    let msgs: Vec<String> = if apply {
        unknown
            .iter()
            .map(|f| format!(".{f}: field not declared in schema"))
            .collect()
    } else {
        unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect()
    };
    if directive.eq_ignore_ascii_case("Strict") {
        let msg = if apply {
            msgs.join(", ")
        } else {
            format!("strict decoding error: {}", msgs.join(", "))
        };
        return Err(ApiError::bad_request(msg));
    }
    Ok(msgs)
}

fn dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && dns_subdomain(name)
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Validate the object name and kind-specific required fields (422 causes).
pub fn validate(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else {
        let path_segment_kind = matches!(
            def.group,
            "rbac.authorization.k8s.io"
                | "user.openshift.io"
                | "oauth.openshift.io"
                | "config.openshift.io"
        );
        let bad = if def.kind == "Namespace"
            || def.kind == "Project"
            || (def.kind == "Service" && def.group.is_empty())
        {
            (!dns_label(name)).then_some(LABEL_MSG)
        } else if path_segment_kind {
            (name == "." || name == ".." || name.contains('/') || name.contains('%'))
                .then_some("may not contain '/' or '%' and may not be '.' or '..'")
        } else {
            (!dns_subdomain(name)).then_some(SUBDOMAIN_MSG)
        };
        if let Some(msg) = bad {
            causes.push(Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: \"{name}\": {msg}"),
                field: "metadata.name".into(),
            });
        }
    }
    if matches!(def.kind, "ClusterRoleBinding" | "RoleBinding")
        && def.group == "rbac.authorization.k8s.io"
    {
        let rr = obj.get("roleRef");
        if rr
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            causes.push(Cause {
                reason: "FieldValueRequired",
                message: "Required value".into(),
                field: "roleRef.name".into(),
            });
        }
        let kind = rr
            .and_then(|r| r.get("kind"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let allowed: &[&str] = if def.kind == "RoleBinding" {
            &["Role", "ClusterRole"]
        } else {
            &["ClusterRole"]
        };
        if !allowed.contains(&kind) {
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                message: format!(
                    "Unsupported value: \"{kind}\": supported values: {}",
                    allowed
                        .iter()
                        .map(|a| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                field: "roleRef.kind".into(),
            });
        }
        if let Some(old) = old
            && old.get("roleRef") != obj.get("roleRef")
        {
            causes.push(Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: {}: cannot change roleRef",
                    obj.get("roleRef").cloned().unwrap_or_default()
                ),
                field: "roleRef".into(),
            });
        }
        for (i, s) in obj
            .get("subjects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let k = s.get("kind").and_then(Value::as_str).unwrap_or("");
            if !matches!(k, "User" | "Group" | "ServiceAccount") {
                causes.push(Cause { reason: "FieldValueNotSupported", message: format!("Unsupported value: \"{k}\": supported values: \"ServiceAccount\", \"User\", \"Group\""), field: format!("subjects[{i}].kind") });
            }
            if s.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    message: "Required value".into(),
                    field: format!("subjects[{i}].name"),
                });
            }
        }
    }
    if def.kind == "Deployment" && def.group == "apps" && obj.pointer("/spec/selector").is_none() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: "spec.selector".into(),
        });
    }
    if def.kind == "Route"
        && obj
            .pointer("/spec/to/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: "spec.to.name".into(),
        });
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(def, name, &causes))
    }
}

/// Defaults the API server fills in on create.
pub fn apply_defaults(
    def: &ResourceDef,
    obj: &mut Value,
    apps_domain: &str,
    next_ip: impl FnOnce() -> String,
) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match (def.group, def.kind) {
        ("", "Namespace") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            crate::store::ensure_meta(obj)
                .entry("labels")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .map(|l| l.insert("kubernetes.io/metadata.name".into(), json!(name)));
        }
        ("", "Secret") => {
            if obj.get("type").is_none() {
                obj["type"] = json!("Opaque");
            }
            // Like kube-apiserver: stringData is write-only, merged into data (base64).
            if let Some(Value::Object(plain)) =
                obj.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                let data = obj
                    .as_object_mut()
                    .map(|o| o.entry("data").or_insert_with(|| json!({})));
                if let Some(Value::Object(data)) = data {
                    for (key, value) in plain {
                        let text = value.as_str().unwrap_or_default().to_owned();
                        data.insert(
                            key,
                            json!(base64::Engine::encode(
                                &base64::engine::general_purpose::STANDARD,
                                text
                            )),
                        );
                    }
                }
            }
        }
        ("", "Service") => {
            if obj.pointer("/spec/type").is_none() {
                obj["spec"]["type"] = json!("ClusterIP");
            }
            if obj.pointer("/spec/clusterIP").is_none() {
                let ip = next_ip();
                obj["spec"]["clusterIP"] = json!(ip);
                obj["spec"]["clusterIPs"] = json!([ip]);
            }
            if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports {
                    if p.get("protocol").is_none() {
                        p["protocol"] = json!("TCP");
                    }
                    if p.get("targetPort").is_none() {
                        p["targetPort"] = p.get("port").cloned().unwrap_or(json!(0));
                    }
                }
            }
            obj["spec"]["sessionAffinity"] = obj
                .pointer("/spec/sessionAffinity")
                .cloned()
                .unwrap_or(json!("None"));
            obj["status"] = json!({"loadBalancer": {}});
        }
        ("", "Pod") if obj.pointer("/status/phase").is_none() => {
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        ("apps", "Deployment") => {
            if obj.pointer("/spec/replicas").is_none() {
                obj["spec"]["replicas"] = json!(1);
            }
            if obj.pointer("/spec/strategy").is_none() {
                obj["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
            }
            if obj.pointer("/spec/revisionHistoryLimit").is_none() {
                obj["spec"]["revisionHistoryLimit"] = json!(10);
            }
            if obj.pointer("/spec/progressDeadlineSeconds").is_none() {
                obj["spec"]["progressDeadlineSeconds"] = json!(600);
            }
        }
        ("route.openshift.io", "Route") => {
            if obj
                .pointer("/spec/host")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                obj["spec"]["host"] = json!(format!("{name}-{ns}.{apps_domain}"));
            }
            if obj.pointer("/spec/to/weight").is_none() {
                obj["spec"]["to"]["weight"] = json!(100);
            }
            if obj.pointer("/spec/wildcardPolicy").is_none() {
                obj["spec"]["wildcardPolicy"] = json!("None");
            }
            let host = obj["spec"]["host"].clone();
            obj["status"] = json!({"ingress": [{"host": host, "routerName": "default", "wildcardPolicy": "None",
                "routerCanonicalHostname": format!("router-default.{apps_domain}"),
                "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": crate::store::now_rfc3339()}]}]});
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn unknown_fields_are_found() {
        let def = find("", "v1", "configmaps").expect("served");
        let o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "bogus": 1}, "data": {"a": "b"}, "spec": {}});
        let u = unknown_fields(def, &o).expect("typed");
        assert_eq!(u, vec!["metadata.bogus".to_string(), "spec".to_string()]);
        assert!(field_validation(def, &o, "Strict", false).is_err());
        assert_eq!(
            field_validation(def, &o, "Warn", false)
                .expect("warn")
                .len(),
            2
        );
        let bad_type = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}});
        assert_eq!(
            unknown_fields(def, &bad_type).expect_err("type error").code,
            400
        );
    }

    #[test]
    fn names_are_validated() {
        let def = find("", "v1", "configmaps").expect("served");
        let e =
            validate(def, &json!({"metadata": {"name": "Bad_Name"}}), None).expect_err("invalid");
        assert_eq!(e.code, 422);
        assert!(
            e.message
                .starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value"),
            "{}",
            e.message
        );
        let rb = find("rbac.authorization.k8s.io", "v1", "clusterroles").expect("served");
        assert!(validate(rb, &json!({"metadata": {"name": "system:discovery"}}), None).is_ok());
    }
}
