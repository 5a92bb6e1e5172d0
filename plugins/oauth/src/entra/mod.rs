//! `register entra`: the Entra ID app registration the guide does by hand in the portal (step 6,
//! option A), through Microsoft Graph v1.0, and the client secret straight into the Secret.
//!
//! Order of the Graph requests (each skipped when nothing would change):
//! 1. `GET /organization` (tenant id; the token must belong to the tenant given)
//! 2. `GET /servicePrincipals(appId='<Microsoft Graph>')` (delegated scope ids)
//! 3. `GET /applications(uniqueName=...)`, then `PATCH` it with `Prefer: create-if-missing`
//! 4. `PATCH /applications/{id}`: identifier URI `api://<appId>`, scope `access_as_user`, v2 tokens
//! 5. `GET`/`POST /servicePrincipals` for the app
//! 6. `POST /applications/{id}/addPassword` (only when the Secret holds no valid password)
//! 7. with `--admin-consent`: `GET`/`POST`/`PATCH /oauth2PermissionGrants`

mod bodies;
pub mod graph;
mod register;
mod report;
#[cfg(test)]
mod tests;
pub mod token;

use oc_mcp_common::{
    ApplyReport, DryRun, Error, ExitCode, GlobalArgs, OutputFormat, Plan, PlannedObject, Result,
    cli, kube_args::Secret, names::InvalidValue, openshift, preflight::require_permissions,
};

use self::{
    graph::{GRAPH_URL, Graph, GraphBase},
    token::TokenSource,
};
use crate::{
    apply,
    names::DeploymentArgs,
    note, secret,
    settings::EntraSettings,
    target::{self, Target},
    uris::{self, RedirectUri, UriKind},
};

pub use bodies::*;
pub use oc_mcp_common::tenant::Tenant;
pub use register::rfc3339;
use register::{ClusterState, GraphOutcome};
pub use report::*;

/// Microsoft Graph's application id (the same in every tenant).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The delegated Graph scopes the MCP server's clients need.
pub const GRAPH_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// Their ids, the same in every tenant; used only to print the steps (a real run reads them).
pub const WELL_KNOWN_SCOPE_IDS: [(&str, &str); 4] = [
    ("openid", "37f7f235-527c-4136-accd-4a02d197296e"),
    ("profile", "14dad69e-099b-42c9-810b-d002981feec1"),
    ("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0"),
    ("offline_access", "7427e0e9-2fba-42fe-b0c0-848c9e6a8182"),
];
/// The scope the app exposes, so access tokens carry the app as audience.
pub const API_SCOPE: &str = "access_as_user";
/// Entra's sign-in host (public cloud).
pub const LOGIN_HOST: &str = "https://login.microsoftonline.com";

#[derive(Debug, Clone, clap::Args)]
pub struct EntraArgs {
    /// The directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com
    #[arg(long, value_name = "TENANT")]
    pub tenant: Tenant,

    /// The application's display name; also its unique name, the key that makes re-runs update
    /// the same application instead of creating another
    #[arg(long, default_value = "kubernetes-mcp-server", value_name = "NAME", value_parser = parse_unique_name)]
    pub display_name: String,

    /// A redirect URI; repeat for more. https URIs become web redirects, loopback http URIs
    /// public-client redirects (CLI logins). Replaces the defaults: https://<route host>/oauth/callback
    /// and http://127.0.0.1/oauth/callback, http://localhost/oauth/callback
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<RedirectUri>,

    /// Grant tenant-wide admin consent for openid, profile, email and offline_access
    #[arg(long)]
    pub admin_consent: bool,

    /// Lifetime of a new client secret, in days
    #[arg(long, value_name = "DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=730))]
    pub secret_days: u32,

    /// Read the Microsoft Graph token from stdin instead of `az account get-access-token`
    #[arg(long)]
    pub graph_token_stdin: bool,

    #[command(flatten)]
    pub graph: GraphArgs,

    #[command(flatten)]
    pub deployment: DeploymentArgs,
}

/// Where Microsoft Graph is (tests point it at a local fake).
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// Microsoft Graph base URL
    #[arg(long, hide = true, env = "OC_MCP_GRAPH_URL", default_value = GRAPH_URL)]
    pub graph_url: GraphBase,
}

/// An Entra unique name (`--display-name`): letters, digits and `-._`, at most 120 characters.
fn parse_unique_name(text: &str) -> std::result::Result<String, InvalidValue> {
    let ok = !text.is_empty()
        && text.len() <= 120
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(InvalidValue {
            reason: format!("{text:?} cannot be the application's unique name"),
            fix: "use at most 120 letters, digits, '-', '.' and '_'",
        })
    }
}

/// The v2.0 issuer of a tenant: what the MCP server's `authorization_url` must be.
pub fn issuer_for(tenant_id: &str) -> String {
    format!("{LOGIN_HOST}/{tenant_id}/v2.0")
}

/// `oc mcp-oauth register entra`: flags, the cluster, Graph, the cluster again, the report.
pub async fn run(global: &GlobalArgs, args: &EntraArgs) -> Result<ExitCode> {
    let given = uris::without_duplicates(&args.redirect_uris);
    let target = target::connect(global).await?;
    let redirects = prepare_cluster(global, args, &target, given).await?;
    let desired = desired(args, &target, &redirects);
    let Some(token) = graph_token_or_steps(global, args, &target, &desired).await? else {
        return Ok(ExitCode::Ok);
    };
    let graph = Graph::new(
        &args.graph.graph_url,
        &token,
        target::request_timeout(global),
    )?;
    let state = cluster_state(&target, &args.deployment.secret_name).await?;
    let dry_run = global.change.dry_run;
    let outcome = register::register(&graph, &desired, &state, dry_run == DryRun::None).await?;
    let settings = settings_for(&desired, &outcome, &args.deployment.secret_name);
    let applied = store(&target, &settings, &outcome, &token, dry_run).await?;
    print_report(
        &summary(settings, desired, outcome, applied),
        global.output.output,
    )?;
    Ok(ExitCode::Ok)
}

/// The cluster before Graph is touched: every permission the run needs (a secret added by
/// addPassword must be storable), the namespace, and the redirect URIs.
async fn prepare_cluster(
    global: &GlobalArgs,
    args: &EntraArgs,
    target: &Target,
    given: Vec<RedirectUri>,
) -> Result<Vec<RedirectUri>> {
    let flavor = openshift::detect(&target.client).await?;
    if global.change.dry_run != DryRun::Client {
        let mut wanted = secret::planned_secret(
            target,
            &args.deployment.secret_name,
            &Secret::new("x"),
            None,
        )?
        .required_permissions();
        wanted.extend(
            PlannedObject::from_typed(&EntraSettings::default().to_configmap(&target.namespace))?
                .required_permissions(),
        );
        if given.is_empty() {
            wanted.extend(uris::route_host_permissions(flavor, &target.namespace));
        }
        require_permissions(&target.client, &wanted).await?;
    }
    target::require_namespace(target).await?;
    let (redirects, host) =
        uris::given_or_defaults(target, flavor, &args.deployment.release, given).await?;
    if let Some(host) = host {
        note(&format!(
            "redirect host {} (from {})",
            host.host, host.source
        ));
    }
    Ok(redirects)
}

/// The application the flags and the redirect URIs describe.
fn desired(args: &EntraArgs, target: &Target, redirects: &[RedirectUri]) -> Desired {
    let of_kind = |kind: UriKind| -> Vec<String> {
        redirects
            .iter()
            .filter(|u| u.kind == kind)
            .map(|u| u.uri.clone())
            .collect()
    };
    Desired {
        tenant: args.tenant.clone(),
        unique_name: args.display_name.clone(),
        display_name: args.display_name.clone(),
        web: of_kind(UriKind::Web),
        public: of_kind(UriKind::Loopback),
        admin_consent: args.admin_consent,
        secret_days: args.secret_days,
        secret_label: format!(
            "oc-mcp {}/{}",
            target.namespace, args.deployment.secret_name
        ),
    }
}

/// The Microsoft Graph token; `None` with `--dry-run=client`, once the steps are printed. Without
/// a token the steps are printed too, for a person to carry out.
async fn graph_token_or_steps(
    global: &GlobalArgs,
    args: &EntraArgs,
    target: &Target,
    desired: &Desired,
) -> Result<Option<Secret>> {
    let print_steps = || {
        print_manual(
            desired,
            &args.graph.graph_url,
            target,
            &args.deployment.secret_name,
            global.output.output,
        )
    };
    if global.change.dry_run == DryRun::Client {
        print_steps()?;
        return Ok(None);
    }
    let source = TokenSource::detect(args.graph_token_stdin);
    if let Some(token) = token::graph_token(&source, desired.tenant.as_str()).await? {
        return Ok(Some(token));
    }
    print_steps()?;
    Err(Error::Failed {
        message: "no Microsoft Graph token: `az` is not on PATH and --graph-token-stdin was not given; nothing was registered".into(),
        hint: Some("do the steps printed above by hand, or install the Azure CLI and `az login`, or pipe a token into --graph-token-stdin".into()),
    })
}

/// What the cluster holds before Graph: the stored secret and the settings of a previous run.
async fn cluster_state(target: &Target, secret_name: &str) -> Result<ClusterState> {
    Ok(ClusterState {
        stored: secret::read_stored(target, secret_name)
            .await?
            .and_then(|s| s.value),
        settings: crate::settings::read(target)
            .await?
            .and_then(|d| EntraSettings::from_data(&d)),
    })
}

/// The settings ConfigMap's content after the Graph part.
fn settings_for(desired: &Desired, outcome: &GraphOutcome, secret_name: &str) -> EntraSettings {
    EntraSettings {
        tenant_id: outcome.tenant_id.clone(),
        client_id: outcome.app_id.clone(),
        object_id: outcome.object_id.clone(),
        unique_name: desired.unique_name.clone(),
        issuer_url: issuer_for(&outcome.tenant_id),
        audience: outcome.app_id.clone(),
        scopes: client_scopes(&outcome.app_id),
        secret_name: secret_name.to_owned(),
        secret_key_id: outcome.key_id.clone(),
        secret_expires: outcome.secret_end.clone(),
    }
}

/// The cluster after Graph: the Secret and the settings ConfigMap. When they are not stored,
/// the error names a password Graph added that nothing holds.
async fn store(
    target: &Target,
    settings: &EntraSettings,
    outcome: &GraphOutcome,
    token: &Secret,
    dry_run: DryRun,
) -> Result<ApplyReport> {
    let mut plan = Plan::new();
    // In a server dry run that would add a password, validate the Secret with a stand-in value.
    let stand_in = Secret::new("server-dry-run");
    let value = outcome.secret.as_ref().unwrap_or(&stand_in);
    plan.push(secret::planned_secret(
        target,
        &settings.secret_name,
        value,
        Some(&outcome.app_id),
    )?);
    plan.push(PlannedObject::from_typed(
        &settings.to_configmap(&target.namespace),
    )?);
    let mut secrets: Vec<&Secret> = vec![token, value];
    if let Some(p) = &outcome.new_password {
        secrets.push(&p.value);
    }
    match apply::apply_scrubbed(&target.client, &plan, dry_run, &secrets).await {
        Ok(report) if report.succeeded() => Ok(report),
        Ok(report) => {
            report.print(OutputFormat::Table)?;
            Err(lost_password_error(outcome))
        }
        Err(err) => {
            cli::warn(&err.to_string());
            Err(lost_password_error(outcome))
        }
    }
}

/// What the registration is, for the report.
fn summary(
    settings: EntraSettings,
    desired: Desired,
    outcome: GraphOutcome,
    apply: ApplyReport,
) -> EntraReport {
    EntraReport {
        tenant_id: settings.tenant_id,
        client_id: settings.client_id,
        object_id: settings.object_id,
        issuer_url: settings.issuer_url,
        audience: settings.audience,
        scopes: settings.scopes,
        web_redirect_uris: desired.web,
        public_client_redirect_uris: desired.public,
        steps: outcome.steps,
        apply,
    }
}

/// The scopes a client asks for: the delegated ones plus the app's own (audience = the app).
pub fn client_scopes(app_id: &str) -> String {
    format!("{} api://{app_id}/{API_SCOPE}", GRAPH_SCOPES.join(" "))
}

fn lost_password_error(outcome: &GraphOutcome) -> Error {
    match &outcome.new_password {
        Some(p) => Error::Failed {
            message: format!(
                "the application has a new client secret (key id {}) but the cluster did not store it",
                p.key_id
            ),
            hint: Some(format!(
                "fix the cause above and re-run (a new secret is added); remove the lost one with \
                 `az ad app credential delete --id {} --key-id {}`",
                outcome.app_id, p.key_id
            )),
        },
        None => Error::failed("not every cluster object was applied; re-run to converge"),
    }
}
