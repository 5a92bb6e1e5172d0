//! A short-lived lock (a `coordination.k8s.io` Lease) around one run's writes.
//!
//! Every oc-mcp write is a server-side apply with the one field manager `oc-mcp`, so two runs
//! with different inputs never conflict at the API: the last writer wins object by object and
//! the cluster can end up half one run's, half the other's. Holding a Lease while applying
//! makes the second run stop and say so instead. A run that dies leaves a Lease that expires
//! after its duration, so nothing stays locked for long.

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
            return Ok(lock);
        }
        let live = lock.api.get(name).await?;
        if !expired(&live, Timestamp::now()) {
            return Err(busy(namespace, &live));
        }
        // Taken over with the live resourceVersion: of two runs doing this, one gets a 409.
        let takeover = lock.lease(duration, live.metadata.resource_version.clone());
        match lock.api.replace(name, &params, &takeover).await {
            Ok(taken) => {
                lock.resource_version = taken.metadata.resource_version;
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

/// Who holds the lock, for the other run's message: host, process and a random suffix (two
/// runs in one process, as in tests, are still told apart).
fn holder_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    // RandomState is seeded randomly per process and per call: enough to tell runs apart.
    let suffix = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        std::process::id(),
    );
    format!(
        "oc-mcp@{host}/pid-{}/{:08x}",
        std::process::id(),
        suffix & 0xffff_ffff
    )
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
            "wait for that run to finish, then re-run; a run that died releases the lock \
             after {seconds}s"
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
}
