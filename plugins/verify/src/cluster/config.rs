//! The server's config as the Deployment mounts it: the `--config` file and the
//! `--config-dir` drop-ins, followed from the container's args through its volumes.

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Secret},
};
use kube::{Api, Client, ResourceExt};
use oc_mcp_common::server_config::{ConfigText, ParsedConfig};

use super::{ClusterConfig, ReadError, get_opt, server_container};

/// `--config <path>` / `--config=<path>` and `--config-dir` from the container's args.
pub(super) fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == flag {
            return iter.next().cloned();
        }
        if let Some(v) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Where a file in the container comes from: (volume, key within it).
pub(super) fn volume_for<'a>(
    deployment: &'a Deployment,
    path: &str,
) -> Option<(&'a k8s_openapi::api::core::v1::Volume, String)> {
    let container = server_container(deployment)?;
    let pod_spec = deployment.spec.template.spec.as_ref()?;
    let mounts = container.volume_mounts.as_ref()?;
    // The longest mount path that contains the file.
    let mount = mounts
        .iter()
        .filter(|m| {
            let dir = m.mount_path.trim_end_matches('/');
            path == dir || path.starts_with(&format!("{dir}/"))
        })
        .max_by_key(|m| m.mount_path.len())?;
    let volume = pod_spec
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == mount.name)?;
    let rel = if let Some(sub) = &mount.sub_path {
        sub.clone()
    } else {
        path.trim_start_matches(mount.mount_path.trim_end_matches('/'))
            .trim_start_matches('/')
            .to_owned()
    };
    Some((volume, rel))
}

/// A ConfigMap or Secret volume's key for a file name (items may rename keys).
pub(super) fn key_for_file(
    items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>,
    file: &str,
) -> String {
    items
        .and_then(|items| items.iter().find(|i| i.path == file))
        .map_or_else(|| file.to_owned(), |i| i.key.clone())
}

pub(super) async fn read_config(
    client: &Client,
    ns: &str,
    deployment: &Deployment,
) -> Result<ClusterConfig, ReadError> {
    let args = server_container(deployment)
        .map(|c| {
            c.command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let main_path = flag_value(&args, "--config");
    let (cm_name, key) = match main_path.as_deref().and_then(|p| volume_for(deployment, p)) {
        Some((volume, rel)) => match &volume.config_map {
            Some(source) => (
                source.name.clone(),
                key_for_file(source.items.as_ref(), &rel),
            ),
            None => {
                return Err(ReadError::check(format!(
                    "--config {} is not mounted from a ConfigMap (volume {})",
                    main_path.as_deref().unwrap_or_default(),
                    volume.name
                )));
            }
        },
        None => (deployment.name_any(), "config.toml".to_owned()),
    };
    let cm = get_opt(&cms, &cm_name, "configmap").await?.ok_or_else(|| {
        ReadError::check(format!(
            "configmap {cm_name} (the server's --config) does not exist"
        ))
    })?;
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .cloned()
        .ok_or_else(|| ReadError::check(format!("configmap {cm_name} has no key {key}")))?;
    let mut drop_ins = Vec::new();
    let mut unread = Vec::new();
    if let Some(dir) = flag_value(&args, "--config-dir") {
        read_drop_ins(client, ns, deployment, &dir, &mut drop_ins, &mut unread).await;
    }
    Ok(ClusterConfig {
        source: format!("configmap/{cm_name} key {key}"),
        parsed: ParsedConfig::parse_files(&ConfigText::new(key.clone(), text), &drop_ins)
            .map_err(|e| e.to_string()),
        unread_drop_ins: unread,
    })
}

/// The `*.toml` files of the `--config-dir` volume (a ConfigMap or a Secret). Secret values
/// are only handed to the linter, which never prints values.
async fn read_drop_ins(
    client: &Client,
    ns: &str,
    deployment: &Deployment,
    dir: &str,
    out: &mut Vec<ConfigText>,
    unread: &mut Vec<String>,
) {
    let probe = format!("{}/x.toml", dir.trim_end_matches('/'));
    let Some((volume, _)) = volume_for(deployment, &probe) else {
        unread.push(format!("--config-dir {dir} is not a mounted volume"));
        return;
    };
    if let Some(source) = &volume.config_map {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        match get_opt(&cms, &source.name, "configmap").await {
            Ok(Some(cm)) => {
                for (key, text) in cm.data.unwrap_or_default() {
                    out.push(ConfigText::new(key, text));
                }
            }
            Ok(None) => unread.push(format!("configmap/{} does not exist", source.name)),
            Err(e) => unread.push(e.message),
        }
    } else if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        match get_opt(&secrets, &name, "secret").await {
            Ok(Some(secret)) => {
                for (key, value) in secret.data.unwrap_or_default() {
                    if let Ok(text) = String::from_utf8(value.0) {
                        out.push(ConfigText::new(key, text));
                    }
                }
                for (key, text) in secret.string_data.unwrap_or_default() {
                    out.push(ConfigText::new(key, text));
                }
            }
            Ok(None) => unread.push(format!("secret/{name} does not exist")),
            Err(e) => unread.push(e.message),
        }
    } else {
        unread.push(format!(
            "--config-dir {dir}: volume {} is neither a ConfigMap nor a Secret",
            volume.name
        ));
    }
}
