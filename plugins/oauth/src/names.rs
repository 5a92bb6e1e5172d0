//! The names oc mcp-oauth takes: the Secret's key, object names and DNS labels, and the
//! `--release` / `--secret-name` pair several commands share.

use oc_mcp_common::defaults;

/// The Secret key the server's drop-in config reads.
pub const SECRET_KEY: &str = defaults::OAUTH_SECRET_KEY;

/// Object names (DNS subdomains: OAuthClient, Secret, ConfigMap) and DNS labels (namespaces,
/// Helm releases): one implementation for every plugin; flags parse straight into the types.
pub use oc_mcp_common::names::{DnsLabel, ObjectName, validate_dns_label, validate_object_name};

/// `--release` and `--secret-name`, shared by the commands that touch both.
#[derive(Debug, Clone, clap::Args)]
pub struct DeploymentArgs {
    /// The Helm release (and Service) of the MCP server: its Route gives the redirect host
    #[arg(long, default_value = defaults::RELEASE, value_name = "NAME")]
    pub release: DnsLabel,

    /// The Secret that holds the client secret (key `sts_client_secret`)
    #[arg(long, default_value = defaults::OAUTH_SECRET, value_name = "NAME")]
    pub secret_name: ObjectName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(validate_object_name("kubernetes-mcp-server", "--name").is_ok());
        assert!(validate_object_name("a.b", "--name").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a b", "a/b"] {
            let err = validate_object_name(bad, "--name").expect_err(bad);
            assert_eq!(err.exit_code().code(), 2);
        }
        assert!(validate_dns_label("mcp-server", "namespace").is_ok());
        assert!(validate_dns_label("a.b", "namespace").is_err());
        assert!(validate_dns_label(&"a".repeat(64), "namespace").is_err());
    }
}
