//! `oc mcp-verify`: prove a Kubernetes MCP Server deployment works and is safe.
//!
//! The binary is `kubectl-mcp_verify`; `oc` and `kubectl` find it as `mcp-verify`.

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str = "Prove a Kubernetes MCP Server deployment works and is safe.

Guide steps 12-14 of \"OpenShift MCP Server Deployment on ARO\": pods, route, TLS, 401 without a
token, 200 with one, read-only tools only, and per-user passthrough, each as a report row with
its evidence and a fix.";

#[derive(Debug, Parser)]
#[command(version, about = "Prove a Kubernetes MCP Server deployment works and is safe", long_about = LONG_ABOUT, arg_required_else_help = true)]
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
    const NAME: &'static str = "mcp-verify";

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
