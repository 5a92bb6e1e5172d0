//! Shared parts of the oc-mcp plugins: kubectl-style flags ([`KubeArgs`]), output formats,
//! errors and exit codes, the [`Plan`] model, preflight checks and the OpenShift types.
//!
//! Every plugin's data goes one way: flags -> [`Plan`] -> render or apply -> report -> exit code.

pub mod cli;
pub mod duration;
pub mod error;
pub mod https_url;
pub mod kube_args;
pub mod kube_token;
pub mod lock;
pub mod login;
pub mod mcp;
pub mod names;
pub mod openshift;
pub mod output;
pub mod plan;
pub mod preflight;
pub mod rbac_intent;
pub mod release;
pub mod retry;
pub mod secret;
pub mod secret_input;
pub mod server_config;
pub mod subject;
pub mod tenant;

pub use cli::{CompletionArgs, GlobalArgs, Plugin, ReadOnlyGlobalArgs};
pub use error::{Error, ExitCode, Result};
pub use kube_args::KubeArgs;
pub use output::{ChangeArgs, DryRun, OutputArgs, OutputFormat};
pub use plan::{ApplyMode, ApplyReport, Plan, PlannedObject};

/// Make ring the process-wide rustls crypto provider (kube, reqwest and rmcp all use rustls).
/// Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Default names used across the plugins.
pub mod defaults {
    pub const NAMESPACE: &str = "mcp-server";
    pub const RELEASE: &str = "kubernetes-mcp-server";
    pub const SERVICE_PORT: u16 = 8080;
    pub const CLUSTER_ROLE: &str = "mcp-readonly";
    pub const OAUTH_CLIENT: &str = "kubernetes-mcp-server";
    pub const OAUTH_SECRET: &str = "mcp-oauth-credentials";
    pub const OAUTH_SECRET_KEY: &str = "sts_client_secret";
}
