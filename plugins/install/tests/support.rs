//! The sandbox and the install binary, as the install tests drive them.

use std::{
    path::Path,
    process::{Command, Output},
};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use oc_mcp_common::openshift::AuthenticationConfig;
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

pub struct Cluster {
    pub sandbox: Sandbox,
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        Self {
            sandbox: Sandbox::start(config).await.expect("sandbox"),
        }
    }

    pub fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-mcp_install"));
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(self.sandbox.kubeconfig_path(user).expect("kubeconfig"))
            .env_remove("KUBECONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command("admin", args)
            .output()
            .expect("run kubectl-mcp_install")
    }

    pub async fn admin(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }

    /// Writes other than access reviews, from the audit log.
    pub fn writes(&self) -> Vec<String> {
        self.sandbox
            .audit()
            .into_iter()
            .filter(oc_mcp_sandbox::AuditEntry::is_write)
            .map(|e| e.summary())
            .collect()
    }

    /// The server's `config.toml` as the release's ConfigMap holds it.
    pub async fn live_config(&self) -> String {
        let config_maps: Api<ConfigMap> = Api::namespaced(self.admin().await, "mcp-server");
        let live = config_maps
            .get("kubernetes-mcp-server")
            .await
            .expect("the release's ConfigMap");
        live.data.expect("data")["config.toml"].clone()
    }

    /// Change an object the way a person does (`kubectl edit`, a console): a merge patch under
    /// the field manager `manager`.
    pub async fn hand_edit<K>(&self, name: &str, manager: &str, patch: serde_json::Value)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
        K::DynamicType: Default,
    {
        let params = PatchParams {
            field_manager: Some(manager.to_owned()),
            ..PatchParams::default()
        };
        Api::<K>::namespaced(self.admin().await, "mcp-server")
            .patch(name, &params, &Patch::Merge(patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} edits {name}: {e}"));
    }

    /// Run each case: each exits 2 with stderr holding every one of its texts, never panics
    /// and never echoes `secret`; together they write nothing.
    #[track_caller]
    pub fn assert_refused(&self, cases: &[(Vec<&str>, &[&str])], secret: &str) {
        for (args, expected) in cases {
            let out = self.run(args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            for want in *expected {
                assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
            }
            assert!(!err.contains("panicked"), "{err}");
            assert!(!err.contains(secret), "{args:?}: echoed {secret:?}");
        }
        assert_eq!(
            self.writes(),
            Vec::<String>::new(),
            "refusals change nothing"
        );
    }

    /// oidc mode with the sandbox's issuer, its CA (`--issuer-ca`) and `client_id`.
    pub fn oidc_flags(&self, client_id: &str) -> Vec<String> {
        let ca = self.sandbox.dir().join("ca.crt");
        [
            "--auth",
            "oidc",
            "--issuer",
            self.sandbox.issuer_url(),
            "--client-id",
            client_id,
            "--issuer-ca",
            &ca.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Create a cluster-scoped object with only a name, as an administrator prepares a cluster.
    pub async fn create_named<K>(&self, name: &str)
    where
        K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope>
            + Default
            + Clone
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned,
        K::DynamicType: Default,
    {
        let mut object = K::default();
        object.meta_mut().name = Some(name.to_owned());
        Api::<K>::all(self.admin().await)
            .create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
    }

    /// Make the API server trust an OIDC issuer, as a cluster admin configures external OIDC.
    pub async fn trust_issuer(&self, issuer: &str, audience: &str) {
        let auths: Api<AuthenticationConfig> = Api::all(self.admin().await);
        let patch = serde_json::json!({
            "apiVersion": "config.openshift.io/v1", "kind": "Authentication",
            "metadata": {"name": "cluster"},
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "idp",
                "issuer": {"issuerURL": issuer, "audiences": [audience]}}]}
        });
        auths
            .patch(
                "cluster",
                &PatchParams::apply("cluster-admin").force(),
                &Patch::Apply(&patch),
            )
            .await
            .expect("configure external OIDC");
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

/// Write `(file name, content)` pairs into `dir`; their paths, as flags take them.
pub fn write_files<const N: usize>(dir: &Path, files: [(&str, &str); N]) -> [String; N] {
    files.map(|(name, content)| {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        path.display().to_string()
    })
}

/// Both outputs, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
