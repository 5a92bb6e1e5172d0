//! `check`: judge access against the intent of the role, never against the live role.
//!
//! Two halves, both for every checked subject:
//! - static analysis: every ClusterRoleBinding and RoleBinding the subject holds (by name, or
//!   through the groups its requests carry) is resolved to its rules, and every risky grant
//!   ([`rbac_intent::risky_grants`]) is a deviation naming the binding and the rule;
//! - SubjectAccessReviews, cluster-wide and in every namespace where the subject holds a
//!   RoleBinding: every read of the recorded profile must be allowed, every write on what the
//!   profile grants and the fixed list of risky requests ([`rbac_intent::must_deny`]) denied.
//!
//! The role itself must match its profile ([`rbac_intent::profile_drift`]).

mod analysis;
mod probes;
mod report;
#[cfg(test)]
mod tests;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::{
    authorization::v1::{
        NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    },
    rbac::v1::ClusterRole,
};
use kube::{Api, Client, ResourceExt, api::PostParams};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, defaults,
    preflight::{Permission, require_permissions},
    rbac_intent::{self},
};

use oc_mcp_common::subject::GroupName;

use crate::subjects::{NamedSubjects, Subject};

pub use analysis::*;
pub use probes::*;
pub use report::*;

/// How many reviews are in flight at once by default: enough to hide the round trip, few
/// enough not to look like a flood to API priority and fairness.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// Annotation kube and OpenShift put on the bootstrap policy they reconcile at start-up.
const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Groups to check (default: every subject bound to the role)
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<GroupName>,

    #[command(flatten)]
    pub named: NamedSubjects,

    /// The ClusterRole whose profile's reads must be allowed
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: String,

    /// A namespace checked besides cluster scope and every namespace where a checked subject
    /// holds a RoleBinding
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
    /// The subjects named on the command line; none means every subject bound to the role.
    pub fn explicit_subjects(&self) -> Result<Vec<Subject>> {
        crate::role::validate_object_name(&self.role, "--role")?;
        self.named.with_groups(&self.groups)
    }
}

/// `oc mcp-rbac check`
pub async fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<ExitCode> {
    let explicit = args.explicit_subjects()?;
    let from_bindings = explicit.is_empty();
    crate::role::validate_object_name(&args.sample_namespace, "--sample-namespace")?;
    let client = global.kube.client().await?;
    let rbac = "rbac.authorization.k8s.io";
    require_permissions(
        &client,
        &[
            Permission::new("create", "authorization.k8s.io", "subjectaccessreviews"),
            Permission::new("list", rbac, "clusterroles"),
            Permission::new("list", rbac, "clusterrolebindings"),
            Permission::new("list", rbac, "roles"),
            Permission::new("list", rbac, "rolebindings"),
        ],
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
    // Subjects found through the role's bindings: a virtual one is a deviation by itself,
    // whatever the reviews for it say (named explicitly, it is only a question).
    let bound_virtual: Vec<String> = if from_bindings {
        subjects
            .iter()
            .filter_map(|s| {
                rbac_intent::virtual_subject(s.kind(), &s.display_name())
                    .map(|why| format!("is bound to {s}: {why}"))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut report = check(
        &client,
        &live,
        subjects,
        &args.sample_namespace,
        usize::from(args.concurrency),
    )
    .await?;
    report.deviations += bound_virtual.len();
    report.role_problems.extend(bound_virtual);
    cli::emit(&report, global.output.output)?;
    if report.passed() {
        Ok(ExitCode::Ok)
    } else {
        Err(Error::Failed {
            message: format!(
                "{} checks deviate from read-only in cluster scope and namespaces {} ({} risky \
                 grants held through bindings, {} of {} access reviews, {} problems of the role):\n  {}",
                report.deviations,
                report.namespaces.join(", "),
                report.findings.len(),
                report.matrix.iter().filter(|c| !c.ok).count(),
                report.checked,
                report.role_problems.len(),
                report.deviation_lines(25).join("\n  ")
            ),
            hint: Some(format!(
                "restore the role with `oc mcp-rbac role --name {}` and remove the bindings named \
                 above (`oc delete clusterrolebinding NAME`, `oc -n NAMESPACE delete rolebinding NAME`)",
                report.role
            )),
        })
    }
}

/// Judge every subject against the role's intent: static analysis of every binding it holds,
/// then the reviews in cluster scope and each namespace it holds a RoleBinding in (plus
/// `sample_namespace`), `concurrency` at a time.
pub async fn check(
    client: &Client,
    role: &ClusterRole,
    subjects: Vec<Subject>,
    sample_namespace: &str,
    concurrency: usize,
) -> Result<CheckReport> {
    let snapshot = RbacSnapshot::load(client, &subjects, crate::status::DEFAULT_CHUNK_SIZE).await?;
    let (findings, mut namespaces, platform_defaults) = analyze(&snapshot, &subjects);
    let own = format!("ClusterRole {}", role.name_any());
    let named = findings.iter().any(|f| f.role == own);
    let (intended, intent, role_problems) = intent_of(role, &snapshot.cluster_roles, named);
    namespaces.insert(sample_namespace.to_owned());
    let namespaces: Vec<String> = namespaces.into_iter().collect();
    let probes = probes_for(&intended, &namespaces);
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
                let (resource_attributes, non_resource_attributes) = match &probe.path {
                    Some(path) => (
                        None,
                        Some(NonResourceAttributes {
                            path: Some(path.clone()),
                            verb: Some(probe.verb.clone()),
                        }),
                    ),
                    None => (
                        Some(ResourceAttributes {
                            verb: Some(probe.verb.clone()),
                            group: Some(probe.group.clone()),
                            resource: Some(probe.resource.clone()),
                            subresource: probe.subresource.clone(),
                            namespace: probe.namespace.clone(),
                            ..ResourceAttributes::default()
                        }),
                        None,
                    ),
                };
                let review = SubjectAccessReview {
                    spec: SubjectAccessReviewSpec {
                        user,
                        groups: Some(groups),
                        resource_attributes,
                        non_resource_attributes,
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
    let deviations = matrix.iter().filter(|c| !c.ok).count() + findings.len() + role_problems.len();
    Ok(CheckReport {
        role: role.name_any(),
        intent,
        checked: matrix.len(),
        subjects,
        namespaces,
        deviations,
        role_problems,
        findings,
        platform_defaults,
        matrix,
    })
}
