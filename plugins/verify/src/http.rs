//! HTTP to the MCP endpoint: one reqwest client setup (TLS trust, `--resolve`,
//! `--connect-to`, timeouts) for the raw probes and for rmcp, and the raw probes themselves.

use std::{net::SocketAddr, time::Duration};

use oc_mcp_common::{Error, Result, error::describe_chain};
use reqwest::{Url, header::HeaderMap};

use crate::args::{ConnectTo, Resolve, overrides_for};

/// How to reach the MCP endpoint and anything it points at (issuer metadata).
#[derive(Debug, Clone)]
pub struct Http {
    pub extra_ca_pem: Option<Vec<u8>>,
    pub insecure: bool,
    pub timeout: Duration,
    pub resolve: Vec<Resolve>,
    pub connect_to: Vec<ConnectTo>,
}

impl Http {
    /// A client for requests to `url`'s host. Redirects are not followed: the report shows
    /// what the endpoint itself answered.
    pub async fn client_for(&self, url: &Url) -> Result<reqwest::Client> {
        let overrides = overrides_for(url, &self.resolve, &self.connect_to).await?;
        self.build(&overrides, !self.insecure)
    }

    /// A client that accepts any certificate, to read what the server presents when
    /// verification failed or is off.
    pub async fn inspecting_client_for(&self, url: &Url) -> Result<reqwest::Client> {
        let overrides = overrides_for(url, &self.resolve, &self.connect_to).await?;
        self.build(&overrides, false)
    }

    fn build(&self, overrides: &[(String, SocketAddr)], verify: bool) -> Result<reqwest::Client> {
        oc_mcp_common::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .tls_info(true)
            .user_agent(concat!("oc-mcp-verify/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::usage_with_hint(
                    format!("--endpoint-ca is not a PEM bundle: {e}"),
                    "pass a PEM file with one or more CERTIFICATE blocks",
                )
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        for (host, addr) in overrides {
            builder = builder.resolve(host, *addr);
        }
        builder.build().map_err(|e| {
            Error::failed(format!(
                "cannot build an HTTP client: {}",
                describe_chain(&e)
            ))
        })
    }
}

/// What a raw request got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, cut to a few hundred characters.
    pub body: String,
    /// The leaf certificate the server presented (DER), for https.
    pub peer_certificate: Option<Vec<u8>>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `200 OK`, `401 Unauthorized`.
    pub fn status_line(&self) -> String {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("{} {reason}", self.status).trim_end().to_owned()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first line of the body (the text of an HTML page), shortened, for evidence.
    pub fn body_excerpt(&self) -> String {
        let html = self
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
            || self.body.trim_start().starts_with('<');
        if html {
            return shorten(&html_text(&self.body), 160);
        }
        let line = self
            .body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        shorten(line, 160)
    }
}

/// Why a raw request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection: DNS, refused, timeout.
    Unreachable,
    /// The TLS handshake failed (certificate not trusted, wrong name, expired).
    Tls,
    Other,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// The kind as read from the error's types (which certificate rule was broken).
    pub transport: oc_mcp_common::error::Transport,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Classify a reqwest error by its typed sources: a TLS failure (a refused certificate, a
/// handshake with something that does not speak TLS), no connection, or something else.
pub fn classify(err: &reqwest::Error) -> Failure {
    let message = describe_chain(err);
    let transport = oc_mcp_common::error::Transport::of(err);
    let kind = if transport.is_tls() {
        FailureKind::Tls
    } else if err.is_connect() || err.is_timeout() {
        FailureKind::Unreachable
    } else {
        FailureKind::Other
    };
    Failure {
        kind,
        transport,
        message,
    }
}

/// Send a request and keep what the report needs.
pub async fn send(request: reqwest::RequestBuilder) -> std::result::Result<Answer, Failure> {
    let response = request.send().await.map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let peer_certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec);
    // Bodies of 401s and metadata are small; an SSE stream from a server that wrongly answers
    // 200 is cut after the first chunk so the probe cannot hang.
    let mut body = Vec::new();
    let mut response = response;
    while body.len() < 64 * 1024 {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.starts_with("text/event-stream"))
                    && body.windows(2).any(|w| w == b"\n\n")
                {
                    break;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        peer_certificate,
    })
}

/// The initialize request the guide's curl sends (steps 13-14), as JSON.
pub fn initialize_body() -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "oc-mcp-verify", "version": env!("CARGO_PKG_VERSION")}
        }
    })
}

/// `POST <url>` initialize, with or without a bearer token.
pub fn initialize_request(
    client: &reqwest::Client,
    url: &Url,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&initialize_body());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}

/// The visible text of an HTML page (tags, scripts and styles dropped, spaces collapsed).
pub fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tail = &rest[open..];
        let lower = tail.get(..8).unwrap_or(tail).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            tail.to_ascii_lowercase().find("</script>").map(|i| i + 9)
        } else if lower.starts_with("<style") {
            tail.to_ascii_lowercase().find("</style>").map(|i| i + 8)
        } else {
            tail.find('>').map(|i| i + 1)
        };
        let Some(end) = skip_to else {
            rest = "";
            break;
        };
        rest = &tail[end..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shorten text to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `origin + path` of a URL.
pub fn join(url: &Url, path: &str) -> Result<Url> {
    url.join(path)
        .map_err(|e| Error::failed(format!("cannot build a URL from {url} and {path}: {e}")))
}

/// Whether a host is a loopback name or address.
pub fn is_loopback_host(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
