//! The loopback redirect listener of a native-app login (RFC 8252 section 7.3): an HTTP
//! server on a loopback address that waits for the authorization server to send the browser
//! back with `code` and `state`, then stops. It binds only loopback addresses, reads at most
//! [`MAX_REQUEST_HEAD`] bytes per request within [`READ_TIMEOUT`], and serves at most
//! [`MAX_CONNECTIONS`] connections at once (browsers open spare ones).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinSet,
};
use url::Url;

/// The path the redirect comes back to (as registered by `oc mcp-oauth`: loopback URIs
/// `http://127.0.0.1/oauth/callback` and `http://localhost/oauth/callback`, any port).
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// Only the request head matters; a redirect's is small.
pub const MAX_REQUEST_HEAD: usize = 8192;
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_CONNECTIONS: usize = 16;
/// How long the result page gets to reach the browser once the login is decided.
const LINGER: Duration = Duration::from_secs(2);

/// What the authorization server sent back. `Debug` never shows the code.
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

/// Why no code arrived.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error(
        "{address} is not a loopback address: the login redirect listener binds only 127.0.0.0/8 or ::1"
    )]
    NotLoopback { address: SocketAddr },
    #[error("cannot listen on {address} for the login redirect: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the login listener failed: {source}")]
    Listener { source: std::io::Error },
    #[error("the login was refused ({error}{})", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the login redirect carried neither a code nor an error")]
    NoCode,
    #[error("no login arrived at {redirect_uri} within {}s", timeout.as_secs())]
    TimedOut {
        redirect_uri: String,
        timeout: Duration,
    },
}

type Outcome = Result<Callback, LoopbackError>;
/// Taken by the first request that decides the login; later ones find it empty.
type Decision = Arc<Mutex<Option<oneshot::Sender<Outcome>>>>;

/// A bound listener, waiting to be used.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
    state: Arc<str>,
}

impl Loopback {
    /// Bind `address` (port 0 picks a free port); `state` is what the redirect must carry.
    pub async fn bind(address: SocketAddr, state: &str) -> Result<Self, LoopbackError> {
        if !address.ip().is_loopback() {
            return Err(LoopbackError::NotLoopback { address });
        }
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| LoopbackError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| LoopbackError::Listener { source })?;
        let host = match local.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        };
        Ok(Self {
            listener,
            redirect_uri: format!("http://{host}:{}{CALLBACK_PATH}", local.port()),
            state: Arc::from(state),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Serve until a redirect with our `state` decides the login, at most `timeout`.
    pub async fn wait(self, timeout: Duration) -> Outcome {
        let (decided, mut outcome) = oneshot::channel();
        let decision: Decision = Arc::new(Mutex::new(Some(decided)));
        let mut connections = JoinSet::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let result = loop {
            tokio::select! {
                () = &mut deadline => break Err(LoopbackError::TimedOut {
                    redirect_uri: self.redirect_uri.clone(),
                    timeout,
                }),
                decided = &mut outcome => break decided.unwrap_or(Err(LoopbackError::NoCode)),
                accepted = self.listener.accept() => match accepted {
                    // Over the limit the connection is dropped unanswered.
                    Ok((stream, _)) if connections.len() < MAX_CONNECTIONS => {
                        connections.spawn(serve(stream, self.state.clone(), decision.clone()));
                    }
                    Ok(_) => {}
                    Err(source) => break Err(LoopbackError::Listener { source }),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        drop(self.listener);
        let _ = tokio::time::timeout(LINGER, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        result
    }
}

/// Answer one connection; decide the login when it is the redirect we wait for.
async fn serve(mut stream: TcpStream, state: Arc<str>, decision: Decision) {
    let Ok(head) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let (status, text) = match callback_query(&head) {
        None => ("404 Not Found", "Not the login callback."),
        // A request without our state is not the answer to our request (a stray tab, or a
        // forged redirect): refuse it and keep waiting.
        Some(query) if query.get("state") != Some(&*state) => (
            "400 Bad Request",
            "This is not the login this window is waiting for (state mismatch).",
        ),
        Some(query) => {
            let outcome = decide(&query);
            let page = match &outcome {
                Ok(_) => (
                    "200 OK",
                    "Login complete. You can close this window and return to the terminal.",
                ),
                Err(_) => ("401 Unauthorized", "Login failed. The terminal says why."),
            };
            match decision.lock().ok().and_then(|mut d| d.take()) {
                Some(sender) => {
                    let _ = sender.send(outcome);
                    page
                }
                None => ("410 Gone", "This login has already finished."),
            }
        }
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, reply(&mut stream, status, text)).await;
}

/// The request head, at most [`MAX_REQUEST_HEAD`] bytes.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = vec![0u8; MAX_REQUEST_HEAD];
    let mut len = 0;
    while len < buf.len() {
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The parameters the authorization server sent back.
#[derive(Debug, PartialEq, Eq)]
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The query of a request line `GET /path?query HTTP/1.1`, when the path is the callback's.
fn callback_query(request: &str) -> Option<Query> {
    let line = request.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" || !target.starts_with('/') {
        return None;
    }
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    (url.path() == CALLBACK_PATH).then(|| Query(url.query_pairs().into_owned().collect()))
}

fn decide(query: &Query) -> Outcome {
    if let Some(error) = query.get("error") {
        return Err(LoopbackError::Refused {
            error: error.to_owned(),
            description: query.get("error_description").map(str::to_owned),
        });
    }
    match query.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Callback {
            code: code.to_owned(),
            iss: query.get("iss").map(str::to_owned),
        }),
        None => Err(LoopbackError::NoCode),
    }
}

async fn reply(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>oc-mcp login</title></head><body><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Query {
        Query(
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn only_a_get_of_the_callback_path_is_read() {
        assert_eq!(
            callback_query("GET /oauth/callback?code=a&state=b HTTP/1.1\r\n\r\n"),
            Some(pairs(&[("code", "a"), ("state", "b")]))
        );
        assert_eq!(callback_query("GET /favicon.ico HTTP/1.1\r\n"), None);
        assert_eq!(
            callback_query("POST /oauth/callback?code=a HTTP/1.1\r\n"),
            None
        );
        assert_eq!(
            callback_query("GET @evil/oauth/callback HTTP/1.1\r\n"),
            None
        );
        assert_eq!(callback_query(""), None);
    }

    #[test]
    fn the_redirect_decides_the_login() {
        let ok = decide(&pairs(&[("code", "c"), ("iss", "https://i")])).expect("code");
        assert_eq!(
            (ok.code.as_str(), ok.iss.as_deref()),
            ("c", Some("https://i"))
        );
        assert!(!format!("{ok:?}").contains("\"c\""));
        let refused = decide(&pairs(&[
            ("error", "access_denied"),
            ("error_description", "no"),
        ]));
        assert_eq!(
            refused.expect_err("refused").to_string(),
            "the login was refused (access_denied: no)"
        );
        assert!(matches!(
            decide(&pairs(&[("code", "")])),
            Err(LoopbackError::NoCode)
        ));
    }

    #[tokio::test]
    async fn only_loopback_addresses_are_bound() {
        let public: SocketAddr = "0.0.0.0:0".parse().expect("address");
        assert!(matches!(
            Loopback::bind(public, "s").await,
            Err(LoopbackError::NotLoopback { .. })
        ));
        let local: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let listener = Loopback::bind(local, "s").await.expect("bind");
        assert!(listener.redirect_uri().starts_with("http://127.0.0.1:"));
        assert!(listener.redirect_uri().ends_with(CALLBACK_PATH));
        assert!(matches!(
            listener.wait(Duration::from_millis(10)).await,
            Err(LoopbackError::TimedOut { .. })
        ));
    }
}
