//! `oc mcp-rbac` against the sandbox API server: the guide's steps 3-5 as a user runs them.

// The story test reads top to bottom like the guide; splitting it would hide the order.
#![allow(clippy::too_many_lines)]

use std::{path::PathBuf, process::Output};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use kube::{
    Api, ResourceExt,
    api::{ListParams, ObjectMeta, PostParams},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

pub(crate) struct Cluster {
    pub(crate) sandbox: Sandbox,
    admin: PathBuf,
}

impl Cluster {
    pub(crate) async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        let admin = sandbox.kubeconfig_path("admin").expect("admin kubeconfig");
        Self { sandbox, admin }
    }

    /// Run the plugin as `user` (a kubeconfig of that user only).
    pub(crate) fn run_as(&self, user: &str, args: &[&str]) -> Output {
        let kubeconfig = self.sandbox.kubeconfig_path(user).expect("kubeconfig");
        std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_rbac"))
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl-mcp_rbac")
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_as("admin", args)
    }

    pub(crate) async fn admin_client(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }

    /// Writes (anything but reads and access reviews) recorded by the audit log.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.sandbox
            .audit()
            .into_iter()
            .filter(oc_mcp_sandbox::AuditEntry::is_write)
            .map(|e| e.summary())
            .collect()
    }
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

#[tokio::test]
async fn role_bind_status_check_unbind_as_the_guide_does_them() {
    let cluster = Cluster::start().await;
    let _ = &cluster.admin;

    // Step 3-4: the ClusterRole.
    let out = ok(&cluster.run(&["role", "--profile", "full"]));
    assert_eq!(
        out,
        "clusterrole.rbac.authorization.k8s.io/mcp-readonly created\n"
    );
    // Step 5: bind a group and a user.
    let out = ok(&cluster.run(&["bind", "mcp-users", "--user", "auditor"]));
    assert_eq!(
        out,
        "clusterrolebinding.rbac.authorization.k8s.io/mcp-readonly-group-mcp-users created\n\
         clusterrolebinding.rbac.authorization.k8s.io/mcp-readonly-user-auditor created\n"
    );

    // A second run changes nothing and says so.
    let client = cluster.admin_client().await;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let versions = || async {
        (
            roles
                .get("mcp-readonly")
                .await
                .expect("role")
                .resource_version(),
            bindings
                .get("mcp-readonly-group-mcp-users")
                .await
                .expect("crb")
                .resource_version(),
        )
    };
    let before = versions().await;
    let out = ok(&cluster.run(&["role", "--profile", "full"]));
    assert_eq!(
        out,
        "clusterrole.rbac.authorization.k8s.io/mcp-readonly unchanged\n"
    );
    let out = ok(&cluster.run(&["bind", "mcp-users", "--user", "auditor"]));
    assert!(out.lines().all(|l| l.ends_with(" unchanged")), "{out}");
    let after = versions().await;
    assert_eq!(before, after, "a re-run must not write");

    // A binding made the way `oc adm policy add-cluster-role-to-group mcp-readonly g` makes it.
    let by_hand = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some("mcp-readonly".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "mcp-readonly".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: "sre-team".into(),
            namespace: None,
        }]),
    };
    bindings
        .create(&PostParams::default(), &by_hand)
        .await
        .expect("create by hand");

    // status lists the role, all three bindings and the subjects by kind.
    let status: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["status", "-o", "json"]))).expect("json");
    assert_eq!(status["role"]["present"], true);
    assert_eq!(status["role"]["profile"], "full");
    assert_eq!(status["role"]["drift"], serde_json::json!([]));
    assert_eq!(status["role"]["riskyRules"], serde_json::json!([]));
    let names: Vec<&str> = status["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "mcp-readonly",
            "mcp-readonly-group-mcp-users",
            "mcp-readonly-user-auditor"
        ]
    );
    assert_eq!(status["bindings"][0]["managedByOcMcp"], false);
    assert_eq!(
        status["subjects"]["Group"],
        serde_json::json!(["mcp-users", "sre-team"])
    );
    assert_eq!(status["subjects"]["User"], serde_json::json!(["auditor"]));
    let table = ok(&cluster.run(&["status"]));
    assert!(table.starts_with("KIND "), "{table}");
    assert!(table.contains("mcp-readonly-user-auditor"), "{table}");

    // check: every bound subject passes; the outsider is denied what the role grants.
    let out = cluster.run(&["check", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(report["deviations"], 0);
    assert_eq!(report["subjects"].as_array().map(Vec::len), Some(3));
    assert!(report["checked"].as_u64().is_some_and(|n| n > 300));
    let out = cluster.run(&["check", "--user", "outsider", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let denied_reads = report["matrix"]
        .as_array()
        .expect("matrix")
        .iter()
        .filter(|c| c["expect"] == "allow" && c["allowed"] == false)
        .count();
    assert!(
        denied_reads > 100,
        "outsider must be denied the role's reads"
    );
    assert!(stderr(&out).contains("deviate from read-only"));

    // unbind removes only ours; the hand-made binding is reported and left alone.
    let out = ok(&cluster.run(&["unbind", "mcp-users", "sre-team", "--user", "auditor"]));
    assert!(out.contains("mcp-readonly-group-mcp-users   yes "), "{out}");
    assert!(
        out.contains("left alone (not made by oc-mcp; --force to change)"),
        "{out}"
    );
    let left: Vec<String> = bindings
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .filter(|b| b.role_ref.name == "mcp-readonly")
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(left, ["mcp-readonly"]);
    let out = ok(&cluster.run(&["unbind", "sre-team", "--force"]));
    assert!(out.contains("deleted"), "{out}");
}

#[tokio::test]
async fn the_guides_warning_about_two_options_under_one_name_is_enforced() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["role", "--profile", "full"]));
    let out = cluster.run(&["role", "--profile", "minimal"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("already exists and it was made from profile \"full\""),
        "{err}"
    );
    assert!(err.contains("- get persistentvolumes"), "{err}");
    assert!(err.contains("--force"), "{err}");
    let out = ok(&cluster.run(&["role", "--profile", "minimal", "--force"]));
    assert_eq!(
        out,
        "clusterrole.rbac.authorization.k8s.io/mcp-readonly configured\n"
    );

    // A role of that name made by someone else is not taken over silently either.
    let client = cluster.admin_client().await;
    let roles: Api<ClusterRole> = Api::all(client);
    let foreign = ClusterRole {
        metadata: ObjectMeta {
            name: Some("team-view".into()),
            ..ObjectMeta::default()
        },
        ..ClusterRole::default()
    };
    roles
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create");
    let out = cluster.run(&["role", "--name", "team-view"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("it was not made by oc-mcp"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn server_dry_run_validates_without_storing() {
    let cluster = Cluster::start().await;
    let out = ok(&cluster.run(&["role", "--dry-run=server"]));
    assert_eq!(
        out,
        "clusterrole.rbac.authorization.k8s.io/mcp-readonly created (server dry run)\n"
    );
    let roles: Api<ClusterRole> = Api::all(cluster.admin_client().await);
    assert!(roles.get_opt("mcp-readonly").await.expect("get").is_none());
    assert!(
        cluster
            .sandbox
            .audit()
            .iter()
            .any(|e| e.dry_run && e.method == "PATCH")
    );
}

#[tokio::test]
async fn preflight_lists_every_missing_permission_and_writes_nothing() {
    let cluster = Cluster::start().await;
    let out = cluster.run_as("member", &["role"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("create clusterroles.rbac.authorization.k8s.io (cluster-wide)"),
        "{err}"
    );
    assert!(
        err.contains("patch clusterroles.rbac.authorization.k8s.io (cluster-wide)"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    let out = cluster.run_as("member", &["bind", "mcp-users", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stderr).expect("one JSON error object");
    assert_eq!(report["exit_code"], 3);
    let missing: Vec<String> = report["missing_permissions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["verb"].as_str().unwrap_or_default(),
                p["resource"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        missing,
        [
            "get clusterroles",
            "get clusterrolebindings",
            "create clusterrolebindings",
            "patch clusterrolebindings",
            // Binding a role one does not hold needs `bind` on it (escalation prevention).
            "bind clusterroles"
        ]
    );
    assert_eq!(cluster.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn bad_input_exits_2_names_the_problem_and_writes_nothing() {
    let cluster = Cluster::start().await;
    let tools_dir = tempfile::tempdir().expect("tmp");
    let malformed = tools_dir.path().join("tools.json");
    std::fs::write(&malformed, "{\"result\": {\"tools\": \"nope\"}}").expect("write");
    let malformed = malformed.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bind", ""], "an empty group name was given"),
        (vec!["bind"], "no subject given"),
        (
            vec!["role", "--profile", "admin"],
            "invalid value 'admin' for '--profile <PROFILE>'",
        ),
        (
            vec!["role", "--profile", "tools"],
            "--profile tools needs the server's tool list",
        ),
        (
            vec!["role", "--profile", "tools", "--from-tools", &malformed],
            "not a tools/list reply",
        ),
        (
            vec!["role", "--name", "Read Only"],
            "is not a valid object name",
        ),
        (
            vec!["bind", "mcp-users", "mcp-users"],
            "Group mcp-users is given twice",
        ),
        (
            vec!["bind", "--user", "a", "--user", "a"],
            "User a is given twice",
        ),
        (
            vec!["bind", "--service-account", "robot"],
            "has no namespace",
        ),
        (
            vec!["unbind", "--service-account", "ns:"],
            "is not a valid NAMESPACE:NAME",
        ),
        (
            vec!["check", "--group", ""],
            "an empty group name was given",
        ),
        (
            vec!["bind", "--service-account", "mcp-server:bot", "--strict"],
            "only service accounts are bound",
        ),
        (
            vec!["status", "--role", "Bad_Name"],
            "is not a valid object name",
        ),
    ];
    for (args, expected) in cases {
        let out = cluster.run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: {err:?} lacks {expected:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed {}", stdout(&out));
    }
    assert_eq!(
        cluster.writes(),
        Vec::<String>::new(),
        "bad input must not change the cluster"
    );
}

#[tokio::test]
async fn kubectl_runs_the_plugin_against_the_sandbox() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["role"]));
    ok(&cluster.run(&["bind", "mcp-users"]));
    let plugins = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        env!("CARGO_BIN_EXE_kubectl-mcp_rbac"),
        plugins.path().join("kubectl-mcp_rbac"),
    )
    .expect("copy");
    let kubectl = oc_mcp_sandbox::tools::kubectl();
    let path = std::env::join_paths([
        plugins.path().to_path_buf(),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/bin"),
    ])
    .expect("PATH");
    let out = std::process::Command::new(&kubectl)
        .args(["mcp-rbac", "status", "--kubeconfig"])
        .arg(&cluster.admin)
        .env("PATH", path)
        .env("_", &kubectl)
        .output()
        .expect("run kubectl");
    let table = ok(&out);
    assert!(table.contains("mcp-readonly-group-mcp-users"), "{table}");
}
