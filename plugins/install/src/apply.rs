//! Carry an install plan out: the project, then helm or the manifests (with pruning).

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount},
    networking::v1::Ingress,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, ObjectMeta, PostParams},
};
use oc_mcp_common::{
    DryRun, Error, Plan, PlannedObject, Result,
    openshift::{ClusterFlavor, ProjectRequest},
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, ObjectResult, Outcome},
    preflight::Permission,
};

use crate::{
    args::InstallArgs,
    plan::InstallPlan,
    render::{INSTANCE_LABEL, applied_objects},
};

/// Create the project (OpenShift) or namespace if it does not exist.
pub async fn ensure_project(
    client: &Client,
    plan: &InstallPlan,
    dry_run: DryRun,
) -> Result<ObjectResult> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut result = ObjectResult::new(
        "v1",
        "Namespace",
        plan.namespace.clone(),
        None,
        Outcome::Unchanged,
    );
    // Reading the namespace may be forbidden for a project admin; treat that as "exists".
    match namespaces.get_opt(&plan.namespace).await {
        Ok(Some(_)) | Err(kube::Error::Api(_)) => return Ok(result),
        Ok(None) => {}
        Err(e) => return Err(e.into()),
    }
    result.outcome = Outcome::Created;
    if dry_run.prints_only() {
        return Ok(result);
    }
    let params = PostParams {
        dry_run: dry_run.server_side(),
        field_manager: Some(oc_mcp_common::plan::FIELD_MANAGER.into()),
    };
    if plan.openshift {
        // `oc new-project`: a ProjectRequest makes the namespace with the project template.
        let mut request = ProjectRequest::named(&plan.namespace);
        request.display_name = Some("Kubernetes MCP Server".into());
        let api: Api<ProjectRequest> = Api::all(client.clone());
        result.api_version = "project.openshift.io/v1".into();
        result.kind = "Project".into();
        created_unless_exists(api.create(&params, &request).await, &mut result)?;
    } else {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(plan.namespace.clone()),
                labels: Some([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        created_unless_exists(namespaces.create(&params, &namespace).await, &mut result)?;
    }
    Ok(result)
}

/// Another install (or a person) may create the project between our read and our create:
/// it exists, which is all this step needs.
fn created_unless_exists<T>(created: kube::Result<T>, result: &mut ObjectResult) -> Result<()> {
    match created {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            result.outcome = Outcome::Unchanged;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Everything an install with these flags reads and writes, known before the cluster is
/// read: what applying the plan's objects needs, derived from the objects rendered from the
/// plan's [preview](InstallPlan::preview) (helm applies the chart's objects itself), what
/// removing a release's objects needs, and what install does that is no object.
pub fn permissions(
    args: &InstallArgs,
    namespace: &str,
    flavor: ClusterFlavor,
) -> Result<Vec<Permission>> {
    let preview = InstallPlan::preview(args, namespace, flavor.openshift);
    let mut wanted = applied_objects(&preview)?.required_permissions();
    // A manifests install prunes what it no longer renders; `helm upgrade` deletes what the
    // chart no longer renders and keeps its release records in Secrets it lists and deletes.
    wanted.extend(release_permissions(namespace));
    wanted.extend(unplanned_permissions(args, namespace, flavor));
    wanted.sort_by_key(Permission::key);
    wanted.dedup_by_key(|p| p.key());
    Ok(wanted)
}

/// What install reads and writes besides applying the plan's objects, so no object shows it:
/// the project, made once by [`ensure_project`] with a create (a ProjectRequest on
/// OpenShift), never applied; the cluster facts (the apps domain and the API server's token
/// trust, OpenShift's `cluster` configs); the `mcp-oauth-settings` ConfigMap the entra and
/// oidc defaults come from; and with `--token-exchange`, the Secret holding the client secret.
fn unplanned_permissions(
    args: &InstallArgs,
    namespace: &str,
    flavor: ClusterFlavor,
) -> Vec<Permission> {
    let mut wanted = vec![if flavor.openshift {
        Permission::new("create", "project.openshift.io", "projectrequests")
    } else {
        Permission::new("create", "", "namespaces")
    }];
    if flavor.openshift_config {
        for resource in ["ingresses", "authentications"] {
            wanted.push(Permission::new("get", "config.openshift.io", resource).named("cluster"));
        }
    }
    wanted.push(Permission::new("get", "", "configmaps").in_namespace(namespace));
    if args.token_exchange.is_some() {
        wanted.push(Permission::new("get", "", "secrets").in_namespace(namespace));
    }
    wanted
}

/// Listing and deleting what a release made (a manifests install prunes with these).
pub fn release_permissions(namespace: &str) -> Vec<Permission> {
    pruned_kinds()
        .into_iter()
        .flat_map(|kind| {
            ["list", "delete"].map(|verb| {
                Permission::new(verb, &kind.group, &kind.plural).in_namespace(namespace)
            })
        })
        .collect()
}

/// The kinds a manifests install owns and prunes, in delete order.
fn pruned_kinds() -> [ApiResource; 6] {
    [
        ApiResource::erase::<Ingress>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<ConfigMap>(&()),
        ApiResource::erase::<Secret>(&()),
        ApiResource::erase::<ServiceAccount>(&()),
    ]
}

/// Apply the manifests, then delete what an earlier run made and this one no longer needs.
pub async fn apply_manifests(
    client: &Client,
    plan: &InstallPlan,
    objects: &mut Plan,
    dry_run: DryRun,
) -> Result<(Vec<ObjectResult>, Restorations)> {
    let restorations = take_ownership(client, objects).await?;
    let report = objects
        .apply_preflighted(client, dry_run.apply_mode())
        .await?;
    let mut results = report.objects.clone();
    if !report.succeeded() {
        return Ok((results, restorations));
    }
    results.extend(prune(client, plan, objects, dry_run).await?);
    Ok((results, restorations))
}

/// The objects a server dry run cannot send because their namespace does not exist yet:
/// reported as what applying them would do (create), checked by oc-mcp only.
pub fn not_sent(objects: &Plan) -> Vec<ObjectResult> {
    objects
        .objects
        .iter()
        .map(|o| {
            ObjectResult::new(
                o.resource.api_version.clone(),
                o.kind(),
                o.name(),
                o.namespace(),
                Outcome::Created,
            )
        })
        .collect()
}

async fn prune(
    client: &Client,
    plan: &InstallPlan,
    keep: &Plan,
    dry_run: DryRun,
) -> Result<Vec<ObjectResult>> {
    let keep: Vec<(String, String)> = keep
        .objects
        .iter()
        .map(|o: &PlannedObject| (o.kind().to_owned(), o.name()))
        .collect();
    delete_labeled(client, &plan.namespace, &plan.release, &keep, dry_run).await
}

/// Delete everything a manifests install made for the release (not RBAC, not OAuth objects).
/// The caller has asked for [`release_permissions`].
pub async fn delete_release_objects(
    client: &Client,
    namespace: &str,
    release: &str,
    dry_run: DryRun,
) -> Result<Vec<ObjectResult>> {
    let results = delete_labeled(client, namespace, release, &[], dry_run).await?;
    if results.is_empty() {
        return Err(Error::Failed {
            message: format!(
                "no objects of release {release} made by oc-mcp in namespace {namespace}"
            ),
            hint: Some("check --release and -n".into()),
        });
    }
    Ok(results)
}

/// Delete the release's objects (by label) except those in `keep`, kind by kind.
///
/// Everything is listed before the first delete, so when a delete fails the report names what
/// was deleted, what failed and what was not attempted; a list that fails has deleted nothing.
async fn delete_labeled(
    client: &Client,
    namespace: &str,
    release: &str,
    keep: &[(String, String)],
    dry_run: DryRun,
) -> Result<Vec<ObjectResult>> {
    let selector = format!("{INSTANCE_LABEL}={release},{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let labeled = ListParams::default().labels(&selector);
    let mut targets: Vec<(ApiResource, String)> = Vec::new();
    for kind in pruned_kinds() {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &kind);
        for object in api.list(&labeled).await? {
            let name = object.name_any();
            if !keep.iter().any(|(k, n)| k == &kind.kind && n == &name) {
                targets.push((kind.clone(), name));
            }
        }
    }

    let params = DeleteParams {
        dry_run: dry_run.server_side(),
        ..DeleteParams::default()
    };
    let mut failed = false;
    let mut results = Vec::with_capacity(targets.len());
    for (kind, name) in targets {
        let mut result = ObjectResult::new(
            kind.api_version.clone(),
            kind.kind.clone(),
            name.clone(),
            Some(namespace.to_owned()),
            Outcome::NotApplied,
        );
        if !failed {
            result.outcome = Outcome::Deleted;
            if dry_run.sends() {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), namespace, &kind);
                match api.delete(&name, &params).await {
                    Ok(_) => {}
                    // Gone already (another run, or its owner's garbage collection).
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(err) => {
                        result.fail(Error::from(err));
                        failed = true;
                    }
                }
            }
        }
        results.push(result);
    }
    Ok(results)
}

// ---- taking the install's own objects back ----

/// What a forced apply takes back from another field manager on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The field manager that changed it (`kubectl-edit`, `kubectl-patch`, ...).
    pub manager: String,
    /// What was changed: config keys for the config file, else the field path.
    pub what: Vec<String>,
}

/// `restored read_only, toolsets (changed by kubectl-edit)`; names only, never values.
pub fn describe_restored(restored: &[Restored]) -> String {
    let parts: Vec<String> = restored
        .iter()
        .map(|r| format!("{} (changed by {})", r.what.join(", "), r.manager))
        .collect();
    format!("restored {}", parts.join("; "))
}

/// Objects install owns, keyed by kind and name, with what applying them restores.
pub type Restorations = std::collections::BTreeMap<(String, String), Vec<Restored>>;

/// Read each planned object once and make the apply take back what another manager changed.
///
/// Every object here carries the release's name, so install owns it: a re-run must restore
/// the safe state (a hand edit that set `read_only = false` must not survive it), hence a
/// forced apply. What a force takes back is read from the live object's managed fields first,
/// so the report can say what was restored and from whom. An object of that name that
/// oc-mcp never wrote is not taken over: that is a refusal before anything is applied.
pub async fn take_ownership(client: &Client, objects: &mut Plan) -> Result<Restorations> {
    let mut restorations = Restorations::new();
    for object in &mut objects.objects {
        let api: Api<DynamicObject> = match object.namespace() {
            Some(ns) => Api::namespaced_with(client.clone(), &ns, &object.resource),
            None => Api::all_with(client.clone(), &object.resource),
        };
        let name = object.name();
        let live = api.get_opt(&name).await?;
        if let Some(live) = &live {
            if !made_by_oc_mcp(live) {
                let managers: Vec<String> = live
                    .managed_fields()
                    .iter()
                    .filter_map(|e| e.manager.clone())
                    .collect();
                return Err(Error::Failed {
                    message: format!(
                        "{} exists and was not made by oc-mcp (written by {}): the install will \
                         not take it over; nothing of the release was applied",
                        oc_mcp_common::plan::qualified_name(
                            &object.resource.api_version,
                            object.kind(),
                            &name
                        ),
                        if managers.is_empty() {
                            "an unknown writer".to_owned()
                        } else {
                            managers.join(", ")
                        }
                    ),
                    hint: Some(
                        "choose another --release, or delete that object if it is a leftover, \
                         then re-run"
                            .into(),
                    ),
                });
            }
            let body = serde_json::to_value(&object.object).unwrap_or_default();
            let restored = foreign_changes(live, &body, object.kind());
            if !restored.is_empty() {
                restorations.insert((object.kind().to_owned(), name.clone()), restored);
            }
        }
        *object = object.clone().with_force(true).with_live(live.as_ref());
    }
    Ok(restorations)
}

/// Whether oc-mcp wrote this object: our label, or our field manager.
fn made_by_oc_mcp(live: &DynamicObject) -> bool {
    live.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
        || live
            .managed_fields()
            .iter()
            .any(|e| e.manager.as_deref() == Some(oc_mcp_common::plan::FIELD_MANAGER))
}

/// Fields other managers own whose live value differs from what we apply: exactly what a
/// forced server-side apply takes back (status and other subresources are not applied).
pub fn foreign_changes(
    live: &DynamicObject,
    body: &serde_json::Value,
    kind: &str,
) -> Vec<Restored> {
    let theirs = serde_json::to_value(live).unwrap_or_default();
    let mut by_manager: Vec<Restored> = Vec::new();
    for entry in live.managed_fields() {
        let manager = entry.manager.clone().unwrap_or_else(|| "unknown".into());
        if manager == oc_mcp_common::plan::FIELD_MANAGER || entry.subresource.is_some() {
            continue;
        }
        let Some(fields) = entry.fields_v1.as_ref().map(|f| &f.0) else {
            continue;
        };
        let mut paths = Vec::new();
        walk_owned(fields, body, &theirs, "", &mut paths);
        let mut what = Vec::new();
        for path in paths {
            match config_key_changes(kind, &path, body, &theirs) {
                Some(keys) if !keys.is_empty() => what.extend(keys),
                _ => what.push(path),
            }
        }
        what.dedup();
        if !what.is_empty() {
            by_manager.push(Restored { manager, what });
        }
    }
    by_manager
}

/// Walk a `fieldsV1` tree beside our body and the live object; collect the paths of owned
/// fields we set to another value than the live one. Fields are `f:<name>`; list items are
/// owned by key (`k:{"name":"x"}`); set and index items are left to their list.
fn walk_owned(
    owned: &serde_json::Value,
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(owned) = owned.as_object() else {
        return;
    };
    for (key, sub) in owned {
        if let Some(field) = key.strip_prefix("f:") {
            let Some(our_value) = ours.get(field) else {
                continue;
            };
            let their_value = theirs.get(field).unwrap_or(&serde_json::Value::Null);
            let here = format!("{path}.{field}");
            let leaf = sub.as_object().is_none_or(|m| m.keys().all(|k| k == "."));
            if !leaf {
                walk_owned(sub, our_value, their_value, &here, out);
            } else if !contains(their_value, our_value) {
                out.push(here);
            }
        } else if let Some(keys) = key
            .strip_prefix("k:")
            .and_then(|k| serde_json::from_str::<serde_json::Map<_, _>>(k).ok())
        {
            let Some(our_item) = list_item(ours, &keys) else {
                continue;
            };
            let their_item = list_item(theirs, &keys).unwrap_or(serde_json::Value::Null);
            let label: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let here = format!("{path}[{}]", label.join(","));
            walk_owned(sub, &our_item, &their_item, &here, out);
        }
    }
}

/// The item of a list whose fields have the values of `keys` (none when `list` is no list).
fn list_item(
    list: &serde_json::Value,
    keys: &serde_json::Map<String, serde_json::Value>,
) -> Option<serde_json::Value> {
    list.as_array()?
        .iter()
        .find(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))
        .cloned()
}

/// Whether `theirs` has every value of `ours` (the server adds defaults, so `theirs` may have
/// more keys, and list items more fields).
fn contains(theirs: &serde_json::Value, ours: &serde_json::Value) -> bool {
    match (theirs, ours) {
        (serde_json::Value::Object(t), serde_json::Value::Object(o)) => o
            .iter()
            .all(|(k, v)| t.get(k).is_some_and(|tv| contains(tv, v))),
        (serde_json::Value::Array(t), serde_json::Value::Array(o)) => {
            t.len() == o.len() && t.iter().zip(o).all(|(tv, ov)| contains(tv, ov))
        }
        _ => theirs == ours,
    }
}

/// For the server's config file, the keys that differ (names only; values may be secrets).
fn config_key_changes(
    kind: &str,
    path: &str,
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
) -> Option<Vec<String>> {
    let file = path.strip_prefix(".data.")?;
    if kind != "ConfigMap"
        || !std::path::Path::new(file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        return None;
    }
    let parse = |v: &serde_json::Value| -> Option<toml::Table> {
        v.pointer(&format!(
            "/data/{}",
            file.replace('~', "~0").replace('/', "~1")
        ))?
        .as_str()?
        .parse()
        .ok()
    };
    let (ours, theirs) = (parse(ours)?, parse(theirs).unwrap_or_default());
    let mut keys: Vec<String> = ours
        .keys()
        .chain(theirs.keys())
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    Some(keys)
}
