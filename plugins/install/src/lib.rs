//! `oc mcp-install`: install the Kubernetes MCP Server: project, values overlay, Helm or manifests, TLS route.
//!
//! The binary is `kubectl-mcp_install`; `oc` and `kubectl` find it as `mcp-install`.

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "Install the Kubernetes MCP Server: project, values overlay, Helm or manifests, TLS route.

Guide steps 2 and 8-11 of \"OpenShift MCP Server Deployment on ARO\": create the project, render a
checked values overlay, install with Helm or plain manifests, and expose the server on a TLS route
(or keep it internal).";

#[derive(Debug, Parser)]
#[command(version, about = "Install the Kubernetes MCP Server: project, values overlay, Helm or manifests, TLS route", long_about = LONG_ABOUT, arg_required_else_help = true)]
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
    const NAME: &'static str = "mcp-install";

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
