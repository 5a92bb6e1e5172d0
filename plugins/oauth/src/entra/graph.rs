//! A small Microsoft Graph v1.0 client (reqwest, rustls): requests are values, so the same
//! request can be printed (`--dry-run=client`, no token) or sent. The token never leaves the
//! `Authorization` header (marked sensitive); errors carry Graph's code and message only.

use std::{fmt::Write as _, ops::Deref, str::FromStr, time::Duration};

use oc_mcp_common::{Error, Result, error::describe_chain, kube_args::Secret, names::InvalidValue};
use reqwest::{Method, Url, header::HeaderValue};
use serde::Serialize;
use serde_json::Value;

/// Microsoft Graph v1.0.
pub const GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

/// One Graph request, as sent and as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphRequest {
    /// What the request is for, in words.
    pub purpose: String,
    pub method: String,
    /// The URL relative to the Graph base (`/applications(...)?$select=...`).
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl GraphRequest {
    pub fn get(purpose: &str, path: impl Into<String>) -> Self {
        Self {
            purpose: purpose.into(),
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn with_body(purpose: &str, method: &str, path: impl Into<String>, body: Value) -> Self {
        Self {
            purpose: purpose.into(),
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Some(body),
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request as an HTTP message for people (no Authorization header: the caller's).
    pub fn to_http(&self, base: &str) -> String {
        let mut text = format!("{} {base}{}\n", self.method, self.path);
        for (name, value) in &self.headers {
            let _ = writeln!(text, "{name}: {value}");
        }
        if let Some(body) = &self.body {
            text.push_str("Content-Type: application/json\n\n");
            text.push_str(&serde_json::to_string_pretty(body).unwrap_or_default());
            text.push('\n');
        }
        text
    }
}

/// A Graph answer: status and JSON body (none for 204).
#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub body: Option<Value>,
}

/// A Microsoft Graph base URL, without its trailing `/`: https, or http on a loopback address.
/// Not an `HttpsUrl`: the tests point `--graph-url` at a fake Graph on plain loopback http.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphBase(String);

impl GraphBase {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GraphBase {
    type Err = InvalidValue;

    fn from_str(text: &str) -> std::result::Result<Self, InvalidValue> {
        let refuse = |reason: String| InvalidValue {
            reason,
            fix: "pass an https URL such as https://graph.microsoft.com/v1.0",
        };
        let url = Url::parse(text)
            .map_err(|e| refuse(format!("invalid Microsoft Graph URL {text:?}: {e}")))?;
        let loopback = crate::uris::is_loopback_host(&url);
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(refuse(format!(
                "Microsoft Graph URL {text:?} must use https (http only on a loopback address)"
            )));
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }
}

impl Deref for GraphBase {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// A Graph client holding the bearer token.
pub struct Graph {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Graph {
    pub fn new(base: &GraphBase, token: &Secret, timeout: Duration) -> Result<Self> {
        oc_mcp_common::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("oc-mcp-oauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::failed(format!(
                    "cannot build an HTTP client: {}",
                    describe_chain(&e)
                ))
            })?;
        Ok(Self {
            http,
            base: base.as_str().to_owned(),
            token: token.clone(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send a request; 2xx and (when `allow_404`) 404 are answers, anything else an error.
    pub async fn send(&self, request: &GraphRequest, allow_404: bool) -> Result<GraphResponse> {
        let url = format!("{}{}", self.base, request.path);
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Error::failed(format!("bad HTTP method {}", request.method)))?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                Error::usage("the Microsoft Graph token contains characters a header cannot carry")
            })?;
        auth.set_sensitive(true);
        let mut builder = self
            .http
            .request(method, &url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        tracing::debug!(method = %request.method, path = %request.path, "Microsoft Graph request");
        let response = builder
            .send()
            .await
            .map_err(|e| Error::unreachable(format!("Microsoft Graph at {}", self.base), e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable(format!("Microsoft Graph at {}", self.base), e))?;
        tracing::debug!(status, path = %request.path, "Microsoft Graph answer");
        let body = if text.trim().is_empty() {
            None
        } else {
            serde_json::from_str(&text).ok()
        };
        if (200..300).contains(&status) || (allow_404 && status == 404) {
            return Ok(GraphResponse { status, body });
        }
        Err(graph_error(request, status, body.as_ref()))
    }

    /// GET; `None` on 404.
    pub async fn get_opt(&self, request: &GraphRequest) -> Result<Option<Value>> {
        let answer = self.send(request, true).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        answer.body.map(Some).ok_or_else(|| {
            Error::failed(format!(
                "Microsoft Graph sent no JSON for {} {}",
                request.method, request.path
            ))
        })
    }
}

/// Graph's `{"error": {"code", "message"}}` as an error a user can act on.
pub fn graph_error(request: &GraphRequest, status: u16, body: Option<&Value>) -> Error {
    let code = body
        .and_then(|b| b.pointer("/error/code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = body
        .and_then(|b| b.pointer("/error/message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let detail = format!(
        "{} {} answered {status}{}{}",
        request.method,
        request.path.split('?').next().unwrap_or_default(),
        if code.is_empty() {
            String::new()
        } else {
            format!(" {code}")
        },
        if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        }
    );
    match status {
        401 => Error::Failed {
            message: format!("Microsoft Graph rejected the token ({detail})"),
            hint: Some("get a fresh token: `az login --tenant TENANT`, then re-run".into()),
        },
        403 => Error::Failed {
            message: format!("Microsoft Graph refused ({detail})"),
            hint: Some(
                "the signed-in account needs Application.ReadWrite.All (the Application Administrator role); \
                 admin consent also needs DelegatedPermissionGrant.ReadWrite.All"
                    .into(),
            ),
        },
        429 | 500..=599 => Error::Failed {
            message: format!("Microsoft Graph is not available ({detail})"),
            hint: Some("wait a moment and re-run: every step is idempotent".into()),
        },
        _ => Error::Failed {
            message: format!("Microsoft Graph: {detail}"),
            hint: Some("re-run with --dry-run=client to see every request".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_except_loopback() {
        assert_eq!(
            "https://graph.microsoft.com/v1.0/"
                .parse::<GraphBase>()
                .expect("ok")
                .as_str(),
            GRAPH_URL
        );
        assert!("http://127.0.0.1:4000/v1.0".parse::<GraphBase>().is_ok());
        assert!(
            "http://graph.example.com/v1.0"
                .parse::<GraphBase>()
                .is_err()
        );
    }

    #[test]
    fn errors_name_the_request_and_graphs_code() {
        let request = GraphRequest::get("read", "/applications?$select=id");
        let body = serde_json::json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}});
        let err = graph_error(&request, 403, Some(&body));
        assert_eq!(
            err.to_string(),
            "Microsoft Graph refused (GET /applications answered 403 Authorization_RequestDenied: Insufficient privileges)"
        );
        assert!(
            err.hint()
                .expect("hint")
                .contains("Application.ReadWrite.All")
        );
    }

    #[test]
    fn printed_requests_have_no_authorization_header() {
        let request = GraphRequest::with_body(
            "create",
            "PATCH",
            "/applications(uniqueName='a')",
            serde_json::json!({"displayName": "a"}),
        )
        .header("Prefer", "create-if-missing");
        let text = request.to_http(GRAPH_URL);
        assert!(text.starts_with("PATCH https://graph.microsoft.com/v1.0/applications(uniqueName='a')\nPrefer: create-if-missing\n"));
        assert!(!text.to_lowercase().contains("authorization"));
    }
}
