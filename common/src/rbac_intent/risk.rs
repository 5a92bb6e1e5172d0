//! Grants a read-only MCP role must not have, with RBAC's wildcard semantics.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

use super::{READ_VERBS, WRITE_VERBS, describe_grant, grants};

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
    for (verb, group, resource) in PRIVILEGED_WRITES {
        push(verb, group, resource);
    }
    for (group, resource) in OTHERS_REVIEWS {
        push("create", group, resource);
    }
    // No server serves this group: only `*` in a rule's groups or resources grants it.
    push("get", WILDCARD_PROBE_GROUP, "widgets");
    push("create", WILDCARD_PROBE_GROUP, "widgets");
    out
}

/// Certificate approval, SCC use and cluster configuration: `(verb, group, resource)`.
const PRIVILEGED_WRITES: [(&str, &str, &str); 9] = [
    ("approve", "certificates.k8s.io", "signers"),
    ("sign", "certificates.k8s.io", "signers"),
    (
        "update",
        "certificates.k8s.io",
        "certificatesigningrequests/approval",
    ),
    ("use", "security.openshift.io", "securitycontextconstraints"),
    ("update", "config.openshift.io", "oauths"),
    ("update", "config.openshift.io", "apiservers"),
    (
        "create",
        "machineconfiguration.openshift.io",
        "machineconfigs",
    ),
    (
        "create",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
    ),
    (
        "create",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
];

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
