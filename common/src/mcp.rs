//! A small MCP client over streamable HTTP (rmcp), with a bearer token and the TLS trust the
//! plugins need: the system roots, an extra CA (a cluster's router), or none (`--insecure`).

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, Tool},
    service::RunningService,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};

use crate::{
    error::{Error, Result, describe_chain},
    kube_args::Secret,
};

/// Where an MCP server is and how to reach it.
#[derive(Debug, Clone)]
pub struct McpTarget {
    /// The endpoint, e.g. `https://host/mcp`.
    pub url: String,
    /// Sent as `Authorization: Bearer ...`; never logged.
    pub token: Option<Secret>,
    /// PEM certificates trusted in addition to the system roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Skip certificate verification (loudly).
    pub insecure: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl McpTarget {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            extra_ca_pem: None,
            insecure: false,
            timeout: Duration::from_secs(30),
        }
    }

    #[must_use]
    pub fn with_token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }

    /// The HTTP client every plugin uses for this target (rustls with the ring provider).
    pub fn http_client(&self) -> Result<reqwest::Client> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(0);
        if let Some(pem) = &self.extra_ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Usage {
                message: format!("the CA bundle for {} is not valid PEM: {e}", self.url),
                hint: Some("pass a PEM file with one or more CERTIFICATE blocks".into()),
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if self.insecure {
            tracing::warn!(
                "TLS verification is off for {}: the token can be read by anyone in between",
                self.url
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        builder.build().map_err(|e| Error::Failed {
            message: format!("cannot build an HTTP client: {}", describe_chain(&e)),
            hint: None,
        })
    }
}

/// An initialized MCP session.
#[derive(Debug)]
pub struct McpSession {
    service: RunningService<RoleClient, ()>,
}

impl McpSession {
    /// Connect and run the initialize handshake.
    pub async fn connect(target: &McpTarget) -> Result<Self> {
        let client = target.http_client()?;
        let mut config =
            StreamableHttpClientTransportConfig::with_uri(Arc::<str>::from(target.url.as_str()));
        if let Some(token) = &target.token {
            // rmcp adds the `Bearer ` prefix itself.
            config = config.auth_header(token.expose().to_owned());
        }
        let transport = StreamableHttpClientTransport::with_client(client, config);
        let service = ().serve(transport).await.map_err(|e| initialize_error(&target.url, &e))?;
        Ok(Self { service })
    }

    /// What the server said about itself in `initialize`.
    pub fn server_info(&self) -> Option<Arc<rmcp::model::ServerPeerInfo>> {
        self.service.peer_info()
    }

    /// Every tool, with its `_meta`.
    pub async fn tools(&self) -> Result<Vec<Tool>> {
        self.service
            .list_all_tools()
            .await
            .map_err(|e| protocol_error("tools/list", &e))
    }

    /// Call one tool with JSON arguments (an object).
    pub async fn call(&self, name: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let serde_json::Value::Object(map) = arguments {
            params = params.with_arguments(map);
        }
        self.service
            .call_tool(params)
            .await
            .map_err(|e| protocol_error(&format!("tools/call {name}"), &e))
    }

    /// End the session politely.
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// The text of a tool result's content blocks, joined.
pub fn result_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn initialize_error(url: &str, err: &rmcp::service::ClientInitializeError) -> Error {
    match InitializeFailure::of(err) {
        InitializeFailure::Challenged(challenge) => Error::Unauthenticated {
            message: format!("{url} answered 401 ({challenge})"),
        },
        InitializeFailure::Unauthorized => Error::Unauthenticated {
            message: format!("{url} rejected the token: {}", describe_chain(err)),
        },
        InitializeFailure::Transport(transport) | InitializeFailure::Other(transport) => {
            Error::Unreachable {
                what: url.to_owned(),
                transport,
                source: describe_chain(err).into(),
            }
        }
    }
}

/// Why an MCP `initialize` failed, read from rmcp's typed errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitializeFailure<'a> {
    /// 401 or 403 with a `WWW-Authenticate` challenge (its value).
    Challenged(&'a str),
    /// 401 without a challenge, or rmcp's own "authorization required".
    Unauthorized,
    /// The HTTP client failed: no connection, a refused certificate, a timeout.
    Transport(crate::error::Transport),
    /// The server answered, but not as an MCP server (the kind is `Connection`).
    Other(crate::error::Transport),
}

impl<'a> InitializeFailure<'a> {
    pub fn of(err: &'a rmcp::service::ClientInitializeError) -> Self {
        if let Some(challenge) = err.auth_challenge() {
            return Self::Challenged(challenge);
        }
        let http = http_error(err);
        let unauthorized = matches!(
            http,
            Some(HttpError::UnexpectedServerResponse(text)) if text.starts_with("HTTP 401")
        );
        if err.is_authorization_required() || unauthorized {
            return Self::Unauthorized;
        }
        // The HTTP client's own error carries the kind; rmcp wraps it without naming it as a
        // source, so it is taken out here.
        match http {
            Some(HttpError::Client(client)) => {
                let transport = crate::error::Transport::of(client);
                if transport.is_tls() || client.is_connect() || client.is_timeout() {
                    Self::Transport(transport)
                } else {
                    Self::Other(transport)
                }
            }
            _ => Self::Other(crate::error::Transport::Connection),
        }
    }
}

type HttpError = rmcp::transport::streamable_http_client::StreamableHttpError<reqwest::Error>;

/// The streamable-HTTP transport's error inside an initialize failure. A 401 that came
/// without a challenge survives only as its `UnexpectedServerResponse("HTTP 401 ...")`
/// text, whose fixed prefix the caller reads: rmcp keeps no status for it.
fn http_error(err: &rmcp::service::ClientInitializeError) -> Option<&HttpError> {
    let rmcp::service::ClientInitializeError::TransportError { error, .. } = err else {
        return None;
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error.error.as_ref());
    while let Some(current) = source {
        if let Some(http) = current.downcast_ref::<HttpError>() {
            return Some(http);
        }
        source = current.source();
    }
    None
}

fn protocol_error(what: &str, err: &rmcp::ServiceError) -> Error {
    Error::Failed {
        message: format!("MCP {what} failed: {}", describe_chain(err)),
        hint: None,
    }
}
