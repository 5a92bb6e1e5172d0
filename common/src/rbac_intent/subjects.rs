//! Subjects that are not a real group of people.

use std::fmt;

use serde::Serialize;

/// A subject that is not a real group of people: binding the MCP role to it gives the role to
/// everyone, to anonymous requests, to machines, or to identities that hold everything already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VirtualSubject {
    /// `system:authenticated`: every identity that logged in, service accounts included.
    EveryAuthenticated,
    /// `system:unauthenticated`, `system:anonymous`: requests without credentials.
    Anonymous,
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>`: every service account (of a
    /// namespace), so every pod.
    ServiceAccounts,
    /// `system:masters`, `system:cluster-admins`: already hold everything; a binding there
    /// proves nothing and hides the intent.
    Administrators,
    /// A user named `system:serviceaccount:<ns>:<name>`: a service account spelled as a user.
    ServiceAccountAsUser,
    /// Any other `system:` name: identities of the platform's own components.
    System,
    /// `*`: RBAC has no wildcard subject; the name either matches nobody or, in a tool that
    /// treats it as a pattern, everybody.
    Wildcard,
}

impl VirtualSubject {
    /// What to do instead.
    pub fn hint(self) -> &'static str {
        match self {
            Self::ServiceAccountAsUser => {
                "bind the service account with --service-account NAMESPACE:NAME"
            }
            Self::Administrators => {
                "administrators need no MCP binding; bind the group of people who use the MCP server"
            }
            _ => {
                "bind the group of people who use the MCP server (an OpenShift group or the \
                 identity provider's group name), or --user NAME for one person"
            }
        }
    }
}

impl fmt::Display for VirtualSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EveryAuthenticated => {
                "it is every authenticated identity, every service account included"
            }
            Self::Anonymous => "it is every request without credentials (anonymous)",
            Self::ServiceAccounts => "it is every service account, so every pod that runs as one",
            Self::Administrators => {
                "it is the cluster administrators, who hold every right already"
            }
            Self::ServiceAccountAsUser => "it is a service account written as a user",
            Self::System => "it is an identity of the platform itself, not of people",
            Self::Wildcard => {
                "`*` is not a name RBAC matches as a pattern: it means everyone or nobody"
            }
        })
    }
}

/// Whether a subject (`Group`, `User` or `ServiceAccount`, as in RBAC) is virtual, and why.
/// Service accounts given as such are real subjects.
pub fn virtual_subject(kind: &str, name: &str) -> Option<VirtualSubject> {
    if kind == "ServiceAccount" {
        return None;
    }
    if name.trim() == "*" {
        return Some(VirtualSubject::Wildcard);
    }
    // RBAC compares names byte for byte, but a look-alike spelling of these names can only be
    // a mistake or a disguise: refuse it too.
    let lower = name.to_ascii_lowercase();
    match (kind, lower.as_str()) {
        (_, "system:authenticated") => Some(VirtualSubject::EveryAuthenticated),
        (_, "system:unauthenticated" | "system:anonymous") => Some(VirtualSubject::Anonymous),
        (_, "system:masters" | "system:cluster-admins") => Some(VirtualSubject::Administrators),
        (_, "system:serviceaccounts") => Some(VirtualSubject::ServiceAccounts),
        (_, n) if n.starts_with("system:serviceaccounts:") => Some(VirtualSubject::ServiceAccounts),
        ("User", n) if n.starts_with("system:serviceaccount:") => {
            Some(VirtualSubject::ServiceAccountAsUser)
        }
        (_, n) if n.starts_with("system:") => Some(VirtualSubject::System),
        _ => None,
    }
}
