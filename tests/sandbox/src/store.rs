//! The in-memory object store: one ordered map of JSON objects plus a bounded event log
//! for watches. Objects are kept as JSON (not typed) because the sandbox serves kinds that
//! have no Rust types (OpenShift) and must echo unknown fields the way etcd would.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::resources::ResourceDef;

/// How many events a watch can resume from; older resourceVersions get 410 Gone.
const HISTORY: usize = 10_000;

/// Where an object lives: `group/resource`, namespace ("" when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub gr: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(def: &ResourceDef, namespace: &str, name: &str) -> Self {
        Key {
            gr: gr_of(def),
            namespace: if def.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }
}

pub fn gr_of(def: &ResourceDef) -> String {
    format!(
        "{}/{}",
        def.group,
        def.name.split('/').next().unwrap_or(def.name)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub rv: u64,
    pub key: Key,
    pub object: Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error(
        "the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict,
}

#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Event>,
    tx: broadcast::Sender<Event>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// Seconds-precision RFC 3339 "now", the format kube-apiserver uses for timestamps.
pub fn now_rfc3339() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second())
        .map_or_else(|_| now.to_string(), |t| t.to_string())
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// The part of an object whose change bumps `metadata.generation`: everything but
/// metadata and status (kube-apiserver bumps generation on spec changes).
fn generation_view(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl Store {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Store {
            objects: BTreeMap::new(),
            rv: 1000,
            history: VecDeque::new(),
            tx,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Events after `rv`, or `None` when `rv` is older than the retained history.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Event>> {
        if let Some(first) = self.history.front()
            && rv + 1 < first.rv
            && self.history.len() >= HISTORY
        {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn record(&mut self, kind: EventType, key: Key, object: Value) {
        let ev = Event {
            kind,
            rv: self.rv,
            key,
            object,
        };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(ev.clone());
        // No receivers is normal (no watch open).
        let _ = self.tx.send(ev);
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of one resource, in key order, optionally within one namespace.
    pub fn list(&self, gr: &str, namespace: Option<&str>) -> Vec<(&Key, &Value)> {
        let start = Key {
            gr: gr.to_string(),
            namespace: namespace.unwrap_or("").to_string(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(|(k, _)| k.gr == gr && namespace.is_none_or(|ns| k.namespace == ns))
            .collect()
    }

    /// Stamp system metadata onto a new object without storing it (also used by dry runs).
    pub fn prepare_create(&self, obj: &mut Value) {
        let meta = ensure_meta(obj);
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("resourceVersion".into(), json!((self.rv + 1).to_string()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
    }

    pub fn create(&mut self, key: Key, mut obj: Value) -> Result<Value, StoreError> {
        if self.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        self.prepare_create(&mut obj);
        let rv = self.bump();
        ensure_meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects.insert(key.clone(), obj.clone());
        self.record(EventType::Added, key, obj.clone());
        Ok(obj)
    }

    /// Compute what an update would store, enforcing optimistic concurrency, without storing.
    pub fn prepare_update(&self, key: &Key, mut obj: Value) -> Result<Value, StoreError> {
        let old = self.objects.get(key).ok_or(StoreError::NotFound)?;
        let old_meta = old.get("metadata").cloned().unwrap_or_default();
        let sent_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let cur_rv = old_meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !sent_rv.is_empty() && sent_rv != cur_rv {
            return Err(StoreError::Conflict);
        }
        let mut generation = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if generation_view(old) != generation_view(&obj) {
            generation += 1;
        }
        let meta = ensure_meta(&mut obj);
        // System fields are not client-writable: keep the stored values.
        for f in ["uid", "creationTimestamp", "deletionTimestamp"] {
            match old_meta.get(f) {
                Some(v) => meta.insert(f.into(), v.clone()),
                None => meta.remove(f),
            };
        }
        meta.insert("generation".into(), json!(generation));
        meta.insert("resourceVersion".into(), json!((self.rv + 1).to_string()));
        Ok(obj)
    }

    pub fn update(&mut self, key: &Key, obj: Value) -> Result<Value, StoreError> {
        let mut obj = self.prepare_update(key, obj)?;
        let old = self.objects.get(key).cloned().unwrap_or_default();
        // An update that changes nothing does not bump resourceVersion (like etcd3 storage).
        let mut probe = obj.clone();
        if let (Some(m), Some(rv)) = (
            ensure_meta(&mut probe).get_mut("resourceVersion"),
            old.pointer("/metadata/resourceVersion"),
        ) {
            *m = rv.clone();
        }
        if probe == old {
            return Ok(old);
        }
        let rv = self.bump();
        ensure_meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects.insert(key.clone(), obj.clone());
        self.record(EventType::Modified, key.clone(), obj.clone());
        Ok(obj)
    }

    /// Delete one object and, in the background-propagation sense, everything that names it
    /// as an owner (transitively) and, for a namespace, everything inside it.
    pub fn delete(&mut self, key: &Key) -> Result<Value, StoreError> {
        let obj = self.objects.remove(key).ok_or(StoreError::NotFound)?;
        let rv = self.bump();
        let mut gone = obj.clone();
        ensure_meta(&mut gone).insert("resourceVersion".into(), json!(rv.to_string()));
        self.record(EventType::Deleted, key.clone(), gone.clone());
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut dependents: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, v)| owned_by(v, &uid))
            .map(|(k, _)| k.clone())
            .collect();
        if key.gr == "/namespaces" {
            dependents.extend(
                self.objects
                    .keys()
                    .filter(|k| k.namespace == key.name)
                    .cloned(),
            );
        }
        for d in dependents {
            // Already removed by an earlier cascade step: fine.
            let _ = self.delete(&d);
        }
        Ok(gone)
    }
}

fn owned_by(obj: &Value, uid: &str) -> bool {
    !uid.is_empty()
        && obj
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            })
}

/// `metadata` of an object as a mutable map, created when missing.
pub fn ensure_meta(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let m = obj.as_object_mut().expect("just made an object");
    let meta = m.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    fn cm(name: &str) -> Value {
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"}})
    }

    #[test]
    fn create_update_conflict_and_cascade() {
        let mut s = Store::new();
        let def = resources::find("", "v1", "configmaps").expect("served");
        let key = Key::new(def, "default", "a");
        let a = s.create(key.clone(), cm("a")).expect("create");
        assert_eq!(
            s.create(key.clone(), cm("a")),
            Err(StoreError::AlreadyExists)
        );
        let uid = a
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .expect("uid")
            .to_string();
        let mut stale = a.clone();
        stale["data"] = json!({"x":"1"});
        let b = s.update(&key, stale.clone()).expect("update");
        assert_ne!(
            a["metadata"]["resourceVersion"],
            b["metadata"]["resourceVersion"]
        );
        assert_eq!(b["metadata"]["generation"], json!(2));
        assert_eq!(s.update(&key, stale), Err(StoreError::Conflict));
        let mut child = cm("child");
        child["metadata"]["ownerReferences"] =
            json!([{"apiVersion":"v1","kind":"ConfigMap","name":"a","uid":uid}]);
        let ckey = Key::new(def, "default", "child");
        s.create(ckey.clone(), child).expect("create child");
        s.delete(&key).expect("delete");
        assert!(
            s.get(&ckey).is_none(),
            "dependent is deleted with its owner"
        );
    }
}
