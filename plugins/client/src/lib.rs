//! `oc mcp-client`: connect MCP clients (VS Code, Cursor, Claude, Inspector) to the deployed server.
//!
//! The binary is `kubectl-mcp_client`; `oc` and `kubectl` find it as `mcp-client`.

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "Connect MCP clients (VS Code, Cursor, Claude, Inspector) to the deployed server.

Guide step 15 of \"OpenShift MCP Server Deployment on ARO\": write each client's configuration
for the server's route, and get a bearer token for it with a real login.";

#[derive(Debug, Parser)]
#[command(version, about = "Connect MCP clients (VS Code, Cursor, Claude, Inspector) to the deployed server", long_about = LONG_ABOUT, arg_required_else_help = true)]
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
    const NAME: &'static str = "mcp-client";

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
