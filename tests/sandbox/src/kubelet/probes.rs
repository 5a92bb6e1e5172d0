//! Readiness and liveness probes of running containers (HTTP or TCP), at most every second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::status::flush_events;
use super::{Kind, MAX_PROBE_PERIOD, PendingEvent, arr, lock, s};
use crate::events::WARNING;
use crate::server::State;

struct ProbeJob {
    uid: String,
    ctr: usize,
    target: SocketAddr,
    host: String,
    path: String,
    scheme: String,
    tcp_only: bool,
    timeout: Duration,
}

pub(super) async fn run_probes(state: &Arc<State>) {
    let now = Instant::now();
    let mut jobs = Vec::new();
    {
        let mut pods = lock(&state.kubelet.pods);
        for (uid, p) in pods.iter_mut() {
            for (ci, c) in p.ctrs.iter_mut().enumerate() {
                if c.kind != Kind::Process || c.proc.is_none() {
                    continue;
                }
                let Some(probe) = c.spec.get("readinessProbe").filter(|v| v.is_object()) else {
                    c.ready = true;
                    continue;
                };
                if c.next_probe.is_none_or(|t| t > now) {
                    continue;
                }
                let period = Duration::from_secs(
                    probe
                        .get("periodSeconds")
                        .and_then(Value::as_u64)
                        .unwrap_or(10),
                )
                .min(MAX_PROBE_PERIOD);
                c.next_probe = Some(now + period);
                let Some(addr) = p.addr else { continue };
                let (port, path, scheme, tcp_only) = if let Some(h) = probe.get("httpGet") {
                    (
                        h.get("port"),
                        s(h, "/path").to_string(),
                        s(h, "/scheme").to_string(),
                        false,
                    )
                } else if let Some(t) = probe.get("tcpSocket") {
                    (t.get("port"), String::new(), String::new(), true)
                } else {
                    // exec and grpc probes cannot run here: count them as passing.
                    c.probe_ok += 1;
                    c.ready = true;
                    continue;
                };
                let port_num = match port {
                    Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    Some(Value::String(name)) => arr(&c.spec, "/ports").iter().find_map(|pp| {
                        (s(pp, "/name") == name)
                            .then(|| pp.get("containerPort").and_then(Value::as_u64))
                            .flatten()
                            .and_then(|n| u16::try_from(n).ok())
                    }),
                    _ => None,
                };
                let timeout = Duration::from_secs(
                    probe
                        .get("timeoutSeconds")
                        .and_then(Value::as_u64)
                        .unwrap_or(1)
                        .max(1),
                );
                let reachable = port_num.is_some_and(|pn| p.ports.contains(&pn));
                jobs.push(ProbeJob {
                    uid: uid.clone(),
                    ctr: ci,
                    target: if reachable {
                        addr
                    } else {
                        SocketAddr::from(([127, 0, 0, 1], 1))
                    },
                    host: format!("{}:{}", p.ip, port_num.unwrap_or(0)),
                    path: if path.is_empty() { "/".into() } else { path },
                    scheme,
                    tcp_only,
                    timeout,
                });
            }
        }
    }
    if jobs.is_empty() {
        return;
    }
    let results = futures::future::join_all(jobs.iter().map(probe_once)).await;
    let mut pods = lock(&state.kubelet.pods);
    let mut events = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        let Some(p) = pods.get_mut(&job.uid) else {
            continue;
        };
        let Some(c) = p.ctrs.get_mut(job.ctr) else {
            continue;
        };
        let probe = c.spec.get("readinessProbe").cloned().unwrap_or(json!({}));
        let success_threshold = probe
            .get("successThreshold")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        let failure_threshold = probe
            .get("failureThreshold")
            .and_then(Value::as_u64)
            .unwrap_or(3);
        match result {
            Ok(()) => {
                c.probe_ok += 1;
                c.probe_fail = 0;
                if u64::from(c.probe_ok) >= success_threshold {
                    c.ready = true;
                }
            }
            Err(why) => {
                c.probe_fail += 1;
                c.probe_ok = 0;
                if u64::from(c.probe_fail) >= failure_threshold {
                    c.ready = false;
                }
                if c.proc.is_some() {
                    events.push(PendingEvent {
                        uid: job.uid.clone(),
                        container: Some(c.name.clone()),
                        kind: WARNING,
                        reason: "Unhealthy",
                        message: format!("Readiness probe failed: {why}"),
                    });
                }
            }
        }
    }
    drop(pods);
    if !events.is_empty() {
        let mut store = state.store();
        flush_events(&mut store, events);
    }
}

async fn probe_once(job: &ProbeJob) -> Result<(), String> {
    let url = format!(
        "{}://{}{}",
        if job.scheme.eq_ignore_ascii_case("https") {
            "https"
        } else {
            "http"
        },
        job.host,
        job.path
    );
    let connect =
        tokio::time::timeout(job.timeout, tokio::net::TcpStream::connect(job.target)).await;
    let tcp = match connect {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Err(format!(
                "Get \"{url}\": dial tcp {}: connect: {}",
                job.host,
                go_error(&e)
            ));
        }
        Err(_) => return Err(format!("Get \"{url}\": context deadline exceeded")),
    };
    if job.tcp_only || job.scheme.eq_ignore_ascii_case("https") {
        // TLS probes are not verified by the kubelet either; reaching the port is enough here.
        return Ok(());
    }
    let req = http::Request::get(job.path.as_str())
        .header(http::header::HOST, job.host.as_str())
        .header(http::header::USER_AGENT, "kube-probe/1.33")
        .header(http::header::ACCEPT, "*/*")
        .body(axum::body::Body::empty())
        .map_err(|e| e.to_string())?;
    let fut = async {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        Ok::<u16, String>(resp.status().as_u16())
    };
    match tokio::time::timeout(job.timeout, fut).await {
        Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
        Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
        Ok(Err(e)) => Err(format!("Get \"{url}\": {e}")),
        Err(_) => Err(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// An I/O error as Go's net package words it.
pub fn go_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        std::io::ErrorKind::TimedOut => "i/o timeout".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error")
                .next()
                .unwrap_or(&s)
                .to_ascii_lowercase()
        }
    }
}
