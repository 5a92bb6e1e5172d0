//! An MCP session over rmcp's streamable-HTTP client, on the verify reqwest client (so
//! `--resolve`, `--connect-to` and the endpoint CA apply), recording the `Mcp-Session-Id` the
//! server issued for the report.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use oc_mcp_common::{error::describe_chain, kube_args::Secret};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ClientJsonRpcMessage, Tool},
    service::RunningService,
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{
            SseError, StreamableHttpClient, StreamableHttpClientTransportConfig,
            StreamableHttpError, StreamableHttpPostResponse, StreamableHttpResponseLimits,
        },
    },
};
use sse_stream::Sse;

/// reqwest, plus a note of the first session id the server issued.
#[derive(Debug, Clone)]
struct Recording {
    inner: reqwest::Client,
    session_id: Arc<Mutex<Option<String>>>,
}

impl Recording {
    fn note(&self, response: &StreamableHttpPostResponse) {
        let id = match response {
            StreamableHttpPostResponse::Json(_, id) | StreamableHttpPostResponse::Sse(_, id) => {
                id.clone()
            }
            _ => None,
        };
        if let (Some(id), Ok(mut slot)) = (id, self.session_id.lock())
            && slot.is_none()
        {
            *slot = Some(id);
        }
    }
}

impl StreamableHttpClient for Recording {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let response = self
            .inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await?;
        self.note(&response);
        Ok(response)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let response = self
            .inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await?;
        self.note(&response);
        Ok(response)
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let response = self
            .inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await?;
        self.note(&response);
        Ok(response)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}

/// Why initialize failed.
#[derive(Debug, Clone)]
pub enum ConnectError {
    /// 401 (or 403) with this `WWW-Authenticate` challenge.
    Rejected { challenge: String },
    /// No connection at all.
    Unreachable(String),
    /// Anything else (a non-MCP answer, a protocol error).
    Other(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected { challenge } => write!(f, "rejected (WWW-Authenticate: {challenge})"),
            Self::Unreachable(m) | Self::Other(m) => f.write_str(m),
        }
    }
}

/// An initialized MCP session.
#[derive(Debug)]
pub struct Session {
    service: RunningService<RoleClient, ()>,
    /// The `Mcp-Session-Id` the server issued (none in stateless mode).
    pub session_id: Option<String>,
}

impl Session {
    /// Initialize (then `notifications/initialized`, which rmcp sends) with `token`.
    pub async fn connect(
        client: reqwest::Client,
        url: &str,
        token: Option<&Secret>,
        timeout: std::time::Duration,
    ) -> Result<Self, ConnectError> {
        let recording = Recording {
            inner: client,
            session_id: Arc::default(),
        };
        let mut config = StreamableHttpClientTransportConfig::with_uri(Arc::<str>::from(url));
        if let Some(token) = token {
            // rmcp adds the `Bearer ` prefix itself.
            config = config.auth_header(token.expose().to_owned());
        }
        let transport = StreamableHttpClientTransport::with_client(recording.clone(), config);
        let service = match tokio::time::timeout(timeout, ().serve(transport)).await {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => return Err(connect_error(&e)),
            Err(_) => {
                return Err(ConnectError::Unreachable(format!(
                    "no initialize answer within {}s",
                    timeout.as_secs()
                )));
            }
        };
        let session_id = recording.session_id.lock().ok().and_then(|s| s.clone());
        Ok(Self {
            service,
            session_id,
        })
    }

    pub fn peer(&self) -> Option<Arc<rmcp::model::ServerPeerInfo>> {
        self.service.peer_info()
    }

    pub async fn tools(&self) -> Result<Vec<Tool>, String> {
        self.service
            .list_all_tools()
            .await
            .map_err(|e| tidy(&describe_chain(&e)))
    }

    pub async fn call(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CallToolResult, String> {
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
        self.service
            .call_tool(params)
            .await
            .map_err(|e| tidy(&describe_chain(&e)))
    }

    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// rmcp's messages name its transport types (`Transport [rmcp::...<...>] error: ...`): keep
/// what a person can act on.
pub fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let Some(len) = rest[start..].find(']') else {
            break;
        };
        let inner = &rest[start..start + len];
        out.push_str(&rest[..start]);
        if !inner.contains("rmcp::") {
            out.push_str(&rest[start..=start + len]);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.replace("Transport  error", "transport error")
        .replace("  ", " ")
}

fn connect_error(err: &rmcp::service::ClientInitializeError) -> ConnectError {
    use oc_mcp_common::mcp::InitializeFailure;
    match InitializeFailure::of(err) {
        InitializeFailure::Challenged(challenge) => ConnectError::Rejected {
            challenge: challenge.to_owned(),
        },
        InitializeFailure::Unauthorized => ConnectError::Rejected {
            challenge: String::new(),
        },
        InitializeFailure::Transport(_) => ConnectError::Unreachable(tidy(&describe_chain(err))),
        InitializeFailure::Other(_) => ConnectError::Other(tidy(&describe_chain(err))),
    }
}

/// The text of a tool result's content blocks, joined.
pub fn result_text(result: &CallToolResult) -> String {
    oc_mcp_common::mcp::result_text(result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rmcp_type_names_are_dropped() {
        let text = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<oc::Y>>] error: HTTP 503, when send initialize request";
        assert_eq!(
            super::tidy(text),
            "Send message error transport error: HTTP 503, when send initialize request"
        );
        assert_eq!(super::tidy("a [b] c"), "a [b] c");
    }
}
