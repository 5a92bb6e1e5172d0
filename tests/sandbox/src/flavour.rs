//! Which cluster the sandbox emulates: OpenShift (the default) or plain Kubernetes (AKS,
//! EKS, kind). The flavour decides which API groups are served and which controller serves
//! Ingresses; everything else (RBAC, reviews, workloads, the kubelet) is the same.

use crate::resources::ResourceDef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// OpenShift's API groups, OAuth server and Ingress -> Route controller.
    #[default]
    OpenShift,
    /// No OpenShift API group, no OAuth server; an nginx-like ingress controller serves
    /// Ingresses (TLS from their Secrets).
    Kubernetes,
}

/// The cert-manager group, served only when the Kubernetes flavour emulates cert-manager.
pub const CERT_MANAGER: &str = "cert-manager.io";

/// Resources a real OpenShift cluster serves too but the OpenShift flavour leaves out, so
/// its discovery stays what the other crates' tests were written against.
const KUBERNETES_ONLY: &[(&str, &str)] = &[("networking.k8s.io", "ingressclasses")];

impl Flavour {
    pub fn is_openshift(self) -> bool {
        self == Flavour::OpenShift
    }

    /// Whether `def` is served (`cert_manager`: the cert-manager stand-in is on).
    pub fn serves(self, def: &ResourceDef, cert_manager: bool) -> bool {
        self.serves_group(def.group, cert_manager)
            && (self == Flavour::Kubernetes
                || !KUBERNETES_ONLY
                    .iter()
                    .any(|(g, r)| *g == def.group && def.name.split('/').next() == Some(r)))
    }

    /// Whether any resource of `group` may be served.
    pub fn serves_group(self, group: &str, cert_manager: bool) -> bool {
        if group == CERT_MANAGER {
            return self == Flavour::Kubernetes && cert_manager;
        }
        match self {
            Flavour::OpenShift => true,
            Flavour::Kubernetes => group != "openshift.io" && !group.ends_with(".openshift.io"),
        }
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavour::OpenShift => "openshift",
            Flavour::Kubernetes => "kubernetes",
        })
    }
}

impl std::str::FromStr for Flavour {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "openshift" | "ocp" => Ok(Flavour::OpenShift),
            "kubernetes" | "k8s" | "kube" => Ok(Flavour::Kubernetes),
            other => Err(format!(
                "unknown flavour {other:?}: expected openshift or kubernetes"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_serves_no_openshift_group() {
        let k = Flavour::Kubernetes;
        for r in crate::resources::RESOURCES {
            let openshift = r.group.ends_with("openshift.io");
            assert_eq!(k.serves(r, true), !openshift, "{}", r.group_resource());
            assert!(Flavour::OpenShift.serves_group(r.group, false) || r.group == CERT_MANAGER);
        }
        assert_eq!("kubernetes".parse::<Flavour>(), Ok(Flavour::Kubernetes));
        assert!("aks".parse::<Flavour>().is_err());
    }
}
