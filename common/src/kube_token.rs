//! The kubeconfig user's bearer token, as `oc whoami -t` prints it: whatever kube's own auth
//! layer would send for the selected user, with token files read and exec credential plugins
//! run. The layer is applied to a request that goes nowhere, and the header is read off it.

use crate::{
    error::{Error, Result, describe_chain},
    kube_args::Secret,
};
use kube::client::ConfigExt as _;
use tower::{Layer as _, ServiceExt as _};

/// The token, or `Ok(None)` when the user authenticates without one (a client certificate,
/// basic auth, nothing).
pub async fn bearer_token(config: &kube::Config) -> Result<Option<Secret>> {
    // kube's auth layer panics on a static token that is no header value: refuse it first.
    crate::kube_args::check_auth_info(
        &config.auth_info,
        &crate::kube_args::CredentialOwner::Unknown,
    )?;
    let layer = config.auth_layer().map_err(|e| Error::Kubeconfig {
        message: format!(
            "cannot use the kubeconfig user's credentials: {}",
            describe_chain(&e)
        ),
        hint: Some("log in again (`oc login`), then retry".into()),
    })?;
    let Some(layer) = layer else {
        return Ok(None);
    };
    let capture = tower::service_fn(|request: http::Request<kube::client::Body>| async move {
        // The auth layer wants an HTTP response back; the header travels in its body.
        Ok::<_, tower::BoxError>(http::Response::new(
            request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    });
    let request = http::Request::get("/")
        .body(kube::client::Body::empty())
        .map_err(|e| Error::failed(format!("cannot build a request: {e}")))?;
    let header = layer
        .layer(capture)
        .oneshot(request)
        .await
        .map(http::Response::into_body)
        .map_err(|e| Error::Unauthenticated {
            message: format!(
                "the kubeconfig user's credential plugin or token file failed: {}",
                describe_chain(e.as_ref())
            ),
        })?;
    Ok(header
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Secret::new))
}
