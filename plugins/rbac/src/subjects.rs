//! The subjects a command names: the typed flags (parsed by clap with the grammar in
//! `common/src/subject.rs`) joined into one list, each subject at most once.

use oc_mcp_common::{
    Error, Result,
    subject::{GroupName, ServiceAccountName, UserName},
};

pub use oc_mcp_common::subject::Subject;

/// The users and service accounts a command names (`bind`, `unbind` and `check` take them
/// alike; groups differ: an argument of `bind`, a flag of `check`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NamedSubjects {
    /// A user, exactly as the identity provider names it; repeat for more
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<UserName>,

    /// A service account, as NAMESPACE:NAME; repeat for more
    #[arg(long = "service-account", value_name = "NAMESPACE:NAME")]
    pub service_accounts: Vec<ServiceAccountName>,
}

impl NamedSubjects {
    /// `groups`, then the users, then the service accounts, each subject at most once.
    pub fn with_groups(&self, groups: &[GroupName]) -> Result<Vec<Subject>> {
        collect_subjects(groups, &self.users, &self.service_accounts)
    }
}

/// Build the subject list from the parsed flags, rejecting duplicates.
pub fn collect_subjects(
    groups: &[GroupName],
    users: &[UserName],
    service_accounts: &[ServiceAccountName],
) -> Result<Vec<Subject>> {
    let subjects: Vec<Subject> = groups
        .iter()
        .cloned()
        .map(Subject::from)
        .chain(users.iter().cloned().map(Subject::from))
        .chain(service_accounts.iter().cloned().map(Subject::from))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for subject in &subjects {
        if !seen.insert(subject) {
            return Err(Error::usage_with_hint(
                format!("{subject} is given twice"),
                "name each subject once",
            ));
        }
    }
    Ok(subjects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: std::str::FromStr>(names: &[&str]) -> Vec<T>
    where
        T::Err: std::fmt::Debug,
    {
        names.iter().map(|n| n.parse().expect(n)).collect()
    }

    #[test]
    fn subject_lists_keep_each_subject_once() {
        let ok = collect_subjects(
            &parse(&["mcp-users"]),
            &parse(&["auditor"]),
            &parse(&["ns:sa"]),
        )
        .expect("ok");
        assert_eq!(ok.len(), 3);
        for (groups, users, expected) in [
            (vec!["g", "g"], vec![], "Group g is given twice"),
            (vec![], vec!["a", "a"], "User a is given twice"),
        ] {
            let err = collect_subjects(&parse(&groups), &parse(&users), &[]).expect_err(expected);
            assert_eq!(err.exit_code().code(), 2);
            assert!(err.to_string().contains(expected), "{err} !~ {expected}");
        }
        // The same name as a group and as a user is two subjects.
        assert!(collect_subjects(&parse(&["x"]), &parse(&["x"]), &[]).is_ok());
    }
}
