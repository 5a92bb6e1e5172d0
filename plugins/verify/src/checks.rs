//! The catalogue of checks and `--only` / `--skip` selection.

use std::fmt::Write as _;

use oc_mcp_common::{Error, Result};

macro_rules! checks {
    ($($variant:ident => $id:literal, $title:literal;)*) => {
        /// Every check, in report order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId { $($variant,)* }

        impl CheckId {
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant,)*];

            /// The stable id used by `--only`, `--skip`, `-o json` and JUnit.
            pub const fn id(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)* }
            }

            pub const fn title(self) -> &'static str {
                match self { $(CheckId::$variant => $title,)* }
            }
        }
    };
}

checks! {
    ClusterNamespace => "cluster.namespace", "Namespace exists";
    ClusterInstall => "cluster.install", "Helm release or oc-mcp manifests";
    ClusterDeployment => "cluster.deployment", "Deployment available";
    ClusterPods => "cluster.pods", "Pods ready and not restarting";
    ClusterService => "cluster.service", "Service has ready endpoints";
    ClusterServiceAccount => "cluster.service-account", "The server's ServiceAccount holds no role";
    LogsStartup => "logs.startup", "Server log shows a clean start";
    ConfigLint => "config.lint", "config.toml passes the linter";
    ConfigAuthMode => "config.auth-mode", "Auth mode requires a token";
    ConfigSecrets => "config.secrets", "No secret in the ConfigMap";
    ConfigTools => "config.tools", "read_only and disable_destructive on";
    RouteFound => "route.found", "Route found";
    RouteTls => "route.tls", "Route terminates TLS (edge or reencrypt)";
    RouteInsecure => "route.insecure-policy", "Plain HTTP not allowed";
    RouteAdmitted => "route.admitted", "Route admitted by a router";
    RouteServerUrl => "route.server-url", "server_url matches the route";
    RouteOAuthRedirect => "route.oauth-redirect", "OAuthClient redirect URI matches the route";
    RouteOAuthScopes => "route.oauth-scopes", "OAuthClient issues only tokens scoped to the MCP role";
    ExposureRoutes => "exposure.routes", "Every other Route to the server's pods terminates TLS";
    ExposureIngresses => "exposure.ingresses", "Every Ingress to the server's pods has TLS";
    ExposureServices => "exposure.services", "No NodePort, LoadBalancer or external IP reaches the pods";
    ExposureWorkloads => "exposure.workloads", "No other workload receives the server's traffic";
    RbacBindings => "rbac.bindings", "The MCP role is bound to real groups, not virtual ones";
    RbacRole => "rbac.role", "The MCP role is read-only and as its profile says";
    EndpointTls => "endpoint.tls", "TLS certificate valid for the host";
    EndpointHealth => "endpoint.health", "/healthz answers 200";
    UnauthNoToken => "unauth.no-token", "No token: 401";
    UnauthGarbageToken => "unauth.garbage-token", "Garbage token: rejected";
    DiscoveryProtectedResource => "discovery.protected-resource", "Protected-resource metadata as the mode expects";
    DiscoveryAuthorizationServer => "discovery.authorization-server", "Authorization-server metadata as the mode expects";
    DiscoveryAudience => "discovery.audience", "A spec-following client's token has the server's audience";
    McpInitialize => "mcp.initialize", "Initialize with the token";
    McpTools => "mcp.tools", "Only read-only tools";
    PassthroughUser => "passthrough.user", "A read tool works with the user's token";
    PassthroughDenied => "passthrough.denied", "A user outside the bound groups is refused";
    LoginPkce => "login.pkce", "Log in as an MCP client does, then initialize and call a tool (--login)";
}

impl CheckId {
    /// The part before the dot: `cluster`, `route`, ...
    pub fn group(self) -> &'static str {
        let id = self.id();
        id.split_once('.').map_or(id, |(group, _)| group)
    }
}

/// Which checks to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    selected: Vec<CheckId>,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            selected: CheckId::ALL.to_vec(),
        }
    }
}

impl Selection {
    /// `only` (ids or groups; empty means all) minus `skip`.
    pub fn new(only: &[String], skip: &[String]) -> Result<Self> {
        let resolve = |items: &[String], flag: &str| -> Result<Vec<CheckId>> {
            let mut out = Vec::new();
            for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                let matched: Vec<CheckId> = CheckId::ALL
                    .iter()
                    .copied()
                    .filter(|c| c.id() == item || c.group() == item)
                    .collect();
                if matched.is_empty() {
                    return Err(Error::usage_with_hint(
                        format!("{flag} {item:?} is not a check id or group"),
                        format!(
                            "use a group ({}) or an id such as {}",
                            groups().join(", "),
                            CheckId::ALL
                                .iter()
                                .map(|c| c.id())
                                .take(3)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                out.extend(matched);
            }
            Ok(out)
        };
        let only = resolve(only, "--only")?;
        let skip = resolve(skip, "--skip")?;
        let selected: Vec<CheckId> = CheckId::ALL
            .iter()
            .copied()
            .filter(|c| only.is_empty() || only.contains(c))
            .filter(|c| !skip.contains(c))
            .collect();
        if selected.is_empty() {
            return Err(Error::usage("--only and --skip leave no check to run"));
        }
        Ok(Self { selected })
    }

    pub fn contains(&self, id: CheckId) -> bool {
        self.selected.contains(&id)
    }

    /// Whether any check of these is selected.
    pub fn any(&self, ids: &[CheckId]) -> bool {
        ids.iter().any(|id| self.contains(*id))
    }
}

/// The group names, in report order.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in CheckId::ALL {
        if !out.contains(&c.group()) {
            out.push(c.group());
        }
    }
    out
}

/// Text for `--help`: every id, grouped (`route` + `found` is `route.found`).
pub fn catalogue() -> String {
    let mut text = String::new();
    for group in groups() {
        let names: Vec<&str> = CheckId::ALL
            .iter()
            .filter(|c| c.group() == group)
            .map(|c| c.id().split_once('.').map_or(c.id(), |(_, name)| name))
            .collect();
        let _ = writeln!(text, "  {group:<12} {}", names.join(" "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_grouped() {
        let mut ids: Vec<&str> = CheckId::ALL.iter().map(|c| c.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CheckId::ALL.len());
        assert_eq!(
            groups(),
            [
                "cluster",
                "logs",
                "config",
                "route",
                "exposure",
                "rbac",
                "endpoint",
                "unauth",
                "discovery",
                "mcp",
                "passthrough",
                "login"
            ]
        );
    }

    #[test]
    fn only_and_skip_take_ids_and_groups() {
        let s = Selection::new(
            &["route".into(), "mcp.tools".into()],
            &["route.admitted".into()],
        )
        .expect("selection");
        assert!(s.contains(CheckId::RouteTls));
        assert!(s.contains(CheckId::McpTools));
        assert!(!s.contains(CheckId::RouteAdmitted));
        assert!(!s.contains(CheckId::McpInitialize));
        let all = Selection::new(&[], &["cluster".into()]).expect("selection");
        assert!(!all.contains(CheckId::ClusterPods));
        assert!(all.contains(CheckId::PassthroughDenied));
        let err = Selection::new(&["routes".into()], &[]).expect_err("unknown");
        assert_eq!(err.exit_code().code(), 2);
        assert!(Selection::new(&["mcp".into()], &["mcp".into()]).is_err());
    }
}
