//! `status`: the OAuthClient, its redirect URIs against the Route, the Secret (present, and
//! whether it matches the OAuthClient; never its value) and the settings ConfigMap.

use kube::{Api, ResourceExt};
use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, defaults,
    kube_args::Secret,
    openshift::{self, OAuthClient},
    output::Tabular,
};
use serde::Serialize;

use crate::{
    apply,
    names::{DeploymentArgs, ObjectName},
    secret,
    settings::{self, EntraSettings},
    target, uris,
};

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The OpenShift OAuthClient
    #[arg(long, default_value = defaults::OAUTH_CLIENT, value_name = "NAME")]
    pub name: ObjectName,

    #[command(flatten)]
    pub deployment: DeploymentArgs,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientStatus {
    pub name: String,
    pub present: bool,
    pub managed_by_oc_mcp: bool,
    #[serde(rename = "redirectURIs")]
    pub redirect_uris: Vec<String>,
    pub grant_method: Option<String>,
    pub secret_set: bool,
    pub previous_secrets: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretStatus {
    pub name: String,
    pub namespace: String,
    pub present: bool,
    pub key_present: bool,
    /// Whether the stored value is the OAuthClient's secret (or one of its previous ones).
    pub matches_oauth_client: Option<bool>,
    pub managed_by_oc_mcp: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<ClientStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<uris::RouteHost>,
    /// `https://<route host>/oauth/callback`, and whether it is registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_redirect_uri: Option<String>,
    pub redirect_registered: Option<bool>,
    pub secret: SecretStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entra: Option<EntraSettings>,
    /// The kinds that could not be read (forbidden): whether those objects exist is unknown,
    /// so the report never calls them missing.
    pub forbidden: Vec<String>,
    pub warnings: Vec<String>,
}

impl StatusReport {
    fn unknown(&self, kind: &str) -> bool {
        self.forbidden.iter().any(|f| f == kind)
    }
}

impl Tabular for StatusReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["ITEM", "STATE"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let mut rows = Vec::new();
        if let Some(c) = &self.oauth_client {
            rows.push(vec![
                format!("OAuthClient {}", c.name),
                if c.present {
                    format!(
                        "present (oc-mcp: {}, grant {}, secret set: {}, previous secrets: {})",
                        yes_no(c.managed_by_oc_mcp),
                        c.grant_method.as_deref().unwrap_or("-"),
                        yes_no(c.secret_set),
                        c.previous_secrets
                    )
                } else if self.unknown(OAUTH_CLIENTS) {
                    UNKNOWN.into()
                } else {
                    "missing".into()
                },
            ]);
            for uri in &c.redirect_uris {
                rows.push(vec!["  redirect URI".into(), uri.clone()]);
            }
        }
        rows.push(vec![
            "Route".into(),
            match &self.route {
                Some(r) => format!("{} ({})", r.host, r.source),
                None if self.unknown(ROUTES) => UNKNOWN.into(),
                None => "none yet".into(),
            },
        ]);
        if let Some(expected) = &self.expected_redirect_uri {
            rows.push(vec![
                "  callback registered".into(),
                match self.redirect_registered {
                    Some(true) => format!("yes ({expected})"),
                    Some(false) => format!("no ({expected}): run `oc mcp-oauth redirect sync`"),
                    None => format!("unknown ({expected})"),
                },
            ]);
        }
        let s = &self.secret;
        rows.push(vec![
            format!("Secret {}/{}", s.namespace, s.name),
            if s.present {
                format!(
                    "present (key sts_client_secret: {}{})",
                    yes_no(s.key_present),
                    match s.matches_oauth_client {
                        Some(true) => ", matches the OAuthClient",
                        Some(false) => ", DIFFERS from the OAuthClient",
                        None => "",
                    }
                )
            } else if self.unknown(SECRETS) {
                UNKNOWN.into()
            } else {
                "missing".into()
            },
        ]);
        if let Some(e) = &self.entra {
            rows.push(vec![
                "Entra application".into(),
                format!("client id {}, tenant {}", e.client_id, e.tenant_id),
            ]);
            rows.push(vec!["  issuer".into(), e.issuer_url.clone()]);
            rows.push(vec!["  audience".into(), e.audience.clone()]);
            if let Some(end) = &e.secret_expires {
                rows.push(vec!["  secret expires".into(), end.clone()]);
            }
        }
        for w in &self.warnings {
            rows.push(vec!["warning".into(), w.clone()]);
        }
        rows
    }
}

const UNKNOWN: &str = "unknown (forbidden)";
const OAUTH_CLIENTS: &str = "OAuthClients";
const ROUTES: &str = "Routes";
const SECRETS: &str = "Secrets";

/// Read something the report shows: a forbidden read is recorded as unknown (and ends the
/// command with exit 3), never reported as a missing object.
fn readable<T>(
    result: Result<T, oc_mcp_common::Error>,
    what: &str,
    forbidden: &mut Vec<String>,
) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.exit_code() == ExitCode::Auth => {
            tracing::debug!("cannot read {what}: {e}");
            forbidden.push(what.to_owned());
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `oc mcp-oauth status`
pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<ExitCode> {
    let target = target::connect(global).await?;
    let flavor = openshift::detect(&target.client).await?;
    let mut report = StatusReport::default();
    let mut warnings = Vec::new();
    let mut forbidden = Vec::new();

    let mut client: Option<OAuthClient> = None;
    if flavor.openshift_oauth {
        let api: Api<OAuthClient> = Api::all(target.client.clone());
        let got = readable(
            api.get_opt(&args.name).await.map_err(Into::into),
            OAUTH_CLIENTS,
            &mut forbidden,
        )?;
        client = got.flatten();
        report.oauth_client = Some(client.as_ref().map_or_else(
            || ClientStatus {
                name: args.name.to_string(),
                ..ClientStatus::default()
            },
            |c| ClientStatus {
                name: c.name_any(),
                present: true,
                managed_by_oc_mcp: apply::is_ours(&c.metadata),
                redirect_uris: c.redirect_uris.clone(),
                grant_method: c.grant_method.clone(),
                secret_set: c.secret.as_deref().is_some_and(|s| !s.is_empty()),
                previous_secrets: c.additional_secrets.len(),
            },
        ));
    }
    if flavor.openshift {
        let found = readable(
            uris::find_route(&target.client, &target.namespace, &args.deployment.release).await,
            ROUTES,
            &mut forbidden,
        )?
        .flatten();
        report.route = found.as_ref().and_then(|r| {
            uris::route_host_of(r).map(|host| uris::RouteHost {
                host,
                source: format!("Route {}/{}", target.namespace, r.name_any()),
            })
        });
    }
    let entra = readable(settings::read(&target).await, "ConfigMaps", &mut forbidden)?
        .flatten()
        .and_then(|d| EntraSettings::from_data(&d));
    if let Some(route) = &report.route {
        let expected = uris::callback_for(&route.host);
        report.redirect_registered = match (&client, &entra) {
            (Some(c), None) => Some(c.redirect_uris.contains(&expected)),
            _ => None,
        };
        if report.redirect_registered == Some(false) {
            warnings.push(format!(
                "the OAuthClient does not list {expected}: browser logins will fail; run `oc mcp-oauth redirect sync`"
            ));
        }
        report.expected_redirect_uri = Some(expected);
    }
    report.entra = entra;

    report.secret = secret_status(
        &target,
        &args.deployment.secret_name,
        client.as_ref(),
        report.entra.is_none(),
        &mut forbidden,
        &mut warnings,
    )
    .await?;
    report.warnings = warnings;
    report.forbidden = forbidden;
    for w in &report.warnings {
        tracing::info!("{w}");
    }
    cli::emit(&report, global.output.output)?;
    if report.forbidden.is_empty() {
        Ok(ExitCode::Ok)
    } else {
        Err(Error::Forbidden {
            message: format!(
                "cannot read {}: the report does not say whether they exist",
                report.forbidden.join(", ")
            ),
        })
    }
}

/// The Secret holding the client secret: present, and whether it is the OAuthClient's (never
/// its value).
async fn secret_status(
    target: &target::Target,
    secret_name: &str,
    client: Option<&OAuthClient>,
    openshift_client: bool,
    forbidden: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<SecretStatus> {
    let stored = readable(
        secret::read_stored(target, secret_name).await,
        SECRETS,
        forbidden,
    )?
    .flatten();
    let secret_forbidden = forbidden.iter().any(|f| f == SECRETS);
    let status = SecretStatus {
        name: secret_name.to_owned(),
        namespace: target.namespace.clone(),
        present: stored.is_some(),
        key_present: stored.as_ref().is_some_and(|s| s.value.is_some()),
        managed_by_oc_mcp: stored
            .as_ref()
            .is_some_and(|s| apply::is_ours(&s.object.metadata)),
        matches_oauth_client: match (client, stored.as_ref().and_then(|s| s.value.as_ref())) {
            (Some(c), Some(value)) if openshift_client => Some(matches(c, value)),
            _ => None,
        },
    };
    if status.matches_oauth_client == Some(false) {
        warnings.push("the Secret's value is not the OAuthClient's secret: run `oc mcp-oauth register openshift` to store it again".into());
    }
    if !status.present && !secret_forbidden {
        warnings.push(format!(
            "Secret {}/{} is missing: run `oc mcp-oauth register ...` or `oc mcp-oauth secret set`",
            target.namespace, secret_name
        ));
    }
    Ok(status)
}

fn matches(client: &OAuthClient, value: &Secret) -> bool {
    client.secret.as_deref() == Some(value.expose())
        || client
            .additional_secrets
            .iter()
            .any(|s| s == value.expose())
}
