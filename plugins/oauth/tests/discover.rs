//! `discover` against a small OIDC issuer started here (discovery document and JWKS, https with
//! its own CA, or http): it passes, and each failure names its cause.

use crate::common;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Output,
    sync::{Arc, Mutex},
};

use base64::Engine;
use common::{BIN, assert_stderr_has, ok, stderr, stdout};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// What the issuer serves.
#[derive(Clone)]
struct Served {
    discovery: String,
    content_type: &'static str,
    jwks: String,
}

struct Issuer {
    /// The issuer URL (`<base>/realms/mcp`).
    url: String,
    ca: Option<(tempfile::TempDir, PathBuf)>,
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that does not trust our CA fails the handshake: wait for the next.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn ec_jwk() -> Value {
    let kp = KeyPair::generate().expect("P-256 key");
    let raw = kp.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65]), "kid": "k1", "alg": "ES256", "use": "sig"})
}

fn good_discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
    })
}

impl Issuer {
    /// An issuer serving a correct document and one EC key; `edit` changes what it serves.
    async fn start(tls: bool, edit: impl FnOnce(&str, &mut Served)) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://localhost:{}/realms/mcp", addr.port());
        let mut served = Served {
            discovery: good_discovery(&url).to_string(),
            content_type: "application/json",
            jwks: json!({"keys": [ec_jwk()]}).to_string(),
        };
        edit(&url, &mut served);
        let served = Arc::new(Mutex::new(served));
        let (discovery, jwks) = (served.clone(), served.clone());
        let app = axum::Router::new()
            .route(
                "/realms/mcp/.well-known/openid-configuration",
                axum::routing::get(move || async move {
                    let s = discovery.lock().expect("lock").clone();
                    (
                        [(axum::http::header::CONTENT_TYPE, s.content_type)],
                        s.discovery,
                    )
                }),
            )
            .route(
                "/realms/mcp/jwks",
                axum::routing::get(move || async move {
                    let s = jwks.lock().expect("lock").clone();
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        s.jwks,
                    )
                }),
            );
        let ca = if tls {
            let ca_key = KeyPair::generate().expect("ca key");
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
            let leaf_key = KeyPair::generate().expect("leaf key");
            let leaf = CertificateParams::new(vec!["localhost".to_owned()])
                .expect("leaf params")
                .signed_by(&leaf_key, &ca)
                .expect("leaf");
            let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
            let config = ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(leaf.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
                )
                .expect("tls config");
            let listener = TlsListener {
                tcp,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            };
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("ca.pem");
            std::fs::write(&path, ca.pem()).expect("write ca");
            Some((dir, path))
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(tcp, app).await;
            });
            None
        };
        Self { url, ca }
    }

    /// Run `discover` on this issuer (with its CA when it has one).
    fn discover(&self, url: &str, extra: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("discover").arg(url).args(extra);
        if let Some((_, ca)) = &self.ca {
            cmd.arg("--certificate-authority").arg(ca);
        }
        cmd.env_remove("RUST_LOG")
            .env_remove("SSL_CERT_FILE")
            .output()
            .expect("run discover")
    }
}

/// An https issuer serving the good discovery document with one change.
async fn with_document(edit: impl FnOnce(&str, &mut Value)) -> Issuer {
    Issuer::start(true, |url, served| {
        let mut doc = good_discovery(url);
        edit(url, &mut doc);
        served.discovery = doc.to_string();
    })
    .await
}

impl Issuer {
    /// `discover -o json` fails (exit 1) on `check`: the output and that check's detail.
    #[track_caller]
    fn failing(&self, check: &str) -> (Output, String) {
        let out = self.discover(&self.url, &["-o", "json"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let (result, detail) = result_of(&out, check);
        assert_eq!(result, "fail", "{check}: {detail}");
        (out, detail)
    }
}

fn checks(out: &Output) -> Vec<(String, String, String)> {
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap_or_default().to_owned(),
                c["result"].as_str().unwrap_or_default().to_owned(),
                c["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn result_of(out: &Output, check: &str) -> (String, String) {
    checks(out)
        .into_iter()
        .find(|(c, _, _)| c == check)
        .map_or_else(
            || panic!("no {check} row: {}", stdout(out)),
            |(_, r, d)| (r, d),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_https_issuer_passes_every_check() {
    let issuer = Issuer::start(true, |_, _| {}).await;
    let out = issuer.discover(&issuer.url, &["-o", "json"]);
    ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["passed"], true);
    for (check, result, detail) in checks(&out) {
        assert_eq!(result, "pass", "{check}: {detail}");
    }
    assert_eq!(
        checks(&out)
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        [
            "scheme",
            "discovery",
            "issuer",
            "endpoints",
            "jwks",
            "algorithms",
            "pkce"
        ]
    );
    assert_eq!(report["usableKeys"], 1);
    assert_eq!(report["algorithms"], json!(["ES256"]));
    assert_eq!(
        report["tokenEndpoint"],
        format!("{}/protocol/openid-connect/token", issuer.url)
    );
    let table = ok(&issuer.discover(&issuer.url, &[]));
    assert!(table.starts_with("CHECK "), "{table}");

    // Without the CA the certificate is not trusted: unreachable (exit 4), and it says why.
    let out = std::process::Command::new(BIN)
        .args(["discover", &issuer.url])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_differs_by_a_trailing_slash_fails() {
    let issuer = with_document(|url, doc| doc["issuer"] = json!(format!("{url}/"))).await;
    let (out, detail) = issuer.failing("issuer");
    assert!(detail.contains("differ in the trailing slash"), "{detail}");
    assert_stderr_has(&out, "issuer mismatch");
    // The URL with the slash is what the document says: that one passes.
    ok(&issuer.discover(&format!("{}/", issuer.url), &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_empty_jwks_fail() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!(
        "https://127.0.0.1:{}/jwks",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let issuer = with_document(|_, doc| doc["jwks_uri"] = json!(dead)).await;
    let (out, detail) = issuer.failing("jwks");
    assert!(
        detail.starts_with("JWKS unreachable: cannot reach https://127.0.0.1:"),
        "{detail}"
    );
    assert_stderr_has(&out, "JWKS unreachable");

    let issuer = Issuer::start(true, |_, served| {
        served.jwks = json!({"keys": []}).to_string();
    })
    .await;
    let (_, detail) = issuer.failing("jwks");
    assert!(
        detail.contains("is empty: no key can verify a token"),
        "{detail}"
    );

    // Keys without their parameters are not usable either.
    let issuer = Issuer::start(true, |_, served| {
        served.jwks = json!({"keys": [{"kty": "RSA", "kid": "broken"}]}).to_string();
    })
    .await;
    let (_, detail) = issuer.failing("jwks");
    assert!(detail.contains("1 keys, none usable"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_a_warning_and_not_json_is_a_failure() {
    let issuer = Issuer::start(false, |_, _| {}).await;
    let out = issuer.discover(&issuer.url, &["-o", "json"]);
    ok(&out);
    let (result, detail) = result_of(&out, "scheme");
    assert_eq!(result, "warn");
    assert!(detail.contains("clear text"), "{detail}");

    let issuer = Issuer::start(true, |_, served| {
        served.discovery = "<html><body>Sign in</body></html>".into();
        served.content_type = "text/html";
    })
    .await;
    let (out, detail) = issuer.failing("discovery");
    assert!(detail.contains("is not JSON (text/html)"), "{detail}");
    assert_stderr_has(&out, "is not JSON");

    // Nobody listening at all: exit 4.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://127.0.0.1:{}/realms/mcp",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let out = std::process::Command::new(BIN)
        .args(["discover", &url])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_stderr_has(&out, "cannot reach");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_issuer_passes() {
    let cluster = common::Cluster::bare().await;
    let issuer = cluster.sandbox.issuer_url().to_owned();
    let ca = cluster.sandbox.dir().join("ca.crt");
    let out = std::process::Command::new(BIN)
        .args(["discover", &issuer, "-o", "json", "--certificate-authority"])
        .arg(&ca)
        .output()
        .expect("run discover");
    let report: Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(report["passed"], true, "{report}");
    for (check, result, detail) in checks(&out) {
        assert_ne!(result, "fail", "{check}: {detail}");
    }
    assert_eq!(result_of(&out, "issuer").0, "pass");
    assert_eq!(result_of(&out, "jwks").0, "pass");
    assert!(
        report["usableKeys"].as_u64().is_some_and(|n| n >= 1),
        "{report}"
    );
    assert!(
        report["algorithms"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "RS256")),
        "{report}"
    );
    // One slash more and the server would refuse to start: discover says so first.
    let out = std::process::Command::new(BIN)
        .args(["discover", &format!("{issuer}/"), "--certificate-authority"])
        .arg(&ca)
        .output()
        .expect("run discover");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_has(&out, "differ in the trailing slash");
}
