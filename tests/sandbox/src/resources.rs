//! The table of served resources: the single source for discovery, routing, RBAC names,
//! OpenAPI and Table printing. Keeping it in one place is what makes discovery list
//! "exactly the served resources".

/// Verbs of an ordinary read-write resource, in the order kube-apiserver lists them.
const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces have no deletecollection in kube-apiserver.
const RW_NO_COLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const CREATE_ONLY: &[&str] = &["create"];

/// One served resource (or subresource) of one group-version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural name, e.g. `clusterroles`; for a subresource `pods/log`.
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Whether `status` is a subresource (then SSA/updates on the main resource ignore it).
    pub has_status: bool,
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `clusterroles.rbac.authorization.k8s.io`, or `pods` for the core group: the form
    /// kube-apiserver uses in error messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.name.to_string()
        } else {
            format!("{}.{}", self.name, self.group)
        }
    }

    pub fn is_subresource(&self) -> bool {
        self.name.contains('/')
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Resources that exist only as a request/response (reviews): nothing is stored.
    pub fn is_virtual(&self) -> bool {
        self.verbs == CREATE_ONLY || self.name == "projectrequests"
    }
}

macro_rules! res {
    ($g:expr, $v:expr, $n:expr, $s:expr, $k:expr, $ns:expr, $verbs:expr, $short:expr) => {
        ResourceDef {
            group: $g,
            version: $v,
            name: $n,
            singular: $s,
            kind: $k,
            namespaced: $ns,
            verbs: $verbs,
            short_names: $short,
            categories: &[],
            has_status: false,
        }
    };
}

const fn with_status(mut r: ResourceDef) -> ResourceDef {
    r.has_status = true;
    r
}

const fn with_categories(mut r: ResourceDef, c: &'static [&'static str]) -> ResourceDef {
    r.categories = c;
    r
}

const ALL: &[&str] = &["all"];
const RBAC: &str = "rbac.authorization.k8s.io";

/// Every resource the sandbox serves.
pub static RESOURCES: &[ResourceDef] = &[
    // core/v1
    with_status(res!(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        RW_NO_COLLECTION,
        &["ns"]
    )),
    res!(
        "",
        "v1",
        "namespaces/status",
        "",
        "Namespace",
        false,
        &["get", "patch", "update"],
        &[]
    ),
    res!("", "v1", "secrets", "secret", "Secret", true, RW, &[]),
    res!(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        RW,
        &["cm"]
    ),
    with_categories(
        with_status(res!(
            "",
            "v1",
            "services",
            "service",
            "Service",
            true,
            RW_NO_COLLECTION,
            &["svc"]
        )),
        ALL,
    ),
    res!(
        "",
        "v1",
        "services/status",
        "",
        "Service",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    res!(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        RW,
        &["sa"]
    ),
    res!(
        "",
        "v1",
        "serviceaccounts/token",
        "",
        "TokenRequest",
        true,
        CREATE_ONLY,
        &[]
    ),
    with_categories(
        with_status(res!("", "v1", "pods", "pod", "Pod", true, RW, &["po"])),
        ALL,
    ),
    res!("", "v1", "pods/log", "", "Pod", true, &["get"], &[]),
    res!(
        "",
        "v1",
        "pods/portforward",
        "",
        "PodPortForwardOptions",
        true,
        &["create", "get"],
        &[]
    ),
    res!(
        "",
        "v1",
        "pods/status",
        "",
        "Pod",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    res!(
        "",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        true,
        RW,
        &["ep"]
    ),
    res!("", "v1", "events", "event", "Event", true, RW, &["ev"]),
    // apps/v1
    with_categories(
        with_status(res!(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
            RW,
            &["deploy"]
        )),
        ALL,
    ),
    res!(
        "apps",
        "v1",
        "deployments/scale",
        "",
        "Scale",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    res!(
        "apps",
        "v1",
        "deployments/status",
        "",
        "Deployment",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    with_categories(
        with_status(res!(
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
            RW,
            &["rs"]
        )),
        ALL,
    ),
    res!(
        "apps",
        "v1",
        "replicasets/status",
        "",
        "ReplicaSet",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    // rbac
    res!(
        RBAC,
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        RW,
        &[]
    ),
    res!(
        RBAC,
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        RW,
        &[]
    ),
    res!(
        RBAC,
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        RW,
        &[]
    ),
    res!(RBAC, "v1", "roles", "role", "Role", true, RW, &[]),
    // coordination (oc-mcp's apply lock)
    res!(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        true,
        RW,
        &[]
    ),
    // networking
    with_status(res!(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        RW,
        &["ing"]
    )),
    res!(
        "networking.k8s.io",
        "v1",
        "ingresses/status",
        "",
        "Ingress",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    // Plain Kubernetes only (see crate::flavour): the ingress controller's classes.
    res!(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        false,
        RW,
        &[]
    ),
    // reviews
    res!(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        false,
        CREATE_ONLY,
        &[]
    ),
    res!(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        false,
        CREATE_ONLY,
        &[]
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        true,
        CREATE_ONLY,
        &[]
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
        CREATE_ONLY,
        &[]
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        false,
        CREATE_ONLY,
        &[]
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        false,
        CREATE_ONLY,
        &[]
    ),
    // OpenShift
    with_status(res!(
        "route.openshift.io",
        "v1",
        "routes",
        "route",
        "Route",
        true,
        RW,
        &[]
    )),
    res!(
        "route.openshift.io",
        "v1",
        "routes/status",
        "",
        "Route",
        true,
        &["get", "patch", "update"],
        &[]
    ),
    res!(
        "oauth.openshift.io",
        "v1",
        "oauthclients",
        "oauthclient",
        "OAuthClient",
        false,
        RW,
        &[]
    ),
    res!(
        "project.openshift.io",
        "v1",
        "projectrequests",
        "projectrequest",
        "ProjectRequest",
        false,
        &["create", "list"],
        &[]
    ),
    res!(
        "project.openshift.io",
        "v1",
        "projects",
        "project",
        "Project",
        false,
        &[
            "create", "delete", "get", "list", "patch", "update", "watch"
        ],
        &[]
    ),
    with_status(res!(
        "config.openshift.io",
        "v1",
        "authentications",
        "authentication",
        "Authentication",
        false,
        RW,
        &[]
    )),
    with_status(res!(
        "config.openshift.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        false,
        RW,
        &[]
    )),
    res!(
        "user.openshift.io",
        "v1",
        "groups",
        "group",
        "Group",
        false,
        RW,
        &[]
    ),
    res!(
        "user.openshift.io",
        "v1",
        "users",
        "user",
        "User",
        false,
        RW,
        &[]
    ),
    // cert-manager's kinds, served only by the Kubernetes flavour's cert-manager stand-in.
    with_status(res!(
        "cert-manager.io",
        "v1",
        "clusterissuers",
        "clusterissuer",
        "ClusterIssuer",
        false,
        RW,
        &[]
    )),
    with_status(res!(
        "cert-manager.io",
        "v1",
        "issuers",
        "issuer",
        "Issuer",
        true,
        RW,
        &[]
    )),
    with_status(res!(
        "cert-manager.io",
        "v1",
        "certificates",
        "certificate",
        "Certificate",
        true,
        RW,
        &["cert", "certs"]
    )),
];

/// The group-versions served under `/apis`, in discovery order.
pub fn api_groups() -> Vec<(&'static str, &'static str)> {
    api_groups_for(crate::flavour::Flavour::OpenShift, false)
}

/// The group-versions a flavour serves under `/apis` (`cert_manager`: the stand-in is on).
pub fn api_groups_for(
    flavour: crate::flavour::Flavour,
    cert_manager: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| flavour.serves(r, cert_manager)) {
        if !r.group.is_empty() && !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Find a resource (or `resource/subresource`) in a group-version.
pub fn find(group: &str, version: &str, name: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.name == name)
}

/// Find the main resource for a group and kind (used for ownerReferences and SSAR lookups).
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| !r.is_subresource() && r.kind == kind && r.api_version() == api_version)
}

/// Find a main resource by group and plural name in any served version.
pub fn by_group_resource(group: &str, name: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.name == name)
}

pub fn in_group_version(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceDef> {
    let (group, version) = (group.to_string(), version.to_string());
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}
