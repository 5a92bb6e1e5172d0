//! The one executor: server-side apply of each planned object in order, stopping at the first
//! failure, with created/configured/unchanged decided by what the apply sets.

use kube::{
    Api, Client, ResourceExt,
    api::{DynamicObject, Patch, PatchParams},
};

use super::{ApplyMode, ApplyReport, FIELD_MANAGER, ObjectResult, Outcome, Plan, PlannedObject};
use crate::error::{Error, Result};

impl Plan {
    /// Apply without asking for permissions first.
    pub async fn apply_preflighted(&self, client: &Client, mode: ApplyMode) -> Result<ApplyReport> {
        let dry_run = mode == ApplyMode::ServerDryRun;
        let mut report = ApplyReport {
            dry_run,
            objects: Vec::with_capacity(self.objects.len()),
        };
        let mut failed = false;
        for object in &self.objects {
            let mut result = ObjectResult::new(
                object.resource.api_version.clone(),
                object.resource.kind.clone(),
                object.name(),
                object.namespace(),
                Outcome::NotApplied,
            );
            if !failed {
                match apply_one(client, object, dry_run).await {
                    Ok(outcome) => result.outcome = outcome,
                    Err(err) => {
                        result.fail(err);
                        failed = true;
                    }
                }
            }
            report.objects.push(result);
        }
        Ok(report)
    }
}

async fn apply_one(client: &Client, object: &PlannedObject, dry_run: bool) -> Result<Outcome> {
    let api = object.api(client);
    let name = object.name();
    let before = match &object.live {
        Some(known) => known.clone(),
        None => api.get_opt(&name).await?,
    };
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = object.force;
    params.dry_run = dry_run;
    // Apply bodies must not carry server-owned metadata.
    let mut body = object.object.clone();
    body.metadata.resource_version = None;
    body.metadata.managed_fields = None;
    let after = patch_retrying_stale_writes(&api, &name, &params, &body).await?;
    // Compare what we apply, not resourceVersion: a dry run never bumps it, and controllers
    // write status and annotations between our read and our apply (a Deployment rolling out).
    Ok(match before {
        None => Outcome::Created,
        Some(before) if intent(&before, &body) == intent(&after, &body) => Outcome::Unchanged,
        Some(_) => Outcome::Configured,
    })
}

/// Server-side apply, tried again (a bounded number of times) when the server reports that a
/// concurrent writer changed the object in between (a 409 without field-manager causes, "the
/// object has been modified"): applying the same intent again is always correct. Field-manager
/// conflicts, whose causes name the fields another manager owns, are not retried.
async fn patch_retrying_stale_writes(
    api: &Api<DynamicObject>,
    name: &str,
    params: &PatchParams,
    body: &DynamicObject,
) -> Result<DynamicObject> {
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    loop {
        match api.patch(name, params, &Patch::Apply(body)).await {
            Err(kube::Error::Api(status))
                if status.code == 409
                    && !is_field_manager_conflict(&status)
                    && attempt < ATTEMPTS =>
            {
                // Logged like the transport retries (`-v`), in the same words.
                tracing::info!(
                    "{name}: 409 {}; retry {attempt} of {}",
                    status.message,
                    ATTEMPTS - 1
                );
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            other => return other.map_err(Error::from),
        }
    }
}

/// A server-side apply conflict: the API server lists each contested field as a cause of type
/// `FieldManagerConflict`; a stale write (optimistic concurrency) has no such cause.
fn is_field_manager_conflict(status: &kube::core::Status) -> bool {
    status.details.as_ref().is_some_and(|details| {
        details
            .causes
            .iter()
            .any(|cause| cause.reason == "FieldManagerConflict")
    })
}

/// The part of `object` an apply of `body` decides: the values at the fields `body` sets, and
/// the set of fields our manager owns (an apply that drops a field changes that set).
fn intent(object: &DynamicObject, body: &DynamicObject) -> serde_json::Value {
    let owned = object.managed_fields().iter().find(|entry| {
        entry.manager.as_deref() == Some(FIELD_MANAGER)
            && entry.operation.as_deref() == Some("Apply")
            && entry.subresource.is_none()
    });
    let as_json = |value: &DynamicObject| serde_json::to_value(value).unwrap_or_default();
    serde_json::json!({
        "values": project(&as_json(object), &as_json(body)),
        "owned": owned.and_then(|entry| entry.fields_v1.as_ref()).map(|fields| &fields.0),
    })
}

/// `value` cut down to the keys `shape` has, recursively through objects; lists and scalars
/// are kept whole (the server's defaults inside list items are in every stored copy alike).
pub(super) fn project(value: &serde_json::Value, shape: &serde_json::Value) -> serde_json::Value {
    match (value, shape) {
        (serde_json::Value::Object(value), serde_json::Value::Object(shape)) => shape
            .iter()
            .filter_map(|(key, sub)| Some((key.clone(), project(value.get(key)?, sub))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => value.clone(),
    }
}
