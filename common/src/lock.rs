//! A short-lived lock (a `coordination.k8s.io` Lease) around one run's writes.
//!
//! Every oc-mcp write is a server-side apply with the one field manager `oc-mcp`, so two runs
//! with different inputs never conflict at the API: the last writer wins object by object and
//! the cluster can end up half one run's, half the other's. Holding a Lease while applying
//! makes the second run stop and say so instead. A run interrupted by SIGINT or SIGTERM gives
//! the Lease back ([`release_held`]); a run killed outright leaves it behind, and the next run
//! on the same host takes it over at once when the holder's process is gone (the holder
//! identity names host and pid). Anywhere else it expires after its duration.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{DeleteParams, ObjectMeta, PostParams},
};

use crate::{
    error::{Error, Result},
    plan::{FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE},
    preflight::Permission,
};

const LEASE_GROUP: &str = "coordination.k8s.io";

/// A held Lease; [`ApplyLock::release`] gives it back.
#[derive(Debug)]
pub struct ApplyLock {
    api: Api<Lease>,
    name: String,
    holder: String,
    /// The version we wrote: the release deletes only that one.
    resource_version: Option<String>,
}

impl ApplyLock {
    /// What taking and giving back the lock needs, for a command's preflight.
    pub fn permissions(namespace: &str) -> Vec<Permission> {
        ["get", "create", "update", "delete"]
            .map(|verb| Permission::new(verb, LEASE_GROUP, "leases").in_namespace(namespace))
            .to_vec()
    }

    /// Take the Lease `name` in `namespace` for at most `duration`, or fail (exit 1) naming
    /// the run that holds it. An expired Lease is taken over.
    pub async fn acquire(
        client: &Client,
        namespace: &str,
        name: &str,
        duration: Duration,
    ) -> Result<Self> {
        let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
        let holder = holder_identity();
        let mut lock = Self {
            api,
            name: name.to_owned(),
            holder,
            resource_version: None,
        };
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        let wanted = lock.lease(duration, None);
        let mut attempts = 0;
        let found = loop {
            attempts += 1;
            match lock.api.create(&params, &wanted).await {
                Ok(created) => {
                    lock.resource_version = created.metadata.resource_version;
                    lock.register();
                    return Ok(lock);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => break None,
                // The answer was lost (a dropped connection): the create may have landed.
                Err(e) if attempts < 3 => {
                    tracing::debug!("creating Lease {namespace}/{name}: {e}; looking for it");
                    if let Some(live) = lock.api.get_opt(name).await? {
                        break Some(live);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(live) = &found
            && lock.holds(live)
        {
            lock.resource_version
                .clone_from(&live.metadata.resource_version);
            lock.register();
            return Ok(lock);
        }
        let live = lock.api.get(name).await?;
        let abandoned = holder_of(&live).is_some_and(|h| h.is_dead_local_process());
        if abandoned {
            crate::cli::warn(&format!(
                "Lease {namespace}/{name} was held by {}, a process on this host that no \
                 longer runs: taking it over",
                holder_of(&live).map(|h| h.identity).unwrap_or_default()
            ));
        } else if !expired(&live, Timestamp::now()) {
            return Err(busy(namespace, &live));
        }
        // Taken over with the live resourceVersion: of two runs doing this, one gets a 409.
        let takeover = lock.lease(duration, live.metadata.resource_version.clone());
        match lock.api.replace(name, &params, &takeover).await {
            Ok(taken) => {
                lock.resource_version = taken.metadata.resource_version;
                lock.register();
                Ok(lock)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let live = lock.api.get(name).await?;
                Err(busy(namespace, &live))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Give the Lease back, only if it is still the version we wrote (a run that took over
    /// an expired lock keeps it): one delete, preconditioned on that version. A lock that
    /// cannot be given back is not an error of the run: it expires by itself.
    pub async fn release(self) {
        unregister(&self.name, &self.holder);
        self.delete().await;
    }

    /// Remember the lock process-wide, so an interrupt can give it back ([`release_held`]).
    fn register(&self) {
        held().push(Self {
            api: self.api.clone(),
            name: self.name.clone(),
            holder: self.holder.clone(),
            resource_version: self.resource_version.clone(),
        });
    }

    async fn delete(&self) {
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                resource_version: self.resource_version.clone(),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let mut last = None;
        for _ in 0..3 {
            match self.api.delete(&self.name, &params).await {
                Ok(_) => return,
                Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => return,
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            crate::cli::warn(&format!(
                "could not release the lock (Lease {}): {e}; it expires by itself",
                self.name
            ));
        }
    }

    fn holds(&self, lease: &Lease) -> bool {
        lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(&self.holder)
    }

    fn lease(&self, duration: Duration, resource_version: Option<String>) -> Lease {
        let now = MicroTime(Timestamp::now());
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into()),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.holder.clone()),
                lease_duration_seconds: Some(
                    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX),
                ),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                ..LeaseSpec::default()
            }),
        }
    }
}

/// Who holds the lock: `oc-mcp@<host>/pid-<pid>/<random>`. The host and pid let the next run
/// on this host tell a dead holder from a live one; the random part tells two runs of one
/// process (tests) apart.
fn holder_identity() -> String {
    // RandomState is seeded randomly per process and per call: enough to tell runs apart.
    let suffix = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        std::process::id(),
    );
    format!(
        "oc-mcp@{}/pid-{}/{:08x}",
        this_host(),
        std::process::id(),
        suffix & 0xffff_ffff
    )
}

/// This machine's name as the kernel knows it (`uname -n`), which `HOSTNAME` may not be
/// (it is a shell variable, often not exported).
fn this_host() -> String {
    #[cfg(unix)]
    let kernel = rustix::system::uname()
        .nodename()
        .to_str()
        .ok()
        .map(str::to_owned);
    #[cfg(not(unix))]
    let kernel: Option<String> = None;
    kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && !h.contains('/'))
        .unwrap_or_else(|| "localhost".into())
}

/// A parsed holder identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    identity: String,
    host: String,
    pid: u32,
}

impl Holder {
    fn parse(identity: &str) -> Option<Self> {
        let rest = identity.strip_prefix("oc-mcp@")?;
        let mut parts = rest.split('/');
        let host = parts.next().filter(|h| !h.is_empty())?;
        let pid = parts.next()?.strip_prefix("pid-")?.parse().ok()?;
        Some(Self {
            identity: identity.to_owned(),
            host: host.to_owned(),
            pid,
        })
    }

    /// On this host, and its process is gone. A holder on another host, a live process (or
    /// one whose pid now belongs to another process: safe, it only waits), an unparsable
    /// identity and "localhost" (no real host name was known) are never taken for dead.
    fn is_dead_local_process(&self) -> bool {
        self.host != "localhost"
            && self.host == this_host()
            && self.pid != std::process::id()
            && !process_alive(self.pid)
    }
}

fn holder_of(lease: &Lease) -> Option<Holder> {
    Holder::parse(lease.spec.as_ref()?.holder_identity.as_deref()?)
}

/// Whether a process with this pid exists here. `kill(pid, 0)` sends nothing; EPERM means it
/// exists under another user.
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// The locks this process holds, so an interrupt can give them back.
fn held() -> std::sync::MutexGuard<'static, Vec<ApplyLock>> {
    static HELD: std::sync::Mutex<Vec<ApplyLock>> = std::sync::Mutex::new(Vec::new());
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unregister(name: &str, holder: &str) {
    held().retain(|l| !(l.name == name && l.holder == holder));
}

/// Give back every lock this process still holds (an interrupted run: its work was dropped
/// mid-apply). Bounded: an unreachable API server must not keep a Ctrl-C from ending the run.
pub async fn release_held() -> usize {
    let locks: Vec<ApplyLock> = std::mem::take(&mut *held());
    let count = locks.len();
    let releases = futures::future::join_all(locks.iter().map(ApplyLock::delete));
    if tokio::time::timeout(Duration::from_secs(5), releases)
        .await
        .is_err()
    {
        crate::cli::warn("could not release the lock in 5s; it expires by itself");
    }
    count
}

/// The signal that ended a run, with the exit code shells use for it (128 + the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
}

impl Interrupt {
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }
}

/// SIGINT and SIGTERM, listened for from creation on. Once created, the signals no longer end
/// the process by themselves: the caller must stop when [`Interrupts::recv`] returns.
#[derive(Debug)]
pub struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    pub fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen =
                |kind| signal(kind).map_err(|e| Error::io("listening for SIGINT and SIGTERM", e));
            Ok(Self {
                interrupt: listen(SignalKind::interrupt())?,
                terminate: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next SIGINT or SIGTERM.
    pub async fn recv(&mut self) -> Interrupt {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Interrupt::Interrupt,
                _ = self.terminate.recv() => Interrupt::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Interrupt::Interrupt
        }
    }
}

fn expired(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else {
        return true;
    };
    let since = spec.renew_time.as_ref().or(spec.acquire_time.as_ref());
    let Some(MicroTime(since)) = since else {
        return true;
    };
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    now.as_second() >= since.as_second().saturating_add(seconds)
}

fn busy(namespace: &str, live: &Lease) -> Error {
    let spec = live.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.unwrap_or_else(|| "unknown".into());
    let since = spec
        .acquire_time
        .map_or_else(|| "an unknown time".into(), |MicroTime(t)| t.to_string());
    let name = live.metadata.name.clone().unwrap_or_default();
    let seconds = spec.lease_duration_seconds.unwrap_or(0);
    Error::Failed {
        message: format!(
            "another oc-mcp run ({holder}, since {since}) is changing these objects: it holds \
             Lease {namespace}/{name}; this run stopped before applying, so the two cannot interleave"
        ),
        hint: Some(format!(
            "wait for that run to finish, then re-run; the lock of a run that was killed is \
             taken over at once on the host it ran on, and released everywhere after {seconds}s"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(renewed_seconds_ago: i64, duration: i32) -> Lease {
        let now = Timestamp::now().as_second();
        let at = Timestamp::from_second(now - renewed_seconds_ago).expect("timestamp");
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("other".into()),
                lease_duration_seconds: Some(duration),
                renew_time: Some(MicroTime(at)),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn a_lease_expires_after_its_duration_from_the_last_renewal() {
        let now = Timestamp::now();
        assert!(!expired(&lease(10, 60), now));
        assert!(expired(&lease(61, 60), now));
        assert!(expired(&Lease::default(), now), "no spec: nobody holds it");
    }

    #[test]
    fn the_busy_message_names_the_holder_and_the_way_out() {
        let err = busy("mcp-server", &lease(5, 120));
        assert_eq!(err.exit_code().code(), 1);
        assert!(
            err.to_string().contains("another oc-mcp run (other"),
            "{err}"
        );
        assert!(err.hint().is_some_and(|h| h.contains("after 120s")));
    }
    #[test]
    fn a_holder_names_this_host_and_process() {
        let me = Holder::parse(&holder_identity()).expect("our own identity parses");
        assert_eq!(me.host, this_host());
        assert_eq!(me.pid, std::process::id());
        assert!(!me.is_dead_local_process(), "we are alive");
        for bad in [
            "other",
            "oc-mcp@/pid-1/x",
            "oc-mcp@h/1/x",
            "oc-mcp@h/pid-x/y",
            "",
        ] {
            assert_eq!(Holder::parse(bad), None, "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_a_dead_process_on_this_host_is_taken_for_dead() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let host = this_host();
        let holder = |host: &str, pid: u32| {
            Holder::parse(&format!("oc-mcp@{host}/pid-{pid}/0000abcd")).expect("parse")
        };
        assert!(holder(&host, dead).is_dead_local_process());
        assert!(!holder("another-host.example.com", dead).is_dead_local_process());
        assert!(!holder("localhost", dead).is_dead_local_process());
        // pid 1 always runs (init); our parent runs while we do.
        assert!(!holder(&host, 1).is_dead_local_process());
        assert!(!holder(&host, std::os::unix::process::parent_id()).is_dead_local_process());
    }

    #[test]
    fn interrupts_exit_as_shells_report_signals() {
        assert_eq!(Interrupt::Interrupt.exit_code(), 130);
        assert_eq!(Interrupt::Terminate.exit_code(), 143);
    }
}
