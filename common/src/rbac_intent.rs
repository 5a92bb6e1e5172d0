//! The intent of a read-only MCP role, judged from the profile it records, never from what the
//! live object says.
//!
//! - [`full_rules`] and [`minimal_rules`] are the guide's options A and B; a role made by
//!   `oc mcp-rbac role` records its profile ([`PROFILE_ANNOTATION`]) and the fingerprint of the
//!   rules as applied ([`FINGERPRINT_ANNOTATION`]).
//! - [`virtual_subject`]: subjects that are not a real group of people (everyone, anonymous,
//!   the administrators); no MCP role is ever bound to them.
//! - [`risky_grants`]: every grant of a rule list that is not a plain read, or is a read that
//!   exposes credentials, command execution or the whole API, with RBAC's wildcard semantics.
//! - [`profile_drift`]: how a live ClusterRole differs from the profile it records.
//! - [`effective_rules`]: a ClusterRole's rules with its `aggregationRule` followed.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use crate::plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// The only verbs any profile grants.
pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// The verbs that change an object; every one must be denied on everything a profile grants.
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Annotation recording which profile the role was made from.
pub const PROFILE_ANNOTATION: &str = "oc-mcp.io/profile";
/// Annotation recording the fingerprint of the rules as applied, to detect later edits.
pub const FINGERPRINT_ANNOTATION: &str = "oc-mcp.io/rules-fingerprint";

/// The rule sets `oc mcp-rbac role` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The guide's option A: broad read-only access (recommended by the guide)
    Full,
    /// The guide's option B: the minimum the guide names
    Minimal,
    /// Derived from the tools the server exposes (--from-tools FILE)
    Tools,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Minimal => "minimal",
            Self::Tools => "tools",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Self::Full),
            "minimal" => Some(Self::Minimal),
            "tools" => Some(Self::Tools),
            _ => None,
        }
    }

    /// The fixed rules of the profile; `None` for `tools`, whose rules come from a tool list.
    pub fn fixed_rules(self) -> Option<Vec<PolicyRule>> {
        match self {
            Self::Full => Some(full_rules()),
            Self::Minimal => Some(minimal_rules()),
            Self::Tools => None,
        }
    }
}

fn rule(group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: READ_VERBS.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// Guide step 3, option A (11 rules).
pub fn full_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            "",
            &[
                "pods",
                "services",
                "configmaps",
                "namespaces",
                "events",
                "nodes",
                "persistentvolumeclaims",
                "persistentvolumes",
                "replicationcontrollers",
                "serviceaccounts",
            ],
        ),
        rule("", &["pods/log"]),
        // The guide's comment says "exec/attach", but its rule grants only pods/status.
        rule("", &["pods/status"]),
        rule(
            "apps",
            &["deployments", "daemonsets", "statefulsets", "replicasets"],
        ),
        rule("batch", &["jobs", "cronjobs"]),
        rule("route.openshift.io", &["routes"]),
        rule("project.openshift.io", &["projects"]),
        rule("image.openshift.io", &["imagestreams", "imagestreamtags"]),
        rule("metrics.k8s.io", &["pods", "nodes"]),
        rule(
            "monitoring.coreos.com",
            &[
                "servicemonitors",
                "podmonitors",
                "prometheusrules",
                "prometheuses",
                "alertmanagers",
            ],
        ),
        rule(
            "config.openshift.io",
            &[
                "clusterversions",
                "clusteroperators",
                "infrastructures",
                "networks",
                "ingresses",
            ],
        ),
    ]
}

/// Guide step 3, option B (3 rules).
pub fn minimal_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            "",
            &[
                "pods",
                "services",
                "configmaps",
                "namespaces",
                "events",
                "nodes",
            ],
        ),
        rule("apps", &["deployments", "daemonsets", "statefulsets"]),
        rule("route.openshift.io", &["routes"]),
    ]
}

/// A stable fingerprint of a rule list, recorded on the role to detect drift later.
/// The first 16 hex digits of the SHA-256 of the normalized rules as JSON.
pub fn rules_fingerprint(rules: &[PolicyRule]) -> String {
    let canonical = serde_json::to_vec(&normalize(rules)).unwrap_or_default();
    format!("{:x}", Sha256::digest(&canonical))[..16].to_owned()
}

/// Rules in a canonical order with sorted lists, so equal grants compare equal.
pub fn normalize(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let sorted = |v: &Option<Vec<String>>| {
        v.as_ref().map(|v| {
            let mut v = v.clone();
            v.sort();
            v
        })
    };
    let mut out: Vec<PolicyRule> = rules
        .iter()
        .map(|r| {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            PolicyRule {
                api_groups: sorted(&r.api_groups),
                resources: sorted(&r.resources),
                resource_names: sorted(&r.resource_names).filter(|v| !v.is_empty()),
                non_resource_urls: sorted(&r.non_resource_urls).filter(|v| !v.is_empty()),
                verbs,
            }
        })
        .collect();
    out.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
    out
}

/// Flatten rules into `(group, resource, verb)` grants, for diffs and checks. A non-resource
/// URL is `("", url, verb)`; URLs start with `/`, so they never collide with a resource.
pub fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
        for url in rule.non_resource_urls.iter().flatten() {
            for verb in &rule.verbs {
                out.insert((String::new(), url.clone(), verb.clone()));
            }
        }
    }
    out
}

/// `verb resource.group` (`verb resource` in the core group), as `oc auth can-i` words it.
pub fn describe_grant(group: &str, resource: &str, verb: &str) -> String {
    if group.is_empty() {
        format!("{verb} {resource}")
    } else {
        format!("{verb} {resource}.{group}")
    }
}

// ---- subjects ----

/// A subject that is not a real group of people: binding the MCP role to it gives the role to
/// everyone, to anonymous requests, to machines, or to identities that hold everything already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VirtualSubject {
    /// `system:authenticated`: every identity that logged in, service accounts included.
    EveryAuthenticated,
    /// `system:unauthenticated`, `system:anonymous`: requests without credentials.
    Anonymous,
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>`: every service account (of a
    /// namespace), so every pod.
    ServiceAccounts,
    /// `system:masters`, `system:cluster-admins`: already hold everything; a binding there
    /// proves nothing and hides the intent.
    Administrators,
    /// A user named `system:serviceaccount:<ns>:<name>`: a service account spelled as a user.
    ServiceAccountAsUser,
    /// Any other `system:` name: identities of the platform's own components.
    System,
    /// `*`: RBAC has no wildcard subject; the name either matches nobody or, in a tool that
    /// treats it as a pattern, everybody.
    Wildcard,
}

impl VirtualSubject {
    /// What to do instead.
    pub fn hint(self) -> &'static str {
        match self {
            Self::ServiceAccountAsUser => {
                "bind the service account with --service-account NAMESPACE:NAME"
            }
            Self::Administrators => {
                "administrators need no MCP binding; bind the group of people who use the MCP server"
            }
            _ => {
                "bind the group of people who use the MCP server (an OpenShift group or the \
                 identity provider's group name), or --user NAME for one person"
            }
        }
    }
}

impl fmt::Display for VirtualSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EveryAuthenticated => {
                "it is every authenticated identity, every service account included"
            }
            Self::Anonymous => "it is every request without credentials (anonymous)",
            Self::ServiceAccounts => "it is every service account, so every pod that runs as one",
            Self::Administrators => {
                "it is the cluster administrators, who hold every right already"
            }
            Self::ServiceAccountAsUser => "it is a service account written as a user",
            Self::System => "it is an identity of the platform itself, not of people",
            Self::Wildcard => {
                "`*` is not a name RBAC matches as a pattern: it means everyone or nobody"
            }
        })
    }
}

/// Whether a subject (`Group`, `User` or `ServiceAccount`, as in RBAC) is virtual, and why.
/// Service accounts given as such are real subjects.
pub fn virtual_subject(kind: &str, name: &str) -> Option<VirtualSubject> {
    if kind == "ServiceAccount" {
        return None;
    }
    if name.trim() == "*" {
        return Some(VirtualSubject::Wildcard);
    }
    // RBAC compares names byte for byte, but a look-alike spelling of these names can only be
    // a mistake or a disguise: refuse it too.
    let lower = name.to_ascii_lowercase();
    match (kind, lower.as_str()) {
        (_, "system:authenticated") => Some(VirtualSubject::EveryAuthenticated),
        (_, "system:unauthenticated" | "system:anonymous") => Some(VirtualSubject::Anonymous),
        (_, "system:masters" | "system:cluster-admins") => Some(VirtualSubject::Administrators),
        (_, "system:serviceaccounts") => Some(VirtualSubject::ServiceAccounts),
        (_, n) if n.starts_with("system:serviceaccounts:") => Some(VirtualSubject::ServiceAccounts),
        ("User", n) if n.starts_with("system:serviceaccount:") => {
            Some(VirtualSubject::ServiceAccountAsUser)
        }
        (_, n) if n.starts_with("system:") => Some(VirtualSubject::System),
        _ => None,
    }
}

// ---- risky grants ----

/// Why a grant does not belong in a read-only MCP role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskKind {
    /// A verb that changes objects.
    Write,
    /// `*` in verbs, API groups or resources: grants what exists and whatever is added later.
    Wildcard,
    /// impersonate, escalate, bind: the holder gains other identities or permissions.
    Escalation,
    /// approve/sign certificates, issue tokens: the holder mints credentials.
    Credentials,
    /// A read of Secrets or tokens.
    SecretRead,
    /// exec, attach, port-forward, proxy to pods, nodes (kubelet) or services.
    CommandExecution,
    /// `use` of a SecurityContextConstraints or PodSecurityPolicy: privileged pods.
    PrivilegedPods,
    /// Token or access reviews about others: learn whose a token is, or anyone's rights.
    Disclosure,
    /// A non-resource URL other than read-only discovery and health.
    NonResourceUrl,
}

impl fmt::Display for RiskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Write => "not read-only",
            Self::Wildcard => "a wildcard: every verb or resource, present and future",
            Self::Escalation => "lets the holder gain other identities or permissions",
            Self::Credentials => "lets the holder mint credentials",
            Self::SecretRead => "exposes credentials",
            Self::CommandExecution => "reaches into pods or nodes (command execution)",
            Self::PrivilegedPods => "lets the holder run privileged pods",
            Self::Disclosure => "discloses other identities' tokens or rights",
            Self::NonResourceUrl => "a non-resource URL beyond discovery and health",
        })
    }
}

/// One grant of a rule list that a read-only MCP role must not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// Index of the rule in the list it came from.
    pub rule: usize,
    pub verb: String,
    /// The API group as written (`*` possible); empty for the core group and for URLs.
    pub group: String,
    /// The resource (`pods/exec`, `*`) or, for a non-resource rule, the URL, as written.
    pub resource: String,
    pub kind: RiskKind,
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            describe_grant(&self.group, &self.resource, &self.verb),
            self.kind
        )
    }
}

/// Reads that expose credentials or reach into pods and nodes: `(group, resource, why)`.
/// A read-only MCP role must not grant any of them, however it spells the grant.
pub const RISKY_READS: [(&str, &str, RiskKind); 11] = [
    ("", "secrets", RiskKind::SecretRead),
    ("", "serviceaccounts/token", RiskKind::SecretRead),
    ("", "pods/exec", RiskKind::CommandExecution),
    ("", "pods/attach", RiskKind::CommandExecution),
    ("", "pods/portforward", RiskKind::CommandExecution),
    ("", "pods/proxy", RiskKind::CommandExecution),
    ("", "nodes/proxy", RiskKind::CommandExecution),
    ("", "services/proxy", RiskKind::CommandExecution),
    (
        "oauth.openshift.io",
        "oauthaccesstokens",
        RiskKind::SecretRead,
    ),
    (
        "oauth.openshift.io",
        "oauthauthorizetokens",
        RiskKind::SecretRead,
    ),
    (
        "oauth.openshift.io",
        "useroauthaccesstokens",
        RiskKind::SecretRead,
    ),
];

/// Reviews every authenticated user holds (`system:basic-user`): they answer questions about
/// the caller only, so they disclose nothing and change nothing.
const SELF_REVIEWS: [(&str, &str); 3] = [
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
];

/// Reviews about other identities. Not reads and never needed by an MCP user (the server
/// passes the user's own token through): a TokenReview tells whose a found token is, an
/// access review maps anyone's rights.
const OTHERS_REVIEWS: [(&str, &str); 3] = [
    ("authentication.k8s.io", "tokenreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
];

/// Non-resource URLs every client reads: API discovery, OpenAPI, version and health.
fn is_discovery_url(url: &str) -> bool {
    const EXACT: [&str; 9] = [
        "/api",
        "/apis",
        "/version",
        "/version/",
        "/openapi",
        "/healthz",
        "/livez",
        "/readyz",
        "/.well-known/openid-configuration",
    ];
    const PREFIXES: [&str; 6] = [
        "/api/",
        "/apis/",
        "/openapi/",
        "/healthz/",
        "/livez/",
        "/readyz/",
    ];
    // A trailing `*` is a pattern; `/api/*` is discovery, `/*` is everything.
    let stem = url.strip_suffix('*').unwrap_or(url);
    EXACT.contains(&url)
        || url == "/openid/v1/jwks"
        || url == "/version/openshift"
        || url == "/.well-known/oauth-authorization-server"
        || PREFIXES.iter().any(|p| stem.starts_with(p))
}

/// RBAC's resource matching (kube's `ResourceMatches`): `*`, the exact name, `*/sub` for one
/// subresource of any resource, `res/*` for every subresource of one resource.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    if pattern == "*" || pattern == resource {
        return true;
    }
    match (pattern.split_once('/'), resource.split_once('/')) {
        (Some(("*", sub)), Some((_, wanted))) => sub == wanted,
        (Some((res, "*")), Some((wanted, _))) => res == wanted,
        _ => false,
    }
}

/// RBAC's group and verb matching: `*` or the exact value.
fn value_matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

fn write_verb_kind(group: &str, resource: &str, verb: &str) -> RiskKind {
    let res = |r: &str| resource_matches(resource, r);
    match verb {
        "impersonate" | "escalate" | "bind" => RiskKind::Escalation,
        "approve" | "sign" | "attest" => RiskKind::Credentials,
        "use" => RiskKind::PrivilegedPods,
        _ if group.is_empty() && res("serviceaccounts/token") => RiskKind::Credentials,
        _ if group.is_empty()
            && (res("pods/exec") || res("pods/attach") || res("pods/portforward")) =>
        {
            RiskKind::CommandExecution
        }
        _ if OTHERS_REVIEWS
            .iter()
            .any(|(g, r)| value_matches(group, g) && res(r)) =>
        {
            RiskKind::Disclosure
        }
        _ => RiskKind::Write,
    }
}

/// Every grant of `rules` a read-only MCP role must not have: any verb but get/list/watch (the
/// self-reviews every user holds excepted), a `*` verb, group or resource, every read of
/// [`RISKY_READS`] however spelled (wildcards matched as RBAC matches them), and non-resource
/// URLs other than read-only discovery and health.
pub fn risky_grants(rules: &[PolicyRule]) -> Vec<Risk> {
    let mut out = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let mut push = |verb: &str, group: &str, resource: &str, kind: RiskKind| {
            let risk = Risk {
                rule: index,
                verb: verb.to_owned(),
                group: group.to_owned(),
                resource: resource.to_owned(),
                kind,
            };
            if !out.contains(&risk) {
                out.push(risk);
            }
        };
        for url in rule.non_resource_urls.iter().flatten() {
            for verb in &rule.verbs {
                if verb == "*" {
                    push(verb, "", url, RiskKind::Wildcard);
                } else if !READ_VERBS.contains(&verb.as_str()) {
                    push(verb, "", url, RiskKind::Write);
                } else if !is_discovery_url(url) {
                    push(verb, "", url, RiskKind::NonResourceUrl);
                }
            }
        }
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    if verb == "*" || group == "*" || resource == "*" {
                        push(verb, group, resource, RiskKind::Wildcard);
                        continue;
                    }
                    if !READ_VERBS.contains(&verb.as_str()) {
                        let harmless = verb == "create"
                            && SELF_REVIEWS
                                .iter()
                                .any(|(g, r)| g == group && r == resource);
                        if !harmless {
                            push(
                                verb,
                                group,
                                resource,
                                write_verb_kind(group, resource, verb),
                            );
                        }
                        continue;
                    }
                    if let Some((_, _, kind)) = RISKY_READS
                        .iter()
                        .find(|(g, r, _)| value_matches(group, g) && resource_matches(resource, r))
                    {
                        push(verb, group, resource, *kind);
                    }
                }
            }
        }
    }
    out
}

// ---- what must be denied ----

/// Requests `(group, resource, verb)` (the order of [`grants`]) outside any profile that a read-only MCP user must be
/// denied, in every namespace and cluster-wide: the risky reads, exec and proxies, token
/// minting, impersonation and escalation, binding, certificate approval, SCC use, access and
/// token reviews about others, cluster configuration, and a made-up group that only a `*`
/// grant can reach.
pub fn must_deny_beyond_profile() -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut push = |verb: &str, group: &str, resource: &str| {
        let entry = (group.to_owned(), resource.to_owned(), verb.to_owned());
        if !out.contains(&entry) {
            out.push(entry);
        }
    };
    for (group, resource, _) in RISKY_READS {
        for verb in READ_VERBS {
            push(verb, group, resource);
        }
    }
    for resource in [
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "pods/proxy",
        "nodes/proxy",
        "services/proxy",
        "serviceaccounts/token",
    ] {
        push("create", "", resource);
    }
    for (group, resource) in [("", "pods"), ("apps", "deployments"), ("", "configmaps")] {
        for verb in WRITE_VERBS {
            push(verb, group, resource);
        }
    }
    for resource in ["users", "groups", "serviceaccounts"] {
        push("impersonate", "", resource);
    }
    push("impersonate", "authentication.k8s.io", "uids");
    for resource in ["clusterroles", "roles"] {
        push("escalate", "rbac.authorization.k8s.io", resource);
        push("bind", "rbac.authorization.k8s.io", resource);
    }
    for resource in ["clusterrolebindings", "rolebindings"] {
        push("create", "rbac.authorization.k8s.io", resource);
    }
    push("approve", "certificates.k8s.io", "signers");
    push("sign", "certificates.k8s.io", "signers");
    push(
        "update",
        "certificates.k8s.io",
        "certificatesigningrequests/approval",
    );
    push("use", "security.openshift.io", "securitycontextconstraints");
    for (group, resource) in OTHERS_REVIEWS {
        push("create", group, resource);
    }
    push("update", "config.openshift.io", "oauths");
    push("update", "config.openshift.io", "apiservers");
    push(
        "create",
        "machineconfiguration.openshift.io",
        "machineconfigs",
    );
    push(
        "create",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
    );
    push(
        "create",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    );
    // No server serves this group: only `*` in a rule's groups or resources grants it.
    push("get", WILDCARD_PROBE_GROUP, "widgets");
    push("create", WILDCARD_PROBE_GROUP, "widgets");
    out
}

/// A group no server serves: a request on it is allowed only by a `*` grant.
pub const WILDCARD_PROBE_GROUP: &str = "oc-mcp-probe.invalid";

/// Non-resource requests `(verb, path)` a read-only MCP user must be denied: metrics, logs and
/// profiling of the API server, and a write.
pub const MUST_DENY_URLS: [(&str, &str); 4] = [
    ("get", "/metrics"),
    ("get", "/logs/"),
    ("get", "/debug/pprof/"),
    ("post", "/api"),
];

/// Every write verb on every resource `intended` grants, then [`must_deny_beyond_profile`]:
/// the requests `(group, resource, verb)` that must be denied, judged from the intent alone.
pub fn must_deny(intended: &[PolicyRule]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let resources: BTreeSet<(String, String)> = grants(intended)
        .into_iter()
        .filter(|(_, resource, _)| !resource.starts_with('/'))
        .map(|(group, resource, _)| (group, resource))
        .collect();
    for (group, resource) in resources {
        for verb in WRITE_VERBS {
            out.push((group.clone(), resource.clone(), verb.to_owned()));
        }
    }
    for entry in must_deny_beyond_profile() {
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

// ---- aggregation ----

fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let exprs = selector.match_expressions.as_deref().unwrap_or_default();
    let match_labels = selector.match_labels.as_ref();
    // An empty selector selects nothing in aggregation (kube skips it), not everything.
    if exprs.is_empty() && match_labels.is_none_or(BTreeMap::is_empty) {
        return false;
    }
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && exprs.iter().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// The rules `role` grants: its own, and with an `aggregationRule` those of every ClusterRole
/// in `all` its selectors match, followed transitively (as the aggregation controller would;
/// a cluster where the controller has not run yet is judged the same).
pub fn effective_rules(role: &ClusterRole, all: &[ClusterRole]) -> Vec<PolicyRule> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue = vec![role];
    while let Some(current) = queue.pop() {
        let name = current.metadata.name.clone().unwrap_or_default();
        if !seen.insert(name) {
            continue;
        }
        for rule in current.rules.iter().flatten() {
            if !out.contains(rule) {
                out.push(rule.clone());
            }
        }
        let selectors = current
            .aggregation_rule
            .as_ref()
            .and_then(|a| a.cluster_role_selectors.as_deref())
            .unwrap_or_default();
        for candidate in all {
            let labels = candidate.metadata.labels.clone().unwrap_or_default();
            if selectors.iter().any(|s| selector_matches(s, &labels)) {
                queue.push(candidate);
            }
        }
    }
    out
}

// ---- the recorded profile ----

/// Whether oc-mcp made the role: its managed-by label and a recorded profile.
pub fn is_managed(role: &ClusterRole) -> bool {
    let labels = role.metadata.labels.as_ref();
    let annotations = role.metadata.annotations.as_ref();
    labels
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .map(String::as_str)
        == Some(MANAGED_BY_VALUE)
        && annotations.is_some_and(|a| a.contains_key(PROFILE_ANNOTATION))
}

/// The profile the role records, if it names one oc-mcp knows.
pub fn recorded_profile(role: &ClusterRole) -> Option<Profile> {
    role.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .and_then(|p| Profile::parse(p))
}

fn fingerprint_matches(role: &ClusterRole) -> bool {
    let recorded = role
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(FINGERPRINT_ANNOTATION));
    recorded
        == Some(&rules_fingerprint(
            role.rules.as_deref().unwrap_or_default(),
        ))
}

/// The rules the role is meant to grant: the fixed rules of its profile; for `tools`, the rules
/// as oc-mcp applied them (the recorded fingerprint still matches). `None` when no profile is
/// recorded or a `tools` role was edited since: there is then no intent to compare with.
pub fn intended_rules(role: &ClusterRole) -> Option<Vec<PolicyRule>> {
    match recorded_profile(role)? {
        Profile::Tools if fingerprint_matches(role) && role.aggregation_rule.is_none() => {
            Some(role.rules.clone().unwrap_or_default())
        }
        Profile::Tools => None,
        fixed => fixed.fixed_rules(),
    }
}

/// How a live ClusterRole differs from the profile it records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDrift {
    /// The profile recorded on the role, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Grants the live role has and the profile does not (`verb resource.group`).
    pub added: Vec<String>,
    /// Grants the profile has and the live role lacks.
    pub removed: Vec<String>,
    /// A difference that is not one grant: an aggregation rule, an unknown profile, a `tools`
    /// role whose fingerprint no longer matches.
    pub other: Vec<String>,
}

impl ProfileDrift {
    /// No difference found.
    pub fn is_clean(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.other.is_empty()
    }

    /// One line per difference: `+ grant`, `- grant`, then the others.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.added.iter().map(|g| format!("+ {g}")).collect();
        lines.extend(self.removed.iter().map(|g| format!("- {g}")));
        lines.extend(self.other.iter().cloned());
        lines
    }
}

/// `+` / `-` grants between the live role and the profile it records. A role without a
/// recorded profile has no intent and so no drift (`profile: None`); whether such a role may
/// be used at all is for the caller to decide ([`is_managed`]).
pub fn profile_drift(role: &ClusterRole) -> ProfileDrift {
    let Some(recorded) = role
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .cloned()
    else {
        return ProfileDrift::default();
    };
    let mut drift = ProfileDrift {
        profile: Some(recorded.clone()),
        ..ProfileDrift::default()
    };
    if role.aggregation_rule.is_some() {
        drift.other.push(
            "an aggregationRule was added: the role also grants the rules of every ClusterRole it selects"
                .into(),
        );
    }
    let live = role.rules.as_deref().unwrap_or_default();
    match Profile::parse(&recorded) {
        None => drift.other.push(format!(
            "the recorded profile {recorded:?} is not one oc-mcp makes"
        )),
        Some(Profile::Tools) => {
            if !fingerprint_matches(role) {
                drift
                    .other
                    .push("rules changed since oc-mcp applied the tools profile".into());
            }
        }
        Some(fixed) => {
            let wanted = grants(&fixed.fixed_rules().unwrap_or_default());
            let have = grants(live);
            let show = |(g, r, v): &(String, String, String)| describe_grant(g, r, v);
            drift.added = have.difference(&wanted).map(show).collect();
            drift.removed = wanted.difference(&have).map(show).collect();
            // resourceNames narrow a grant: a rule that gained them no longer grants the profile.
            if live
                .iter()
                .any(|r| r.resource_names.as_ref().is_some_and(|n| !n.is_empty()))
            {
                drift
                    .other
                    .push("a rule was narrowed to named objects (resourceNames)".into());
            }
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rule_of(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        PolicyRule {
            api_groups: Some(own(groups)),
            resources: Some(own(resources)),
            verbs: own(verbs),
            ..PolicyRule::default()
        }
    }

    fn urls(urls: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            non_resource_urls: Some(urls.iter().map(|s| (*s).to_owned()).collect()),
            verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
            ..PolicyRule::default()
        }
    }

    fn shown(rules: &[PolicyRule]) -> Vec<String> {
        risky_grants(rules)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn profiles_are_read_only_and_carry_no_risk() {
        for rules in [full_rules(), minimal_rules()] {
            for (_, _, verb) in grants(&rules) {
                assert!(READ_VERBS.contains(&verb.as_str()), "{verb}");
            }
            assert_eq!(risky_grants(&rules), Vec::new());
        }
        assert_eq!(full_rules().len(), 11);
        assert_eq!(minimal_rules().len(), 3);
    }

    #[test]
    fn virtual_subjects_are_named_and_real_ones_pass() {
        use VirtualSubject as V;
        for (kind, name, want) in [
            ("Group", "system:authenticated", V::EveryAuthenticated),
            ("Group", "system:unauthenticated", V::Anonymous),
            ("User", "system:anonymous", V::Anonymous),
            ("Group", "system:masters", V::Administrators),
            ("Group", "system:cluster-admins", V::Administrators),
            ("Group", "system:serviceaccounts", V::ServiceAccounts),
            (
                "Group",
                "system:serviceaccounts:mcp-server",
                V::ServiceAccounts,
            ),
            ("Group", "system:authenticated:oauth", V::System),
            ("User", "system:admin", V::System),
            (
                "User",
                "system:serviceaccount:ns:bot",
                V::ServiceAccountAsUser,
            ),
            ("Group", "*", V::Wildcard),
            ("User", "*", V::Wildcard),
            ("Group", "SYSTEM:Authenticated", V::EveryAuthenticated),
        ] {
            assert_eq!(virtual_subject(kind, name), Some(want), "{kind} {name}");
            assert!(!want.to_string().is_empty() && !want.hint().is_empty());
        }
        assert!(V::ServiceAccountAsUser.hint().contains("--service-account"));
        for (kind, name) in [
            ("Group", "mcp-users"),
            ("User", "alice@example.com"),
            ("Group", "3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b"),
            ("Group", "systems-team"),
            ("ServiceAccount", "system:whatever"),
        ] {
            assert_eq!(virtual_subject(kind, name), None, "{kind} {name}");
        }
    }

    #[test]
    fn every_hand_edit_of_the_issue_is_risky() {
        let rules = vec![
            rule_of(&[""], &["serviceaccounts/token"], &["create"]),
            rule_of(&["machineconfiguration.openshift.io"], &["*"], &["*"]),
            rule_of(&["config.openshift.io"], &["oauths"], &["update"]),
            rule_of(
                &["certificates.k8s.io"],
                &["certificatesigningrequests/approval"],
                &["update"],
            ),
            rule_of(&["certificates.k8s.io"], &["signers"], &["approve"]),
            rule_of(&["oauth.openshift.io"], &["oauthaccesstokens"], &["list"]),
            rule_of(&[""], &["nodes/proxy"], &["get"]),
            rule_of(
                &["security.openshift.io"],
                &["securitycontextconstraints"],
                &["use"],
            ),
        ];
        let risks = risky_grants(&rules);
        let text = shown(&rules).join("\n");
        for want in [
            "create serviceaccounts/token: lets the holder mint credentials",
            "* *.machineconfiguration.openshift.io: a wildcard",
            "update oauths.config.openshift.io: not read-only",
            "update certificatesigningrequests/approval.certificates.k8s.io",
            "approve signers.certificates.k8s.io: lets the holder mint credentials",
            "list oauthaccesstokens.oauth.openshift.io: exposes credentials",
            "get nodes/proxy: reaches into pods or nodes",
            "use securitycontextconstraints.security.openshift.io: lets the holder run privileged pods",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        // Each risk points at its rule.
        assert_eq!(
            risks.iter().map(|r| r.rule).collect::<BTreeSet<_>>().len(),
            rules.len()
        );
    }

    #[test]
    fn wildcards_match_as_rbac_matches_them() {
        // Reads through wildcards reach the risky resources.
        let sub_wild = vec![rule_of(&[""], &["*/exec", "pods/*"], &["get"])];
        let text = shown(&sub_wild).join("\n");
        assert!(text.contains("get */exec: reaches into pods"), "{text}");
        assert!(text.contains("get pods/*: reaches into pods"), "{text}");
        assert_eq!(
            shown(&[rule_of(&["*"], &["secrets"], &["watch"])]),
            ["watch secrets.*: a wildcard: every verb or resource, present and future"]
        );
        assert!(resource_matches("*", "pods/exec"));
        assert!(resource_matches("*/exec", "pods/exec"));
        assert!(resource_matches("pods/*", "pods/exec"));
        assert!(!resource_matches("pods/*", "pods"));
        assert!(!resource_matches("pods", "pods/exec"));
        assert!(!resource_matches("*/log", "pods/exec"));
        // A plain read of something harmless is fine; of pods/log too.
        assert!(risky_grants(&[rule_of(&["apps"], &["deployments"], &["get", "list"])]).is_empty());
        assert!(risky_grants(&[rule_of(&[""], &["pods/log"], &["get"])]).is_empty());
    }

    #[test]
    fn escalation_reviews_and_urls() {
        let rules = vec![
            rule_of(&[""], &["users", "groups"], &["impersonate"]),
            rule_of(
                &["rbac.authorization.k8s.io"],
                &["clusterroles"],
                &["escalate", "bind"],
            ),
            rule_of(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
            rule_of(
                &["authorization.k8s.io"],
                &["subjectaccessreviews", "selfsubjectaccessreviews"],
                &["create"],
            ),
            urls(&["/api", "/apis/*", "/healthz", "/version"], &["get"]),
            urls(&["/metrics", "/logs/*"], &["get"]),
            urls(&["/api"], &["post"]),
            urls(&["*"], &["get"]),
        ];
        let text = shown(&rules).join("\n");
        for want in [
            "impersonate users: lets the holder gain other identities",
            "impersonate groups",
            "escalate clusterroles.rbac.authorization.k8s.io",
            "bind clusterroles.rbac.authorization.k8s.io",
            "create tokenreviews.authentication.k8s.io: discloses",
            "create subjectaccessreviews.authorization.k8s.io: discloses",
            "get /metrics: a non-resource URL",
            "get /logs/*",
            "post /api: not read-only",
            "get *: a non-resource URL",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        for fine in [
            "selfsubjectaccessreviews",
            "get /api:",
            "/apis/*",
            "/healthz",
            "/version",
        ] {
            assert!(!text.contains(fine), "{fine} must not be risky:\n{text}");
        }
    }

    fn role(name: &str, profile: Option<&str>, rules: Vec<PolicyRule>) -> ClusterRole {
        let mut annotations = BTreeMap::new();
        if let Some(p) = profile {
            annotations.insert(PROFILE_ANNOTATION.to_owned(), p.to_owned());
            annotations.insert(FINGERPRINT_ANNOTATION.to_owned(), rules_fingerprint(&rules));
        }
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: Some(annotations),
                labels: Some([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into()),
                ..ObjectMeta::default()
            },
            rules: Some(rules),
            aggregation_rule: None,
        }
    }

    #[test]
    fn drift_is_judged_against_the_recorded_profile() {
        let clean = role("r", Some("full"), full_rules());
        assert!(profile_drift(&clean).is_clean());
        assert!(is_managed(&clean));
        assert_eq!(intended_rules(&clean), Some(full_rules()));

        // The fingerprint does not hide a hand edit of a fixed profile: the rules are compared.
        let mut edited = full_rules();
        edited.push(rule_of(&[""], &["secrets"], &["get"]));
        edited[0]
            .resources
            .get_or_insert_default()
            .retain(|r| r != "nodes");
        let edited = role("r", Some("full"), edited);
        let drift = profile_drift(&edited);
        assert_eq!(drift.added, ["get secrets"]);
        assert_eq!(drift.removed, ["get nodes", "list nodes", "watch nodes"]);
        assert_eq!(drift.lines()[0], "+ get secrets");
        // The intent stays the profile's, whatever the live role says.
        assert_eq!(intended_rules(&edited), Some(full_rules()));

        // tools: the fingerprint is all there is.
        let tools = role("r", Some("tools"), minimal_rules());
        assert!(profile_drift(&tools).is_clean());
        assert_eq!(intended_rules(&tools), Some(minimal_rules()));
        let mut tampered = tools.clone();
        tampered.rules = Some(full_rules());
        assert!(!profile_drift(&tampered).is_clean());
        assert_eq!(intended_rules(&tampered), None);

        let unknown = role("r", Some("admin"), minimal_rules());
        assert!(!profile_drift(&unknown).is_clean());
        let foreign = role("r", None, minimal_rules());
        assert!(profile_drift(&foreign).is_clean());
        assert!(!is_managed(&foreign));
        assert_eq!(intended_rules(&foreign), None);
    }

    #[test]
    fn aggregation_is_followed_and_counts_as_drift() {
        let mut parent = role("mcp", Some("minimal"), minimal_rules());
        parent.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some([("agg".to_owned(), "yes".to_owned())].into()),
                ..LabelSelector::default()
            }]),
        });
        let mut child = role("child", None, vec![rule_of(&[""], &["secrets"], &["list"])]);
        child
            .metadata
            .labels
            .get_or_insert_default()
            .insert("agg".into(), "yes".into());
        let other = role("other", None, vec![rule_of(&["*"], &["*"], &["*"])]);
        let all = vec![parent.clone(), child, other];
        let rules = effective_rules(&parent, &all);
        assert_eq!(rules.len(), 4);
        assert_eq!(shown(&rules), ["list secrets: exposes credentials"]);
        assert!(!profile_drift(&parent).is_clean());
        // An empty selector selects nothing.
        parent.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector::default()]),
        });
        assert_eq!(effective_rules(&parent, &all).len(), 3);
    }

    #[test]
    fn what_must_be_denied_covers_writes_on_the_profile_and_the_risky_list() {
        let deny = must_deny(&minimal_rules());
        let has = |verb: &str, group: &str, resource: &str| {
            deny.contains(&(group.to_owned(), resource.to_owned(), verb.to_owned()))
        };
        for verb in WRITE_VERBS {
            assert!(has(verb, "route.openshift.io", "routes"), "{verb}");
            assert!(has(verb, "", "events"), "{verb}");
        }
        assert!(has("list", "oauth.openshift.io", "oauthaccesstokens"));
        assert!(has("get", "", "nodes/proxy"));
        assert!(has("create", "", "serviceaccounts/token"));
        assert!(has(
            "use",
            "security.openshift.io",
            "securitycontextconstraints"
        ));
        assert!(has("update", "config.openshift.io", "oauths"));
        assert!(has("create", WILDCARD_PROBE_GROUP, "widgets"));
        // Nothing a profile grants is on the list.
        for (group, resource, verb) in grants(&full_rules()) {
            assert!(!must_deny(&full_rules()).contains(&(group, resource, verb)));
        }
        let unique: BTreeSet<_> = deny.iter().collect();
        assert_eq!(unique.len(), deny.len());
    }

    #[test]
    fn normalize_ignores_order() {
        let mut a = full_rules();
        a.reverse();
        assert_eq!(rules_fingerprint(&a), rules_fingerprint(&full_rules()));
        assert_ne!(
            rules_fingerprint(&minimal_rules()),
            rules_fingerprint(&full_rules())
        );
    }
}
