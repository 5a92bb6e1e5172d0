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
    ApplyMode, DryRun, Error, Plan, PlannedObject, Result,
    openshift::{ClusterFlavor, ProjectRequest},
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, ObjectResult, Outcome},
    preflight::Permission,
};

use crate::{
    args::{Engine, InstallArgs},
    plan::InstallPlan,
    render::{INSTANCE_LABEL, manifests},
};

/// Create the project (OpenShift) or namespace if it does not exist.
pub async fn ensure_project(
    client: &Client,
    plan: &InstallPlan,
    dry_run: DryRun,
) -> Result<ObjectResult> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut result = ObjectResult {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: plan.namespace.clone(),
        namespace: None,
        outcome: Outcome::Unchanged,
        error: None,
    };
    // Reading the namespace may be forbidden for a project admin; treat that as "exists".
    match namespaces.get_opt(&plan.namespace).await {
        Ok(Some(_)) | Err(kube::Error::Api(_)) => return Ok(result),
        Ok(None) => {}
        Err(e) => return Err(e.into()),
    }
    result.outcome = Outcome::Created;
    if dry_run == DryRun::Client {
        return Ok(result);
    }
    let params = PostParams {
        dry_run: dry_run == DryRun::Server,
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
/// read: the cluster facts, the project, get/create/patch of each kind it applies (helm
/// applies the chart's objects itself), and list/delete of each kind it prunes.
pub fn permissions(args: &InstallArgs, namespace: &str, flavor: ClusterFlavor) -> Vec<Permission> {
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
    let mut applied: Vec<(&str, &str)> = Vec::new();
    if args.engine == Engine::Manifests {
        applied.extend([
            ("", "serviceaccounts"),
            ("", "configmaps"),
            ("apps", "deployments"),
            ("", "services"),
        ]);
        if !args.internal {
            applied.push(("networking.k8s.io", "ingresses"));
        }
    } else {
        // The OAuth settings ConfigMap is read; the issuer CA is applied as one.
        applied.push(("", "configmaps"));
    }
    if args.token_exchange.is_some() {
        // The client secret is read from one Secret and mounted from another.
        applied.push(("", "secrets"));
    }
    for (group, resource) in applied {
        for verb in ["get", "create", "patch"] {
            wanted.push(Permission::new(verb, group, resource).in_namespace(namespace));
        }
    }
    wanted.extend(release_permissions(namespace));
    wanted.sort_by_key(Permission::key);
    wanted.dedup_by_key(|p| p.key());
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
    dry_run: DryRun,
) -> Result<Vec<ObjectResult>> {
    let mut objects = Plan::new();
    for object in manifests(plan)? {
        objects.push(object);
    }
    let mode = if dry_run == DryRun::Server {
        ApplyMode::ServerDryRun
    } else {
        ApplyMode::Apply
    };
    let report = objects.apply_preflighted(client, mode).await?;
    let mut results = report.objects.clone();
    if !report.succeeded() {
        return Ok(results);
    }
    results.extend(prune(client, plan, &objects, dry_run == DryRun::Server).await?);
    Ok(results)
}

async fn prune(
    client: &Client,
    plan: &InstallPlan,
    keep: &Plan,
    dry_run: bool,
) -> Result<Vec<ObjectResult>> {
    let keep: Vec<(String, String)> = keep
        .objects
        .iter()
        .map(|o: &PlannedObject| (o.kind().to_owned(), o.name()))
        .collect();
    let mode = if dry_run {
        DryRun::Server
    } else {
        DryRun::None
    };
    delete_labeled(client, &plan.namespace, &plan.release, &keep, mode).await
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
        dry_run: dry_run == DryRun::Server,
        ..DeleteParams::default()
    };
    let mut failed = false;
    let mut results = Vec::with_capacity(targets.len());
    for (kind, name) in targets {
        let mut result = ObjectResult {
            api_version: kind.api_version.clone(),
            kind: kind.kind.clone(),
            name: name.clone(),
            namespace: Some(namespace.to_owned()),
            outcome: Outcome::NotApplied,
            error: None,
        };
        if !failed {
            result.outcome = Outcome::Deleted;
            if dry_run != DryRun::Client {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), namespace, &kind);
                match api.delete(&name, &params).await {
                    Ok(_) => {}
                    // Gone already (another run, or its owner's garbage collection).
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(err) => {
                        result.outcome = Outcome::Failed;
                        result.error = Some(Error::from(err).to_string());
                        failed = true;
                    }
                }
            }
        }
        results.push(result);
    }
    Ok(results)
}
