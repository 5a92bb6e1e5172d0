//! Patch semantics: JSON merge patch (RFC 7386), a basic strategic merge patch (merge
//! keys for the lists clients patch), and server-side apply field ownership.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = json!({});
        }
        if let Value::Object(t) = target {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// The merge key of a list field for strategic merge patch, by field name (the lists of
/// core/apps types that clients patch).
fn merge_key(field: &str, sample: &Value) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" if sample.get("containerPort").is_some() => Some("containerPort"),
        "ports" => Some("port"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        _ => None,
    }
}

/// Strategic merge patch: like merge patch, but lists with a merge key are merged by key,
/// `$patch: delete` removes an element and other `$` directives are dropped.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(t) = target else { return };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        *t = p
            .iter()
            .filter(|(k, _)| !k.starts_with('$'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        return;
    }
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (v, t.get_mut(k)) {
            (Value::Array(items), Some(Value::Array(existing))) => {
                if let Some(key) = items.first().and_then(|s| merge_key(k, s)) {
                    for item in items {
                        let id = item.get(key).cloned();
                        let pos = existing.iter().position(|e| e.get(key) == id.as_ref());
                        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                        match (pos, delete) {
                            (Some(i), true) => {
                                existing.remove(i);
                            }
                            (Some(i), false) => strategic_merge_patch(&mut existing[i], item),
                            (None, false) => {
                                let mut fresh = json!({});
                                strategic_merge_patch(&mut fresh, item);
                                existing.push(fresh);
                            }
                            (None, true) => {}
                        }
                    }
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
            (Value::Object(_), Some(existing @ Value::Object(_))) => {
                strategic_merge_patch(existing, v);
            }
            _ => {
                let mut fresh = Value::Null;
                if v.is_object() {
                    strategic_merge_patch(&mut fresh, v);
                } else {
                    fresh = v.clone();
                }
                t.insert(k.clone(), fresh);
            }
        }
    }
}

/// A field path like `["spec", "replicas"]`. Lists are atomic leaves here (the granular
/// list ownership of real SSA is not needed by the clients the sandbox serves).
pub type FieldPath = Vec<String>;

/// Fields that are never owned (system-managed metadata and the type header).
fn ignored(path: &[String], has_status: bool) -> bool {
    match path {
        [] => false,
        [top] => top == "apiVersion" || top == "kind" || (has_status && top == "status"),
        [m, f, ..] if m == "metadata" => !matches!(
            f.as_str(),
            "labels" | "annotations" | "ownerReferences" | "finalizers"
        ),
        [top, ..] => has_status && top == "status",
    }
}

/// The leaf field paths set in an object.
pub fn field_set(obj: &Value, has_status: bool) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    walk(obj, &mut Vec::new(), &mut out, has_status);
    out
}

fn walk(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<FieldPath>, has_status: bool) {
    if ignored(path, has_status) {
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(k.clone());
                walk(child, path, out, has_status);
                path.pop();
            }
        }
        _ if path.is_empty() => {}
        _ => {
            out.insert(path.clone());
        }
    }
}

pub fn get_path<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        match cur.get_mut(p) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Encode a field set as `fieldsV1` (`{"f:spec":{"f:replicas":{}}}`).
pub fn to_fields_v1(set: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            let entry = cur.entry(format!("f:{seg}")).or_insert_with(|| json!({}));
            let Value::Object(next) = entry else { break };
            cur = next;
        }
    }
    Value::Object(root)
}

/// Decode `fieldsV1` back to leaf paths.
pub fn from_fields_v1(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    fn rec(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<FieldPath>) {
        let keys: Vec<(&String, &Value)> = v
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
            .unwrap_or_default();
        if keys.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, child) in keys {
            path.push(k.trim_start_matches("f:").to_string());
            rec(child, path, out);
            path.pop();
        }
    }
    rec(v, &mut Vec::new(), &mut out);
    out
}

/// One manager's ownership record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub fields: BTreeSet<FieldPath>,
}

pub fn read_managed(obj: &Value) -> Vec<Managed> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Managed {
                    manager: e
                        .get("manager")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    operation: e
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or("Update")
                        .into(),
                    api_version: e
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    time: e.get("time").and_then(Value::as_str).unwrap_or("").into(),
                    fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn write_managed(obj: &mut Value, managed: &[Managed]) {
    let entries: Vec<Value> = managed
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(|m| {
            json!({"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version,
                "time": m.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&m.fields)})
        })
        .collect();
    let meta = crate::store::ensure_meta(obj);
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries));
    }
}

/// Record an Update by `manager`: it takes ownership of every leaf whose value changed.
pub fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    has_status: bool,
) {
    let mut managed = old.map(read_managed).unwrap_or_default();
    let new_fields = field_set(new, has_status);
    let changed: BTreeSet<FieldPath> = new_fields
        .iter()
        .filter(|p| old.and_then(|o| get_path(o, p)) != get_path(new, p))
        .cloned()
        .collect();
    for m in &mut managed {
        m.fields
            .retain(|p| new_fields.contains(p) && !changed.contains(p));
    }
    if !changed.is_empty() {
        let now = crate::store::now_rfc3339();
        if let Some(m) = managed
            .iter_mut()
            .find(|m| m.manager == manager && m.operation == "Update")
        {
            m.fields.extend(changed);
            m.time = now;
        } else {
            managed.push(Managed {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now,
                fields: changed,
            });
        }
    }
    write_managed(new, &managed);
}

/// A conflict: another manager owns a field the applier sets to a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    pub manager: String,
    pub api_version: String,
    pub path: FieldPath,
}

pub fn render_path(p: &FieldPath) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

/// Server-side apply of `config` by `manager` onto `current` (None: create). Returns the
/// new object or the conflicts (when `force` is false).
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    has_status: bool,
) -> Result<Value, Vec<ApplyConflict>> {
    let applied = field_set(config, has_status);
    let mut managed = current.map(read_managed).unwrap_or_default();
    let mut result = current.cloned().unwrap_or_else(|| json!({}));
    let mut conflicts = Vec::new();
    for m in managed.iter().filter(|m| m.manager != manager) {
        for p in m.fields.intersection(&applied) {
            if get_path(&result, p) != get_path(config, p) {
                conflicts.push(ApplyConflict {
                    manager: m.manager.clone(),
                    api_version: m.api_version.clone(),
                    path: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    // Fields this manager applied before but no longer does are removed, unless another
    // manager still owns them.
    let previous: BTreeSet<FieldPath> = managed
        .iter()
        .filter(|m| m.manager == manager && m.operation == "Apply")
        .flat_map(|m| m.fields.iter().cloned())
        .collect();
    for p in previous.difference(&applied) {
        let owned_elsewhere = managed
            .iter()
            .any(|m| m.manager != manager && m.fields.contains(p));
        if !owned_elsewhere {
            remove_path(&mut result, p);
        }
    }
    merge_patch_keep_nulls(&mut result, config);
    for m in &mut managed {
        if m.manager != manager {
            // Forced conflicts move ownership; equal values become shared (like SSA).
            let lost: BTreeSet<FieldPath> = conflicts
                .iter()
                .filter(|c| c.manager == m.manager)
                .map(|c| c.path.clone())
                .collect();
            m.fields.retain(|p| !lost.contains(p));
        }
    }
    // A no-op apply keeps the entry's timestamp, so the object (and its resourceVersion)
    // does not change, as in kube-apiserver.
    let unchanged_time = managed
        .iter()
        .find(|m| m.manager == manager && m.operation == "Apply" && m.fields == applied)
        .filter(|_| current.is_some_and(|c| without_managed(c) == without_managed(&result)))
        .map(|m| m.time.clone());
    managed.retain(|m| !(m.manager == manager && m.operation == "Apply"));
    // Update-ownership by the same manager of now-applied fields moves to Apply.
    for m in managed.iter_mut().filter(|m| m.manager == manager) {
        m.fields.retain(|p| !applied.contains(p));
    }
    managed.push(Managed {
        manager: manager.into(),
        operation: "Apply".into(),
        api_version: api_version.into(),
        time: unchanged_time.unwrap_or_else(crate::store::now_rfc3339),
        fields: applied,
    });
    write_managed(&mut result, &managed);
    Ok(result)
}

fn without_managed(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    obj
}

/// Merge where explicit nulls in an applied config are simply ignored (SSA treats a null
/// as "not specified").
fn merge_patch_keep_nulls(target: &mut Value, config: &Value) {
    match (target, config) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                if v.is_null() {
                    continue;
                }
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_patch_keep_nulls(existing, v);
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}

/// Group conflicts by manager for the error message kube-apiserver writes.
pub fn conflict_message(conflicts: &[ApplyConflict]) -> String {
    let mut by: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for c in conflicts {
        by.entry((c.manager.clone(), c.api_version.clone()))
            .or_default()
            .push(render_path(&c.path));
    }
    let n = conflicts.len();
    if n == 1 {
        let c = &conflicts[0];
        return format!(
            "Apply failed with 1 conflict: conflict with \"{}\" using {}: {}",
            c.manager,
            c.api_version,
            render_path(&c.path)
        );
    }
    let mut msg = format!("Apply failed with {n} conflicts: ");
    let parts: Vec<String> = by
        .iter()
        .map(|((m, v), paths)| {
            let list: String = paths.iter().map(|p| format!("\n- {p}")).collect();
            format!("conflicts with \"{m}\" using {v}:{list}")
        })
        .collect();
    msg.push_str(&parts.join("\n"));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn smp_merges_containers_by_name() {
        let mut t = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        strategic_merge_patch(
            &mut t,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}],
            "$setElementOrder/containers": [{"name": "a"}]}}),
        );
        assert_eq!(
            t["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
        strategic_merge_patch(
            &mut t,
            &json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(t["spec"]["containers"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn apply_conflicts_and_force() {
        let cfg_a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "a", "only_a": "1"}});
        let obj = apply(None, &cfg_a, "a", "v1", false, false).expect("create");
        let cfg_b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "b"}});
        let err = apply(Some(&obj), &cfg_b, "b", "v1", false, false).expect_err("conflict");
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"a\" using v1: .data.k"
        );
        let forced = apply(Some(&obj), &cfg_b, "b", "v1", true, false).expect("force");
        assert_eq!(forced["data"], json!({"k": "b", "only_a": "1"}));
        // a drops only_a: removed because nobody else owns it.
        let cfg_a2 =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}});
        let after = apply(Some(&forced), &cfg_a2, "a", "v1", false, false).expect("no conflict");
        assert_eq!(after["data"], json!({"k": "b"}));
    }

    #[test]
    fn fields_v1_round_trip() {
        let set = field_set(
            &json!({"metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"x": 1, "y": [1]}}),
            false,
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
    }
}
