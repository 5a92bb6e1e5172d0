//! `oc-mcp-sandbox serve --dir DIR`: run a sandbox until SIGTERM/SIGINT.
//! `oc-mcp-sandbox token --dir DIR --user member`: mint a token from that sandbox's issuer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "oc-mcp-sandbox",
    version,
    about = "A local OpenShift (or plain Kubernetes) API server emulation for trying and testing oc-mcp"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the sandbox. Writes DIR/kubeconfig, DIR/ca.crt, DIR/audit.jsonl, DIR/issuer,
    /// DIR/resolve, DIR/apps-domain, then DIR/ready (the API URL); DIR/issuer-key.pem follows
    /// once the issuer's key is generated.
    Serve {
        /// Directory for the kubeconfig, CA, audit log, issuer, resolve file and ready marker.
        #[arg(long)]
        dir: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The router's address: loopback only (127.0.0.0/8 or ::1).
        #[arg(long, value_name = "IP", default_value = "127.0.0.1", value_parser = loopback)]
        router_addr: std::net::IpAddr,
        /// The router's HTTPS port (0 picks a free one; below 1024 needs root or
        /// CAP_NET_BIND_SERVICE).
        #[arg(long, value_name = "PORT", default_value_t = 0)]
        router_port: u16,
        /// The cluster apps domain.
        #[arg(long, default_value = "apps.sandbox.example.com")]
        apps_domain: String,
        /// The kubernetes-mcp-server binary run for pods of its image (default:
        /// target/tools/kubernetes-mcp-server, or $OC_MCP_SERVER_BIN).
        #[arg(long, value_name = "PATH")]
        mcp_server_bin: Option<PathBuf>,
        /// The API server accepts JWTs of the sandbox OIDC issuer (default: classic ARO,
        /// OpenShift OAuth tokens only).
        #[arg(long)]
        trust_issuer: bool,
        /// Default audience of issuer tokens (and the API server's, with --trust-issuer).
        #[arg(long, default_value = oc_mcp_sandbox::issuer::DEFAULT_AUDIENCE)]
        oidc_audience: String,
        /// The kubelet's first restart back-off in seconds (doubles up to 300).
        #[arg(long, default_value_t = 10)]
        crash_backoff: u64,
        /// Fault rules for the API server and the router (see `oc_mcp_sandbox::faults`), e.g.
        /// "kind=503,share=0.5,path=/api/v1/*,verb=list,max=10;kind=latency,ms=300".
        #[arg(long, value_name = "RULES")]
        faults: Option<String>,
        /// Objects to store before serving, from a JSON file (an array of objects or a
        /// `List`), without admission: large fixtures load in a second, not minutes of POSTs.
        #[arg(long, value_name = "FILE")]
        preload: Option<PathBuf>,
        /// The cluster emulated: `openshift`, or `kubernetes` (no OpenShift API groups or
        /// OAuth server; an ingress controller serves Ingresses, TLS from their Secrets).
        #[arg(long, default_value = "openshift", value_name = "FLAVOUR")]
        flavour: oc_mcp_sandbox::Flavour,
        /// With `--flavour kubernetes`: serve cert-manager.io (ClusterIssuer `sandbox-ca`)
        /// and issue annotated Ingresses' missing TLS Secrets from the sandbox CA.
        #[arg(long)]
        cert_manager: bool,
    },
    /// Print an access token (RS256 JWT) from a running sandbox's OIDC issuer.
    Token {
        /// The directory `serve` writes to.
        #[arg(long)]
        dir: PathBuf,
        /// The user (sub, preferred_username); groups are the sandbox user's unless --group.
        #[arg(long, default_value = "member")]
        user: String,
        /// The `aud` claim (default: the issuer's default audience).
        #[arg(long)]
        audience: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        expires_in: u64,
        /// Groups for the `groups` claim (repeatable); replaces the user's own.
        #[arg(long = "group")]
        groups: Vec<String>,
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
            router_addr,
            router_port,
            apps_domain,
            mcp_server_bin,
            trust_issuer,
            oidc_audience,
            crash_backoff,
            faults,
            preload,
            flavour,
            cert_manager,
        } => {
            let faults = match faults {
                Some(spec) => oc_mcp_sandbox::faults::parse(&spec)
                    .map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
                None => Vec::new(),
            };
            let preload = match preload {
                Some(path) => read_preload(&path)?,
                None => Vec::new(),
            };
            let cfg = SandboxConfig {
                dir: Some(dir.clone()),
                port,
                router_addr,
                router_https_port: router_port,
                apps_domain,
                mcp_server_bin,
                trust_issuer,
                oidc_audience: oidc_audience.clone(),
                crash_backoff: Duration::from_secs(crash_backoff),
                faults,
                preload,
                flavour,
                cert_manager,
                ..SandboxConfig::default()
            };
            serve(&dir, cfg, &oidc_audience)
        }
        Cmd::Token {
            dir,
            user,
            audience,
            expires_in,
            groups,
        } => token(&dir, &user, audience, expires_in, groups),
    }
}

fn serve(dir: &Path, cfg: SandboxConfig, audience: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let _ = std::fs::remove_file(dir.join("ready"));
        let sb = Sandbox::start(cfg).await?;
        oc_mcp_sandbox::sandbox_write_private(
            &dir.join("kubeconfig"),
            &sb.kubeconfig_all("admin")?,
        )?;
        std::fs::write(dir.join("oidc-audience"), format!("{audience}\n"))?;
        // RSA key generation takes seconds in debug builds: `token` waits for this file, so
        // readiness does not.
        let key_path = dir.join("issuer-key.pem");
        std::thread::spawn(move || match oc_mcp_sandbox::issuer::signing_key() {
            Ok(key) => {
                // Written aside and renamed, so `token` never reads half a key.
                let tmp = key_path.with_extension("pem.tmp");
                let done = oc_mcp_sandbox::sandbox_write_private(&tmp, &key.pem)
                    .map_err(|e| e.to_string())
                    .and_then(|()| std::fs::rename(&tmp, &key_path).map_err(|e| e.to_string()));
                if let Err(e) = done {
                    eprintln!("oc-mcp-sandbox: writing {}: {e}", key_path.display());
                }
            }
            Err(e) => eprintln!("oc-mcp-sandbox: {e}"),
        });
        std::fs::write(dir.join("ready"), format!("{}\n", sb.url()))?;
        eprintln!(
            "oc-mcp-sandbox serving {} (kubeconfig: {}; router https {}, http {}; issuer {})",
            sb.url(),
            dir.join("kubeconfig").display(),
            sb.router_https_addr(),
            sb.router_http_addr(),
            sb.issuer_url()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = std::fs::remove_file(dir.join("ready"));
        // Stops the listeners and kills every pod process.
        sb.shutdown();
        Ok(())
    })
}

/// `--router-addr`: refused (exit 2) off loopback, as the sandbox listens nowhere else.
fn loopback(value: &str) -> Result<std::net::IpAddr, String> {
    let ip: std::net::IpAddr = value
        .parse()
        .map_err(|_| format!("{value:?} is not an IP address (e.g. 127.77.0.1)"))?;
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(format!(
            "{ip} is not a loopback address: the sandbox listens on 127.0.0.0/8 or ::1 only"
        ))
    }
}

/// The objects of a `--preload` file: a JSON array of objects, or a `List` with `items`.
fn read_preload(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--preload: reading {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("--preload: {} is not JSON", path.display()))?;
    match value {
        serde_json::Value::Array(items) => Ok(items),
        serde_json::Value::Object(mut list) => match list.remove("items") {
            Some(serde_json::Value::Array(items)) => Ok(items),
            _ => anyhow::bail!("--preload: {} is an object without items", path.display()),
        },
        _ => anyhow::bail!(
            "--preload: {} holds neither an array nor a List",
            path.display()
        ),
    }
}

fn read_trimmed(p: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(p)
        .with_context(|| {
            format!(
                "reading {} (is `oc-mcp-sandbox serve --dir {}` running?)",
                p.display(),
                p.parent()
                    .map_or_else(String::new, |d| d.display().to_string())
            )
        })?
        .trim()
        .to_string())
}

fn token(
    dir: &Path,
    user: &str,
    audience: Option<String>,
    expires_in: u64,
    groups: Vec<String>,
) -> anyhow::Result<()> {
    // serve writes the key once it is generated; wait a little for a sandbox still starting.
    let start = Instant::now();
    while !dir.join("issuer-key.pem").exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let issuer = read_trimmed(&dir.join("issuer"))?;
    let pem = std::fs::read_to_string(dir.join("issuer-key.pem"))
        .with_context(|| format!("reading {}", dir.join("issuer-key.pem").display()))?;
    let key = oc_mcp_sandbox::issuer::SigningKey::from_pem(&pem)?;
    let audience = match audience {
        Some(a) => a,
        None => read_trimmed(&dir.join("oidc-audience"))
            .unwrap_or_else(|_| oc_mcp_sandbox::issuer::DEFAULT_AUDIENCE.into()),
    };
    let groups = if groups.is_empty() {
        oc_mcp_sandbox::seed::SEED_USERS
            .iter()
            .find(|(n, _)| *n == user)
            .map(|(_, g)| g.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    } else {
        groups
    };
    let claims = oc_mcp_sandbox::issuer::user_claims(
        &issuer,
        user,
        &groups,
        &audience,
        "oc-mcp-sandbox",
        Duration::from_secs(expires_in),
    );
    let jwt = key.sign(&claims).map_err(anyhow::Error::msg)?;
    println!("{jwt}");
    Ok(())
}
