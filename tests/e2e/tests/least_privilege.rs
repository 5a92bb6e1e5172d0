//! Least privilege: every command that changes the cluster names, in its preflight, exactly the
//! permissions it needs. A user holding exactly that list succeeds; with any one of them taken
//! away the command stops before writing anything (exit 3) and names the one that is missing.
//!
//! The list is the command's own answer (`-o json` on a user with no rights), so a preflight that
//! forgets a permission fails the "exactly those succeed" step (the API server refuses the
//! request the list left out), and a preflight that reads or writes before asking fails the
//! first step (a 403 with no list). That a listed permission is truly needed is shown for
//! each by the command's requests, not here: the preflight refuses without it by design.

use std::{
    collections::BTreeMap,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use k8s_openapi::api::{
    core::v1::Namespace,
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api, Client,
    api::{DeleteParams, ObjectMeta, PostParams},
};
use oc_mcp_e2e::{plugin_dir, text};
use oc_mcp_sandbox::{AuditEntry, Sandbox, SandboxConfig};
use serde::Deserialize;

const NAMESPACE: &str = "mcp-server";
const DEPLOYER: &str = "deployer";
const GRANT: &str = "oc-mcp-least-privilege";
const CLIENT_SECRET: &str = "least-privilege-client-secret-0123456789";

/// One permission as the preflight reports it (`missing_permissions` in the JSON error).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct Needed {
    verb: String,
    resource: String,
    #[serde(default)]
    group: String,
    namespace: Option<String>,
    name: Option<String>,
}

impl std::fmt::Display for Needed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}.{}", self.verb, self.resource, self.group)?;
        if let Some(name) = &self.name {
            write!(f, "/{name}")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct ErrorReport {
    exit_code: u8,
    #[serde(default)]
    missing_permissions: Vec<Needed>,
}

/// A command, what an administrator does first, and what it reads on stdin.
struct Case {
    binary: &'static str,
    args: &'static [&'static str],
    /// Commands run as the administrator before the deployer's runs.
    setup: &'static [(&'static str, &'static [&'static str])],
    stdin: Option<&'static str>,
}

struct Cluster {
    sandbox: Sandbox,
    plugins: tempfile::TempDir,
    admin: Client,
    admin_kubeconfig: PathBuf,
    deployer_kubeconfig: PathBuf,
}

impl Cluster {
    async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        sandbox.add_user(DEPLOYER, &[]);
        let admin = sandbox.client_for("admin").await.expect("admin client");
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create the namespace");
        Self {
            admin_kubeconfig: sandbox.kubeconfig_path("admin").expect("kubeconfig"),
            deployer_kubeconfig: sandbox.kubeconfig_path(DEPLOYER).expect("kubeconfig"),
            plugins: plugin_dir(),
            admin,
            sandbox,
        }
    }

    fn run(&self, kubeconfig: &Path, binary: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(self.plugins.path().join(binary))
            .args(args)
            .args(["-n", NAMESPACE, "--yes", "--kubeconfig"])
            .arg(kubeconfig)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start plugin");
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin.unwrap_or_default().as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("run plugin")
    }

    fn as_admin(&self, binary: &str, args: &[&str]) {
        let out = self.run(&self.admin_kubeconfig, binary, args, Some(CLIENT_SECRET));
        assert!(
            out.status.success(),
            "setup {binary} {args:?}: {}",
            text(&out.stderr)
        );
    }

    /// Run the case as the deployer; the requests that changed something, with the output.
    fn as_deployer(&self, case: &Case, json: bool) -> (Output, Vec<AuditEntry>) {
        let before = self.sandbox.audit().len();
        let mut args = case.args.to_vec();
        if json {
            args.extend(["-o", "json"]);
        }
        let out = self.run(&self.deployer_kubeconfig, case.binary, &args, case.stdin);
        let writes = self.sandbox.audit()[before..]
            .iter()
            .filter(|e| e.user == DEPLOYER && e.is_write() && !e.dry_run)
            .cloned()
            .collect();
        (out, writes)
    }

    /// Give the deployer exactly `granted`: one ClusterRole for the cluster-wide permissions,
    /// one Role per namespace, replacing whatever an earlier call gave.
    async fn grant(&self, granted: &[Needed]) {
        self.revoke().await;
        let mut by_namespace: BTreeMap<Option<String>, Vec<PolicyRule>> = BTreeMap::new();
        for p in granted {
            by_namespace
                .entry(p.namespace.clone())
                .or_default()
                .push(PolicyRule {
                    api_groups: Some(vec![p.group.clone()]),
                    resources: Some(vec![p.resource.clone()]),
                    verbs: vec![p.verb.clone()],
                    resource_names: p.name.clone().map(|n| vec![n]),
                    ..PolicyRule::default()
                });
        }
        let subject = Subject {
            kind: "User".into(),
            name: DEPLOYER.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Subject::default()
        };
        let meta = |namespace: Option<&str>| ObjectMeta {
            name: Some(GRANT.into()),
            namespace: namespace.map(String::from),
            ..ObjectMeta::default()
        };
        let pp = PostParams::default();
        for (namespace, rules) in by_namespace {
            match namespace.as_deref() {
                None => {
                    let role = ClusterRole {
                        metadata: meta(None),
                        rules: Some(rules),
                        ..ClusterRole::default()
                    };
                    let binding = ClusterRoleBinding {
                        metadata: meta(None),
                        role_ref: role_ref("ClusterRole"),
                        subjects: Some(vec![subject.clone()]),
                    };
                    Api::<ClusterRole>::all(self.admin.clone())
                        .create(&pp, &role)
                        .await
                        .expect("create ClusterRole");
                    Api::<ClusterRoleBinding>::all(self.admin.clone())
                        .create(&pp, &binding)
                        .await
                        .expect("create ClusterRoleBinding");
                }
                Some(ns) => {
                    let role = Role {
                        metadata: meta(Some(ns)),
                        rules: Some(rules),
                    };
                    let binding = RoleBinding {
                        metadata: meta(Some(ns)),
                        role_ref: role_ref("Role"),
                        subjects: Some(vec![subject.clone()]),
                    };
                    Api::<Role>::namespaced(self.admin.clone(), ns)
                        .create(&pp, &role)
                        .await
                        .expect("create Role");
                    Api::<RoleBinding>::namespaced(self.admin.clone(), ns)
                        .create(&pp, &binding)
                        .await
                        .expect("create RoleBinding");
                }
            }
        }
    }

    async fn revoke(&self) {
        let dp = DeleteParams::default();
        let _ = Api::<ClusterRoleBinding>::all(self.admin.clone())
            .delete(GRANT, &dp)
            .await;
        let _ = Api::<ClusterRole>::all(self.admin.clone())
            .delete(GRANT, &dp)
            .await;
        let _ = Api::<RoleBinding>::namespaced(self.admin.clone(), NAMESPACE)
            .delete(GRANT, &dp)
            .await;
        let _ = Api::<Role>::namespaced(self.admin.clone(), NAMESPACE)
            .delete(GRANT, &dp)
            .await;
    }
}

fn role_ref(kind: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: GRANT.into(),
    }
}

fn report(out: &Output) -> ErrorReport {
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON error on stderr:\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

async fn prove_least_privilege(case: Case) {
    let cluster = Cluster::start().await;
    for (binary, args) in case.setup {
        cluster.as_admin(binary, args);
    }
    let what = format!("{} {}", case.binary, case.args.join(" "));

    // 1. No rights: the preflight lists what it needs, and nothing is written.
    let (out, writes) = cluster.as_deployer(&case, true);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{what} without rights: {}",
        text(&out.stderr)
    );
    assert!(writes.is_empty(), "{what} wrote without rights: {writes:?}");
    let mut needed = report(&out).missing_permissions;
    needed.sort();
    needed.dedup();
    assert!(
        !needed.is_empty(),
        "{what}: exit 3 names no permission: {}",
        text(&out.stderr)
    );

    // 2. Exactly those: the command does its work.
    cluster.grant(&needed).await;
    let (out, writes) = cluster.as_deployer(&case, false);
    assert!(
        out.status.success(),
        "{what} with exactly {}: exit {:?}\n{}",
        list(&needed),
        out.status.code(),
        text(&out.stderr)
    );
    assert!(!writes.is_empty(), "{what} succeeded without writing");

    // 3. Any one taken away: exit 3 before any write, naming that one.
    for (i, removed) in needed.iter().enumerate() {
        let mut fewer = needed.clone();
        fewer.remove(i);
        cluster.grant(&fewer).await;
        let (out, writes) = cluster.as_deployer(&case, true);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{what} without {removed}: {}",
            text(&out.stderr)
        );
        assert!(
            writes.is_empty(),
            "{what} without {removed} wrote: {writes:?}"
        );
        let error = report(&out);
        assert_eq!(error.exit_code, 3);
        assert_eq!(
            error.missing_permissions,
            vec![removed.clone()],
            "{what} without {removed}"
        );
    }
    eprintln!(
        "{what}: exactly {} permissions: {}",
        needed.len(),
        list(&needed)
    );
}

fn list(needed: &[Needed]) -> String {
    needed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

const RBAC: &str = "kubectl-mcp_rbac";
const OAUTH: &str = "kubectl-mcp_oauth";
const INSTALL: &str = "kubectl-mcp_install";

#[tokio::test]
async fn rbac_role() {
    prove_least_privilege(Case {
        binary: RBAC,
        args: &["role"],
        setup: &[],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn rbac_bind() {
    prove_least_privilege(Case {
        binary: RBAC,
        args: &["bind", "mcp-users"],
        setup: &[(RBAC, &["role"])],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn rbac_unbind() {
    prove_least_privilege(Case {
        binary: RBAC,
        args: &["unbind", "mcp-users"],
        setup: &[(RBAC, &["role"]), (RBAC, &["bind", "mcp-users"])],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn install_with_manifests() {
    prove_least_privilege(Case {
        binary: INSTALL,
        args: &["--engine", "manifests"],
        setup: &[],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn install_uninstall() {
    prove_least_privilege(Case {
        binary: INSTALL,
        args: &["uninstall"],
        setup: &[(INSTALL, &["--engine", "manifests"])],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn oauth_register_openshift() {
    prove_least_privilege(Case {
        binary: OAUTH,
        args: &["register", "openshift"],
        setup: &[(INSTALL, &["--engine", "manifests"])],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn oauth_rotate() {
    prove_least_privilege(Case {
        binary: OAUTH,
        args: &["rotate"],
        setup: &[
            (INSTALL, &["--engine", "manifests"]),
            (OAUTH, &["register", "openshift"]),
        ],
        stdin: None,
    })
    .await;
}

#[tokio::test]
async fn oauth_secret_set() {
    prove_least_privilege(Case {
        binary: OAUTH,
        args: &["secret", "set", "--from-stdin"],
        setup: &[
            (INSTALL, &["--engine", "manifests"]),
            (OAUTH, &["register", "openshift"]),
        ],
        stdin: Some(CLIENT_SECRET),
    })
    .await;
}

#[tokio::test]
async fn oauth_redirect_sync() {
    prove_least_privilege(Case {
        binary: OAUTH,
        args: &["redirect", "sync"],
        // Registered for a host the route no longer has: the sync has something to change.
        setup: &[
            (INSTALL, &["--engine", "manifests"]),
            (
                OAUTH,
                &[
                    "register",
                    "openshift",
                    "--redirect-uri",
                    "https://stale.apps.example.com/oauth/callback",
                ],
            ),
        ],
        stdin: None,
    })
    .await;
}

/// Kubernetes lets a user who already holds every permission of a role write it without
/// `escalate` and bind it without `bind`; the preflight knows that rule too.
#[tokio::test]
async fn holding_the_roles_permissions_stands_in_for_escalate_and_bind() {
    let cluster = Cluster::start().await;
    cluster.as_admin(RBAC, &["role"]);
    let mut granted = Vec::new();
    for resource in ["clusterroles", "clusterrolebindings"] {
        for verb in ["get", "create", "patch"] {
            granted.push(Needed {
                verb: verb.into(),
                resource: resource.into(),
                group: "rbac.authorization.k8s.io".into(),
                namespace: None,
                name: None,
            });
        }
    }
    cluster.grant(&granted).await;
    let role = Case {
        binary: RBAC,
        args: &["role"],
        setup: &[],
        stdin: None,
    };
    let bind = Case {
        binary: RBAC,
        args: &["bind", "mcp-users"],
        setup: &[],
        stdin: None,
    };
    // Without the role's permissions: escalate and bind are named.
    for (case, verb) in [(&role, "escalate"), (&bind, "bind")] {
        let (out, writes) = cluster.as_deployer(case, true);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        assert!(writes.is_empty(), "{writes:?}");
        let missing = report(&out).missing_permissions;
        assert_eq!(
            missing.iter().map(|p| p.verb.as_str()).collect::<Vec<_>>(),
            [verb],
            "{missing:?}"
        );
    }
    // Holding them (bound to the role itself): both commands work.
    let holder = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some("deployer-holds-mcp-readonly".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "mcp-readonly".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: DEPLOYER.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(cluster.admin.clone())
        .create(&PostParams::default(), &holder)
        .await
        .expect("bind the deployer to the role");
    for case in [&role, &bind] {
        let (out, _) = cluster.as_deployer(case, false);
        assert!(
            out.status.success(),
            "{:?}: {}",
            case.args,
            text(&out.stderr)
        );
    }
}
