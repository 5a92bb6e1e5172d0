use super::*;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleBinding, RoleRef, Subject as RbacSubject};
use kube::api::ObjectMeta;

#[test]
fn probes_cover_the_intent_and_the_forbidden_list_in_every_scope() {
    let namespaces = vec!["default".to_owned(), "precious".to_owned()];
    let probes = probes_for(&rbac_intent::minimal_rules(), &namespaces);
    let allow = probes.iter().filter(|p| p.expect == Expect::Allow).count();
    // minimal: 10 resources x 3 verbs, cluster-wide and in both namespaces
    assert_eq!(allow, 90);
    for namespace in [None, Some("default"), Some("precious")] {
        let has = |verb: &str, resource: &str, sub: Option<&str>| {
            probes.iter().any(|p| {
                p.expect == Expect::Deny
                    && p.verb == verb
                    && p.resource == resource
                    && p.subresource.as_deref() == sub
                    && p.namespace.as_deref() == namespace
            })
        };
        assert!(has("create", "pods", Some("exec")));
        assert!(has("deletecollection", "events", None));
        assert!(has("patch", "routes", None));
        assert!(has("list", "oauthaccesstokens", None));
        assert!(has("use", "securitycontextconstraints", None));
    }
    assert!(
        probes
            .iter()
            .any(|p| p.path.as_deref() == Some("/metrics") && p.expect == Expect::Deny)
    );
    // Nothing is both expected and forbidden.
    let allowed: Vec<String> = probes
        .iter()
        .filter(|p| p.expect == Expect::Allow)
        .map(Probe::describe)
        .collect();
    assert!(
        probes
            .iter()
            .filter(|p| p.expect == Expect::Deny)
            .all(|p| !allowed.contains(&p.describe()))
    );
}

fn binding(namespace: &str, name: &str, role: &str, group: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![RbacSubject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: group.into(),
            namespace: None,
        }]),
    }
}

#[test]
fn a_role_binding_to_admin_anywhere_is_found_and_its_namespace_covered() {
    let admin = ClusterRole {
        metadata: ObjectMeta {
            name: Some("admin".into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: vec!["create".into()],
            ..PolicyRule::default()
        }]),
        aggregation_rule: None,
    };
    let mut defaulted = binding("openshift", "shared", "admin", "system:authenticated");
    defaulted
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(AUTOUPDATE_ANNOTATION.into(), "true".into());
    let snapshot = RbacSnapshot {
        cluster_roles: vec![admin],
        role_bindings: vec![
            binding("precious", "x", "admin", "mcp-users"),
            binding("other", "y", "admin", "someone-else"),
            binding("everyone", "z", "admin", "system:authenticated"),
            defaulted,
        ],
        ..RbacSnapshot::default()
    };
    let subject = Subject::Group {
        name: "mcp-users".into(),
    };
    let (findings, namespaces, defaults) = analyze(&snapshot, &[subject]);
    let described: Vec<String> = findings.iter().map(Finding::describe).collect();
    assert_eq!(
        described,
        [
            "RoleBinding precious/x (via Group mcp-users) of ClusterRole admin grants create pods: not read-only (rules[0])",
            "RoleBinding everyone/z (via Group system:authenticated) of ClusterRole admin grants create pods: not read-only (rules[0])",
        ]
    );
    assert_eq!(
        namespaces.into_iter().collect::<Vec<_>>(),
        ["everyone", "precious"]
    );
    assert_eq!(defaults, ["RoleBinding openshift/shared"]);
}
