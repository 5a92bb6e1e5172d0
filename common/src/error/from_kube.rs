//! A kube client error, sorted into the class a user can act on; the lower error stays the
//! source where there is one.

use super::{Error, describe_chain};

const API_SERVER: &str = "the Kubernetes API server";

impl From<kube::Error> for Error {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => match status.code {
                401 => Self::Unauthenticated {
                    message: status.message.clone(),
                },
                403 => Self::Forbidden {
                    message: status.message.clone(),
                },
                _ => Self::Api(status),
            },
            kube::Error::HyperError(e) => Self::unreachable(API_SERVER, e),
            kube::Error::Service(e) => Self::unreachable(API_SERVER, e),
            kube::Error::Auth(e) => Self::Unauthenticated {
                message: describe_chain(&e),
            },
            other => Self::Failed {
                message: describe_chain(&other),
                hint: None,
            },
        }
    }
}
