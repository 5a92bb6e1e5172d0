//! `register openshift` and `rotate`: the OpenShift `OAuthClient` (guide step 6, option B) and
//! its secret in the Secret (step 7), written together by server-side apply.

use kube::{Api, ResourceExt};
use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, OutputFormat, Plan, PlannedObject, Result, defaults,
    kube_args::Secret,
    openshift::{self, OAuthClient},
    plan::ApplyReport,
    preflight::{Permission, require_permissions},
};
use serde::Serialize;

use crate::{
    apply,
    names::{self, DeploymentArgs, ObjectName},
    note,
    secret::{self, StoredSecret},
    target::{self, Target},
    uris::{self, RedirectUri},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantMethod {
    /// Users are not asked to approve the client
    Auto,
    /// Users approve the client's scopes on first login
    Prompt,
}

impl GrantMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Prompt => "prompt",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct OpenshiftArgs {
    /// The OAuthClient's name (the client_id clients send)
    #[arg(long, default_value = defaults::OAUTH_CLIENT, value_name = "NAME")]
    pub name: ObjectName,

    /// A redirect URI; repeat for more. Replaces the defaults: https://<route host>/oauth/callback
    /// (host from the deployed Route, else <release>-<namespace>.<apps domain>) and the loopback
    /// URIs http://127.0.0.1/oauth/callback and http://localhost/oauth/callback for CLI logins
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<RedirectUri>,

    /// Whether users approve the client on first login
    #[arg(long, value_enum, default_value_t = GrantMethod::Auto)]
    pub grant_method: GrantMethod,

    /// The read-only ClusterRole tokens of this client are scoped to: logins may ask only for
    /// role:NAME:* (never escalating), user:info and user:check-access, not user:full
    // An ObjectName, as `oc mcp-rbac role --name` takes it, so `*` or `:!` cannot widen the scope.
    #[arg(long, default_value = defaults::CLUSTER_ROLE, value_name = "NAME")]
    pub role: ObjectName,

    /// Lifetime of the access tokens issued to this client, in seconds (0: they never expire)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i32).range(0..))]
    pub access_token_max_age: Option<i32>,

    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// Take over an OAuthClient of this name that oc-mcp did not make
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    /// The OAuthClient to rotate
    #[arg(long, default_value = defaults::OAUTH_CLIENT, value_name = "NAME")]
    pub name: ObjectName,

    /// The Secret that holds the client secret (key `sts_client_secret`)
    #[arg(long, default_value = defaults::OAUTH_SECRET, value_name = "NAME")]
    pub secret_name: ObjectName,

    /// Finish a rotation: remove the previous secrets from additionalSecrets (once every
    /// client uses the new one); the current secret is not changed
    #[arg(long)]
    pub drop_previous: bool,

    /// Rotate an OAuthClient that oc-mcp did not make
    #[arg(long)]
    pub force: bool,
}

/// Where the client secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretOrigin {
    /// Kept from the existing OAuthClient.
    KeptFromOauthClient,
    /// Taken from the existing Secret (e.g. after `secret set`).
    KeptFromSecret,
    Generated,
    /// Rotated: a new one, the previous one moved to additionalSecrets.
    Rotated,
    /// `rotate --drop-previous`: unchanged, previous ones removed.
    Unchanged,
}

impl SecretOrigin {
    fn describe(self) -> &'static str {
        match self {
            Self::KeptFromOauthClient => "kept the OAuthClient's existing secret",
            Self::KeptFromSecret => "took the secret already stored in the Secret",
            Self::Generated => "generated a new secret (48 random bytes)",
            Self::Rotated => {
                "generated a new secret; the previous one stays valid in additionalSecrets until `rotate --drop-previous`"
            }
            Self::Unchanged => "kept the current secret and removed the previous ones",
        }
    }
}

/// The JSON/YAML result of `register openshift` and `rotate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientReport {
    pub oauth_client: String,
    #[serde(rename = "redirectURIs")]
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_host: Option<uris::RouteHost>,
    pub grant_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_max_age_seconds: Option<i32>,
    pub secret: SecretReport,
    pub previous_secrets: usize,
    #[serde(flatten)]
    pub apply: ApplyReport,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretReport {
    pub name: String,
    pub namespace: String,
    pub key: &'static str,
    pub origin: SecretOrigin,
}

impl oc_mcp_common::output::Tabular for ClientReport {
    fn headers(wide: bool) -> Vec<&'static str> {
        <ApplyReport as oc_mcp_common::output::Tabular>::headers(wide)
    }
    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        self.apply.rows(wide)
    }
}

/// The OAuthClient oc-mcp wants: everything it manages, nothing else.
pub fn desired_client(
    name: &str,
    secret: &Secret,
    additional: Vec<String>,
    redirect_uris: Vec<String>,
    grant_method: Option<String>,
    access_token_max_age: Option<i32>,
    scope_restrictions: Vec<openshift::ScopeRestriction>,
) -> OAuthClient {
    let mut client = OAuthClient::named(name);
    client.scope_restrictions = scope_restrictions;
    client.secret = Some(secret.expose().to_owned());
    client.additional_secrets = additional;
    client.redirect_uris = redirect_uris;
    client.grant_method = grant_method;
    client.access_token_max_age_seconds = access_token_max_age;
    client
}

async fn require_openshift_oauth(target: &Target) -> Result<openshift::ClusterFlavor> {
    let flavor = openshift::detect(&target.client).await?;
    if !flavor.openshift_oauth {
        return Err(Error::Failed {
            message: "this cluster does not serve oauth.openshift.io: there is no OpenShift OAuth server to register with".into(),
            hint: Some("register an OIDC client instead, e.g. `oc mcp-oauth register entra --tenant TENANT`".into()),
        });
    }
    Ok(flavor)
}

fn not_ours(name: &str) -> Error {
    Error::Failed {
        message: format!("OAuthClient {name} exists and was not made by oc-mcp"),
        hint: Some(format!(
            "inspect it (`oc get oauthclient {name} -o yaml`), pick another --name, or re-run with --force to take it over"
        )),
    }
}

/// The reads and writes `register openshift` needs, asked at once before anything else.
fn register_permissions(
    target: &Target,
    args: &OpenshiftArgs,
    flavor: openshift::ClusterFlavor,
) -> Result<Vec<Permission>> {
    let mut wanted =
        PlannedObject::from_typed(&OAuthClient::named(&args.name))?.required_permissions();
    wanted.extend(
        secret::planned_secret(
            target,
            &args.deployment.secret_name,
            &Secret::new("x"),
            None,
        )?
        .required_permissions(),
    );
    if args.redirect_uris.is_empty() {
        wanted.extend(uris::route_host_permissions(flavor, &target.namespace));
    }
    Ok(wanted)
}

/// `oc mcp-oauth register openshift`
pub async fn run_register(global: &GlobalArgs, args: &OpenshiftArgs) -> Result<ExitCode> {
    let given = uris::without_duplicates(&args.redirect_uris);
    let target = target::connect(global).await?;
    let flavor = require_openshift_oauth(&target).await?;
    if global.change.dry_run != DryRun::Client {
        require_permissions(
            &target.client,
            &register_permissions(&target, args, flavor)?,
        )
        .await?;
    }
    target::require_namespace(&target).await?;

    let (redirects, host) =
        uris::given_or_defaults(&target, flavor, &args.deployment.release, given).await?;
    let api: Api<OAuthClient> = Api::all(target.client.clone());
    let existing = api.get_opt(&args.name).await?;
    let take_over = match &existing {
        Some(c) if !apply::is_ours(&c.metadata) => {
            if !args.force {
                return Err(not_ours(&args.name));
            }
            true
        }
        _ => false,
    };
    let stored = secret::read_stored(&target, &args.deployment.secret_name).await?;
    let (value, origin) = choose_secret(existing.as_ref(), stored.as_ref())?;
    if origin == SecretOrigin::KeptFromOauthClient
        && let Some(StoredSecret {
            value: Some(old), ..
        }) = &stored
        && old != &value
    {
        crate::note(&format!(
            "note: Secret {}/{} held another value; it now holds the OAuthClient's secret",
            target.namespace, args.deployment.secret_name
        ));
    }
    let client = desired_client(
        &args.name,
        &value,
        existing
            .as_ref()
            .map(|c| c.additional_secrets.clone())
            .unwrap_or_default(),
        redirects.iter().map(|u| u.uri.clone()).collect(),
        Some(args.grant_method.as_str().into()),
        args.access_token_max_age,
        openshift::mcp_scope_restrictions(&args.role),
    );
    if args.access_token_max_age == Some(0) {
        oc_mcp_common::cli::warn(
            "--access-token-max-age 0: tokens issued to this client never expire",
        );
    }
    let mut secrets: Vec<&Secret> = vec![&value];
    let additional: Vec<Secret> = client.additional_secrets.iter().map(Secret::new).collect();
    secrets.extend(additional.iter());
    write(
        global,
        &target,
        &client,
        take_over,
        &args.deployment.secret_name,
        &value,
        origin,
        &redirects,
        host,
        &secrets,
    )
    .await
}

/// Keep the OAuthClient's secret; else the one the Secret holds; else a new one.
fn choose_secret(
    existing: Option<&OAuthClient>,
    stored: Option<&StoredSecret>,
) -> Result<(Secret, SecretOrigin)> {
    if let Some(value) = existing
        .and_then(|c| c.secret.clone())
        .filter(|s| !s.is_empty())
    {
        return Ok((Secret::new(value), SecretOrigin::KeptFromOauthClient));
    }
    if let Some(value) = stored.and_then(|s| s.value.clone()) {
        return Ok((value, SecretOrigin::KeptFromSecret));
    }
    Ok((secret::generate()?, SecretOrigin::Generated))
}

/// Plan the OAuthClient and the Secret, then render or apply and report.
#[allow(clippy::too_many_arguments)]
async fn write(
    global: &GlobalArgs,
    target: &Target,
    client: &OAuthClient,
    take_over: bool,
    secret_name: &str,
    value: &Secret,
    origin: SecretOrigin,
    redirects: &[RedirectUri],
    host: Option<uris::RouteHost>,
    secrets: &[&Secret],
) -> Result<ExitCode> {
    let name = client.name_any();
    let mut plan = Plan::new();
    plan.push(PlannedObject::from_typed(client)?.with_force(take_over));
    plan.push(secret::planned_secret(
        target,
        secret_name,
        value,
        Some(&name),
    )?);
    let output = &global.output;
    if global.change.dry_run == DryRun::Client {
        apply::print_client_dry_run(&plan, output)?;
        note(&format!("client secret: {}", origin.describe()));
        return Ok(ExitCode::Ok);
    }
    let report =
        apply::apply_scrubbed(&target.client, &plan, global.change.dry_run, secrets).await?;
    let summary = ClientReport {
        oauth_client: name,
        redirect_uris: redirects.iter().map(|u| u.uri.clone()).collect(),
        redirect_host: host,
        grant_method: client.grant_method.clone(),
        access_token_max_age_seconds: client.access_token_max_age_seconds,
        secret: SecretReport {
            name: secret_name.to_owned(),
            namespace: target.namespace.clone(),
            key: names::SECRET_KEY,
            origin,
        },
        previous_secrets: client.additional_secrets.len(),
        apply: report.clone(),
    };
    if output.output.is_machine() {
        oc_mcp_common::cli::emit(&summary, output.output)?;
    } else {
        report.print(OutputFormat::Table)?;
        note(&format!("client secret: {}", origin.describe()));
        note(&format!(
            "redirect URIs: {}",
            summary.redirect_uris.join(" ")
        ));
    }
    if report.succeeded() {
        Ok(ExitCode::Ok)
    } else {
        Err(report.failure())
    }
}

/// `oc mcp-oauth rotate`
pub async fn run_rotate(global: &GlobalArgs, args: &RotateArgs) -> Result<ExitCode> {
    let target = target::connect(global).await?;
    require_openshift_oauth(&target).await?;
    if global.change.dry_run != DryRun::Client {
        let mut wanted =
            PlannedObject::from_typed(&OAuthClient::named(&args.name))?.required_permissions();
        wanted.extend(
            secret::planned_secret(&target, &args.secret_name, &Secret::new("x"), None)?
                .required_permissions(),
        );
        require_permissions(&target.client, &wanted).await?;
    }
    target::require_namespace(&target).await?;
    let api: Api<OAuthClient> = Api::all(target.client.clone());
    let Some(existing) = api.get_opt(&args.name).await? else {
        return Err(Error::Failed {
            message: format!(
                "OAuthClient {} does not exist: there is nothing to rotate",
                args.name
            ),
            hint: Some("register it first: `oc mcp-oauth register openshift`".into()),
        });
    };
    let take_over = !apply::is_ours(&existing.metadata);
    if take_over && !args.force {
        return Err(not_ours(&args.name));
    }
    let old = existing
        .secret
        .clone()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let (value, additional, origin) = if args.drop_previous {
        let Some(current) = old.clone() else {
            return Err(Error::failed(format!(
                "OAuthClient {} has no secret",
                args.name
            )));
        };
        (current, Vec::new(), SecretOrigin::Unchanged)
    } else {
        // The previous secret stays valid for one rotation; older ones are dropped.
        let additional = old.iter().map(|s| s.expose().to_owned()).collect();
        (secret::generate()?, additional, SecretOrigin::Rotated)
    };
    let client = desired_client(
        &args.name,
        &value,
        additional,
        existing.redirect_uris.clone(),
        existing.grant_method.clone(),
        existing.access_token_max_age_seconds,
        // Kept as they are: server-side apply would drop a field this manager stops sending.
        existing.scope_restrictions.clone(),
    );
    let redirects: Vec<RedirectUri> = existing
        .redirect_uris
        .iter()
        .filter_map(|u| u.parse::<RedirectUri>().ok())
        .collect();
    let previous: Vec<Secret> = existing
        .additional_secrets
        .iter()
        .map(Secret::new)
        .chain(old)
        .collect();
    let mut secrets: Vec<&Secret> = vec![&value];
    secrets.extend(previous.iter());
    write(
        global,
        &target,
        &client,
        take_over,
        &args.secret_name,
        &value,
        origin,
        &redirects,
        None,
        &secrets,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_existing_client_secret_wins_then_the_stored_one() {
        let mut client = OAuthClient::named("c");
        client.secret = Some("from-client".into());
        let stored = StoredSecret {
            object: k8s_openapi::api::core::v1::Secret::default(),
            value: Some(Secret::new("from-secret")),
        };
        let (value, origin) = choose_secret(Some(&client), Some(&stored)).expect("choose");
        assert_eq!(
            (value.expose(), origin),
            ("from-client", SecretOrigin::KeptFromOauthClient)
        );
        let (value, origin) = choose_secret(None, Some(&stored)).expect("choose");
        assert_eq!(
            (value.expose(), origin),
            ("from-secret", SecretOrigin::KeptFromSecret)
        );
        let (value, origin) = choose_secret(None, None).expect("choose");
        assert_eq!(origin, SecretOrigin::Generated);
        assert_eq!(value.expose().len(), 64);
    }

    #[test]
    fn desired_client_carries_only_managed_fields() {
        let client = desired_client(
            "c",
            &Secret::new("s"),
            vec!["old".into()],
            vec!["https://h/oauth/callback".into()],
            Some("auto".into()),
            None,
            openshift::mcp_scope_restrictions("mcp-readonly"),
        );
        let json = serde_json::to_value(&client).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
                "metadata": {"name": "c"}, "secret": "s", "additionalSecrets": ["old"],
                "redirectURIs": ["https://h/oauth/callback"], "grantMethod": "auto",
                "scopeRestrictions": [{"literals": ["user:info", "user:check-access"]},
                    {"clusterRole": {"roleNames": ["mcp-readonly"], "namespaces": ["*"], "allowEscalation": false}}]})
        );
    }
}
