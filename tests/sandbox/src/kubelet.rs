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

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use crate::events::{NORMAL, WARNING};
use crate::server::State;
use crate::store::{Key, Store, now_rfc3339};

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

fn start_container(
    state: &State,
    rt: &mut PodRt,
    i: usize,
    pod: &Value,
    events: &mut Vec<PendingEvent>,
) {
    let now = Instant::now();
    let name = rt.ctrs[i].name.clone();
    let image = rt.ctrs[i].image.clone();
    if rt.ctrs[i].kind == Kind::Simulated {
        let c = &mut rt.ctrs[i];
        c.container_id = container_id();
        c.state = CState::Running {
            started_at: now_rfc3339(),
        };
        c.started_instant = Some(now);
        c.ready = true;
        if c.started_once {
            c.restarts += 1;
        }
        c.started_once = true;
        c.next_start = None;
        ev(
            events,
            rt,
            Some(&name),
            NORMAL,
            "NotRunBySandbox",
            format!(
                "image \"{image}\" is not run by oc-mcp-sandbox: container \"{name}\" is reported running and ready without a process (only kubernetes-mcp-server images run)"
            ),
        );
        return;
    }
    let bin = match state.kubelet.server_bin() {
        Ok(b) => b,
        Err(why) => {
            let c = &mut rt.ctrs[i];
            c.state = CState::Waiting {
                reason: "ImagePullBackOff".into(),
                message: format!("Back-off pulling image \"{image}\": {why}"),
            };
            c.next_start = Some(now + Duration::from_secs(5));
            ev(
                events,
                rt,
                Some(&name),
                WARNING,
                "Failed",
                format!(
                    "Failed to pull image \"{image}\": {why} (run `cargo xtask test` or pass --mcp-server-bin)"
                ),
            );
            return;
        }
    };
    let prepared = {
        let store = state.store();
        prepare(state, &store, rt, i, pod)
    };
    let launch = match prepared {
        Ok(l) => l,
        Err(Prep::Mount { volume, message }) => {
            let c = &mut rt.ctrs[i];
            c.state = CState::Waiting {
                reason: "ContainerCreating".into(),
                message: String::new(),
            };
            c.next_start = Some(now + Duration::from_secs(2));
            ev(
                events,
                rt,
                None,
                WARNING,
                "FailedMount",
                format!("MountVolume.SetUp failed for volume \"{volume}\" : {message}"),
            );
            return;
        }
        Err(Prep::Config(message)) => {
            let c = &mut rt.ctrs[i];
            c.state = CState::Waiting {
                reason: "CreateContainerConfigError".into(),
                message: message.clone(),
            };
            c.next_start = Some(now + Duration::from_secs(2));
            ev(
                events,
                rt,
                Some(&name),
                WARNING,
                "Failed",
                format!("Error: {message}"),
            );
            return;
        }
    };
    let addr = match rt.addr {
        Some(a) => a,
        None => {
            // Without aliases for 127/8 (macOS has only 127.0.0.1) pods share 127.0.0.1.
            let Ok(l) = std::net::TcpListener::bind((rt.listen_ip, 0))
                .or_else(|_| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            else {
                return;
            };
            let Ok(a) = l.local_addr() else {
                return;
            };
            rt.addr = Some(a);
            a
        }
    };
    rt.ports.clone_from(&launch.ports);
    // With util-linux's setpriv the process also dies with the sandbox when the sandbox is
    // killed outright (SIGKILL leaves no Drop to run): PR_SET_PDEATHSIG, kept across exec.
    let mut cmd = match SETPRIV.iter().find(|p| Path::new(p).is_file()) {
        Some(setpriv) => {
            let mut c = tokio::process::Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&bin);
            c
        }
        None => tokio::process::Command::new(&bin),
    };
    cmd.args(&launch.args)
        .arg("--port")
        .arg(addr.port().to_string())
        .arg("--bind-address")
        .arg(addr.ip().to_string())
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&rt.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let c = &mut rt.ctrs[i];
    if c.started_once {
        c.previous = Some(std::mem::take(&mut c.log));
        c.restarts += 1;
    }
    match cmd.spawn() {
        Ok(mut child) => {
            let log = c.log.clone();
            for out in [
                child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                child
                    .stderr
                    .take()
                    .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            ]
            .into_iter()
            .flatten()
            {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut lines = tokio::io::BufReader::new(out).lines();
                    while let Ok(Some(l)) = lines.next_line().await {
                        lock(&log).push(l);
                    }
                });
            }
            let pgid = child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw);
            c.proc = Some(Proc { child, pgid });
            c.container_id = container_id();
            c.state = CState::Running {
                started_at: now_rfc3339(),
            };
            c.started_instant = Some(now);
            c.next_start = None;
            c.ready = false;
            c.probe_ok = 0;
            c.probe_fail = 0;
            let delay = c
                .spec
                .pointer("/readinessProbe/initialDelaySeconds")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            // Like the kubelet's jittered first probe: not at the very instant of the start.
            c.next_probe = Some(now + Duration::from_secs(delay).max(FIRST_PROBE));
            let first = !c.started_once;
            c.started_once = true;
            if first {
                ev(
                    events,
                    rt,
                    Some(&name),
                    NORMAL,
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                );
            }
            ev(
                events,
                rt,
                Some(&name),
                NORMAL,
                "Created",
                format!("Created container: {name}"),
            );
            ev(
                events,
                rt,
                Some(&name),
                NORMAL,
                "Started",
                format!("Started container {name}"),
            );
        }
        Err(e) => {
            c.state = CState::Waiting {
                reason: "RunContainerError".into(),
                message: format!("starting {}: {e}", bin.display()),
            };
            c.next_start = Some(now + Duration::from_secs(5));
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

fn get_obj<'a>(store: &'a Store, resource: &str, ns: &str, name: &str) -> Option<&'a Value> {
    let def = crate::resources::find("", "v1", resource)?;
    store.get(&Key::new(def, ns, name))
}

/// Key -> bytes of a ConfigMap (`data` + `binaryData`) or a Secret (`data`, base64).
fn object_data(obj: &Value, secret: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let b64 = |v: &Value| {
        v.as_str()
            .and_then(|x| base64::engine::general_purpose::STANDARD.decode(x).ok())
            .unwrap_or_default()
    };
    if let Some(m) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in m {
            let bytes = if secret {
                b64(v)
            } else {
                v.as_str().unwrap_or("").as_bytes().to_vec()
            };
            out.push((k.clone(), bytes));
        }
    }
    for field in ["binaryData", "stringData"] {
        if let Some(m) = obj.get(field).and_then(Value::as_object) {
            for (k, v) in m {
                let bytes = if field == "binaryData" {
                    b64(v)
                } else {
                    v.as_str().unwrap_or("").as_bytes().to_vec()
                };
                out.push((k.clone(), bytes));
            }
        }
    }
    out
}

/// Files of a configMap/secret source, honouring `items`.
fn project(
    data: Vec<(String, Vec<u8>)>,
    items: &[Value],
    what: &str,
    name: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    if items.is_empty() {
        return Ok(data);
    }
    items
        .iter()
        .map(|it| {
            let key = s(it, "/key");
            let path = match s(it, "/path") {
                "" => key,
                p => p,
            };
            data.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (path.to_string(), v.clone()))
                .ok_or_else(|| {
                    format!("configuration key \"{key}\" not found in {what} \"{name}\"")
                })
        })
        .collect()
}

fn field_ref(pod: &Value, rt: &PodRt, path: &str) -> String {
    match path {
        "metadata.namespace" => rt.ns.clone(),
        "metadata.name" => rt.name.clone(),
        "metadata.uid" => rt.uid.clone(),
        "spec.nodeName" => NODE_NAME.into(),
        "spec.serviceAccountName" => s(pod, "/spec/serviceAccountName").into(),
        "status.podIP" => rt.ip.clone(),
        p => {
            if let Some(k) = p
                .strip_prefix("metadata.labels['")
                .and_then(|k| k.strip_suffix("']"))
            {
                return pod
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into();
            }
            String::new()
        }
    }
}

/// Materialise volumes, resolve env and rewrite args for container `i`.
fn prepare(
    state: &State,
    store: &Store,
    rt: &mut PodRt,
    i: usize,
    pod: &Value,
) -> Result<Launch, Prep> {
    let mount_err = |volume: &str, message: String| Prep::Mount {
        volume: volume.into(),
        message,
    };
    mkdir_private(&rt.dir).map_err(|e| mount_err("", e.to_string()))?;
    let vol_root = rt.dir.join("volumes");
    // Mount paths of every container, longest first, for rewriting paths in args and files.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for c in arr(pod, "/spec/containers") {
        for m in arr(c, "/volumeMounts") {
            let mut host = vol_root.join(s(m, "/name"));
            let sub = s(m, "/subPath");
            if !sub.is_empty() {
                host = host.join(sub);
            }
            mounts.push((s(m, "/mountPath").trim_end_matches('/').to_string(), host));
        }
    }
    mounts.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    let rewrite_text = |text: &str| rewrite_paths(text, &mounts);
    let mut identity = false;
    for vol in arr(pod, "/spec/volumes") {
        let vname = s(vol, "/name");
        let dir = vol_root.join(vname);
        let _ = std::fs::remove_dir_all(&dir);
        mkdir_private(&dir).map_err(|e| mount_err(vname, e.to_string()))?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut source = |src: &Value, files: &mut Vec<(String, Vec<u8>)>| -> Result<(), Prep> {
            if let Some(cm) = src.get("configMap") {
                let n = s(cm, "/name");
                match get_obj(store, "configmaps", &rt.ns, n) {
                    Some(o) => files.extend(
                        project(object_data(o, false), arr(cm, "/items"), "configmap", n)
                            .map_err(|m| mount_err(vname, m))?,
                    ),
                    None if cm.get("optional") == Some(&json!(true)) => {}
                    None => return Err(mount_err(vname, format!("configmap \"{n}\" not found"))),
                }
            }
            if let Some(sec) = src.get("secret") {
                let n = match s(sec, "/secretName") {
                    "" => s(sec, "/name"),
                    x => x,
                };
                match get_obj(store, "secrets", &rt.ns, n) {
                    Some(o) => files.extend(
                        project(object_data(o, true), arr(sec, "/items"), "secret", n)
                            .map_err(|m| mount_err(vname, m))?,
                    ),
                    None if sec.get("optional") == Some(&json!(true)) => {}
                    None => return Err(mount_err(vname, format!("secret \"{n}\" not found"))),
                }
            }
            if let Some(t) = src.get("serviceAccountToken") {
                identity = true;
                let token = rt.sa_token.get_or_insert_with(|| {
                    let t = crate::authn::new_token();
                    let sa = match s(pod, "/spec/serviceAccountName") {
                        "" => "default",
                        x => x,
                    };
                    let user = crate::authn::UserInfo::new(
                        &format!("system:serviceaccount:{}:{sa}", rt.ns),
                        &[
                            "system:serviceaccounts",
                            &format!("system:serviceaccounts:{}", rt.ns),
                        ],
                    );
                    state.tokens.insert_issued(&t, user, None);
                    t
                });
                let path = match s(t, "/path") {
                    "" => "token",
                    p => p,
                };
                files.push((path.into(), token.as_bytes().to_vec()));
            }
            if let Some(d) = src.get("downwardAPI") {
                for it in arr(d, "/items") {
                    let v = field_ref(pod, rt, s(it, "/fieldRef/fieldPath"));
                    files.push((s(it, "/path").into(), v.into_bytes()));
                }
            }
            Ok(())
        };
        source(vol, &mut files)?;
        for src in arr(vol, "/projected/sources") {
            source(src, &mut files)?;
        }
        for (path, bytes) in files {
            if path.split('/').any(|seg| seg == "..") {
                continue;
            }
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(t) => rewrite_text(t).into_bytes(),
                Err(_) => bytes,
            };
            write_file(&dir.join(&path), &bytes).map_err(|e| mount_err(vname, e.to_string()))?;
        }
    }
    let home = rt.dir.join("home");
    mkdir_private(&home).map_err(|e| mount_err("", e.to_string()))?;
    let c = &rt.ctrs[i].spec;
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOSTNAME".into(), rt.name.clone()),
        ("HOME".into(), home.display().to_string()),
    ];
    for e in arr(c, "/env") {
        let name = s(e, "/name").to_string();
        let value = if let Some(v) = e.get("value").and_then(Value::as_str) {
            v.to_string()
        } else if let Some(f) = e
            .pointer("/valueFrom/fieldRef/fieldPath")
            .and_then(Value::as_str)
        {
            field_ref(pod, rt, f)
        } else if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
            let o = get_obj(store, "configmaps", &rt.ns, s(r, "/name"));
            match o.and_then(|o| o.pointer(&format!("/data/{}", s(r, "/key").replace('/', "~1")))) {
                Some(v) => v.as_str().unwrap_or("").to_string(),
                None if r.get("optional") == Some(&json!(true)) => continue,
                None => {
                    return Err(Prep::Config(format!(
                        "configmap \"{}\" not found",
                        s(r, "/name")
                    )));
                }
            }
        } else if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
            let o = get_obj(store, "secrets", &rt.ns, s(r, "/name"));
            let data = o.map(|o| object_data(o, true)).unwrap_or_default();
            match data.into_iter().find(|(k, _)| k == s(r, "/key")) {
                Some((_, v)) => String::from_utf8_lossy(&v).into_owned(),
                None if r.get("optional") == Some(&json!(true)) => continue,
                None => {
                    return Err(Prep::Config(format!(
                        "secret \"{}\" not found",
                        s(r, "/name")
                    )));
                }
            }
        } else {
            String::new()
        };
        env.push((name, value));
    }
    if identity {
        let sa = match s(pod, "/spec/serviceAccountName") {
            "" => "default",
            x => x,
        };
        let token = rt.sa_token.clone().unwrap_or_default();
        let kc = crate::kubeconfig::render(
            &state.api_url,
            &state.ca_pem,
            &[(format!("system:serviceaccount:{}:{sa}", rt.ns), token)],
            &rt.ns,
        );
        let path = rt.dir.join("kubeconfig");
        write_file(&path, kc.as_bytes()).map_err(|e| mount_err("", e.to_string()))?;
        env.push(("KUBECONFIG".into(), path.display().to_string()));
    }
    let rewrite_arg = |a: &str| -> String {
        let (prefix, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (format!("{f}="), v),
            _ => (String::new(), a),
        };
        for (m, host) in &mounts {
            if m.is_empty() {
                continue;
            }
            if value == m {
                return format!("{prefix}{}", host.display());
            }
            if let Some(rest) = value.strip_prefix(&format!("{m}/")) {
                return format!("{prefix}{}", host.join(rest).display());
            }
        }
        a.to_string()
    };
    let args: Vec<String> = match c.get("args").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(rewrite_arg)
            .collect(),
        None => Vec::new(),
    };
    let mut ports: Vec<u16> = arr(c, "/ports")
        .iter()
        .filter_map(|p| p.get("containerPort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .collect();
    if let Some(p) = listen_port(&args) {
        ports.push(p);
    }
    if ports.is_empty() {
        ports.push(8080);
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(Launch { args, env, ports })
}

/// Replace mount paths that start a path in `text` (after a quote, `=`, whitespace or the
/// start, and ending in `/`, a quote or the end) by their host directories, in one pass so a
/// replacement is never rewritten again. `mounts` is sorted longest first.
pub fn rewrite_paths(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    'outer: while i < text.len() {
        let starts_path = i == 0
            || matches!(
                bytes[i - 1],
                b'"' | b'\'' | b'=' | b' ' | b'\t' | b'\n' | b',' | b'['
            );
        if starts_path && bytes[i] == b'/' {
            for (m, host) in mounts {
                if m.is_empty() || !text[i..].starts_with(m.as_str()) {
                    continue;
                }
                let end = i + m.len();
                if end == text.len() || matches!(bytes[end], b'/' | b'"' | b'\'' | b'\n' | b' ') {
                    out.push_str(&host.display().to_string());
                    i = end;
                    continue 'outer;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The port the server would listen on: `--port`, else `port` in the `--config` file.
fn listen_port(args: &[String]) -> Option<u16> {
    let mut it = args.iter();
    let mut config = None;
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--port=") {
            return v.parse().ok();
        }
        if a == "--port" {
            return it.next().and_then(|v| v.parse().ok());
        }
        if let Some(v) = a.strip_prefix("--config=") {
            config = Some(v.to_string());
        } else if a == "--config" {
            config = it.next().cloned();
        }
    }
    let text = std::fs::read_to_string(config?).ok()?;
    let v: toml::Value = toml::from_str(&text).ok()?;
    match v.get("port")? {
        toml::Value::String(s) => s.parse().ok(),
        toml::Value::Integer(n) => u16::try_from(*n).ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------- probes

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

async fn run_probes(state: &Arc<State>) {
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

// ---------------------------------------------------------------- status

fn flush_events(store: &mut Store, events: Vec<PendingEvent>) {
    if events.is_empty() {
        return;
    }
    let pods: HashMap<String, Value> = store
        .list("/pods", None)
        .into_iter()
        .map(|(_, p)| (s(p, "/metadata/uid").to_string(), p.clone()))
        .collect();
    for e in events {
        let Some(pod) = pods.get(&e.uid) else {
            continue;
        };
        match &e.container {
            Some(c) => crate::events::record_container(store, pod, c, e.kind, e.reason, &e.message),
            None => crate::events::record(store, pod, e.kind, e.reason, &e.message, "kubelet"),
        }
    }
}

fn qos(pod: &Value) -> &'static str {
    let cs = arr(pod, "/spec/containers");
    let any = cs.iter().any(|c| {
        c.pointer("/resources/requests")
            .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
            || c.pointer("/resources/limits")
                .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = cs.iter().all(|c| {
        ["cpu", "memory"].iter().all(|k| {
            let l = c.pointer(&format!("/resources/limits/{k}"));
            let r = c.pointer(&format!("/resources/requests/{k}")).or(l);
            l.is_some() && l == r
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(old: &Value, ty: &str, ok: bool, reason: Option<(&str, String)>) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = arr(old, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty);
    let ltt = prev
        .filter(|c| s(c, "/status") == status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now_rfc3339()));
    let mut c =
        json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": ltt});
    if let Some((r, m)) = reason.filter(|_| !ok) {
        c["reason"] = json!(r);
        c["message"] = json!(m);
    }
    c
}

fn pod_status(rt: &PodRt, pod: &Value) -> Value {
    let statuses: Vec<Value> = rt
        .ctrs
        .iter()
        .map(|c| {
            let state = match &c.state {
                CState::Waiting { reason, message } => {
                    let mut w = json!({"reason": reason});
                    if !message.is_empty() {
                        w["message"] = json!(message);
                    }
                    json!({"waiting": w})
                }
                CState::Running { started_at } => json!({"running": {"startedAt": started_at}}),
                CState::Terminated(t) => t.to_json(),
            };
            let last = match (&c.state, &c.last) {
                (CState::Terminated(_), _) | (_, None) => json!({}),
                (_, Some(t)) => t.to_json(),
            };
            let mut st = json!({"name": c.name, "state": state, "lastState": last, "ready": c.ready,
                "restartCount": c.restarts, "image": c.image,
                "imageID": format!("{}@sha256:{}", repository(&c.image), hash_image(&c.image)),
                "started": matches!(c.state, CState::Running { .. })});
            if !c.container_id.is_empty() {
                st["containerID"] = json!(c.container_id);
            }
            st
        })
        .collect();
    let all_ready = rt.ctrs.iter().all(|c| c.ready);
    let any_running = rt
        .ctrs
        .iter()
        .any(|c| matches!(c.state, CState::Running { .. }));
    let all_started = rt.ctrs.iter().all(|c| c.started_once);
    let all_done = rt
        .ctrs
        .iter()
        .all(|c| matches!(c.state, CState::Terminated(_)) && c.next_start.is_none());
    let phase = if all_done && !rt.ctrs.is_empty() {
        if rt
            .ctrs
            .iter()
            .all(|c| matches!(&c.state, CState::Terminated(t) if t.exit_code == 0))
        {
            "Succeeded"
        } else {
            "Failed"
        }
    } else if any_running || all_started {
        "Running"
    } else {
        "Pending"
    };
    let unready: Vec<&str> = rt
        .ctrs
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let why = format!("containers with unready status: [{}]", unready.join(" "));
    let done_reason = (phase == "Succeeded" || phase == "Failed").then_some("PodCompleted");
    let ready_reason = done_reason.unwrap_or("ContainersNotReady");
    let conds = vec![
        condition(pod, "PodReadyToStartContainers", true, None),
        condition(pod, "Initialized", true, None),
        condition(
            pod,
            "Ready",
            all_ready,
            Some((
                ready_reason,
                if done_reason.is_some() {
                    String::new()
                } else {
                    why.clone()
                },
            )),
        ),
        condition(
            pod,
            "ContainersReady",
            all_ready,
            Some((
                ready_reason,
                if done_reason.is_some() {
                    String::new()
                } else {
                    why
                },
            )),
        ),
        condition(pod, "PodScheduled", true, None),
    ];
    json!({"phase": phase, "conditions": conds, "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": rt.ip, "podIPs": [{"ip": rt.ip}], "startTime": rt.started_at,
        "containerStatuses": statuses, "qosClass": qos(pod)})
}

fn hash_image(image: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(image.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_status(state: &State, pods: &[(String, Value)], events: Vec<PendingEvent>) {
    let statuses: Vec<(String, Value)> = {
        let rts = lock(&state.kubelet.pods);
        pods.iter()
            .filter_map(|(uid, pod)| rts.get(uid).map(|rt| (uid.clone(), pod_status(rt, pod))))
            .collect()
    };
    let mut store = state.store();
    let Some(def) = crate::resources::find("", "v1", "pods") else {
        return;
    };
    for (uid, status) in statuses {
        let Some((key, cur)) = pods
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, p)| Key::new(def, s(p, "/metadata/namespace"), s(p, "/metadata/name")))
            .and_then(|k| store.get(&k).cloned().map(|c| (k, c)))
        else {
            continue;
        };
        if s(&cur, "/metadata/uid") != uid || cur.get("status") == Some(&status) {
            continue;
        }
        let mut p2 = cur;
        p2["status"] = status;
        let _ = store.update(&key, p2);
    }
    flush_events(&mut store, events);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_globs() {
        assert_eq!(
            repository("quay.io/containers/kubernetes_mcp_server:v0.0.67"),
            "quay.io/containers/kubernetes_mcp_server"
        );
        assert_eq!(
            repository("localhost:5000/x@sha256:abc"),
            "localhost:5000/x"
        );
        assert_eq!(repository("localhost:5000/x"), "localhost:5000/x");
        assert!(glob(
            "*/openshift-mcp-server*",
            "registry.redhat.io/openshift-mcp-tech-preview/openshift-mcp-server-rhel9"
        ));
        assert!(!glob(
            "*/openshift-mcp-server*",
            "docker.io/library/busybox"
        ));
        assert!(glob("a*c", "abc") && !glob("a*c", "abd"));
        assert_eq!(backoff(Duration::from_secs(10), 1), Duration::ZERO);
        assert_eq!(backoff(Duration::from_secs(10), 2), Duration::from_secs(10));
        assert_eq!(backoff(Duration::from_secs(10), 4), Duration::from_secs(40));
        assert_eq!(backoff(Duration::from_secs(10), 30), MAX_BACKOFF);
        let mounts = vec![
            (
                "/etc/mcp-ca".to_string(),
                PathBuf::from("/tmp/x/volumes/ca"),
            ),
            ("/tmp".to_string(), PathBuf::from("/tmp/x/volumes/tmp")),
        ];
        assert_eq!(
            rewrite_paths(
                "certificate_authority = \"/etc/mcp-ca/ca.crt\"\nlog = \"/tmp\"\nx = \"/var/tmp/a\"",
                &mounts
            ),
            "certificate_authority = \"/tmp/x/volumes/ca/ca.crt\"\nlog = \"/tmp/x/volumes/tmp\"\nx = \"/var/tmp/a\""
        );
    }
}
