//! Preflight: ask the API server, before any write, whether the caller may do everything a plan
//! needs, and list every missing permission at once.

use futures::{StreamExt as _, TryStreamExt as _, future::try_join_all, stream};
use k8s_openapi::api::{
    authorization::v1::{
        NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview,
        SelfSubjectAccessReviewSpec,
    },
    rbac::v1::PolicyRule,
};
use kube::{Api, Client, api::PostParams};
use serde::Serialize;

use crate::error::{Error, MissingPermission, Result};

/// The API group of roles and bindings.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One permission, as SelfSubjectAccessReview asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    pub verb: String,
    pub group: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Permission {
    pub fn new(verb: &str, group: &str, resource: &str) -> Self {
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: None,
            name: None,
        }
    }

    #[must_use]
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The permission on one object only (`bind` on the ClusterRole being bound).
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A key that orders and de-duplicates permissions.
    pub fn key(&self) -> (String, String, String, String, String) {
        (
            self.group.clone(),
            self.resource.clone(),
            self.namespace.clone().unwrap_or_default(),
            self.verb.clone(),
            self.name.clone().unwrap_or_default(),
        )
    }

    fn review(&self) -> SelfSubjectAccessReview {
        SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(self.verb.clone()),
                    group: Some(self.group.clone()),
                    resource: Some(self.resource.clone()),
                    namespace: self.namespace.clone(),
                    name: self.name.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        }
    }
}

/// Ask about every permission concurrently; `Ok(list of denied)`.
pub async fn missing_permissions(
    client: &Client,
    wanted: &[Permission],
) -> Result<Vec<Permission>> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let reviews = wanted.iter().map(|p| {
        let api = api.clone();
        async move {
            let answer = api.create(&PostParams::default(), &p.review()).await?;
            let allowed = answer.status.is_some_and(|s| s.allowed);
            Ok::<_, Error>((p.clone(), allowed))
        }
    });
    let answers = try_join_all(reviews).await?;
    Ok(answers
        .into_iter()
        .filter_map(|(p, allowed)| (!allowed).then_some(p))
        .collect())
}

/// Fail with every missing permission named, or succeed when all are granted.
pub async fn require_permissions(client: &Client, wanted: &[Permission]) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let missing = missing_permissions(client, wanted).await?;
    require_none_missing(client, missing).await
}

/// RBAC escalation prevention: writing a role needs `escalate` on it, and binding one needs
/// `bind` on it, unless the caller already holds every permission the role grants. Ask for
/// `wanted` plus `grant`; only when `grant` is refused, fetch the role's rules and check the
/// caller holds each of them, so a cluster administrator pays no extra reviews.
pub async fn require_permissions_or_held<F, Fut>(
    client: &Client,
    wanted: &[Permission],
    grant: Permission,
    rules: F,
) -> Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<PolicyRule>>>,
{
    let mut asked = wanted.to_vec();
    asked.push(grant.clone());
    let mut missing = missing_permissions(client, &asked).await?;
    if missing.contains(&grant) {
        // Reading the role may itself be refused (then it is listed as missing, too).
        let held = match rules().await {
            Ok(rules) => holds_every_rule(client, &rules).await?,
            Err(e) if e.exit_code() == crate::error::ExitCode::Auth => false,
            Err(e) => return Err(e),
        };
        if held {
            missing.retain(|p| p != &grant);
        }
    }
    require_none_missing(client, missing).await
}

/// Whether the caller holds every permission `rules` grant, one review per verb and resource
/// (or URL), 16 at a time.
pub async fn holds_every_rule(client: &Client, rules: &[PolicyRule]) -> Result<bool> {
    let reviews: Vec<SelfSubjectAccessReview> = rules.iter().flat_map(rule_reviews).collect();
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<bool> = stream::iter(reviews)
        .map(|review| {
            let api = api.clone();
            async move {
                let answer = api.create(&PostParams::default(), &review).await?;
                Ok::<_, Error>(answer.status.is_some_and(|s| s.allowed))
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok(answers.into_iter().all(|allowed| allowed))
}

/// A rule's resource as access reviews ask it: `pods/log` is resource `pods`, subresource `log`.
pub fn split_subresource(resource: &str) -> (&str, Option<&str>) {
    match resource.split_once('/') {
        Some((resource, subresource)) => (resource, Some(subresource)),
        None => (resource, None),
    }
}

fn rule_reviews(rule: &PolicyRule) -> Vec<SelfSubjectAccessReview> {
    let review = |resource_attributes, non_resource_attributes| SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes,
            non_resource_attributes,
        },
        ..SelfSubjectAccessReview::default()
    };
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for path in rule.non_resource_urls.iter().flatten() {
            let attributes = NonResourceAttributes {
                path: Some(path.clone()),
                verb: Some(verb.clone()),
            };
            out.push(review(None, Some(attributes)));
        }
        let names: Vec<Option<String>> = match rule.resource_names.as_deref() {
            Some(names) if !names.is_empty() => names.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                let (resource, subresource) = split_subresource(resource);
                for name in &names {
                    let attributes = ResourceAttributes {
                        verb: Some(verb.clone()),
                        group: Some(group.clone()),
                        resource: Some(resource.to_owned()),
                        subresource: subresource.map(str::to_owned),
                        name: name.clone(),
                        ..ResourceAttributes::default()
                    };
                    out.push(review(Some(attributes), None));
                }
            }
        }
    }
    out
}

/// Fail naming every permission in `missing` (from [`missing_permissions`]); `Ok` when empty.
pub async fn require_none_missing(client: &Client, missing: Vec<Permission>) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let user = whoami(client)
        .await
        .unwrap_or_else(|_| "the current user".into());
    Err(Error::MissingPermissions {
        user,
        missing: missing
            .into_iter()
            .map(|p| MissingPermission {
                verb: p.verb,
                resource: p.resource,
                group: p.group,
                namespace: p.namespace,
                name: p.name,
            })
            .collect(),
    })
}

/// The caller's user name, from SelfSubjectReview (`kubectl auth whoami`).
pub async fn whoami(client: &Client) -> Result<String> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_else(|| "unknown".into()))
}
