//! The cluster and namespace every command works in, and how long a request may take.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use oc_mcp_common::{Error, GlobalArgs, Result, defaults, names::validate_dns_label};

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
    // `-n` belongs to the shared kubectl flags, and the context may name the namespace too:
    // checked here, once, for every command.
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

/// The timeout of a request off the cluster (Microsoft Graph, an issuer): kubectl's
/// `--request-timeout`, else 30 seconds.
pub fn request_timeout(global: &GlobalArgs) -> Duration {
    global
        .kube
        .request_timeout
        .and_then(|t| t.0)
        .unwrap_or(Duration::from_secs(30))
}
