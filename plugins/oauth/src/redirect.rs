//! `redirect sync`: after install, the real Route host is known (OpenShift names the chart's
//! Route `<ingress>-<random>`); make the registered web callback match it.

use std::io::Write as _;

use kube::{Api, ResourceExt};
use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, OutputFormat, Plan, PlannedObject, Result, cli, defaults,
    kube_args::Secret,
    openshift::{self, OAuthClient},
    output::Tabular,
    preflight::{Permission, missing_permissions, require_none_missing},
};
use serde::Serialize;
use serde_json::json;

use crate::{
    apply,
    entra::{
        GraphArgs,
        graph::{Graph, GraphRequest},
        token::{self, TokenSource},
    },
    names::{DnsLabel, ObjectName},
    note,
    openshift_client::desired_client,
    settings::{self, EntraSettings},
    target::{self, Target},
    uris::{self, CALLBACK_PATH},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// Entra when the settings ConfigMap says so, else the OpenShift OAuthClient
    Auto,
    /// The OpenShift OAuthClient
    Openshift,
    /// The Entra ID application recorded in the settings ConfigMap
    Entra,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// Which registration to fix
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    pub provider: Provider,

    /// The OpenShift OAuthClient
    #[arg(long, default_value = defaults::OAUTH_CLIENT, value_name = "NAME")]
    pub name: ObjectName,

    /// The Helm release of the MCP server (its Route is found through the chart's Ingress)
    #[arg(long, default_value = defaults::RELEASE, value_name = "NAME")]
    pub release: DnsLabel,

    /// Keep other https .../oauth/callback URIs instead of removing them
    #[arg(long)]
    pub keep_stale: bool,

    /// Read the Microsoft Graph token from stdin instead of `az account get-access-token`
    #[arg(long)]
    pub graph_token_stdin: bool,

    #[command(flatten)]
    pub graph: GraphArgs,

    /// Change an OAuthClient that oc-mcp did not make
    #[arg(long)]
    pub force: bool,
}

/// What happens to one URI.
#[derive(Debug, Clone, Serialize)]
pub struct UriChange {
    pub uri: String,
    /// `kept`, `added` or `removed`.
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub provider: &'static str,
    pub client: String,
    pub route_host: String,
    pub changed: bool,
    pub dry_run: bool,
    pub uris: Vec<UriChange>,
}

impl SyncReport {
    fn new(
        global: &GlobalArgs,
        provider: &'static str,
        client: &str,
        route_host: &str,
        changed: bool,
        uris: Vec<UriChange>,
    ) -> Self {
        Self {
            provider,
            client: client.to_owned(),
            route_host: route_host.to_owned(),
            changed,
            dry_run: global.change.dry_run != DryRun::None,
            uris,
        }
    }
}

impl Tabular for SyncReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["REDIRECT URI", "CHANGE"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        self.uris
            .iter()
            .map(|u| {
                let change = if self.dry_run && u.change != "kept" {
                    format!("{} (dry run)", u.change)
                } else {
                    u.change.to_owned()
                };
                vec![u.uri.clone(), change]
            })
            .collect()
    }
}

/// Stale: an https callback on another host. Loopback and other paths are left alone.
fn is_stale(uri: &str, host: &str) -> bool {
    reqwest::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "https"
            && !uris::is_loopback_host(&u)
            && u.path() == CALLBACK_PATH
            && u.host_str().is_some_and(|h| !h.eq_ignore_ascii_case(host))
    })
}

/// The new list and the per-URI changes.
pub fn plan_uris(
    current: &[String],
    host: &str,
    keep_stale: bool,
) -> (Vec<String>, Vec<UriChange>) {
    let wanted = uris::callback_for(host);
    let mut next = Vec::new();
    let mut changes = Vec::new();
    for uri in current {
        if !keep_stale && is_stale(uri, host) {
            changes.push(UriChange {
                uri: uri.clone(),
                change: "removed",
            });
        } else {
            next.push(uri.clone());
            changes.push(UriChange {
                uri: uri.clone(),
                change: "kept",
            });
        }
    }
    if !current.contains(&wanted) {
        next.insert(0, wanted.clone());
        changes.insert(
            0,
            UriChange {
                uri: wanted,
                change: "added",
            },
        );
    }
    (next, changes)
}

/// `oc mcp-oauth redirect sync`
pub async fn run(global: &GlobalArgs, args: &SyncArgs) -> Result<ExitCode> {
    let target = target::connect(global).await?;
    let flavor = openshift::detect(&target.client).await?;
    if !flavor.openshift {
        return Err(Error::Failed {
            message: "this cluster serves no OpenShift Routes: there is no Route host to sync with"
                .into(),
            hint: Some(
                "register the redirect URI you use with `register ... --redirect-uri`".into(),
            ),
        });
    }
    let reads = [
        Permission::new("list", "route.openshift.io", "routes").in_namespace(&target.namespace),
        Permission::new("get", "", "configmaps").in_namespace(&target.namespace),
    ];
    // The OAuthClient is read and applied unless the provider is Entra; with `auto` that is
    // known only after reading the settings, so ask for both at once and judge afterwards.
    let mut asked = reads.to_vec();
    if args.provider != Provider::Entra {
        asked.extend(
            ["get", "create", "patch"]
                .map(|verb| Permission::new(verb, "oauth.openshift.io", "oauthclients")),
        );
    }
    let missing = missing_permissions(&target.client, &asked).await?;
    if missing.iter().any(|p| reads.contains(p)) {
        return require_none_missing(&target.client, missing)
            .await
            .map(|()| ExitCode::Ok);
    }
    let entra = settings::read(&target)
        .await?
        .and_then(|d| EntraSettings::from_data(&d));
    let provider = match (args.provider, &entra) {
        (Provider::Auto, Some(_)) | (Provider::Entra, _) => Provider::Entra,
        _ => Provider::Openshift,
    };
    if provider == Provider::Openshift {
        require_none_missing(&target.client, missing).await?;
    }
    let Some(route) = uris::find_route(&target.client, &target.namespace, &args.release).await?
    else {
        return Err(Error::Failed {
            message: format!(
                "no Route serves release {} in namespace {}: nothing to sync with yet",
                args.release, target.namespace
            ),
            hint: Some(
                "install the server first (`oc mcp-install`), or pass --release / -n".into(),
            ),
        });
    };
    let Some(host) = uris::route_host_of(&route) else {
        return Err(Error::failed(format!(
            "Route {} has no host yet; wait for the router to admit it",
            route.name_any()
        )));
    };
    note(&format!(
        "Route {}/{} serves {host}",
        target.namespace,
        route.name_any()
    ));
    match provider {
        Provider::Entra => {
            let Some(settings) = entra else {
                return Err(Error::Failed {
                    message: format!(
                        "ConfigMap {} records no Entra registration",
                        settings::SETTINGS_CONFIGMAP
                    ),
                    hint: Some("run `oc mcp-oauth register entra --tenant TENANT` first".into()),
                });
            };
            sync_entra(global, args, &settings, &host).await
        }
        _ => sync_openshift(global, args, &target, &host).await,
    }
}

async fn sync_openshift(
    global: &GlobalArgs,
    args: &SyncArgs,
    target: &Target,
    host: &str,
) -> Result<ExitCode> {
    let api: Api<OAuthClient> = Api::all(target.client.clone());
    let Some(existing) = api.get_opt(&args.name).await? else {
        return Err(Error::Failed {
            message: format!("OAuthClient {} does not exist", args.name),
            hint: Some("register it first: `oc mcp-oauth register openshift`".into()),
        });
    };
    let (next, changes) = plan_uris(&existing.redirect_uris, host, args.keep_stale);
    let differs = next != existing.redirect_uris;
    let report = SyncReport::new(global, "openshift", &args.name, host, differs, changes);
    if !differs {
        cli::emit(&report, global.output.output)?;
        return Ok(ExitCode::Ok);
    }
    let take_over = !apply::is_ours(&existing.metadata);
    if take_over && !args.force {
        return Err(Error::Failed {
            message: format!("OAuthClient {} was not made by oc-mcp", args.name),
            hint: Some("re-run with --force to change its redirect URIs anyway".into()),
        });
    }
    let Some(current) = existing
        .secret
        .clone()
        .filter(|s| !s.is_empty())
        .map(Secret::new)
    else {
        return Err(Error::failed(format!(
            "OAuthClient {} has no secret",
            args.name
        )));
    };
    let client = desired_client(
        &args.name,
        &current,
        existing.additional_secrets.clone(),
        next,
        existing.grant_method.clone(),
        existing.access_token_max_age_seconds,
        // Kept: server-side apply would drop a field this manager stops sending.
        existing.scope_restrictions.clone(),
    );
    let mut plan = Plan::new();
    plan.push(PlannedObject::from_typed(&client)?.with_force(take_over));
    if global.change.dry_run == DryRun::Client {
        if global.output.output.is_machine() {
            apply::print_client_dry_run(&plan, &global.output)?;
        } else {
            cli::emit(&report, OutputFormat::Table)?;
        }
        return Ok(ExitCode::Ok);
    }
    let previous: Vec<Secret> = existing
        .additional_secrets
        .iter()
        .map(Secret::new)
        .collect();
    let mut secrets = vec![&current];
    secrets.extend(previous.iter());
    let applied =
        apply::apply_scrubbed(&target.client, &plan, global.change.dry_run, &secrets).await?;
    if !applied.succeeded() {
        return apply::finish(&applied, &global.output);
    }
    cli::emit(&report, global.output.output)?;
    Ok(ExitCode::Ok)
}

async fn sync_entra(
    global: &GlobalArgs,
    args: &SyncArgs,
    settings: &EntraSettings,
    host: &str,
) -> Result<ExitCode> {
    let base = &args.graph.graph_url;
    if settings.object_id.is_empty() {
        return Err(Error::failed(
            "the settings ConfigMap has no application_object_id; re-run `register entra`",
        ));
    }
    let read = GraphRequest::get(
        "read the application's web redirect URIs",
        format!("/applications/{}?$select=id,appId,web", settings.object_id),
    );
    let source = TokenSource::detect(args.graph_token_stdin);
    let token = if global.change.dry_run == DryRun::Client {
        None
    } else {
        token::graph_token(&source, &settings.tenant_id).await?
    };
    let Some(token) = token else {
        // The current list is unknown without Graph: show the requests with the callback.
        let update = GraphRequest::with_body(
            "set the web redirect URIs (the current ones, stale hosts removed, plus the Route's callback)",
            "PATCH",
            format!("/applications/{}", settings.object_id),
            json!({"web": {"redirectUris": [uris::callback_for(host)]}}),
        );
        let text = format!(
            "# Entra application {} (tenant {}): make the web redirect URIs match the Route host {host}.\n\
             # Every request needs `Authorization: Bearer <Microsoft Graph token>`.\n\n## 1. {}\n{}\n## 2. {}\n{}",
            settings.client_id,
            settings.tenant_id,
            read.purpose,
            read.to_http(base),
            update.purpose,
            update.to_http(base)
        );
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))?;
        if global.change.dry_run == DryRun::Client {
            return Ok(ExitCode::Ok);
        }
        return Err(Error::Failed {
            message: "no Microsoft Graph token: `az` is not on PATH and --graph-token-stdin was not given; nothing was changed".into(),
            hint: Some("do the steps printed above by hand, or `az login` and re-run".into()),
        });
    };
    let graph = Graph::new(base, &token, target::request_timeout(global))?;
    let Some(app) = graph.get_opt(&read).await? else {
        return Err(Error::Failed {
            message: format!(
                "the Entra application {} no longer exists",
                settings.object_id
            ),
            hint: Some("register it again: `oc mcp-oauth register entra --tenant TENANT`".into()),
        });
    };
    let current: Vec<String> = app
        .pointer("/web/redirectUris")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    let (next, changes) = plan_uris(&current, host, args.keep_stale);
    let differs = next != current;
    if differs && global.change.dry_run == DryRun::None {
        let update = GraphRequest::with_body(
            "set the web redirect URIs",
            "PATCH",
            format!("/applications/{}", settings.object_id),
            json!({"web": {"redirectUris": next}}),
        );
        graph.send(&update, false).await?;
    }
    let report = SyncReport::new(global, "entra", &settings.client_id, host, differs, changes);
    cli::emit(&report, global.output.output)?;
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_callbacks_go_loopbacks_and_other_paths_stay() {
        let current = vec![
            "https://kubernetes-mcp-server-mcp-server.apps.x/oauth/callback".to_owned(),
            "http://127.0.0.1/oauth/callback".to_owned(),
            "https://other.example.com/login".to_owned(),
        ];
        let (next, changes) = plan_uris(&current, "kubernetes-mcp-server-abcde.apps.x", false);
        assert_eq!(
            next,
            [
                "https://kubernetes-mcp-server-abcde.apps.x/oauth/callback",
                "http://127.0.0.1/oauth/callback",
                "https://other.example.com/login"
            ]
        );
        assert_eq!(changes[0].change, "added");
        assert_eq!(changes[1].change, "removed");
        let (same, _) = plan_uris(&next, "kubernetes-mcp-server-abcde.apps.x", false);
        assert_eq!(same, next);
        let (kept, _) = plan_uris(&current, "h", true);
        assert_eq!(kept.len(), 4);
    }
}
