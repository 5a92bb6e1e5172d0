//! Reading objects and classifying why a read failed (unreachable, unauthenticated,
//! forbidden, other) in the terms the report uses.

use kube::{Api, api::ListParams};
use oc_mcp_common::{Error, ExitCode, error::describe_chain};

use crate::report::FailureClass;

/// Why a read failed, in the terms the report uses.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub class: FailureClass,
    pub forbidden: bool,
    pub message: String,
    /// What to do next, from the common error's class (for a login or a connection).
    pub hint: Option<String>,
}

impl ReadError {
    /// A read that went through but found something wrong: an ordinary failed check.
    pub(crate) fn check(message: impl Into<String>) -> Self {
        Self {
            class: FailureClass::Check,
            forbidden: false,
            message: message.into(),
            hint: None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Classify a failed read once, as every plugin does ([`Error`] from the kube error); what
/// the API server answered, code included, stays the row's evidence.
pub(crate) fn read_error(what: &str, err: kube::Error) -> ReadError {
    let answer = match &err {
        kube::Error::Api(status) => Some(format!("{} ({})", status.message, status.code)),
        _ => None,
    };
    let error = Error::from(err);
    // A forbidden read is its own fact (the state is unknown), not a rejected login.
    let forbidden = matches!(error, Error::Forbidden { .. });
    let class = match error.exit_code() {
        ExitCode::Unreachable => FailureClass::Unreachable,
        ExitCode::Auth if !forbidden => FailureClass::Auth,
        _ => FailureClass::Check,
    };
    let message = match (answer, class) {
        (Some(answer), _) => format!("reading {what}: {answer}"),
        (None, FailureClass::Unreachable) => {
            let why =
                std::error::Error::source(&error).map_or_else(|| error.to_string(), describe_chain);
            format!("cannot reach the API server reading {what}: {why}")
        }
        (None, FailureClass::Auth) => {
            format!("kubeconfig credentials failed: {}", describe_chain(&error))
        }
        (None, FailureClass::Check) => format!("reading {what}: {}", describe_chain(&error)),
    };
    ReadError {
        class,
        forbidden,
        message,
        hint: error.hint(),
    }
}

/// `Ok(None)` on 404.
pub(crate) async fn get_opt<K>(api: &Api<K>, name: &str, what: &str) -> Result<Option<K>, ReadError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(obj) => Ok(obj),
        Err(e) => Err(read_error(&format!("{what} {name}"), e)),
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
        Err(e) => Err(read_error(what, e)),
    }
}
