//! The client under test for the MCP conformance suite's client auth scenarios
//! (`tests/conformance.rs`): `conformance_client token|verify <server-url>`.
//!
//! The suite starts a mock MCP server and authorization server per scenario and runs this
//! program with the server's URL. It logs in with our own OAuth code, the built plugin
//! binaries next to this one, and then uses the token:
//!
//! - `token`: `kubectl-mcp_client token`, our PKCE login (authorization server metadata,
//!   S256, loopback redirect, token endpoint authentication), then rmcp's streamable HTTP
//!   client with that token: initialize, tools/list, tools/call. The plugin is handed what an
//!   administrator's setup gives it (the issuer and audience the server's config names, the
//!   registered client): this program reads the issuer from the server's protected-resource
//!   metadata (RFC 9728) and gives the server's URL as the audience.
//! - `verify`: `kubectl-mcp_verify --url <url> --login`, which finds the protected-resource
//!   and authorization server metadata itself, logs in with PKCE and `resource` (RFC 8707),
//!   then initializes with the token.
//!
//! Neither plugin registers clients dynamically or uses client ID metadata documents: the
//! client is registered beforehand (`oc mcp-oauth register`), so the client ID is given. The
//! login page is followed headlessly (the mock authorization server approves at once), only
//! to loopback addresses. The token travels by pipe only: never on a command line, never
//! printed.

use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    sync::Arc,
    time::Duration,
};

use rmcp::{
    ServiceExt as _,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

/// The whole run, bounded well inside the suite's own timeout.
const RUN_LIMIT: Duration = Duration::from_secs(40);
/// Each HTTP request and each MCP call.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// How long the plugin waits for the login redirect.
const LOGIN_TIMEOUT: &str = "20s";
/// The client ID an administrator registered (the mock authorization server takes any).
const CLIENT_ID: &str = "oc-mcp-conformance";
/// Where the plugin reads the client secret from: the name goes on the command line, the
/// value stays in the environment.
const SECRET_ENV: &str = "OC_MCP_CONFORMANCE_CLIENT_SECRET";
/// Scenarios whose authorization server takes only a client secret: the administrator
/// registered a confidential client for them.
const CONFIDENTIAL: [&str; 2] = [
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
];
/// Redirects the headless browser follows (authorize -> callback is one).
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Token,
    Verify,
}

/// The client the plugin logs in as.
struct Client {
    id: String,
    secret: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    oc_mcp_common::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, url) = match args.as_slice() {
        [mode, url] => match mode.as_str() {
            "token" => (Mode::Token, url.clone()),
            "verify" => (Mode::Verify, url.clone()),
            other => return usage(&format!("unknown mode {other:?}")),
        },
        _ => return usage("expected two arguments"),
    };
    let url = match reqwest::Url::parse(&url) {
        Ok(u) if u.scheme() == "http" && is_loopback(&u) => u,
        Ok(u) => {
            return usage(&format!(
                "{u} is not a loopback http URL: refusing to send to it"
            ));
        }
        Err(e) => return usage(&format!("{url:?} is not a URL: {e}")),
    };
    match tokio::time::timeout(RUN_LIMIT, run(mode, &url)).await {
        Ok(Ok(summary)) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("conformance_client: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "conformance_client: not done within {}s",
                RUN_LIMIT.as_secs()
            );
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "conformance_client: {problem}\nusage: conformance_client token|verify <loopback MCP server URL>"
    );
    ExitCode::from(2)
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

async fn run(mode: Mode, url: &reqwest::Url) -> Result<String, String> {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let client = client_for(&scenario)?;
    let plugins = plugins_dir()?;
    let work = tempfile::tempdir().map_err(|e| format!("cannot make a work directory: {e}"))?;
    let http = oc_mcp_common::mcp::McpTarget::new(url.as_str())
        .http_client()
        .map_err(|e| e.to_string())?;
    match mode {
        Mode::Token => {
            let issuer = issuer(&http, url).await?;
            let token = token(&plugins, work.path(), &issuer, url, &client).await?;
            use_token(url, token).await
        }
        Mode::Verify => verify(&plugins, work.path(), url, &client).await,
    }
}

/// The pre-registered client the scenario hands over, else the one an administrator made.
fn client_for(scenario: &str) -> Result<Client, String> {
    let context = std::env::var("MCP_CONFORMANCE_CONTEXT").unwrap_or_default();
    if !context.is_empty() {
        let value: Value = serde_json::from_str(&context)
            .map_err(|e| format!("MCP_CONFORMANCE_CONTEXT is not JSON: {e}"))?;
        if let Some(id) = value.get("client_id").and_then(Value::as_str) {
            return Ok(Client {
                id: id.to_owned(),
                secret: value
                    .get("client_secret")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    Ok(Client {
        id: CLIENT_ID.to_owned(),
        secret: CONFIDENTIAL
            .contains(&scenario)
            .then(|| format!("secret-{}", std::process::id())),
    })
}

/// The directory of the built plugins: this program is built next to them.
fn plugins_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let dir = exe
        .parent()
        .ok_or("this program has no directory")?
        .to_path_buf();
    for plugin in ["kubectl-mcp_client", "kubectl-mcp_verify"] {
        if !dir.join(plugin).is_file() {
            return Err(format!(
                "{} is missing: build the plugins (cargo build --workspace --bins)",
                dir.join(plugin).display()
            ));
        }
    }
    Ok(dir)
}

/// The issuer the server's config would name: `authorization_servers[0]` of the
/// protected-resource metadata (from the 401's `resource_metadata`, else the well-known
/// URLs); without any, the server's origin (servers of the 2025-03-26 spec).
async fn issuer(http: &reqwest::Client, url: &reqwest::Url) -> Result<String, String> {
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "oc-mcp-conformance", "version": "1"}}
    });
    let answer = step(
        http.post(url.clone())
            .header("accept", "application/json, text/event-stream")
            .json(&initialize)
            .send(),
    )
    .await?;
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut candidates = Vec::new();
    if let Some(metadata) = challenge_param(&challenge, "resource_metadata") {
        candidates.push(metadata);
    }
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    if !path.is_empty() {
        candidates.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    candidates.push(format!("{origin}/.well-known/oauth-protected-resource"));
    for candidate in candidates {
        let Ok(parsed) = reqwest::Url::parse(&candidate) else {
            continue;
        };
        if !is_loopback(&parsed) {
            return Err(format!("the metadata URL {parsed} is not on loopback"));
        }
        let response = step(http.get(parsed).send()).await?;
        if !response.status().is_success() {
            continue;
        }
        let json: Value = step(response.json()).await?;
        if let Some(server) = json
            .get("authorization_servers")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
        {
            return Ok(server.to_owned());
        }
    }
    Ok(origin)
}

/// One `key="value"` (or bare `key=value`) parameter of a `WWW-Authenticate` challenge.
fn challenge_param(challenge: &str, key: &str) -> Option<String> {
    let at = challenge.find(&format!("{key}="))?;
    let rest = &challenge[at + key.len() + 1..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_owned())
}

async fn step<T, E: std::fmt::Display>(
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_LIMIT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", STEP_LIMIT.as_secs())),
    }
}

/// `kubectl-mcp_client token` with what the server's config would give it: the token on its
/// stdout, the login URL on its stderr.
async fn token(
    plugins: &Path,
    work: &Path,
    issuer: &str,
    url: &reqwest::Url,
    client: &Client,
) -> Result<String, String> {
    let mut command = tokio::process::Command::new(plugins.join("kubectl-mcp_client"));
    command
        .args([
            "token",
            "--auth",
            "oidc",
            "--issuer",
            issuer,
            "--client-id",
            &client.id,
            // The audience the server checks: its own URL, the canonical server URI.
            "--audience",
            url.as_str(),
            "--no-browser",
            "--login-timeout",
            LOGIN_TIMEOUT,
            "--token-kind",
            "access",
        ])
        .arg("--cache-dir")
        .arg(work.join("cache"));
    if let Some(secret) = &client.secret {
        command.args(["--client-secret-env", SECRET_ENV]);
        command.env(SECRET_ENV, secret);
    }
    command.env_remove("BROWSER");
    let (status, output) = login(command, work).await?;
    if !status.success() {
        return Err(format!("kubectl-mcp_client token failed ({status})"));
    }
    let token = String::from_utf8_lossy(&output).trim().to_owned();
    if token.is_empty() {
        return Err("kubectl-mcp_client token printed no token".into());
    }
    Ok(token)
}

/// Run a plugin that logs in: follow the login URL it prints on stderr, and return how it
/// exited and its stdout. Its stderr is passed on (it carries no token).
async fn login(
    mut command: tokio::process::Command,
    work: &Path,
) -> Result<(std::process::ExitStatus, Vec<u8>), String> {
    command
        // No cluster: the plugins must work from what they are given.
        .env("KUBECONFIG", work.join("no-kubeconfig"))
        .env("HOME", work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the plugin: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out).await;
        out
    });
    let mut lines = BufReader::new(stderr).lines();
    let mut followed = None;
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        let trimmed = line.trim();
        if followed.is_none() && (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        {
            followed = Some(browse(trimmed).await);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("the plugin did not finish: {e}"))?;
    let out = reading.await.map_err(|e| e.to_string())?;
    if let Some(Err(e)) = followed {
        return Err(format!("the login page: {e}"));
    }
    Ok((status, out))
}

/// The headless browser: GET the authorize URL and follow the redirects to the plugin's
/// loopback callback, never leaving loopback.
async fn browse(url: &str) -> Result<(), String> {
    let start = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    if !is_loopback(&start) {
        return Err(format!("{start} is not on loopback"));
    }
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS || !is_loopback(attempt.url()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let browser = reqwest::Client::builder()
        .redirect(policy)
        .build()
        .map_err(|e| e.to_string())?;
    let response = step(browser.get(start).send()).await?;
    if !response.status().is_success() {
        return Err(format!(
            "the login ended at {} with {}",
            response.url().path(),
            response.status()
        ));
    }
    Ok(())
}

/// Initialize, list the tools and call the first one with the token.
async fn use_token(url: &reqwest::Url, token: String) -> Result<String, String> {
    let config = StreamableHttpClientTransportConfig::with_uri(Arc::<str>::from(url.as_str()))
        .auth_header(token);
    let http = oc_mcp_common::mcp::McpTarget::new(url.as_str())
        .http_client()
        .map_err(|e| e.to_string())?;
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let service = step(().serve(transport)).await?;
    let tools = step(service.list_all_tools()).await?;
    let mut summary = format!(
        "initialize and tools/list with the token: {} tool(s)",
        tools.len()
    );
    if let Some(tool) = tools.first() {
        let result = step(service.call_tool(CallToolRequestParams::new(tool.name.clone()))).await?;
        if result.is_error == Some(true) {
            return Err(format!("tools/call {} returned an error", tool.name));
        }
        summary = format!("{summary}; tools/call {}: ok", tool.name);
    }
    let _ = service.cancel().await;
    Ok(summary)
}

/// `kubectl-mcp_verify --url <url> --login`: its `login.pkce` row says whether the login
/// and initialize with the token worked. The mock server has none of the Kubernetes tools
/// verify then calls, so that last step's failure is expected.
async fn verify(
    plugins: &Path,
    work: &Path,
    url: &reqwest::Url,
    client: &Client,
) -> Result<String, String> {
    let mut command = tokio::process::Command::new(plugins.join("kubectl-mcp_verify"));
    command.args([
        "--url",
        url.as_str(),
        "--auth-mode",
        "oidc",
        "--login",
        "--login-client-id",
        &client.id,
        "--only",
        "login.pkce",
        "-o",
        "json",
    ]);
    // verify opens $BROWSER (and prints the URL): a program that does nothing leaves the
    // page to `login`.
    let noop = work.join("browser");
    std::fs::write(&noop, "#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
    std::fs::set_permissions(&noop, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    command.env("BROWSER", &noop);
    // verify exits 1 when a check fails: the report says which.
    let (_, out) = login(command, work).await?;
    let report: Value = serde_json::from_slice(&out)
        .map_err(|e| format!("kubectl-mcp_verify printed no JSON report: {e}"))?;
    let row = report
        .get("checks")
        .and_then(Value::as_array)
        .and_then(|rows| {
            rows.iter()
                .find(|r| r.get("id").and_then(Value::as_str) == Some("login.pkce"))
        })
        .ok_or("the report has no login.pkce row")?;
    let evidence: Vec<&str> = row
        .get("evidence")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let joined = evidence.join("; ");
    // Each step runs only after the one before it worked: a tools/call line means the
    // server took the token at initialize.
    let initialized = evidence.iter().any(|e| {
        e.starts_with("initialize and")
            || e.starts_with("initialize ok")
            || e.starts_with("tools/call ")
    });
    if evidence.iter().any(|e| e.starts_with("PKCE login at")) && initialized {
        Ok(format!("kubectl-mcp_verify --login: {joined}"))
    } else {
        Err(format!(
            "kubectl-mcp_verify --login did not log in: {joined}"
        ))
    }
}
