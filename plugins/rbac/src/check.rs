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

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::{
    authorization::v1::{
        NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    },
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef},
};
use kube::{Api, Client, ResourceExt, api::PostParams};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, defaults,
    output::Tabular,
    preflight::{Permission, require_permissions},
    rbac_intent::{self, READ_VERBS},
};
use serde::Serialize;

use crate::{bind::SubjectArgs, status::list_filtered, subjects::Subject};

/// How many reviews are in flight at once by default: enough to hide the round trip, few
/// enough not to look like a flood to API priority and fairness.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// Annotation kube and OpenShift put on the bootstrap policy they reconcile at start-up.
const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

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

/// A risky grant a checked subject holds through a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub subject: Subject,
    /// `ClusterRoleBinding NAME` or `RoleBinding NAMESPACE/NAME`.
    pub binding: String,
    /// `ClusterRole NAME` or `Role NAMESPACE/NAME`.
    pub role: String,
    /// Where the grant applies; `None`: cluster-wide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The binding subject that matched (the checked subject itself, or a group it carries).
    pub via: String,
    pub risk: rbac_intent::Risk,
}

impl Finding {
    pub fn describe(&self) -> String {
        format!(
            "{} (via {}) of {} grants {} (rules[{}])",
            self.binding, self.via, self.role, self.risk, self.risk.rule
        )
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub role: String,
    /// Where the expected reads come from: `profile full`, or why there is none.
    pub intent: String,
    pub subjects: Vec<Subject>,
    /// The namespaces checked besides cluster scope.
    pub namespaces: Vec<String>,
    pub checked: usize,
    pub deviations: usize,
    /// How the role differs from its profile, and its own risky grants.
    pub role_problems: Vec<String>,
    pub findings: Vec<Finding>,
    /// Bindings of the platform's defaults (for every authenticated user) left unjudged.
    pub platform_defaults: Vec<String>,
    pub matrix: Vec<Cell>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.deviations == 0
    }

    fn scopes(&self) -> String {
        let mut scopes = vec!["cluster".to_owned()];
        scopes.extend(self.namespaces.iter().cloned());
        scopes.join(",")
    }

    /// The deviations, one line each, for the error message.
    pub fn deviation_lines(&self, limit: usize) -> Vec<String> {
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" };
        let mut lines: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.subject, f.describe()))
            .collect();
        lines.extend(
            self.role_problems
                .iter()
                .map(|p| format!("ClusterRole {}: {p}", self.role)),
        );
        lines.extend(self.matrix.iter().filter(|c| !c.ok).map(|c| {
            let scope = c
                .probe
                .namespace
                .as_deref()
                .map_or_else(|| "cluster-wide".to_owned(), |n| format!("in {n}"));
            let why = c
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "{}: {} {} {scope}{why}",
                c.subject,
                c.probe.describe(),
                word(c.allowed)
            )
        }));
        let total = lines.len();
        lines.truncate(limit);
        if total > limit {
            lines.push(format!("... and {} more (see -o json)", total - limit));
        }
        lines
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
                "SCOPES",
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
            let mut rows: Vec<Vec<String>> = self
                .findings
                .iter()
                .map(|f| {
                    vec![
                        f.subject.to_string(),
                        f.namespace.clone().unwrap_or_else(|| "*".into()),
                        f.risk.to_string(),
                        "denied".into(),
                        format!("granted by {}", f.binding),
                        "DEVIATION".into(),
                    ]
                })
                .collect();
            rows.extend(self.matrix.iter().map(|c| {
                vec![
                    c.subject.to_string(),
                    c.probe.namespace.clone().unwrap_or_else(|| "*".into()),
                    c.probe.describe(),
                    word(c.probe.expect == Expect::Allow),
                    word(c.allowed),
                    if c.ok { "ok" } else { "DEVIATION" }.into(),
                ]
            }));
            return rows;
        }
        self.subjects
            .iter()
            .map(|s| {
                let cells: Vec<&Cell> = self.matrix.iter().filter(|c| &c.subject == s).collect();
                let mut bad: Vec<String> = self
                    .findings
                    .iter()
                    .filter(|f| &f.subject == s)
                    .map(Finding::describe)
                    .collect();
                bad.extend(
                    self.role_problems
                        .iter()
                        .map(|p| format!("role {}: {p}", self.role)),
                );
                bad.extend(cells.iter().filter(|c| !c.ok).map(|c| {
                    format!(
                        "{} {} in {}",
                        c.probe.describe(),
                        word(c.allowed),
                        c.probe.namespace.as_deref().unwrap_or("*")
                    )
                }));
                let first: Vec<&String> = bad.iter().take(3).collect();
                vec![
                    s.to_string(),
                    self.scopes(),
                    cells.len().to_string(),
                    bad.len().to_string(),
                    if bad.is_empty() { "pass" } else { "FAIL" }.into(),
                    if first.is_empty() {
                        "-".into()
                    } else {
                        first
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                ]
            })
            .collect()
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

/// The RBAC objects static analysis reads: every binding that names one of the checked
/// subjects (or a group their requests carry), and the roles to resolve them.
#[derive(Debug, Default)]
pub struct RbacSnapshot {
    pub cluster_roles: Vec<ClusterRole>,
    pub roles: BTreeMap<(String, String), Role>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
}

impl RbacSnapshot {
    /// List what the checked subjects may hold; bindings naming none of them are dropped page
    /// by page.
    pub async fn load(client: &Client, subjects: &[Subject], chunk_size: u32) -> Result<Self> {
        let identities: Vec<Identity> = subjects.iter().map(Identity::of).collect();
        let relevant = |subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>,
                        namespace: &str| {
            identities.iter().any(|id| {
                id.matches(subjects.map_or(&[][..], Vec::as_slice), namespace)
                    .is_some()
            })
        };
        let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
        let rbs: Api<RoleBinding> = Api::all(client.clone());
        let cluster_role_api: Api<ClusterRole> = Api::all(client.clone());
        let roles: Api<Role> = Api::all(client.clone());
        let (cluster_roles, cluster_role_bindings, role_bindings, roles) = futures::try_join!(
            list_filtered(&cluster_role_api, chunk_size, |r: &ClusterRole| Some(
                r.clone()
            )),
            list_filtered(&crbs, chunk_size, |b: &ClusterRoleBinding| {
                relevant(b.subjects.as_ref(), "").then(|| b.clone())
            }),
            list_filtered(&rbs, chunk_size, |b: &RoleBinding| {
                let namespace = b.namespace().unwrap_or_default();
                relevant(b.subjects.as_ref(), &namespace).then(|| b.clone())
            }),
            list_filtered(&roles, chunk_size, |r: &Role| {
                Some(((r.namespace().unwrap_or_default(), r.name_any()), r.clone()))
            }),
        )?;
        Ok(Self {
            cluster_roles,
            roles: roles.into_iter().collect(),
            cluster_role_bindings,
            role_bindings,
        })
    }

    /// The rules a role reference grants, aggregation followed; `(name, rules)`.
    fn resolve(&self, role_ref: &RoleRef, namespace: &str) -> (String, Vec<PolicyRule>) {
        match role_ref.kind.as_str() {
            "ClusterRole" => (
                format!("ClusterRole {}", role_ref.name),
                self.cluster_roles
                    .iter()
                    .find(|r| r.name_any() == role_ref.name)
                    .map(|r| rbac_intent::effective_rules(r, &self.cluster_roles))
                    .unwrap_or_default(),
            ),
            _ => (
                format!("Role {namespace}/{}", role_ref.name),
                self.roles
                    .get(&(namespace.to_owned(), role_ref.name.clone()))
                    .and_then(|r| r.rules.clone())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// Who a subject's requests come from: the user name and groups a review uses.
#[derive(Debug, Clone)]
struct Identity {
    user: Option<String>,
    groups: Vec<String>,
}

impl Identity {
    fn of(subject: &Subject) -> Self {
        let (user, groups) = subject.review_identity();
        Self { user, groups }
    }

    /// The binding subject that grants to this identity, as RBAC matches subjects, and whether
    /// it matched only through a group every identity carries (`system:authenticated`).
    fn matches(
        &self,
        subjects: &[k8s_openapi::api::rbac::v1::Subject],
        binding_namespace: &str,
    ) -> Option<(String, bool)> {
        subjects.iter().find_map(|s| {
            let hit = match s.kind.as_str() {
                "User" => self.user.as_deref() == Some(s.name.as_str()),
                "Group" => self.groups.contains(&s.name),
                "ServiceAccount" => {
                    let namespace = s
                        .namespace
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(binding_namespace);
                    self.user.as_deref()
                        == Some(format!("system:serviceaccount:{namespace}:{}", s.name).as_str())
                }
                _ => false,
            };
            hit.then(|| {
                let everyone =
                    s.kind == "Group" && rbac_intent::virtual_subject("Group", &s.name).is_some();
                (format!("{} {}", s.kind, s.name), everyone)
            })
        })
    }
}

/// Static analysis: every risky grant each subject holds through a binding, the namespaces
/// where it holds RoleBindings, and the platform defaults left unjudged.
pub fn analyze(
    snapshot: &RbacSnapshot,
    subjects: &[Subject],
) -> (Vec<Finding>, BTreeSet<String>, Vec<String>) {
    let mut findings = Vec::new();
    let mut namespaces = BTreeSet::new();
    let mut defaults = BTreeSet::new();
    for subject in subjects {
        let identity = Identity::of(subject);
        let crbs = snapshot.cluster_role_bindings.iter().map(|b| {
            (
                format!("ClusterRoleBinding {}", b.name_any()),
                None,
                b.subjects.as_deref().unwrap_or_default(),
                &b.role_ref,
                b.annotations(),
            )
        });
        let rbs = snapshot.role_bindings.iter().map(|b| {
            let namespace = b.namespace().unwrap_or_default();
            (
                format!("RoleBinding {namespace}/{}", b.name_any()),
                Some(namespace),
                b.subjects.as_deref().unwrap_or_default(),
                &b.role_ref,
                b.annotations(),
            )
        });
        for (binding, namespace, binding_subjects, role_ref, annotations) in crbs.chain(rbs) {
            let Some((via, through_everyone)) =
                identity.matches(binding_subjects, namespace.as_deref().unwrap_or_default())
            else {
                continue;
            };
            // The defaults kube and OpenShift give every authenticated user (self reviews,
            // discovery, deleting one's own OAuth tokens) are the platform's, not a deviation
            // of the MCP role; anything else bound to those groups is judged like the rest.
            if through_everyone
                && annotations.get(AUTOUPDATE_ANNOTATION).map(String::as_str) == Some("true")
            {
                defaults.insert(binding);
                continue;
            }
            if let Some(namespace) = &namespace {
                namespaces.insert(namespace.clone());
            }
            let (role, rules) =
                snapshot.resolve(role_ref, namespace.as_deref().unwrap_or_default());
            for risk in rbac_intent::risky_grants(&rules) {
                findings.push(Finding {
                    subject: subject.clone(),
                    binding: binding.clone(),
                    role: role.clone(),
                    namespace: namespace.clone(),
                    via: via.clone(),
                    risk,
                });
            }
        }
    }
    (findings, namespaces, defaults.into_iter().collect())
}

/// What the role is meant to grant, how it says so, and how it falls short of its intent:
/// drift from its profile (one line), and its own risky grants unless `named` (a finding
/// already names them through a binding).
fn intent_of(
    role: &ClusterRole,
    all: &[ClusterRole],
    named: bool,
) -> (Vec<PolicyRule>, String, Vec<String>) {
    let mut problems = Vec::new();
    let drift = rbac_intent::profile_drift(role);
    if !drift.is_clean() {
        problems.push(format!(
            "differs from its profile: {}",
            drift.lines().join(", ")
        ));
    }
    if !named {
        problems.extend(
            rbac_intent::risky_grants(&rbac_intent::effective_rules(role, all))
                .iter()
                .map(|risk| format!("grants {risk}")),
        );
    }
    match (
        rbac_intent::intended_rules(role),
        rbac_intent::recorded_profile(role),
    ) {
        (Some(rules), Some(profile)) => (rules, format!("profile {}", profile.as_str()), problems),
        // An edited `tools` role: its reads cannot be told from the edit; expect none and let
        // the drift fail the check.
        (None, Some(profile)) => (
            Vec::new(),
            format!("profile {} (edited: no reads expected)", profile.as_str()),
            problems,
        ),
        // A role bound with --allow-unmanaged-role has no profile: its own read-only rules are
        // the reads expected (risky ones never are); what must be denied stays fixed.
        (_, None) => (
            role.rules.clone().unwrap_or_default(),
            "none recorded: the role's own read-only rules".into(),
            problems,
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::Subject as RbacSubject;
    use kube::api::ObjectMeta;

    #[test]
    fn probes_cover_the_intent_and_the_forbidden_list_in_every_scope() {
        let namespaces = vec!["default".to_owned(), "precious".to_owned()];
        let probes = probes_for(&rbac_intent::minimal_rules(), &namespaces);
        let allow = probes.iter().filter(|p| p.expect == Expect::Allow).count();
        // minimal: 10 resources x 3 verbs, cluster-wide and in both namespaces
        assert_eq!(allow, 90);
        for namespace in [None, Some("default"), Some("precious")] {
            let has = |verb: &str, resource: &str, sub: Option<&str>| {
                probes.iter().any(|p| {
                    p.expect == Expect::Deny
                        && p.verb == verb
                        && p.resource == resource
                        && p.subresource.as_deref() == sub
                        && p.namespace.as_deref() == namespace
                })
            };
            assert!(has("create", "pods", Some("exec")));
            assert!(has("deletecollection", "events", None));
            assert!(has("patch", "routes", None));
            assert!(has("list", "oauthaccesstokens", None));
            assert!(has("use", "securitycontextconstraints", None));
        }
        assert!(
            probes
                .iter()
                .any(|p| p.path.as_deref() == Some("/metrics") && p.expect == Expect::Deny)
        );
        // Nothing is both expected and forbidden.
        let allowed: Vec<String> = probes
            .iter()
            .filter(|p| p.expect == Expect::Allow)
            .map(Probe::describe)
            .collect();
        assert!(
            probes
                .iter()
                .filter(|p| p.expect == Expect::Deny)
                .all(|p| !allowed.contains(&p.describe()))
        );
    }

    fn binding(namespace: &str, name: &str, role: &str, group: &str) -> RoleBinding {
        RoleBinding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(vec![RbacSubject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Group".into(),
                name: group.into(),
                namespace: None,
            }]),
        }
    }

    #[test]
    fn a_role_binding_to_admin_anywhere_is_found_and_its_namespace_covered() {
        let admin = ClusterRole {
            metadata: ObjectMeta {
                name: Some("admin".into()),
                ..ObjectMeta::default()
            },
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".into()]),
                verbs: vec!["create".into()],
                ..PolicyRule::default()
            }]),
            aggregation_rule: None,
        };
        let mut defaulted = binding("openshift", "shared", "admin", "system:authenticated");
        defaulted
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(AUTOUPDATE_ANNOTATION.into(), "true".into());
        let snapshot = RbacSnapshot {
            cluster_roles: vec![admin],
            role_bindings: vec![
                binding("precious", "x", "admin", "mcp-users"),
                binding("other", "y", "admin", "someone-else"),
                binding("everyone", "z", "admin", "system:authenticated"),
                defaulted,
            ],
            ..RbacSnapshot::default()
        };
        let subject = Subject::Group {
            name: "mcp-users".into(),
        };
        let (findings, namespaces, defaults) = analyze(&snapshot, &[subject]);
        let described: Vec<String> = findings.iter().map(Finding::describe).collect();
        assert_eq!(
            described,
            [
                "RoleBinding precious/x (via Group mcp-users) of ClusterRole admin grants create pods: not read-only (rules[0])",
                "RoleBinding everyone/z (via Group system:authenticated) of ClusterRole admin grants create pods: not read-only (rules[0])",
            ]
        );
        assert_eq!(
            namespaces.into_iter().collect::<Vec<_>>(),
            ["everyone", "precious"]
        );
        assert_eq!(defaults, ["RoleBinding openshift/shared"]);
    }
}
