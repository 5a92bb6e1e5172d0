//! From flags and cluster facts to a validated install plan, refusing what cannot work.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
pub use oc_mcp_common::release::{CHART_NAME, fullname};
use oc_mcp_common::{
    Error, Result,
    https_url::HttpsUrl,
    names::InvalidValue,
    openshift::{AuthenticationConfig, ClusterFlavor, IngressConfig},
    server_config::{
        AuthMode, ConfigText, Finding, LintContext, OidcSettings, ParsedConfig, ServerConfig,
        ServerVersion, TokenExchangeSettings, has_errors, lint, merge_into,
    },
    tenant::Tenant,
};
use serde::Serialize;

use crate::args::{Engine, InstallArgs, RouteHost, image_tag};
/// ConfigMap written by `oc mcp-oauth register entra`.
pub const OAUTH_SETTINGS: &str = "mcp-oauth-settings";

/// What the cluster says, read once before planning.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    pub openshift: bool,
    /// `ingresses.config.openshift.io/cluster` `.spec.domain`.
    pub apps_domain: Option<String>,
    /// `authentications.config.openshift.io/cluster`, when the cluster serves it.
    pub authentication: Option<AuthenticationConfig>,
    /// The `mcp-oauth-settings` ConfigMap's data, when present.
    pub oauth_settings: BTreeMap<String, String>,
}

impl ClusterFacts {
    pub async fn gather(client: &Client, namespace: &str, flavor: ClusterFlavor) -> Result<Self> {
        let mut facts = Self {
            openshift: flavor.openshift,
            ..Self::default()
        };
        if flavor.openshift_config {
            let ingresses: Api<IngressConfig> = Api::all(client.clone());
            facts.apps_domain = ingresses
                .get_opt("cluster")
                .await?
                .and_then(|i| i.spec.domain);
            let auths: Api<AuthenticationConfig> = Api::all(client.clone());
            facts.authentication = auths.get_opt("cluster").await?;
        }
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        // The settings are optional: a missing namespace or ConfigMap just means none.
        if let Ok(Some(cm)) = config_maps.get_opt(OAUTH_SETTINGS).await {
            facts.oauth_settings = cm.data.unwrap_or_default();
        }
        Ok(facts)
    }

    fn setting(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.oauth_settings.get(*k))
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// The flag's value if given, else the settings' value under one of `keys`, read with the
    /// flag's grammar (clap parses the flag; the ConfigMap is read at run time).
    fn flag_or_setting<T>(&self, flag: Option<&T>, keys: &[&str]) -> Result<Option<T>>
    where
        T: Clone + std::str::FromStr<Err = InvalidValue>,
    {
        if let Some(value) = flag {
            return Ok(Some(value.clone()));
        }
        let Some(text) = self.setting(keys) else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|e: InvalidValue| {
            Error::usage_with_hint(
                format!("ConfigMap {OAUTH_SETTINGS}: {}", e.reason),
                format!("{}, or pass the flag", e.fix),
            )
        })
    }
}

/// How the server is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Exposure {
    Internal,
    Route { host: String },
}

/// Where the Ingress's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressTls {
    /// OpenShift's router terminates TLS with its default certificate (an edge Route).
    Router,
    /// `spec.tls` naming this Secret (`--tls-secret`).
    Secret(String),
    /// cert-manager's `cert-manager.io/cluster-issuer` annotation; the certificate goes into
    /// `secret` (`--cluster-issuer`).
    ClusterIssuer { issuer: String, secret: String },
}

impl IngressTls {
    /// The Secret `spec.tls` names, if any.
    pub fn secret_name(&self) -> Option<&str> {
        match self {
            Self::Router => None,
            Self::Secret(name) | Self::ClusterIssuer { secret: name, .. } => Some(name),
        }
    }
}

/// Everything an install does, decided before anything is written.
#[derive(Debug, Clone)]
pub struct InstallPlan {
    pub namespace: String,
    pub release: String,
    /// Name of the Deployment, Service, ConfigMap, ServiceAccount and Ingress.
    pub fullname: String,
    pub mode: AuthMode,
    pub exposure: Exposure,
    /// How the Ingress gets its certificate (public exposure only).
    pub ingress_tls: IngressTls,
    pub image: String,
    pub server_version: ServerVersion,
    pub config: ServerConfig,
    /// Lint warnings (errors refuse the plan).
    pub warnings: Vec<String>,
    pub engine: Engine,
    pub chart: String,
    pub chart_version: Option<String>,
    pub openshift: bool,
    /// The issuer's CA (`--issuer-ca`), mounted from a ConfigMap.
    pub issuer_ca: Option<String>,
    /// The drop-in holding the token-exchange client secret, mounted from a Secret and read
    /// with `--config-dir`. Its text contains the secret: never print it.
    pub secret_drop_in: Option<oc_mcp_common::kube_args::Secret>,
}

impl InstallPlan {
    pub fn host(&self) -> Option<&str> {
        match &self.exposure {
            Exposure::Route { host } => Some(host),
            Exposure::Internal => None,
        }
    }

    pub fn url(&self) -> Option<String> {
        self.host().map(|h| format!("https://{h}/mcp"))
    }

    /// The plan's shape as the flags alone decide it, before the cluster is read: the objects
    /// [`resolve`] makes, of the same kinds in the same namespace, with stand-in contents.
    /// The preflight derives what it asks from the objects rendered from it.
    pub fn preview(args: &InstallArgs, namespace: &str, openshift: bool) -> Self {
        let stand_in = oc_mcp_common::kube_args::Secret::new(String::new());
        Self {
            namespace: namespace.to_owned(),
            release: args.release.to_string(),
            fullname: fullname(&args.release),
            mode: args.auth.unwrap_or(AuthMode::OpenShift),
            exposure: if args.internal {
                Exposure::Internal
            } else {
                Exposure::Route {
                    host: args
                        .host
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                }
            },
            ingress_tls: IngressTls::Router,
            image: args.image.clone(),
            server_version: ServerVersion::Latest,
            config: ServerConfig::default(),
            warnings: Vec::new(),
            engine: args.engine,
            chart: args.chart.clone(),
            chart_version: args.chart_version.clone(),
            openshift,
            issuer_ca: args.issuer_ca.as_ref().map(|_| String::new()),
            secret_drop_in: args.token_exchange.as_ref().map(|_| stand_in),
        }
    }
}

/// Where the issuer CA is mounted in the pod.
pub const ISSUER_CA_PATH: &str = "/etc/kubernetes-mcp-server-ca/ca.crt";

/// Where the Secret drop-in directory is mounted (`--config-dir`).
pub const SECRET_CONFIG_DIR: &str = "/etc/kubernetes-mcp-server-secrets";
/// The drop-in file's name in that directory and in the Secret.
pub const SECRET_DROP_IN: &str = "50-token-exchange.toml";

/// Inputs the plan needs besides flags: file contents and the client secret, read once.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub extra_config: Option<String>,
    pub issuer_ca: Option<String>,
    /// The token-exchange client secret (from the cluster Secret); never printed.
    pub sts_client_secret: Option<oc_mcp_common::kube_args::Secret>,
}

/// Decide the plan; every refusal is a usage error naming the reason (exit 2).
pub fn resolve(
    args: &InstallArgs,
    namespace: &str,
    facts: &ClusterFacts,
    inputs: &Inputs,
) -> Result<InstallPlan> {
    // The namespace becomes part of the route host and the values file's header: whoever
    // calls, it must be a DNS label (fuzzing found a newline breaking the header).
    oc_mcp_common::names::validate_dns_label(namespace, "namespace")?;
    let extra_config = inputs.extra_config.as_deref();
    args.validate()?;
    let mode = args.auth.unwrap_or(AuthMode::OpenShift);
    let fullname = fullname(&args.release);
    let exposure = exposure(args, namespace, facts, &fullname)?;
    let ingress_tls = ingress_tls(args, facts, &exposure, &fullname)?;
    check_mode_fits(mode, &exposure, facts)?;
    let server_version = server_version(&args.image)?;
    if let Some(minimum) = mode.minimum_server_version()
        && server_version < minimum
    {
        return Err(Error::usage_with_hint(
            format!(
                "--auth {mode} needs kubernetes-mcp-server {minimum} or later; --image is {server_version}"
            ),
            format!("use --image {}", crate::args::DEFAULT_IMAGE),
        ));
    }
    let (oidc, client_id) = match oidc_settings(args, mode, facts, &exposure)? {
        Some((settings, client_id)) => (Some(settings), Some(client_id)),
        None => (None, None),
    };
    if args.token_exchange.is_some() && oidc.is_none() {
        return Err(Error::usage_with_hint(
            format!("--token-exchange does not apply to --auth {mode}"),
            "token exchange needs an issuer: choose --auth entra or --auth oidc",
        ));
    }
    // With an exchange, the cluster receives the exchanged token, not the user's.
    if let (Some(settings), None) = (&oidc, &args.token_exchange) {
        check_issuer_trust(settings, facts)?;
    }
    let mut base = ServerConfig::for_mode(mode, oidc.as_ref(), &args.toolsets)
        .map_err(|e| Error::usage(e.to_string()))?;
    if inputs.issuer_ca.is_some() {
        if oidc.is_none() {
            return Err(Error::usage_with_hint(
                format!("--issuer-ca does not apply to --auth {mode}"),
                "drop it, or choose --auth entra or --auth oidc",
            ));
        }
        base.certificate_authority = Some(ISSUER_CA_PATH.to_owned());
    }
    let (base, secret_drop_in) =
        add_token_exchange(base, args, client_id.as_deref(), inputs, server_version)?;
    let context = match &exposure {
        Exposure::Internal => LintContext::new(server_version).in_configmap().internal(),
        Exposure::Route { host } => LintContext::new(server_version)
            .in_configmap()
            .public_route(host.clone()),
    };
    let (config, mut findings) = match extra_config {
        None => {
            let findings = lint(&base, &context);
            (base, findings)
        }
        Some(text) => merge_extra(&base, text, &context)?,
    };
    if secret_drop_in.is_some() {
        // Lint as the server reads it: the ConfigMap file plus the Secret drop-in (with a
        // stand-in value: findings must never carry the real secret).
        let stand_in =
            ServerConfig::client_secret_drop_in("stand-in", server_version).to_toml_string();
        let parsed = ParsedConfig::parse_files(
            &ConfigText::new("config.toml", config.to_toml_string()),
            &[ConfigText::new(SECRET_DROP_IN, stand_in)],
        )
        .map_err(|e| Error::failed(format!("cannot read the generated config: {e}")))?;
        findings = parsed.lint(&context);
    }
    refuse_lint_errors(&findings)?;
    Ok(InstallPlan {
        namespace: namespace.to_owned(),
        release: args.release.to_string(),
        fullname,
        mode,
        exposure,
        ingress_tls,
        image: args.image.clone(),
        server_version,
        config,
        warnings: findings.iter().map(ToString::to_string).collect(),
        engine: args.engine,
        chart: args.chart.clone(),
        chart_version: args.chart_version.clone(),
        openshift: facts.openshift,
        issuer_ca: inputs.issuer_ca.clone(),
        secret_drop_in,
    })
}

/// Modes that cannot work here: openshift off OpenShift, none on a public route.
fn check_mode_fits(mode: AuthMode, exposure: &Exposure, facts: &ClusterFacts) -> Result<()> {
    if mode == AuthMode::OpenShift && !facts.openshift {
        return Err(Error::usage_with_hint(
            "--auth openshift needs OpenShift (its OAuth server issues the tokens it passes \
             through), and this cluster serves no OpenShift APIs (route.openshift.io, \
             project.openshift.io)",
            "choose --auth oidc (or entra) with an issuer this cluster's API server accepts \
             tokens from, or --auth none --internal for a server reached only by port-forward",
        ));
    }
    if mode == AuthMode::None && *exposure != Exposure::Internal {
        return Err(Error::usage_with_hint(
            "--auth none on a public route would let anyone use the server's cluster access",
            "add --internal (no route; reach it with `oc mcp-verify --port-forward`), or choose --auth openshift",
        ));
    }
    Ok(())
}

/// `--token-exchange`: the `[token_exchange]` settings in the main file, and the client secret
/// in a separate drop-in (mounted from a Secret).
fn add_token_exchange(
    base: ServerConfig,
    args: &InstallArgs,
    client_id: Option<&str>,
    inputs: &Inputs,
    server_version: ServerVersion,
) -> Result<(ServerConfig, Option<oc_mcp_common::kube_args::Secret>)> {
    let (Some(strategy), Some(client_id)) = (&args.token_exchange, client_id) else {
        return Ok((base, None));
    };
    let Some(secret) = &inputs.sts_client_secret else {
        return Err(Error::usage_with_hint(
            format!(
                "--token-exchange needs the client secret in Secret {} (key sts_client_secret)",
                args.sts_secret
            ),
            "store it with `oc mcp-oauth secret set` (never on a command line)",
        ));
    };
    let exchange = TokenExchangeSettings {
        strategy: strategy.clone(),
        audience: args.sts_audience.clone(),
        scopes: args.sts_scopes.clone(),
        // The exchange authenticates as the OAuth client, whatever audience tokens carry.
        client_id: client_id.to_owned(),
        method: "client_secret_post".to_owned(),
    };
    let config = base.with_token_exchange(&exchange, server_version);
    let drop_in = ServerConfig::client_secret_drop_in(secret.expose(), server_version);
    Ok((
        config,
        Some(oc_mcp_common::kube_args::Secret::new(
            drop_in.to_toml_string(),
        )),
    ))
}

/// Merge `--extra-config` over the mode's config and lint the result as the server will read
/// it: unknown keys and wrong types from the file are findings, not silently dropped.
fn merge_extra(
    base: &ServerConfig,
    text: &str,
    context: &LintContext,
) -> Result<(ServerConfig, Vec<Finding>)> {
    let extra: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::usage_with_hint(
            format!("--extra-config is not valid TOML: {}", e.message()),
            "fix the file's syntax (it is a kubernetes-mcp-server config.toml fragment)",
        )
    })?;
    let mut merged = base.to_table();
    merge_into(&mut merged, extra);
    let text = toml::to_string(&merged)
        .map_err(|e| Error::failed(format!("cannot encode the config: {e}")))?;
    let parsed =
        ParsedConfig::parse(&text).map_err(|e| Error::usage(format!("--extra-config: {e}")))?;
    let findings = parsed.lint(context);
    Ok((parsed.config, findings))
}

/// Refuse a config with lint errors, listing them all.
pub fn refuse_lint_errors(findings: &[Finding]) -> Result<()> {
    if !has_errors(findings) {
        return Ok(());
    }
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(ToString::to_string)
        .collect();
    Err(Error::usage_with_hint(
        format!(
            "the server config would be rejected:\n  {}",
            errors.join("\n  ")
        ),
        "fix the flags named above; nothing was changed",
    ))
}

fn exposure(
    args: &InstallArgs,
    namespace: &str,
    facts: &ClusterFacts,
    fullname: &str,
) -> Result<Exposure> {
    if args.internal {
        return Ok(Exposure::Internal);
    }
    if let Some(host) = &args.host {
        return Ok(Exposure::Route {
            host: host.to_string(),
        });
    }
    // The guide's `host: ""` fails `helm install`; OpenShift's own default is <route>-<ns>.<domain>.
    match &facts.apps_domain {
        Some(domain) => {
            let host = format!("{fullname}-{namespace}.{domain}");
            let host: RouteHost = host.parse().map_err(|e: InvalidValue| {
                Error::usage_with_hint(
                    format!("the route host from the apps domain {}", e.reason),
                    "pass --host HOST for the public name, or --internal for no route",
                )
            })?;
            Ok(Exposure::Route {
                host: host.to_string(),
            })
        }
        None => Err(Error::usage_with_hint(
            "no route host: the cluster has no OpenShift apps domain (ingresses.config.openshift.io/cluster)",
            "pass --host HOST for the public name, or --internal for no route",
        )),
    }
}

/// The Ingress's certificate. On OpenShift the router's default one serves the edge Route;
/// elsewhere a typical ingress controller serves plain HTTP unless the Ingress names a
/// certificate, so a public endpoint there needs `--tls-secret` or `--cluster-issuer`.
fn ingress_tls(
    args: &InstallArgs,
    facts: &ClusterFacts,
    exposure: &Exposure,
    fullname: &str,
) -> Result<IngressTls> {
    let tls = match (&args.tls_secret, &args.cluster_issuer) {
        (Some(secret), _) => IngressTls::Secret(secret.to_string()),
        (None, Some(issuer)) => IngressTls::ClusterIssuer {
            issuer: issuer.to_string(),
            secret: format!("{fullname}-tls"),
        },
        (None, None) => IngressTls::Router,
    };
    if let Exposure::Route { host } = exposure
        && tls == IngressTls::Router
        && !facts.openshift
    {
        return Err(Error::usage_with_hint(
            format!(
                "a public endpoint ({host}) off OpenShift needs TLS on its Ingress: without \
                 it a typical ingress controller serves the MCP endpoint, and the tokens sent \
                 to it, over plain HTTP"
            ),
            "pass --tls-secret NAME (a kubernetes.io/tls Secret for the host in the install's \
             namespace) or --cluster-issuer NAME (cert-manager issues the certificate), or \
             --internal for no public endpoint",
        ));
    }
    Ok(tls)
}

fn server_version(image: &str) -> Result<ServerVersion> {
    let tag = image_tag(image)?;
    if tag.starts_with("sha256:") {
        return Ok(ServerVersion::Latest);
    }
    Ok(tag
        .parse::<ServerVersion>()
        .unwrap_or(ServerVersion::Latest))
}

/// The issuer settings of the entra and oidc modes, and the OAuth client ID.
///
/// The audience is what a client that follows the MCP authorization spec obtains: it takes
/// `resource` from the protected-resource metadata (v0.0.67 publishes `server_url` there,
/// without a trailing slash) and asks the issuer for a token for it (RFC 8707). So in oidc
/// mode behind a route, `server_url` is the endpoint's URL `https://<host>/mcp` (RFC 9728:
/// the metadata's `resource` is the URL the client connects to; with a path, SDKs do not
/// add a trailing slash when they normalise it) and `oauth_audience` is the same string.
/// Entra v2 ignores `resource`: its tokens carry the app's client ID when the client asks for
/// a scope of the app (`api://<client-id>/...`), so entra keeps the client ID and advertises
/// that scope. `--audience` overrides both.
fn oidc_settings(
    args: &InstallArgs,
    mode: AuthMode,
    facts: &ClusterFacts,
    exposure: &Exposure,
) -> Result<Option<(OidcSettings, String)>> {
    let client_id = || {
        args.client_id
            .clone()
            .or_else(|| facts.setting(&["clientId", "client-id", "client_id"]))
    };
    let resource = match exposure {
        Exposure::Route { host } => Some(format!("https://{host}/mcp")),
        Exposure::Internal => None,
    };
    let (mut settings, client_id) = match mode {
        AuthMode::OpenShift | AuthMode::None => {
            if args.issuer.is_some() || args.tenant.is_some() || args.client_id.is_some() {
                return Err(Error::usage_with_hint(
                    format!("--issuer, --tenant and --client-id do not apply to --auth {mode}"),
                    "drop them, or choose --auth entra or --auth oidc",
                ));
            }
            return Ok(None);
        }
        AuthMode::Entra => {
            let tenant = facts.flag_or_setting::<Tenant>(
                args.tenant.as_ref(),
                &["tenant", "tenantId", "tenant-id", "tenant_id"],
            )?;
            let (Some(tenant), Some(client_id)) = (tenant, client_id()) else {
                return Err(Error::usage_with_hint(
                    "--auth entra needs the tenant and the app's client ID",
                    "run `oc mcp-oauth register entra` first (it stores them in mcp-oauth-settings), or pass --tenant and --client-id",
                ));
            };
            let mut settings = OidcSettings::entra(tenant.as_str(), client_id.clone());
            if let Some(audience) = facts.setting(&["audience"]) {
                settings.audience = audience;
            }
            let registered: Vec<String> = facts
                .setting(&["scopes"])
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            settings.scopes = if registered.is_empty() {
                entra_scopes(&client_id)
            } else {
                registered
            };
            (settings, client_id)
        }
        AuthMode::Oidc => {
            let issuer = facts
                .flag_or_setting::<HttpsUrl>(args.issuer.as_ref(), &["issuer", "issuer_url"])?;
            let (Some(issuer), Some(client_id)) = (issuer, client_id()) else {
                return Err(Error::usage_with_hint(
                    "--auth oidc needs the issuer and the client ID",
                    "pass --issuer URL and --client-id ID",
                ));
            };
            let audience = resource.clone().unwrap_or_else(|| client_id.clone());
            (OidcSettings::new(issuer.as_given(), audience), client_id)
        }
    };
    if let Some(audience) = &args.audience {
        settings.audience.clone_from(audience);
    }
    if !args.scopes.is_empty() {
        settings = settings.with_scopes(&args.scopes);
    }
    if mode == AuthMode::Entra {
        check_entra_scopes(&settings.scopes, &client_id)?;
    }
    if let Exposure::Route { host } = exposure {
        settings = settings.with_route_host(host.clone());
    }
    settings.server_url = resource;
    Ok(Some((settings, client_id)))
}

/// What a client asks Entra for: sign-in, a refresh token, and the app's own scope (which
/// `oc mcp-oauth register entra` exposes), so the access token's audience is the app.
pub fn entra_scopes(client_id: &str) -> Vec<String> {
    ["openid", "profile", "email", "offline_access"]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("api://{client_id}/access_as_user")])
        .collect()
}

/// Entra issues a token for the resource whose scope the client asks for; with only
/// sign-in and Graph scopes (no `/` in any) that is Microsoft Graph, which the server rejects.
fn check_entra_scopes(scopes: &[String], client_id: &str) -> Result<()> {
    if scopes.iter().any(|s| s.contains('/')) {
        return Ok(());
    }
    Err(Error::usage_with_hint(
        format!(
            "--scopes {} names no scope of the app: a client asking for only these gets a \
             Microsoft Graph token, whose audience the server rejects",
            scopes.join(",")
        ),
        format!(
            "add the app's scope, e.g. --scopes {}",
            entra_scopes(client_id).join(",")
        ),
    ))
}

/// JWT modes only work when the API server accepts the same tokens, for the same audience:
/// the server passes the user's token on unchanged.
fn check_issuer_trust(settings: &OidcSettings, facts: &ClusterFacts) -> Result<()> {
    let Some(auth) = &facts.authentication else {
        // Not OpenShift: the trust cannot be read; the user owns this check.
        return Ok(());
    };
    if auth.trusts_issuer(&settings.issuer, &settings.audience) {
        return Ok(());
    }
    let trim = |s: &str| s.trim_end_matches('/').to_owned();
    let audiences: Vec<String> = auth
        .spec
        .oidc_providers
        .iter()
        .filter(|p| trim(&p.issuer.issuer_url) == trim(&settings.issuer))
        .flat_map(|p| p.issuer.audiences.iter().cloned())
        .collect();
    if audiences.is_empty() {
        return Err(Error::usage_with_hint(
            format!(
                "the cluster's API server does not accept tokens from {} \
                 (authentications.config.openshift.io/cluster has no such OIDC provider): the \
                 server would pass tokens the cluster rejects",
                settings.issuer
            ),
            "on classic ARO use --auth openshift (OpenShift OAuth tokens), or configure the \
             cluster for external OIDC with this issuer first",
        ));
    }
    Err(Error::usage_with_hint(
        format!(
            "the cluster's API server accepts tokens from {} only for audience {}, but MCP \
             clients will present tokens for audience {:?}: the server would pass tokens the \
             cluster rejects",
            settings.issuer,
            audiences
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            settings.audience
        ),
        format!(
            "add {:?} to the audiences of this issuer in authentications.config.openshift.io/cluster, \
             or pass --audience with one the cluster accepts if your issuer puts that audience \
             in every token whatever `resource` a client asks for",
            settings.audience
        ),
    ))
}

#[cfg(test)]
mod tests;
