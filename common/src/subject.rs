//! RBAC subjects (groups, users, service accounts): the flags' grammar, parsed once into
//! typed values, and the deterministic names of the bindings made for them.
//!
//! Grammar only: whether a subject may be bound (`system:authenticated` and the like) is a
//! policy decision, made on the typed value by `rbac_intent::virtual_subject`.

use std::{fmt, str::FromStr};

use k8s_openapi::api::rbac::v1::Subject as RbacSubject;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::names::{self, InvalidValue, MAX_SUBDOMAIN};

/// Who a ClusterRoleBinding names. Built from the flags' types below, or read back from
/// bindings in the cluster (whatever names they hold).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "PascalCase")]
pub enum Subject {
    Group { name: String },
    User { name: String },
    ServiceAccount { namespace: String, name: String },
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Group { .. } => "Group",
            Self::User { .. } => "User",
            Self::ServiceAccount { .. } => "ServiceAccount",
        }
    }

    /// The name as RBAC shows it (`ns:name` for service accounts).
    pub fn display_name(&self) -> String {
        match self {
            Self::Group { name } | Self::User { name } => name.clone(),
            Self::ServiceAccount { namespace, name } => format!("{namespace}:{name}"),
        }
    }

    pub fn to_rbac(&self) -> RbacSubject {
        match self {
            Self::Group { name } => RbacSubject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Group".into(),
                name: name.clone(),
                namespace: None,
            },
            Self::User { name } => RbacSubject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "User".into(),
                name: name.clone(),
                namespace: None,
            },
            Self::ServiceAccount { namespace, name } => RbacSubject {
                api_group: Some(String::new()),
                kind: "ServiceAccount".into(),
                name: name.clone(),
                namespace: Some(namespace.clone()),
            },
        }
    }

    pub fn from_rbac(subject: &RbacSubject) -> Option<Self> {
        match subject.kind.as_str() {
            "Group" => Some(Self::Group {
                name: subject.name.clone(),
            }),
            "User" => Some(Self::User {
                name: subject.name.clone(),
            }),
            "ServiceAccount" => Some(Self::ServiceAccount {
                namespace: subject.namespace.clone().unwrap_or_default(),
                name: subject.name.clone(),
            }),
            _ => None,
        }
    }

    /// The user name and groups a SubjectAccessReview uses to ask on this subject's behalf.
    pub fn review_identity(&self) -> (Option<String>, Vec<String>) {
        match self {
            Self::Group { name } => (None, vec![name.clone(), "system:authenticated".into()]),
            Self::User { name } => (Some(name.clone()), vec!["system:authenticated".into()]),
            Self::ServiceAccount { namespace, name } => (
                Some(format!("system:serviceaccount:{namespace}:{name}")),
                vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{namespace}"),
                    "system:authenticated".into(),
                ],
            ),
        }
    }

    /// The ClusterRoleBinding this plugin makes for the subject: `<role>-<kind>-<slug>`, with a
    /// hash suffix whenever the slug had to change the name (capitals, spaces, symbols).
    pub fn binding_name(&self, role: &str) -> String {
        let kind = match self {
            Self::Group { .. } => "group",
            Self::User { .. } => "user",
            Self::ServiceAccount { .. } => "sa",
        };
        let raw = self.display_name();
        let slug = slugify(&raw);
        // 253 is the object name limit; keep room for the prefix and a hash.
        let max_slug = 253usize
            .saturating_sub(role.len() + kind.len() + 2 + 9)
            .min(200);
        let mut slug_cut: String = slug.chars().take(max_slug).collect();
        slug_cut = slug_cut.trim_end_matches(['-', '.']).to_owned();
        let lossy = slug_cut != raw;
        let mut name = format!("{role}-{kind}-{slug_cut}");
        if lossy || slug_cut.is_empty() {
            let hash = format!("{:x}", Sha256::digest(raw.as_bytes()));
            if slug_cut.is_empty() {
                name = format!("{role}-{kind}-{}", &hash[..8]);
            } else {
                name.push('-');
                name.push_str(&hash[..8]);
            }
        }
        if name.len() > MAX_SUBDOMAIN {
            // Only a role name near the limit gets here: cut it, and keep the names of
            // different roles and subjects apart with a hash of all three.
            let hash = format!(
                "{:x}",
                Sha256::digest(format!("{role}\n{kind}\n{raw}").as_bytes())
            );
            let head = name[..MAX_SUBDOMAIN - 9].trim_end_matches(['-', '.']);
            name = format!("{head}-{}", &hash[..8]);
        }
        name
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.display_name())
    }
}

/// Lower-case, keep `[a-z0-9]`; a lone `.` between two kept characters stays, every other run
/// of anything else becomes one `-`. Each dot-separated part then starts and ends with a letter
/// or digit, as a DNS-1123 subdomain needs (`a..b` or `a.-b` would be refused by the API server).
fn slugify(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    // The separators seen since the last kept character.
    let mut pending = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if !out.is_empty() && !pending.is_empty() {
                out.push(if pending == "." { '.' } else { '-' });
            }
            pending.clear();
            out.push(c);
        } else {
            pending.push(c);
        }
    }
    out
}

const EXACT_NAME_FIX: &str =
    "pass the group or user name exactly as the identity provider reports it";
const SPACES_FIX: &str = "RBAC compares names byte for byte: pass the exact name";
const SERVICE_ACCOUNT_FIX: &str =
    "write it as NAMESPACE:NAME, e.g. --service-account mcp-server:kubernetes-mcp-server";

/// A group or user name as RBAC compares it: not empty, no leading or trailing spaces, no
/// control characters. `what` names the flag in the refusal.
fn exact_name(text: &str, what: &str) -> Result<String, InvalidValue> {
    if text.trim().is_empty() {
        return Err(InvalidValue {
            reason: format!("an empty {what} name was given"),
            fix: EXACT_NAME_FIX,
        });
    }
    if text.trim() != text || text.chars().any(char::is_control) {
        return Err(InvalidValue {
            reason: format!(
                "{what} name {text:?} has leading/trailing spaces or control characters"
            ),
            fix: SPACES_FIX,
        });
    }
    Ok(text.to_owned())
}

/// Declares a name given on the command line that RBAC compares byte for byte; `$what`
/// names it in a refusal.
macro_rules! exact_name_flag {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                exact_name(text, $what).map(Self)
            }
        }
    };
}

exact_name_flag!(
    /// A group name given on the command line (`bind GROUP`, `check --group GROUP`).
    GroupName,
    "group"
);

exact_name_flag!(
    /// A user name given with `--user`.
    UserName,
    "--user"
);

/// A service account given with `--service-account` as `NAMESPACE:NAME`: a DNS-1123 label,
/// then a DNS-1123 subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountName {
    namespace: String,
    name: String,
}

impl FromStr for ServiceAccountName {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let Some((namespace, name)) = text.split_once(':') else {
            return Err(InvalidValue {
                reason: format!("--service-account {text:?} has no namespace"),
                fix: SERVICE_ACCOUNT_FIX,
            });
        };
        if !names::is_dns1123_label(namespace) || !names::is_dns1123_subdomain(name) {
            return Err(InvalidValue {
                reason: format!("--service-account {text:?} is not a valid NAMESPACE:NAME"),
                fix: SERVICE_ACCOUNT_FIX,
            });
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl From<GroupName> for Subject {
    fn from(GroupName(name): GroupName) -> Self {
        Self::Group { name }
    }
}

impl From<UserName> for Subject {
    fn from(UserName(name): UserName) -> Self {
        Self::User { name }
    }
}

impl From<ServiceAccountName> for Subject {
    fn from(ServiceAccountName { namespace, name }: ServiceAccountName) -> Self {
        Self::ServiceAccount { namespace, name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> Subject {
        Subject::Group { name: name.into() }
    }

    #[test]
    fn binding_names_are_valid_and_deterministic() {
        assert_eq!(
            group("mcp-users").binding_name("mcp-readonly"),
            "mcp-readonly-group-mcp-users"
        );
        // An Entra group object ID is already a valid name.
        assert_eq!(
            group("3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b").binding_name("mcp-readonly"),
            "mcp-readonly-group-3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b"
        );
        let spaced = group("MCP Users").binding_name("mcp-readonly");
        assert!(
            spaced.starts_with("mcp-readonly-group-mcp-users-"),
            "{spaced}"
        );
        assert_eq!(spaced, group("MCP Users").binding_name("mcp-readonly"));
        // Names that slug the same still get different bindings.
        assert_ne!(spaced, group("mcp users").binding_name("mcp-readonly"));
        assert_ne!(spaced, group("mcp-users").binding_name("mcp-readonly"));
        let symbols = group("!!!").binding_name("mcp-readonly");
        assert!(
            symbols.starts_with("mcp-readonly-group-") && symbols.len() == 27,
            "{symbols}"
        );
        let long = group(&"x".repeat(400)).binding_name("mcp-readonly");
        assert!(long.len() <= 253, "{}", long.len());
        let sa = Subject::ServiceAccount {
            namespace: "mcp-server".into(),
            name: "bot".into(),
        };
        assert!(
            sa.binding_name("mcp-readonly")
                .starts_with("mcp-readonly-sa-mcp-server-bot-")
        );
        for name in [spaced, symbols, long] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
                "{name}"
            );
        }
    }

    /// Found by tests/props.rs: dots next to dashes or dots, and roles near the 253 limit,
    /// made names the API server refuses.
    #[test]
    fn binding_names_stay_valid_around_dots_and_long_roles() {
        use crate::names::is_dns1123_subdomain;
        let sa = Subject::ServiceAccount {
            namespace: "-".into(),
            name: "0-.a".into(),
        };
        let odd = [
            sa.binding_name("a"),
            group("a..b").binding_name("r"),
            group("a.-b").binding_name("r"),
            group(".x.").binding_name("r"),
        ];
        for name in &odd {
            assert!(is_dns1123_subdomain(name), "{name}");
        }
        assert!(odd[1].starts_with("r-group-a-b-"), "{}", odd[1]);
        let role = format!("{}.{}", "r".repeat(126), "s".repeat(120));
        let long = group("mcp-users").binding_name(&role);
        assert!(is_dns1123_subdomain(&long), "{long}");
        assert_ne!(long, group("mcp-admins").binding_name(&role));
    }

    #[test]
    fn flags_parse_into_subjects_or_say_why_not() {
        let parsed: Vec<Subject> = vec![
            "mcp-users".parse::<GroupName>().expect("group").into(),
            "auditor@example.com"
                .parse::<UserName>()
                .expect("user")
                .into(),
            "ns:sa".parse::<ServiceAccountName>().expect("sa").into(),
        ];
        assert_eq!(
            parsed,
            [
                group("mcp-users"),
                Subject::User {
                    name: "auditor@example.com".into()
                },
                Subject::ServiceAccount {
                    namespace: "ns".into(),
                    name: "sa".into()
                },
            ]
        );
        let refusals = [
            (
                "".parse::<GroupName>().err(),
                "an empty group name was given",
            ),
            (
                " ".parse::<UserName>().err(),
                "an empty --user name was given",
            ),
            (" g".parse::<GroupName>().err(), "leading/trailing"),
            ("a\tb".parse::<UserName>().err(), "control characters"),
            (
                "robot".parse::<ServiceAccountName>().err(),
                "has no namespace",
            ),
            (":robot".parse::<ServiceAccountName>().err(), "not a valid"),
            (
                "NS:robot".parse::<ServiceAccountName>().err(),
                "not a valid",
            ),
            ("ns:".parse::<ServiceAccountName>().err(), "not a valid"),
        ];
        for (err, expected) in refusals {
            let err = err.expect(expected).to_string();
            assert!(err.contains(expected), "{err} !~ {expected}");
        }
    }
}
