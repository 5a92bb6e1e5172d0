//! Loopback only: in both flavours every socket of a sandbox run (its own listeners, the pod
//! processes', their connections) is on 127.0.0.0/8 or ::1, read from /proc while the real
//! server is deployed, called through the router and port-forwarded to. And what the server
//! makes of the router's forwarding (Host is the pod address, the route host travels in
//! X-Forwarded-* / Forwarded), seen through its protected-resource metadata.

use crate::common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::https;
use common::mcp::{self, McpApp};
use oc_mcp_sandbox::{Flavour, Sandbox, SandboxConfig};
use serde_json::Value;

const TCP_LISTEN: u8 = 0x0A;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Sock {
    proto: &'static str,
    local: SocketAddr,
    remote: SocketAddr,
    state: u8,
    pid: u32,
    comm: String,
}

/// `0100007F:1F90` (IPv4) or 32 hex digits then the port (IPv6): the kernel prints each
/// 32-bit word of the address in host byte order.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// `(local, remote, state, inode)` of each socket in a /proc/net table.
fn table(path: &str) -> Vec<(SocketAddr, SocketAddr, u8, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                parse_addr(f.get(1)?)?,
                parse_addr(f.get(2)?)?,
                u8::from_str_radix(f.get(3)?, 16).ok()?,
                f.get(9)?.parse().ok()?,
            ))
        })
        .collect()
}

/// This process and its descendants (the pod processes, kubectl): pid -> command name.
fn process_tree() -> HashMap<u32, String> {
    let me = std::process::id();
    let mut parent = HashMap::new();
    let mut comm = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let parent_pid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(parent_pid) = parent_pid {
            parent.insert(pid, parent_pid);
            comm.insert(pid, stat[open + 1..close].to_string());
        }
    }
    let mut tree = HashMap::from([(me, comm.remove(&me).unwrap_or_default())]);
    loop {
        let more: Vec<u32> = parent
            .iter()
            .filter(|(pid, ppid)| tree.contains_key(ppid) && !tree.contains_key(pid))
            .map(|(pid, _)| *pid)
            .collect();
        if more.is_empty() {
            return tree;
        }
        for pid in more {
            tree.insert(pid, comm.get(&pid).cloned().unwrap_or_default());
        }
    }
}

/// Every TCP and UDP socket the process tree holds now.
fn snapshot() -> Vec<Sock> {
    let mut owner: HashMap<u64, (u32, String)> = HashMap::new();
    for (pid, comm) in process_tree() {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"));
        for fd in fds.into_iter().flatten().flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(inode) = inode {
                owner.insert(inode, (pid, comm.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (proto, path) in [
        ("tcp", "/proc/self/net/tcp"),
        ("tcp6", "/proc/self/net/tcp6"),
        ("udp", "/proc/self/net/udp"),
        ("udp6", "/proc/self/net/udp6"),
    ] {
        for (local, remote, state, inode) in table(path) {
            if let Some((pid, comm)) = owner.get(&inode) {
                out.push(Sock {
                    proto,
                    local,
                    remote,
                    state,
                    pid: *pid,
                    comm: comm.clone(),
                });
            }
        }
    }
    out
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// What breaks the rule: a listener (TCP LISTEN, or a bound UDP socket) off loopback, or a
/// connection with either end off loopback.
fn violation(s: &Sock) -> bool {
    let unconnected = s.remote.ip().is_unspecified() && s.remote.port() == 0;
    let listening = (s.proto.starts_with("tcp") && s.state == TCP_LISTEN)
        || (s.proto.starts_with("udp") && unconnected);
    if listening {
        // An unbound UDP socket (port 0) listens nowhere yet.
        !(is_loopback(s.local.ip()) || (s.proto.starts_with("udp") && s.local.port() == 0))
    } else {
        !is_loopback(s.local.ip()) || !is_loopback(s.remote.ip())
    }
}

/// Samples the process tree's sockets every 50 ms until dropped.
struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(BTreeSet<Sock>, Vec<Sock>)>>,
}

impl Watch {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut bad = BTreeSet::new();
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let now = snapshot();
                bad.extend(now.iter().filter(|s| violation(s)).cloned());
                seen = now;
                std::thread::sleep(Duration::from_millis(50));
            }
            (bad, seen)
        });
        Watch {
            stop,
            thread: Some(thread),
        }
    }

    /// `(every violation seen, the last snapshot)`.
    fn finish(mut self) -> (BTreeSet<Sock>, Vec<Sock>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A client for `host` through the router: HTTPS for a Route, plain HTTP for the chart's
/// Ingress in the Kubernetes flavour.
fn client(sb: &Sandbox, host: &str) -> reqwest::Client {
    if sb.flavour().is_openshift() {
        return https::client(sb, &[host]);
    }
    https::http_client(sb, host)
}

async fn no_socket_off_loopback(flavour: Flavour) {
    let watch = Watch::start();
    let sb = Sandbox::start(SandboxConfig {
        trust_issuer: true,
        flavour,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    // oidc mode: the server also connects to the issuer (discovery, JWKS).
    let app = McpApp::oidc(&sb);
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    let c = client(&sb, &host);
    let jwt = sb
        .oidc_token("member", None, Duration::from_secs(600))
        .expect("jwt");
    https::list_namespaces(&c, &url, &jwt).await;
    // Port-forward through the API reaches the loopback pod.
    let pod = sb.with_store(|s| {
        s.list("/pods", Some(&app.namespace))
            .first()
            .map(|(k, _)| k.name.clone())
            .expect("a pod")
    });
    let pod_addr = sb
        .pod_address(&app.namespace, &pod, 8080)
        .expect("pod serves 8080");
    mcp::healthz_through_portforward(&admin, &app.namespace, &pod).await;
    let (bad, last) = watch.finish();
    let me = std::process::id();
    let listeners: HashSet<SocketAddr> = last
        .iter()
        .filter(|s| s.state == TCP_LISTEN && s.proto.starts_with("tcp"))
        .map(|s| s.local)
        .collect();
    // The scan sees what it should: the sandbox's listeners and the pod process (a child).
    for a in [sb.router_https_addr(), sb.router_http_addr(), pod_addr] {
        assert!(listeners.contains(&a), "{a} not among {listeners:?}");
    }
    assert!(
        last.iter()
            .any(|s| s.local == pod_addr && s.state == TCP_LISTEN && s.pid != me),
        "the pod's listener belongs to its process"
    );
    assert!(pod_addr.ip().is_loopback(), "{pod_addr}");
    assert!(
        bad.is_empty(),
        "sockets off loopback (the sandbox, the tests and the pods use 127.0.0.0/8 and ::1 only):\n{}",
        bad.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openshift_run_stays_on_loopback() {
    no_socket_off_loopback(Flavour::OpenShift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_run_stays_on_loopback() {
    no_socket_off_loopback(Flavour::Kubernetes).await;
}

#[test]
fn proc_net_addresses_parse() {
    let v4 = u32::from_ne_bytes([127, 0, 0, 1]);
    assert_eq!(
        parse_addr(&format!("{v4:08X}:1F90")),
        Some("127.0.0.1:8080".parse().expect("addr"))
    );
    let one = u32::from_ne_bytes([0, 0, 0, 1]);
    assert_eq!(
        parse_addr(&format!("000000000000000000000000{one:08X}:0050")),
        Some("[::1]:80".parse().expect("addr"))
    );
    let sock = |proto, local: &str, remote: &str, state| Sock {
        proto,
        local: local.parse().expect("local"),
        remote: remote.parse().expect("remote"),
        state,
        pid: 1,
        comm: String::new(),
    };
    assert!(violation(&sock(
        "tcp",
        "0.0.0.0:80",
        "0.0.0.0:0",
        TCP_LISTEN
    )));
    assert!(violation(&sock(
        "tcp",
        "192.0.2.2:80",
        "0.0.0.0:0",
        TCP_LISTEN
    )));
    assert!(violation(&sock("tcp6", "[::]:80", "[::]:0", TCP_LISTEN)));
    assert!(!violation(&sock(
        "tcp",
        "127.128.0.2:80",
        "0.0.0.0:0",
        TCP_LISTEN
    )));
    assert!(!violation(&sock("tcp6", "[::1]:80", "[::]:0", TCP_LISTEN)));
    // ESTABLISHED (1) to somewhere else.
    assert!(violation(&sock(
        "tcp",
        "127.0.0.1:5000",
        "192.0.2.9:443",
        1
    )));
    assert!(!violation(&sock(
        "tcp",
        "127.0.0.1:5000",
        "127.0.0.1:443",
        1
    )));
    assert!(!violation(&sock(
        "tcp6",
        "[::ffff:127.0.0.1]:5000",
        "[::ffff:127.0.0.1]:443",
        1
    )));
    assert!(violation(&sock("udp", "0.0.0.0:5353", "0.0.0.0:0", 7)));
    assert!(violation(&sock(
        "udp",
        "10.0.0.5:40000",
        "192.0.2.53:53",
        1
    )));
}

/// What the real server publishes as its protected resource behind the router, which sends
/// the pod's address as Host and the route host in X-Forwarded-* and Forwarded: with
/// `server_url` that URL; with `trust_proxy_headers` the route host; with neither the pod's
/// loopback address (on a cluster, where Host is kept, it would be `http://<route host>`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_behind_the_router() {
    for flavour in [Flavour::OpenShift, Flavour::Kubernetes] {
        let sb = Sandbox::start(SandboxConfig {
            trust_issuer: true,
            flavour,
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
        let oidc = McpApp::oidc(&sb);
        let bare: String = oidc
            .config
            .lines()
            .filter(|l| !l.starts_with("server_url"))
            .flat_map(|l| [l, "\n"])
            .collect();
        let with_url = McpApp {
            namespace: "with-url".into(),
            ..oidc.clone()
        };
        let with_url = with_url
            .clone()
            .with_server_url(&format!("{}/mcp", with_url.public_url(&sb)));
        let trusting = McpApp {
            namespace: "trusting".into(),
            config: format!("{bare}trust_proxy_headers = true\n"),
            ..oidc.clone()
        };
        let plain = McpApp {
            namespace: "plain".into(),
            config: bare.clone(),
            ..oidc.clone()
        };
        for app in [&with_url, &trusting, &plain] {
            sb.deploy_mcp_server(app).await.expect("deploy");
        }
        let mut resource = HashMap::new();
        for app in [&with_url, &trusting, &plain] {
            let url = sb
                .wait_mcp_server(app, Duration::from_secs(30))
                .await
                .expect("ready");
            assert_eq!(url, app.public_url(&sb));
            let c = client(&sb, &app.host(sb.apps_domain()));
            let meta: Value = c
                .get(format!("{url}/.well-known/oauth-protected-resource/mcp"))
                .send()
                .await
                .expect("metadata")
                .json()
                .await
                .expect("json");
            assert_eq!(meta["authorization_servers"][0], sb.issuer_url(), "{meta}");
            resource.insert(
                app.namespace.clone(),
                meta["resource"].as_str().unwrap_or_default().to_string(),
            );
        }
        // `public_url` already has the router's port, which X-Forwarded-Host carries too.
        for app in [&with_url, &trusting] {
            assert_eq!(
                resource[&app.namespace],
                format!("{}/mcp", app.public_url(&sb)),
                "{flavour}"
            );
        }
        let pod = sb.with_store(|s| {
            s.list("/pods", Some("plain"))
                .first()
                .map(|(k, _)| k.name.clone())
                .expect("a pod")
        });
        let addr = sb.pod_address("plain", &pod, 8080).expect("served");
        assert_eq!(resource["plain"], format!("http://{addr}/mcp"), "{flavour}");
    }
}
