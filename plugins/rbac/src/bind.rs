//! `bind` and `unbind`: one ClusterRoleBinding per subject, named deterministically.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
};
use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, Plan, PlannedObject, Result, cli, defaults,
    openshift::{self, Group},
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
    preflight::{Permission, RBAC_GROUP, require_permissions, require_permissions_or_held},
    rbac_intent,
};
use serde::Serialize;

use oc_mcp_common::subject::GroupName;

use crate::subjects::{NamedSubjects, Subject};

/// Label naming the role a binding of ours grants, so `status` and `unbind` can find them.
pub const ROLE_LABEL: &str = "oc-mcp.io/role";
/// Annotation holding the subject exactly as given (binding names are slugs).
pub const SUBJECT_ANNOTATION: &str = "oc-mcp.io/subject";

#[derive(Debug, Clone, clap::Args)]
pub struct SubjectArgs {
    /// Groups to bind (OpenShift groups or identity-provider group names / Entra object IDs)
    #[arg(value_name = "GROUP")]
    pub groups: Vec<GroupName>,

    #[command(flatten)]
    pub named: NamedSubjects,

    /// The ClusterRole to bind
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: String,
}

impl SubjectArgs {
    pub fn subjects(&self) -> Result<Vec<Subject>> {
        crate::role::validate_object_name(&self.role, "--role")?;
        let subjects = self.named.with_groups(&self.groups)?;
        if subjects.is_empty() {
            return Err(Error::usage_with_hint(
                "no subject given",
                "name at least one group, or pass --user USER or --service-account NAMESPACE:NAME",
            ));
        }
        Ok(subjects)
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct BindArgs {
    #[command(flatten)]
    pub subjects: SubjectArgs,

    /// Refuse (instead of warning) when only service accounts are bound: with per-user token
    /// passthrough the server acts as each user, so a service account binding grants users nothing
    #[arg(long)]
    pub strict: bool,

    /// Take over a binding of the same name that oc-mcp did not make. It never lets a binding
    /// name everyone, anonymous or a role that is not read-only
    #[arg(long)]
    pub force: bool,

    /// Bind a ClusterRole oc-mcp did not make (one your GitOps repository keeps, say). Its rules
    /// must still be read-only with no risky read, and it must not aggregate other roles
    #[arg(long)]
    pub allow_unmanaged_role: bool,
}

/// Refuse subjects that are not a real group of people: there is no legitimate use of the
/// MCP role bound to everyone, to anonymous requests or to the platform's own identities.
pub fn refuse_virtual_subjects(subjects: &[Subject]) -> Result<()> {
    for subject in subjects {
        if let Some(why) = rbac_intent::virtual_subject(subject.kind(), &subject.display_name()) {
            return Err(Error::usage_with_hint(
                format!("refusing to bind {subject}: {why}"),
                why.hint(),
            ));
        }
    }
    Ok(())
}

/// Refuse a role that is not oc-mcp's read-only role (or, with `allow_unmanaged`, a reviewed
/// read-only one): the binding would hand its rights to every member.
pub fn refuse_unsafe_role(role: &ClusterRole, allow_unmanaged: bool) -> Result<()> {
    let name = role.name_any();
    let risks = rbac_intent::risky_grants(role.rules.as_deref().unwrap_or_default());
    let listed = || {
        let mut shown: Vec<String> = risks.iter().take(5).map(ToString::to_string).collect();
        if risks.len() > 5 {
            shown.push(format!("and {} more", risks.len() - 5));
        }
        shown.join("; ")
    };
    if role.aggregation_rule.is_some() {
        return Err(Error::usage_with_hint(
            format!(
                "refusing to bind ClusterRole {name}: it aggregates other roles (aggregationRule), \
                 so it grants whatever any matching role grants, now or later"
            ),
            ROLE_HINT,
        ));
    }
    if !rbac_intent::is_managed(role) && !allow_unmanaged {
        let grants = if risks.is_empty() {
            String::new()
        } else {
            format!(", and it grants: {}", listed())
        };
        return Err(Error::usage_with_hint(
            format!(
                "refusing to bind ClusterRole {name}: it was not made by oc-mcp (no managed-by \
                 label or recorded profile){grants}"
            ),
            format!(
                "{ROLE_HINT}; for a reviewed read-only role of your own, pass --allow-unmanaged-role"
            ),
        ));
    }
    if !risks.is_empty() {
        return Err(Error::usage_with_hint(
            format!(
                "refusing to bind ClusterRole {name}: it grants what a read-only MCP role must not: {}",
                listed()
            ),
            format!("restore it with `oc mcp-rbac role --name {name}`, then bind again"),
        ));
    }
    Ok(())
}

const ROLE_HINT: &str =
    "bind the read-only ClusterRole `oc mcp-rbac role` makes (--role mcp-readonly, the default)";

/// The binding oc-mcp makes for one subject.
pub fn binding_for(role: &str, subject: &Subject) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(subject.binding_name(role)),
            labels: Some([(ROLE_LABEL.to_owned(), role.to_owned())].into()),
            annotations: Some([(SUBJECT_ANNOTATION.to_owned(), subject.to_string())].into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.to_owned(),
        },
        subjects: Some(vec![subject.to_rbac()]),
    }
}

fn is_ours(binding: &ClusterRoleBinding) -> bool {
    binding.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

/// `oc mcp-rbac bind`
pub async fn run_bind(global: &GlobalArgs, args: &BindArgs) -> Result<ExitCode> {
    let subjects = args.subjects.subjects()?;
    refuse_virtual_subjects(&subjects)?;
    let client = global.kube.client().await?;
    // Everything planning reads and applying writes, asked at once before anything else.
    let mut wanted = vec![Permission::new(
        "get",
        "rbac.authorization.k8s.io",
        "clusterroles",
    )];
    for subject in &subjects {
        wanted.extend(
            PlannedObject::from_typed(&binding_for(&args.subjects.role, subject))?
                .required_permissions(),
        );
    }
    wanted.dedup_by_key(|p| p.key());
    if global.change.dry_run.sends() {
        let role = &args.subjects.role;
        let bind = Permission::new("bind", RBAC_GROUP, "clusterroles").named(role);
        let live_rules = || async {
            let roles: Api<ClusterRole> = Api::all(client.clone());
            Ok(roles
                .get_opt(role)
                .await?
                .and_then(|r| r.rules)
                .unwrap_or_default())
        };
        require_permissions_or_held(&client, &wanted, bind, live_rules).await?;
    }
    let (plan, warnings) = plan_bind(&client, args, &subjects).await?;
    for warning in &warnings {
        cli::warn(warning);
    }
    plan.execute_preflighted(&client, global).await
}

/// `oc mcp-rbac unbind`
pub async fn run_unbind(global: &GlobalArgs, args: &UnbindArgs) -> Result<ExitCode> {
    let subjects = args.subjects.subjects()?;
    let output = &global.output;
    let client = global.kube.client().await?;
    let group = "rbac.authorization.k8s.io";
    let mut needed = vec![
        Permission::new("list", group, "clusterrolebindings"),
        Permission::new("delete", group, "clusterrolebindings"),
    ];
    if args.force {
        needed.push(Permission::new("update", group, "clusterrolebindings"));
    }
    if global.change.dry_run.sends() {
        require_permissions(&client, &needed).await?;
    }
    let (report, failure) = unbind(&client, args, &subjects, global.change.dry_run).await?;
    cli::emit(&report, output.output)?;
    match failure {
        None => Ok(ExitCode::Ok),
        Some(error) => Err(error.after_partial_change(&report.summary())),
    }
}

/// Warnings that do not stop `bind` (unless `--strict`).
pub fn service_account_only_warning(subjects: &[Subject]) -> Option<String> {
    subjects
        .iter()
        .all(|s| matches!(s, Subject::ServiceAccount { .. }))
        .then(|| {
            "only service accounts are bound: with token passthrough (the default of oc mcp-install) \
             the server calls the API as each user, so users get nothing from this binding; \
             bind the users' group instead"
                .to_owned()
        })
}

/// Build the plan for `bind`, after reading what exists. `subjects` are the flags' subjects,
/// parsed once and refused if virtual by the caller.
pub async fn plan_bind(
    client: &Client,
    args: &BindArgs,
    subjects: &[Subject],
) -> Result<(Plan, Vec<String>)> {
    let role = &args.subjects.role;
    let mut warnings = Vec::new();
    if let Some(warning) = service_account_only_warning(subjects) {
        if args.strict {
            return Err(Error::usage_with_hint(
                warning,
                "drop --strict to bind anyway",
            ));
        }
        warnings.push(warning);
    }
    match Api::<ClusterRole>::all(client.clone()).get_opt(role).await? {
        Some(live) => {
            refuse_unsafe_role(&live, args.allow_unmanaged_role)?;
            let drift = rbac_intent::profile_drift(&live);
            if !drift.is_clean() {
                warnings.push(format!(
                    "ClusterRole {role} differs from its profile ({}): restore it with `oc mcp-rbac role --name {role}`",
                    drift.lines().join(", ")
                ));
            }
        }
        // The default role may be made after the binding; `status` and `check` judge it then.
        None if role == defaults::CLUSTER_ROLE => warnings.push(format!(
            "ClusterRole {role} does not exist yet: the bindings grant nothing until `oc mcp-rbac role` creates it"
        )),
        // Any other name could later be given to a role with any rights.
        None => {
            return Err(Error::usage_with_hint(
                format!("refusing to bind ClusterRole {role}: it does not exist"),
                format!("create it first with `oc mcp-rbac role --name {role}`"),
            ));
        }
    }
    let flavor = openshift::detect(client).await?;
    let groups_api: Api<Group> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let mut plan = Plan::new();
    for subject in subjects {
        if let (Subject::Group { name }, true) = (subject, flavor.openshift) {
            // Reading groups is optional: without permission, say nothing rather than fail.
            let exists = if crate::role::validate_object_name(name, "group").is_ok() {
                groups_api.get_opt(name).await.map_or(true, |g| g.is_some())
            } else {
                false
            };
            if !exists {
                warnings.push(format!(
                    "OpenShift group {name:?} does not exist; that is fine for an identity-provider group \
                     (it appears when a member logs in), otherwise check the spelling"
                ));
            }
        }
        let binding = binding_for(role, subject);
        let name = binding.name_any();
        let mut force = false;
        let existing = bindings.get_opt(&name).await?;
        if let Some(existing) = &existing
            && !is_ours(existing)
        {
            if !args.force {
                return Err(Error::Failed {
                    message: format!("ClusterRoleBinding {name} exists and was not made by oc-mcp"),
                    hint: Some(
                        "inspect it (`oc get clusterrolebinding NAME -o yaml`), or re-run with --force".into(),
                    ),
                });
            }
            force = true;
        }
        plan.push(
            PlannedObject::from_typed(&binding)?
                .with_force(force)
                .with_live(existing.as_ref()),
        );
    }
    Ok((plan, warnings))
}

#[derive(Debug, Clone, clap::Args)]
pub struct UnbindArgs {
    #[command(flatten)]
    pub subjects: SubjectArgs,

    /// Also remove the subjects from bindings oc-mcp did not make (for example the
    /// `mcp-readonly` binding `oc adm policy add-cluster-role-to-group` creates)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnbindAction {
    pub subject: String,
    pub binding: String,
    pub ours: bool,
    /// `deleted`, `subject removed`, `left alone (not made by oc-mcp; --force to change)`,
    /// `not bound`, or after a write failed: `failed` (with `error`), then `not done`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnbindReport {
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
    pub actions: Vec<UnbindAction>,
}

const FAILED: &str = "failed";
const NOT_DONE: &str = "not done";

impl UnbindReport {
    /// What a failed run did and did not do, to lead its error.
    pub fn summary(&self) -> String {
        let count = |result: &str| self.actions.iter().filter(|a| a.result == result).count();
        let (failed, not_done) = (count(FAILED), count(NOT_DONE));
        format!(
            "{} of {} bindings handled, {failed} failed, {not_done} not done (the report says which)",
            self.actions.len() - failed - not_done,
            self.actions.len()
        )
    }
}

impl oc_mcp_common::output::Tabular for UnbindReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["SUBJECT", "BINDING", "MADE BY OC-MCP", "RESULT"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        self.actions
            .iter()
            .map(|a| {
                vec![
                    a.subject.clone(),
                    a.binding.clone(),
                    if a.ours { "yes" } else { "no" }.into(),
                    if self.dry_run {
                        format!("{} (dry run)", a.result)
                    } else {
                        a.result.clone()
                    },
                ]
            })
            .collect()
    }
}

/// Remove what `bind` made for each subject; report (and with `--force` edit) other bindings.
///
/// A write that fails ends the run: the report names what was done, what failed and what was
/// not done, and the error comes back beside it.
pub async fn unbind(
    client: &Client,
    args: &UnbindArgs,
    subjects: &[Subject],
    mode: DryRun,
) -> Result<(UnbindReport, Option<Error>)> {
    // --dry-run=client decides without writing; server mode sends the writes with dryRun=All.
    let write = mode.sends();
    let dry_run = !mode.writes();
    let role = &args.subjects.role;
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    let all = api.list(&ListParams::default()).await?;
    let mut actions = Vec::new();
    let mut failure: Option<Error> = None;
    let delete = DeleteParams {
        dry_run,
        ..DeleteParams::default()
    };
    let post = PostParams {
        dry_run,
        field_manager: Some(oc_mcp_common::plan::FIELD_MANAGER.into()),
    };
    for subject in subjects {
        let wanted = subject.to_rbac();
        let holding: Vec<&ClusterRoleBinding> = all
            .items
            .iter()
            .filter(|b| b.role_ref.kind == "ClusterRole" && &b.role_ref.name == role)
            .filter(|b| {
                b.subjects
                    .iter()
                    .flatten()
                    .any(|s| same_subject(s, &wanted))
            })
            .collect();
        if holding.is_empty() {
            actions.push(UnbindAction {
                subject: subject.to_string(),
                binding: "-".into(),
                ours: false,
                result: "not bound".into(),
                error: None,
            });
        }
        for binding in holding {
            let name = binding.name_any();
            let ours = is_ours(binding);
            let others: Vec<_> = binding
                .subjects
                .iter()
                .flatten()
                .filter(|s| !same_subject(s, &wanted))
                .cloned()
                .collect();
            let (result, written) = if failure.is_some() {
                (NOT_DONE, Ok(()))
            } else if !ours && !args.force {
                ("left alone (not made by oc-mcp; --force to change)", Ok(()))
            } else if others.is_empty() {
                let deleted = if write {
                    match api.delete(&name, &delete).await {
                        // Gone already: another run got there first.
                        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                        other => other.map(drop),
                    }
                } else {
                    Ok(())
                };
                ("deleted", deleted)
            } else {
                // Keep the other subjects; the resourceVersion makes a concurrent edit a conflict.
                let mut edited = binding.clone();
                edited.subjects = Some(others);
                let replaced = if write {
                    api.replace(&name, &post, &edited).await.map(drop)
                } else {
                    Ok(())
                };
                ("subject removed", replaced)
            };
            let (result, error) = match written {
                Ok(()) => (result, None),
                Err(err) => {
                    let err = Error::from(err);
                    let text = err.to_string();
                    failure = Some(err);
                    (FAILED, Some(text))
                }
            };
            actions.push(UnbindAction {
                subject: subject.to_string(),
                binding: name,
                ours,
                result: result.to_owned(),
                error,
            });
        }
    }
    Ok((UnbindReport { dry_run, actions }, failure))
}

fn same_subject(
    a: &k8s_openapi::api::rbac::v1::Subject,
    b: &k8s_openapi::api::rbac::v1::Subject,
) -> bool {
    a.kind == b.kind
        && a.name == b.name
        && (a.kind != "ServiceAccount"
            || a.namespace.as_deref().unwrap_or_default()
                == b.namespace.as_deref().unwrap_or_default())
}
