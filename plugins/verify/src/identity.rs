//! As whom the MCP checks ran: the identity the API server sees for the token verify sends to
//! the MCP endpoint (SelfSubjectReview; OpenShift's `users/~` where that API is missing or
//! the token may not use it), whether that identity is bound to the MCP role, and whether it
//! can write.
//!
//! A scoped OpenShift token (`user:info user:check-access role:<role>:*`, what `oc mcp-client
//! token` gets) may not create a SelfSubjectReview: OpenShift's scope authorizer answers 403.
//! `user:info` allows `users/~` and `user:check-access` the SelfSubjectAccessReview, so such a
//! token is judged through those two.
//!
//! The rule for `passthrough.user`: a successful read proves what members get only when the
//! token is a member's. It is proof when the identity is a subject of a binding of `--role`
//! (as a User or ServiceAccount, or through one of its groups) and cannot create pods in all
//! namespaces. Otherwise the row warns: an administrator's token (or any unbound user's)
//! succeeding says nothing about members.

use k8s_openapi::api::{
    authentication::v1::SelfSubjectReview,
    authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec},
    rbac::v1::Subject,
};
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, PostParams},
};
use oc_mcp_common::kube_args::Secret;
use serde::Serialize;

use crate::{
    checks::CheckId,
    cluster::{ReadError, read_error},
    report::{FailureClass, Row, Status},
};

/// Who the API server says the token is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    /// `SelfSubjectReview` or `users/~`.
    pub source: &'static str,
    /// Why `users/~` answered instead of the SelfSubjectReview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<&'static str>,
}

impl Identity {
    /// `user alice (groups mcp-users, system:authenticated)`.
    pub fn describe(&self) -> String {
        if self.groups.is_empty() {
            format!("user {}", self.user)
        } else {
            format!("user {} (groups {})", self.user, self.groups.join(", "))
        }
    }
}

/// A client that authenticates with `token` and nothing else from the kubeconfig (no client
/// certificate, no exec plugin): the API server then sees exactly the MCP token's identity.
fn client_for_token(config: &kube::Config, token: &Secret) -> Result<Client, String> {
    let mut config = config.clone();
    // kube's AuthInfo keeps its token in a secrecy type; deserializing is the way to set it
    // without that crate.
    config.auth_info = serde_json::from_value(serde_json::json!({"token": token.expose()}))
        .map_err(|_| "cannot build credentials for the token".to_owned())?;
    oc_mcp_common::kube_args::client_from_config(config).map_err(|e| e.to_string())
}

fn describe_error(read: &ReadError) -> String {
    if read.class == FailureClass::Auth {
        format!(
            "the API server does not accept the token ({})",
            read.message
        )
    } else {
        read.message.clone()
    }
}

/// The token's identity and whether it may create pods in every namespace.
pub async fn review(
    config: &kube::Config,
    token: &Secret,
) -> (Result<Identity, String>, Option<bool>) {
    let client = match client_for_token(config, token) {
        Ok(c) => c,
        Err(e) => return (Err(e), None),
    };
    let (who, write) = futures::join!(whoami(&client), can_write(&client));
    (who, write)
}

async fn whoami(client: &Client) -> Result<Identity, String> {
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    match reviews
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
    {
        Ok(review) => {
            let info = review
                .status
                .and_then(|s| s.user_info)
                .ok_or_else(|| "the SelfSubjectReview carried no user".to_owned())?;
            Ok(Identity {
                user: info.username.unwrap_or_default(),
                groups: info.groups.unwrap_or_default(),
                source: "SelfSubjectReview",
                fallback: None,
            })
        }
        Err(e) => {
            // A 404 is a fact (no such API), not an error class.
            let absent = matches!(&e, kube::Error::Api(s) if s.code == 404);
            let read = read_error("SelfSubjectReview", e);
            // Clusters before Kubernetes 1.28 lack the API; a scoped OpenShift token may not
            // use it. OpenShift answers users/~ in both cases (user:info allows it).
            let why = if absent {
                "the cluster has no SelfSubjectReview API"
            } else if read.forbidden {
                "the token may not create a SelfSubjectReview (403), as for a scoped OpenShift token"
            } else {
                return Err(describe_error(&read));
            };
            let first = describe_error(&read);
            users_tilde(client)
                .await
                .map(|identity| Identity {
                    fallback: Some(why),
                    ..identity
                })
                .map_err(|e| format!("{first}; then {e}"))
        }
    }
}

async fn users_tilde(client: &Client) -> Result<Identity, String> {
    let resource = ApiResource {
        group: "user.openshift.io".into(),
        version: "v1".into(),
        api_version: "user.openshift.io/v1".into(),
        kind: "User".into(),
        plural: "users".into(),
    };
    let users: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let user = users
        .get("~")
        .await
        .map_err(|e| describe_error(&read_error("users/~", e)))?;
    let groups = user
        .data
        .get("groups")
        .and_then(serde_json::Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Identity {
        user: user.metadata.name.unwrap_or_default(),
        groups,
        source: "users/~",
        fallback: None,
    })
}

/// One write as the token's identity: `create pods` in all namespaces.
async fn can_write(client: &Client) -> Option<bool> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("create".into()),
                resource: Some("pods".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    reviews
        .create(&PostParams::default(), &review)
        .await
        .ok()
        .and_then(|r| r.status)
        .map(|s| s.allowed)
}

/// Whether the identity is one of the subjects, itself or through a group.
pub fn is_member(identity: &Identity, subjects: &[Subject]) -> bool {
    subjects.iter().any(|s| match s.kind.as_str() {
        "User" => s.name == identity.user,
        "Group" => identity.groups.contains(&s.name),
        "ServiceAccount" => {
            identity.user
                == format!(
                    "system:serviceaccount:{}:{}",
                    s.namespace.as_deref().unwrap_or_default(),
                    s.name
                )
        }
        _ => false,
    })
}

/// What was learnt about one token.
#[derive(Debug, Clone)]
pub struct Judged {
    pub identity: Result<Identity, String>,
    pub can_write: Option<bool>,
}

impl Judged {
    fn line(&self, whose: &str) -> String {
        match &self.identity {
            Ok(i) => match i.fallback {
                None => format!("{whose} ran as {} ({})", i.describe(), i.source),
                Some(why) => format!("{whose} ran as {} (users/~, because {why})", i.describe()),
            },
            Err(e) => format!("{whose} ran as an unknown identity: {e}"),
        }
    }
}

/// The role's subjects, or why they are unknown.
pub type Bound = Result<Vec<Subject>, String>;

/// Say as whom each MCP check ran, and demote `passthrough.user` when its token proves
/// nothing about members (the rule is in the module docs).
pub fn annotate(
    rows: &mut [Row],
    role: &str,
    user: Option<&Judged>,
    denied: Option<&Judged>,
    bound: &Bound,
) {
    for row in rows.iter_mut() {
        match row.id {
            id if id == CheckId::McpInitialize.id() || id == CheckId::McpTools.id() => {
                if let Some(user) = user {
                    row.evidence.push(user.line("the token"));
                }
            }
            id if id == CheckId::PassthroughUser.id() => {
                if let Some(user) = user {
                    judge_user(row, role, user, bound);
                }
            }
            id if id == CheckId::PassthroughDenied.id() => {
                if let Some(denied) = denied {
                    row.evidence.push(denied.line("the denied token"));
                    if let (Ok(identity), Ok(subjects)) = (&denied.identity, bound)
                        && is_member(identity, subjects)
                        && row.status == Status::Pass
                    {
                        row.status = Status::Warn;
                        row.fix = Some(format!(
                            "{} is bound to clusterrole/{role}: use the token of a user outside the bound groups",
                            identity.user
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

fn judge_user(row: &mut Row, role: &str, user: &Judged, bound: &Bound) {
    row.evidence.push(user.line("the token"));
    if row.status == Status::Skip {
        return;
    }
    let mut doubts = Vec::new();
    match (&user.identity, bound) {
        (Err(_), _) => doubts.push("the token's identity is unknown".to_owned()),
        (Ok(_), Err(why)) => doubts.push(format!(
            "the bindings of clusterrole/{role} are unknown ({why})"
        )),
        (Ok(identity), Ok(subjects)) if subjects.is_empty() => doubts.push(format!(
            "clusterrole/{role} has no binding, so {} cannot be a member (pass --role with the MCP role)",
            identity.user
        )),
        (Ok(identity), Ok(subjects)) if !is_member(identity, subjects) => doubts.push(format!(
            "{} is outside the subjects bound to clusterrole/{role}",
            identity.user
        )),
        (Ok(_), Ok(_)) => {}
    }
    match user.can_write {
        Some(true) => doubts.push(
            "the token's identity can create pods in every namespace (an administrator)".into(),
        ),
        // Not a doubt by itself: the read is still the identity's; say that it was not asked.
        None => row.evidence.push(
            "whether the token can create pods is unknown: the SelfSubjectAccessReview got no answer (a scoped OpenShift token needs user:check-access)".into(),
        ),
        Some(false) => {}
    }
    if doubts.is_empty() {
        row.evidence
            .push(format!("a member of clusterrole/{role}'s bindings that cannot write: the read is what members get"));
        return;
    }
    row.evidence.extend(doubts);
    if row.status == Status::Pass {
        row.status = Status::Warn;
        row.fix = Some(format!(
            "not proof of what members get: pass a member's token (a user in a group bound to clusterrole/{role}, who cannot write) with --token-env or --token-file"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(str::to_owned),
            api_group: None,
        }
    }

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity {
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            source: "SelfSubjectReview",
            fallback: None,
        }
    }

    #[test]
    fn membership_by_user_group_or_service_account() {
        let subjects = vec![
            subject("Group", "mcp-users", None),
            subject("User", "bob", None),
            subject("ServiceAccount", "bot", Some("ci")),
        ];
        assert!(is_member(&who("alice", &["mcp-users"]), &subjects));
        assert!(is_member(&who("bob", &[]), &subjects));
        assert!(is_member(
            &who("system:serviceaccount:ci:bot", &[]),
            &subjects
        ));
        assert!(!is_member(
            &who("admin", &["system:cluster-admins"]),
            &subjects
        ));
    }

    #[test]
    fn an_administrators_success_is_not_proof() {
        let pass = || Row::pass(CheckId::PassthroughUser).evidence("namespaces_list: 3 lines");
        let bound: Bound = Ok(vec![subject("Group", "mcp-users", None)]);
        let member = Judged {
            identity: Ok(who("alice", &["mcp-users"])),
            can_write: Some(false),
        };
        let mut rows = vec![pass()];
        annotate(&mut rows, "mcp-readonly", Some(&member), None, &bound);
        assert_eq!(rows[0].status, Status::Pass);
        assert!(rows[0].evidence.iter().any(|l| l.contains("user alice")));

        let admin = Judged {
            identity: Ok(who("admin", &["system:cluster-admins"])),
            can_write: Some(true),
        };
        let mut rows = vec![pass()];
        annotate(&mut rows, "mcp-readonly", Some(&admin), None, &bound);
        assert_eq!(rows[0].status, Status::Warn);
        let text = rows[0].evidence.join("\n");
        assert!(
            text.contains("outside the subjects") && text.contains("create pods"),
            "{text}"
        );

        // A member who can write proves nothing either.
        let writer = Judged {
            can_write: Some(true),
            ..member
        };
        let mut rows = vec![pass()];
        annotate(&mut rows, "mcp-readonly", Some(&writer), None, &bound);
        assert_eq!(rows[0].status, Status::Warn);
    }
}
