//! One error type for every plugin, mapped onto the documented exit codes.
//!
//! Libraries return [`Error`]; the binary edge ([`crate::cli::run`]) prints it once, as text or
//! as one JSON object on stderr, and exits with [`Error::exit_code`]. The exit code and the
//! hint are decided by a `match` on the variant and its typed parts (a [`Transport`] kind read
//! from the source chain, a Kubernetes `Status`), never by reading an error's text.

mod from_kube;
mod transport;

use std::fmt;

pub use transport::{CertificateProblem, Transport};

/// A lower layer's error, kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

use serde::Serialize;

/// The exit codes the README documents, shared by all plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitCode {
    /// Everything worked.
    Ok,
    /// A check failed or an operation failed.
    Failed,
    /// Usage error or invalid input; nothing was changed.
    Usage,
    /// Not authenticated, or forbidden.
    Auth,
    /// The cluster or an endpoint could not be reached.
    Unreachable,
}

impl ExitCode {
    pub const fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Auth => 3,
            Self::Unreachable => 4,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code.code())
    }
}

/// A permission the caller lacks, as a SelfSubjectAccessReview would phrase it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingPermission {
    pub verb: String,
    pub resource: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Set when the permission is on one object (`bind` on one ClusterRole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl fmt::Display for MissingPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resource = if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        write!(f, "{} {resource}", self.verb)?;
        if let Some(name) = &self.name {
            write!(f, " named {name}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => write!(f, " (cluster-wide)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot work; the message says what and how to fix it.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    /// No source on purpose: kubeconfig parsers quote the offending line, and in a kubeconfig
    /// that line is often a token or a key; the message keeps the position and kind only.
    #[error("cannot use kubeconfig: {message}")]
    Kubeconfig {
        message: String,
        hint: Option<String>,
    },

    #[error("not authenticated: {message}")]
    Unauthenticated { message: String },

    #[error("forbidden: {message}")]
    Forbidden { message: String },

    #[error("missing permissions: {}", list_permissions(.missing))]
    MissingPermissions {
        user: String,
        missing: Vec<MissingPermission>,
    },

    #[error("cannot reach {what}: {}", describe_chain(source.as_ref()))]
    Unreachable {
        what: String,
        /// Why, read once from `source`'s types.
        transport: Transport,
        #[source]
        source: BoxError,
    },

    /// A check or an operation failed; the report already says which.
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },

    #[error("the API server rejected the request: {0}")]
    Api(Box<kube::core::Status>),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn list_permissions(missing: &[MissingPermission]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

const RERUN_HINT: &str =
    "fix the cause named above and run the command again: it finishes what is left";

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed {
            message: message.into(),
            hint: None,
        }
    }

    /// `what` could not be reached; why is read from `source`'s types (text-only sources are
    /// connection failures).
    pub fn unreachable(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self::Unreachable {
            what: what.into(),
            transport: Transport::of(source.as_ref()),
            source,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The same error, with `scrub` applied to every text it carries (a secret a request body
    /// echoed into an API error): the class, so the exit code and the hint, stay its own.
    #[must_use]
    pub fn redacted(&self, scrub: &dyn Fn(&str) -> String) -> Self {
        let opt = |text: &Option<String>| text.as_deref().map(scrub);
        match self {
            Self::Usage { message, hint } => Self::Usage {
                message: scrub(message),
                hint: opt(hint),
            },
            Self::Kubeconfig { message, hint } => Self::Kubeconfig {
                message: scrub(message),
                hint: opt(hint),
            },
            Self::Unauthenticated { message } => Self::Unauthenticated {
                message: scrub(message),
            },
            Self::Forbidden { message } => Self::Forbidden {
                message: scrub(message),
            },
            Self::MissingPermissions { user, missing } => Self::MissingPermissions {
                user: scrub(user),
                missing: missing.clone(),
            },
            Self::Unreachable {
                what,
                transport,
                source,
            } => Self::Unreachable {
                what: scrub(what),
                transport: *transport,
                source: scrub(&describe_chain(source.as_ref())).into(),
            },
            Self::Failed { message, hint } => Self::Failed {
                message: scrub(message),
                hint: opt(hint),
            },
            Self::Api(status) => {
                let mut status = status.clone();
                status.message = scrub(&status.message);
                status.reason = scrub(&status.reason);
                status.details = None;
                Self::Api(status)
            }
            Self::Io { context, source } => Self::Io {
                context: scrub(context),
                source: std::io::Error::new(source.kind(), scrub(&source.to_string())),
            },
        }
    }

    /// This error, met after part of a change was made: `done` (what was and was not done)
    /// leads the message; the class, so the exit code and the hint, stay the error's own.
    #[must_use]
    pub fn after_partial_change(self, done: &str) -> Self {
        match self {
            // The kind, so the hint, is kept; the text leads with what was done.
            Self::Unreachable {
                what,
                transport,
                source,
            } => Self::Unreachable {
                what,
                transport,
                source: format!(
                    "{done}; re-running finishes it once the server answers: {}",
                    describe_chain(source.as_ref())
                )
                .into(),
            },
            Self::Unauthenticated { message } => Self::Unauthenticated {
                message: format!("{done}: {message}"),
            },
            Self::Forbidden { message } => Self::Forbidden {
                message: format!("{done}: {message}"),
            },
            // These keep their own exit code and hint (`--force` for a conflict).
            Self::Api(mut status) if matches!(status.code, 400 | 409 | 422) => {
                status.message = format!("{done}: {}", status.message);
                Self::Api(status)
            }
            api @ Self::Api(_) => Self::Failed {
                message: format!("{done}: {api}"),
                hint: Some(RERUN_HINT.into()),
            },
            Self::Failed { message, hint } => Self::Failed {
                message: format!("{done}: {message}"),
                hint: hint.or_else(|| Some(RERUN_HINT.into())),
            },
            io @ Self::Io { .. } => Self::Failed {
                message: format!("{done}: {io}"),
                hint: Some(RERUN_HINT.into()),
            },
            // Input and permission errors are found before the first write.
            before_any_write => before_any_write,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage { .. } | Self::Kubeconfig { .. } => ExitCode::Usage,
            Self::Unauthenticated { .. }
            | Self::Forbidden { .. }
            | Self::MissingPermissions { .. } => ExitCode::Auth,
            Self::Unreachable { .. } => ExitCode::Unreachable,
            Self::Api(status) => match status.code {
                401 | 403 => ExitCode::Auth,
                400 | 422 => ExitCode::Usage,
                _ => ExitCode::Failed,
            },
            Self::Failed { .. } | Self::Io { .. } => ExitCode::Failed,
        }
    }

    /// What the user should do next.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Usage { hint, .. } | Self::Kubeconfig { hint, .. } | Self::Failed { hint, .. } => {
                hint.clone()
            }
            Self::Unauthenticated { .. } => Some(
                "log in again (`oc login` or refresh your kubeconfig credentials) and retry".into(),
            ),
            Self::Forbidden { .. } => {
                Some("ask a cluster administrator for the permission, or run as a user who has it".into())
            }
            Self::MissingPermissions { user, .. } => Some(format!(
                "user {user:?} needs every permission listed; nothing was changed. \
                 Run as a cluster administrator or grant them"
            )),
            Self::Unreachable { transport, .. } => Some(transport.hint().into()),
            Self::Api(status) if status.code == 409 && status.reason == "AlreadyExists" => {
                Some("it was created meanwhile, by someone else or another run: re-run to converge".into())
            }
            Self::Api(status) if status.code == 409 => Some(
                "another writer owns these fields; inspect the object, then re-run with --force to take them over".into(),
            ),
            Self::Api(_) | Self::Io { .. } => None,
        }
    }
}

/// Join an error and its sources into one line: `outer: inner: innermost`.
pub fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// The JSON shape of an error on stderr when `-o json` is in effect.
#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub exit_code: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<MissingPermission>,
}

impl From<&Error> for ErrorReport {
    fn from(err: &Error) -> Self {
        Self {
            error: err.to_string(),
            hint: err.hint(),
            exit_code: err.exit_code().code(),
            missing_permissions: match err {
                Error::MissingPermissions { missing, .. } => missing.clone(),
                _ => Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
