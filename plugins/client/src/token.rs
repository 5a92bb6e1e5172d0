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
    target::{self, Cluster, IssuerSettings},
};

/// Scopes for an issuer login when neither the flags nor the cluster give any.
pub const DEFAULT_OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// The OpenShift OAuth scope a token needs to act as the user on the API server.
pub const OPENSHIFT_SCOPE: &str = "user:full";

/// Connect to the cluster once, and only when something needs it.
#[derive(Debug)]
pub struct LazyCluster<'a> {
    global: &'a GlobalArgs,
    cluster: Option<Cluster>,
}

impl<'a> LazyCluster<'a> {
    pub fn new(global: &'a GlobalArgs) -> Self {
        Self {
            global,
            cluster: None,
        }
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

/// The server's auth mode: `--auth`, else what its ConfigMap says, else openshift.
pub async fn mode(
    server: &ServerArgs,
    login: &LoginArgs,
    cluster: &mut LazyCluster<'_>,
) -> Result<AuthMode> {
    if let Some(mode) = server.auth {
        return Ok(mode);
    }
    if login.issuer.is_some() {
        return Ok(AuthMode::Oidc);
    }
    if login.oauth_client.is_some() {
        return Ok(AuthMode::OpenShift);
    }
    let c = cluster.get().await?;
    match target::server_config(c, &server.release).await? {
        Ok(config) => {
            let mode = config.auth_mode();
            tracing::info!("the server's ConfigMap says auth mode {mode}");
            Ok(mode)
        }
        Err(reason) => {
            cli::warn(&format!(
                "cannot tell the server's auth mode ({reason}); assuming openshift (pass --auth to choose)"
            ));
            Ok(AuthMode::OpenShift)
        }
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

/// The issuer login settings for entra/oidc mode: flags first, then the cluster.
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
        match cluster.get().await {
            Ok(c) => {
                let config = target::server_config(c, &server.release).await?.ok();
                let data = target::oauth_settings(c).await?;
                let found = IssuerSettings::gather(config.as_ref(), data.as_ref());
                settings.issuer = settings.issuer.or(found.issuer);
                settings.client_id = settings.client_id.or(found.client_id);
                settings.audience = settings.audience.or(found.audience);
                if settings.scopes.is_empty() {
                    settings.scopes = found.scopes;
                }
            }
            Err(e) if settings.issuer.is_some() && settings.client_id.is_some() => {
                tracing::info!("no cluster for the server's scopes ({e}); using the defaults");
            }
            Err(e) => return Err(e),
        }
    }
    if settings.scopes.is_empty() {
        settings.scopes = DEFAULT_OIDC_SCOPES.map(str::to_owned).to_vec();
    }
    if !settings.scopes.iter().any(|s| s == "offline_access") {
        // Entra returns a refresh token only when asked (anchors.md 5.3).
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
            vec![OPENSHIFT_SCOPE.to_owned()]
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
            let client_id = settings.client_id.ok_or_else(|| {
                Error::usage_with_hint(
                    "the OAuth client ID is unknown: no registration (mcp-oauth-settings), and the server's oauth_audience is not a client ID",
                    "pass --client-id ID (the client registered with the issuer in step 6, as given to `oc mcp-install --client-id`)",
                )
            })?;
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
