//! The Plan: every object a command will create or patch, decided before the cluster is touched.
//!
//! flags -> [`Plan`] -> [`Plan::render`] (`--dry-run=client`, `-o yaml|json`)
//!                   or [`Plan::apply`] (server-side apply, or `dryRun=All`) -> [`ApplyReport`].

use std::collections::BTreeMap;

use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
    core::GroupVersionKind,
};
use serde::Serialize;

use crate::{
    error::{Error, Result},
    output::{OutputFormat, Tabular, to_yaml},
    preflight::{Permission, require_permissions},
};

/// How `Error`'s Display begins for the classes [`ApplyReport::failure`] tells apart.
const UNREACHABLE_PREFIX: &str = "cannot reach the Kubernetes API server: ";
const FORBIDDEN_PREFIX: &str = "forbidden: ";
const UNAUTHENTICATED_PREFIX: &str = "not authenticated: ";

/// The field manager for every write.
pub const FIELD_MANAGER: &str = "oc-mcp";
/// Label put on everything the plugins create.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "oc-mcp";

/// One object the plan will server-side apply.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    pub resource: ApiResource,
    pub namespaced: bool,
    pub object: DynamicObject,
    /// Take over fields owned by another manager (`--force`).
    pub force: bool,
    /// The live object, when planning already read it: `Some(None)` means it does not exist.
    /// Applying then reports created/configured/unchanged without reading it again.
    pub live: Option<Option<DynamicObject>>,
}

impl PlannedObject {
    /// Plan a typed object; the managed-by label is added.
    pub fn from_typed<K>(object: &K) -> Result<Self>
    where
        K: Resource<DynamicType = ()> + Serialize,
        K::Scope: Scope,
    {
        let resource = ApiResource::erase::<K>(&());
        let value = serde_json::to_value(object)
            .map_err(|e| Error::failed(format!("cannot encode {}: {e}", K::kind(&()))))?;
        let mut object: DynamicObject = serde_json::from_value(value)
            .map_err(|e| Error::failed(format!("cannot encode {}: {e}", K::kind(&()))))?;
        object.types = Some(kube::core::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        object
            .labels_mut()
            .insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
        Ok(Self {
            resource,
            namespaced: K::Scope::NAMESPACED,
            object,
            force: false,
            live: None,
        })
    }

    /// Record what planning read of this object, so applying does not read it again.
    #[must_use]
    pub fn with_live<K: Serialize>(mut self, live: Option<&K>) -> Self {
        self.live = Some(live.and_then(|k| serde_json::to_value(k).ok()).map(|v| {
            serde_json::from_value(v)
                .unwrap_or_else(|_| DynamicObject::new(&self.name(), &self.resource))
        }));
        self
    }

    #[must_use]
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    pub fn name(&self) -> String {
        self.object.name_any()
    }

    pub fn namespace(&self) -> Option<String> {
        self.object.namespace()
    }

    fn api(&self, client: &Client) -> Api<DynamicObject> {
        match (self.namespaced, self.object.namespace()) {
            (true, Some(ns)) => Api::namespaced_with(client.clone(), &ns, &self.resource),
            (true, None) => Api::default_namespaced_with(client.clone(), &self.resource),
            (false, _) => Api::all_with(client.clone(), &self.resource),
        }
    }

    /// What applying needs: `get` (to report created/configured/unchanged), `patch` (server-side
    /// apply), and `create` when the object may not exist.
    pub fn required_permissions(&self) -> Vec<Permission> {
        ["get", "create", "patch"]
            .into_iter()
            .map(|verb| Permission {
                verb: verb.into(),
                group: self.resource.group.clone(),
                resource: self.resource.plural.clone(),
                namespace: if self.namespaced {
                    self.object.namespace()
                } else {
                    None
                },
                name: None,
            })
            .collect()
    }
}

/// Whether a `kube::Resource` scope is namespaced, as a constant.
pub trait Scope {
    const NAMESPACED: bool;
}
impl Scope for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// How a plan is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Server-side apply for real.
    Apply,
    /// Server-side apply with `dryRun=All`: validated by the API server, nothing stored.
    ServerDryRun,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub objects: Vec<PlannedObject>,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    /// Removed (uninstall, or pruned because the plan no longer contains it).
    Deleted,
    /// Not attempted because an earlier object failed.
    NotApplied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::NotApplied => "not applied",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The report of applying a plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    pub dry_run: bool,
    pub objects: Vec<ObjectResult>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.objects
            .iter()
            .all(|o| !matches!(o.outcome, Outcome::Failed | Outcome::NotApplied))
    }

    pub fn changed(&self) -> bool {
        self.objects.iter().any(|o| {
            matches!(
                o.outcome,
                Outcome::Created | Outcome::Configured | Outcome::Deleted
            )
        })
    }

    /// The error that ends a command whose report did not succeed: exit 4 when the API server
    /// could not be reached (retries ran out), 3 when it refused, 1 otherwise. The message counts
    /// what was applied and what was not; the printed report names them.
    pub fn failure(&self) -> Error {
        let count = |wanted: &[Outcome]| {
            self.objects
                .iter()
                .filter(|o| wanted.contains(&o.outcome))
                .count()
        };
        let applied = count(&[
            Outcome::Created,
            Outcome::Configured,
            Outcome::Unchanged,
            Outcome::Deleted,
        ]);
        let failed = count(&[Outcome::Failed]);
        let not_applied = count(&[Outcome::NotApplied]);
        let summary = format!(
            "{applied} of {} objects applied, {failed} failed, {not_applied} not applied \
             (the report says which)",
            self.objects.len()
        );
        let first = self
            .objects
            .iter()
            .find(|o| o.outcome == Outcome::Failed)
            .and_then(|o| o.error.as_deref().map(|e| (o, e)));
        let Some((o, text)) = first else {
            return Error::failed(summary);
        };
        // The per-object text is `Error`'s Display: its prefix says which class it was.
        if let Some(cause) = text.strip_prefix(UNREACHABLE_PREFIX) {
            return Error::Unreachable {
                what: "the Kubernetes API server".into(),
                message: format!(
                    "{summary}; re-running converges once the API server answers. \
                     {} {} failed: {cause}",
                    o.kind, o.name
                ),
            };
        }
        if text.starts_with(FORBIDDEN_PREFIX) || text.starts_with(UNAUTHENTICATED_PREFIX) {
            return Error::Forbidden {
                message: format!("{summary}. {} {}: {text}", o.kind, o.name),
            };
        }
        let hint = if text.to_lowercase().contains("conflict") {
            // Keep the way out of a field-manager conflict (take the fields over).
            let mut status = kube::core::Status::failure(text, "Conflict");
            status.code = 409;
            Error::Api(Box::new(status)).hint()
        } else {
            Some(
                "fix the cause named above and run the command again: it applies what is missing"
                    .into(),
            )
        };
        Error::Failed {
            message: format!("{summary}. {} {}: {text}", o.kind, o.name),
            hint,
        }
    }

    /// Print the report: kubectl-style lines for people, the report itself for machines.
    pub fn print(&self, format: OutputFormat) -> Result<()> {
        use std::io::Write;
        if format.is_machine() {
            return crate::cli::emit(self, format);
        }
        let mut text = self.summary_lines().join("\n");
        text.push('\n');
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    }

    /// One line per object, kubectl style: `clusterrole.rbac.authorization.k8s.io/mcp-readonly created`.
    pub fn summary_lines(&self) -> Vec<String> {
        let suffix = if self.dry_run {
            " (server dry run)"
        } else {
            ""
        };
        self.objects
            .iter()
            .map(|o| {
                let qualified = qualified_name(&o.api_version, &o.kind, &o.name);
                let mut line = format!("{qualified} {}{suffix}", o.outcome.as_str());
                if let Some(err) = &o.error {
                    line.push_str(": ");
                    line.push_str(err);
                }
                line
            })
            .collect()
    }
}

impl Tabular for ApplyReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        let mut h = vec!["KIND", "NAME", "NAMESPACE", "RESULT"];
        if wide {
            h.push("API VERSION");
        }
        h
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        self.objects
            .iter()
            .map(|o| {
                let mut row = vec![
                    o.kind.clone(),
                    o.name.clone(),
                    o.namespace.clone().unwrap_or_else(|| "-".into()),
                    match (&o.error, self.dry_run) {
                        (Some(e), _) => format!("{}: {e}", o.outcome.as_str()),
                        (None, true) => format!("{} (dry run)", o.outcome.as_str()),
                        (None, false) => o.outcome.as_str().into(),
                    },
                ];
                if wide {
                    row.push(o.api_version.clone());
                }
                row
            })
            .collect()
    }
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, object: PlannedObject) {
        self.objects.push(object);
    }

    /// The manifests as a kubectl-style `List` (JSON) or multi-document YAML.
    pub fn render(&self, format: OutputFormat) -> Result<String> {
        let items: Vec<serde_json::Value> = self
            .objects
            .iter()
            .map(|o| serde_json::to_value(&o.object))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::failed(format!("cannot encode manifests: {e}")))?;
        if format == OutputFormat::Json {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            return serde_json::to_string_pretty(&list)
                .map(|text| text + "\n")
                .map_err(|e| Error::failed(format!("cannot encode manifests: {e}")));
        }
        let docs = items.iter().map(to_yaml).collect::<Result<Vec<_>>>()?;
        Ok(docs.join("---\n"))
    }

    /// Every permission the plan needs, without duplicates.
    pub fn required_permissions(&self) -> Vec<Permission> {
        let mut seen = BTreeMap::new();
        for object in &self.objects {
            for p in object.required_permissions() {
                seen.entry(p.key()).or_insert(p);
            }
        }
        seen.into_values().collect()
    }

    /// Carry the plan out as the output flags say: `--dry-run=client` prints the manifests and
    /// touches nothing; otherwise check permissions, apply (or server dry run) and print the report.
    pub async fn execute(
        &self,
        client: &Client,
        output: &crate::OutputArgs,
    ) -> Result<crate::ExitCode> {
        if output.dry_run != crate::DryRun::Client {
            require_permissions(client, &self.required_permissions()).await?;
        }
        self.execute_preflighted(client, output).await
    }

    /// [`Self::execute`] for callers that already checked [`Self::required_permissions`]
    /// (together with the reads they made while planning), so nothing is asked twice.
    pub async fn execute_preflighted(
        &self,
        client: &Client,
        output: &crate::OutputArgs,
    ) -> Result<crate::ExitCode> {
        if output.dry_run == crate::DryRun::Client {
            self.print_client_dry_run(output.output)?;
            return Ok(crate::ExitCode::Ok);
        }
        let report = self
            .apply_preflighted(client, apply_mode(output.dry_run))
            .await?;
        report.print(output.output)?;
        if report.succeeded() {
            Ok(crate::ExitCode::Ok)
        } else {
            Err(report.failure())
        }
    }

    /// `--dry-run=client`: the manifests for `-o yaml|json`, kubectl-style lines otherwise.
    pub fn print_client_dry_run(&self, format: OutputFormat) -> Result<()> {
        use std::io::Write;
        let text = if format.is_machine() {
            self.render(format)?
        } else {
            let lines: Vec<String> = self
                .objects
                .iter()
                .map(|o| {
                    let name = qualified_name(&o.resource.api_version, &o.resource.kind, &o.name());
                    format!("{name} (dry run)")
                })
                .collect();
            lines.join("\n") + "\n"
        };
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    }

    /// Check permissions (all at once, before any write), then server-side apply each object.
    ///
    /// Stops at the first failure; the report says what was applied and what was not.
    pub async fn apply(&self, client: &Client, mode: ApplyMode) -> Result<ApplyReport> {
        require_permissions(client, &self.required_permissions()).await?;
        self.apply_preflighted(client, mode).await
    }

    /// Apply without asking for permissions first.
    pub async fn apply_preflighted(&self, client: &Client, mode: ApplyMode) -> Result<ApplyReport> {
        let dry_run = mode == ApplyMode::ServerDryRun;
        let mut report = ApplyReport {
            dry_run,
            objects: Vec::with_capacity(self.objects.len()),
        };
        let mut failed = false;
        for object in &self.objects {
            let mut result = ObjectResult {
                api_version: object.resource.api_version.clone(),
                kind: object.resource.kind.clone(),
                name: object.name(),
                namespace: object.namespace(),
                outcome: Outcome::NotApplied,
                error: None,
            };
            if !failed {
                match apply_one(client, object, dry_run).await {
                    Ok(outcome) => result.outcome = outcome,
                    Err(err) => {
                        result.outcome = Outcome::Failed;
                        result.error = Some(err.to_string());
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
/// concurrent writer changed the object in between ("the object has been modified"): applying
/// the same intent again is always correct. Field-manager conflicts are not retried.
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
                    && status.message.contains("has been modified")
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

fn apply_mode(dry_run: crate::DryRun) -> ApplyMode {
    if dry_run == crate::DryRun::Server {
        ApplyMode::ServerDryRun
    } else {
        ApplyMode::Apply
    }
}

/// `clusterrole.rbac.authorization.k8s.io/mcp-readonly`, as kubectl names objects.
pub fn qualified_name(api_version: &str, kind: &str, name: &str) -> String {
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    let kind = kind.to_lowercase();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
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
fn project(value: &serde_json::Value, shape: &serde_json::Value) -> serde_json::Value {
    match (value, shape) {
        (serde_json::Value::Object(value), serde_json::Value::Object(shape)) => shape
            .iter()
            .filter_map(|(key, sub)| Some((key.clone(), project(value.get(key)?, sub))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => value.clone(),
    }
}

/// The group-version-kind of a planned object, for tests and reports.
pub fn gvk(object: &PlannedObject) -> GroupVersionKind {
    GroupVersionKind::gvk(
        &object.resource.group,
        &object.resource.version,
        &object.resource.kind,
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::{core::v1::ConfigMap, rbac::v1::ClusterRole};
    use kube::api::ObjectMeta;

    use super::*;

    fn plan() -> Plan {
        let role = ClusterRole {
            metadata: ObjectMeta {
                name: Some("mcp-readonly".into()),
                ..ObjectMeta::default()
            },
            ..ClusterRole::default()
        };
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("cfg".into()),
                namespace: Some("mcp-server".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        let mut plan = Plan::new();
        plan.push(PlannedObject::from_typed(&role).expect("role"));
        plan.push(PlannedObject::from_typed(&cm).expect("cm"));
        plan
    }

    #[test]
    fn planned_objects_carry_type_and_managed_by_label() {
        let plan = plan();
        let role = &plan.objects[0];
        assert!(!role.namespaced);
        assert_eq!(role.resource.plural, "clusterroles");
        assert_eq!(
            role.object
                .labels()
                .get(MANAGED_BY_LABEL)
                .map(String::as_str),
            Some(MANAGED_BY_VALUE)
        );
        assert!(plan.objects[1].namespaced);
    }

    #[test]
    fn render_yaml_is_multi_document_and_json_is_a_list() {
        let plan = plan();
        let yaml = plan.render(OutputFormat::Yaml).expect("yaml");
        assert_eq!(yaml.matches("---\n").count(), 1, "{yaml}");
        assert!(yaml.contains("kind: ClusterRole"));
        assert!(yaml.contains("apiVersion: rbac.authorization.k8s.io/v1"));
        let json: serde_json::Value =
            serde_json::from_str(&plan.render(OutputFormat::Json).expect("json")).expect("parse");
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"][1]["metadata"]["namespace"], "mcp-server");
    }

    fn result(name: &str, outcome: Outcome, error: Option<Error>) -> ObjectResult {
        ObjectResult {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: name.into(),
            namespace: Some("mcp-server".into()),
            outcome,
            error: error.map(|e| e.to_string()),
        }
    }

    #[test]
    fn a_partial_apply_counts_what_was_applied_and_exits_by_the_cause() {
        let unreachable = Error::Unreachable {
            what: "the Kubernetes API server".into(),
            message: "GET /x: gave up after 8 attempts".into(),
        };
        let report = ApplyReport {
            dry_run: false,
            objects: vec![
                result("a", Outcome::Created, None),
                result("b", Outcome::Failed, Some(unreachable)),
                result("c", Outcome::NotApplied, None),
            ],
        };
        assert!(!report.succeeded());
        let err = report.failure();
        assert_eq!(err.exit_code().code(), 4);
        let text = err.to_string();
        assert!(
            text.contains("1 of 3 objects applied, 1 failed, 1 not applied"),
            "{text}"
        );
        assert!(
            text.contains("ConfigMap b failed: GET /x: gave up"),
            "{text}"
        );
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["objects"][0]["outcome"], "created");
        assert_eq!(json["objects"][1]["outcome"], "failed");
        assert_eq!(json["objects"][2]["outcome"], "not-applied");

        let conflict = Error::Api(Box::new(kube::core::Status::failure(
            "conflict", "Conflict",
        )));
        let report = ApplyReport {
            dry_run: false,
            objects: vec![result("a", Outcome::Failed, Some(conflict))],
        };
        assert_eq!(report.failure().exit_code().code(), 1);
        let forbidden = Error::Forbidden {
            message: "no".into(),
        };
        let report = ApplyReport {
            dry_run: false,
            objects: vec![result("a", Outcome::Failed, Some(forbidden))],
        };
        assert_eq!(report.failure().exit_code().code(), 3);
    }

    #[test]
    fn permissions_cover_get_create_and_patch_once() {
        let perms = plan().required_permissions();
        assert_eq!(perms.len(), 6);
        assert!(perms.iter().any(|p| p.verb == "create"
            && p.resource == "configmaps"
            && p.namespace.as_deref() == Some("mcp-server")));
    }

    #[test]
    fn projection_keeps_the_fields_an_apply_sets_and_lists_whole() {
        let stored = serde_json::json!({
            "metadata": {"name": "server", "annotations": {"revision": "7"}, "labels": {"a": "1"}},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
            "status": {"ready": true},
        });
        let body = serde_json::json!({
            "metadata": {"name": "server", "labels": {"a": "1", "b": "2"}},
            "spec": {"ports": [{"port": 80}]},
        });
        assert_eq!(
            project(&stored, &body),
            serde_json::json!({
                "metadata": {"name": "server", "labels": {"a": "1"}},
                "spec": {"ports": [{"port": 80, "protocol": "TCP"}]},
            })
        );
    }
}
