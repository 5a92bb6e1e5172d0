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

pub mod graph;
pub mod token;

use std::{fmt::Write as _, io::Write as _, time::Duration};

use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, OutputFormat, Plan, PlannedObject, Result, cli,
    kube_args::Secret,
    openshift,
    output::write_table,
    plan::ApplyReport,
    preflight::{Permission, require_permissions},
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Digest;

use self::{
    graph::{GRAPH_URL, Graph, GraphRequest},
    token::TokenSource,
};
use crate::{
    apply,
    names::{self, DeploymentArgs, Target, note},
    secret,
    settings::{EntraSettings, SETTINGS_CONFIGMAP},
    uris::{self, UriKind},
};

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

/// A tenant as given: a GUID or a verified domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    Id(String),
    Domain(String),
}

impl Tenant {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(s) | Self::Domain(s) => s,
        }
    }
}

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Parse `--tenant`: a GUID, or a domain name; the multi-tenant aliases are refused because the
/// MCP server needs one issuer.
pub fn parse_tenant(text: &str) -> Result<Tenant> {
    let lower = text.to_ascii_lowercase();
    if is_guid(&lower) {
        return Ok(Tenant::Id(lower));
    }
    if matches!(lower.as_str(), "common" | "organizations" | "consumers") {
        return Err(Error::usage_with_hint(
            format!("--tenant {text:?} is a multi-tenant alias, not a tenant"),
            "give your directory (tenant) ID: `az account show --query tenantId -o tsv`",
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2)
    {
        return Ok(Tenant::Domain(lower));
    }
    Err(Error::usage_with_hint(
        format!("unknown tenant format {text:?}"),
        "give the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, \
         or a verified domain such as contoso.onmicrosoft.com",
    ))
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

/// A stable id for the exposed scope, so every run sends the same one.
fn scope_id(unique_name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("oc-mcp/{unique_name}/{API_SCOPE}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = b.iter().fold(String::new(), |mut acc, x| {
        let _ = write!(acc, "{x:02x}");
        acc
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

// ---- time, without a date crate ----

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, UTC).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Whether a Graph date-time is later than now (both UTC; Graph may add fractions).
fn in_future(date_time: &str) -> bool {
    let now = rfc3339(now_unix());
    date_time.get(..19).is_some_and(|d| d > &now[..19])
}

// ---- comparing what Graph has with what we want ----

/// `want` is contained in `have`: objects compare the keys `want` names; arrays compare as
/// multisets (every wanted element matches a different element of the same-length array).
pub fn contained(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| {
            h.get(k).is_some_and(|hv| contained(v, hv)) || (v.is_null() && !h.contains_key(k))
        }),
        (Value::Array(w), Value::Array(h)) => {
            if w.len() != h.len() {
                return false;
            }
            let mut used = vec![false; h.len()];
            w.iter().all(|wv| {
                let found = h
                    .iter()
                    .enumerate()
                    .find(|(i, hv)| !used[*i] && contained(wv, hv));
                if let Some((i, _)) = found {
                    used[i] = true;
                    true
                } else {
                    false
                }
            })
        }
        _ => want == have,
    }
}

/// Microsoft Graph's service principal in this tenant and the ids of the scopes we need.
#[derive(Debug, Clone)]
pub struct GraphScopes {
    pub service_principal_id: String,
    pub ids: Vec<(String, String)>,
}

impl GraphScopes {
    fn placeholder() -> Self {
        Self {
            service_principal_id: "{graph-service-principal-id}".into(),
            ids: WELL_KNOWN_SCOPE_IDS
                .iter()
                .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
                .collect(),
        }
    }

    fn from_graph(sp: &Value) -> Result<Self> {
        let id = sp["id"].as_str().unwrap_or_default().to_owned();
        let scopes = sp["oauth2PermissionScopes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut ids = Vec::new();
        for name in GRAPH_SCOPES {
            let found = scopes
                .iter()
                .find(|s| s["value"].as_str() == Some(name))
                .and_then(|s| s["id"].as_str());
            let Some(scope_id) = found else {
                return Err(Error::failed(format!(
                    "Microsoft Graph's service principal does not offer the delegated scope {name}"
                )));
            };
            ids.push((name.to_owned(), scope_id.to_owned()));
        }
        if id.is_empty() {
            return Err(Error::failed(
                "Microsoft Graph's service principal has no id",
            ));
        }
        Ok(Self {
            service_principal_id: id,
            ids,
        })
    }
}

/// What the user asked for, validated.
#[derive(Debug, Clone)]
pub struct Desired {
    pub tenant: Tenant,
    pub unique_name: String,
    pub display_name: String,
    pub web: Vec<String>,
    pub public: Vec<String>,
    pub admin_consent: bool,
    pub secret_days: u32,
    pub secret_label: String,
}

const APP_SELECT: &str = "id,appId,displayName,signInAudience,web,publicClient,requiredResourceAccess,api,identifierUris,optionalClaims,passwordCredentials";

/// The requests, built the same way for printing and for sending.
pub mod requests {
    use super::{APP_SELECT, GRAPH_APP_ID, GraphRequest, Value, json};

    pub fn organization() -> GraphRequest {
        GraphRequest::get(
            "read the tenant id of the signed-in account",
            "/organization?$select=id,verifiedDomains",
        )
    }

    pub fn graph_service_principal() -> GraphRequest {
        GraphRequest::get(
            "find Microsoft Graph's service principal and its delegated scope ids",
            format!("/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,oauth2PermissionScopes"),
        )
    }

    pub fn get_application(unique: &str) -> GraphRequest {
        GraphRequest::get(
            "read the application, if it exists",
            format!("/applications(uniqueName='{unique}')?$select={APP_SELECT}"),
        )
    }

    pub fn upsert_application(unique: &str, body: Value) -> GraphRequest {
        GraphRequest::with_body(
            "create the application, or update it (idempotent upsert by unique name)",
            "PATCH",
            format!("/applications(uniqueName='{unique}')"),
            body,
        )
        .header("Prefer", "create-if-missing")
    }

    pub fn expose_api(object_id: &str, body: Value) -> GraphRequest {
        GraphRequest::with_body(
            "expose the API: identifier URI, the access_as_user scope, v2 access tokens",
            "PATCH",
            format!("/applications/{object_id}"),
            body,
        )
    }

    pub fn get_service_principal(app_id: &str) -> GraphRequest {
        GraphRequest::get(
            "read the application's service principal, if it exists",
            format!("/servicePrincipals(appId='{app_id}')?$select=id"),
        )
    }

    pub fn create_service_principal(app_id: &str) -> GraphRequest {
        GraphRequest::with_body(
            "create the application's service principal",
            "POST",
            "/servicePrincipals",
            json!({"appId": app_id}),
        )
    }

    pub fn add_password(object_id: &str, label: &str, end: &str) -> GraphRequest {
        GraphRequest::with_body(
            "add a client secret (secretText is returned once; it goes straight into the cluster Secret)",
            "POST",
            format!("/applications/{object_id}/addPassword"),
            json!({"passwordCredential": {"displayName": label, "endDateTime": end}}),
        )
    }

    pub fn get_grant(client_sp: &str, graph_sp: &str) -> GraphRequest {
        GraphRequest::get(
            "read the tenant-wide consent, if any",
            format!(
                "/oauth2PermissionGrants?$filter=clientId%20eq%20'{client_sp}'%20and%20consentType%20eq%20'AllPrincipals'%20and%20resourceId%20eq%20'{graph_sp}'"
            ),
        )
    }

    pub fn create_grant(client_sp: &str, graph_sp: &str, scope: &str) -> GraphRequest {
        GraphRequest::with_body(
            "grant tenant-wide admin consent for the delegated scopes",
            "POST",
            "/oauth2PermissionGrants",
            json!({"clientId": client_sp, "consentType": "AllPrincipals", "resourceId": graph_sp, "scope": scope}),
        )
    }

    pub fn update_grant(grant_id: &str, scope: &str) -> GraphRequest {
        GraphRequest::with_body(
            "update the tenant-wide consent's scopes",
            "PATCH",
            format!("/oauth2PermissionGrants/{grant_id}"),
            json!({"scope": scope}),
        )
    }
}

/// The upsert body: what the app must have, merged with what it has (other APIs' permissions
/// and other optional claims are kept).
pub fn application_body(
    desired: &Desired,
    scopes: &GraphScopes,
    existing: Option<&Value>,
) -> Value {
    let ours: Vec<Value> = scopes
        .ids
        .iter()
        .map(|(_, id)| json!({"id": id, "type": "Scope"}))
        .collect();
    let mut access: Vec<Value> = Vec::new();
    let mut graph_entry = json!({"resourceAppId": GRAPH_APP_ID, "resourceAccess": ours});
    for entry in existing
        .and_then(|a| a["requiredResourceAccess"].as_array())
        .into_iter()
        .flatten()
    {
        if entry["resourceAppId"].as_str() == Some(GRAPH_APP_ID) {
            let mut merged = entry["resourceAccess"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for want in ours_iter(&graph_entry) {
                if !merged
                    .iter()
                    .any(|m| m["id"] == want["id"] && m["type"] == want["type"])
                {
                    merged.push(want);
                }
            }
            graph_entry["resourceAccess"] = Value::Array(merged);
        } else {
            access.push(entry.clone());
        }
    }
    access.insert(0, graph_entry);
    let mut id_claims: Vec<Value> = existing
        .and_then(|a| a.pointer("/optionalClaims/idToken"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in ["email", "preferred_username"] {
        if !id_claims.iter().any(|c| c["name"].as_str() == Some(name)) {
            id_claims.push(json!({"name": name, "essential": false}));
        }
    }
    let mut claims = json!({"idToken": id_claims});
    for other in ["accessToken", "saml2Token"] {
        if let Some(list) = existing.and_then(|a| a.pointer(&format!("/optionalClaims/{other}"))) {
            claims[other] = list.clone();
        }
    }
    json!({
        "displayName": desired.display_name,
        "signInAudience": "AzureADMyOrg",
        "web": {"redirectUris": desired.web},
        "publicClient": {"redirectUris": desired.public},
        "requiredResourceAccess": access,
        "optionalClaims": claims,
    })
}

fn ours_iter(graph_entry: &Value) -> Vec<Value> {
    graph_entry["resourceAccess"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The expose-API body: identifier URI `api://<appId>` (others kept), our scope (others kept),
/// v2 access tokens (so the issuer is the v2.0 one and the audience the client id).
pub fn expose_api_body(desired: &Desired, app_id: &str, existing: Option<&Value>) -> Value {
    let identifier = format!("api://{app_id}");
    let mut uris: Vec<Value> = existing
        .and_then(|a| a["identifierUris"].as_array())
        .cloned()
        .unwrap_or_default();
    if !uris.iter().any(|u| u.as_str() == Some(&identifier)) {
        uris.push(Value::String(identifier));
    }
    let existing_scopes: Vec<Value> = existing
        .and_then(|a| a.pointer("/api/oauth2PermissionScopes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let id = existing_scopes
        .iter()
        .find(|s| s["value"].as_str() == Some(API_SCOPE))
        .and_then(|s| s["id"].as_str())
        .map_or_else(|| scope_id(&desired.unique_name), str::to_owned);
    let mut scopes: Vec<Value> = existing_scopes
        .into_iter()
        .filter(|s| s["value"].as_str() != Some(API_SCOPE))
        .collect();
    scopes.push(json!({
        "id": id,
        "value": API_SCOPE,
        "type": "User",
        "isEnabled": true,
        "adminConsentDisplayName": "Use the Kubernetes MCP Server as the signed-in user",
        "adminConsentDescription": "Lets the application call the Kubernetes MCP Server with the signed-in user's identity.",
        "userConsentDisplayName": "Use the Kubernetes MCP Server as you",
        "userConsentDescription": "Lets the application call the Kubernetes MCP Server with your identity.",
    }));
    json!({
        "identifierUris": uris,
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": scopes},
    })
}

/// What the registration is, once known.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraReport {
    pub tenant_id: String,
    pub client_id: String,
    pub object_id: String,
    pub issuer_url: String,
    pub audience: String,
    pub scopes: String,
    pub web_redirect_uris: Vec<String>,
    pub public_client_redirect_uris: Vec<String>,
    pub steps: Vec<StepResult>,
    #[serde(flatten)]
    pub apply: ApplyReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: String,
    pub result: String,
}

fn step(steps: &mut Vec<StepResult>, name: &str, result: impl Into<String>) {
    steps.push(StepResult {
        step: name.into(),
        result: result.into(),
    });
}

/// A fresh client secret from Graph.
struct NewPassword {
    value: Secret,
    key_id: String,
    end: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What the cluster holds before the run.
#[derive(Debug, Clone, Default)]
struct ClusterState {
    stored: Option<Secret>,
    settings: Option<EntraSettings>,
}

/// The outcome of the Graph part.
#[derive(Debug)]
struct GraphOutcome {
    tenant_id: String,
    app_id: String,
    object_id: String,
    steps: Vec<StepResult>,
    /// The secret for the cluster Secret: kept or new (`None` in a server dry run needing one).
    secret: Option<Secret>,
    new_password: Option<NewPassword>,
    key_id: Option<String>,
    secret_end: Option<String>,
}

/// `oc mcp-oauth register entra`
#[allow(clippy::too_many_lines)] // one road, top to bottom: flags, cluster, Graph, cluster, report
pub async fn run(global: &GlobalArgs, args: &EntraArgs) -> Result<ExitCode> {
    let tenant = parse_tenant(&args.tenant)?;
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
    let outcome = register(&graph, &desired, &state, write).await?;

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

/// The Graph part of the registration, in the documented order.
#[allow(clippy::too_many_lines)] // the documented order of Graph requests, in one place
async fn register(
    graph: &Graph,
    desired: &Desired,
    state: &ClusterState,
    write: bool,
) -> Result<GraphOutcome> {
    let would = |done: &str| {
        if write {
            done.to_owned()
        } else {
            format!("{done} (dry run: not sent)")
        }
    };
    let mut steps = Vec::new();

    // 1. The tenant of the token must be the one given.
    let org = graph
        .get_opt(&requests::organization())
        .await?
        .unwrap_or(Value::Null);
    let org = org["value"].get(0).cloned().unwrap_or(Value::Null);
    let tenant_id = org["id"].as_str().unwrap_or_default().to_ascii_lowercase();
    let domains: Vec<String> = org["verifiedDomains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str().map(str::to_ascii_lowercase))
        .collect();
    let matches = match &desired.tenant {
        Tenant::Id(id) => *id == tenant_id,
        Tenant::Domain(d) => domains.contains(d),
    };
    if tenant_id.is_empty() || !matches {
        return Err(Error::Failed {
            message: format!(
                "the Microsoft Graph token belongs to tenant {}, not {}",
                if tenant_id.is_empty() {
                    "(unknown)"
                } else {
                    &tenant_id
                },
                desired.tenant.as_str()
            ),
            hint: Some(format!(
                "sign in to the right tenant: `az login --tenant {}`",
                desired.tenant.as_str()
            )),
        });
    }
    step(&mut steps, "tenant", format!("{tenant_id} (token checked)"));

    // 2. Graph's scope ids in this tenant.
    let Some(graph_sp) = graph.get_opt(&requests::graph_service_principal()).await? else {
        return Err(Error::failed(
            "Microsoft Graph's service principal is missing from the tenant",
        ));
    };
    let scopes = GraphScopes::from_graph(&graph_sp)?;

    // 3. The application, upserted by unique name.
    let existing = graph
        .get_opt(&requests::get_application(&desired.unique_name))
        .await?;
    let body = application_body(desired, &scopes, existing.as_ref());
    let mut app = existing.clone();
    match &existing {
        Some(have) if contained(&body, have) => step(&mut steps, "application", "unchanged"),
        _ => {
            let created = existing.is_none();
            if write {
                let answer = graph
                    .send(
                        &requests::upsert_application(&desired.unique_name, body.clone()),
                        false,
                    )
                    .await?;
                if answer.status == 201 {
                    app = answer.body;
                }
                if app.is_none() {
                    app = graph
                        .get_opt(&requests::get_application(&desired.unique_name))
                        .await?;
                }
            }
            step(
                &mut steps,
                "application",
                would(if created { "created" } else { "configured" }),
            );
        }
    }
    let (object_id, app_id) = match &app {
        Some(a) => (
            a["id"].as_str().unwrap_or_default().to_owned(),
            a["appId"].as_str().unwrap_or_default().to_owned(),
        ),
        None => (
            "{application-object-id}".to_owned(),
            "{application-client-id}".to_owned(),
        ),
    };
    if write && (object_id.is_empty() || app_id.is_empty()) {
        return Err(Error::failed(
            "Microsoft Graph did not return the application's id and appId",
        ));
    }

    // 4. The exposed API.
    let api_body = expose_api_body(desired, &app_id, app.as_ref());
    if app.as_ref().is_some_and(|a| contained(&api_body, a)) {
        step(&mut steps, "exposed API", "unchanged");
    } else {
        if write {
            graph
                .send(&requests::expose_api(&object_id, api_body), false)
                .await?;
        }
        step(
            &mut steps,
            "exposed API",
            would(&format!("api://{app_id}/{API_SCOPE}, v2 access tokens")),
        );
    }

    // 5. The service principal.
    let sp = if app.is_some() {
        graph
            .get_opt(&requests::get_service_principal(&app_id))
            .await?
    } else {
        None
    };
    let sp_id = if let Some(id) = sp.as_ref().and_then(|s| s["id"].as_str()) {
        step(&mut steps, "service principal", "unchanged");
        id.to_owned()
    } else {
        let mut id = "{service-principal-id}".to_owned();
        if write {
            let answer = graph
                .send(&requests::create_service_principal(&app_id), false)
                .await?;
            answer
                .body
                .as_ref()
                .and_then(|b| b["id"].as_str())
                .unwrap_or_default()
                .clone_into(&mut id);
        }
        step(&mut steps, "service principal", would("created"));
        id
    };

    // 6. The client secret: keep the stored one while Entra still has it.
    let kept = keepable(app.as_ref(), &app_id, state);
    let (secret, new_password, key_id, secret_end) = if let Some((key_id, end)) = kept {
        step(
            &mut steps,
            "client secret",
            format!("kept (key id {key_id}, expires {end})"),
        );
        (state.stored.clone(), None, Some(key_id), Some(end))
    } else {
        let end = rfc3339(now_unix() + i64::from(desired.secret_days) * 86_400);
        if write {
            let answer = graph
                .send(
                    &requests::add_password(&object_id, &desired.secret_label, &end),
                    false,
                )
                .await?;
            let body = answer.body.unwrap_or(Value::Null);
            let (Some(text), Some(key_id)) = (body["secretText"].as_str(), body["keyId"].as_str())
            else {
                return Err(Error::failed("addPassword returned no secretText/keyId"));
            };
            let end = body["endDateTime"].as_str().unwrap_or(&end).to_owned();
            let password = NewPassword {
                value: Secret::new(text),
                key_id: key_id.to_owned(),
                end: end.clone(),
            };
            step(
                &mut steps,
                "client secret",
                format!("added (key id {key_id}, expires {end})"),
            );
            (
                Some(password.value.clone()),
                Some(password),
                Some(key_id.to_owned()),
                Some(end),
            )
        } else {
            step(&mut steps, "client secret", would("added"));
            (None, None, None, None)
        }
    };
    if let Some(p) = &new_password {
        tracing::debug!(key_id = %p.key_id, end = %p.end, "client secret added");
    }

    // 7. Admin consent.
    let scope_text = GRAPH_SCOPES.join(" ");
    if desired.admin_consent {
        let grant = if sp.is_some() {
            graph
                .get_opt(&requests::get_grant(&sp_id, &scopes.service_principal_id))
                .await?
                .and_then(|g| g["value"].get(0).cloned())
        } else {
            None
        };
        match grant {
            Some(g) if same_scopes(g["scope"].as_str().unwrap_or_default(), &scope_text) => {
                step(&mut steps, "admin consent", "unchanged");
            }
            Some(g) => {
                if write {
                    let id = g["id"].as_str().unwrap_or_default();
                    graph
                        .send(&requests::update_grant(id, &scope_text), false)
                        .await?;
                }
                step(
                    &mut steps,
                    "admin consent",
                    would(&format!("updated ({scope_text})")),
                );
            }
            None => {
                if write {
                    graph
                        .send(
                            &requests::create_grant(
                                &sp_id,
                                &scopes.service_principal_id,
                                &scope_text,
                            ),
                            false,
                        )
                        .await?;
                }
                step(
                    &mut steps,
                    "admin consent",
                    would(&format!("granted ({scope_text})")),
                );
            }
        }
    } else {
        step(
            &mut steps,
            "admin consent",
            "not requested (--admin-consent)",
        );
    }
    Ok(GraphOutcome {
        tenant_id,
        app_id,
        object_id,
        steps,
        secret,
        new_password,
        key_id,
        secret_end,
    })
}

fn same_scopes(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split_whitespace().collect();
    let mut y: Vec<&str> = b.split_whitespace().collect();
    x.sort_unstable();
    y.sort_unstable();
    x.dedup();
    y.dedup();
    x == y
}

/// The stored secret can stay when the settings name a password the app still has, unexpired,
/// whose hint (its first characters) matches the stored value.
fn keepable(app: Option<&Value>, app_id: &str, state: &ClusterState) -> Option<(String, String)> {
    let stored = state.stored.as_ref()?;
    let settings = state.settings.as_ref()?;
    if settings.client_id != app_id {
        return None;
    }
    let key_id = settings.secret_key_id.as_ref()?;
    let credential = app?["passwordCredentials"]
        .as_array()?
        .iter()
        .find(|c| c["keyId"].as_str() == Some(key_id))?;
    let end = credential["endDateTime"].as_str()?.to_owned();
    let hint_ok = credential["hint"]
        .as_str()
        .is_none_or(|h| stored.expose().starts_with(h));
    (in_future(&end) && hint_ok).then(|| (key_id.clone(), end))
}

/// The whole registration as steps a person (or a script) can carry out: with
/// `--dry-run=client`, or when there is no Graph token.
fn print_manual(
    desired: &Desired,
    base: &str,
    target: &Target,
    secret_name: &str,
    format: OutputFormat,
) -> Result<()> {
    let scopes = GraphScopes::placeholder();
    let object_id = "{application-object-id}";
    let app_id = "{application-client-id}";
    let sp_id = "{service-principal-id}";
    let end = rfc3339(now_unix() + i64::from(desired.secret_days) * 86_400);
    let mut list = vec![
        requests::organization(),
        requests::graph_service_principal(),
        requests::upsert_application(
            &desired.unique_name,
            application_body(desired, &scopes, None),
        ),
        requests::expose_api(object_id, expose_api_body(desired, app_id, None)),
        requests::create_service_principal(app_id),
        requests::add_password(object_id, &desired.secret_label, &end),
    ];
    if desired.admin_consent {
        list.push(requests::create_grant(
            sp_id,
            &scopes.service_principal_id,
            &GRAPH_SCOPES.join(" "),
        ));
    }
    let tenant_id = match &desired.tenant {
        Tenant::Id(id) => id.clone(),
        Tenant::Domain(_) => "{tenant-id}".into(),
    };
    let settings = EntraSettings {
        tenant_id: tenant_id.clone(),
        client_id: app_id.into(),
        object_id: object_id.into(),
        unique_name: desired.unique_name.clone(),
        issuer_url: issuer_for(&tenant_id),
        audience: app_id.into(),
        scopes: client_scopes(app_id),
        secret_name: secret_name.into(),
        secret_key_id: Some("{keyId from addPassword}".into()),
        secret_expires: Some(end),
    };
    let mut plan = Plan::new();
    plan.push(secret::planned_secret(
        target,
        secret_name,
        &Secret::new(apply::REDACTED),
        Some(app_id),
    )?);
    plan.push(PlannedObject::from_typed(
        &settings.to_configmap(&target.namespace),
    )?);
    let plan = apply::redacted(&plan);
    if format.is_machine() {
        let manifests: Vec<Value> = plan
            .objects
            .iter()
            .map(|o| serde_json::to_value(&o.object).unwrap_or_default())
            .collect();
        let doc = json!({
            "tenant": desired.tenant.as_str(),
            "issuerUrl": settings.issuer_url,
            "graphUrl": base,
            "requests": list,
            "objects": manifests,
        });
        return cli::emit(&ManualDoc(doc), format);
    }
    let mut text = format!(
        "# Register the Entra ID application for the Kubernetes MCP Server (tenant {}).\n\
         # Every request needs `Authorization: Bearer <Microsoft Graph token>` (`az account get-access-token --resource-type ms-graph`)\n\
         # from an account with Application.ReadWrite.All; admin consent also needs DelegatedPermissionGrant.ReadWrite.All.\n\
         # {{...}} stands for a value an earlier answer gives; the scope ids below are Microsoft Graph's own\n\
         # (a real run reads them from step 2).\n",
        desired.tenant.as_str()
    );
    for (i, request) in list.iter().enumerate() {
        let _ = write!(text, "\n## {}. {}\n", i + 1, request.purpose);
        text.push_str(&request.to_http(base));
    }
    let _ = write!(
        text,
        "\n## {}. store the secret (secretText from step 6) in the cluster, without a command-line argument\n\
         printf %s \"$SECRET_TEXT\" | oc mcp-oauth secret set --from-stdin -n {} --secret-name {secret_name}\n\
         \n## {}. record the settings for `oc mcp-install --auth entra` (ConfigMap {SETTINGS_CONFIGMAP}, no secret)\n",
        list.len() + 1,
        target.namespace,
        list.len() + 2,
    );
    for (key, value) in settings.to_data() {
        let _ = writeln!(text, "{key}: {value}");
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing output", e))
}

/// A JSON document that prints as itself (for `cli::emit`).
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct ManualDoc(Value);

impl oc_mcp_common::output::Tabular for ManualDoc {
    fn headers(_: bool) -> Vec<&'static str> {
        Vec::new()
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        Vec::new()
    }
}

impl oc_mcp_common::output::Tabular for EntraReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["STEP", "RESULT"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .map(|s| vec![s.step.clone(), s.result.clone()])
            .collect()
    }
}

fn print_report(report: &EntraReport, format: OutputFormat) -> Result<()> {
    if format.is_machine() {
        return cli::emit(report, format);
    }
    let mut out = std::io::stdout().lock();
    let pairs = [
        ("TENANT", report.tenant_id.clone()),
        ("CLIENT ID", report.client_id.clone()),
        ("ISSUER", report.issuer_url.clone()),
        ("AUDIENCE", report.audience.clone()),
        ("SCOPES", report.scopes.clone()),
    ];
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, v)| vec![(*k).to_owned(), v.clone()])
        .collect();
    write_table(&mut out, &["SETTING", "VALUE"], &rows)?;
    drop(out);
    let mut rows = oc_mcp_common::output::Tabular::rows(report, false);
    rows.extend(report.apply.summary_lines().into_iter().map(|line| {
        let (name, result) = line.split_once(' ').unwrap_or((&line, ""));
        vec![name.to_owned(), result.to_owned()]
    }));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    write_table(&mut out, &["STEP", "RESULT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_guids_or_domains() {
        assert_eq!(
            parse_tenant("72F988BF-86F1-41AF-91AB-2D7CD011DB47").expect("guid"),
            Tenant::Id("72f988bf-86f1-41af-91ab-2d7cd011db47".into())
        );
        assert_eq!(
            parse_tenant("contoso.onmicrosoft.com").expect("domain"),
            Tenant::Domain("contoso.onmicrosoft.com".into())
        );
        for bad in [
            "",
            "contoso",
            "72f988bf-86f1-41af-91ab",
            "a b.com",
            "x.123",
            "https://login.microsoftonline.com/t",
        ] {
            let err = parse_tenant(bad).expect_err(bad);
            assert_eq!(err.exit_code().code(), 2);
            assert!(
                err.to_string().contains("unknown tenant format"),
                "{bad}: {err}"
            );
        }
        assert!(
            parse_tenant("common")
                .expect_err("alias")
                .to_string()
                .contains("multi-tenant")
        );
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert!(in_future("2999-01-01T00:00:00.000Z"));
        assert!(!in_future("2001-01-01T00:00:00Z"));
    }

    #[test]
    fn containment_ignores_extra_fields_and_order() {
        let want = json!({"web": {"redirectUris": ["b", "a"]}, "x": [{"id": 1}]});
        let have = json!({"web": {"redirectUris": ["a", "b"], "homePageUrl": null}, "x": [{"id": 1, "more": true}], "y": 2});
        assert!(contained(&want, &have));
        assert!(!contained(&json!({"web": {"redirectUris": ["a"]}}), &have));
    }

    #[test]
    fn the_scope_id_is_stable_and_kept_when_present() {
        let desired = Desired {
            tenant: Tenant::Id("t".into()),
            unique_name: "kubernetes-mcp-server".into(),
            display_name: "kubernetes-mcp-server".into(),
            web: vec![],
            public: vec![],
            admin_consent: false,
            secret_days: 1,
            secret_label: "l".into(),
        };
        let a = expose_api_body(&desired, "app", None);
        let b = expose_api_body(&desired, "app", None);
        assert_eq!(a, b);
        let id = a
            .pointer("/api/oauth2PermissionScopes/0/id")
            .and_then(Value::as_str)
            .expect("id");
        assert!(is_guid(id), "{id}");
        let existing = json!({"identifierUris": ["api://other"], "api": {"oauth2PermissionScopes": [
            {"id": "11111111-1111-4111-8111-111111111111", "value": API_SCOPE},
            {"id": "22222222-2222-4222-8222-222222222222", "value": "theirs"}]}});
        let body = expose_api_body(&desired, "app", Some(&existing));
        assert_eq!(body["identifierUris"], json!(["api://other", "api://app"]));
        let scopes = body
            .pointer("/api/oauth2PermissionScopes")
            .and_then(Value::as_array)
            .expect("scopes");
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[1]["id"], "11111111-1111-4111-8111-111111111111");
    }
}
