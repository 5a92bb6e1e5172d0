//! `oc mcp-rbac`: read-only RBAC for the Kubernetes MCP Server: ClusterRole, group bindings, access checks.
//!
//! The binary is `kubectl-mcp_rbac`; `oc` and `kubectl` find it as `mcp-rbac`.

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "Read-only RBAC for the Kubernetes MCP Server: ClusterRole, group bindings, access checks.

Guide steps 3-5 of \"OpenShift MCP Server Deployment on ARO\": create the read-only ClusterRole the
MCP server's users need, bind it to groups, and prove with SubjectAccessReviews that access is
read-only.";

#[derive(Debug, Parser)]
#[command(version, about = "Read-only RBAC for the Kubernetes MCP Server: ClusterRole, group bindings, access checks", long_about = LONG_ABOUT, arg_required_else_help = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-rbac";

    fn global(&self) -> &GlobalArgs {
        &self.global
    }

    async fn run(self) -> Result<ExitCode> {
        match self.command {
            Command::Completion(args) => Ok(cli::print_completion::<Self>(
                args.shell,
                &mut std::io::stdout(),
            )),
        }
    }
}
