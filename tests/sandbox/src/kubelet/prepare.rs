//! What a container is started with: its ConfigMap and Secret volumes materialised into a
//! private directory, its environment resolved, and its args rewritten to those paths.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{Launch, NODE_NAME, PodRt, Prep, arr, mkdir_private, s, write_file};
use crate::server::State;
use crate::store::{Key, Store};

fn get_obj<'a>(store: &'a Store, resource: &str, ns: &str, name: &str) -> Option<&'a Value> {
    let def = crate::resources::find("", "v1", resource)?;
    store.get(&Key::new(def, ns, name))
}

/// Key -> bytes of a ConfigMap (`data` + `binaryData`) or a Secret (`data`, base64).
fn object_data(obj: &Value, secret: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let b64 = |v: &Value| {
        v.as_str()
            .and_then(|x| base64::engine::general_purpose::STANDARD.decode(x).ok())
            .unwrap_or_default()
    };
    if let Some(m) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in m {
            let bytes = if secret {
                b64(v)
            } else {
                v.as_str().unwrap_or("").as_bytes().to_vec()
            };
            out.push((k.clone(), bytes));
        }
    }
    for field in ["binaryData", "stringData"] {
        if let Some(m) = obj.get(field).and_then(Value::as_object) {
            for (k, v) in m {
                let bytes = if field == "binaryData" {
                    b64(v)
                } else {
                    v.as_str().unwrap_or("").as_bytes().to_vec()
                };
                out.push((k.clone(), bytes));
            }
        }
    }
    out
}

/// Files of a configMap/secret source, honouring `items`.
fn project(
    data: Vec<(String, Vec<u8>)>,
    items: &[Value],
    what: &str,
    name: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    if items.is_empty() {
        return Ok(data);
    }
    items
        .iter()
        .map(|it| {
            let key = s(it, "/key");
            let path = match s(it, "/path") {
                "" => key,
                p => p,
            };
            data.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (path.to_string(), v.clone()))
                .ok_or_else(|| {
                    format!("configuration key \"{key}\" not found in {what} \"{name}\"")
                })
        })
        .collect()
}

fn field_ref(pod: &Value, rt: &PodRt, path: &str) -> String {
    match path {
        "metadata.namespace" => rt.ns.clone(),
        "metadata.name" => rt.name.clone(),
        "metadata.uid" => rt.uid.clone(),
        "spec.nodeName" => NODE_NAME.into(),
        "spec.serviceAccountName" => s(pod, "/spec/serviceAccountName").into(),
        "status.podIP" => rt.ip.clone(),
        p => {
            if let Some(k) = p
                .strip_prefix("metadata.labels['")
                .and_then(|k| k.strip_suffix("']"))
            {
                return pod
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into();
            }
            String::new()
        }
    }
}

/// Materialise volumes, resolve env and rewrite args for container `i`.
pub(super) fn prepare(
    state: &State,
    store: &Store,
    rt: &mut PodRt,
    i: usize,
    pod: &Value,
) -> Result<Launch, Prep> {
    let mount_err = |volume: &str, message: String| Prep::Mount {
        volume: volume.into(),
        message,
    };
    mkdir_private(&rt.dir).map_err(|e| mount_err("", e.to_string()))?;
    let vol_root = rt.dir.join("volumes");
    // Mount paths of every container, longest first, for rewriting paths in args and files.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for c in arr(pod, "/spec/containers") {
        for m in arr(c, "/volumeMounts") {
            let mut host = vol_root.join(s(m, "/name"));
            let sub = s(m, "/subPath");
            if !sub.is_empty() {
                host = host.join(sub);
            }
            mounts.push((s(m, "/mountPath").trim_end_matches('/').to_string(), host));
        }
    }
    mounts.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    let rewrite_text = |text: &str| rewrite_paths(text, &mounts);
    let mut identity = false;
    for vol in arr(pod, "/spec/volumes") {
        let vname = s(vol, "/name");
        let dir = vol_root.join(vname);
        let _ = std::fs::remove_dir_all(&dir);
        mkdir_private(&dir).map_err(|e| mount_err(vname, e.to_string()))?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut source = |src: &Value, files: &mut Vec<(String, Vec<u8>)>| -> Result<(), Prep> {
            if let Some(cm) = src.get("configMap") {
                let n = s(cm, "/name");
                match get_obj(store, "configmaps", &rt.ns, n) {
                    Some(o) => files.extend(
                        project(object_data(o, false), arr(cm, "/items"), "configmap", n)
                            .map_err(|m| mount_err(vname, m))?,
                    ),
                    None if cm.get("optional") == Some(&json!(true)) => {}
                    None => return Err(mount_err(vname, format!("configmap \"{n}\" not found"))),
                }
            }
            if let Some(sec) = src.get("secret") {
                let n = match s(sec, "/secretName") {
                    "" => s(sec, "/name"),
                    x => x,
                };
                match get_obj(store, "secrets", &rt.ns, n) {
                    Some(o) => files.extend(
                        project(object_data(o, true), arr(sec, "/items"), "secret", n)
                            .map_err(|m| mount_err(vname, m))?,
                    ),
                    None if sec.get("optional") == Some(&json!(true)) => {}
                    None => return Err(mount_err(vname, format!("secret \"{n}\" not found"))),
                }
            }
            if let Some(t) = src.get("serviceAccountToken") {
                identity = true;
                let token = rt.sa_token.get_or_insert_with(|| {
                    let t = crate::authn::new_token();
                    let sa = match s(pod, "/spec/serviceAccountName") {
                        "" => "default",
                        x => x,
                    };
                    let user = crate::authn::UserInfo::new(
                        &format!("system:serviceaccount:{}:{sa}", rt.ns),
                        &[
                            "system:serviceaccounts",
                            &format!("system:serviceaccounts:{}", rt.ns),
                        ],
                    );
                    state.tokens.insert_issued(&t, user, None);
                    t
                });
                let path = match s(t, "/path") {
                    "" => "token",
                    p => p,
                };
                files.push((path.into(), token.as_bytes().to_vec()));
            }
            if let Some(d) = src.get("downwardAPI") {
                for it in arr(d, "/items") {
                    let v = field_ref(pod, rt, s(it, "/fieldRef/fieldPath"));
                    files.push((s(it, "/path").into(), v.into_bytes()));
                }
            }
            Ok(())
        };
        source(vol, &mut files)?;
        for src in arr(vol, "/projected/sources") {
            source(src, &mut files)?;
        }
        for (path, bytes) in files {
            if path.split('/').any(|seg| seg == "..") {
                continue;
            }
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(t) => rewrite_text(t).into_bytes(),
                Err(_) => bytes,
            };
            write_file(&dir.join(&path), &bytes).map_err(|e| mount_err(vname, e.to_string()))?;
        }
    }
    let home = rt.dir.join("home");
    mkdir_private(&home).map_err(|e| mount_err("", e.to_string()))?;
    let c = &rt.ctrs[i].spec;
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOSTNAME".into(), rt.name.clone()),
        ("HOME".into(), home.display().to_string()),
    ];
    for e in arr(c, "/env") {
        let name = s(e, "/name").to_string();
        let value = if let Some(v) = e.get("value").and_then(Value::as_str) {
            v.to_string()
        } else if let Some(f) = e
            .pointer("/valueFrom/fieldRef/fieldPath")
            .and_then(Value::as_str)
        {
            field_ref(pod, rt, f)
        } else if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
            let o = get_obj(store, "configmaps", &rt.ns, s(r, "/name"));
            match o.and_then(|o| o.pointer(&format!("/data/{}", s(r, "/key").replace('/', "~1")))) {
                Some(v) => v.as_str().unwrap_or("").to_string(),
                None if r.get("optional") == Some(&json!(true)) => continue,
                None => {
                    return Err(Prep::Config(format!(
                        "configmap \"{}\" not found",
                        s(r, "/name")
                    )));
                }
            }
        } else if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
            let o = get_obj(store, "secrets", &rt.ns, s(r, "/name"));
            let data = o.map(|o| object_data(o, true)).unwrap_or_default();
            match data.into_iter().find(|(k, _)| k == s(r, "/key")) {
                Some((_, v)) => String::from_utf8_lossy(&v).into_owned(),
                None if r.get("optional") == Some(&json!(true)) => continue,
                None => {
                    return Err(Prep::Config(format!(
                        "secret \"{}\" not found",
                        s(r, "/name")
                    )));
                }
            }
        } else {
            String::new()
        };
        env.push((name, value));
    }
    if identity {
        let sa = match s(pod, "/spec/serviceAccountName") {
            "" => "default",
            x => x,
        };
        let token = rt.sa_token.clone().unwrap_or_default();
        let kc = crate::kubeconfig::render(
            &state.api_url,
            &state.ca_pem,
            &[(format!("system:serviceaccount:{}:{sa}", rt.ns), token)],
            &rt.ns,
        );
        let path = rt.dir.join("kubeconfig");
        write_file(&path, kc.as_bytes()).map_err(|e| mount_err("", e.to_string()))?;
        env.push(("KUBECONFIG".into(), path.display().to_string()));
    }
    let rewrite_arg = |a: &str| -> String {
        let (prefix, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (format!("{f}="), v),
            _ => (String::new(), a),
        };
        for (m, host) in &mounts {
            if m.is_empty() {
                continue;
            }
            if value == m {
                return format!("{prefix}{}", host.display());
            }
            if let Some(rest) = value.strip_prefix(&format!("{m}/")) {
                return format!("{prefix}{}", host.join(rest).display());
            }
        }
        a.to_string()
    };
    let args: Vec<String> = match c.get("args").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(rewrite_arg)
            .collect(),
        None => Vec::new(),
    };
    let mut ports: Vec<u16> = arr(c, "/ports")
        .iter()
        .filter_map(|p| p.get("containerPort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .collect();
    if let Some(p) = listen_port(&args) {
        ports.push(p);
    }
    if ports.is_empty() {
        ports.push(8080);
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(Launch { args, env, ports })
}

/// Replace mount paths that start a path in `text` (after a quote, `=`, whitespace or the
/// start, and ending in `/`, a quote or the end) by their host directories, in one pass so a
/// replacement is never rewritten again. `mounts` is sorted longest first.
pub fn rewrite_paths(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    'outer: while i < text.len() {
        let starts_path = i == 0
            || matches!(
                bytes[i - 1],
                b'"' | b'\'' | b'=' | b' ' | b'\t' | b'\n' | b',' | b'['
            );
        if starts_path && bytes[i] == b'/' {
            for (m, host) in mounts {
                if m.is_empty() || !text[i..].starts_with(m.as_str()) {
                    continue;
                }
                let end = i + m.len();
                if end == text.len() || matches!(bytes[end], b'/' | b'"' | b'\'' | b'\n' | b' ') {
                    out.push_str(&host.display().to_string());
                    i = end;
                    continue 'outer;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The port the server would listen on: `--port`, else `port` in the `--config` file.
fn listen_port(args: &[String]) -> Option<u16> {
    let mut it = args.iter();
    let mut config = None;
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--port=") {
            return v.parse().ok();
        }
        if a == "--port" {
            return it.next().and_then(|v| v.parse().ok());
        }
        if let Some(v) = a.strip_prefix("--config=") {
            config = Some(v.to_string());
        } else if a == "--config" {
            config = it.next().cloned();
        }
    }
    let text = std::fs::read_to_string(config?).ok()?;
    let v: toml::Value = toml::from_str(&text).ok()?;
    match v.get("port")? {
        toml::Value::String(s) => s.parse().ok(),
        toml::Value::Integer(n) => u16::try_from(*n).ok(),
        _ => None,
    }
}
