//! The config model and linter against the real kubernetes-mcp-server binary (v0.0.67).
//!
//! Each auth mode's rendered config must be accepted by the server (it starts and `/healthz`
//! answers), and the server must then behave as the mode says: 401 without a token for
//! openshift/entra/oidc, no 401 for none. Where the linter claims "the server refuses to start"
//! or "the server ignores it silently", a test shows the real server doing exactly that.
//!
//! The binary comes from `OC_MCP_SERVER_BIN`, else `target/tools/kubernetes-mcp-server`
//! (installed by `cargo xtask tools` / `cargo xtask test`). A missing binary fails the tests.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oc_mcp_common::server_config::{
    ConfigText, DEFAULT_TOOLSETS, Finding, LintContext, OidcSettings, ParsedConfig, Rule,
    ServerConfig, ServerVersion, TokenExchangeSettings, has_errors, lint,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ROUTE_HOST: &str = "kubernetes-mcp-server-mcp-server.apps.example.com";
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"oc-mcp-test","version":"0.1.0"}}}"#;
/// Polls of 100 ms: the server listens in well under a second.
const POLLS: usize = 150;

fn server_bin() -> PathBuf {
    let path = std::env::var_os("OC_MCP_SERVER_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/kubernetes-mcp-server"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "kubernetes-mcp-server not found at {}: run `cargo xtask test` (it installs the pinned \
         v0.0.67 into target/tools), or set OC_MCP_SERVER_BIN",
        path.display()
    );
    path
}

/// The version the binary reports, parsed with the model's own parser.
fn server_version() -> ServerVersion {
    let out = Command::new(server_bin())
        .arg("--version")
        .output()
        .expect("run kubernetes-mcp-server --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("unexpected --version output {text:?}: {e}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// A temp dir with a kubeconfig whose cluster is a dead loopback port: the server needs a
/// current-context to start, not a reachable cluster.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("kubeconfig"),
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:1\n\
             users:\n- name: nobody\n  user:\n    token: not-used\n\
             contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: nobody\n\
             current-context: dead\n",
        )
        .expect("write kubeconfig");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `config` plus what a loopback test needs: a free port, 127.0.0.1, the kubeconfig.
    fn localize(&self, mut config: ServerConfig) -> (ServerConfig, u16) {
        let port = free_port();
        config.port = Some(port.to_string());
        config.bind_address = Some("127.0.0.1".to_owned());
        config.kubeconfig = Some(self.path().join("kubeconfig").display().to_string());
        config.log_level = Some(2);
        (config, port)
    }

    /// Start the server on `text` as `config.toml`, logging to `server.log`.
    fn start_server(&self, text: &str) -> Server {
        let file = self.write("config.toml", text);
        Server::start(&file, self.path().join("server.log"))
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create config dir");
        }
        std::fs::write(&path, text).expect("write config file");
        path
    }
}

/// The server process; killed when dropped, whatever the test's outcome.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(config_file: &Path, log: PathBuf) -> Self {
        Self::start_with_config_dir(config_file, None, log)
    }

    fn start_with_config_dir(config_file: &Path, config_dir: Option<&Path>, log: PathBuf) -> Self {
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let mut command = Command::new(server_bin());
        command.arg("--config").arg(config_file);
        if let Some(dir) = config_dir {
            command.arg("--config-dir").arg(dir);
        }
        let child = command
            // No in-cluster or user kubeconfig may leak in from the environment.
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn kubernetes-mcp-server");
        Self { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `/healthz` until 200; fail with the server's log if it exits or never answers.
    async fn wait_healthy(&mut self, port: u16) {
        for _ in 0..POLLS {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}) instead of starting:\n{}",
                    self.log_text()
                );
            }
            if let Ok(response) = request(port, "GET", "/healthz", &[], "").await
                && response.status == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "/healthz did not answer 200 within {} s:\n{}",
            POLLS / 10,
            self.log_text()
        );
    }

    /// Wait for the process to exit; fail if it is still running after the bounded wait.
    /// Wait for the server to exit, and check that it failed and its log says `says`.
    async fn assert_refuses(&mut self, says: &str) {
        let status = self.wait_exit().await;
        assert!(!status.success(), "server exited with {status}");
        let log = self.log_text();
        assert!(log.contains(says), "{log}");
    }

    async fn wait_exit(&mut self) -> ExitStatus {
        for _ in 0..POLLS {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the server kept running although it was expected to refuse the config:\n{}",
            self.log_text()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status line and headers of an HTTP/1.1 response.
struct Response {
    status: u16,
    headers: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

/// One HTTP/1.1 request over a fresh connection; reads only the head, because a successful
/// `/mcp` answer is an event stream.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut received = Vec::new();
        let mut buf = [0_u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            received.extend_from_slice(&buf[..n]);
            if n == 0 || received.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&received).into_owned();
        let (status_line, headers) = text.split_once("\r\n").unwrap_or((&text, ""));
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:?}")))?;
        Ok(Response {
            status,
            headers: headers.split("\r\n\r\n").next().unwrap_or("").to_owned(),
        })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| std::io::Error::other("HTTP request timed out"))?
}

/// POST an MCP initialize without any token.
async fn initialize_without_token(port: u16) -> Response {
    request(
        port,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        INITIALIZE,
    )
    .await
    .expect("POST /mcp")
}

/// A minimal OIDC issuer on loopback: discovery at `<issuer>/.well-known/openid-configuration`
/// and a JWKS with one P-256 key. Its `issuer` equals the returned URL byte for byte, which is
/// what the server checks at startup.
async fn start_issuer(issuer_path: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind issuer");
    let port = listener.local_addr().expect("issuer address").port();
    let base = format!("http://127.0.0.1:{port}");
    let issuer = format!("{base}{issuer_path}");

    let key = rcgen::KeyPair::generate().expect("generate P-256 key");
    // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
    let point = key.public_key_raw();
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "test-key",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]});
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile", "email"],
    });
    let router = axum::Router::new()
        .route(
            &format!("{issuer_path}/.well-known/openid-configuration"),
            axum::routing::get(move || {
                let body = discovery.clone();
                async move { axum::Json(body) }
            }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || {
                let body = jwks.clone();
                async move { axum::Json(body) }
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve issuer");
    });
    issuer
}

/// The linter on a rendered config, as `oc mcp-install` will call it: no errors allowed.
fn assert_lints_clean(config: &ServerConfig, version: ServerVersion) {
    let findings = lint(config, &LintContext::new(version).in_configmap());
    assert!(!has_errors(&findings), "linter rejects it: {findings:#?}");
}

/// Render `config`, start the real server with it, and check `/mcp` without a token.
async fn start_and_probe(config: ServerConfig, expect_401: bool) {
    let version = server_version();
    let workspace = Workspace::new();
    let (config, port) = workspace.localize(config);
    assert_lints_clean(&config, version);
    let mut server = workspace.start_server(&config.to_toml_string());
    server.wait_healthy(port).await;
    let response = initialize_without_token(port).await;
    if expect_401 {
        assert_eq!(response.status, 401, "{}", server.log_text());
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.contains("error=\"missing_token\""),
            "challenge: {challenge:?}"
        );
        if let Some(audience) = config.oauth_audience.as_deref() {
            assert!(
                challenge.contains(&format!("audience=\"{audience}\"")),
                "challenge: {challenge:?}"
            );
        }
    } else {
        assert_eq!(
            response.status,
            200,
            "mode none must answer initialize without a token:\n{}",
            server.log_text()
        );
    }
}

#[test]
fn the_installed_server_is_the_tested_release() {
    assert_eq!(server_version(), ServerVersion::TESTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openshift_mode_starts_and_demands_a_token() {
    start_and_probe(ServerConfig::openshift(DEFAULT_TOOLSETS), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_mode_starts_against_a_local_issuer_and_demands_a_token() {
    // Entra's issuer path shape (/<tenant>/v2.0), served on loopback instead of
    // login.microsoftonline.com; everything else is exactly what the entra constructor built.
    let issuer = start_issuer(&format!("/{TENANT}/v2.0")).await;
    let mut config = ServerConfig::entra(TENANT, CLIENT_ID, Some(ROUTE_HOST), DEFAULT_TOOLSETS);
    config.authorization_url = Some(issuer);
    start_and_probe(config, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_mode_starts_against_a_local_issuer_and_demands_a_token() {
    let issuer = start_issuer("/realms/openshift").await;
    let settings = OidcSettings::new(issuer, "mcp-server")
        .with_scopes(&["openid", "mcp-server"])
        .with_route_host(ROUTE_HOST);
    start_and_probe(
        ServerConfig::oidc(&settings, &["core", "config", "helm"]),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_mode_starts_and_does_not_demand_a_token() {
    // The counter-check: the same probe passes without a token when OAuth is off, so the 401s
    // above come from the config, not from the probe.
    start_and_probe(ServerConfig::without_auth(DEFAULT_TOOLSETS), false).await;
}

/// The first finding of `rule`, which the linter must report.
fn flagged(findings: &[Finding], rule: Rule) -> &Finding {
    findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("linter does not flag it: {findings:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_with_require_oauth_is_refused_by_linter_and_server() {
    let workspace = Workspace::new();
    let mut config = ServerConfig::openshift(DEFAULT_TOOLSETS);
    config.cluster_auth_mode = Some("kubeconfig".to_owned());
    let (config, _port) = workspace.localize(config);
    let findings = lint(&config, &LintContext::new(server_version()));
    let refusal = flagged(&findings, Rule::StartupRefused);
    assert_eq!(refusal.key.as_deref(), Some("cluster_auth_mode"));
    assert!(refusal.message.contains("refuses to start"), "{refusal}");

    let mut server = workspace.start_server(&config.to_toml_string());
    server.assert_refuses("cluster_auth_mode").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_port_is_refused_by_linter_and_server() {
    let workspace = Workspace::new();
    let (config, port) = workspace.localize(ServerConfig::without_auth(DEFAULT_TOOLSETS));
    let text = config
        .to_toml_string()
        .replace(&format!("port = \"{port}\""), &format!("port = {port}"));
    let parsed = ParsedConfig::parse(&text).expect("valid TOML");
    let mismatch = flagged(parsed.findings(), Rule::TypeMismatch);
    assert_eq!(mismatch.key.as_deref(), Some("port"));
    assert!(mismatch.message.contains("refuses to start"), "{mismatch}");

    let mut server = workspace.start_server(&text);
    server.assert_refuses("incompatible types").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelt_require_oauth_is_ignored_silently_as_the_linter_says() {
    let workspace = Workspace::new();
    let (config, port) = workspace.localize(ServerConfig::without_auth(DEFAULT_TOOLSETS));
    let text = config
        .to_toml_string()
        .replace("require_oauth = false", "requre_oauth = true");
    let parsed = ParsedConfig::parse(&text).expect("valid TOML");
    let unknown = flagged(parsed.findings(), Rule::UnknownKey);
    assert!(unknown.message.contains("ignores it silently"), "{unknown}");
    assert!(unknown.message.contains("require_oauth"), "{unknown}");

    // The server starts, and the intended protection is not there.
    let mut server = workspace.start_server(&text);
    server.wait_healthy(port).await;
    assert_eq!(initialize_without_token(port).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_ins_merge_as_the_server_merges_them() {
    // The main file is a valid openshift config; conf.d/ adds cluster_auth_mode = "kubeconfig".
    // Read like the server (drop-ins after the main file), the effective config is refused; a
    // dotfile with the same content is skipped by both.
    let workspace = Workspace::new();
    let (config, port) = workspace.localize(ServerConfig::openshift(DEFAULT_TOOLSETS));
    let main = workspace.write("config.toml", &config.to_toml_string());
    let bad = "cluster_auth_mode = \"kubeconfig\"\n";

    workspace.write("conf.d/.disabled.toml", bad);
    let parsed = ParsedConfig::load(&main, None).expect("load config");
    let findings = parsed.lint(&LintContext::new(server_version()));
    assert!(!has_errors(&findings), "{findings:#?}");
    {
        let mut server = Server::start(&main, workspace.path().join("skipped.log"));
        server.wait_healthy(port).await;
        assert_eq!(initialize_without_token(port).await.status, 401);
    }

    workspace.write("conf.d/50-auth.toml", bad);
    let parsed = ParsedConfig::load(&main, None).expect("load config");
    assert_eq!(
        parsed.config.cluster_auth_mode.as_deref(),
        Some("kubeconfig")
    );
    let findings = parsed.lint(&LintContext::new(server_version()));
    assert!(
        findings.iter().any(
            |f| f.rule == Rule::StartupRefused && f.key.as_deref() == Some("cluster_auth_mode")
        ),
        "{findings:#?}"
    );
    let mut server = Server::start(&main, workspace.path().join("merged.log"));
    let status = server.wait_exit().await;
    assert!(!status.success(), "server exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_drop_in_is_read_by_the_server_and_lints_clean() {
    // The install layout: the ConfigMap main file with [token_exchange] but no secret, and a
    // Secret drop-in with only the client secret, mounted as --config-dir. v0.0.67 validates the
    // merged config (client_secret_post needs the secret), so starting proves the merge.
    let version = server_version();
    let issuer = start_issuer(&format!("/{TENANT}/v2.0")).await;
    let workspace = Workspace::new();
    let settings = TokenExchangeSettings::entra_obo(CLIENT_ID, &["api://downstream/.default"]);
    let mut config = ServerConfig::entra(TENANT, CLIENT_ID, Some(ROUTE_HOST), DEFAULT_TOOLSETS)
        .with_token_exchange(&settings, version);
    config.authorization_url = Some(issuer);
    let (config, port) = workspace.localize(config);
    let main_text = config.to_toml_string();
    let secret_text =
        ServerConfig::client_secret_drop_in("not-a-real-secret", version).to_toml_string();
    let main = workspace.write("config.toml", &main_text);
    workspace.write("oauth/oauth.toml", &secret_text);

    let parsed =
        ParsedConfig::load(&main, Some(&workspace.path().join("oauth"))).expect("load config");
    let findings = parsed.lint(&LintContext::new(version).in_configmap());
    assert!(!has_errors(&findings), "{findings:#?}");
    // Without the drop-in the linter sees the missing secret the server would refuse.
    let alone = ParsedConfig::parse_files(&ConfigText::new("config.toml", main_text), &[])
        .expect("valid TOML")
        .lint(&LintContext::new(version).in_configmap());
    assert!(
        alone.iter().any(|f| f.rule == Rule::StartupRefused
            && f.key.as_deref() == Some("token_exchange.client_auth.client_secret")),
        "{alone:#?}"
    );

    let mut server = Server::start_with_config_dir(
        &main,
        Some(&workspace.path().join("oauth")),
        workspace.path().join("server.log"),
    );
    server.wait_healthy(port).await;
    assert_eq!(initialize_without_token(port).await.status, 401);

    // And the main file alone is refused by the server too.
    let mut alone_server = Server::start_with_config_dir(
        &main,
        Some(&workspace.path().join("empty")),
        workspace.path().join("alone.log"),
    );
    alone_server
        .assert_refuses("client_secret is required")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_sts_keys_of_the_docs_are_refused_by_v0_0_67_as_the_linter_says() {
    // The server's older docs and the guide use sts_client_id / token_exchange_strategy; the
    // v0.0.67 binary moved them to [token_exchange] and exits when it sees the old names.
    let version = server_version();
    let issuer = start_issuer("/realms/openshift").await;
    let workspace = Workspace::new();
    let mut config = ServerConfig::oidc(&OidcSettings::new(issuer, "mcp-server"), DEFAULT_TOOLSETS);
    config.token_exchange_strategy = Some("rfc8693".to_owned());
    config.sts_client_id = Some("mcp-server".to_owned());
    config.sts_audience = Some("openshift".to_owned());
    let (config, _port) = workspace.localize(config);
    let findings = lint(&config, &LintContext::new(version));
    for key in ["token_exchange_strategy", "sts_client_id", "sts_audience"] {
        assert!(
            findings
                .iter()
                .any(|f| f.rule == Rule::StartupRefused && f.key.as_deref() == Some(key)),
            "{key}: {findings:#?}"
        );
    }
    let mut server = workspace.start_server(&config.to_toml_string());
    server
        .assert_refuses("removed token exchange configuration keys")
        .await;

    // The migrated config is what v0.0.67 reads.
    let mut migrated = config.clone();
    migrated.migrate_legacy_token_exchange();
    let findings = lint(&migrated, &LintContext::new(version));
    assert!(!has_errors(&findings), "{findings:#?}");
}
