//! Preflight: ask the API server, before any write, whether the caller may do everything a plan
//! needs, and list every missing permission at once.

use futures::future::try_join_all;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::{Api, Client, api::PostParams};
use serde::Serialize;

use crate::error::{Error, MissingPermission, Result};

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
