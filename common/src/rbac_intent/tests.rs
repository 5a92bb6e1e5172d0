use super::*;
use crate::plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use k8s_openapi::api::rbac::v1::AggregationRule;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet};

fn rule_of(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(own(groups)),
        resources: Some(own(resources)),
        verbs: own(verbs),
        ..PolicyRule::default()
    }
}

fn urls(urls: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        non_resource_urls: Some(urls.iter().map(|s| (*s).to_owned()).collect()),
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

fn shown(rules: &[PolicyRule]) -> Vec<String> {
    risky_grants(rules)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The risks `rules` show, one a line, after checking that each of `wants` is among them.
fn shown_including(rules: &[PolicyRule], wants: &[&str]) -> String {
    let text = shown(rules).join("\n");
    for want in wants {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    text
}

#[test]
fn profiles_are_read_only_and_carry_no_risk() {
    for rules in [full_rules(), minimal_rules()] {
        for (_, _, verb) in grants(&rules) {
            assert!(READ_VERBS.contains(&verb.as_str()), "{verb}");
        }
        assert_eq!(risky_grants(&rules), Vec::new());
    }
    assert_eq!(full_rules().len(), 11);
    assert_eq!(minimal_rules().len(), 3);
}

#[test]
fn virtual_subjects_are_named_and_real_ones_pass() {
    use VirtualSubject as V;
    let groups = [
        ("system:authenticated", V::EveryAuthenticated),
        ("system:unauthenticated", V::Anonymous),
        ("system:masters", V::Administrators),
        ("system:cluster-admins", V::Administrators),
        ("system:serviceaccounts", V::ServiceAccounts),
        ("system:serviceaccounts:mcp-server", V::ServiceAccounts),
        ("system:authenticated:oauth", V::System),
        ("*", V::Wildcard),
        ("SYSTEM:Authenticated", V::EveryAuthenticated),
    ];
    let users = [
        ("system:anonymous", V::Anonymous),
        ("system:admin", V::System),
        ("system:serviceaccount:ns:bot", V::ServiceAccountAsUser),
        ("*", V::Wildcard),
    ];
    let named = |kind| move |(name, want)| (kind, name, want);
    for (kind, name, want) in groups
        .map(named("Group"))
        .into_iter()
        .chain(users.map(named("User")))
    {
        assert_eq!(virtual_subject(kind, name), Some(want), "{kind} {name}");
        assert!(!want.to_string().is_empty() && !want.hint().is_empty());
    }
    assert!(V::ServiceAccountAsUser.hint().contains("--service-account"));
    for (kind, name) in [
        ("Group", "mcp-users"),
        ("User", "alice@example.com"),
        ("Group", "3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b"),
        ("Group", "systems-team"),
        ("ServiceAccount", "system:whatever"),
    ] {
        assert_eq!(virtual_subject(kind, name), None, "{kind} {name}");
    }
}

#[test]
fn every_hand_edit_of_the_issue_is_risky() {
    // One verb on one resource per rule, as the issue's hand edits add them.
    let one = |group: &str, resource: &str, verb: &str| rule_of(&[group], &[resource], &[verb]);
    let rules = vec![
        one("", "serviceaccounts/token", "create"),
        one("machineconfiguration.openshift.io", "*", "*"),
        one("config.openshift.io", "oauths", "update"),
        one(
            "certificates.k8s.io",
            "certificatesigningrequests/approval",
            "update",
        ),
        one("certificates.k8s.io", "signers", "approve"),
        one("oauth.openshift.io", "oauthaccesstokens", "list"),
        one("", "nodes/proxy", "get"),
        one("security.openshift.io", "securitycontextconstraints", "use"),
    ];
    let risks = risky_grants(&rules);
    shown_including(
        &rules,
        &[
            "create serviceaccounts/token: lets the holder mint credentials",
            "* *.machineconfiguration.openshift.io: a wildcard",
            "update oauths.config.openshift.io: not read-only",
            "update certificatesigningrequests/approval.certificates.k8s.io",
            "approve signers.certificates.k8s.io: lets the holder mint credentials",
            "list oauthaccesstokens.oauth.openshift.io: exposes credentials",
            "get nodes/proxy: reaches into pods or nodes",
            "use securitycontextconstraints.security.openshift.io: lets the holder run privileged pods",
        ],
    );
    // Each risk points at its rule.
    assert_eq!(
        risks.iter().map(|r| r.rule).collect::<BTreeSet<_>>().len(),
        rules.len()
    );
}

#[test]
fn wildcards_match_as_rbac_matches_them() {
    // Reads through wildcards reach the risky resources.
    let sub_wild = vec![rule_of(&[""], &["*/exec", "pods/*"], &["get"])];
    let text = shown(&sub_wild).join("\n");
    assert!(text.contains("get */exec: reaches into pods"), "{text}");
    assert!(text.contains("get pods/*: reaches into pods"), "{text}");
    assert_eq!(
        shown(&[rule_of(&["*"], &["secrets"], &["watch"])]),
        ["watch secrets.*: a wildcard: every verb or resource, present and future"]
    );
    assert!(resource_matches("*", "pods/exec"));
    assert!(resource_matches("*/exec", "pods/exec"));
    assert!(resource_matches("pods/*", "pods/exec"));
    assert!(!resource_matches("pods/*", "pods"));
    assert!(!resource_matches("pods", "pods/exec"));
    assert!(!resource_matches("*/log", "pods/exec"));
    // A plain read of something harmless is fine; of pods/log too.
    assert!(risky_grants(&[rule_of(&["apps"], &["deployments"], &["get", "list"])]).is_empty());
    assert!(risky_grants(&[rule_of(&[""], &["pods/log"], &["get"])]).is_empty());
}

#[test]
fn escalation_reviews_and_urls() {
    let rules = vec![
        rule_of(&[""], &["users", "groups"], &["impersonate"]),
        rule_of(
            &["rbac.authorization.k8s.io"],
            &["clusterroles"],
            &["escalate", "bind"],
        ),
        rule_of(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule_of(
            &["authorization.k8s.io"],
            &["subjectaccessreviews", "selfsubjectaccessreviews"],
            &["create"],
        ),
        urls(&["/api", "/apis/*", "/healthz", "/version"], &["get"]),
        urls(&["/metrics", "/logs/*"], &["get"]),
        urls(&["/api"], &["post"]),
        urls(&["*"], &["get"]),
    ];
    let text = shown_including(
        &rules,
        &[
            "impersonate users: lets the holder gain other identities",
            "impersonate groups",
            "escalate clusterroles.rbac.authorization.k8s.io",
            "bind clusterroles.rbac.authorization.k8s.io",
            "create tokenreviews.authentication.k8s.io: discloses",
            "create subjectaccessreviews.authorization.k8s.io: discloses",
            "get /metrics: a non-resource URL",
            "get /logs/*",
            "post /api: not read-only",
            "get *: a non-resource URL",
        ],
    );
    for fine in [
        "selfsubjectaccessreviews",
        "get /api:",
        "/apis/*",
        "/healthz",
        "/version",
    ] {
        assert!(!text.contains(fine), "{fine} must not be risky:\n{text}");
    }
}

fn role(name: &str, profile: Option<&str>, rules: Vec<PolicyRule>) -> ClusterRole {
    let mut annotations = BTreeMap::new();
    if let Some(p) = profile {
        annotations.insert(PROFILE_ANNOTATION.to_owned(), p.to_owned());
        annotations.insert(FINGERPRINT_ANNOTATION.to_owned(), rules_fingerprint(&rules));
    }
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: Some(annotations),
            labels: Some([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into()),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
        aggregation_rule: None,
    }
}

#[test]
fn drift_is_judged_against_the_recorded_profile() {
    let clean = role("r", Some("full"), full_rules());
    assert!(profile_drift(&clean).is_clean());
    assert!(is_managed(&clean));
    assert_eq!(intended_rules(&clean), Some(full_rules()));

    // The fingerprint does not hide a hand edit of a fixed profile: the rules are compared.
    let mut edited = full_rules();
    edited.push(rule_of(&[""], &["secrets"], &["get"]));
    edited[0]
        .resources
        .get_or_insert_default()
        .retain(|r| r != "nodes");
    let edited = role("r", Some("full"), edited);
    let drift = profile_drift(&edited);
    assert_eq!(drift.added, ["get secrets"]);
    assert_eq!(drift.removed, ["get nodes", "list nodes", "watch nodes"]);
    assert_eq!(drift.lines()[0], "+ get secrets");
    // The intent stays the profile's, whatever the live role says.
    assert_eq!(intended_rules(&edited), Some(full_rules()));

    // tools: the fingerprint is all there is.
    let tools = role("r", Some("tools"), minimal_rules());
    assert!(profile_drift(&tools).is_clean());
    assert_eq!(intended_rules(&tools), Some(minimal_rules()));
    let mut tampered = tools.clone();
    tampered.rules = Some(full_rules());
    assert!(!profile_drift(&tampered).is_clean());
    assert_eq!(intended_rules(&tampered), None);

    let unknown = role("r", Some("admin"), minimal_rules());
    assert!(!profile_drift(&unknown).is_clean());
    let foreign = role("r", None, minimal_rules());
    assert!(profile_drift(&foreign).is_clean());
    assert!(!is_managed(&foreign));
    assert_eq!(intended_rules(&foreign), None);
}

#[test]
fn aggregation_is_followed_and_counts_as_drift() {
    let mut parent = role("mcp", Some("minimal"), minimal_rules());
    parent.aggregation_rule = Some(AggregationRule {
        cluster_role_selectors: Some(vec![LabelSelector {
            match_labels: Some([("agg".to_owned(), "yes".to_owned())].into()),
            ..LabelSelector::default()
        }]),
    });
    let mut child = role("child", None, vec![rule_of(&[""], &["secrets"], &["list"])]);
    child
        .metadata
        .labels
        .get_or_insert_default()
        .insert("agg".into(), "yes".into());
    let other = role("other", None, vec![rule_of(&["*"], &["*"], &["*"])]);
    let all = vec![parent.clone(), child, other];
    let rules = effective_rules(&parent, &all);
    assert_eq!(rules.len(), 4);
    assert_eq!(shown(&rules), ["list secrets: exposes credentials"]);
    assert!(!profile_drift(&parent).is_clean());
    // An empty selector selects nothing.
    parent.aggregation_rule = Some(AggregationRule {
        cluster_role_selectors: Some(vec![LabelSelector::default()]),
    });
    assert_eq!(effective_rules(&parent, &all).len(), 3);
}

#[test]
fn what_must_be_denied_covers_writes_on_the_profile_and_the_risky_list() {
    let deny = must_deny(&minimal_rules());
    let has = |verb: &str, group: &str, resource: &str| {
        deny.contains(&(group.to_owned(), resource.to_owned(), verb.to_owned()))
    };
    for verb in WRITE_VERBS {
        assert!(has(verb, "route.openshift.io", "routes"), "{verb}");
        assert!(has(verb, "", "events"), "{verb}");
    }
    assert!(has("list", "oauth.openshift.io", "oauthaccesstokens"));
    assert!(has("get", "", "nodes/proxy"));
    assert!(has("create", "", "serviceaccounts/token"));
    assert!(has(
        "use",
        "security.openshift.io",
        "securitycontextconstraints"
    ));
    assert!(has("update", "config.openshift.io", "oauths"));
    assert!(has("create", WILDCARD_PROBE_GROUP, "widgets"));
    // Nothing a profile grants is on the list.
    for (group, resource, verb) in grants(&full_rules()) {
        assert!(!must_deny(&full_rules()).contains(&(group, resource, verb)));
    }
    let unique: BTreeSet<_> = deny.iter().collect();
    assert_eq!(unique.len(), deny.len());
}

#[test]
fn normalize_ignores_order() {
    let mut a = full_rules();
    a.reverse();
    assert_eq!(rules_fingerprint(&a), rules_fingerprint(&full_rules()));
    assert_ne!(
        rules_fingerprint(&minimal_rules()),
        rules_fingerprint(&full_rules())
    );
}
