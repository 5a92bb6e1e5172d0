//! Reading objects and classifying why a read failed (unreachable, unauthenticated,
//! forbidden, other) in the terms the report uses.

use kube::{Api, api::ListParams};
use oc_mcp_common::error::describe_chain;

use crate::report::FailureClass;

/// Why a read failed, in the terms the report uses.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub class: FailureClass,
    pub forbidden: bool,
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) fn read_error(what: &str, err: &kube::Error) -> ReadError {
    match err {
        kube::Error::Api(status) => ReadError {
            class: if status.code == 401 {
                FailureClass::Auth
            } else {
                FailureClass::Check
            },
            forbidden: status.code == 403,
            message: format!("reading {what}: {} ({})", status.message, status.code),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => ReadError {
            class: FailureClass::Unreachable,
            forbidden: false,
            message: format!(
                "cannot reach the API server reading {what}: {}",
                describe_chain(err)
            ),
        },
        kube::Error::Auth(_) => ReadError {
            class: FailureClass::Auth,
            forbidden: false,
            message: format!("kubeconfig credentials failed: {}", describe_chain(err)),
        },
        other => ReadError {
            class: FailureClass::Check,
            forbidden: false,
            message: format!("reading {what}: {}", describe_chain(other)),
        },
    }
}

/// `Ok(None)` on 404.
pub(crate) async fn get_opt<K>(api: &Api<K>, name: &str, what: &str) -> Result<Option<K>, ReadError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(obj) => Ok(obj),
        Err(e) => Err(read_error(&format!("{what} {name}"), &e)),
    }
}

/// A list; 404 (the API does not exist here) is an empty list with `absent = true`.
pub(crate) async fn list<K>(
    api: &Api<K>,
    params: &ListParams,
    what: &str,
) -> Result<(Vec<K>, bool), ReadError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(params).await {
        Ok(list) => Ok((list.items, false)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok((Vec::new(), true)),
        Err(e) => Err(read_error(what, &e)),
    }
}
