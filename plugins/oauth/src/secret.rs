//! The client secret: generated with the OS CSPRNG, stored in the Secret
//! `mcp-oauth-credentials` (key `sts_client_secret`), and `secret set` for a secret made
//! elsewhere (the Entra portal). Values never reach argv, stdout, logs or error messages.

use std::{collections::BTreeMap, path::PathBuf};

use base64::Engine;
use k8s_openapi::{ByteString, api::core::v1::Secret as KubeSecret};
use kube::{Api, ResourceExt, api::ObjectMeta};
use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, Plan, PlannedObject, Result, cli, defaults,
    kube_args::Secret,
    openshift::{self, OAuthClient},
    preflight::require_permissions,
    secret_input::{SecretSource, read_secret},
};
use rand::TryRngCore;

use crate::{
    apply,
    names::{ObjectName, SECRET_KEY},
    target::{self, Target},
};

/// Random bytes in a generated client secret (the issue asks for at least 32).
pub const SECRET_BYTES: usize = 48;

/// Annotation on the Secret naming the OAuth client the value belongs to (not secret).
pub const CLIENT_ANNOTATION: &str = "oc-mcp.io/oauth-client";

/// A new client secret: 48 bytes from the operating system's CSPRNG, URL-safe base64 (64
/// characters, no padding).
pub fn generate() -> Result<Secret> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        Error::failed(format!(
            "the operating system's random generator failed: {e}"
        ))
    })?;
    Ok(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// The Secret object holding `value` under `sts_client_secret`.
pub fn secret_object(
    namespace: &str,
    name: &str,
    value: &Secret,
    client: Option<&str>,
) -> KubeSecret {
    KubeSecret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            annotations: client
                .map(|c| BTreeMap::from([(CLIENT_ANNOTATION.to_owned(), c.to_owned())])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            SECRET_KEY.to_owned(),
            ByteString(value.expose().as_bytes().to_vec()),
        )])),
        ..KubeSecret::default()
    }
}

/// What is in the Secret now.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub object: KubeSecret,
    /// The value under `sts_client_secret`, when present, non-empty and UTF-8.
    pub value: Option<Secret>,
}

/// Read the Secret (`None` when it does not exist).
pub async fn read_stored(target: &Target, name: &str) -> Result<Option<StoredSecret>> {
    let api: Api<KubeSecret> = Api::namespaced(target.client.clone(), &target.namespace);
    Ok(api.get_opt(name).await?.map(|object| {
        let value = object
            .data
            .as_ref()
            .and_then(|d| d.get(SECRET_KEY))
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        StoredSecret { object, value }
    }))
}

/// The planned Secret; field ownership is always taken over: the Secret exists for this value
/// only, and the guide's `oc create secret generic` leaves it owned by kubectl.
pub fn planned_secret(
    target: &Target,
    name: &str,
    value: &Secret,
    client: Option<&str>,
) -> Result<PlannedObject> {
    Ok(
        PlannedObject::from_typed(&secret_object(&target.namespace, name, value, client))?
            .with_force(true),
    )
}

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").multiple(false)))]
pub struct SetArgs {
    /// Read the secret from standard input (one trailing line break is dropped)
    #[arg(long, group = "source")]
    pub from_stdin: bool,

    /// Read the secret from this environment variable (give its name, not its value)
    #[arg(long, group = "source", value_name = "VAR")]
    pub from_env: Option<String>,

    /// Read the secret from this file
    #[arg(long, group = "source", value_name = "PATH")]
    pub from_file: Option<PathBuf>,

    /// The Secret to write (key `sts_client_secret`)
    #[arg(long, default_value = defaults::OAUTH_SECRET, value_name = "NAME")]
    pub secret_name: ObjectName,

    /// The OpenShift OAuthClient whose secret this should match (checked, never changed)
    #[arg(long, default_value = defaults::OAUTH_CLIENT, value_name = "NAME")]
    pub oauth_client: ObjectName,
}

/// `oc mcp-oauth secret set`
pub async fn run_set(global: &GlobalArgs, args: &SetArgs) -> Result<ExitCode> {
    let source = SecretSource::from_flags(
        args.from_stdin,
        args.from_env.as_deref(),
        args.from_file.as_deref(),
    );
    let value = read_secret(&source, "client secret")?;
    let target = target::connect(global).await?;
    let planned = planned_secret(&target, &args.secret_name, &value, None)?;
    let mut plan = Plan::new();
    plan.push(planned);
    if global.change.dry_run != DryRun::Client {
        require_permissions(&target.client, &plan.required_permissions()).await?;
    }
    target::require_namespace(&target).await?;
    if let Some(warning) = mismatch_warning(&target, &args.oauth_client, &value).await {
        cli::warn(&warning);
    }
    apply::execute(&target.client, &plan, global, &[&value]).await
}

/// Warn when an OpenShift OAuthClient of ours holds a different secret: the server's copy
/// would then not authenticate. Best effort: without OpenShift OAuth or permission, silent.
async fn mismatch_warning(target: &Target, client_name: &str, value: &Secret) -> Option<String> {
    let flavor = openshift::detect(&target.client).await.ok()?;
    if !flavor.openshift_oauth {
        return None;
    }
    let api: Api<OAuthClient> = Api::all(target.client.clone());
    let client = api.get_opt(client_name).await.ok()??;
    let known = client.secret.as_deref() == Some(value.expose())
        || client
            .additional_secrets
            .iter()
            .any(|s| s == value.expose());
    (!known).then(|| {
        format!(
            "OAuthClient {} ({}) has a different secret: OpenShift will reject this one; \
             for an OpenShift OAuthClient use `oc mcp-oauth register openshift` or `rotate` instead",
            client.name_any(),
            if apply::is_ours(&client.metadata) { "made by oc-mcp" } else { "not made by oc-mcp" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_url_safe_and_distinct() {
        let a = generate().expect("a");
        let b = generate().expect("b");
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b);
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(a.expose())
            .expect("url-safe base64");
        assert_eq!(decoded.len(), SECRET_BYTES);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn the_secret_object_holds_the_value_under_the_servers_key() {
        let value = Secret::new("v");
        let object = secret_object("mcp-server", "mcp-oauth-credentials", &value, Some("c"));
        assert_eq!(
            object.data.expect("data")["sts_client_secret"].0,
            b"v".to_vec()
        );
        assert_eq!(object.type_.as_deref(), Some("Opaque"));
    }
}
