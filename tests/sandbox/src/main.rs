//! `oc-mcp-sandbox serve --dir DIR`: run a sandbox until SIGTERM/SIGINT.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "oc-mcp-sandbox",
    version,
    about = "A local OpenShift API server emulation for trying and testing oc-mcp"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the sandbox API; writes DIR/kubeconfig, DIR/ca.crt, DIR/audit.jsonl and DIR/ready.
    Serve {
        /// Directory for the kubeconfig, CA, audit log and ready marker.
        #[arg(long)]
        dir: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The cluster apps domain.
        #[arg(long, default_value = "apps.sandbox.example.com")]
        apps_domain: String,
        /// The kubernetes-mcp-server binary run for pods of its image (default:
        /// target/tools/kubernetes-mcp-server, or $OC_MCP_SERVER_BIN).
        #[arg(long, value_name = "PATH")]
        mcp_server_bin: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            dir,
            port,
            apps_domain,
            mcp_server_bin,
        } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let _ = std::fs::remove_file(dir.join("ready"));
                let cfg = SandboxConfig {
                    dir: Some(dir.clone()),
                    port,
                    apps_domain,
                    mcp_server_bin,
                    ..SandboxConfig::default()
                };
                let sb = Sandbox::start(cfg).await?;
                oc_mcp_sandbox::sandbox_write_private(
                    &dir.join("kubeconfig"),
                    &sb.kubeconfig_all("admin")?,
                )?;
                std::fs::write(dir.join("ready"), format!("{}\n", sb.url()))?;
                eprintln!(
                    "oc-mcp-sandbox serving {} (kubeconfig: {})",
                    sb.url(),
                    dir.join("kubeconfig").display()
                );
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                let _ = std::fs::remove_file(dir.join("ready"));
                sb.shutdown();
                Ok(())
            })
        }
    }
}
