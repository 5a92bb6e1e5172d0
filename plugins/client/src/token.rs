//! `token` and `logout`: which login applies (the kubeconfig token in openshift mode, an
//! OIDC login in entra/oidc mode, the cluster's OAuth server with `--oauth-client`), and
//! getting the token from it.

use std::io::Write as _;

use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli,
    kube_args::Secret,
    kube_token,
    mcp::McpTarget,
    secret_input::{SecretSource, read_secret},
    server_config::AuthMode,
};

use crate::{
    args::{LoginArgs, LogoutArgs, ServerArgs, TokenArgs, TokenFormat},
    oauth::{
        cache::{self, Cache},
        discovery,
        flow::{self, Login, Options, TokenKind},
    },
    target::{
        self, Cluster, IssuerSettings,
        published::{self, Published},
    },
};

/// Scopes for an issuer login when neither the flags nor the cluster give any.
pub const DEFAULT_OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// The read-only ClusterRole an OpenShift OAuth login's token is scoped to (`role:<it>:*`,
/// with `user:info` and `user:check-access`), unless `--scope` names others: never
/// `user:full`, which would let the token do everything the user can.
pub const OPENSHIFT_SCOPE_ROLE: &str = oc_mcp_common::defaults::CLUSTER_ROLE;

/// Connect to the cluster once, and only when something needs it; likewise ask the server
/// at the known endpoint what it publishes (once).
#[derive(Debug)]
pub struct LazyCluster<'a> {
    global: &'a GlobalArgs,
    cluster: Option<Cluster>,
    /// The server's MCP endpoint, when known (`--url`, or the Route).
    url: Option<String>,
    published: Option<std::result::Result<Published, String>>,
    /// `mode` found the auth mode in the published documents.
    mode_from_published: bool,
}

impl<'a> LazyCluster<'a> {
    pub fn new(global: &'a GlobalArgs) -> Self {
        Self {
            global,
            cluster: None,
            url: None,
            published: None,
            mode_from_published: false,
        }
    }

    /// The endpoint whose published documents answer what the cluster cannot.
    pub fn set_url(&mut self, url: &str) {
        if self.url.as_deref() != Some(url) {
            self.url = Some(url.to_owned());
            self.published = None;
        }
    }

    /// Whether [`mode`] took the auth mode from the server's published documents.
    pub fn mode_from_published(&self) -> bool {
        self.mode_from_published
    }

    /// What the server publishes without a token; `None` when no endpoint is known.
    pub async fn published(
        &mut self,
        login: &LoginArgs,
    ) -> Option<std::result::Result<Published, String>> {
        let url = self.url.clone()?;
        if self.published.is_none() {
            // The cluster's CA may sign the route's certificate too; no cluster, no CA.
            let ca = match self.get().await {
                Ok(c) => c.ca_pem(),
                Err(_) => None,
            };
            let fetched = match http_client(&url, login, ca) {
                Ok(http) => published::fetch(&http, &url).await,
                Err(e) => Err(e.to_string()),
            };
            match &fetched {
                Ok(p) => tracing::info!("{url} publishes: {p:?}"),
                Err(e) => tracing::info!("{url} told nothing: {e}"),
            }
            self.published = Some(fetched);
        }
        self.published.clone()
    }

    pub async fn get(&mut self) -> Result<&Cluster> {
        if self.cluster.is_none() {
            self.cluster = Some(Cluster::connect(self.global).await?);
        }
        match &self.cluster {
            Some(c) => Ok(c),
            None => Err(Error::failed("no cluster connection")),
        }
    }
}

/// The server's auth mode: the flags, else its ConfigMap when readable, else what the server
/// publishes at the known endpoint (a member may read nothing in the server's namespace),
/// else openshift with a warning.
pub async fn mode(
    server: &ServerArgs,
    login: &LoginArgs,
    cluster: &mut LazyCluster<'_>,
) -> Result<AuthMode> {
    if let Some(mode) = flag_mode(server, login) {
        return Ok(mode);
    }
    let url_known = cluster.url.is_some();
    let from_config = match cluster.get().await {
        Ok(c) => target::server_config(c, &server.release)
            .await?
            .map(|config| config.auth_mode()),
        // Without a cluster the published documents may still answer.
        Err(e) if url_known => Err(e.to_string()),
        Err(e) => return Err(e),
    };
    let published = match &from_config {
        Ok(_) => None,
        Err(_) => cluster
            .published(login)
            .await
            .map(|p| p.and_then(|p| p.mode())),
    };
    match pick_mode(from_config, published) {
        Ok((mode, source)) => {
            tracing::info!("{source} says auth mode {mode}");
            cluster.mode_from_published = source == PUBLISHED;
            Ok(mode)
        }
        Err(reasons) => {
            let hint = if url_known {
                "pass --auth to choose"
            } else {
                "pass --url with the server's address to ask the server, or --auth to choose"
            };
            cli::warn(&format!(
                "cannot tell the server's auth mode ({}); assuming openshift ({hint})",
                reasons.join("; ")
            ));
            Ok(AuthMode::OpenShift)
        }
    }
}

const PUBLISHED: &str = "the server's published metadata";

/// The mode the flags imply, if any.
fn flag_mode(server: &ServerArgs, login: &LoginArgs) -> Option<AuthMode> {
    if server.auth.is_some() {
        return server.auth;
    }
    if login.issuer.is_some() {
        return Some(AuthMode::Oidc);
    }
    login.oauth_client.as_ref().map(|_| AuthMode::OpenShift)
}

/// The discovery order: the ConfigMap (the deployment's own settings) when it could be read,
/// else the published documents (`None`: no endpoint known). `Err` has every reason neither
/// answered.
fn pick_mode(
    from_config: std::result::Result<AuthMode, String>,
    published: Option<std::result::Result<AuthMode, String>>,
) -> std::result::Result<(AuthMode, &'static str), Vec<String>> {
    let reason = match from_config {
        Ok(mode) => return Ok((mode, "the server's ConfigMap")),
        Err(reason) => reason,
    };
    match published {
        Some(Ok(mode)) => Ok((mode, PUBLISHED)),
        Some(Err(why)) => Err(vec![reason, why]),
        None => Err(vec![reason]),
    }
}

/// How a token is obtained.
#[derive(Debug)]
pub enum Plan {
    /// The kubeconfig user's token (openshift mode).
    Kubeconfig,
    /// A browser login against an issuer or the cluster's OAuth server.
    Login(Box<LoginPlan>),
    /// The server takes no token (mode none).
    NoToken,
}

/// A login, with the HTTP client that reaches its endpoints and the cache.
#[derive(Debug)]
pub struct LoginPlan {
    pub login: Login,
    pub http: reqwest::Client,
    pub cache: Cache,
}

/// The issuer login settings for entra/oidc mode: the flags, then the cluster (the server's
/// ConfigMap and the registration, where readable), then what the server publishes for what
/// is still unknown when its ConfigMap could not be read.
pub async fn issuer_settings(
    server: &ServerArgs,
    args: &LoginArgs,
    cluster: &mut LazyCluster<'_>,
) -> Result<IssuerSettings> {
    let mut settings = IssuerSettings {
        issuer: args.issuer.clone(),
        client_id: args.client_id.clone(),
        audience: args.audience.clone(),
        scopes: args.scopes.clone(),
    };
    if settings.issuer.is_none() || settings.client_id.is_none() || settings.scopes.is_empty() {
        let mut config_read = false;
        let url_known = cluster.url.is_some();
        match cluster.get().await {
            Ok(c) => {
                let config = target::server_config(c, &server.release).await?.ok();
                let data = target::oauth_settings(c).await?;
                config_read = config.is_some();
                settings = settings.or(IssuerSettings::gather(config.as_ref(), data.as_ref()));
            }
            Err(e) if settings.issuer.is_some() && settings.client_id.is_some() => {
                tracing::info!("no cluster for the server's scopes ({e}); using the defaults");
            }
            Err(e) if url_known => {
                tracing::info!("no cluster ({e}); asking the server");
            }
            Err(e) => return Err(e),
        }
        // The ConfigMap, when read, is the whole answer (no oauth_scopes: the defaults).
        let missing =
            settings.issuer.is_none() || settings.client_id.is_none() || settings.scopes.is_empty();
        if !config_read
            && missing
            && let Some(Ok(published)) = cluster.published(args).await
        {
            settings = settings.or(published.settings());
        }
    }
    if settings.scopes.is_empty() {
        settings.scopes = DEFAULT_OIDC_SCOPES.map(str::to_owned).to_vec();
    }
    if !settings.scopes.iter().any(|s| s == "offline_access") {
        // Entra returns a refresh token only when asked for `offline_access`.
        settings.scopes.push("offline_access".to_owned());
    }
    Ok(settings)
}

fn client_secret(args: &LoginArgs) -> Result<Option<Secret>> {
    let source = match (&args.client_secret_env, &args.client_secret_file) {
        (Some(var), _) => SecretSource::Env(var.clone()),
        (None, Some(path)) => SecretSource::File(path.clone()),
        (None, None) => return Ok(None),
    };
    read_secret(&source, "OAuth client secret").map(Some)
}

fn http_client(
    url: &str,
    args: &LoginArgs,
    cluster_ca: Option<Vec<u8>>,
) -> Result<reqwest::Client> {
    let mut pem = cluster_ca.unwrap_or_default();
    if let Some(path) = &args.ca_file {
        let extra = std::fs::read(path).map_err(|e| {
            Error::usage_with_hint(
                format!("cannot read --ca-file {}: {e}", path.display()),
                "pass a readable PEM file",
            )
        })?;
        pem.extend_from_slice(&extra);
    }
    let mut target = McpTarget::new(url);
    target.extra_ca_pem = (!pem.is_empty()).then_some(pem);
    target.http_client()
}

fn cache_for(args: &LoginArgs) -> Result<Cache> {
    let dir = args
        .cache_dir
        .clone()
        .or_else(cache::default_dir)
        .ok_or_else(|| {
            Error::usage_with_hint(
                "no cache directory: HOME is not set",
                format!("pass --cache-dir or set {}", cache::CACHE_DIR_ENV),
            )
        })?;
    Ok(Cache::new(&dir))
}

/// Work out how to get the token.
pub async fn plan(
    server: &ServerArgs,
    args: &LoginArgs,
    cluster: &mut LazyCluster<'_>,
) -> Result<Plan> {
    if let Some(client_id) = &args.oauth_client {
        let c = cluster.get().await?;
        let metadata = discovery::openshift(&c.client).await?;
        let http = http_client(&metadata.issuer, args, c.ca_pem())?;
        let scopes = if args.scopes.is_empty() {
            oc_mcp_common::openshift::mcp_login_scopes(OPENSHIFT_SCOPE_ROLE)
        } else {
            args.scopes.clone()
        };
        return Ok(Plan::Login(Box::new(LoginPlan {
            login: Login {
                metadata,
                client_id: client_id.clone(),
                client_secret: client_secret(args)?,
                scopes,
                audience: None,
                kind: TokenKind::Access,
            },
            http,
            cache: cache_for(args)?,
        })));
    }
    match mode(server, args, cluster).await? {
        AuthMode::OpenShift => Ok(Plan::Kubeconfig),
        AuthMode::None => Ok(Plan::NoToken),
        AuthMode::Entra | AuthMode::Oidc => {
            let settings = issuer_settings(server, args, cluster).await?;
            let issuer = settings.issuer.ok_or_else(|| {
                Error::usage_with_hint(
                    "the issuer is unknown: the server's ConfigMap has no authorization_url and no registration was found",
                    "pass --issuer URL (and --client-id ID)",
                )
            })?;
            let client_id = settings.client_id.ok_or_else(unknown_client_id)?;
            // Reading the kubeconfig makes no request; its CA may also sign the issuer's
            // certificate (a cluster-hosted Keycloak or Dex).
            let ca = match cluster.get().await {
                Ok(c) => c.ca_pem(),
                Err(_) => None,
            };
            let http = http_client(&issuer, args, ca)?;
            let metadata = discovery::discover(&http, &issuer).await?;
            Ok(Plan::Login(Box::new(LoginPlan {
                login: Login {
                    metadata,
                    client_id,
                    client_secret: client_secret(args)?,
                    scopes: settings.scopes,
                    audience: settings.audience,
                    kind: args.token_kind,
                },
                http,
                cache: cache_for(args)?,
            })))
        }
    }
}

/// No client ID from the flags, the cluster or the server: the server never publishes it,
/// and a member may not read the registration.
pub fn unknown_client_id() -> Error {
    Error::usage_with_hint(
        "the OAuth client ID is unknown: the server does not publish it, no registration (ConfigMap mcp-oauth-settings) could be read, and the server's audience is not a client ID",
        "pass --client-id ID: the client the administrator registered with the issuer in step 6 (the --client-id given to `oc mcp-install`); members get it from their administrator",
    )
}

/// Get a token by `plan`.
pub async fn obtain(
    plan: &Plan,
    args: &LoginArgs,
    cluster: &mut LazyCluster<'_>,
    stored_only: bool,
    relogin: bool,
) -> Result<Secret> {
    match plan {
        Plan::NoToken => Err(Error::usage_with_hint(
            "the server is in auth mode none: it takes no token",
            "pass --auth to name another mode if the ConfigMap is not the one in use",
        )),
        Plan::Kubeconfig => {
            let c = cluster.get().await?;
            kube_token::bearer_token(&c.config).await?.ok_or_else(|| Error::Failed {
                message: "the kubeconfig user has no bearer token (it authenticates with a client certificate or not at all); the MCP server needs one".into(),
                hint: Some(
                    "log in with a token (`oc login`), or log in through the cluster's OAuth server with --oauth-client".into(),
                ),
            })
        }
        Plan::Login(login) => {
            let options = Options {
                listen: args.listen_address,
                browser: !args.no_browser,
                timeout: args.login_timeout,
                stored_only,
                relogin,
            };
            let issued = flow::token(&login.http, &login.login, &login.cache, &options).await?;
            tracing::info!(
                "token from {:?}, expires at {:?}",
                issued.source,
                issued.expires_at
            );
            Ok(issued.token)
        }
    }
}

/// `oc mcp-client token`
pub async fn run(global: &GlobalArgs, args: &TokenArgs) -> Result<ExitCode> {
    // A bad --url is a usage error before any login.
    let url = args
        .url
        .as_deref()
        .map(crate::config::check_url)
        .transpose()?;
    let mut cluster = LazyCluster::new(global);
    if let Some(url) = &url {
        cluster.set_url(url);
    }
    let plan = plan(&args.server, &args.login, &mut cluster).await?;
    let token = obtain(
        &plan,
        &args.login,
        &mut cluster,
        args.stored_only,
        args.relogin,
    )
    .await?;
    let line = match args.format {
        TokenFormat::Token => token.expose().to_owned(),
        TokenFormat::Header => format!("Authorization: Bearer {}", token.expose()),
        TokenFormat::HeadersJson => {
            serde_json::json!({ "Authorization": format!("Bearer {}", token.expose()) }).to_string()
        }
        TokenFormat::InspectorConfig => {
            let name = args.name.as_deref().unwrap_or(&args.server.release);
            let url = url.ok_or_else(|| Error::usage("--format inspector-config needs --url"))?;
            serde_json::json!({ "mcpServers": { name: {
                "type": "http",
                "url": url,
                "headers": { "Authorization": format!("Bearer {}", token.expose()) },
            }}})
            .to_string()
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("writing the token", e))?;
    Ok(ExitCode::Ok)
}

/// `oc mcp-client logout`
pub async fn logout(global: &GlobalArgs, args: &LogoutArgs) -> Result<ExitCode> {
    let cache = cache_for(&args.login)?;
    let removed = if args.all || (!args.login.selects_login() && args.server.auth.is_none()) {
        cache.clear()?
    } else {
        let mut cluster = LazyCluster::new(global);
        match plan(&args.server, &args.login, &mut cluster).await? {
            Plan::Login(login) => usize::from(login.cache.remove(&login.login.cache_key())?),
            Plan::Kubeconfig | Plan::NoToken => 0,
        }
    };
    let report = LogoutReport {
        removed,
        cache_dir: cache.dir().to_owned(),
    };
    cli::emit(&report, global.output.output)?;
    Ok(ExitCode::Ok)
}

/// What `logout` did.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogoutReport {
    pub removed: usize,
    pub cache_dir: std::path::PathBuf,
}

impl oc_mcp_common::output::Tabular for LogoutReport {
    fn headers(_wide: bool) -> Vec<&'static str> {
        vec!["REMOVED", "CACHE"]
    }
    fn rows(&self, _wide: bool) -> Vec<Vec<String>> {
        vec![vec![
            self.removed.to_string(),
            self.cache_dir.display().to_string(),
        ]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configmap_answers_first_and_the_published_documents_when_it_cannot() {
        let published = Some(Ok(AuthMode::Oidc));
        assert_eq!(
            pick_mode(Ok(AuthMode::Entra), published.clone()),
            Ok((AuthMode::Entra, "the server's ConfigMap"))
        );
        let forbidden = || Err("not allowed to read ConfigMap mcp-server/x".to_owned());
        assert_eq!(
            pick_mode(forbidden(), published),
            Ok((AuthMode::Oidc, PUBLISHED))
        );
        assert_eq!(
            pick_mode(forbidden(), Some(Ok(AuthMode::OpenShift))),
            Ok((AuthMode::OpenShift, PUBLISHED))
        );
        let neither = pick_mode(forbidden(), Some(Err("cannot reach https://h/mcp".into())))
            .expect_err("no answer");
        assert_eq!(neither.len(), 2, "both reasons are told: {neither:?}");
        assert_eq!(pick_mode(forbidden(), None).expect_err("no url").len(), 1);
    }

    #[test]
    fn flags_win_over_every_source() {
        let mut server = ServerArgs {
            release: "r".into(),
            auth: None,
        };
        let cli = <crate::Cli as clap::Parser>::try_parse_from([
            "kubectl-mcp_client",
            "token",
            "--issuer",
            "https://i",
        ])
        .expect("parse");
        let crate::Command::Token(args) = cli.command else {
            panic!("token");
        };
        assert_eq!(flag_mode(&server, &args.login), Some(AuthMode::Oidc));
        server.auth = Some(AuthMode::None);
        assert_eq!(flag_mode(&server, &args.login), Some(AuthMode::None));
    }
}
