//! `oc mcp-rbac`: read-only RBAC for the Kubernetes MCP Server (guide steps 3-5).
//!
//! The binary is `kubectl-mcp_rbac`; `oc` and `kubectl` find it as `mcp-rbac`.
//! Each command goes flags -> a validated plan -> render or apply -> report -> exit code.

pub mod bind;
pub mod check;
pub mod profiles;
pub mod role;
pub mod status;
pub mod subjects;

use clap::{Parser, Subcommand};
use oc_mcp_common::{CompletionArgs, ExitCode, GlobalArgs, Plugin, Result, cli};

const LONG_ABOUT: &str =
    "Read-only RBAC for the Kubernetes MCP Server: ClusterRole, group bindings, access checks.

Guide steps 3-5 of \"OpenShift MCP Server Deployment on ARO\": create the read-only ClusterRole the
MCP server's users need, bind it to groups, and prove with SubjectAccessReviews that access is
read-only.

Examples:
  oc mcp-rbac role --profile full              # the guide's option A
  oc mcp-rbac role --profile minimal --dry-run=client -o yaml
  oc mcp-rbac bind mcp-users --user auditor
  oc mcp-rbac status
  oc mcp-rbac check                            # every bound subject
  oc mcp-rbac unbind mcp-users";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Read-only RBAC for the Kubernetes MCP Server: ClusterRole, group bindings, access checks",
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
    /// Create or update the read-only ClusterRole (guide steps 3-4)
    Role(role::RoleArgs),
    /// Bind the ClusterRole to groups, users or service accounts: one binding per subject (step 5)
    Bind(bind::BindArgs),
    /// Remove the bindings `bind` made for the given subjects
    Unbind(bind::UnbindArgs),
    /// Show the role, every binding that references it, its subjects, and what is unsafe (exit 1
    /// on a risky rule, drift from the profile, or a binding to everyone or anonymous)
    Status(status::StatusArgs),
    /// Prove access is read-only, judged against the role's profile: every binding the subjects
    /// hold, and SubjectAccessReviews in cluster scope and each of their namespaces (exit 1 on
    /// any deviation)
    Check(check::CheckArgs),
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-rbac";

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
            Command::Role(args) => role::run(global, args).await,
            Command::Bind(args) => bind::run_bind(global, args).await,
            Command::Unbind(args) => bind::run_unbind(global, args).await,
            Command::Status(args) => status::run(global, args).await,
            Command::Check(args) => check::run(global, args).await,
        }
    }
}
