//! Starting a container: the server process for the MCP image (under `setpriv` when it
//! asks for a user), a simulated run for any other image, and the output kept for `pods/log`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

use super::prepare::prepare;
use super::{
    CState, Ctr, FIRST_PROBE, Kind, PendingEvent, PodRt, Prep, Proc, SETPRIV, container_id, ev,
    lock,
};
use crate::events::{NORMAL, WARNING};
use crate::server::State;
use crate::store::now_rfc3339;

pub(super) fn start_container(
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
            wait_before_retry(
                &mut rt.ctrs[i],
                "ImagePullBackOff",
                format!("Back-off pulling image \"{image}\": {why}"),
                now + Duration::from_secs(5),
            );
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
            wait_before_retry(
                &mut rt.ctrs[i],
                "ContainerCreating",
                String::new(),
                now + Duration::from_secs(2),
            );
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
            wait_before_retry(
                &mut rt.ctrs[i],
                "CreateContainerConfigError",
                message.clone(),
                now + Duration::from_secs(2),
            );
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

/// Leave a container waiting with `reason` until `retry_at`, when the kubelet tries again.
fn wait_before_retry(c: &mut Ctr, reason: &str, message: String, retry_at: Instant) {
    c.state = CState::Waiting {
        reason: reason.into(),
        message,
    };
    c.next_start = Some(retry_at);
}
