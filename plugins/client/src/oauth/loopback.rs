//! The loopback redirect listener of a native-app login (RFC 8252 section 7.3): an HTTP server
//! on 127.0.0.1 that waits for the authorization server to send the browser back with `code`
//! and `state`, then stops.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Html,
};
use oc_mcp_common::{Error, Result};
use tokio::sync::oneshot;

/// The path the redirect comes back to (as registered by `oc mcp-oauth`: loopback URIs
/// `http://127.0.0.1/oauth/callback` and `http://localhost/oauth/callback`, any port).
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// What the authorization server sent back.
#[derive(Clone)]
pub struct Callback {
    pub code: String,
    /// RFC 9207 `iss`, when the server sends it.
    pub iss: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

type Outcome = std::result::Result<Callback, Error>;

#[derive(Clone)]
struct Shared {
    state: Arc<str>,
    done: Arc<Mutex<Option<oneshot::Sender<Outcome>>>>,
}

/// A bound listener, waiting to be used.
#[derive(Debug)]
pub struct Loopback {
    redirect_uri: String,
    outcome: oneshot::Receiver<Outcome>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Loopback {
    /// Bind `address` (port 0 picks a free port) and start serving; `state` is what the
    /// redirect must carry.
    pub async fn bind(address: SocketAddr, state: &str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
            Error::usage_with_hint(
                format!("cannot listen on {address} for the login redirect: {e}"),
                "pick another address with --listen-address (e.g. 127.0.0.1:0 for any free port)",
            )
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listener's address", e))?;
        let host = match local.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        };
        let redirect_uri = format!("http://{host}:{}{CALLBACK_PATH}", local.port());
        let (done_tx, outcome) = oneshot::channel();
        let shared = Shared {
            state: Arc::from(state),
            done: Arc::new(Mutex::new(Some(done_tx))),
        };
        let app = axum::Router::new()
            .route(CALLBACK_PATH, axum::routing::get(callback))
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            redirect_uri,
            outcome,
            stop: Some(stop),
            task,
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Wait for the redirect, at most `timeout`.
    pub async fn wait(mut self, timeout: Duration) -> Result<Callback> {
        let result = tokio::time::timeout(timeout, &mut self.outcome).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Give the success page a moment to reach the browser.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        match result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Error::failed("the login listener stopped unexpectedly")),
            Err(_) => Err(Error::Unauthenticated {
                message: format!(
                    "no login arrived at {} within {}s",
                    self.redirect_uri,
                    timeout.as_secs()
                ),
            }),
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn callback(
    State(shared): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, Html<String>) {
    // A request without our state is not the answer to our request (a stray tab, or a
    // forged redirect): refuse it and keep waiting.
    if params.get("state").map(String::as_str) != Some(&*shared.state) {
        return (
            StatusCode::BAD_REQUEST,
            page("This is not the login this window is waiting for (state mismatch)."),
        );
    }
    let outcome = if let Some(error) = params.get("error") {
        let description = params
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Err(Error::Unauthenticated {
            message: format!("the login was refused ({error}{description})"),
        })
    } else if let Some(code) = params.get("code").filter(|c| !c.is_empty()) {
        Ok(Callback {
            code: code.clone(),
            iss: params.get("iss").cloned(),
        })
    } else {
        Err(Error::Unauthenticated {
            message: "the login redirect carried neither a code nor an error".into(),
        })
    };
    let (status, text) = match &outcome {
        Ok(_) => (
            StatusCode::OK,
            "Login complete. You can close this window and return to the terminal.",
        ),
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            "Login failed. The terminal says why.",
        ),
    };
    let sender = shared.done.lock().ok().and_then(|mut s| s.take());
    match sender {
        Some(sender) => {
            let _ = sender.send(outcome);
            (status, page(text))
        }
        None => (StatusCode::GONE, page("This login has already finished.")),
    }
}

fn page(text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>oc mcp-client</title></head>\
         <body><p>{text}</p></body></html>"
    ))
}
