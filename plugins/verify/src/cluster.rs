//! What the cluster says about the deployment (issue 8 items 1-4): namespace, install, the
//! Deployment and its pods, the Service, the server's logs, its config, the Route and the
//! OAuthClient. Reads only.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ConfigMap, Endpoints, Namespace, Pod, Secret, Service},
    networking::v1::Ingress,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, LogParams},
};
use oc_mcp_common::{
    error::describe_chain,
    openshift::{AuthenticationConfig, OAuthClient, Route},
    server_config::{ConfigText, ParsedConfig, ServerVersion},
};

use crate::report::FailureClass;

/// The chart's name: objects are named `<release>` when the release contains it, else
/// `<release>-kubernetes-mcp-server` (Helm's `fullname`).
pub const CHART_NAME: &str = "kubernetes-mcp-server";
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The names the chart (and `oc mcp-install`) gives a release's objects, most likely first.
pub fn candidate_names(release: &str) -> Vec<String> {
    let fullname = if release.contains(CHART_NAME) {
        release.to_owned()
    } else {
        format!("{release}-{CHART_NAME}")
    };
    let mut names = vec![fullname];
    if !names.contains(&release.to_owned()) {
        names.push(release.to_owned());
    }
    names
}

/// Why a read failed, in the terms the report uses.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub class: FailureClass,
    pub forbidden: bool,
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) fn read_error(what: &str, err: &kube::Error) -> ReadError {
    match err {
        kube::Error::Api(status) => ReadError {
            class: if status.code == 401 {
                FailureClass::Auth
            } else {
                FailureClass::Check
            },
            forbidden: status.code == 403,
            message: format!("reading {what}: {} ({})", status.message, status.code),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => ReadError {
            class: FailureClass::Unreachable,
            forbidden: false,
            message: format!(
                "cannot reach the API server reading {what}: {}",
                describe_chain(err)
            ),
        },
        kube::Error::Auth(_) => ReadError {
            class: FailureClass::Auth,
            forbidden: false,
            message: format!("kubeconfig credentials failed: {}", describe_chain(err)),
        },
        other => ReadError {
            class: FailureClass::Check,
            forbidden: false,
            message: format!("reading {what}: {}", describe_chain(other)),
        },
    }
}

/// `Ok(None)` on 404.
pub(crate) async fn get_opt<K>(api: &Api<K>, name: &str, what: &str) -> Result<Option<K>, ReadError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(obj) => Ok(obj),
        Err(e) => Err(read_error(&format!("{what} {name}"), &e)),
    }
}

/// A list; 404 (the API does not exist here) is an empty list with `absent = true`.
pub(crate) async fn list<K>(
    api: &Api<K>,
    params: &ListParams,
    what: &str,
) -> Result<(Vec<K>, bool), ReadError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(params).await {
        Ok(list) => Ok((list.items, false)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok((Vec::new(), true)),
        Err(e) => Err(read_error(what, &e)),
    }
}

/// One pod's recent log.
#[derive(Debug, Clone)]
pub struct PodLog {
    pub pod: String,
    /// `current` or `previous` (the container before its last restart).
    pub which: &'static str,
    pub text: String,
}

/// The server's config as the cluster holds it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `configmap/<name>` key `<key>`.
    pub source: String,
    pub parsed: Result<ParsedConfig, String>,
    /// Drop-ins that could not be read (forbidden Secrets, ...).
    pub unread_drop_ins: Vec<String>,
}

/// Everything read from the cluster.
#[derive(Debug, Default)]
pub struct Facts {
    pub namespace: String,
    pub namespace_found: Option<Result<bool, ReadError>>,
    pub helm_release: Option<String>,
    pub helm_status: Option<String>,
    pub deployment: Option<Result<Option<Deployment>, ReadError>>,
    /// The pods of the release's Deployment (through its ReplicaSets).
    pub pods: Vec<Pod>,
    pub pods_error: Option<ReadError>,
    /// Pods the Deployment's selector matches that it does not own (another workload's).
    pub foreign_pods: Vec<Pod>,
    /// The namespace's ReplicaSets, as read to tell the Deployment's pods from others.
    pub replica_sets: Option<Result<Vec<ReplicaSet>, ReadError>>,
    pub service: Option<Result<Option<Service>, ReadError>>,
    pub endpoints: Option<Endpoints>,
    /// Every ClusterRoleBinding and RoleBinding, read once for the ServiceAccount check and
    /// the role's bindings.
    pub bindings: Option<Result<Bindings, ReadError>>,
    pub logs: Vec<PodLog>,
    pub logs_error: Option<ReadError>,
    pub config: Option<Result<ClusterConfig, ReadError>>,
    pub server_version: ServerVersion,
    pub ingress: Option<Ingress>,
    /// `None` when not read; `Some(Err)` when reading failed.
    pub routes: Option<Result<Vec<Route>, ReadError>>,
    /// The Route API is missing (not OpenShift).
    pub no_route_api: bool,
    pub oauth_client: Option<Result<Option<OAuthClient>, ReadError>>,
    pub authentication: Option<AuthenticationConfig>,
    /// Every other way to the pods (Routes, Ingresses, Services, workloads).
    pub paths: crate::exposure::Paths,
}

impl Facts {
    pub fn deployment(&self) -> Option<&Deployment> {
        self.deployment.as_ref()?.as_ref().ok()?.as_ref()
    }

    pub fn service(&self) -> Option<&Service> {
        self.service.as_ref()?.as_ref().ok()?.as_ref()
    }

    pub fn parsed_config(&self) -> Option<&ParsedConfig> {
        self.config.as_ref()?.as_ref().ok()?.parsed.as_ref().ok()
    }

    /// The Route serving the deployment: the first admitted one found through the Ingress owner
    /// reference, by name, or by target service.
    pub fn route(&self) -> Option<&Route> {
        let routes = self.routes.as_ref()?.as_ref().ok()?;
        routes
            .iter()
            .find(|r| r.admitted())
            .or_else(|| routes.first())
    }

    /// The public host: the Route's, else the Ingress rule's.
    pub fn host(&self) -> Option<String> {
        if let Some(route) = self.route() {
            return route.spec.host.clone().or_else(|| {
                route
                    .status
                    .as_ref()
                    .and_then(|s| s.ingress.iter().find_map(|i| i.host.clone()))
            });
        }
        self.ingress
            .as_ref()?
            .spec
            .as_ref()?
            .rules
            .as_ref()?
            .iter()
            .find_map(|r| r.host.clone())
    }
}

/// What to read.
#[derive(Debug, Clone)]
pub struct Scope {
    pub namespace: String,
    pub release: String,
    pub oauth_client: String,
    /// Read pod logs (only when a logs or pods check is selected).
    pub logs: bool,
    /// Read every other path to the pods (only when an exposure check is selected).
    pub exposure: bool,
}

/// Read everything, tolerating failures one object at a time.
pub async fn inspect(client: &Client, scope: &Scope) -> Facts {
    let ns = scope.namespace.as_str();
    let mut facts = Facts {
        namespace: ns.to_owned(),
        ..Facts::default()
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let found = get_opt(&namespaces, ns, "namespace").await;
    let stop = matches!(&found, Err(e) if e.class != FailureClass::Check);
    facts.namespace_found = Some(found.map(|n| n.is_some()));
    if stop {
        // Unreachable or unauthenticated: every other read would fail the same way.
        return facts;
    }

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    facts.deployment = Some(find_deployment(&deployments, &scope.release).await);
    let names = facts
        .deployment()
        .map(ResourceExt::name_any)
        .into_iter()
        .chain(candidate_names(&scope.release))
        .collect::<Vec<_>>();
    // The independent reads run at once; each fills its own part of the facts.
    let base = || Facts {
        namespace: ns.to_owned(),
        deployment: facts.deployment.clone(),
        ..Facts::default()
    };
    let (mut workload, mut release, mut exposure) = (base(), base(), base());
    let oauth: Api<OAuthClient> = Api::all(client.clone());
    let auth: Api<AuthenticationConfig> = Api::all(client.clone());
    let oauth_client = async {
        match oauth.get_opt(&scope.oauth_client).await {
            Ok(c) => Ok(c),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(read_error("oauthclient", &e)),
        }
    };
    let ((), (), (), oauth_client, authentication, bindings) = futures::join!(
        read_workload(client, scope, &names, &mut workload),
        read_helm(client, ns, &scope.release, &mut release),
        async {
            read_service(client, ns, &names, &scope.release, &mut exposure).await;
            read_route(client, ns, &names, &scope.release, &mut exposure).await;
        },
        oauth_client,
        auth.get_opt("cluster"),
        read_bindings(client),
    );
    facts.bindings = Some(bindings);
    facts.server_version = workload.server_version;
    facts.pods = workload.pods;
    facts.pods_error = workload.pods_error;
    facts.foreign_pods = workload.foreign_pods;
    facts.replica_sets = workload.replica_sets;
    facts.logs = workload.logs;
    facts.logs_error = workload.logs_error;
    facts.config = workload.config;
    facts.helm_release = release.helm_release;
    facts.helm_status = release.helm_status;
    facts.service = exposure.service;
    facts.endpoints = exposure.endpoints;
    facts.ingress = exposure.ingress;
    facts.routes = exposure.routes;
    facts.no_route_api = exposure.no_route_api;
    facts.paths.routes = exposure.paths.routes.take();
    facts.paths.ingresses = exposure.paths.ingresses.take();
    facts.oauth_client = Some(oauth_client);
    facts.authentication = authentication.ok().flatten();
    if scope.exposure {
        crate::exposure::read(client, ns, &mut facts.paths).await;
    }
    facts
}

/// The Deployment's pods, their logs and its config (or, without a Deployment, the config
/// the chart's ConfigMap name finds).
async fn read_workload(client: &Client, scope: &Scope, names: &[String], facts: &mut Facts) {
    let ns = scope.namespace.as_str();
    if let Some(deployment) = facts.deployment().cloned() {
        facts.server_version = server_version(&deployment);
        read_pods(client, ns, &deployment, facts).await;
        if scope.logs {
            read_logs(client, ns, facts).await;
        }
        facts.config = Some(read_config(client, ns, &deployment).await);
        return;
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for name in names {
        if let Ok(Some(cm)) = get_opt(&cms, name, "configmap").await
            && let Some(text) = cm.data.as_ref().and_then(|d| d.get("config.toml"))
        {
            facts.config = Some(Ok(ClusterConfig {
                source: format!("configmap/{name} key config.toml"),
                parsed: ParsedConfig::parse(text).map_err(|e| e.to_string()),
                unread_drop_ins: Vec::new(),
            }));
            return;
        }
    }
}

async fn find_deployment(
    api: &Api<Deployment>,
    release: &str,
) -> Result<Option<Deployment>, ReadError> {
    for name in candidate_names(release) {
        if let Some(d) = get_opt(api, &name, "deployment").await? {
            return Ok(Some(d));
        }
    }
    let params = ListParams::default().labels(&format!(
        "{INSTANCE_LABEL}={release},{NAME_LABEL}={CHART_NAME}"
    ));
    let (items, _) = list(api, &params, "deployments").await?;
    Ok(items.into_iter().next())
}

/// The server version from the image tag (`...:v0.0.67`); `Latest` otherwise.
fn server_version(deployment: &Deployment) -> ServerVersion {
    server_container(deployment)
        .and_then(|c| c.image.as_deref())
        .and_then(|image| {
            let last = image.rsplit('/').next().unwrap_or(image);
            let tag = last.split_once(':')?.1;
            tag.split('@').next()?.parse().ok()
        })
        .unwrap_or_default()
}

/// The container running the server: named like the chart, else the first.
pub fn server_container(deployment: &Deployment) -> Option<&k8s_openapi::api::core::v1::Container> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .find(|c| c.name == CHART_NAME)
        .or_else(|| containers.first())
}

fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn read_pods(client: &Client, ns: &str, deployment: &Deployment, facts: &mut Facts) {
    let Some(labels) = deployment
        .spec
        .selector
        .match_labels
        .as_ref()
        .filter(|l| !l.is_empty())
    else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let params = ListParams::default().labels(&selector_string(labels));
    let every = ListParams::default();
    let (listed, sets) = futures::join!(
        list(&pods, &params, "pods"),
        list(&replica_sets, &every, "replicasets"),
    );
    facts.replica_sets = Some(sets.map(|(items, _)| items));
    match listed {
        Ok((items, _)) => {
            let live: Vec<Pod> = items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let sets = facts
                .replica_sets
                .as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(Vec::as_slice);
            // Pods of another workload with the same labels must not count as the server's.
            let (own, foreign) = crate::exposure::split_pods(deployment, sets, live);
            facts.pods = own;
            facts.foreign_pods = foreign;
        }
        Err(e) => facts.pods_error = Some(e),
    }
}

pub fn restart_count(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
}

async fn read_logs(client: &Client, ns: &str, facts: &mut Facts) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let container = facts
        .deployment()
        .and_then(server_container)
        .map(|c| c.name.clone());
    for pod in facts.pods.iter().take(3) {
        let name = pod.name_any();
        let restarted = restart_count(pod) > 0;
        let mut which: Vec<(&'static str, bool)> = vec![("current", false)];
        if restarted {
            which.push(("previous", true));
        }
        for (label, previous) in which {
            let params = LogParams {
                container: container.clone(),
                tail_lines: Some(200),
                previous,
                ..LogParams::default()
            };
            match pods.logs(&name, &params).await {
                Ok(text) => facts.logs.push(PodLog {
                    pod: name.clone(),
                    which: label,
                    text,
                }),
                // A container that never ran has no previous log: not an error.
                Err(kube::Error::Api(s)) if previous && s.code == 400 => {}
                Err(e) => {
                    facts.logs_error = Some(read_error(&format!("logs of pod {name}"), &e));
                }
            }
        }
    }
}

/// `--config <path>` / `--config=<path>` and `--config-dir` from the container's args.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == flag {
            return iter.next().cloned();
        }
        if let Some(v) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Where a file in the container comes from: (volume, key within it).
fn volume_for<'a>(
    deployment: &'a Deployment,
    path: &str,
) -> Option<(&'a k8s_openapi::api::core::v1::Volume, String)> {
    let container = server_container(deployment)?;
    let pod_spec = deployment.spec.template.spec.as_ref()?;
    let mounts = container.volume_mounts.as_ref()?;
    // The longest mount path that contains the file.
    let mount = mounts
        .iter()
        .filter(|m| {
            let dir = m.mount_path.trim_end_matches('/');
            path == dir || path.starts_with(&format!("{dir}/"))
        })
        .max_by_key(|m| m.mount_path.len())?;
    let volume = pod_spec
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == mount.name)?;
    let rel = if let Some(sub) = &mount.sub_path {
        sub.clone()
    } else {
        path.trim_start_matches(mount.mount_path.trim_end_matches('/'))
            .trim_start_matches('/')
            .to_owned()
    };
    Some((volume, rel))
}

/// A ConfigMap or Secret volume's key for a file name (items may rename keys).
fn key_for_file(items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>, file: &str) -> String {
    items
        .and_then(|items| items.iter().find(|i| i.path == file))
        .map_or_else(|| file.to_owned(), |i| i.key.clone())
}

async fn read_config(
    client: &Client,
    ns: &str,
    deployment: &Deployment,
) -> Result<ClusterConfig, ReadError> {
    let args = server_container(deployment)
        .map(|c| {
            c.command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let main_path = flag_value(&args, "--config");
    let (cm_name, key) = match main_path.as_deref().and_then(|p| volume_for(deployment, p)) {
        Some((volume, rel)) => match &volume.config_map {
            Some(source) => (
                source.name.clone(),
                key_for_file(source.items.as_ref(), &rel),
            ),
            None => {
                return Err(ReadError {
                    class: FailureClass::Check,
                    forbidden: false,
                    message: format!(
                        "--config {} is not mounted from a ConfigMap (volume {})",
                        main_path.as_deref().unwrap_or_default(),
                        volume.name
                    ),
                });
            }
        },
        None => (deployment.name_any(), "config.toml".to_owned()),
    };
    let cm = get_opt(&cms, &cm_name, "configmap")
        .await?
        .ok_or_else(|| ReadError {
            class: FailureClass::Check,
            forbidden: false,
            message: format!("configmap {cm_name} (the server's --config) does not exist"),
        })?;
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .cloned()
        .ok_or_else(|| ReadError {
            class: FailureClass::Check,
            forbidden: false,
            message: format!("configmap {cm_name} has no key {key}"),
        })?;
    let mut drop_ins = Vec::new();
    let mut unread = Vec::new();
    if let Some(dir) = flag_value(&args, "--config-dir") {
        read_drop_ins(client, ns, deployment, &dir, &mut drop_ins, &mut unread).await;
    }
    Ok(ClusterConfig {
        source: format!("configmap/{cm_name} key {key}"),
        parsed: ParsedConfig::parse_files(&ConfigText::new(key.clone(), text), &drop_ins)
            .map_err(|e| e.to_string()),
        unread_drop_ins: unread,
    })
}

/// The `*.toml` files of the `--config-dir` volume (a ConfigMap or a Secret). Secret values
/// are only handed to the linter, which never prints values.
async fn read_drop_ins(
    client: &Client,
    ns: &str,
    deployment: &Deployment,
    dir: &str,
    out: &mut Vec<ConfigText>,
    unread: &mut Vec<String>,
) {
    let probe = format!("{}/x.toml", dir.trim_end_matches('/'));
    let Some((volume, _)) = volume_for(deployment, &probe) else {
        unread.push(format!("--config-dir {dir} is not a mounted volume"));
        return;
    };
    if let Some(source) = &volume.config_map {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        match get_opt(&cms, &source.name, "configmap").await {
            Ok(Some(cm)) => {
                for (key, text) in cm.data.unwrap_or_default() {
                    out.push(ConfigText::new(key, text));
                }
            }
            Ok(None) => unread.push(format!("configmap/{} does not exist", source.name)),
            Err(e) => unread.push(e.message),
        }
    } else if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        match get_opt(&secrets, &name, "secret").await {
            Ok(Some(secret)) => {
                for (key, value) in secret.data.unwrap_or_default() {
                    if let Ok(text) = String::from_utf8(value.0) {
                        out.push(ConfigText::new(key, text));
                    }
                }
                for (key, text) in secret.string_data.unwrap_or_default() {
                    out.push(ConfigText::new(key, text));
                }
            }
            Ok(None) => unread.push(format!("secret/{name} does not exist")),
            Err(e) => unread.push(e.message),
        }
    } else {
        unread.push(format!(
            "--config-dir {dir}: volume {} is neither a ConfigMap nor a Secret",
            volume.name
        ));
    }
}

async fn read_helm(client: &Client, ns: &str, release: &str, facts: &mut Facts) {
    let annotated = facts.deployment().and_then(|d| {
        let managed = d.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some("Helm");
        let name = d.annotations().get("meta.helm.sh/release-name").cloned();
        managed.then_some(name).flatten()
    });
    let name = annotated.unwrap_or_else(|| release.to_owned());
    // Helm 3 keeps one Secret per revision, labelled owner=helm,name=<release>,status,version.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
    if let Ok(list) = secrets.list_metadata(&params).await {
        let latest = list.items.iter().max_by_key(|s| {
            s.labels()
                .get("version")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        if let Some(latest) = latest {
            facts.helm_release = Some(name);
            facts.helm_status = Some(format!(
                "revision {} {}",
                latest.labels().get("version").map_or("?", String::as_str),
                latest
                    .labels()
                    .get("status")
                    .map_or("unknown", String::as_str)
            ));
        }
    }
}

async fn read_service(
    client: &Client,
    ns: &str,
    names: &[String],
    release: &str,
    facts: &mut Facts,
) {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let mut found = Ok(None);
    for name in names {
        match get_opt(&services, name, "service").await {
            Ok(Some(s)) => {
                found = Ok(Some(s));
                break;
            }
            Ok(None) => {}
            Err(e) => {
                found = Err(e);
                break;
            }
        }
    }
    if matches!(found, Ok(None)) {
        let params = ListParams::default().labels(&format!(
            "{INSTANCE_LABEL}={release},{NAME_LABEL}={CHART_NAME}"
        ));
        found = list(&services, &params, "services")
            .await
            .map(|(items, _)| items.into_iter().next());
    }
    if let Ok(Some(service)) = &found {
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), ns);
        facts.endpoints = endpoints.get_opt(&service.name_any()).await.ok().flatten();
    }
    facts.service = Some(found);
}

/// Every ClusterRoleBinding and RoleBinding of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    pub cluster: Vec<k8s_openapi::api::rbac::v1::ClusterRoleBinding>,
    pub namespaced: Vec<k8s_openapi::api::rbac::v1::RoleBinding>,
}

async fn read_bindings(client: &Client) -> Result<Bindings, ReadError> {
    let crbs: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::all(client.clone());
    let all = ListParams::default();
    let (crbs, rbs) = futures::join!(
        list(&crbs, &all, "clusterrolebindings"),
        list(&rbs, &all, "rolebindings"),
    );
    Ok(Bindings {
        cluster: crbs?.0,
        namespaced: rbs?.0,
    })
}

/// The release's Ingress and Route; every Ingress and Route of the namespace is kept for the
/// exposure checks, which need them all (one list each).
async fn read_route(client: &Client, ns: &str, names: &[String], release: &str, facts: &mut Facts) {
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
    let listed = list(&ingresses, &ListParams::default(), "ingresses").await;
    facts.paths.ingresses = Some(listed.clone().map(|(items, _)| items));
    if let Ok((items, _)) = listed {
        facts.ingress = items
            .iter()
            .find(|i| names.contains(&i.name_any()))
            .or_else(|| {
                items
                    .iter()
                    .find(|i| i.labels().get(INSTANCE_LABEL).map(String::as_str) == Some(release))
            })
            .cloned();
    }
    let routes: Api<Route> = Api::namespaced(client.clone(), ns);
    let all = match list(&routes, &ListParams::default(), "routes").await {
        Ok((_, true)) => {
            facts.no_route_api = true;
            facts.routes = Some(Ok(Vec::new()));
            return;
        }
        Ok((items, false)) => {
            facts.paths.routes = Some(Ok(items.clone()));
            items
        }
        Err(e) => {
            facts.paths.routes = Some(Err(e.clone()));
            facts.routes = Some(Err(e));
            return;
        }
    };
    let service = facts.service().map(ResourceExt::name_any);
    // 1. Owned by the Ingress (OpenShift names it <ingress>-<random>).
    let mut matched: Vec<Route> = match &facts.ingress {
        Some(ingress) => all
            .iter()
            .filter(|r| {
                r.metadata.owner_references.iter().flatten().any(|o| {
                    o.kind == "Ingress"
                        && o.name == ingress.name_any()
                        && ingress.uid().is_none_or(|uid| uid == o.uid)
                })
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    // 2. By name; 3. by the Service it targets.
    if matched.is_empty() {
        matched = all
            .iter()
            .filter(|r| names.contains(&r.name_any()))
            .cloned()
            .collect();
    }
    if matched.is_empty()
        && let Some(service) = &service
    {
        matched = all
            .iter()
            .filter(|r| r.spec.to.kind == "Service" && &r.spec.to.name == service)
            .cloned()
            .collect();
    }
    facts.routes = Some(Ok(matched));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_helm_fullname() {
        assert_eq!(
            candidate_names("kubernetes-mcp-server"),
            ["kubernetes-mcp-server"]
        );
        assert_eq!(candidate_names("mcp"), ["mcp-kubernetes-mcp-server", "mcp"]);
    }

    #[test]
    fn config_flags_and_volumes_are_followed() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kubernetes-mcp-server"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {
                "containers": [{"name": "kubernetes-mcp-server",
                    "image": "quay.io/containers/kubernetes_mcp_server:v0.0.67",
                    "args": ["--config", "/etc/kubernetes-mcp-server/config.toml", "--config-dir=/etc/mcp-secrets"],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/kubernetes-mcp-server"},
                        {"name": "secrets", "mountPath": "/etc/mcp-secrets/"}]}],
                "volumes": [
                    {"name": "config", "configMap": {"name": "cm", "items": [{"key": "main.toml", "path": "config.toml"}]}},
                    {"name": "secrets", "secret": {"secretName": "s"}}]}}}
        }))
        .expect("deployment");
        let args = server_container(&d)
            .and_then(|c| c.args.clone())
            .expect("args");
        assert_eq!(
            flag_value(&args, "--config").as_deref(),
            Some("/etc/kubernetes-mcp-server/config.toml")
        );
        assert_eq!(
            flag_value(&args, "--config-dir").as_deref(),
            Some("/etc/mcp-secrets")
        );
        let (volume, rel) =
            volume_for(&d, "/etc/kubernetes-mcp-server/config.toml").expect("volume");
        assert_eq!(volume.name, "config");
        let source = volume.config_map.as_ref().expect("cm");
        assert_eq!(key_for_file(source.items.as_ref(), &rel), "main.toml");
        let (volume, _) = volume_for(&d, "/etc/mcp-secrets/x.toml").expect("volume");
        assert_eq!(volume.name, "secrets");
        assert_eq!(server_version(&d), ServerVersion::release(0, 0, 67));
    }
}
