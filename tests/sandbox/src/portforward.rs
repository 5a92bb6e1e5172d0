//! `pods/portforward`: the WebSocket protocol kube-rs speaks (`v4.channel.k8s.io`: channel
//! 2n carries port n's data, 2n+1 its errors, each opened by a frame with the port number),
//! and SPDY/3.1 as kubectl 1.33 speaks it, tunneled in a WebSocket
//! (`SPDY/3.1+portforward.k8s.io`) or after a plain `Upgrade: SPDY/3.1`. Connections go to
//! the pod's process (the kubelet's address for that container port).

use std::sync::Arc;

use axum::body::Body;
use futures::{SinkExt as _, StreamExt as _};
use http::{HeaderValue, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::server::{Ctx, Resp, State};
use crate::spdy::Connector;
use crate::status::ApiError;

const SPDY_WS: &str = "SPDY/3.1+portforward.k8s.io";
const CHANNEL_PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "channel.k8s.io", "portforward.k8s.io"];

enum Proto {
    WsChannels(&'static str),
    WsSpdy,
    Spdy,
}

fn connector(state: &Arc<State>, pod: &Value) -> Connector {
    let st = state.clone();
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Arc::new(move |port: u16| {
        st.kubelet.address(&uid, port).ok_or_else(|| {
            format!(
                "error forwarding port {port} to pod {name}, uid {uid}: failed to connect to localhost:{port} inside namespace: connection refused"
            )
        })
    })
}

/// Answer the upgrade and run the chosen protocol on the upgraded connection.
pub fn handle(state: &Arc<State>, ctx: &Ctx, pod: &Value) -> Result<Resp, ApiError> {
    let upgrade = ctx.header("upgrade").to_ascii_lowercase();
    let offered: Vec<String> = ctx
        .headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            v.split(',')
                .map(|p| p.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let proto = if upgrade == "websocket" {
        if offered.iter().any(|p| p == SPDY_WS) {
            Proto::WsSpdy
        } else if let Some(p) = CHANNEL_PROTOCOLS
            .iter()
            .find(|c| offered.iter().any(|o| o == *c))
        {
            Proto::WsChannels(p)
        } else {
            return Err(ApiError::bad_request(format!(
                "unable to upgrade: no supported WebSocket subprotocol in {offered:?}"
            )));
        }
    } else if upgrade.starts_with("spdy/3.1") {
        Proto::Spdy
    } else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: pod {} is not running",
            ctx.info.name
        )));
    }
    let on_upgrade = ctx
        .upgrade
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| ApiError::bad_request("the connection cannot be upgraded"))?;
    let ports: Vec<u16> = ctx
        .q("ports")
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let connect = connector(state, pod);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    match &proto {
        Proto::WsChannels(_) | Proto::WsSpdy => {
            let key = ctx.header("sec-websocket-key");
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
            if let Ok(v) = HeaderValue::from_str(&accept) {
                h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
            }
            let chosen = match &proto {
                Proto::WsChannels(p) => p,
                _ => SPDY_WS,
            };
            h.insert(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(chosen),
            );
        }
        Proto::Spdy => {
            h.insert(http::header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            h.insert(
                "x-stream-protocol-version",
                HeaderValue::from_static("portforward.k8s.io"),
            );
        }
    }
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        match proto {
            Proto::Spdy => crate::spdy::serve(io, connect).await,
            Proto::WsSpdy => {
                let ws =
                    tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None)
                        .await;
                crate::spdy::serve(ws_bytes(ws), connect).await;
            }
            Proto::WsChannels(_) => {
                let ws =
                    tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None)
                        .await;
                channels(ws, &ports, &connect).await;
            }
        }
    });
    Ok(resp)
}

/// A byte stream over a WebSocket's binary messages (the SPDY tunnel).
fn ws_bytes<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> tokio::io::DuplexStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut sink, mut stream) = ws.split();
    let (mut rd, mut wr) = tokio::io::split(ours);
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Binary(b) = msg else {
                if msg.is_close() {
                    break;
                }
                continue;
            };
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sink.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });
    theirs
}

/// The channel protocol: one TCP connection per requested port.
async fn channels<S>(ws: tokio_tungstenite::WebSocketStream<S>, ports: &[u16], connect: &Connector)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(64);
    let mut writers: Vec<Option<tokio::net::tcp::OwnedWriteHalf>> = Vec::new();
    let mut readers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let data_ch = u8::try_from(2 * i).unwrap_or(u8::MAX);
        let [lo, hi] = port.to_le_bytes();
        for ch in [data_ch, data_ch + 1] {
            if sink.send(Message::binary(vec![ch, lo, hi])).await.is_err() {
                return;
            }
        }
        let tcp = match connect(*port) {
            Ok(addr) => tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                format!(
                    "error forwarding port {port}: dial tcp {addr}: connect: {}",
                    crate::kubelet::go_error(&e)
                )
            }),
            Err(e) => Err(e),
        };
        match tcp {
            Ok(tcp) => {
                let (mut r, w) = tcp.into_split();
                writers.push(Some(w));
                let tx = tx.clone();
                readers.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match r.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let mut m = Vec::with_capacity(n + 1);
                                m.push(data_ch);
                                m.extend_from_slice(&buf[..n]);
                                if tx.send(Message::binary(m)).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }));
            }
            Err(msg) => {
                writers.push(None);
                let mut m = vec![data_ch + 1];
                m.extend_from_slice(msg.as_bytes());
                let _ = sink.send(Message::binary(m)).await;
            }
        }
    }
    drop(tx);
    let mut open = readers.len();
    if open == 0 {
        let _ = sink.close().await;
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(m) => {
                    if sink.send(m).await.is_err() {
                        break;
                    }
                }
                None => {
                    open = 0;
                }
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(b))) if b.len() > 1 => {
                    let idx = usize::from(b[0] / 2);
                    if b[0] % 2 == 0
                        && let Some(Some(w)) = writers.get_mut(idx)
                        && w.write_all(&b[1..]).await.is_err()
                    {
                        writers[idx] = None;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
        if open == 0 {
            break;
        }
    }
    for r in readers {
        r.abort();
    }
    let _ = sink.close().await;
}
