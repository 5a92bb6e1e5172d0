//! The two renderings of one plan: a values overlay for the upstream chart, and the same
//! resources as native manifests (for `--engine manifests`).

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
            EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector,
            PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
            SeccompProfile, Secret, SecretVolumeSource, SecurityContext, Service, ServiceAccount,
            ServicePort, ServiceSpec, Volume, VolumeMount,
        },
        networking::v1::{
            HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
            IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity, apis::meta::v1::LabelSelector, util::intstr::IntOrString,
    },
};
use kube::api::ObjectMeta;
use oc_mcp_common::{
    Plan, PlannedObject, Result,
    release::{self, SERVICE_PORT},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    args::Engine,
    plan::{CHART_NAME, Exposure, IngressTls, InstallPlan, SECRET_CONFIG_DIR, SECRET_DROP_IN},
};

/// Where the chart mounts the config file; the container reads it with `--config`.
pub const CONFIG_PATH: &str = "/etc/kubernetes-mcp-server/config.toml";
const CONFIG_DIR: &str = "/etc/kubernetes-mcp-server";
/// Labels every object of one install carries, as the chart's selector labels.
pub use oc_mcp_common::release::{INSTANCE_LABEL, NAME_LABEL};
/// The pod annotation whose change rolls the Deployment when the config changes.
pub const CHECKSUM_ANNOTATION: &str = "checksum/config";

// ---- values overlay (the chart's values interface) ----

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    pub openshift: bool,
    pub replica_count: u32,
    pub image: ImageValues,
    pub service_account: ServiceAccountValues,
    pub rbac: RbacValues,
    pub service: ServiceValues,
    pub ingress: IngressValues,
    pub resources: ResourceValues,
    pub config: serde_json::Value,
    /// The issuer CA's ConfigMap volume (`--issuer-ca`); the chart mounts extras as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_volumes: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_volume_mounts: Vec<serde_json::Value>,
    /// `--config-dir` for the Secret drop-in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageValues {
    pub registry: String,
    pub repository: String,
    /// A tag (`v0.0.67`) or a digest (`sha256:...`), as the chart's image helper takes it.
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountValues {
    pub create: bool,
    /// Kept true: without a token the server finds no cluster config and
    /// crash-loops. The service account itself gets no RBAC.
    pub automount_token: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RbacValues {
    /// The read-only ClusterRole comes from `oc mcp-rbac`; the chart makes none.
    pub create: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceValues {
    #[serde(rename = "type")]
    pub type_: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngressValues {
    pub enabled: bool,
    pub termination: String,
    /// Never empty when enabled (`host: ""` fails `helm install`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// cert-manager's annotation (`--cluster-issuer`); the chart adds these as given.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The chart's `ingress.tls.secretName` (`--tls-secret`, or cert-manager's Secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTlsValues>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTlsValues {
    pub secret_name: String,
}

/// The annotation cert-manager's ingress-shim reads to issue the Ingress's certificate.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

/// The Ingress annotations for the plan's TLS: OpenShift's edge termination (its
/// ingress-to-route controller makes the Route from it) and cert-manager's issuer.
fn ingress_annotations(plan: &InstallPlan, openshift: bool) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if openshift {
        annotations.insert(
            "route.openshift.io/termination".to_owned(),
            "edge".to_owned(),
        );
    }
    if let IngressTls::ClusterIssuer { issuer, .. } = &plan.ingress_tls {
        annotations.insert(CLUSTER_ISSUER_ANNOTATION.to_owned(), issuer.clone());
    }
    annotations
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceValues {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

/// The guide's resource figures (step 10).
fn resources() -> ResourceValues {
    ResourceValues {
        requests: [
            ("cpu".into(), "100m".into()),
            ("memory".into(), "256Mi".into()),
        ]
        .into(),
        limits: [
            ("cpu".into(), "500m".into()),
            ("memory".into(), "512Mi".into()),
        ]
        .into(),
    }
}

/// Split `registry/repo:tag` the way the chart's values want it.
pub fn split_image(image: &str) -> ImageValues {
    let (name, version) = match image.split_once('@') {
        Some((name, digest)) => (name, digest.to_owned()),
        None => match image.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag.to_owned()),
            _ => (image, "latest".to_owned()),
        },
    };
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), name.to_owned()),
    };
    ImageValues {
        registry,
        repository,
        version,
    }
}

pub fn values(plan: &InstallPlan) -> Values {
    let config = serde_json::to_value(&plan.config).unwrap_or_default();
    Values {
        openshift: plan.openshift,
        replica_count: 1,
        image: split_image(&plan.image),
        service_account: ServiceAccountValues {
            create: true,
            automount_token: true,
        },
        rbac: RbacValues { create: false },
        service: ServiceValues {
            type_: "ClusterIP".into(),
            port: SERVICE_PORT,
        },
        ingress: IngressValues {
            enabled: plan.exposure != Exposure::Internal,
            termination: "edge".into(),
            host: plan.host().map(str::to_owned),
            // The chart writes the OpenShift annotation itself from `openshift`.
            annotations: ingress_annotations(plan, false),
            tls: plan.ingress_tls.secret_name().map(|name| IngressTlsValues {
                secret_name: name.to_owned(),
            }),
        },
        resources: resources(),
        config,
        extra_volumes: extra_volumes(plan),
        extra_volume_mounts: extra_volume_mounts(plan),
        extra_args: extra_args(plan),
    }
}

fn extra_volumes(plan: &InstallPlan) -> Vec<serde_json::Value> {
    let mut volumes = Vec::new();
    if plan.issuer_ca.is_some() {
        volumes.push(
            serde_json::json!({"name": "issuer-ca", "configMap": {"name": issuer_ca_name(plan)}}),
        );
    }
    if plan.secret_drop_in.is_some() {
        volumes.push(serde_json::json!({"name": "config-secrets", "secret": {"secretName": secret_drop_in_name(plan)}}));
    }
    volumes
}

fn extra_volume_mounts(plan: &InstallPlan) -> Vec<serde_json::Value> {
    let mut mounts = Vec::new();
    if plan.issuer_ca.is_some() {
        mounts.push(
            serde_json::json!({"name": "issuer-ca", "mountPath": ISSUER_CA_DIR, "readOnly": true}),
        );
    }
    if plan.secret_drop_in.is_some() {
        mounts.push(serde_json::json!({"name": "config-secrets", "mountPath": SECRET_CONFIG_DIR, "readOnly": true}));
    }
    mounts
}

fn extra_args(plan: &InstallPlan) -> Vec<String> {
    if plan.secret_drop_in.is_some() {
        vec!["--config-dir".into(), SECRET_CONFIG_DIR.into()]
    } else {
        Vec::new()
    }
}

fn secret_drop_in_name(plan: &InstallPlan) -> String {
    format!("{}-config-secrets", plan.fullname)
}

/// The Secret holding the token-exchange drop-in (never in the ConfigMap, never
/// on a command line).
pub fn secret_drop_in(plan: &InstallPlan) -> Option<Secret> {
    let text = plan.secret_drop_in.as_ref()?;
    let mut metadata = meta(plan);
    metadata.name = Some(secret_drop_in_name(plan));
    Some(Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(
            [(
                SECRET_DROP_IN.to_owned(),
                ByteString(text.expose().as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Secret::default()
    })
}

/// A planned object fit for printing: Secret data replaced by `<redacted>`.
pub fn redacted(mut object: PlannedObject) -> PlannedObject {
    let is_secret = object.kind() == "Secret";
    if let Some(data) = object
        .object
        .data
        .get_mut("data")
        .and_then(serde_json::Value::as_object_mut)
        .filter(|_| is_secret)
    {
        for value in data.values_mut() {
            *value = serde_json::Value::String("<redacted>".into());
        }
    }
    object
}

/// Where the issuer CA's ConfigMap is mounted (the directory of `plan::ISSUER_CA_PATH`).
const ISSUER_CA_DIR: &str = "/etc/kubernetes-mcp-server-ca";

fn issuer_ca_name(plan: &InstallPlan) -> String {
    format!("{}-issuer-ca", plan.fullname)
}

/// The ConfigMap holding `--issuer-ca` (a CA certificate is public, so not a Secret).
pub fn issuer_ca_config_map(plan: &InstallPlan) -> Option<ConfigMap> {
    let pem = plan.issuer_ca.as_ref()?;
    let mut metadata = meta(plan);
    metadata.name = Some(issuer_ca_name(plan));
    Some(ConfigMap {
        metadata,
        data: Some([("ca.crt".to_owned(), pem.clone())].into()),
        ..ConfigMap::default()
    })
}

/// The overlay as the YAML file `helm -f` reads, with a header saying what made it.
pub fn values_yaml(plan: &InstallPlan) -> Result<String> {
    let body = oc_mcp_common::output::to_yaml(&values(plan))?;
    Ok(format!(
        "# Values overlay for the kubernetes-mcp-server chart, written by oc mcp-install ({} mode).\n\
         # It holds no secret. Install: helm upgrade --install {} {} -n {} -f <this file>\n{body}",
        plan.mode, plan.release, plan.chart, plan.namespace
    ))
}

// ---- native manifests ----

fn labels(plan: &InstallPlan) -> BTreeMap<String, String> {
    release::selector_labels(&plan.release)
}

fn meta(plan: &InstallPlan) -> ObjectMeta {
    ObjectMeta {
        name: Some(plan.fullname.clone()),
        namespace: Some(plan.namespace.clone()),
        labels: Some(labels(plan)),
        ..ObjectMeta::default()
    }
}

/// The config file exactly as the ConfigMap holds it.
pub fn config_toml(plan: &InstallPlan) -> String {
    plan.config.to_toml_string()
}

/// Changes when the config or the secret drop-in changes, so the pods roll.
pub fn config_checksum(plan: &InstallPlan) -> String {
    let mut hash = Sha256::new();
    hash.update(config_toml(plan).as_bytes());
    if let Some(drop_in) = &plan.secret_drop_in {
        hash.update(drop_in.expose().as_bytes());
    }
    format!("{:x}", hash.finalize())
}

/// Every object of the manifests engine, in apply order.
pub fn manifests(plan: &InstallPlan) -> Result<Vec<PlannedObject>> {
    let mut objects = vec![
        PlannedObject::from_typed(&ServiceAccount {
            metadata: meta(plan),
            // Kept: without a token the server crash-loops; the account has no RBAC of its own.
            automount_service_account_token: Some(true),
            ..ServiceAccount::default()
        })?,
        PlannedObject::from_typed(&ConfigMap {
            metadata: meta(plan),
            data: Some([("config.toml".to_owned(), config_toml(plan))].into()),
            ..ConfigMap::default()
        })?,
    ];
    if let Some(cm) = issuer_ca_config_map(plan) {
        objects.push(PlannedObject::from_typed(&cm)?);
    }
    if let Some(secret) = secret_drop_in(plan) {
        objects.push(PlannedObject::from_typed(&secret)?);
    }
    objects.push(PlannedObject::from_typed(&deployment(plan))?);
    objects.push(PlannedObject::from_typed(&service(plan))?);
    if let Exposure::Route { host } = &plan.exposure {
        objects.push(PlannedObject::from_typed(&ingress(plan, host))?);
    }
    Ok(objects)
}

/// The objects install applies itself, in apply order: every manifest (manifests engine), or
/// what the chart mounts through `extraVolumes` and cannot make (helm engine: the issuer CA's
/// ConfigMap and the Secret drop-in, which must exist before the pod starts).
pub fn applied_objects(plan: &InstallPlan) -> Result<Plan> {
    let objects = match plan.engine {
        Engine::Manifests => manifests(plan)?,
        Engine::Helm => {
            let mut objects = Vec::new();
            if let Some(cm) = issuer_ca_config_map(plan) {
                objects.push(PlannedObject::from_typed(&cm)?);
            }
            if let Some(secret) = secret_drop_in(plan) {
                objects.push(PlannedObject::from_typed(&secret)?);
            }
            objects
        }
    };
    let mut applied = Plan::new();
    for object in objects {
        applied.push(object);
    }
    Ok(applied)
}

fn quantity(map: &BTreeMap<String, String>) -> BTreeMap<String, Quantity> {
    map.iter()
        .map(|(k, v)| (k.clone(), Quantity(v.clone())))
        .collect()
}

fn probe() -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    }
}

fn container(plan: &InstallPlan) -> Container {
    let resources = resources();
    Container {
        name: CHART_NAME.into(),
        image: Some(plan.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec!["--config".into(), CONFIG_PATH.into()]),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(SERVICE_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(vec![EnvVar {
            name: "POD_NAMESPACE".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.namespace".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }]),
        liveness_probe: Some(probe()),
        readiness_probe: Some(probe()),
        resources: Some(ResourceRequirements {
            requests: Some(quantity(&resources.requests)),
            limits: Some(quantity(&resources.limits)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "config".into(),
                mount_path: CONFIG_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

fn deployment(plan: &InstallPlan) -> Deployment {
    let pod_labels = labels(plan);
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: plan.fullname.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut container = container(plan);
    if plan.secret_drop_in.is_some() {
        volumes.push(Volume {
            name: "config-secrets".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret_drop_in_name(plan)),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        container
            .volume_mounts
            .get_or_insert_default()
            .push(VolumeMount {
                name: "config-secrets".into(),
                mount_path: SECRET_CONFIG_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        container
            .args
            .get_or_insert_default()
            .extend(extra_args(plan));
    }
    if plan.issuer_ca.is_some() {
        volumes.push(Volume {
            name: "issuer-ca".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: issuer_ca_name(plan),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        container
            .volume_mounts
            .get_or_insert_default()
            .push(VolumeMount {
                name: "issuer-ca".into(),
                mount_path: ISSUER_CA_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            });
    }
    Deployment {
        metadata: meta(plan),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(pod_labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(
                        [(CHECKSUM_ANNOTATION.to_owned(), config_checksum(plan))].into(),
                    ),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(plan.fullname.clone()),
                    automount_service_account_token: Some(true),
                    security_context: Some(PodSecurityContext {
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

fn service(plan: &InstallPlan) -> Service {
    Service {
        metadata: meta(plan),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels(plan)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(SERVICE_PORT),
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn ingress(plan: &InstallPlan, host: &str) -> Ingress {
    let mut metadata = meta(plan);
    let annotations = ingress_annotations(plan, plan.openshift);
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            tls: plan.ingress_tls.secret_name().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![host.to_owned()]),
                    secret_name: Some(secret.to_owned()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(host.to_owned()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "ImplementationSpecific".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: plan.fullname.clone(),
                                port: Some(ServiceBackendPort {
                                    number: Some(i32::from(SERVICE_PORT)),
                                    ..ServiceBackendPort::default()
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_like_the_chart_wants() {
        let v = split_image("quay.io/containers/kubernetes_mcp_server:v0.0.67");
        assert_eq!(
            (
                v.registry.as_str(),
                v.repository.as_str(),
                v.version.as_str()
            ),
            ("quay.io", "containers/kubernetes_mcp_server", "v0.0.67")
        );
        let v = split_image("localhost:5000/mcp@sha256:abc");
        assert_eq!(
            (
                v.registry.as_str(),
                v.repository.as_str(),
                v.version.as_str()
            ),
            ("localhost:5000", "mcp", "sha256:abc")
        );
        let v = split_image("mcp/server:1");
        assert_eq!(
            (v.registry.as_str(), v.repository.as_str()),
            ("docker.io", "mcp/server")
        );
    }
}
