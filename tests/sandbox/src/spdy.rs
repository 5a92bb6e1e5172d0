//! The server half of SPDY/3.1 as the kubelet speaks it for port forwarding (kubectl tunnels
//! it over a WebSocket, subprotocol `SPDY/3.1+portforward.k8s.io`, or upgrades to it
//! directly): frames, zlib-with-dictionary header blocks, and the port-forward stream pairs
//! (`streamType: error|data`, `port`, `requestID`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;
/// Frames larger than this are refused (the kubelet's limit is far below SPDY's 16 MiB).
const MAX_FRAME: usize = 1 << 20;

/// The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): length-prefixed
/// common header names, then common values.
pub fn dictionary() -> Vec<u8> {
    const NAMES: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    let mut d = Vec::with_capacity(1423);
    for n in NAMES {
        d.extend_from_slice(&u32::try_from(n.len()).unwrap_or(0).to_be_bytes());
        d.extend_from_slice(n.as_bytes());
    }
    d.extend_from_slice(TAIL.as_bytes());
    d
}

/// Adler-32 (zlib's checksum; the DICTID of a preset dictionary).
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// The peer's header-block stream: zlib with the SPDY dictionary, one stream across frames
/// (each frame ends with a sync flush).
struct Inflater {
    state: Box<miniz_oxide::inflate::core::DecompressorOxide>,
    /// 32 KiB ring buffer, pre-filled with the dictionary as history.
    window: Vec<u8>,
    pos: usize,
    header_seen: bool,
}

impl Inflater {
    fn new() -> Self {
        let dict = dictionary();
        let mut window = vec![0u8; 32 * 1024];
        window[..dict.len()].copy_from_slice(&dict);
        Inflater {
            state: Box::default(),
            window,
            pos: dict.len(),
            header_seen: false,
        }
    }

    fn inflate(&mut self, mut input: &[u8]) -> Result<Vec<u8>, String> {
        use miniz_oxide::inflate::TINFLStatus;
        use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
        if !self.header_seen {
            if input.len() < 2 {
                return Err("short zlib header".into());
            }
            let fdict = input[1] & 0x20 != 0;
            let skip = if fdict { 6 } else { 2 };
            if fdict {
                let id = u32::from_be_bytes([input[2], input[3], input[4], input[5]]);
                if id != adler32(&dictionary()) {
                    return Err("the header block uses an unknown zlib dictionary".into());
                }
            }
            input = input.get(skip..).ok_or("short zlib header")?;
            self.header_seen = true;
        }
        let mut out = Vec::new();
        loop {
            let (status, used, produced) = miniz_oxide::inflate::core::decompress(
                &mut self.state,
                input,
                &mut self.window,
                self.pos,
                TINFL_FLAG_HAS_MORE_INPUT,
            );
            out.extend_from_slice(&self.window[self.pos..self.pos + produced]);
            self.pos = (self.pos + produced) % self.window.len();
            input = &input[used..];
            match status {
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done => return Ok(out),
                other => return Err(format!("inflating a header block failed: {other:?}")),
            }
            if input.is_empty() && produced == 0 {
                return Ok(out);
            }
        }
    }
}

/// Our header-block stream: zlib without a dictionary, stored blocks, a sync flush per frame.
struct Deflater {
    started: bool,
}

impl Deflater {
    fn deflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.started {
            out.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for chunk in data.chunks(0xffff) {
            let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            out.push(0x00);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // Sync flush: an empty stored block.
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        out
    }
}

fn header_block(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32::try_from(headers.len()).unwrap_or(0).to_be_bytes());
    for (k, v) in headers {
        b.extend_from_slice(&u32::try_from(k.len()).unwrap_or(0).to_be_bytes());
        b.extend_from_slice(k.as_bytes());
        b.extend_from_slice(&u32::try_from(v.len()).unwrap_or(0).to_be_bytes());
        b.extend_from_slice(v.as_bytes());
    }
    b
}

fn parse_headers(block: &[u8]) -> Result<HashMap<String, String>, String> {
    struct Cursor<'a>(&'a [u8], usize);
    impl Cursor<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let s = self
                .0
                .get(self.1..self.1 + n)
                .ok_or("truncated header block")?;
            self.1 += n;
            Ok(s)
        }
        fn u32(&mut self) -> Result<usize, String> {
            let b: [u8; 4] = self
                .take(4)?
                .try_into()
                .map_err(|_| "truncated header block")?;
            usize::try_from(u32::from_be_bytes(b)).map_err(|e| e.to_string())
        }
        fn string(&mut self) -> Result<String, String> {
            let n = self.u32()?;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
    }
    let mut cur = Cursor(block, 0);
    let count = cur.u32()?;
    let mut out = HashMap::new();
    for _ in 0..count.min(1000) {
        let name = cur.string()?;
        let value = cur.string()?;
        out.insert(
            name.to_ascii_lowercase(),
            value.split('\0').next().unwrap_or("").to_string(),
        );
    }
    Ok(out)
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(0x8003u16).to_be_bytes());
    f.extend_from_slice(&kind.to_be_bytes());
    let len = u32::try_from(payload.len()).unwrap_or(0);
    f.push(flags);
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.push(flags);
    let len = u32::try_from(payload.len()).unwrap_or(0);
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

#[derive(Debug, Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
}

/// Where a port of the pod is served; `Err` is the message for the error stream.
pub type Connector = Arc<dyn Fn(u16) -> Result<SocketAddr, String> + Send + Sync>;

/// Serve one SPDY port-forward connection until the peer goes away.
pub async fn serve<S>(io: S, connect: Connector)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
            let _ = wr.flush().await;
        }
        let _ = wr.shutdown().await;
    });
    let mut inflater = Inflater::new();
    let mut deflater = Deflater { started: false };
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut to_pod: HashMap<u32, tokio::net::tcp::OwnedWriteHalf> = HashMap::new();
    let mut tasks = Vec::new();
    loop {
        let mut head = [0u8; 8];
        if rd.read_exact(&mut head).await.is_err() {
            break;
        }
        let len = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
        if len > MAX_FRAME {
            break;
        }
        let mut payload = vec![0u8; len];
        if rd.read_exact(&mut payload).await.is_err() {
            break;
        }
        let flags = head[4];
        if head[0] & 0x80 == 0 {
            // DATA
            let sid = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            if let Some(w) = to_pod.get_mut(&sid) {
                if !payload.is_empty() && w.write_all(&payload).await.is_err() {
                    to_pod.remove(&sid);
                    continue;
                }
                if flags & FLAG_FIN != 0
                    && let Some(mut w) = to_pod.remove(&sid)
                {
                    let _ = w.shutdown().await;
                }
            }
            continue;
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        match kind {
            SYN_STREAM if payload.len() >= 10 => {
                let sid = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                let headers = match inflater
                    .inflate(&payload[10..])
                    .and_then(|b| parse_headers(&b))
                {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::debug!("port-forward: {e}");
                        break;
                    }
                };
                let reply = deflater.deflate(&header_block(&[]));
                let mut p = sid.to_be_bytes().to_vec();
                p.extend_from_slice(&reply);
                if tx.send(control(SYN_REPLY, 0, &p)).await.is_err() {
                    break;
                }
                let request = headers.get("requestid").cloned().unwrap_or_default();
                let port: u16 = headers
                    .get("port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let pair = pairs.entry(request.clone()).or_default();
                pair.port = port;
                match headers.get("streamtype").map(String::as_str) {
                    Some("error") => pair.error = Some(sid),
                    Some("data") => pair.data = Some(sid),
                    _ => {}
                }
                if let (Some(err_sid), Some(data_sid)) = (pair.error, pair.data) {
                    pairs.remove(&request);
                    match connect(port).map(|a| (a, tokio::net::TcpStream::connect(a))) {
                        Ok((addr, fut)) => match fut.await {
                            Ok(tcp) => {
                                let (mut r, w) = tcp.into_split();
                                to_pod.insert(data_sid, w);
                                let tx = tx.clone();
                                tasks.push(tokio::spawn(async move {
                                    let mut buf = vec![0u8; 32 * 1024];
                                    loop {
                                        match r.read(&mut buf).await {
                                            Ok(0) | Err(_) => break,
                                            Ok(n) => {
                                                if tx
                                                    .send(data(data_sid, 0, &buf[..n]))
                                                    .await
                                                    .is_err()
                                                {
                                                    return;
                                                }
                                            }
                                        }
                                    }
                                    let _ = tx.send(data(data_sid, FLAG_FIN, &[])).await;
                                    let _ = tx.send(data(err_sid, FLAG_FIN, &[])).await;
                                    let _ = addr;
                                }));
                            }
                            Err(e) => {
                                let msg = format!(
                                    "error forwarding port {port}: dial tcp {addr}: connect: {}",
                                    crate::kubelet::go_error(&e)
                                );
                                let _ = tx.send(data(err_sid, FLAG_FIN, msg.as_bytes())).await;
                                let _ = tx.send(data(data_sid, FLAG_FIN, &[])).await;
                            }
                        },
                        Err(msg) => {
                            let _ = tx.send(data(err_sid, FLAG_FIN, msg.as_bytes())).await;
                            let _ = tx.send(data(data_sid, FLAG_FIN, &[])).await;
                        }
                    }
                }
            }
            PING if payload.len() == 4 => {
                let sent = tx.send(control(PING, 0, &payload)).await;
                if sent.is_err() {
                    break;
                }
            }
            RST_STREAM if payload.len() >= 4 => {
                let sid = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                to_pod.remove(&sid);
            }
            GOAWAY => break,
            _ => {}
        }
    }
    drop(to_pod);
    for t in tasks {
        t.abort();
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_spdy3() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert!(d.starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(d.ends_with(b"utf-,*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_stored_deflate() {
        let block = header_block(&[("streamtype", "data"), ("port", "8080"), ("requestid", "0")]);
        let mut d = Deflater { started: false };
        let mut i = Inflater::new();
        let z1 = d.deflate(&block);
        let h = parse_headers(&i.inflate(&z1).expect("inflate")).expect("parse");
        assert_eq!(h.get("port").map(String::as_str), Some("8080"));
        let z2 = d.deflate(&header_block(&[("streamtype", "error")]));
        let h = parse_headers(&i.inflate(&z2).expect("inflate")).expect("parse");
        assert_eq!(h.get("streamtype").map(String::as_str), Some("error"));
    }
}
