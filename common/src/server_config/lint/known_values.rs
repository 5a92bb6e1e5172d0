//! The values the server accepts for its enumerated keys, and the limits the linter holds
//! them to.

/// Toolsets registered in v0.0.67 (its `--help`).
pub const KNOWN_TOOLSETS: &[&str] = &[
    "config",
    "core",
    "helm",
    "kcp",
    "kiali",
    "kubevirt",
    "netobserv",
    "tekton",
];
/// `cluster_provider_strategy` values of v0.0.67.
pub const CLUSTER_PROVIDER_STRATEGIES: &[&str] = &["disabled", "in-cluster", "kcp", "kubeconfig"];
/// `token_exchange_strategy` values.
pub const TOKEN_EXCHANGE_STRATEGIES: &[&str] = &["rfc8693", "keycloak-v1", "entra-obo"];
/// `token_exchange.client_auth.method` values (v0.0.67+).
pub const CLIENT_AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "jwt_file",
];
/// `sts_auth_style` values (v0.0.66 and older).
pub const STS_AUTH_STYLES: &[&str] = &["params", "header", "assertion", "federated"];
pub(super) const TLS_VERSIONS: &[&str] = &[
    "1.0",
    "1.1",
    "1.2",
    "1.3",
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];
pub(super) const ENTRA_HOST: &str = "login.microsoftonline.com";

/// The highest `log_level` whose log holds no cluster data and no request headers.
///
/// The server logs MCP requests and tool results (what a tool read from the cluster: pod
/// logs, ConfigMaps, events) from 6, request headers from 7, and client-go logs API request
/// URLs from 6, headers from 7 and response bodies (Secrets included) from 8. Level 5 logs
/// tool names and (sanitised) arguments only; anyone who reads the pod's log must not learn
/// more than that.
pub const MAX_SAFE_LOG_LEVEL: i64 = 5;
