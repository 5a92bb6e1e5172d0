//! `check`: an access matrix from SubjectAccessReviews. Every read the role grants must be
//! allowed; writes, secrets, exec, impersonation and escalation must be denied.

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::{
    authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
    rbac::v1::ClusterRole,
};
use kube::{Api, Client, ResourceExt, api::PostParams};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, defaults,
    output::Tabular,
    preflight::{Permission, require_permissions},
};
use serde::Serialize;

use crate::{bind::SubjectArgs, profiles, subjects::Subject};

/// How many reviews are in flight at once by default: enough to hide the round trip, few
/// enough not to look like a flood to API priority and fairness.
pub const DEFAULT_CONCURRENCY: u16 = 16;

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Groups to check (default: every subject bound to the role)
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,

    /// Users to check; repeat for more
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<String>,

    /// Service accounts to check, as NAMESPACE:NAME
    #[arg(long = "service-account", value_name = "NAMESPACE:NAME")]
    pub service_accounts: Vec<String>,

    /// The ClusterRole whose grants must be allowed
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: String,

    /// The namespace used for namespaced checks besides the cluster-wide ones
    #[arg(long, default_value = "default", value_name = "NAMESPACE")]
    pub sample_namespace: String,

    /// How many SubjectAccessReviews are in flight at once (1: one by one)
    #[arg(
        long,
        default_value_t = DEFAULT_CONCURRENCY,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub concurrency: u16,
}

impl CheckArgs {
    pub fn explicit_subjects(&self) -> Result<Vec<Subject>> {
        let args = SubjectArgs {
            groups: self.groups.clone(),
            users: self.users.clone(),
            service_accounts: self.service_accounts.clone(),
            role: self.role.clone(),
        };
        if self.groups.is_empty() && self.users.is_empty() && self.service_accounts.is_empty() {
            crate::role::validate_object_name(&self.role, "--role")?;
            return Ok(Vec::new());
        }
        args.subjects()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

/// One question: may this subject do this?
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub verb: String,
    pub group: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
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
            namespace: namespace.map(str::to_owned),
            expect,
        }
    }

    pub fn describe(&self) -> String {
        let mut resource = self.resource.clone();
        if let Some(sub) = &self.subresource {
            resource = format!("{resource}/{sub}");
        }
        if !self.group.is_empty() {
            resource = format!("{resource}.{}", self.group);
        }
        format!("{} {resource}", self.verb)
    }
}

/// What must be denied to a read-only MCP user, cluster-wide and in a namespace.
fn forbidden_probes(namespace: Option<&str>) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (group, resource) in [("", "pods"), ("apps", "deployments"), ("", "configmaps")] {
        for verb in ["create", "update", "patch", "delete"] {
            probes.push(Probe::new(verb, group, resource, namespace, Expect::Deny));
        }
    }
    for verb in ["get", "list", "watch"] {
        probes.push(Probe::new(verb, "", "secrets", namespace, Expect::Deny));
    }
    for sub in ["pods/exec", "pods/attach", "pods/portforward"] {
        probes.push(Probe::new("create", "", sub, namespace, Expect::Deny));
        probes.push(Probe::new("get", "", sub, namespace, Expect::Deny));
    }
    for resource in ["users", "groups", "serviceaccounts"] {
        probes.push(Probe::new(
            "impersonate",
            "",
            resource,
            namespace,
            Expect::Deny,
        ));
    }
    for verb in ["escalate", "bind"] {
        probes.push(Probe::new(
            verb,
            "rbac.authorization.k8s.io",
            "clusterroles",
            namespace,
            Expect::Deny,
        ));
    }
    probes
}

/// Every read the role grants must be allowed; the fixed list above must be denied.
pub fn probes_for(
    role_rules: &[k8s_openapi::api::rbac::v1::PolicyRule],
    sample_namespace: &str,
) -> Vec<Probe> {
    let mut probes = Vec::new();
    for namespace in [None, Some(sample_namespace)] {
        for (group, resource, verb) in profiles::grants(role_rules) {
            if profiles::READ_VERBS.contains(&verb.as_str()) {
                probes.push(Probe::new(
                    &verb,
                    &group,
                    &resource,
                    namespace,
                    Expect::Allow,
                ));
            }
        }
        probes.extend(forbidden_probes(namespace));
    }
    probes
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    pub subject: Subject,
    #[serde(flatten)]
    pub probe: Probe,
    pub allowed: bool,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub role: String,
    pub subjects: Vec<Subject>,
    pub checked: usize,
    pub deviations: usize,
    pub matrix: Vec<Cell>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.deviations == 0
    }
}

impl Tabular for CheckReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        if wide {
            vec![
                "SUBJECT",
                "NAMESPACE",
                "ACCESS",
                "EXPECTED",
                "ACTUAL",
                "RESULT",
            ]
        } else {
            vec![
                "SUBJECT",
                "CHECKS",
                "DEVIATIONS",
                "RESULT",
                "FIRST DEVIATIONS",
            ]
        }
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" }.to_owned();
        if wide {
            return self
                .matrix
                .iter()
                .map(|c| {
                    vec![
                        c.subject.to_string(),
                        c.probe.namespace.clone().unwrap_or_else(|| "*".into()),
                        c.probe.describe(),
                        word(c.probe.expect == Expect::Allow),
                        word(c.allowed),
                        if c.ok { "ok" } else { "DEVIATION" }.into(),
                    ]
                })
                .collect();
        }
        self.subjects
            .iter()
            .map(|s| {
                let cells: Vec<&Cell> = self.matrix.iter().filter(|c| &c.subject == s).collect();
                let bad: Vec<&&Cell> = cells.iter().filter(|c| !c.ok).collect();
                let first: Vec<String> = bad
                    .iter()
                    .take(3)
                    .map(|c| {
                        format!(
                            "{} {} in {}",
                            c.probe.describe(),
                            word(c.allowed),
                            c.probe.namespace.as_deref().unwrap_or("*")
                        )
                    })
                    .collect();
                vec![
                    s.to_string(),
                    cells.len().to_string(),
                    bad.len().to_string(),
                    if bad.is_empty() { "pass" } else { "FAIL" }.into(),
                    if first.is_empty() {
                        "-".into()
                    } else {
                        first.join("; ")
                    },
                ]
            })
            .collect()
    }
}

/// `oc mcp-rbac check`
pub async fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<ExitCode> {
    let explicit = args.explicit_subjects()?;
    let client = global.kube.client().await?;
    require_permissions(
        &client,
        &[Permission::new(
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
        )],
    )
    .await?;
    // The role is read once: by `status` when the subjects come from its bindings.
    let (subjects, live) = if explicit.is_empty() {
        let (bound, live) = crate::status::status_and_role(
            &client,
            &crate::status::StatusArgs {
                role: args.role.clone(),
                chunk_size: crate::status::DEFAULT_CHUNK_SIZE,
            },
        )
        .await?;
        (bound.bound_subjects(), live)
    } else {
        let roles: Api<ClusterRole> = Api::all(client.clone());
        (explicit, roles.get_opt(&args.role).await?)
    };
    if subjects.is_empty() {
        return Err(Error::Failed {
            message: format!("no subject is bound to ClusterRole {}", args.role),
            hint: Some(
                "bind one with `oc mcp-rbac bind GROUP`, or name subjects with --group/--user"
                    .into(),
            ),
        });
    }
    let Some(live) = live else {
        return Err(Error::Failed {
            message: format!("ClusterRole {} does not exist", args.role),
            hint: Some("create it with `oc mcp-rbac role`".into()),
        });
    };
    let report = check(
        &client,
        &live,
        subjects,
        &args.sample_namespace,
        usize::from(args.concurrency),
    )
    .await?;
    cli::emit(&report, global.output.output)?;
    if report.passed() {
        Ok(ExitCode::Ok)
    } else {
        Err(Error::failed(format!(
            "{} of {} access checks deviate from read-only (see -o wide or -o json)",
            report.deviations, report.checked
        )))
    }
}

/// Ask every question about `role` for every subject, `concurrency` at a time.
pub async fn check(
    client: &Client,
    role: &ClusterRole,
    subjects: Vec<Subject>,
    sample_namespace: &str,
    concurrency: usize,
) -> Result<CheckReport> {
    let probes = probes_for(role.rules.as_deref().unwrap_or_default(), sample_namespace);
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let questions: Vec<(Subject, Probe)> = subjects
        .iter()
        .flat_map(|s| probes.iter().map(move |p| (s.clone(), p.clone())))
        .collect();
    let matrix: Vec<Cell> = stream::iter(questions)
        .map(|(subject, probe)| {
            let reviews = reviews.clone();
            async move {
                let (user, groups) = subject.review_identity();
                let review = SubjectAccessReview {
                    spec: SubjectAccessReviewSpec {
                        user,
                        groups: Some(groups),
                        resource_attributes: Some(ResourceAttributes {
                            verb: Some(probe.verb.clone()),
                            group: Some(probe.group.clone()),
                            resource: Some(probe.resource.clone()),
                            subresource: probe.subresource.clone(),
                            namespace: probe.namespace.clone(),
                            ..ResourceAttributes::default()
                        }),
                        ..SubjectAccessReviewSpec::default()
                    },
                    ..SubjectAccessReview::default()
                };
                let answer = reviews.create(&PostParams::default(), &review).await?;
                let status = answer.status.unwrap_or_default();
                let allowed = status.allowed && !status.denied.unwrap_or(false);
                let ok = allowed == (probe.expect == Expect::Allow);
                Ok::<_, Error>(Cell {
                    subject,
                    probe,
                    allowed,
                    ok,
                    reason: status.reason.filter(|r| !r.is_empty()),
                })
            }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let deviations = matrix.iter().filter(|c| !c.ok).count();
    Ok(CheckReport {
        role: role.name_any(),
        checked: matrix.len(),
        subjects,
        deviations,
        matrix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_cover_the_role_and_the_forbidden_list_in_both_scopes() {
        let probes = probes_for(&profiles::minimal_rules(), "default");
        let allow = probes.iter().filter(|p| p.expect == Expect::Allow).count();
        // minimal: 10 resources x 3 verbs, cluster-wide and in the sample namespace
        assert_eq!(allow, 60);
        assert!(probes.iter().any(|p| p.expect == Expect::Deny
            && p.resource == "pods"
            && p.subresource.as_deref() == Some("exec")
            && p.namespace.as_deref() == Some("default")));
        assert!(
            probes
                .iter()
                .any(|p| p.verb == "impersonate" && p.namespace.is_none())
        );
    }
}
