//! The facts types: everything read from the cluster, as the rows consume it.

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Endpoints, Pod, Service},
    networking::v1::Ingress,
};
use oc_mcp_common::{
    openshift::{AuthenticationConfig, OAuthClient, Route},
    server_config::{ParsedConfig, ServerVersion},
};

use super::ReadError;

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

/// Every ClusterRoleBinding and RoleBinding of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    pub cluster: Vec<k8s_openapi::api::rbac::v1::ClusterRoleBinding>,
    pub namespaced: Vec<k8s_openapi::api::rbac::v1::RoleBinding>,
}
