//! `oc mcp-verify`: prove a Kubernetes MCP Server deployment works and is safe.
//!
//! The binary is `kubectl-mcp_verify`; `oc` and `kubectl` find it as `mcp-verify`.
//! One run goes flags -> cluster facts (Deployment, pods, logs, config, Route, OAuthClient) ->
//! endpoint probes (TLS, 401s, discovery, an MCP session, passthrough) -> a report with one row
//! per check -> exit code.

pub mod args;
pub mod audience;
pub mod checks;
pub mod cluster;
pub mod cluster_rows;
pub mod exposure;
pub mod http;
pub mod identity;
pub mod login;
pub mod oauth_scopes;
pub mod portforward;
pub mod probes;
pub mod report;
pub mod role;
pub mod run;
pub mod service_account;
pub mod session;
pub mod token;

use clap::{Parser, Subcommand};
use oc_mcp_common::{
    CompletionArgs, ExitCode, OutputArgs, Plugin, ReadOnlyGlobalArgs, Result, cli,
};

const LONG_ABOUT: &str = "Prove a Kubernetes MCP Server deployment works and is safe.

Guide steps 12-14 of \"OpenShift MCP Server Deployment on ARO\", and more than a person checks by
hand: the Deployment and its pods, the server's log and config, the Route, the endpoint's TLS,
401 without a token, OAuth discovery as the auth mode expects, 200 with a token, read-only tools
only, and that the cluster sees the caller's identity. Each check is a report row with its
evidence and a fix. Nothing in the cluster is changed.

Every path to the pods is checked, not only the release's Route: every Route and Ingress to a
Service selecting the pods must terminate TLS, no such Service may be a NodePort, LoadBalancer or
have external IPs, and no other workload may carry the pods' labels (exposure.*).

As whom: the MCP checks say which user and groups the API server sees for the token
(SelfSubjectReview). passthrough.user is proof of what members get only when that identity is a
subject of a binding of --role (itself or through a group) and cannot create pods in every
namespace (SelfSubjectAccessReview); otherwise it warns (an administrator's success proves
nothing). A read the verifying user is forbidden is \"unknown (forbidden)\", never \"missing\",
and the run exits 3.

In entra and oidc mode, discovery.audience compares oauth_audience with the audience a client
that follows the MCP spec gets (the protected-resource metadata's resource, RFC 8707); --login
then logs in that way (PKCE, loopback redirect, browser via $BROWSER or xdg-open) and uses the
token (login.pkce).

The endpoint is the Route's https://<host>/mcp unless --url or --port-forward says otherwise.
The token for it is the kubeconfig user's (what `oc whoami -t` prints, exec plugins included)
unless --token-stdin, --token-env or --token-file gives one; a token is never a command-line
value and never printed. --endpoint-ca and --endpoint-insecure are for the MCP endpoint;
--certificate-authority and --insecure-skip-tls-verify stay the API server's, as in kubectl.

Examples:
  oc mcp-verify                                   # the release in mcp-server, through its Route
  oc mcp-verify --port-forward                    # an internal deployment (no Route)
  oc mcp-verify --endpoint-ca router-ca.crt --junit verify.xml -o json
  oc whoami -t | oc mcp-verify --token-stdin --denied-token-file outsider.token
  oc mcp-verify --url https://mcp.example.com/mcp --resolve mcp.example.com:443:10.0.0.5";

fn after_long_help() -> String {
    format!(
        "Checks: GROUP NAME..., each id is GROUP.NAME; --only and --skip take ids or groups:\n{}\n\
         Exit codes: 0 every check passed (warnings allowed unless --strict), 1 a check failed,\n\
         2 usage, 3 the token was rejected or a read was forbidden, 4 the cluster or the\n\
         endpoint could not be reached.\n\
         -o json|yaml prints a report with apiVersion {}.",
        checks::catalogue(),
        report::API_VERSION
    )
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Prove a Kubernetes MCP Server deployment works and is safe",
    long_about = LONG_ABOUT,
    after_long_help = after_long_help(),
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Read-only: no `--dry-run` or `--yes`, so passing either is a usage error.
    #[command(flatten)]
    pub global: ReadOnlyGlobalArgs,
    #[command(flatten)]
    pub verify: args::VerifyArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-verify";

    fn output(&self) -> &OutputArgs {
        &self.global.output
    }

    async fn run(self) -> Result<ExitCode> {
        match &self.command {
            Some(Command::Completion(args)) => Ok(cli::print_completion::<Self>(
                args.shell,
                &mut std::io::stdout(),
            )),
            None => Box::pin(run::run(&self.global, &self.verify)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Parser, error::ErrorKind};

    use super::Cli;

    #[test]
    fn the_run_mode_flags_are_usage_errors() {
        for flag in ["--dry-run", "--dry-run=server", "--yes", "-y"] {
            let err = Cli::try_parse_from(["kubectl-mcp_verify", flag])
                .expect_err("verify only reads: no run mode");
            assert_eq!(err.kind(), ErrorKind::UnknownArgument, "{flag}");
            assert_eq!(err.exit_code(), 2, "{flag}");
        }
        Cli::try_parse_from(["kubectl-mcp_verify", "-o", "json", "-vv"]).expect("output flags");
    }
}
