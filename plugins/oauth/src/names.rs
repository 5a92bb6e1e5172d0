//! Names, the connection, and the namespace every command works in.

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use oc_mcp_common::{Error, GlobalArgs, Result, defaults};

/// The Secret key the server's drop-in config reads.
pub const SECRET_KEY: &str = defaults::OAUTH_SECRET_KEY;

/// A client and the namespace the command works in (`-n`, the context's, else `mcp-server`).
#[derive(Clone)]
pub struct Target {
    pub client: kube::Client,
    pub namespace: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Build the client from the kubectl flags; no request is made yet.
pub async fn connect(global: &GlobalArgs) -> Result<Target> {
    let connection = global.kube.connect(defaults::NAMESPACE).await?;
    validate_dns_label(&connection.namespace, "namespace")?;
    Ok(Target {
        client: connection.client,
        namespace: connection.namespace,
    })
}

/// Fail before any write when the namespace is missing (guide step 2 comes first).
/// Without permission to read namespaces the check is skipped: the writes will tell.
pub async fn require_namespace(target: &Target) -> Result<()> {
    let api: Api<Namespace> = Api::all(target.client.clone());
    match api.get_opt(&target.namespace).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Error::Failed {
            message: format!("namespace {} does not exist", target.namespace),
            hint: Some(format!(
                "create it first (guide step 2): `oc new-project {0}` or `oc mcp-install`, or pass -n NAMESPACE",
                target.namespace
            )),
        }),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Object names (DNS subdomains: OAuthClient, Secret, ConfigMap) and DNS labels (namespaces,
/// Helm releases): one implementation for every plugin.
pub use oc_mcp_common::names::{validate_dns_label, validate_object_name};

/// `--release` and `--secret-name`, shared by the commands that touch both.
#[derive(Debug, Clone, clap::Args)]
pub struct DeploymentArgs {
    /// The Helm release (and Service) of the MCP server: its Route gives the redirect host
    #[arg(long, default_value = defaults::RELEASE, value_name = "NAME")]
    pub release: String,

    /// The Secret that holds the client secret (key `sts_client_secret`)
    #[arg(long, default_value = defaults::OAUTH_SECRET, value_name = "NAME")]
    pub secret_name: String,
}

impl DeploymentArgs {
    pub fn validate(&self) -> Result<()> {
        validate_dns_label(&self.release, "--release")?;
        validate_object_name(&self.secret_name, "--secret-name")
    }
}

/// Write a short note for people on stderr (stdout carries only the result).
pub fn note(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(validate_object_name("kubernetes-mcp-server", "--name").is_ok());
        assert!(validate_object_name("a.b", "--name").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a b", "a/b"] {
            let err = validate_object_name(bad, "--name").expect_err(bad);
            assert_eq!(err.exit_code().code(), 2);
        }
        assert!(validate_dns_label("mcp-server", "namespace").is_ok());
        assert!(validate_dns_label("a.b", "namespace").is_err());
        assert!(validate_dns_label(&"a".repeat(64), "namespace").is_err());
    }
}
