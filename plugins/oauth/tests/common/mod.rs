//! Shared test helpers: a sandbox cluster with the `mcp-server` namespace, running the real
//! binary against it, and reading what it wrote.

#![allow(dead_code)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

pub mod graph;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-mcp_oauth");
pub const NAMESPACE: &str = "mcp-server";

pub struct Cluster {
    pub sandbox: Sandbox,
    /// Audit entries made while setting the cluster up (not by the command under test).
    baseline: usize,
}

/// How to run the binary.
#[derive(Default)]
pub struct Run<'a> {
    pub user: Option<&'a str>,
    pub stdin: Option<&'a [u8]>,
    pub env: Vec<(&'a str, String)>,
    pub path: Option<String>,
    pub cwd: Option<&'a Path>,
}

impl Cluster {
    /// A sandbox with the namespace the guide's step 2 creates.
    pub async fn start() -> Self {
        let cluster = Self::bare().await;
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(cluster.admin_client().await)
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        Self {
            baseline: cluster.sandbox.audit().len(),
            ..cluster
        }
    }

    /// A sandbox as it starts (no `mcp-server` namespace).
    pub async fn bare() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        Self {
            sandbox,
            baseline: 0,
        }
    }

    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.sandbox.kubeconfig_path(user).expect("kubeconfig")
    }

    pub async fn admin_client(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &Run::default())
    }

    pub fn run_with(&self, args: &[&str], how: &Run<'_>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(self.kubeconfig(how.user.unwrap_or("admin")))
            .env_remove("KUBECONFIG")
            .env_remove("RUST_LOG")
            .env_remove("OC_MCP_GRAPH_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if how.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if let Some(path) = &how.path {
            cmd.env("PATH", path);
        }
        if let Some(cwd) = how.cwd {
            cmd.current_dir(cwd);
        }
        for (k, v) in &how.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run kubectl-mcp_oauth");
        if let Some(input) = how.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input).expect("write stdin");
        }
        child.wait_with_output().expect("wait")
    }

    /// Writes (anything but reads and access reviews) recorded by the audit log since setup.
    pub fn writes(&self) -> Vec<String> {
        self.sandbox
            .audit()
            .into_iter()
            .skip(self.baseline)
            .filter(oc_mcp_sandbox::AuditEntry::is_write)
            .map(|e| e.summary())
            .collect()
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Assert that the command's stderr holds `expected`, showing all of stderr when not.
#[track_caller]
pub fn assert_stderr_has(out: &Output, expected: &str) {
    let err = stderr(out);
    assert!(err.contains(expected), "{err:?} lacks {expected:?}");
}

/// A Route `name` in the test namespace serving `host` for the Service `kubernetes-mcp-server`.
pub fn service_route(name: &str, host: &str) -> oc_mcp_common::openshift::Route {
    use oc_mcp_common::openshift::{Route, RouteSpec, RouteTargetReference};
    let mut route = Route::named(name);
    route.metadata.namespace = Some(NAMESPACE.into());
    route.spec = RouteSpec {
        host: Some(host.into()),
        to: RouteTargetReference {
            kind: "Service".into(),
            name: "kubernetes-mcp-server".into(),
            weight: None,
        },
        ..RouteSpec::default()
    };
    route
}

impl Cluster {
    /// Create a Route as the administrator (as the chart's Ingress or `oc expose` would).
    pub async fn create_route(&self, route: &oc_mcp_common::openshift::Route) {
        Api::<oc_mcp_common::openshift::Route>::namespaced(self.admin_client().await, NAMESPACE)
            .create(&PostParams::default(), route)
            .await
            .expect("route");
    }
}
