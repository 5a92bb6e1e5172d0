//! The "kubelet": runs the real kubernetes-mcp-server binary for pods whose image is the
//! server's (materialising the pod's ConfigMap and Secret volumes into a private directory
//! and rewriting the container's args to those paths), reports the process in the pod status
//! (restarts, `CrashLoopBackOff`, readiness from the probe), and keeps its output for
//! `pods/log`. Pods of other images become Ready without running anything, and an event
//! says so.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::events::WARNING;
use crate::server::State;
use crate::store::now_rfc3339;

mod launch;
mod prepare;
mod probes;
mod status;
#[cfg(test)]
mod tests;

use launch::start_container;
pub use prepare::rewrite_paths;
pub use probes::go_error;
use probes::run_probes;
use status::write_status;

pub const NODE_NAME: &str = "sandbox";
pub const SA_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Lines of output kept per container run.
const LOG_LINES: usize = 5000;
/// The kubelet's restart back-off cap.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often probes run at most, whatever `periodSeconds` says (keeps tests quick).
const MAX_PROBE_PERIOD: Duration = Duration::from_secs(1);
/// Where util-linux's `setpriv` may be.
const SETPRIV: &[&str] = &["/usr/bin/setpriv", "/bin/setpriv"];
/// The earliest first readiness probe after a start.
const FIRST_PROBE: Duration = Duration::from_millis(300);
/// How long a simulated run-to-completion container "runs".
const SIMULATED_RUN: Duration = Duration::from_secs(1);

/// Images the sandbox runs as the kubernetes-mcp-server (repository globs; `*` matches
/// anything). The tag or digest is ignored.
pub const DEFAULT_MCP_IMAGES: &[&str] = &[
    "quay.io/containers/kubernetes_mcp_server",
    "ghcr.io/containers/kubernetes-mcp-server",
    "*/openshift-mcp-server*",
];

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// The repository part of an image reference (no tag, no digest).
pub fn repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// `*`-glob match.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(idx) => rest = &rest[idx + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// Repository globs of images run as the kubernetes-mcp-server.
    pub mcp_images: Vec<String>,
    /// The server binary; `None`: `tools::mcp_server()`.
    pub server_bin: Option<PathBuf>,
    /// The address every pod process listens on; `None`: each pod its own loopback address
    /// (see [`pod_loopback`]). Loopback either way: the router then sends the pod address as
    /// Host, because the server's MCP SDK refuses (403) a non-loopback Host on a loopback
    /// listener (its DNS-rebinding guard), where a real pod IP is never loopback.
    pub pod_network: Option<IpAddr>,
    /// First restart back-off (kubelet: 10 s, doubling up to 5 min).
    pub backoff: Duration,
}

/// One run's output, line by line with the time each line arrived.
#[derive(Debug, Default)]
pub struct LogBuf {
    lines: VecDeque<(String, String)>,
    /// Sequence number of `lines[0]` (for `follow`).
    first: u64,
    closed: bool,
}

impl LogBuf {
    fn push(&mut self, line: String) {
        let ts = k8s_openapi::jiff::Timestamp::now().to_string();
        self.lines.push_back((ts, line));
        if self.lines.len() > LOG_LINES {
            self.lines.pop_front();
            self.first += 1;
        }
    }

    /// Lines with sequence number >= `from`, and the next sequence number.
    pub fn since(&self, from: u64) -> (Vec<(String, String)>, u64) {
        let skip = usize::try_from(from.saturating_sub(self.first)).unwrap_or(usize::MAX);
        let out = self.lines.iter().skip(skip).cloned().collect();
        (out, self.first + self.lines.len() as u64)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

pub type SharedLog = Arc<Mutex<LogBuf>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running process; dropping it kills its whole process group.
#[derive(Debug)]
struct Proc {
    child: tokio::process::Child,
    pgid: Option<rustix::process::Pid>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(p) = self.pgid {
            // Already gone is fine.
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        let _ = self.child.start_kill();
    }
}

#[derive(Debug, Clone, PartialEq)]
enum CState {
    Waiting { reason: String, message: String },
    Running { started_at: String },
    Terminated(Terminated),
}

#[derive(Debug, Clone, PartialEq)]
struct Terminated {
    exit_code: i32,
    reason: String,
    started_at: String,
    finished_at: String,
    container_id: String,
}

impl Terminated {
    fn to_json(&self) -> Value {
        json!({"terminated": {"exitCode": self.exit_code, "reason": self.reason,
            "startedAt": self.started_at, "finishedAt": self.finished_at, "containerID": self.container_id}})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The real server binary.
    Process,
    /// Any other image: reported, not run.
    Simulated,
}

#[derive(Debug)]
struct Ctr {
    name: String,
    image: String,
    kind: Kind,
    spec: Value,
    proc: Option<Proc>,
    state: CState,
    last: Option<Terminated>,
    ready: bool,
    started_once: bool,
    restarts: u32,
    crashes: u32,
    next_start: Option<Instant>,
    started_instant: Option<Instant>,
    container_id: String,
    log: SharedLog,
    previous: Option<SharedLog>,
    probe_ok: u32,
    probe_fail: u32,
    next_probe: Option<Instant>,
}

#[derive(Debug)]
struct PodRt {
    ns: String,
    name: String,
    uid: String,
    ip: String,
    /// The address its process is bound to: a loopback stand-in for `ip`.
    listen_ip: IpAddr,
    dir: PathBuf,
    started_at: String,
    /// Where the pod's process listens (all its container ports map here).
    addr: Option<SocketAddr>,
    ports: Vec<u16>,
    sa_token: Option<String>,
    ctrs: Vec<Ctr>,
    restart_policy: String,
}

#[derive(Debug)]
struct PendingEvent {
    uid: String,
    container: Option<String>,
    kind: &'static str,
    reason: &'static str,
    message: String,
}

/// The kubelet's state, shared with the API handlers (logs, port-forward) and the router.
#[derive(Debug)]
pub struct Kubelet {
    pub config: KubeletConfig,
    root: PathBuf,
    pods: Mutex<HashMap<String, PodRt>>,
    next_ip: AtomicU32,
}

/// What the router and port-forward need to know about a pod.
#[derive(Debug, Clone)]
pub struct PodEndpoint {
    pub addr: SocketAddr,
    pub ports: Vec<u16>,
}

impl Kubelet {
    pub fn new(config: KubeletConfig, root: PathBuf) -> Self {
        Kubelet {
            config,
            root,
            pods: Mutex::new(HashMap::new()),
            next_ip: AtomicU32::new(1),
        }
    }

    /// The local address of a pod's container port, if a process serves it.
    pub fn address(&self, pod_uid: &str, port: u16) -> Option<SocketAddr> {
        let pods = lock(&self.pods);
        let p = pods.get(pod_uid)?;
        let running = p
            .ctrs
            .iter()
            .any(|c| c.kind == Kind::Process && c.proc.is_some());
        (running && (p.ports.is_empty() || p.ports.contains(&port)))
            .then_some(p.addr)
            .flatten()
    }

    /// Every pod with a process: uid -> endpoint.
    pub fn endpoints(&self) -> HashMap<String, PodEndpoint> {
        lock(&self.pods)
            .iter()
            .filter_map(|(uid, p)| {
                p.addr.map(|addr| {
                    (
                        uid.clone(),
                        PodEndpoint {
                            addr,
                            ports: p.ports.clone(),
                        },
                    )
                })
            })
            .collect()
    }

    /// A container's output. `Ok(None)`: the kubelet does not run this container (use the
    /// stored log). Errors carry kube-apiserver's message for the 400.
    pub fn log(
        &self,
        pod_uid: &str,
        pod_name: &str,
        container: &str,
        previous: bool,
    ) -> Result<Option<SharedLog>, String> {
        let pods = lock(&self.pods);
        let Some(p) = pods.get(pod_uid) else {
            return Ok(None);
        };
        let Some(c) = p.ctrs.iter().find(|c| c.name == container) else {
            return Ok(None);
        };
        if c.kind == Kind::Simulated {
            return Ok(None);
        }
        if previous {
            return c.previous.clone().map(Some).ok_or_else(|| {
                format!(
                    "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
                )
            });
        }
        if !c.started_once {
            let reason = match &c.state {
                CState::Waiting { reason, .. } => reason.clone(),
                _ => "ContainerCreating".into(),
            };
            return Err(format!(
                "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
            ));
        }
        Ok(Some(c.log.clone()))
    }

    /// Kill every process (the sandbox is stopping).
    pub fn shutdown(&self) {
        let pods: Vec<PodRt> = lock(&self.pods).drain().map(|(_, p)| p).collect();
        for p in pods {
            drop(p);
        }
    }

    fn server_bin(&self) -> Result<PathBuf, String> {
        match &self.config.server_bin {
            Some(p) if p.is_file() => Ok(p.clone()),
            Some(p) => Err(format!(
                "kubernetes-mcp-server binary not found at {}",
                p.display()
            )),
            None => crate::tools::mcp_server().map_err(|e| e.to_string()),
        }
    }

    fn is_mcp_image(&self, image: &str) -> bool {
        let repo = repository(image);
        self.config.mcp_images.iter().any(|p| glob(p, repo))
    }
}

fn backoff(base: Duration, crashes: u32) -> Duration {
    if crashes <= 1 {
        return Duration::ZERO;
    }
    let exp = (crashes - 2).min(16);
    base.saturating_mul(1 << exp).min(MAX_BACKOFF)
}

fn container_id() -> String {
    let a: u128 = rand::random();
    let b: u128 = rand::random();
    format!("cri-o://{a:032x}{b:032x}")
}

/// The kubelet loop: a sync after pod changes and at least every 200 ms.
pub async fn run(state: Arc<State>) {
    let mut rx = state.store().subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = rx.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                while rx.try_recv().is_ok() {}
            }
            _ = tick.tick() => {}
        }
        sync(&state).await;
    }
}

fn pod_dir_name(ns: &str, name: &str, uid: &str) -> String {
    format!("{ns}_{name}_{}", uid.split('-').next().unwrap_or(uid))
}

fn mkdir_private(p: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(p)
}

fn write_file(p: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = p.parent() {
        mkdir_private(parent)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(p)?.write_all(content)
}

async fn sync(state: &Arc<State>) {
    let kubelet = &state.kubelet;
    let pods: Vec<(String, Value)> = state
        .store()
        .list("/pods", None)
        .into_iter()
        .filter(|(_, p)| s(p, "/spec/nodeName") == NODE_NAME)
        .map(|(_, p)| (s(p, "/metadata/uid").to_string(), p.clone()))
        .collect();
    let mut events = Vec::new();
    let mut gone = Vec::new();
    {
        let mut rts = lock(&kubelet.pods);
        let live: std::collections::HashSet<&str> = pods.iter().map(|(u, _)| u.as_str()).collect();
        let dead: Vec<String> = rts
            .keys()
            .filter(|u| !live.contains(u.as_str()))
            .cloned()
            .collect();
        for uid in dead {
            if let Some(p) = rts.remove(&uid) {
                gone.push(p);
            }
        }
        for (uid, pod) in &pods {
            if !rts.contains_key(uid) {
                let rt = new_pod(kubelet, pod);
                rts.insert(uid.clone(), rt);
            }
            if let Some(rt) = rts.get_mut(uid) {
                step_pod(state, rt, pod, &mut events);
            }
        }
    }
    for p in gone {
        if let Some(t) = &p.sa_token {
            state.tokens.remove(t);
        }
        let dir = p.dir.clone();
        drop(p);
        let _ = std::fs::remove_dir_all(dir);
    }
    run_probes(state).await;
    write_status(state, &pods, events);
}

/// The loopback address of the `n`th pod: `127.128.x.y` for its pod IP `10.128.x.y`, so each
/// pod of a sandbox has an address of its own (as in a cluster: a deleted pod's stale port
/// does not lead to another pod) away from the busy ports of 127.0.0.1. Linux routes all of
/// 127.0.0.0/8 to `lo`. Ports stay the kernel's choice: sandboxes running side by side number
/// their pods alike.
pub fn pod_loopback(n: u32) -> IpAddr {
    let [_, _, x, y] = n.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 128, x, y))
}

fn new_pod(kubelet: &Kubelet, pod: &Value) -> PodRt {
    let n = kubelet.next_ip.fetch_add(1, Ordering::Relaxed);
    let ns = s(pod, "/metadata/namespace").to_string();
    let name = s(pod, "/metadata/name").to_string();
    let uid = s(pod, "/metadata/uid").to_string();
    let ctrs = arr(pod, "/spec/containers")
        .iter()
        .map(|c| {
            let image = s(c, "/image").to_string();
            Ctr {
                name: s(c, "/name").to_string(),
                kind: if kubelet.is_mcp_image(&image) {
                    Kind::Process
                } else {
                    Kind::Simulated
                },
                image,
                spec: c.clone(),
                proc: None,
                state: CState::Waiting {
                    reason: "ContainerCreating".into(),
                    message: String::new(),
                },
                last: None,
                ready: false,
                started_once: false,
                restarts: 0,
                crashes: 0,
                next_start: Some(Instant::now()),
                started_instant: None,
                container_id: String::new(),
                log: SharedLog::default(),
                previous: None,
                probe_ok: 0,
                probe_fail: 0,
                next_probe: None,
            }
        })
        .collect();
    PodRt {
        dir: kubelet.root.join(pod_dir_name(&ns, &name, &uid)),
        ns,
        name,
        uid,
        ip: format!("10.128.{}.{}", (n >> 8) & 0xff, n & 0xff),
        listen_ip: kubelet
            .config
            .pod_network
            .unwrap_or_else(|| pod_loopback(n)),
        started_at: now_rfc3339(),
        addr: None,
        ports: Vec::new(),
        sa_token: None,
        ctrs,
        restart_policy: match s(pod, "/spec/restartPolicy") {
            "" => "Always".into(),
            p => p.into(),
        },
    }
}

fn ev(
    events: &mut Vec<PendingEvent>,
    rt: &PodRt,
    container: Option<&str>,
    kind: &'static str,
    reason: &'static str,
    message: String,
) {
    events.push(PendingEvent {
        uid: rt.uid.clone(),
        container: container.map(String::from),
        kind,
        reason,
        message,
    });
}

fn step_pod(state: &State, rt: &mut PodRt, pod: &Value, events: &mut Vec<PendingEvent>) {
    let now = Instant::now();
    for i in 0..rt.ctrs.len() {
        // 1. A process that exited.
        let exited = rt.ctrs[i]
            .proc
            .as_mut()
            .and_then(|p| match p.child.try_wait() {
                Ok(Some(st)) => Some(st.code().unwrap_or_else(|| {
                    use std::os::unix::process::ExitStatusExt as _;
                    128 + st.signal().unwrap_or(9)
                })),
                Ok(None) => None,
                Err(_) => Some(255),
            });
        let simulated_done = {
            let c = &rt.ctrs[i];
            c.kind == Kind::Simulated
                && rt.restart_policy != "Always"
                && matches!(c.state, CState::Running { .. })
                && c.started_instant
                    .is_some_and(|t| now.duration_since(t) >= SIMULATED_RUN)
        };
        if let Some(code) = exited.or(simulated_done.then_some(0)) {
            let c = &mut rt.ctrs[i];
            c.proc = None;
            lock(&c.log).closed = true;
            let started_at = match &c.state {
                CState::Running { started_at } => started_at.clone(),
                _ => now_rfc3339(),
            };
            let t = Terminated {
                exit_code: code,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                started_at,
                finished_at: now_rfc3339(),
                container_id: c.container_id.clone(),
            };
            c.last = Some(t.clone());
            c.state = CState::Terminated(t);
            c.ready = false;
            c.probe_ok = 0;
            c.probe_fail = 0;
            let restart = match rt.restart_policy.as_str() {
                "Never" => false,
                "OnFailure" => code != 0,
                _ => true,
            };
            if restart {
                c.crashes += 1;
                let delay = backoff(state.kubelet.config.backoff, c.crashes);
                c.next_start = Some(now + delay);
                if !delay.is_zero() {
                    c.state = CState::Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: format!(
                            "back-off {}s restarting failed container={} pod={}_{}({})",
                            delay.as_secs(),
                            c.name,
                            rt.name,
                            rt.ns,
                            rt.uid
                        ),
                    };
                    let msg = format!(
                        "Back-off restarting failed container {} in pod {}_{}({})",
                        c.name, rt.name, rt.ns, rt.uid
                    );
                    let name = c.name.clone();
                    ev(events, rt, Some(&name), WARNING, "BackOff", msg);
                }
            } else {
                c.next_start = None;
            }
        }
        // 2. Start (or restart) when due.
        let due = rt.ctrs[i].proc.is_none()
            && !matches!(rt.ctrs[i].state, CState::Running { .. })
            && rt.ctrs[i].next_start.is_some_and(|t| t <= now);
        if due {
            start_container(state, rt, i, pod, events);
        }
    }
}

enum Prep {
    Mount { volume: String, message: String },
    Config(String),
}

struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    ports: Vec<u16>,
}
