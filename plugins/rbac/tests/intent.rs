//! Every unsafe RBAC state, set up on the sandbox as a careless administrator or an attacker
//! would, is refused by `bind` (exit 2, nothing written) or fails `check` and `status` (exit 1)
//! with the risk named; the correct state passes both.

use k8s_openapi::api::{
    core::v1::Namespace,
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};

use crate::sandbox::{Cluster, ok, stderr, stdout};

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(own(groups)),
        resources: Some(own(resources)),
        verbs: own(verbs),
        ..PolicyRule::default()
    }
}

/// The rules of the hand edits: what each adds, and the words `check` and `status` must say.
fn hand_edits() -> Vec<(PolicyRule, &'static str)> {
    vec![
        (
            rule(&[""], &["serviceaccounts/token"], &["create"]),
            "create serviceaccounts/token",
        ),
        (
            rule(&["machineconfiguration.openshift.io"], &["*"], &["*"]),
            "* *.machineconfiguration.openshift.io",
        ),
        (
            rule(&["config.openshift.io"], &["oauths"], &["update"]),
            "update oauths.config.openshift.io",
        ),
        (
            rule(&["certificates.k8s.io"], &["signers"], &["approve"]),
            "approve signers.certificates.k8s.io",
        ),
        (
            rule(
                &["certificates.k8s.io"],
                &["certificatesigningrequests/approval"],
                &["update"],
            ),
            "update certificatesigningrequests/approval.certificates.k8s.io",
        ),
        (
            rule(&["oauth.openshift.io"], &["oauthaccesstokens"], &["list"]),
            "list oauthaccesstokens.oauth.openshift.io",
        ),
        (rule(&[""], &["nodes/proxy"], &["get"]), "get nodes/proxy"),
        (
            rule(
                &["security.openshift.io"],
                &["securitycontextconstraints"],
                &["use"],
            ),
            "use securitycontextconstraints.security.openshift.io",
        ),
    ]
}

/// Replace the role's rules the way `kubectl edit` does: an update by another field manager.
async fn edit_role(cluster: &Cluster, edit: impl FnOnce(&mut Vec<PolicyRule>)) {
    let roles: Api<ClusterRole> = Api::all(cluster.admin_client().await);
    let mut role = roles.get("mcp-readonly").await.expect("role");
    edit(role.rules.get_or_insert_default());
    let params = PostParams {
        field_manager: Some("kubectl-edit".into()),
        ..PostParams::default()
    };
    roles
        .replace("mcp-readonly", &params, &role)
        .await
        .expect("edit");
}

fn group(name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "Group".into(),
        name: name.into(),
        namespace: None,
    }
}

fn role_ref(name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "ClusterRole".into(),
        name: name.into(),
    }
}

#[track_caller]
fn fails(out: &std::process::Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

/// The correct state: role --profile full, bound to mcp-users.
async fn correct_state() -> Cluster {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["role", "--profile", "full"]));
    ok(&cluster.run(&["bind", "mcp-users"]));
    cluster
}

#[tokio::test]
async fn bind_refuses_virtual_subjects_with_exit_2_and_writes_nothing() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["role", "--profile", "full"]));
    let before = cluster.writes();
    for (args, reason) in [
        (vec!["system:unauthenticated"], "without credentials"),
        (vec!["system:authenticated"], "every authenticated identity"),
        (vec!["system:anonymous"], "without credentials"),
        (vec!["--user", "system:anonymous"], "without credentials"),
        (vec!["system:masters"], "administrators"),
        (vec!["system:cluster-admins"], "administrators"),
        (vec!["system:serviceaccounts"], "every service account"),
        (
            vec!["system:serviceaccounts:mcp-server"],
            "every service account",
        ),
        (vec!["*"], "everyone or nobody"),
        (vec!["--user", "*"], "everyone or nobody"),
        (vec!["mcp-users", "system:authenticated:oauth"], "platform"),
        (
            vec!["--user", "system:serviceaccount:mcp-server:bot"],
            "--service-account",
        ),
    ] {
        // --force takes over a same-named binding; it is no way around this refusal.
        for force in [false, true] {
            let mut full = vec!["bind"];
            full.extend(&args);
            if force {
                full.push("--force");
            }
            let err = fails(&cluster.run(&full), 2);
            assert!(err.contains("refusing to bind"), "{full:?}: {err}");
            assert!(err.contains(reason), "{full:?}: {err} lacks {reason:?}");
            assert!(err.contains("hint: "), "{full:?}: {err}");
        }
    }
    assert_eq!(cluster.writes(), before, "a refused bind must not write");
}

#[tokio::test]
async fn bind_refuses_roles_that_are_not_the_read_only_role() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["role", "--profile", "full"]));
    let client = cluster.admin_client().await;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    // A reviewed read-only role kept elsewhere (GitOps), and a risky one of the same origin.
    for (name, rules) in [
        (
            "team-view",
            vec![rule(&["apps"], &["deployments"], &["get", "list"])],
        ),
        ("team-secrets", vec![rule(&[""], &["secrets"], &["get"])]),
    ] {
        let role = ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            rules: Some(rules),
            aggregation_rule: None,
        };
        roles
            .create(&PostParams::default(), &role)
            .await
            .expect("create");
    }
    let before = cluster.writes();
    for (role, extra, reason) in [
        ("cluster-admin", None, "not made by oc-mcp"),
        ("cluster-admin", None, "* *.*: a wildcard"),
        ("cluster-admin", Some("--force"), "not made by oc-mcp"),
        (
            "cluster-admin",
            Some("--allow-unmanaged-role"),
            "a wildcard",
        ),
        ("admin", None, "aggregates other roles"),
        (
            "edit",
            Some("--allow-unmanaged-role"),
            "aggregates other roles",
        ),
        ("view", None, "aggregates other roles"),
        ("team-view", None, "not made by oc-mcp"),
        (
            "team-secrets",
            Some("--allow-unmanaged-role"),
            "get secrets: exposes credentials",
        ),
        ("not-made-yet", None, "does not exist"),
    ] {
        let mut args = vec!["bind", "mcp-users", "--role", role];
        args.extend(extra);
        let err = fails(&cluster.run(&args), 2);
        assert!(
            err.contains(&format!("refusing to bind ClusterRole {role}")),
            "{args:?}: {err}"
        );
        assert!(err.contains(reason), "{args:?}: {err} lacks {reason:?}");
    }
    assert_eq!(cluster.writes(), before, "a refused bind must not write");

    // Our role, edited to grant a risky read: refused until `role` restores it.
    edit_role(&cluster, |rules| {
        rules.push(rule(&[""], &["secrets"], &["list"]));
    })
    .await;
    let before = cluster.writes();
    let err = fails(&cluster.run(&["bind", "mcp-users"]), 2);
    assert!(err.contains("list secrets: exposes credentials"), "{err}");
    assert!(
        err.contains("oc mcp-rbac role --name mcp-readonly"),
        "{err}"
    );
    assert_eq!(cluster.writes(), before);

    // The explicit override binds a reviewed read-only role, and only that.
    ok(&cluster.run(&[
        "bind",
        "mcp-users",
        "--role",
        "team-view",
        "--allow-unmanaged-role",
    ]));
    // ... and `check` judges it by its own read-only rules against the fixed deny list.
    let report: serde_json::Value = serde_json::from_str(&ok(&cluster.run(&[
        "check",
        "--role",
        "team-view",
        "-o",
        "json",
    ])))
    .expect("json");
    assert_eq!(report["deviations"], 0, "{report:#}");
    assert_eq!(
        report["intent"],
        "none recorded: the role's own read-only rules"
    );
    // The default role may be made after the binding: a warning, and `status` judges it later.
    let fresh = Cluster::start().await;
    let out = fresh.run(&["bind", "mcp-users"]);
    ok(&out);
    assert!(
        stderr(&out).contains("does not exist yet"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn the_correct_state_passes_check_and_status() {
    let cluster = correct_state().await;
    let status = cluster.run(&["status"]);
    ok(&status);
    assert!(!stderr(&status).contains("risky"), "{}", stderr(&status));
    let out = cluster.run(&["check"]);
    let table = ok(&out);
    assert!(
        table.contains("Group mcp-users   cluster,default "),
        "{table}"
    );
    assert!(table.contains(" pass "), "{table}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["check", "-o", "json"]))).expect("json");
    assert_eq!(report["deviations"], 0, "{report:#}");
    assert_eq!(report["intent"], "profile full");
    assert_eq!(report["namespaces"], serde_json::json!(["default"]));
    // Writes on what the profile grants are asked, and denied.
    let matrix = report["matrix"].as_array().expect("matrix");
    assert!(matrix.iter().any(|c| c["verb"] == "deletecollection"
        && c["resource"] == "persistentvolumes"
        && c["expect"] == "deny"
        && c["allowed"] == false));
}

#[tokio::test]
async fn each_hand_edit_fails_check_and_status_and_role_restores_the_profile() {
    let cluster = correct_state().await;
    for (added, words) in hand_edits() {
        edit_role(&cluster, |rules| rules.push(added.clone())).await;

        let err = fails(&cluster.run(&["check"]), 1);
        assert!(err.contains(words), "check must name {words:?}:\n{err}");
        assert!(
            err.contains("ClusterRoleBinding mcp-readonly-group-mcp-users"),
            "check must name the binding:\n{err}"
        );
        let err = fails(&cluster.run(&["status"]), 1);
        assert!(err.contains(&format!("risky rule: {words}")), "{err}");
        assert!(err.contains("differs from its profile: + "), "{err}");

        // A re-run restores the profile over the other field manager and says what it removed.
        let out = cluster.run(&["role", "--profile", "full"]);
        let restored = stdout(&out);
        ok(&out);
        assert_eq!(
            restored,
            "clusterrole.rbac.authorization.k8s.io/mcp-readonly configured\n"
        );
        assert!(
            stderr(&out).contains("restoring profile full: - "),
            "{}",
            stderr(&out)
        );
        ok(&cluster.run(&["status"]));
        ok(&cluster.run(&["check"]));
    }

    // All at once: the reviews themselves see the grants, beside the static analysis.
    edit_role(&cluster, |rules| {
        rules.extend(hand_edits().into_iter().map(|(r, _)| r));
    })
    .await;
    let out = cluster.run(&["check", "-o", "json"]);
    fails(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let allowed_denials: Vec<String> = report["matrix"]
        .as_array()
        .expect("matrix")
        .iter()
        .filter(|c| c["expect"] == "deny" && c["allowed"] == true && c["namespace"].is_null())
        .map(|c| {
            format!(
                "{} {}/{}.{}",
                c["verb"].as_str().unwrap_or_default(),
                c["resource"].as_str().unwrap_or_default(),
                c["subresource"].as_str().unwrap_or_default(),
                c["group"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for want in [
        "create serviceaccounts/token.",
        "create machineconfigs/.machineconfiguration.openshift.io",
        "update oauths/.config.openshift.io",
        "approve signers/.certificates.k8s.io",
        "update certificatesigningrequests/approval.certificates.k8s.io",
        "list oauthaccesstokens/.oauth.openshift.io",
        "get nodes/proxy.",
        "use securitycontextconstraints/.security.openshift.io",
    ] {
        assert!(
            allowed_denials.iter().any(|d| d == want),
            "{want} not flagged by a review: {allowed_denials:?}"
        );
    }
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.len() >= hand_edits().len(), "{findings:?}");
}

#[tokio::test]
async fn a_role_binding_to_admin_in_another_namespace_fails_check_and_names_it() {
    let cluster = correct_state().await;
    let client = cluster.admin_client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let precious = Namespace {
        metadata: ObjectMeta {
            name: Some("precious".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &precious)
        .await
        .expect("namespace");
    // kubectl -n precious create rolebinding x --clusterrole=admin --group=mcp-users
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("x".into()),
            namespace: Some("precious".into()),
            ..ObjectMeta::default()
        },
        role_ref: role_ref("admin"),
        subjects: Some(vec![group("mcp-users")]),
    };
    Api::<RoleBinding>::namespaced(client.clone(), "precious")
        .create(&PostParams::default(), &binding)
        .await
        .expect("rolebinding");

    let out = cluster.run(&["check"]);
    let err = fails(&out, 1);
    assert!(
        stdout(&out).contains("cluster,default,precious"),
        "{}",
        stdout(&out)
    );
    assert!(err.contains("namespaces default, precious"), "{err}");
    assert!(
        err.contains("RoleBinding precious/x (via Group mcp-users) of ClusterRole admin grants"),
        "{err}"
    );

    let out = cluster.run(&["check", "-o", "json"]);
    fails(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["namespaces"],
        serde_json::json!(["default", "precious"])
    );
    // The reviews in `precious` see the writes too.
    assert!(
        report["matrix"]
            .as_array()
            .expect("matrix")
            .iter()
            .any(|c| c["verb"] == "create"
                && c["resource"] == "pods"
                && c["subresource"].is_null()
                && c["namespace"] == "precious"
                && c["allowed"] == true
                && c["ok"] == false),
        "no review flagged create pods in precious"
    );
}

#[tokio::test]
async fn status_exits_1_on_each_risky_state_and_names_it() {
    let cluster = correct_state().await;
    let bindings: Api<ClusterRoleBinding> = Api::all(cluster.admin_client().await);

    // A binding to a virtual group, made by hand (as `oc adm policy add-cluster-role-to-group`).
    let public = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some("mcp-readonly-everyone".into()),
            ..ObjectMeta::default()
        },
        role_ref: role_ref("mcp-readonly"),
        subjects: Some(vec![group("system:unauthenticated")]),
    };
    bindings
        .create(&PostParams::default(), &public)
        .await
        .expect("create");
    let err = fails(&cluster.run(&["status"]), 1);
    assert!(
        err.contains("ClusterRoleBinding mcp-readonly-everyone binds the role to Group system:unauthenticated"),
        "{err}"
    );
    let err = fails(&cluster.run(&["check"]), 1);
    assert!(
        err.contains("is bound to Group system:unauthenticated"),
        "{err}"
    );
    // Named explicitly, the real group is judged on its own and passes.
    ok(&cluster.run(&["check", "--group", "mcp-users"]));
    ok(&cluster.run(&["unbind", "system:unauthenticated", "--force"]));
    ok(&cluster.run(&["status"]));

    // Drift alone (a read removed) is a deviation from the profile.
    edit_role(&cluster, |rules| {
        rules.retain(|r| r.api_groups.as_deref() != Some(&["batch".to_owned()][..]));
    })
    .await;
    let err = fails(&cluster.run(&["status"]), 1);
    assert!(err.contains("- get jobs.batch"), "{err}");
    let err = fails(&cluster.run(&["check"]), 1);
    assert!(
        err.contains("differs from its profile: - get cronjobs.batch"),
        "{err}"
    );
    assert!(err.contains(", - get jobs.batch"), "{err}");
    // The profile's reads are expected whatever the live role says: the reviews see them go.
    assert!(err.contains("get jobs.batch denied cluster-wide"), "{err}");
    ok(&cluster.run(&["role", "--profile", "full"]));

    // An aggregation rule added by hand pulls in another role's rules.
    let roles: Api<ClusterRole> = Api::all(cluster.admin_client().await);
    let mut role = roles.get("mcp-readonly").await.expect("role");
    role.aggregation_rule = Some(k8s_openapi::api::rbac::v1::AggregationRule {
        cluster_role_selectors: Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some(
                    [(
                        "rbac.authorization.k8s.io/aggregate-to-edit".to_owned(),
                        "true".to_owned(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
        ]),
    });
    roles
        .replace("mcp-readonly", &PostParams::default(), &role)
        .await
        .expect("edit");
    let err = fails(&cluster.run(&["status"]), 1);
    assert!(err.contains("aggregationRule"), "{err}");
    assert!(err.contains("risky rule: create pods/exec"), "{err}");
    fails(&cluster.run(&["check"]), 1);
}
