//! Subjects (groups, users, service accounts) and the deterministic names of their bindings.

use std::fmt;

use k8s_openapi::api::rbac::v1::Subject as RbacSubject;
use oc_mcp_common::{
    Error, Result,
    names::{self, MAX_SUBDOMAIN},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// Build the subject list from the command line, rejecting empty names and duplicates.
pub fn parse_subjects(
    groups: &[String],
    users: &[String],
    service_accounts: &[String],
) -> Result<Vec<Subject>> {
    let mut subjects = Vec::new();
    for group in groups {
        subjects.push(Subject::Group {
            name: non_empty(group, "group")?,
        });
    }
    for user in users {
        subjects.push(Subject::User {
            name: non_empty(user, "--user")?,
        });
    }
    for sa in service_accounts {
        subjects.push(parse_service_account(sa)?);
    }
    let mut seen = std::collections::BTreeSet::new();
    for subject in &subjects {
        if !seen.insert(subject.clone()) {
            return Err(Error::usage_with_hint(
                format!("{subject} is given twice"),
                "name each subject once",
            ));
        }
    }
    Ok(subjects)
}

fn non_empty(name: &str, what: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::usage_with_hint(
            format!("an empty {what} name was given"),
            "pass the group or user name exactly as the identity provider reports it",
        ));
    }
    if trimmed != name || name.chars().any(char::is_control) {
        return Err(Error::usage_with_hint(
            format!("{what} name {name:?} has leading/trailing spaces or control characters"),
            "RBAC compares names byte for byte: pass the exact name",
        ));
    }
    Ok(name.to_owned())
}

fn parse_service_account(text: &str) -> Result<Subject> {
    let hint =
        "write it as NAMESPACE:NAME, e.g. --service-account mcp-server:kubernetes-mcp-server";
    let Some((namespace, name)) = text.split_once(':') else {
        return Err(Error::usage_with_hint(
            format!("--service-account {text:?} has no namespace"),
            hint,
        ));
    };
    if !names::is_dns1123_label(namespace) || !names::is_dns1123_subdomain(name) {
        return Err(Error::usage_with_hint(
            format!("--service-account {text:?} is not a valid NAMESPACE:NAME"),
            hint,
        ));
    }
    Ok(Subject::ServiceAccount {
        namespace: namespace.into(),
        name: name.into(),
    })
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
        use oc_mcp_common::names::is_dns1123_subdomain;
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
    fn subject_parsing_rejects_bad_input() {
        let ok = parse_subjects(
            &["mcp-users".into()],
            &["auditor".into()],
            &["ns:sa".into()],
        )
        .expect("ok");
        assert_eq!(ok.len(), 3);
        for (groups, users, sas, expected) in [
            (vec![""], vec![], vec![], "empty group"),
            (vec!["g"], vec![" "], vec![], "empty --user"),
            (vec!["g", "g"], vec![], vec![], "given twice"),
            (vec![], vec![], vec!["robot"], "has no namespace"),
            (vec![], vec![], vec![":robot"], "not a valid"),
            (vec![], vec![], vec!["NS:robot"], "not a valid"),
            (vec![" g"], vec![], vec![], "leading/trailing"),
        ] {
            let to = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
            let err = parse_subjects(&to(groups), &to(users), &to(sas)).expect_err(expected);
            assert_eq!(err.exit_code().code(), 2);
            assert!(err.to_string().contains(expected), "{err} !~ {expected}");
        }
    }
}
