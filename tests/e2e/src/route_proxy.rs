//! A CONNECT proxy on loopback that sends only one route host's port 443 to the sandbox
//! router, for the plugins' requests to the route host: they read `ALL_PROXY` (through
//! reqwest), while kubectl and kube-rs do not, so the API server and the issuer stay direct
//! (`NO_PROXY` names loopback too). Without it a plugin that asks the server for its settings
//! would look the route host up in the machine's DNS, which is not loopback.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::{TcpListener, TcpStream},
};

/// The proxy serves at most this many connections (a run makes a handful).
const MAX_CONNECTIONS: usize = 200;

/// A CONNECT proxy for the route host only; it records every CONNECT target.
#[derive(Debug)]
pub struct RouteProxy {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RouteProxy {
    /// Tunnel `host:443` to `router` (which must be loopback); refuse every other target.
    pub async fn start(router: SocketAddr, host: &str) -> Self {
        assert!(router.ip().is_loopback(), "{router} is not loopback");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = targets.clone();
        let allowed = format!("{host}:443");
        let task = tokio::spawn(async move {
            for _ in 0..MAX_CONNECTIONS {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(tunnel(client, router, allowed.clone(), seen.clone()));
            }
        });
        Self {
            addr,
            targets,
            task,
        }
    }

    /// The environment that sends a plugin's requests for the route host here.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("ALL_PROXY", format!("http://{}", self.addr)),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
        ]
    }

    /// How many CONNECTs were asked for.
    pub fn connects(&self) -> usize {
        self.targets.lock().map(|t| t.len()).unwrap_or_default()
    }

    /// Every CONNECT target asked for, in order.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for RouteProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tunnel(
    client: TcpStream,
    router: SocketAddr,
    allowed: String,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let mut client = BufReader::new(client);
    let mut head = Vec::new();
    // The request head: at most 40 lines.
    for _ in 0..40 {
        let mut line = String::new();
        if client.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let target = head
        .first()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut t) = seen.lock() {
        t.push(target.clone());
    }
    let mut client = client.into_inner();
    if target != allowed {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(router).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
