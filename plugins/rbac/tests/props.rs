//! Property tests of ClusterRoleBinding names (`Subject::binding_name`): whatever the subject's
//! name (any Unicode, any length), the binding name is a valid object name, the same on every
//! run, and different for subjects that differ only in characters the name cannot carry.

use oc_mcp_common::names::{MAX_SUBDOMAIN, is_dns1123_subdomain};
use oc_mcp_rbac::subjects::Subject;
use proptest::prelude::*;

/// A valid role name: DNS-1123 subdomain, up to the 253-character limit.
fn role() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?", 1..6)
        .prop_map(|labels| labels.join("."))
        .prop_filter("object names are at most 253 characters", |r| {
            r.len() <= MAX_SUBDOMAIN
        })
}

/// Any subject: group and user names are free text in RBAC (Entra object IDs, e-mail
/// addresses, display names with spaces and accents).
fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        any::<String>().prop_map(|name| Subject::Group { name }),
        "\\PC{0,300}".prop_map(|name| Subject::User { name }),
        ("[a-z0-9-]{1,63}", "[a-z0-9.-]{1,253}")
            .prop_map(|(namespace, name)| Subject::ServiceAccount { namespace, name }),
    ]
}

/// Characters a binding name cannot carry as they are.
const LOSSY: [&str; 10] = [" ", "_", "--", ".", "..", ":", "/", "@", "é", ".-"];

/// Two names built from the same words with different separators or letter case.
fn lossy_pair() -> impl Strategy<Value = (String, String)> {
    prop::collection::vec(
        (
            "[a-zA-Z0-9]{1,12}",
            0..LOSSY.len(),
            0..LOSSY.len(),
            any::<bool>(),
        ),
        1..6,
    )
    .prop_map(|parts| {
        let mut left = String::new();
        let mut right = String::new();
        for (word, a, b, flip_case) in parts {
            left.push_str(&word);
            left.push_str(LOSSY[a]);
            if flip_case {
                right.push_str(&word.to_uppercase());
            } else {
                right.push_str(&word);
            }
            right.push_str(LOSSY[b]);
        }
        (left, right)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn binding_names_are_valid_object_names(role in role(), subject in subject()) {
        let name = subject.binding_name(&role);
        prop_assert!(name.len() <= MAX_SUBDOMAIN, "{} characters: {name}", name.len());
        prop_assert!(is_dns1123_subdomain(&name), "{name:?} for {subject:?}");
    }

    #[test]
    fn binding_names_are_deterministic(role in role(), subject in subject()) {
        prop_assert_eq!(subject.binding_name(&role), subject.clone().binding_name(&role));
    }

    #[test]
    fn names_that_differ_only_in_lossy_characters_get_distinct_bindings(
        role in role(),
        (left, right) in lossy_pair(),
    ) {
        prop_assume!(left != right);
        let a = Subject::Group { name: left.clone() }.binding_name(&role);
        let b = Subject::Group { name: right.clone() }.binding_name(&role);
        prop_assert_ne!(a, b, "{:?} and {:?}", left, right);
    }

    #[test]
    fn valid_names_are_kept_as_they_are(
        role in "[a-z][-a-z0-9]{0,30}[a-z0-9]",
        // Runs of '-' are folded to one (as they always were), so they are not generated here.
        name in "[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,4}(\\.[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}){0,2}",
    ) {
        let binding = Subject::User { name: name.clone() }.binding_name(&role);
        prop_assert_eq!(binding, format!("{role}-user-{name}"));
    }

    #[test]
    fn kinds_never_share_a_binding(role in role(), name in "\\PC{1,40}") {
        let group = Subject::Group { name: name.clone() }.binding_name(&role);
        let user = Subject::User { name }.binding_name(&role);
        prop_assert_ne!(group, user);
    }
}
