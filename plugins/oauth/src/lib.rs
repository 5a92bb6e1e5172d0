//! `oc mcp-oauth`: OAuth for the Kubernetes MCP Server (guide steps 6-7): the OpenShift
//! OAuthClient or the Entra ID app registration, and the client secret in a Secret.
//!
//! The binary is `kubectl-mcp_oauth`; `oc` and `kubectl` find it as `mcp-oauth`.
//! Each command goes flags -> a validated plan -> render or apply -> report -> exit code.
//! Client secrets are generated here or read from stdin, a variable, a file or a hidden prompt;
//! they go only to the OAuthClient (or Entra) and the Secret, never to argv, stdout, logs,
//! error messages or files.

pub mod apply;
pub mod discover;
pub mod entra;
pub mod names;
pub mod openshift_client;
pub mod redirect;
pub mod secret;
pub mod settings;
pub mod status;
pub mod target;
pub mod uris;

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "OAuth for the Kubernetes MCP Server: OpenShift OAuthClient or Entra ID app, client secret.

Guide steps 6-7 of \"OpenShift MCP Server Deployment on ARO\": register the OAuth client (an
OpenShift OAuthClient or an Entra ID app registration) and store its secret in a Secret, never on
a command line or in a ConfigMap.

Examples:
  oc mcp-oauth register openshift                 # OAuthClient + Secret, generated secret
  oc mcp-oauth register entra --tenant contoso.onmicrosoft.com --admin-consent
  oc mcp-oauth register entra --tenant TENANT --dry-run=client   # the steps, by hand
  oc mcp-oauth rotate                             # new secret, the old one stays valid
  printf %s \"$SECRET\" | oc mcp-oauth secret set --from-stdin
  oc mcp-oauth discover https://login.microsoftonline.com/TENANT/v2.0
  oc mcp-oauth redirect sync                      # after install: match the Route host
  oc mcp-oauth status";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "OAuth for the Kubernetes MCP Server: OpenShift OAuthClient or Entra ID app, client secret",
    long_about = LONG_ABOUT,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register the OAuth client: an OpenShift OAuthClient or an Entra ID application (step 6)
    #[command(subcommand)]
    Register(RegisterCommand),
    /// Give the OpenShift OAuthClient a new secret; the old one stays valid in additionalSecrets
    Rotate(openshift_client::RotateArgs),
    /// The client secret in the Secret `mcp-oauth-credentials` (step 7)
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Check an OIDC issuer: discovery document, issuer, JWKS, algorithms, endpoints
    Discover(discover::DiscoverArgs),
    /// Redirect URIs after install
    #[command(subcommand)]
    Redirect(RedirectCommand),
    /// Show the OAuthClient, its redirect URIs against the Route, the Secret and the settings
    Status(status::StatusArgs),
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Server-side apply an OpenShift OAuthClient and store its generated secret in the Secret
    Openshift(openshift_client::OpenshiftArgs),
    /// Register (or update) the Entra ID application through Microsoft Graph
    Entra(entra::EntraArgs),
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store the client secret (from stdin, a variable, a file or a hidden prompt)
    Set(secret::SetArgs),
}

#[derive(Debug, Subcommand)]
pub enum RedirectCommand {
    /// Compare the registered redirect URIs with the Route's host and fix them
    Sync(redirect::SyncArgs),
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-oauth";

    fn output(&self) -> &oc_mcp_common::OutputArgs {
        &self.global.output
    }

    async fn run(self) -> Result<ExitCode> {
        let global = &self.global;
        match &self.command {
            Command::Completion(args) => Ok(cli::print_completion::<Self>(
                args.shell,
                &mut std::io::stdout(),
            )),
            Command::Register(RegisterCommand::Openshift(args)) => {
                openshift_client::run_register(global, args).await
            }
            Command::Register(RegisterCommand::Entra(args)) => entra::run(global, args).await,
            Command::Rotate(args) => openshift_client::run_rotate(global, args).await,
            Command::Secret(SecretCommand::Set(args)) => secret::run_set(global, args).await,
            Command::Discover(args) => discover::run(global, args).await,
            Command::Redirect(RedirectCommand::Sync(args)) => redirect::run(global, args).await,
            Command::Status(args) => status::run(global, args).await,
        }
    }
}

/// Write a short note for people on stderr (stdout carries only the result).
pub fn note(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
