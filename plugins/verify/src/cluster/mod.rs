//! What the cluster says about the deployment: namespace, install, the Deployment and its pods,
//! the Service, the server's logs, its config, the Route and the OAuthClient. Reads only.
//! `inspect` runs the readers, one module per group of objects; the facts types and the read
//! error classification live in their own modules.

mod bindings;
mod config;
mod facts;
mod helm;
mod network;
mod read;
#[cfg(test)]
mod tests;
mod workload;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace};
use kube::{Api, Client, ResourceExt};
use oc_mcp_common::openshift::{AuthenticationConfig, OAuthClient};

use crate::report::FailureClass;

use bindings::read_bindings;
pub use facts::{Bindings, ClusterConfig, Facts, PodLog};
use helm::read_helm;
use network::{read_route, read_service};
pub use read::ReadError;
pub(crate) use read::{get_opt, list, read_error};
use workload::{find_deployment, read_workload};
pub use workload::{restart_count, server_container};

/// The chart's name (objects are named `<release>` when the release contains it, else
/// `<release>-kubernetes-mcp-server`) and labels, as the release contract in common states them.
pub use oc_mcp_common::release::{CHART_NAME, INSTANCE_LABEL, MANAGED_BY_LABEL, NAME_LABEL};

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
            Err(e) => Err(read_error("oauthclient", e)),
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
