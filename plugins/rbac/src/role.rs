//! `role`: server-side apply the read-only ClusterRole of one profile.

use std::path::PathBuf;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::{Api, Client, api::ObjectMeta};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Plan, PlannedObject, Result, cli, defaults,
    kube_args::Secret,
    mcp::{McpSession, McpTarget},
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
    preflight::{Permission, RBAC_GROUP, require_permissions_or_held},
};

use crate::profiles::{self, Profile, ToolsOptions};

/// The annotations recording the profile and the fingerprint of the rules as applied; defined
/// with the intent they record, in `oc_mcp_common::rbac_intent`.
pub use oc_mcp_common::rbac_intent::{FINGERPRINT_ANNOTATION, PROFILE_ANNOTATION};

#[derive(Debug, Clone, clap::Args)]
pub struct RoleArgs {
    /// Which rule set: the guide's option A (`full`), option B (`minimal`), or derived from the
    /// server's tools (`tools`, needs --from-tools)
    #[arg(long, value_enum, default_value_t = Profile::Full)]
    pub profile: Profile,

    /// Name of the ClusterRole
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub name: String,

    /// A saved `tools/list` reply of the server (JSON), for --profile tools
    #[arg(long, value_name = "FILE", conflicts_with = "from_server")]
    pub from_tools: Option<PathBuf>,

    /// Read the tool list from a running server's MCP endpoint (e.g. https://HOST/mcp), for
    /// --profile tools. The bearer token comes from $OC_MCP_TOKEN or --server-token-file
    #[arg(long, value_name = "URL")]
    pub from_server: Option<String>,

    /// File holding the bearer token for --from-server (`-` reads stdin)
    #[arg(long, value_name = "FILE", requires = "from_server")]
    pub server_token_file: Option<PathBuf>,

    /// PEM file of CAs to trust for --from-server (e.g. the cluster's ingress CA)
    #[arg(long, value_name = "FILE", requires = "from_server")]
    pub server_ca: Option<PathBuf>,

    /// For tools that read any kind the caller names (resources_get, resources_list): grant
    /// reads on the resources of this profile
    #[arg(long, value_enum, default_value_t = Profile::Minimal, value_name = "PROFILE")]
    pub generic_resources: Profile,

    /// Also grant nodes/proxy (node logs and stats tools). Off by default: it reaches the
    /// kubelet API, which can be abused to run commands in pods, so `status` and `check`
    /// report such a role as risky (exit 1)
    #[arg(long)]
    pub include_node_proxy: bool,

    /// Replace a role of the same name made from another profile or by someone else
    #[arg(long)]
    pub force: bool,
}

/// The validated request: the exact role to apply.
#[derive(Debug, Clone)]
pub struct RolePlan {
    pub role: ClusterRole,
    pub profile: Profile,
    /// Tools whose needs were not granted, with the reason.
    pub omissions: Vec<profiles::Omission>,
    pub force: bool,
}

/// Where the `tools` profile reads the server's tool list from.
#[derive(Debug, Clone)]
pub enum ToolsSource {
    /// The JSON text of a saved `tools/list` reply.
    Json(String),
    /// Not needed: a fixed profile.
    None,
}

impl RoleArgs {
    /// Validate the flags that need no I/O; fails before anything is read.
    fn validate(&self) -> Result<()> {
        validate_object_name(&self.name, "--name")?;
        let has_source = self.from_tools.is_some() || self.from_server.is_some();
        match (self.profile, has_source) {
            (Profile::Tools, false) => Err(Error::usage_with_hint(
                "--profile tools needs the server's tool list",
                "save the server's tools/list reply and pass --from-tools FILE, or pass --from-server URL",
            )),
            (Profile::Full | Profile::Minimal, true) => Err(Error::usage_with_hint(
                "--from-tools and --from-server only apply to --profile tools",
                "drop them, or use --profile tools",
            )),
            _ if self.generic_resources == Profile::Tools => {
                Err(Error::usage("--generic-resources must be full or minimal"))
            }
            _ => Ok(()),
        }
    }

    /// Read the tool list from the file or the running server.
    pub async fn tools_source(&self) -> Result<ToolsSource> {
        self.validate()?;
        if let Some(path) = &self.from_tools {
            return Ok(ToolsSource::Json(read_limited(path)?));
        }
        let Some(url) = &self.from_server else {
            return Ok(ToolsSource::None);
        };
        validate_server_url(url)?;
        let token = match &self.server_token_file {
            Some(path) => Some(read_token_file(path)?),
            None => std::env::var("OC_MCP_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| t.trim().to_owned()),
        };
        let mut target = McpTarget::new(url).with_token(token.map(Secret::new));
        if let Some(ca) = &self.server_ca {
            target.extra_ca_pem = Some(std::fs::read(ca).map_err(|e| {
                Error::usage_with_hint(
                    format!("cannot read --server-ca {}: {e}", ca.display()),
                    "pass a PEM file",
                )
            })?);
        }
        let session = McpSession::connect(&target).await?;
        let tools = session.tools().await;
        session.close().await;
        let json = serde_json::to_string(&serde_json::json!({ "tools": tools? }))
            .map_err(|e| Error::failed(format!("cannot encode the tool list: {e}")))?;
        Ok(ToolsSource::Json(json))
    }

    /// Build the exact role; `source` comes from [`Self::tools_source`].
    pub fn plan(&self, source: &ToolsSource) -> Result<RolePlan> {
        self.validate()?;
        let (rules, omissions) = match (self.profile, source) {
            (Profile::Full, _) => (profiles::full_rules(), Vec::new()),
            (Profile::Minimal, _) => (profiles::minimal_rules(), Vec::new()),
            (Profile::Tools, ToolsSource::None) => {
                return Err(Error::usage(
                    "--profile tools needs --from-tools or --from-server",
                ));
            }
            (Profile::Tools, ToolsSource::Json(text)) => {
                let derived = profiles::derive_from_tools(
                    text,
                    ToolsOptions {
                        generic_resources: self.generic_resources,
                        include_node_proxy: self.include_node_proxy,
                    },
                )?;
                (derived.rules, derived.omissions)
            }
        };
        Ok(RolePlan {
            role: cluster_role(&self.name, self.profile, rules),
            profile: self.profile,
            omissions,
            force: self.force,
        })
    }
}

/// `oc mcp-rbac role`
pub async fn run(global: &GlobalArgs, args: &RoleArgs) -> Result<ExitCode> {
    let output = &global.output;
    let source = args.tools_source().await?;
    let plan = args.plan(&source)?;
    for omission in &plan.omissions {
        cli::warn(&format!(
            "tool {} is not fully granted: {}",
            omission.tool, omission.reason
        ));
    }
    // Only an explicit opt-in (--include-node-proxy) gets here; say what it costs.
    for risk in
        oc_mcp_common::rbac_intent::risky_grants(plan.role.rules.as_deref().unwrap_or_default())
    {
        cli::warn(&format!(
            "the role grants {risk}: `status` and `check` will report it (exit 1)"
        ));
    }
    if global.change.dry_run.prints_only() {
        let mut rendered = Plan::new();
        rendered.push(PlannedObject::from_typed(&plan.role)?);
        rendered.print_client_dry_run(output.output)?;
        return Ok(ExitCode::Ok);
    }
    let client = global.kube.client().await?;
    // Ask for the reads and the writes at once, before reading anything.
    let wanted = PlannedObject::from_typed(&plan.role)?.required_permissions();
    let escalate = Permission::new("escalate", RBAC_GROUP, "clusterroles").named(&args.name);
    let rules = plan.role.rules.clone().unwrap_or_default();
    require_permissions_or_held(&client, &wanted, escalate, || async { Ok(rules) }).await?;
    let mut apply = Plan::new();
    apply.push(checked_object(&client, &plan).await?);
    apply.execute_preflighted(&client, global).await
}

/// A token file holds one token; `-` is stdin. The token never appears in messages.
fn read_token_file(path: &std::path::Path) -> Result<String> {
    let text = if path.as_os_str() == "-" {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut buf)
            .map_err(|e| Error::usage(format!("cannot read the token from stdin: {e}")))?;
        buf
    } else {
        // Bounded like every secret input: a wrong path (an image, a device) is refused
        // instead of being read whole and sent as a header.
        let source = oc_mcp_common::secret_input::SecretSource::File(path.to_owned());
        return oc_mcp_common::secret_input::read_secret_from(
            &source,
            "--server-token-file token",
            &mut std::io::empty(),
        )
        .and_then(|token| {
            let token = token.expose().trim();
            if token.is_empty() || token.contains(char::is_whitespace) {
                Err(Error::usage_with_hint(
                    "the token file must hold exactly one token",
                    "write only the token (e.g. `oc whoami -t > FILE`)",
                ))
            } else {
                Ok(token.to_owned())
            }
        });
    };
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Error::usage_with_hint(
            "the token file must hold exactly one token",
            "write only the token (e.g. `oc whoami -t > FILE`)",
        ));
    }
    Ok(token.to_owned())
}

/// `--from-server` must be an http(s) URL with a host, checked before any connection so a
/// typo is a usage error (exit 2), not an unreachable server (exit 4).
fn validate_server_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_some_and(|h| !h.is_empty()) && !url.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(Error::usage_with_hint(
            format!("--from-server {url:?} is not an http(s) URL"),
            "pass the server's MCP endpoint, e.g. https://kubernetes-mcp-server-mcp-server.apps.example.com/mcp",
        ))
    }
}

/// Tool lists are small; refuse anything that is clearly not one.
fn read_limited(path: &std::path::Path) -> Result<String> {
    const LIMIT: u64 = 8 * 1024 * 1024;
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::usage_with_hint(
            format!("cannot read --from-tools {}: {e}", path.display()),
            "pass the path of a saved tools/list reply",
        )
    })?;
    if meta.len() > LIMIT {
        return Err(Error::usage_with_hint(
            format!(
                "--from-tools {} is {} bytes; a tools/list reply is far smaller",
                path.display(),
                meta.len()
            ),
            "pass the saved reply to `tools/list` only (JSON), or use --from-server URL",
        ));
    }
    std::fs::read_to_string(path).map_err(|e| {
        Error::usage_with_hint(
            format!("cannot read --from-tools {}: {e}", path.display()),
            "pass the path of a saved tools/list reply (UTF-8 JSON)",
        )
    })
}

/// Object names are DNS subdomains (RFC 1123); one implementation for every plugin.
pub use oc_mcp_common::names::validate_object_name;

pub fn cluster_role(name: &str, profile: Profile, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations: Some(
                [
                    (PROFILE_ANNOTATION.to_owned(), profile.as_str().to_owned()),
                    (
                        FINGERPRINT_ANNOTATION.to_owned(),
                        profiles::rules_fingerprint(&rules),
                    ),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// Why an existing role may not be replaced silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    OtherProfile { existing: String },
    NotOurs,
    EditedByHand,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OtherProfile { existing } => write!(f, "it was made from profile {existing:?}"),
            Self::NotOurs => f.write_str("it was not made by oc-mcp"),
            Self::EditedByHand => f.write_str("its rules were edited after oc-mcp applied them"),
        }
    }
}

/// Decide whether `existing` may be replaced by the planned role without `--force`.
pub fn conflict(existing: &ClusterRole, planned: &RolePlan) -> Option<Conflict> {
    let annotations = existing.metadata.annotations.clone().unwrap_or_default();
    let labels = existing.metadata.labels.clone().unwrap_or_default();
    if labels.get(MANAGED_BY_LABEL).map(String::as_str) != Some(MANAGED_BY_VALUE) {
        return Some(Conflict::NotOurs);
    }
    match annotations.get(PROFILE_ANNOTATION) {
        Some(profile) if profile != planned.profile.as_str() => {
            return Some(Conflict::OtherProfile {
                existing: profile.clone(),
            });
        }
        None => return Some(Conflict::NotOurs),
        Some(_) => {}
    }
    let live_rules = existing.rules.as_deref().unwrap_or_default();
    let live = profiles::rules_fingerprint(live_rules);
    let planned_rules = planned.role.rules.as_deref().unwrap_or_default();
    // A fixed profile's rules are known: any difference is an edit, whatever the annotation says.
    let fixed_differs = planned.profile != Profile::Tools
        && profiles::normalize(live_rules) != profiles::normalize(planned_rules);
    if annotations.get(FINGERPRINT_ANNOTATION) != Some(&live) || fixed_differs {
        return Some(Conflict::EditedByHand);
    }
    None
}

/// `+ verb group/resource` for grants the plan adds, `- ...` for grants it removes.
pub fn diff(existing: &[PolicyRule], planned: &[PolicyRule]) -> Vec<String> {
    let before = profiles::grants(existing);
    let after = profiles::grants(planned);
    let show = |(group, resource, verb): &(String, String, String)| {
        if group.is_empty() {
            format!("{verb} {resource}")
        } else {
            format!("{verb} {resource}.{group}")
        }
    };
    let mut lines: Vec<String> = before
        .difference(&after)
        .map(|g| format!("- {}", show(g)))
        .collect();
    lines.extend(after.difference(&before).map(|g| format!("+ {}", show(g))));
    lines
}

/// Read the live role and turn the plan into an applicable object, or refuse with the diff.
pub async fn checked_object(client: &Client, plan: &RolePlan) -> Result<PlannedObject> {
    let api: Api<ClusterRole> = Api::all(client.clone());
    let name = plan.role.metadata.name.clone().unwrap_or_default();
    let mut force = false;
    let existing = api.get_opt(&name).await?;
    if let Some(conflict) = existing.as_ref().and_then(|e| conflict(e, plan)) {
        // Our own role, same profile, edited since: the profile is the intent, so a re-run
        // restores it (taking the fields over from the editor) and says what it put back.
        if conflict == Conflict::EditedByHand {
            let live = existing
                .as_ref()
                .and_then(|e| e.rules.clone())
                .unwrap_or_default();
            let changes = diff(&live, plan.role.rules.as_deref().unwrap_or_default());
            let shown = if changes.is_empty() {
                "only the recorded fingerprint".to_owned()
            } else {
                changes.join(", ")
            };
            cli::warn(&format!(
                "ClusterRole {name} was edited after oc-mcp applied it; restoring profile {}: {shown}",
                plan.profile.as_str()
            ));
            if existing
                .as_ref()
                .is_some_and(|e| e.aggregation_rule.is_some())
            {
                cli::warn(&format!(
                    "ClusterRole {name} has an aggregationRule oc-mcp did not set: remove it \
                     (`oc patch clusterrole {name} --type=json -p '[{{\"op\":\"remove\",\"path\":\"/aggregationRule\"}}]'`)"
                ));
            }
            return Ok(PlannedObject::from_typed(&plan.role)?
                .with_force(true)
                .with_live(existing.as_ref()));
        }
        if !plan.force {
            let live = existing.and_then(|e| e.rules).unwrap_or_default();
            let changes = diff(&live, plan.role.rules.as_deref().unwrap_or_default());
            let shown = if changes.is_empty() {
                "the rules are the same; only the ownership differs".to_owned()
            } else {
                changes.join("\n  ")
            };
            return Err(Error::Failed {
                message: format!(
                    "ClusterRole {name} already exists and {conflict}; applying profile {} would change:\n  {shown}",
                    plan.profile.as_str()
                ),
                hint: Some(
                    "the guide says to apply only one option under this name: keep the existing role, \
                     choose another --name, or re-run with --force to replace it"
                        .into(),
                ),
            });
        }
        tracing::warn!("replacing ClusterRole {name}: {conflict} (--force)");
        force = true;
    }
    Ok(PlannedObject::from_typed(&plan.role)?
        .with_force(force)
        .with_live(existing.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(profile: Profile) -> RoleArgs {
        RoleArgs {
            profile,
            name: "mcp-readonly".into(),
            from_tools: None,
            from_server: None,
            server_token_file: None,
            server_ca: None,
            generic_resources: Profile::Minimal,
            include_node_proxy: false,
            force: false,
        }
    }

    fn live(plan: &RolePlan) -> ClusterRole {
        let mut role = plan.role.clone();
        role.metadata
            .labels
            .get_or_insert_default()
            .insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
        role
    }

    #[test]
    fn conflicts_are_detected() {
        let full = args(Profile::Full).plan(&ToolsSource::None).expect("full");
        let minimal = args(Profile::Minimal)
            .plan(&ToolsSource::None)
            .expect("minimal");
        assert_eq!(conflict(&live(&full), &full), None);
        assert_eq!(
            conflict(&live(&full), &minimal),
            Some(Conflict::OtherProfile {
                existing: "full".into()
            })
        );
        assert_eq!(conflict(&full.role, &full), Some(Conflict::NotOurs));
        let mut edited = live(&full);
        edited.rules.get_or_insert_default().push(PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into()]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        });
        assert_eq!(conflict(&edited, &full), Some(Conflict::EditedByHand));
        assert_eq!(
            diff(
                edited.rules.as_deref().unwrap_or_default(),
                full.role.rules.as_deref().unwrap_or_default()
            ),
            ["- get secrets"]
        );
    }

    #[test]
    fn bad_role_arguments_are_usage_errors() {
        let none = ToolsSource::None;
        let mut a = args(Profile::Tools);
        assert_eq!(
            a.plan(&none)
                .expect_err("tools without file")
                .exit_code()
                .code(),
            2
        );
        a.from_tools = Some("/nonexistent/tools.json".into());
        let missing = read_limited(a.from_tools.as_deref().expect("set")).expect_err("missing");
        assert!(
            missing.to_string().contains("cannot read --from-tools"),
            "{missing}"
        );
        let mut b = args(Profile::Full);
        b.name = "MCP_Readonly".into();
        let bad_name = b.plan(&none).expect_err("bad name");
        assert!(
            bad_name.to_string().contains("not a valid object name"),
            "{bad_name}"
        );
        let mut c = args(Profile::Full);
        c.from_server = Some("https://mcp.example/mcp".into());
        let mixed = c.plan(&none).expect_err("source with a fixed profile");
        assert!(
            mixed.to_string().contains("only apply to --profile tools"),
            "{mixed}"
        );
    }
}
