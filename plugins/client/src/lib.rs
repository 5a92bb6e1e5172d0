//! `oc mcp-client`: connect MCP clients (VS Code, Cursor, Claude, Inspector) to the deployed server.
//!
//! The binary is `kubectl-mcp_client`; `oc` and `kubectl` find it as `mcp-client`.
//!
//! - `config --for <client>`: the client's own configuration for `https://<route host>/mcp`,
//!   printed or merged into its file (other servers untouched, a backup kept).
//! - `token`: a bearer token for the server on stdout: the kubeconfig user's in openshift mode,
//!   an authorization-code + PKCE login on a loopback redirect in entra/oidc mode (or through
//!   the cluster's OAuth server with `--oauth-client`), cached (0600) and refreshed.
//! - `logout`: forget cached tokens.

pub mod args;
pub mod clientfile;
pub mod clients;
pub mod config;
pub mod json;
pub mod jsonfile;
pub mod oauth;
pub mod shell;
pub mod target;
pub mod token;
pub mod tomlfile;
pub mod yamlfile;

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

use crate::args::{ConfigArgs, LogoutArgs, TokenArgs};

const LONG_ABOUT: &str =
    "Connect MCP clients (VS Code, Cursor, Claude, Inspector) to the deployed server.

Guide step 15 of \"OpenShift MCP Server Deployment on ARO\": write each client's configuration
for the server's route, and get a bearer token for it with a real login.

Examples:
  oc mcp-client config --for vscode --write        # .vscode/mcp.json, other servers kept
  oc mcp-client config --for claude-code           # print .mcp.json
  oc mcp-client config --for inspector             # an MCP Inspector CLI command line
  oc mcp-client token --format header | curl -H @- https://<route host>/mcp  # token off argv
  oc mcp-client token --oauth-client               # log in through the cluster's OAuth server
  oc mcp-client logout";

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
    /// Print an MCP client's configuration for the server, or merge it into the client's file
    Config(Box<ConfigArgs>),
    /// Print a bearer token for the server on stdout (logging in when needed)
    Token(Box<TokenArgs>),
    /// Forget cached tokens
    Logout(Box<LogoutArgs>),
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-client";

    fn output(&self) -> &oc_mcp_common::OutputArgs {
        &self.global.output
    }

    async fn run(self) -> Result<ExitCode> {
        match &self.command {
            Command::Config(args) => config::run(&self.global, args).await,
            Command::Token(args) => token::run(&self.global, args).await,
            Command::Logout(args) => token::logout(&self.global, args).await,
            Command::Completion(args) => Ok(cli::print_completion::<Self>(
                args.shell,
                &mut std::io::stdout(),
            )),
        }
    }
}
