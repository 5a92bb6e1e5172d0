//! What the linter is told about the deployment beyond the file itself.

use crate::server_config::version::ServerVersion;

/// How the server is reached, as far as the caller knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Exposure {
    /// Not known (linting a file on its own).
    #[default]
    Unknown,
    /// No route; reached through port-forward or from inside the cluster.
    Internal,
    /// A public Route (or Ingress) with this host, TLS terminated at the router.
    PublicRoute { host: String },
}

/// What the linter needs to know beyond the file itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintContext {
    /// The server release that will read the config (`Latest` when unknown).
    pub server_version: ServerVersion,
    /// The main file is stored in a ConfigMap, readable by anyone who can read ConfigMaps in
    /// the namespace, so it must hold no secret.
    pub main_file_in_configmap: bool,
    /// How the server is reached.
    pub exposure: Exposure,
}

impl LintContext {
    /// A context for `server_version`, exposure unknown, not a ConfigMap.
    pub fn new(server_version: ServerVersion) -> Self {
        Self {
            server_version,
            ..Self::default()
        }
    }

    /// The main file is a ConfigMap.
    #[must_use]
    pub fn in_configmap(mut self) -> Self {
        self.main_file_in_configmap = true;
        self
    }

    /// The server is behind a public route with `host`.
    #[must_use]
    pub fn public_route(mut self, host: impl Into<String>) -> Self {
        self.exposure = Exposure::PublicRoute { host: host.into() };
        self
    }

    /// The server has no route.
    #[must_use]
    pub fn internal(mut self) -> Self {
        self.exposure = Exposure::Internal;
        self
    }
}
