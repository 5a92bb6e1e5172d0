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

use std::time::Duration;

use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, OutputFormat, Plan, PlannedObject, Result, cli,
    kube_args::Secret,
    openshift,
    preflight::{Permission, require_permissions},
};

use self::{
    graph::{GRAPH_URL, Graph},
    token::TokenSource,
};
use crate::{
    apply,
    names::{self, DeploymentArgs, note},
    secret,
    settings::EntraSettings,
    uris::{self, UriKind},
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
    pub tenant: String,

    /// The application's display name; also its unique name, the key that makes re-runs update
    /// the same application instead of creating another
    #[arg(long, default_value = "kubernetes-mcp-server", value_name = "NAME")]
    pub display_name: String,

    /// A redirect URI; repeat for more. https URIs become web redirects, loopback http URIs
    /// public-client redirects (CLI logins). Replaces the defaults: https://<route host>/oauth/callback
    /// and http://127.0.0.1/oauth/callback, http://localhost/oauth/callback
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,

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
    pub graph_url: String,
}

/// An Entra unique name: letters, digits and `-._`, at most 120 characters.
fn validate_display_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 120
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage_with_hint(
            format!("--display-name {name:?} cannot be the application's unique name"),
            "use at most 120 letters, digits, '-', '.' and '_'",
        ))
    }
}

/// The v2.0 issuer of a tenant: what the MCP server's `authorization_url` must be.
pub fn issuer_for(tenant_id: &str) -> String {
    format!("{LOGIN_HOST}/{tenant_id}/v2.0")
}

/// `oc mcp-oauth register entra`
#[allow(clippy::too_many_lines)] // one road, top to bottom: flags, cluster, Graph, cluster, report
pub async fn run(global: &GlobalArgs, args: &EntraArgs) -> Result<ExitCode> {
    let tenant = Tenant::parse(&args.tenant)?;
    validate_display_name(&args.display_name)?;
    args.deployment.validate()?;
    let base = graph::validate_base(&args.graph.graph_url)?;
    let given = uris::validate_all(&args.redirect_uris)?;
    let target = names::connect(global).await?;
    let flavor = openshift::detect(&target.client).await?;
    let dry_run = global.output.dry_run;
    let secret_name = &args.deployment.secret_name;
    let mut wanted = secret::planned_secret(&target, secret_name, &Secret::new("x"), None)?
        .required_permissions();
    wanted.extend(
        PlannedObject::from_typed(&EntraSettings::default().to_configmap(&target.namespace))?
            .required_permissions(),
    );
    if given.is_empty() {
        if flavor.openshift {
            wanted.push(
                Permission::new("list", "route.openshift.io", "routes")
                    .in_namespace(&target.namespace),
            );
        }
        if flavor.openshift_config {
            wanted.push(Permission::new("get", "config.openshift.io", "ingresses"));
        }
    }
    if dry_run != DryRun::Client {
        // Before Graph is touched: a secret added by addPassword must be storable.
        require_permissions(&target.client, &wanted).await?;
    }
    names::require_namespace(&target).await?;
    let redirects = if given.is_empty() {
        let host = uris::route_host(
            &target.client,
            flavor,
            &target.namespace,
            &args.deployment.release,
        )
        .await?;
        note(&format!(
            "redirect host {} (from {})",
            host.host, host.source
        ));
        uris::defaults_for(&host.host)
    } else {
        given
    };
    let desired = Desired {
        tenant: tenant.clone(),
        unique_name: args.display_name.clone(),
        display_name: args.display_name.clone(),
        web: redirects
            .iter()
            .filter(|u| u.kind == UriKind::Web)
            .map(|u| u.uri.clone())
            .collect(),
        public: redirects
            .iter()
            .filter(|u| u.kind == UriKind::Loopback)
            .map(|u| u.uri.clone())
            .collect(),
        admin_consent: args.admin_consent,
        secret_days: args.secret_days,
        secret_label: format!("oc-mcp {}/{}", target.namespace, secret_name),
    };

    let source = TokenSource::detect(args.graph_token_stdin);
    if dry_run == DryRun::Client {
        print_manual(&desired, &base, &target, secret_name, global.output.output)?;
        return Ok(ExitCode::Ok);
    }
    let Some(token) = token::graph_token(&source, tenant.as_str()).await? else {
        print_manual(&desired, &base, &target, secret_name, global.output.output)?;
        return Err(Error::Failed {
            message: "no Microsoft Graph token: `az` is not on PATH and --graph-token-stdin was not given; nothing was registered".into(),
            hint: Some("do the steps printed above by hand, or install the Azure CLI and `az login`, or pipe a token into --graph-token-stdin".into()),
        });
    };
    let timeout = global
        .kube
        .request_timeout
        .and_then(|t| t.0)
        .unwrap_or(Duration::from_secs(30));
    let graph = Graph::new(&base, &token, timeout)?;
    let state = ClusterState {
        stored: secret::read_stored(&target, secret_name)
            .await?
            .and_then(|s| s.value),
        settings: crate::settings::read(&target)
            .await?
            .and_then(|d| EntraSettings::from_data(&d)),
    };
    let write = dry_run == DryRun::None;
    let outcome = register::register(&graph, &desired, &state, write).await?;

    let settings = EntraSettings {
        tenant_id: outcome.tenant_id.clone(),
        client_id: outcome.app_id.clone(),
        object_id: outcome.object_id.clone(),
        unique_name: desired.unique_name.clone(),
        issuer_url: issuer_for(&outcome.tenant_id),
        audience: outcome.app_id.clone(),
        scopes: client_scopes(&outcome.app_id),
        secret_name: secret_name.clone(),
        secret_key_id: outcome.key_id.clone(),
        secret_expires: outcome.secret_end.clone(),
    };
    let mut plan = Plan::new();
    // In a server dry run that would add a password, validate the Secret with a stand-in value.
    let stand_in = Secret::new("server-dry-run");
    let value = outcome.secret.as_ref().unwrap_or(&stand_in);
    plan.push(secret::planned_secret(
        &target,
        secret_name,
        value,
        Some(&outcome.app_id),
    )?);
    plan.push(PlannedObject::from_typed(
        &settings.to_configmap(&target.namespace),
    )?);
    let mut secrets: Vec<&Secret> = vec![&token, value];
    if let Some(p) = &outcome.new_password {
        secrets.push(&p.value);
    }
    let report = match apply::apply_scrubbed(&target.client, &plan, dry_run, &secrets).await {
        Ok(report) if report.succeeded() => report,
        Ok(report) => {
            report.print(OutputFormat::Table)?;
            return Err(lost_password_error(&outcome));
        }
        Err(err) => {
            cli::warn(&err.to_string());
            return Err(lost_password_error(&outcome));
        }
    };
    let summary = EntraReport {
        tenant_id: settings.tenant_id.clone(),
        client_id: settings.client_id.clone(),
        object_id: settings.object_id.clone(),
        issuer_url: settings.issuer_url.clone(),
        audience: settings.audience.clone(),
        scopes: settings.scopes.clone(),
        web_redirect_uris: desired.web.clone(),
        public_client_redirect_uris: desired.public.clone(),
        steps: outcome.steps,
        apply: report,
    };
    print_report(&summary, global.output.output)?;
    Ok(ExitCode::Ok)
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
