//! `--engine helm`: run the real helm 3 with the values overlay, keeping secrets off its
//! command line and the values file private.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use oc_mcp_common::{Error, KubeArgs, Result};
use tokio::process::Command;

use crate::plan::InstallPlan;

/// Find helm on PATH and make sure it is helm 3.
pub async fn find_helm() -> Result<(PathBuf, String)> {
    let helm = which::which("helm").map_err(|_| {
        Error::usage_with_hint(
            "--engine helm needs the helm binary, and none is on PATH",
            "install helm 3 (https://helm.sh/docs/intro/install/), or use --engine manifests",
        )
    })?;
    let out = Command::new(&helm)
        .args(["version", "--short"])
        .output()
        .await
        .map_err(|e| Error::io(format!("running {}", helm.display()), e))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !version.starts_with("v3.") {
        return Err(Error::usage_with_hint(
            format!("{} is not helm 3 (it says {version:?})", helm.display()),
            "install helm 3, or use --engine manifests",
        ));
    }
    Ok((helm, version))
}

/// The connection flags helm understands, from ours. A token or a UID cannot be passed
/// without putting it on helm's command line (`ps` shows it), so those are refused.
pub fn connection_args(kube: &KubeArgs, namespace: &str) -> Result<Vec<String>> {
    if kube.token.is_some() {
        return Err(Error::usage_with_hint(
            "--token cannot be handed to helm without showing it in the process list",
            "log in so the kubeconfig holds the token (`oc login`), or use --engine manifests",
        ));
    }
    if kube.as_uid.is_some() {
        return Err(Error::usage(
            "helm has no --as-uid; drop it or use --engine manifests",
        ));
    }
    let mut args = vec!["--namespace".to_owned(), namespace.to_owned()];
    let mut push = |flag: &str, value: Option<String>| {
        if let Some(value) = value {
            args.push(flag.to_owned());
            args.push(value);
        }
    };
    push(
        "--kubeconfig",
        kube.kubeconfig.as_ref().map(|p| p.display().to_string()),
    );
    push("--kube-context", kube.context.clone());
    push("--kube-as-user", kube.as_user.clone());
    push("--kube-apiserver", kube.server.clone());
    push(
        "--kube-ca-file",
        kube.certificate_authority
            .as_ref()
            .map(|p| p.display().to_string()),
    );
    push("--kube-tls-server-name", kube.tls_server_name.clone());
    for group in &kube.as_groups {
        args.push("--kube-as-group".to_owned());
        args.push(group.clone());
    }
    if kube.insecure_skip_tls_verify {
        args.push("--kube-insecure-skip-tls-verify".to_owned());
    }
    if kube.user.is_some() || kube.cluster.is_some() {
        return Err(Error::usage(
            "helm cannot select a kubeconfig --user or --cluster; use a context (--context) instead",
        ));
    }
    Ok(args)
}

/// A directory only the current user can read, removed when dropped.
fn private_dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("oc-mcp-install-")
        .tempdir()
        .map_err(|e| Error::io("creating a private temporary directory", e))?;
    set_mode(dir.path(), 0o700)?;
    Ok(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("restricting {}", path.display()), e))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<()> {
    Ok(())
}

/// `helm upgrade --install` with the overlay in a 0600 file that is removed afterwards.
pub async fn upgrade_install(
    helm: &Path,
    plan: &InstallPlan,
    values_yaml: &str,
    kube: &KubeArgs,
    server_dry_run: bool,
) -> Result<String> {
    let dir = private_dir()?;
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, values_yaml).map_err(|e| Error::io("writing the values overlay", e))?;
    set_mode(&values, 0o600)?;
    let mut args = vec![
        "upgrade".to_owned(),
        "--install".to_owned(),
        plan.release.clone(),
        plan.chart.clone(),
        "--values".to_owned(),
        values.display().to_string(),
    ];
    if let Some(version) = &plan.chart_version {
        args.push("--version".into());
        args.push(version.clone());
    }
    if server_dry_run {
        args.push("--dry-run=server".into());
    }
    args.extend(connection_args(kube, &plan.namespace)?);
    let out = run(helm, &args).await?;
    drop(dir);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if !out.status.success() {
        return Err(Error::Failed {
            message: format!("helm upgrade --install failed: {stderr}"),
            hint: Some(
                "read helm's message above; nothing else was changed by oc mcp-install after it"
                    .into(),
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run helm with `args` (no secret among them: [`connection_args`] refuses a token) and no
/// stdin.
async fn run(helm: &Path, args: &[String]) -> Result<std::process::Output> {
    tracing::info!("running {} {}", helm.display(), args.join(" "));
    Command::new(helm)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::io(format!("running {}", helm.display()), e))
}

/// `helm uninstall` of the release.
pub async fn uninstall(
    helm: &Path,
    release: &str,
    namespace: &str,
    kube: &KubeArgs,
    dry_run: bool,
) -> Result<()> {
    let mut args = vec!["uninstall".to_owned(), release.to_owned()];
    if dry_run {
        args.push("--dry-run".into());
    }
    args.extend(connection_args(kube, namespace)?);
    let out = run(helm, &args).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "helm uninstall failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oc_mcp_common::kube_args::Secret;

    #[test]
    fn kubectl_flags_map_to_helm_flags_and_secrets_are_refused() {
        let kube = KubeArgs {
            kubeconfig: Some("/home/u/.kube/config".into()),
            context: Some("aro".into()),
            as_user: Some("alice".into()),
            as_groups: vec!["g1".into(), "g2".into()],
            ..KubeArgs::default()
        };
        assert_eq!(
            connection_args(&kube, "mcp-server").expect("args"),
            [
                "--namespace",
                "mcp-server",
                "--kubeconfig",
                "/home/u/.kube/config",
                "--kube-context",
                "aro",
                "--kube-as-user",
                "alice",
                "--kube-as-group",
                "g1",
                "--kube-as-group",
                "g2"
            ]
        );
        let with_token = KubeArgs {
            token: Some(Secret::new("sha256~secret")),
            ..KubeArgs::default()
        };
        let err = connection_args(&with_token, "ns").expect_err("token refused");
        assert!(!err.to_string().contains("sha256~secret"));
        assert_eq!(err.exit_code().code(), 2);
    }
}
