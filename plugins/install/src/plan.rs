//! From flags and cluster facts to a validated install plan, refusing what cannot work.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use oc_mcp_common::{
    Error, Result,
    openshift::{AuthenticationConfig, ClusterFlavor, IngressConfig},
    server_config::{
        AuthMode, ConfigText, Finding, LintContext, OidcSettings, ParsedConfig, ServerConfig,
        ServerVersion, TokenExchangeSettings, has_errors, lint, merge_into,
    },
};
use serde::Serialize;

use crate::args::{Engine, InstallArgs, image_tag, validate_host};

/// The chart's name; object names derive from it as the chart's `fullname` helper does.
pub const CHART_NAME: &str = "kubernetes-mcp-server";
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
}

/// The chart's `fullname`: the release name if it contains the chart name, else both.
pub fn fullname(release: &str) -> String {
    let name = if release.contains(CHART_NAME) {
        release.to_owned()
    } else {
        format!("{release}-{CHART_NAME}")
    };
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
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
        release: args.release.clone(),
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
        return Ok(Exposure::Route { host: host.clone() });
    }
    // The guide's `host: ""` fails `helm install`; OpenShift's own default is <route>-<ns>.<domain>.
    match &facts.apps_domain {
        Some(domain) => {
            let host = format!("{fullname}-{namespace}.{domain}");
            validate_host(&host)?;
            Ok(Exposure::Route { host })
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
        (Some(secret), _) => IngressTls::Secret(secret.clone()),
        (None, Some(issuer)) => IngressTls::ClusterIssuer {
            issuer: issuer.clone(),
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
            let tenant = args
                .tenant
                .clone()
                .or_else(|| facts.setting(&["tenant", "tenantId", "tenant-id", "tenant_id"]));
            let (Some(tenant), Some(client_id)) = (tenant, client_id()) else {
                return Err(Error::usage_with_hint(
                    "--auth entra needs the tenant and the app's client ID",
                    "run `oc mcp-oauth register entra` first (it stores them in mcp-oauth-settings), or pass --tenant and --client-id",
                ));
            };
            crate::args::validate_tenant(&tenant)?;
            let mut settings = OidcSettings::entra(&tenant, client_id.clone());
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
            let issuer = args
                .issuer
                .clone()
                .or_else(|| facts.setting(&["issuer", "issuer_url"]));
            let (Some(issuer), Some(client_id)) = (issuer, client_id()) else {
                return Err(Error::usage_with_hint(
                    "--auth oidc needs the issuer and the client ID",
                    "pass --issuer URL and --client-id ID",
                ));
            };
            crate::args::validate_https_url(&issuer, "--issuer")?;
            let audience = resource.clone().unwrap_or_else(|| client_id.clone());
            (OidcSettings::new(issuer, audience), client_id)
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

/// Design section 3: JWT modes only work when the API server accepts the same tokens, for
/// the same audience: the server passes the user's token on unchanged.
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
mod tests {
    use clap::Parser;
    use oc_mcp_common::preflight::Permission;
    use oc_mcp_common::server_config::entra_issuer;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: InstallArgs,
    }

    fn args(extra: &[&str]) -> InstallArgs {
        let mut argv = vec!["install"];
        argv.extend_from_slice(extra);
        Wrapper::parse_from(argv).args
    }

    fn openshift() -> ClusterFacts {
        ClusterFacts {
            openshift: true,
            apps_domain: Some("apps.aro.example.com".into()),
            authentication: Some(AuthenticationConfig::default()),
            oauth_settings: BTreeMap::new(),
        }
    }

    /// The MCP endpoint on the default route, which oidc mode uses as `resource` and audience.
    const RESOURCE: &str = "https://kubernetes-mcp-server-mcp-server.apps.aro.example.com/mcp";

    /// OpenShift whose API server accepts https://idp.example.com's tokens for `audiences`.
    fn trusting_idp_for(audiences: &[&str]) -> ClusterFacts {
        let mut facts = openshift();
        facts.authentication = Some(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cluster"},
                "spec": {"type": "OIDC", "oidcProviders": [{"name": "idp",
                    "issuer": {"issuerURL": "https://idp.example.com", "audiences": audiences}}]}
            }))
            .expect("auth"),
        );
        facts
    }

    /// OpenShift whose API server accepts https://idp.example.com's tokens for the endpoint.
    fn trusting_idp() -> ClusterFacts {
        trusting_idp_for(&[RESOURCE])
    }

    #[test]
    fn openshift_defaults_follow_the_guide_without_its_mistakes() {
        let plan =
            resolve(&args(&[]), "mcp-server", &openshift(), &Inputs::default()).expect("plan");
        assert_eq!(plan.mode, AuthMode::OpenShift);
        assert_eq!(plan.fullname, "kubernetes-mcp-server");
        assert_eq!(
            plan.host(),
            Some("kubernetes-mcp-server-mcp-server.apps.aro.example.com")
        );
        assert_eq!(plan.server_version, ServerVersion::release(0, 0, 67));
        assert_eq!(plan.config.read_only, Some(true));
        assert_eq!(plan.config.skip_jwt_verification, Some(true));
        assert_eq!(plan.config.authorization_url, None);
    }

    #[test]
    fn guardrails_refuse_what_cannot_work() {
        let facts = openshift();
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["--auth", "none"], "--auth none on a public route"),
            (
                vec!["--auth", "entra"],
                "needs the tenant and the app's client ID",
            ),
            (
                vec![
                    "--auth",
                    "oidc",
                    "--issuer",
                    "https://idp.example.com",
                    "--client-id",
                    "mcp",
                ],
                "does not accept tokens from https://idp.example.com",
            ),
            (
                vec![
                    "--image",
                    "quay.io/containers/kubernetes_mcp_server:v0.0.60",
                ],
                "needs kubernetes-mcp-server v0.0.63",
            ),
            (
                vec!["--issuer", "https://idp.example.com"],
                "do not apply to --auth openshift",
            ),
            (
                vec!["--toolsets", "core,shell"],
                "unknown toolset \"shell\"",
            ),
            (
                vec!["--host", "https://x.example.com"],
                "is not a valid host name",
            ),
        ];
        for (extra, expected) in cases {
            let err = resolve(&args(&extra), "mcp-server", &facts, &Inputs::default())
                .expect_err(expected);
            assert_eq!(err.exit_code().code(), 2, "{extra:?}");
            assert!(err.to_string().contains(expected), "{extra:?}: {err}");
        }
        let plain = ClusterFacts::default();
        let err =
            resolve(&args(&[]), "mcp-server", &plain, &Inputs::default()).expect_err("no domain");
        assert!(err.to_string().contains("no route host"), "{err}");
        assert!(
            resolve(
                &args(&["--auth", "none", "--internal"]),
                "mcp-server",
                &plain,
                &Inputs::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn oidc_mode_when_the_cluster_trusts_the_issuer() {
        let facts = trusting_idp();
        let plan = resolve(
            &args(&[
                "--auth",
                "oidc",
                "--issuer",
                "https://idp.example.com",
                "--client-id",
                "mcp",
            ]),
            "mcp-server",
            &facts,
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(
            plan.config.authorization_url.as_deref(),
            Some("https://idp.example.com")
        );
        // A spec-following client takes `resource` from the metadata (server_url) and asks
        // for a token for it: that is the audience the server expects.
        assert_eq!(plan.config.oauth_audience.as_deref(), Some(RESOURCE));
        assert_eq!(plan.config.server_url.as_deref(), Some(RESOURCE));
    }

    #[test]
    fn oidc_audience_is_the_resource_unless_given_and_the_cluster_must_accept_it() {
        let oidc = [
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
        ];
        // The cluster accepts only the client ID: MCP clients' tokens would be rejected.
        let err = resolve(
            &args(&oidc),
            "mcp-server",
            &trusting_idp_for(&["mcp"]),
            &Inputs::default(),
        )
        .expect_err("audience not accepted");
        assert_eq!(err.exit_code().code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("only for audience \"mcp\"") && text.contains(RESOURCE),
            "{text}"
        );
        assert!(
            err.hint().is_some_and(|h| h.contains("--audience")),
            "{err:?}"
        );
        // --audience wins (an issuer that ignores `resource`).
        let plan = resolve(
            &args(&[&oidc[..], &["--audience", "mcp"]].concat()),
            "mcp-server",
            &trusting_idp_for(&["mcp"]),
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(plan.config.oauth_audience.as_deref(), Some("mcp"));
        assert_eq!(plan.config.server_url.as_deref(), Some(RESOURCE));
        // Internal: no route, no resource URL a client could know; the client ID stays.
        let plan = resolve(
            &args(&[&oidc[..], &["--internal"]].concat()),
            "mcp-server",
            &trusting_idp_for(&["mcp"]),
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(plan.config.oauth_audience.as_deref(), Some("mcp"));
        assert_eq!(plan.config.server_url, None);
    }

    #[test]
    fn entra_clients_are_told_to_ask_for_the_apps_scope() {
        let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let mut facts = openshift();
        facts.authentication = Some(
            serde_json::from_value(serde_json::json!({
                "spec": {"type": "OIDC", "oidcProviders": [{"name": "entra",
                    "issuer": {"issuerURL": entra_issuer(tenant), "audiences": ["app-1"]}}]}
            }))
            .expect("auth"),
        );
        let entra = [
            "--auth",
            "entra",
            "--tenant",
            tenant,
            "--client-id",
            "app-1",
        ];
        let plan = resolve(&args(&entra), "mcp-server", &facts, &Inputs::default()).expect("plan");
        assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
        let scopes = plan.config.oauth_scopes.clone().unwrap_or_default();
        assert!(
            scopes.contains(&"api://app-1/access_as_user".to_owned()),
            "{scopes:?}"
        );
        // Only Graph scopes: a Graph token, which the server rejects.
        let err = resolve(
            &args(&[&entra[..], &["--scopes", "openid,profile"]].concat()),
            "mcp-server",
            &facts,
            &Inputs::default(),
        )
        .expect_err("graph scopes");
        assert_eq!(err.exit_code().code(), 2);
        assert!(
            err.to_string().contains("names no scope of the app"),
            "{err}"
        );
        assert!(
            err.hint()
                .is_some_and(|h| h.contains("api://app-1/access_as_user")),
            "{err:?}"
        );
        // What `oc mcp-oauth register entra` stored (its key names) is used as is.
        facts.oauth_settings = [
            ("tenant_id".to_owned(), tenant.to_owned()),
            ("client_id".to_owned(), "app-1".to_owned()),
            (
                "scopes".to_owned(),
                "openid offline_access api://app-1/access_as_user".to_owned(),
            ),
        ]
        .into();
        let plan = resolve(
            &args(&["--auth", "entra"]),
            "mcp-server",
            &facts,
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(
            plan.config.oauth_scopes.as_deref(),
            Some(
                &[
                    "openid".to_owned(),
                    "offline_access".to_owned(),
                    "api://app-1/access_as_user".to_owned()
                ][..]
            )
        );
    }

    #[test]
    fn off_openshift_a_public_endpoint_needs_tls_and_openshift_mode_is_refused() {
        let kubernetes = ClusterFacts::default();
        let oidc = [
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
            "--host",
            "mcp.example.com",
        ];
        let err = resolve(&args(&oidc), "mcp-server", &kubernetes, &Inputs::default())
            .expect_err("no TLS");
        assert_eq!(err.exit_code().code(), 2);
        assert!(
            err.to_string().contains("needs TLS on its Ingress"),
            "{err}"
        );
        let hint = err.hint().unwrap_or_default();
        for flag in ["--tls-secret", "--cluster-issuer", "--internal"] {
            assert!(hint.contains(flag), "{hint}");
        }
        let err = resolve(
            &args(&["--host", "mcp.example.com", "--tls-secret", "mcp-tls"]),
            "mcp-server",
            &kubernetes,
            &Inputs::default(),
        )
        .expect_err("openshift mode");
        assert!(
            err.to_string().contains("--auth openshift needs OpenShift"),
            "{err}"
        );
        let plan = resolve(
            &args(&[&oidc[..], &["--tls-secret", "mcp-tls"]].concat()),
            "mcp-server",
            &kubernetes,
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(plan.ingress_tls, IngressTls::Secret("mcp-tls".into()));
        let plan = resolve(
            &args(&[&oidc[..], &["--cluster-issuer", "letsencrypt"]].concat()),
            "mcp-server",
            &kubernetes,
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(
            plan.ingress_tls,
            IngressTls::ClusterIssuer {
                issuer: "letsencrypt".into(),
                secret: "kubernetes-mcp-server-tls".into()
            }
        );
        let err = resolve(
            &args(&[&oidc[..], &["--tls-secret", "Bad_Name"]].concat()),
            "mcp-server",
            &kubernetes,
            &Inputs::default(),
        )
        .expect_err("bad name");
        assert!(err.to_string().contains("--tls-secret"), "{err}");
    }

    #[test]
    fn entra_settings_come_from_the_oauth_settings_configmap() {
        let mut facts = openshift();
        let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        facts.oauth_settings = [
            ("tenant".to_owned(), tenant.to_owned()),
            ("clientId".to_owned(), "app-1".to_owned()),
        ]
        .into();
        facts.authentication = Some(
            serde_json::from_value(serde_json::json!({
                "spec": {"type": "OIDC", "oidcProviders": [{"name": "entra",
                    "issuer": {"issuerURL": entra_issuer(tenant), "audiences": ["app-1"]}}]}
            }))
            .expect("auth"),
        );
        let plan = resolve(
            &args(&["--auth", "entra"]),
            "mcp-server",
            &facts,
            &Inputs::default(),
        )
        .expect("plan");
        assert_eq!(plan.config.authorization_url, Some(entra_issuer(tenant)));
        assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
    }

    #[test]
    fn extra_config_is_merged_and_checked_key_by_key() {
        let facts = openshift();
        let plan = resolve(
            &args(&[]),
            "mcp-server",
            &facts,
            &Inputs {
                extra_config: Some("list_output = \"yaml\"\nlog_level = 3\n".into()),
                issuer_ca: None,
                sts_client_secret: None,
            },
        )
        .expect("plan");
        assert_eq!(plan.config.list_output.as_deref(), Some("yaml"));
        assert_eq!(plan.config.read_only, Some(true));
        for (text, expected) in [
            ("requre_oauth = true\n", "did you mean `require_oauth`"),
            ("port = 8080\n", "port"),
            ("require_oauth = false\n", "public"),
            ("read_only = [\n", "not valid TOML"),
        ] {
            let err = resolve(
                &args(&[]),
                "mcp-server",
                &facts,
                &Inputs {
                    extra_config: Some(text.into()),
                    ..Inputs::default()
                },
            )
            .expect_err(text);
            assert_eq!(err.exit_code().code(), 2);
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn an_issuer_ca_is_mounted_and_named_in_the_config_only_for_issuer_modes() {
        let facts = trusting_idp();
        let inputs = Inputs {
            extra_config: None,
            sts_client_secret: None,
            issuer_ca: Some(
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
            ),
        };
        let oidc = args(&[
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
        ]);
        let plan = resolve(&oidc, "mcp-server", &facts, &inputs).expect("plan");
        assert_eq!(
            plan.config.certificate_authority.as_deref(),
            Some(ISSUER_CA_PATH)
        );
        assert!(plan.issuer_ca.is_some());
        let err = resolve(&args(&[]), "mcp-server", &facts, &inputs).expect_err("openshift mode");
        assert!(
            err.to_string()
                .contains("--issuer-ca does not apply to --auth openshift"),
            "{err}"
        );
    }

    #[test]
    fn token_exchange_puts_the_secret_in_a_drop_in_and_nowhere_else() {
        // With an exchange the cluster gets the exchanged token, so the issuer trust check
        // does not apply (the default facts say the cluster trusts no issuer).
        let facts = openshift();
        let exchange = args(&[
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
            "--token-exchange",
            "rfc8693",
            "--sts-audience",
            "openshift-api",
        ]);
        let secret = "very-secret-client-secret";
        let inputs = Inputs {
            sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new(secret)),
            ..Inputs::default()
        };
        let plan = resolve(&exchange, "mcp-server", &facts, &inputs).expect("plan");
        let main = plan.config.to_toml_string();
        assert!(
            main.contains("[token_exchange]") && main.contains("strategy = \"rfc8693\""),
            "{main}"
        );
        assert!(!main.contains(secret), "the ConfigMap file holds no secret");
        // The exchange authenticates as the OAuth client, not as the tokens' audience.
        assert!(main.contains("client_id = \"mcp\""), "{main}");
        let drop_in = plan.secret_drop_in.as_ref().expect("drop-in");
        assert!(drop_in.expose().contains(secret));
        assert!(
            !format!("{plan:?}").contains(secret),
            "Debug output redacts it"
        );
        let err =
            resolve(&exchange, "mcp-server", &facts, &Inputs::default()).expect_err("no secret");
        assert!(
            err.to_string()
                .contains("needs the client secret in Secret mcp-oauth-credentials"),
            "{err}"
        );
        let err = resolve(
            &args(&["--token-exchange", "rfc8693"]),
            "mcp-server",
            &facts,
            &inputs,
        )
        .expect_err("openshift");
        assert!(
            err.to_string()
                .contains("--token-exchange does not apply to --auth openshift"),
            "{err}"
        );
    }

    #[test]
    fn the_ingress_carries_tls_off_openshift_and_the_route_annotation_only_on_it() {
        let ingress_of = |flags: &[&str], facts: &ClusterFacts| {
            let mut all = vec!["--engine", "manifests"];
            all.extend_from_slice(flags);
            let plan = resolve(&args(&all), "mcp-server", facts, &Inputs::default()).expect("plan");
            let ingress = crate::render::manifests(&plan)
                .expect("render")
                .into_iter()
                .find(|o| o.kind() == "Ingress")
                .expect("an Ingress");
            let values = serde_json::to_value(crate::render::values(&plan)).expect("values");
            (serde_json::to_value(&ingress.object).expect("json"), values)
        };
        let oidc = [
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
            "--host",
            "mcp.example.com",
        ];
        let kubernetes = ClusterFacts::default();
        let (ingress, values) = ingress_of(
            &[&oidc[..], &["--tls-secret", "mcp-tls"]].concat(),
            &kubernetes,
        );
        assert_eq!(
            ingress["spec"]["tls"],
            serde_json::json!([{"hosts": ["mcp.example.com"], "secretName": "mcp-tls"}])
        );
        assert!(ingress["metadata"]["annotations"].is_null(), "{ingress}");
        assert_eq!(values["ingress"]["tls"]["secretName"], "mcp-tls");
        let (ingress, values) = ingress_of(
            &[&oidc[..], &["--cluster-issuer", "letsencrypt"]].concat(),
            &kubernetes,
        );
        assert_eq!(
            ingress["metadata"]["annotations"],
            serde_json::json!({"cert-manager.io/cluster-issuer": "letsencrypt"})
        );
        assert_eq!(
            ingress["spec"]["tls"][0]["secretName"],
            "kubernetes-mcp-server-tls"
        );
        assert_eq!(
            values["ingress"]["annotations"]["cert-manager.io/cluster-issuer"],
            "letsencrypt"
        );
        // OpenShift: the router's certificate, from the edge annotation; no tls section.
        let (ingress, values) = ingress_of(&[], &openshift());
        assert_eq!(
            ingress["metadata"]["annotations"]["route.openshift.io/termination"],
            "edge"
        );
        assert!(ingress["spec"]["tls"].is_null(), "{ingress}");
        assert!(values["ingress"]["tls"].is_null());
    }

    #[test]
    fn fullname_follows_the_chart_helper() {
        assert_eq!(fullname("kubernetes-mcp-server"), "kubernetes-mcp-server");
        assert_eq!(fullname("prod"), "prod-kubernetes-mcp-server");
    }

    /// The preflight is computed from flags before the cluster is read; whatever the plan
    /// then renders must be inside it.
    #[test]
    fn the_preflight_covers_every_rendered_object() {
        use std::collections::BTreeSet;
        let flavor = ClusterFlavor {
            openshift: true,
            openshift_config: true,
            openshift_oauth: true,
        };
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let trusting = trusting_idp();
        let oidc = [
            "--engine",
            "manifests",
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
        ];
        let with = |extra: &[&'static str]| [&oidc[..], extra].concat();
        let cases: Vec<(Vec<&str>, Inputs, &ClusterFacts)> = vec![
            (vec!["--engine", "manifests"], Inputs::default(), &trusting),
            (
                vec!["--engine", "manifests", "--internal", "--auth", "none"],
                Inputs::default(),
                &trusting,
            ),
            (vec![], Inputs::default(), &trusting),
            (
                with(&["--issuer-ca", "ca.pem"]),
                Inputs {
                    issuer_ca: Some(ca.into()),
                    ..Inputs::default()
                },
                &trusting,
            ),
            (
                with(&[
                    "--token-exchange",
                    "rfc8693",
                    "--sts-audience",
                    "openshift-api",
                ]),
                Inputs {
                    sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new("s")),
                    ..Inputs::default()
                },
                &trusting,
            ),
        ];
        for (flags, inputs, facts) in cases {
            let args = args(&flags);
            let plan = resolve(&args, "mcp-server", facts, &inputs).expect("plan");
            let asked: BTreeSet<_> = crate::apply::permissions(&args, "mcp-server", flavor)
                .iter()
                .map(Permission::key)
                .collect();
            let objects = if args.engine == Engine::Manifests {
                crate::render::manifests(&plan).expect("render")
            } else {
                Vec::new()
            };
            for object in objects {
                for p in object.required_permissions() {
                    assert!(asked.contains(&p.key()), "{flags:?}: {p:?} not asked");
                }
            }
            let ingress = Permission::new("create", "networking.k8s.io", "ingresses")
                .in_namespace("mcp-server");
            assert_eq!(
                asked.contains(&ingress.key()),
                args.engine == Engine::Manifests && !args.internal,
                "{flags:?}: an internal or helm install creates no Ingress itself"
            );
        }
    }

    #[test]
    fn a_namespace_that_is_no_dns_label_is_refused_by_the_plan_itself() {
        for bad in ["mcp\nserver", "MCP", "a.b", ""] {
            let err = resolve(&args(&[]), bad, &openshift(), &Inputs::default())
                .expect_err(&format!("{bad:?}"));
            assert_eq!(err.exit_code().code(), 2, "{bad:?}");
            assert!(err.to_string().contains("namespace"), "{err}");
        }
    }
}
