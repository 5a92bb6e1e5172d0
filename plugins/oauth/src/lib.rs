//! `oc mcp-oauth`: oAuth for the Kubernetes MCP Server: OpenShift OAuthClient or Entra ID app, client secret.
//!
//! The binary is `kubectl-mcp_oauth`; `oc` and `kubectl` find it as `mcp-oauth`.

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "OAuth for the Kubernetes MCP Server: OpenShift OAuthClient or Entra ID app, client secret.

Guide steps 6-7 of \"OpenShift MCP Server Deployment on ARO\": register the OAuth client (an
OpenShift OAuthClient or an Entra ID app registration) and store its secret in a Secret, never on
a command line or in a ConfigMap.";

#[derive(Debug, Parser)]
#[command(version, about = "OAuth for the Kubernetes MCP Server: OpenShift OAuthClient or Entra ID app, client secret", long_about = LONG_ABOUT, arg_required_else_help = true)]
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
    const NAME: &'static str = "mcp-oauth";

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
