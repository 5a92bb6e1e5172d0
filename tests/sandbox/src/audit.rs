//! The audit log: one JSON line per request, so tests can prove what a command did and
//! did not do.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub timestamp: String,
    pub user: String,
    pub groups: Vec<String>,
    /// The authenticated user when the request impersonated someone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_by: Option<String>,
    pub method: String,
    pub request_uri: String,
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub code: u16,
    pub content_type: String,
    pub dry_run: bool,
    pub user_agent: String,
    /// The fault injected into this request, if any (see `faults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl AuditEntry {
    /// A request that changes the cluster (or would have, when refused or a dry run): any
    /// mutating method except access and token reviews, which are questions asked by POST.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
            && self.api_group != "authorization.k8s.io"
            && self.api_group != "authentication.k8s.io"
    }

    /// `METHOD /path?query`, for messages.
    pub fn summary(&self) -> String {
        format!("{} {}", self.method, self.request_uri)
    }
}

#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, e: &AuditEntry) {
        let Ok(line) = serde_json::to_string(e) else {
            return;
        };
        if let Ok(mut f) = self.file.lock() {
            // Losing an audit line must not fail the request; the test reading it will notice.
            let _ = writeln!(f, "{line}");
        }
    }

    /// Every entry written so far.
    pub fn read(&self) -> Vec<AuditEntry> {
        read_file(&self.path)
    }
}

pub fn read_file(path: &Path) -> Vec<AuditEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A small filter for tests: `entries.iter().filter(|e| q.matches(e))`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl AuditQuery {
    pub fn matches(&self, e: &AuditEntry) -> bool {
        let m = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        m(&self.user, &e.user)
            && m(&self.verb, &e.verb)
            && m(&self.resource, &e.resource)
            && m(&self.name, &e.name)
            && m(&self.namespace, &e.namespace)
    }
}
