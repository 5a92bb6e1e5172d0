//! What applying (or deleting) did to each object, and the error that ends a command whose
//! report did not succeed.

use std::{fmt, sync::Arc};

use serde::{Serialize, Serializer};

use super::qualified_name;
use crate::{
    error::{Error, Result},
    output::{OutputFormat, Tabular},
};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    /// Removed (uninstall, or pruned because the plan no longer contains it).
    Deleted,
    /// Not attempted because an earlier object failed.
    NotApplied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::NotApplied => "not applied",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ObjectError>,
}

impl ObjectResult {
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
        namespace: Option<String>,
        outcome: Outcome,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            namespace,
            outcome,
            error: None,
        }
    }

    /// Record why this object failed.
    pub fn fail(&mut self, error: Error) {
        self.outcome = Outcome::Failed;
        self.error = Some(error.into());
    }
}

/// Why one object failed: the error itself, so the command's exit code and hint come from its
/// class; shown and serialized as its message.
#[derive(Debug, Clone)]
pub struct ObjectError(Arc<Error>);

impl ObjectError {
    pub fn error(&self) -> &Error {
        &self.0
    }
}

impl From<Error> for ObjectError {
    fn from(error: Error) -> Self {
        Self(Arc::new(error))
    }
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ObjectError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// The report of applying a plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    pub dry_run: bool,
    pub objects: Vec<ObjectResult>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.objects
            .iter()
            .all(|o| !matches!(o.outcome, Outcome::Failed | Outcome::NotApplied))
    }

    pub fn changed(&self) -> bool {
        self.objects.iter().any(|o| {
            matches!(
                o.outcome,
                Outcome::Created | Outcome::Configured | Outcome::Deleted
            )
        })
    }

    /// The error that ends a command whose report did not succeed: exit 4 when the API server
    /// could not be reached (retries ran out), 3 when it refused, 1 otherwise. The message counts
    /// what was applied and what was not; the printed report names them.
    pub fn failure(&self) -> Error {
        let count = |wanted: &[Outcome]| {
            self.objects
                .iter()
                .filter(|o| wanted.contains(&o.outcome))
                .count()
        };
        let applied = count(&[
            Outcome::Created,
            Outcome::Configured,
            Outcome::Unchanged,
            Outcome::Deleted,
        ]);
        let failed = count(&[Outcome::Failed]);
        let not_applied = count(&[Outcome::NotApplied]);
        let summary = format!(
            "{applied} of {} objects applied, {failed} failed, {not_applied} not applied \
             (the report says which)",
            self.objects.len()
        );
        let first = self
            .objects
            .iter()
            .find(|o| o.outcome == Outcome::Failed)
            .and_then(|o| o.error.as_ref().map(|e| (o, e)));
        let Some((o, cause)) = first else {
            return Error::failed(summary);
        };
        let object = format!("{} {}", o.kind, o.name);
        match cause.error() {
            Error::Unreachable {
                what,
                transport,
                source,
            } => Error::Unreachable {
                what: what.clone(),
                transport: *transport,
                source: format!(
                    "{summary}; re-running converges once the API server answers. \
                     {object} failed: {}",
                    crate::error::describe_chain(source.as_ref())
                )
                .into(),
            },
            Error::Forbidden { .. } | Error::Unauthenticated { .. } => Error::Forbidden {
                message: format!("{summary}. {object}: {cause}"),
            },
            // A field-manager conflict keeps its own way out (take the fields over).
            error @ Error::Api(status) if status.code == 409 => Error::Failed {
                message: format!("{summary}. {object}: {cause}"),
                hint: error.hint(),
            },
            _ => Error::Failed {
                message: format!("{summary}. {object}: {cause}"),
                hint: Some(
                    "fix the cause named above and run the command again: it applies what is \
                     missing"
                        .into(),
                ),
            },
        }
    }

    /// Print the report: kubectl-style lines for people, the report itself for machines.
    pub fn print(&self, format: OutputFormat) -> Result<()> {
        use std::io::Write;
        if format.is_machine() {
            return crate::cli::emit(self, format);
        }
        let mut text = self.summary_lines().join("\n");
        text.push('\n');
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    }

    /// One line per object, kubectl style: `clusterrole.rbac.authorization.k8s.io/mcp-readonly created`.
    pub fn summary_lines(&self) -> Vec<String> {
        let suffix = if self.dry_run {
            " (server dry run)"
        } else {
            ""
        };
        self.objects
            .iter()
            .map(|o| {
                let qualified = qualified_name(&o.api_version, &o.kind, &o.name);
                let mut line = format!("{qualified} {}{suffix}", o.outcome.as_str());
                if let Some(err) = &o.error {
                    line.push_str(": ");
                    line.push_str(&err.to_string());
                }
                line
            })
            .collect()
    }
}

impl Tabular for ApplyReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        let mut h = vec!["KIND", "NAME", "NAMESPACE", "RESULT"];
        if wide {
            h.push("API VERSION");
        }
        h
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        self.objects
            .iter()
            .map(|o| {
                let mut row = vec![
                    o.kind.clone(),
                    o.name.clone(),
                    o.namespace.clone().unwrap_or_else(|| "-".into()),
                    match (&o.error, self.dry_run) {
                        (Some(e), _) => format!("{}: {e}", o.outcome.as_str()),
                        (None, true) => format!("{} (dry run)", o.outcome.as_str()),
                        (None, false) => o.outcome.as_str().into(),
                    },
                ];
                if wide {
                    row.push(o.api_version.clone());
                }
                row
            })
            .collect()
    }
}
