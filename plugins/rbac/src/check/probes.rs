//! The questions `check` asks the API server: every read the role's intent grants, every write
//! on it, and the fixed list of risky requests, in each scope.

use k8s_openapi::api::rbac::v1::PolicyRule;
use oc_mcp_common::rbac_intent::{self, READ_VERBS};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

/// One question: may this subject do this?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub verb: String,
    pub group: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// A non-resource URL (`/metrics`); `resource` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `None`: cluster-wide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub expect: Expect,
}

impl Probe {
    fn new(
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        expect: Expect,
    ) -> Self {
        let (resource, subresource) = oc_mcp_common::preflight::split_subresource(resource);
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.to_owned(),
            subresource: subresource.map(str::to_owned),
            path: None,
            namespace: namespace.map(str::to_owned),
            expect,
        }
    }

    fn url(verb: &str, path: &str) -> Self {
        Self {
            verb: verb.into(),
            group: String::new(),
            resource: String::new(),
            subresource: None,
            path: Some(path.into()),
            namespace: None,
            expect: Expect::Deny,
        }
    }

    pub fn describe(&self) -> String {
        if let Some(path) = &self.path {
            return format!("{} {path}", self.verb);
        }
        let mut resource = self.resource.clone();
        if let Some(sub) = &self.subresource {
            resource = format!("{resource}/{sub}");
        }
        rbac_intent::describe_grant(&self.group, &resource, &self.verb)
    }
}

/// Every read the intended rules grant must be allowed (risky and wildcard grants never are
/// expected); every write on them and the fixed risky list must be denied; in each scope
/// (`None`: cluster-wide), then the non-resource URLs once.
pub fn probes_for(intended: &[PolicyRule], namespaces: &[String]) -> Vec<Probe> {
    let allowed: Vec<(String, String, String)> = rbac_intent::grants(intended)
        .into_iter()
        .filter(|(group, resource, verb)| {
            READ_VERBS.contains(&verb.as_str())
                && !resource.starts_with('/')
                && rbac_intent::risky_grants(&[PolicyRule {
                    api_groups: Some(vec![group.clone()]),
                    resources: Some(vec![resource.clone()]),
                    verbs: vec![verb.clone()],
                    ..PolicyRule::default()
                }])
                .is_empty()
        })
        .collect();
    let denied = rbac_intent::must_deny(intended);
    let scopes = std::iter::once(None).chain(namespaces.iter().map(|n| Some(n.as_str())));
    let mut probes = Vec::new();
    for namespace in scopes {
        for (group, resource, verb) in &allowed {
            probes.push(Probe::new(verb, group, resource, namespace, Expect::Allow));
        }
        for (group, resource, verb) in &denied {
            probes.push(Probe::new(verb, group, resource, namespace, Expect::Deny));
        }
    }
    for (verb, path) in rbac_intent::MUST_DENY_URLS {
        probes.push(Probe::url(verb, path));
    }
    probes
}
