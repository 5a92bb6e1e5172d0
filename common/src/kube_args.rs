//! `KubeArgs`: kubectl's global connection flags, one struct flattened into every plugin.
//!
//! Resolution follows client-go's loading rules: `--kubeconfig` wins and must be readable;
//! otherwise every file in `KUBECONFIG` that exists is merged (first value wins, missing files
//! are skipped); otherwise `~/.kube/config`; otherwise the in-cluster service account, but only
//! when no connection flag was given. Flags then override the selected context.

use std::{fmt, path::PathBuf};

use clap::Args;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

pub use crate::duration::{RequestTimeout, parse_request_timeout};
use crate::error::{Error, Result};
pub use crate::secret::Secret;

/// The kubectl global flags (`kubectl options`), identical in every oc-mcp plugin.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Cluster connection (as kubectl)")]
pub struct KubeArgs {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// The name of the kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The name of the kubeconfig user to use. Give it before the command: after `bind`,
    /// `unbind` and `check`, `--user` names a subject, as in `kubectl create clusterrolebinding`
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace scope for this request
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation; repeat for more groups
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_groups: Vec<String>,

    /// UID to impersonate for the operation
    #[arg(long = "as-uid", global = true, value_name = "UID")]
    pub as_uid: Option<String>,

    /// Time to wait for one API request before giving up (e.g. 1s, 2m, 3h; 0 waits forever)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_request_timeout)]
    pub request_timeout: Option<RequestTimeout>,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true, value_name = "URL")]
    pub server: Option<String>,

    /// Bearer token for the API server only (visible in the process list: prefer a kubeconfig)
    #[arg(long, global = true, value_name = "TOKEN", hide_default_value = true)]
    pub token: Option<Secret>,

    /// Path to a PEM file of certificate authorities for the API server
    #[arg(long, global = true, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,

    /// Do not verify the API server's certificate (insecure: anyone on the path can read your token)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,

    /// Server name to use for certificate validation instead of the host in the server URL
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
}

/// What [`KubeArgs::connect`] resolved.
#[derive(Clone)]
pub struct Connection {
    pub config: kube::Config,
    pub client: kube::Client,
    pub namespace: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.config.cluster_url.to_string())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Where the kubeconfig came from; error messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    Flag(PathBuf),
    Env(Vec<PathBuf>),
    Default(PathBuf),
    /// Nothing on disk: only flags (`--server`) or the in-cluster service account.
    None,
}

impl fmt::Display for KubeconfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(p) | Self::Default(p) => write!(f, "{}", p.display()),
            Self::Env(paths) => {
                let list: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(f, "KUBECONFIG={}", list.join(":"))
            }
            Self::None => f.write_str("no kubeconfig"),
        }
    }
}

/// The parts of the environment kubeconfig loading reads, so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct LoadEnv {
    /// The value of `KUBECONFIG`.
    pub kubeconfig: Option<std::ffi::OsString>,
    /// The home directory (`~/.kube/config`).
    pub home: Option<PathBuf>,
}

impl LoadEnv {
    pub fn from_process() -> Self {
        Self {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            home: home_dir(),
        }
    }
}

/// The merged kubeconfig before flags are applied.
#[derive(Debug, Clone)]
pub struct LoadedKubeconfig {
    pub source: KubeconfigSource,
    pub kubeconfig: Kubeconfig,
}

impl KubeArgs {
    /// True when the user asked for anything that only a kubeconfig can satisfy.
    fn customized(&self) -> bool {
        self.kubeconfig.is_some()
            || self.context.is_some()
            || self.cluster.is_some()
            || self.user.is_some()
            || self.server.is_some()
    }

    /// Read and merge kubeconfig files as kubectl does.
    pub fn load_kubeconfig(&self, env: &LoadEnv) -> Result<LoadedKubeconfig> {
        if let Some(path) = &self.kubeconfig {
            let kubeconfig = read_kubeconfig(path)?;
            return Ok(LoadedKubeconfig {
                source: KubeconfigSource::Flag(path.clone()),
                kubeconfig,
            });
        }
        if let Some(value) = &env.kubeconfig {
            // client-go skips entries that do not exist; a file that exists but cannot be
            // read or parsed is still an error.
            let paths: Vec<PathBuf> = std::env::split_paths(value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            if !paths.is_empty() {
                let mut merged = Kubeconfig::default();
                let mut used = Vec::new();
                for path in paths.iter().filter(|p| p.exists()) {
                    let next = read_kubeconfig(path)?;
                    merged = merged.merge(next).map_err(|e| Error::Kubeconfig {
                        message: format!("cannot merge {}: {e}", path.display()),
                        hint: Some(
                            "make the files in KUBECONFIG agree on kind and apiVersion".into(),
                        ),
                    })?;
                    used.push(path.clone());
                }
                // When none of the files exists, messages still name what KUBECONFIG says.
                let named = if used.is_empty() { paths } else { used };
                return Ok(LoadedKubeconfig {
                    source: KubeconfigSource::Env(named),
                    kubeconfig: merged,
                });
            }
        }
        if let Some(home) = &env.home {
            let path = home.join(".kube").join("config");
            if path.exists() {
                let kubeconfig = read_kubeconfig(&path)?;
                return Ok(LoadedKubeconfig {
                    source: KubeconfigSource::Default(path),
                    kubeconfig,
                });
            }
        }
        Ok(LoadedKubeconfig {
            source: KubeconfigSource::None,
            kubeconfig: Kubeconfig::default(),
        })
    }

    /// Resolve flags and kubeconfig into a client configuration, without any network call.
    pub async fn config(&self) -> Result<kube::Config> {
        self.config_with(&LoadEnv::from_process()).await
    }

    /// [`Self::config`] with an explicit environment.
    pub async fn config_with(&self, env: &LoadEnv) -> Result<kube::Config> {
        let loaded = self.load_kubeconfig(env)?;
        let no_contexts = loaded.kubeconfig.contexts.is_empty();
        if no_contexts
            && !self.customized()
            && let Ok(mut config) = kube::Config::incluster()
        {
            self.apply_to_config(&mut config);
            return Ok(config);
        }
        let (kubeconfig, options) = self.apply_to_kubeconfig(loaded)?;
        if let Some(user) = &options.user {
            let from_flag = self.token.is_some();
            for entry in kubeconfig
                .kubeconfig
                .auth_infos
                .iter()
                .filter(|u| &u.name == user)
            {
                if let Some(auth) = &entry.auth_info {
                    check_auth_info(auth, &credential_owner(user, &kubeconfig.source, from_flag))?;
                }
            }
        }
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.kubeconfig, &options)
            .await
            .map_err(|e| kubeconfig_error(&e, &kubeconfig.source))?;
        self.apply_to_config(&mut config);
        if self.insecure_skip_tls_verify {
            tracing::warn!(
                "--insecure-skip-tls-verify: the API server's certificate is NOT checked; \
                 anyone between you and the cluster can read your credentials"
            );
        }
        Ok(config)
    }

    /// Build a client. No request is made until the client is used.
    pub async fn client(&self) -> Result<kube::Client> {
        self.client_with(&LoadEnv::from_process()).await
    }

    /// [`Self::client`] with an explicit environment.
    pub async fn client_with(&self, env: &LoadEnv) -> Result<kube::Client> {
        let config = self.config_with(env).await?;
        client_from_config(config)
    }

    /// The configuration (loaded once), a client built from it and the namespace the command
    /// works in (see [`Self::namespace_or`]). No request is made yet.
    pub async fn connect(&self, fallback_namespace: &str) -> Result<Connection> {
        let config = self.config().await?;
        let namespace = self.namespace_or(&config, fallback_namespace).to_owned();
        let client = client_from_config(config.clone())?;
        Ok(Connection {
            config,
            client,
            namespace,
        })
    }

    /// The namespace a command works in: `-n`, else the context's namespace, else `fallback`.
    pub fn namespace_or<'a>(&'a self, config: &'a kube::Config, fallback: &'a str) -> &'a str {
        match &self.namespace {
            Some(ns) => ns,
            None if config.default_namespace != "default" => &config.default_namespace,
            None => fallback,
        }
    }

    /// Apply the flag overrides to the selected cluster and user entries, as kubectl does.
    fn apply_to_kubeconfig(
        &self,
        mut loaded: LoadedKubeconfig,
    ) -> Result<(LoadedKubeconfig, KubeConfigOptions)> {
        let source = loaded.source.clone();
        let kc = &mut loaded.kubeconfig;
        self.check_names_exist(kc, &source)?;
        if self.server.is_some() && self.context.is_none() && kc.current_context.is_none() {
            synthesize_flag_context(kc);
        }
        let Some(context_name) = self.context.clone().or_else(|| kc.current_context.clone()) else {
            return Err(Error::Kubeconfig {
                message: format!("no current context is set in {source}"),
                hint: Some(
                    "log in to the cluster (`oc login ...`), or pass --kubeconfig, --context or --server".into(),
                ),
            });
        };
        let context = kc
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .and_then(|c| c.context.clone())
            .ok_or_else(|| Error::Kubeconfig {
                message: format!("current context {context_name:?} is not defined in {source}"),
                hint: Some("fix current-context in the kubeconfig or pass --context".into()),
            })?;
        let cluster_name = self
            .cluster
            .clone()
            .unwrap_or_else(|| context.cluster.clone());
        let user_name = match (
            self.user.clone().or_else(|| context.user.clone()),
            &self.token,
        ) {
            (None, Some(_)) => Some(TOKEN_USER.to_owned()),
            (name, _) => name,
        };
        if let Some(cluster) = kc
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
            .and_then(|c| c.cluster.as_mut())
        {
            self.override_cluster(cluster)?;
        }
        if let (Some(token), Some(user_name)) = (&self.token, &user_name) {
            override_token(kc, user_name, token);
        }
        let options = KubeConfigOptions {
            context: Some(context_name),
            cluster: Some(cluster_name),
            user: user_name,
        };
        Ok((loaded, options))
    }

    /// `--context`, `--cluster` and `--user` must name entries that exist.
    fn check_names_exist(&self, kc: &Kubeconfig, source: &KubeconfigSource) -> Result<()> {
        let missing = |what: &str, name: &str, known: Vec<&str>, see: &str| Error::Kubeconfig {
            message: format!("{what} {name:?} does not exist in {source}"),
            hint: Some(if known.is_empty() {
                format!("the kubeconfig has no {what}s; log in first (`oc login ...`)")
            } else {
                format!(
                    "use one of: {} (see `kubectl config {see}`)",
                    known.join(", ")
                )
            }),
        };
        if let Some(name) = &self.context
            && !kc.contexts.iter().any(|c| &c.name == name)
        {
            let known = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            return Err(missing("context", name, known, "get-contexts"));
        }
        if let Some(name) = &self.cluster
            && !kc.clusters.iter().any(|c| &c.name == name)
        {
            let known = kc.clusters.iter().map(|c| c.name.as_str()).collect();
            return Err(missing("cluster", name, known, "get-clusters"));
        }
        if let Some(name) = &self.user
            && !kc.auth_infos.iter().any(|u| &u.name == name)
        {
            let known = kc.auth_infos.iter().map(|u| u.name.as_str()).collect();
            return Err(missing("user", name, known, "get-users"));
        }
        Ok(())
    }

    fn override_cluster(&self, cluster: &mut Cluster) -> Result<()> {
        if let Some(server) = &self.server {
            cluster.server = Some(server.clone());
        }
        if let Some(ca) = &self.certificate_authority {
            let pem = std::fs::read(ca).map_err(|e| Error::Usage {
                message: format!("cannot read --certificate-authority {}: {e}", ca.display()),
                hint: Some("pass a readable PEM file".into()),
            })?;
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = Some(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                pem,
            ));
            cluster.insecure_skip_tls_verify = Some(false);
        }
        if self.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
        if let Some(name) = &self.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
        Ok(())
    }

    /// Overrides that live on the final `Config` rather than in the kubeconfig.
    fn apply_to_config(&self, config: &mut kube::Config) {
        if let Some(ns) = &self.namespace {
            config.default_namespace.clone_from(ns);
        }
        if let Some(user) = &self.as_user {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !self.as_groups.is_empty() {
            config.auth_info.impersonate_groups = Some(self.as_groups.clone());
        }
        if let Some(uid) = &self.as_uid {
            config.auth_info.impersonate_uid = Some(uid.clone());
        }
        if let Some(RequestTimeout(timeout)) = self.request_timeout {
            config.read_timeout = timeout;
            config.write_timeout = timeout;
            if timeout.is_some() {
                config.connect_timeout = timeout;
            }
        }
    }
}

/// A client whose every request follows [`crate::retry::RetryPolicy::DEFAULT`] instead of
/// kube's default retries (unbounded `Retry-After`, up to 1000 s of backoff).
pub fn client_from_config(config: kube::Config) -> Result<kube::Client> {
    client_with_retry(config, crate::retry::RetryPolicy::DEFAULT)
}

/// [`client_from_config`] with another retry policy (tests use short backoffs).
pub fn client_with_retry(
    mut config: kube::Config,
    policy: crate::retry::RetryPolicy,
) -> Result<kube::Client> {
    config.default_retry = false;
    check_auth_info(&config.auth_info, &CredentialOwner::Unknown)?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| Error::Kubeconfig {
        message: crate::error::describe_chain(&e),
        hint: Some("check the certificate and credential fields of your kubeconfig".into()),
    })?;
    Ok(builder
        .with_layer(&crate::retry::RetryLayer::new(policy))
        .build())
}

/// Whose credential a message names: `--token`, or the kubeconfig user and its file.
fn credential_owner(user: &str, source: &KubeconfigSource, from_flag: bool) -> CredentialOwner {
    if from_flag {
        CredentialOwner::Flag
    } else {
        CredentialOwner::User {
            name: user.to_owned(),
            source: source.to_string(),
        }
    }
}

/// Where a token came from, for the message that refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialOwner {
    /// `--token`.
    Flag,
    /// A kubeconfig user entry.
    User { name: String, source: String },
    /// A `kube::Config` built elsewhere (in-cluster, a test): no user name is known.
    Unknown,
}

/// Refuse static tokens that cannot be an HTTP header value. kube builds the
/// `Authorization: Bearer ...` header of a static token with a call that panics on a control
/// character (a pasted line break, a stray `\x01`), so every such token is checked before a
/// client exists. Tokens from exec plugins and token files are checked by kube itself (an
/// error, not a panic). The message never contains the token.
pub fn check_auth_info(auth: &AuthInfo, owner: &CredentialOwner) -> Result<()> {
    use secrecy::ExposeSecret as _;
    let provider = auth.auth_provider.as_ref().map(|p| &p.config);
    let candidates = auth
        .token
        .as_ref()
        .map(|t| ("token", t.expose_secret().to_owned()))
        .into_iter()
        .chain(["id-token", "access-token"].into_iter().filter_map(|key| {
            provider
                .and_then(|config| config.get(key))
                .map(|t| (key, t.clone()))
        }));
    for (field, token) in candidates {
        if http::HeaderValue::from_str(&format!("Bearer {token}")).is_ok() {
            continue;
        }
        let what = if token.chars().any(char::is_control) {
            "a control character (a line break, tab or similar)"
        } else {
            "a character that cannot travel in an HTTP header"
        };
        return Err(match owner {
            CredentialOwner::Flag => Error::Usage {
                message: format!("--token contains {what}, so it cannot be sent"),
                hint: Some(
                    "pass the token as one line of printable characters (better: log in with \
                     `oc login` and drop --token); the token is not shown here"
                        .into(),
                ),
            },
            CredentialOwner::User { name, source } => Error::Kubeconfig {
                message: format!(
                    "the {field} of kubeconfig user {name:?} (in {source}) contains {what}, so \
                     it cannot be sent to the API server"
                ),
                hint: Some(format!(
                    "log in again (`oc login`) to replace it, or fix users[{name}].user.{} in \
                     {source}: a token is one line of printable characters; the token is not \
                     shown here",
                    if field == "token" {
                        "token".to_owned()
                    } else {
                        format!("auth-provider.config.{field}")
                    }
                )),
            },
            CredentialOwner::Unknown => Error::Kubeconfig {
                message: format!(
                    "the {field} of the selected credentials contains {what}, so it cannot be sent"
                ),
                hint: Some(
                    "log in again (`oc login`) to replace it; the token is not shown here".into(),
                ),
            },
        });
    }
    Ok(())
}

/// The kubeconfig user created for `--token` when the context names none.
const TOKEN_USER: &str = "oc-mcp-token";

/// With only `--server` and no usable context, build one like kubectl does.
fn synthesize_flag_context(kc: &mut Kubeconfig) {
    const NAME: &str = "oc-mcp-flags";
    kc.clusters.push(NamedCluster {
        name: NAME.into(),
        cluster: Some(Cluster::default()),
        ..NamedCluster::default()
    });
    kc.auth_infos.push(NamedAuthInfo {
        name: NAME.into(),
        auth_info: Some(AuthInfo::default()),
        ..NamedAuthInfo::default()
    });
    kc.contexts.push(NamedContext {
        name: NAME.into(),
        context: Some(Context {
            cluster: NAME.into(),
            user: Some(NAME.into()),
            ..Context::default()
        }),
        ..NamedContext::default()
    });
    kc.current_context = Some(NAME.into());
}

/// `--token` replaces every other credential of the selected user, as in kubectl.
fn override_token(kc: &mut Kubeconfig, user_name: &str, token: &Secret) {
    if !kc.auth_infos.iter().any(|u| u.name == user_name) {
        kc.auth_infos.push(NamedAuthInfo {
            name: user_name.to_owned(),
            auth_info: Some(AuthInfo::default()),
            ..NamedAuthInfo::default()
        });
    }
    for entry in kc.auth_infos.iter_mut().filter(|u| u.name == user_name) {
        let previous = entry.auth_info.take().unwrap_or_default();
        entry.auth_info = Some(AuthInfo {
            token: Some(token.expose().to_owned().into()),
            impersonate: previous.impersonate,
            impersonate_groups: previous.impersonate_groups,
            impersonate_uid: previous.impersonate_uid,
            ..AuthInfo::default()
        });
    }
}

/// Far above any real kubeconfig (a few KB, or a few hundred with many embedded certificates);
/// the bound keeps a wrong path (a log, a disk image, `/dev/zero`) from being read into memory.
pub const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

fn read_kubeconfig(path: &std::path::Path) -> Result<Kubeconfig> {
    let unreadable = |e: &dyn std::fmt::Display| Error::Kubeconfig {
        message: format!("cannot read {}: {e}", path.display()),
        hint: Some("check the path and its permissions (--kubeconfig or KUBECONFIG)".into()),
    };
    let read = std::fs::File::open(path)
        .and_then(|mut file| crate::secret_input::read_at_most(&mut file, MAX_KUBECONFIG_BYTES))
        .map_err(|e| unreadable(&e))?;
    let Some(bytes) = read else {
        return Err(Error::Kubeconfig {
            message: format!(
                "{} is larger than {} MiB, too large to be a kubeconfig",
                path.display(),
                MAX_KUBECONFIG_BYTES / (1024 * 1024)
            ),
            hint: Some("point --kubeconfig or KUBECONFIG at your kubeconfig file".into()),
        });
    };
    let text = String::from_utf8(bytes).map_err(|e| unreadable(&e))?;
    Kubeconfig::from_yaml(&text).map_err(|e| Error::Kubeconfig {
        message: format!(
            "{} is not a valid kubeconfig: {}",
            path.display(),
            parse_error_without_content(&e.to_string())
        ),
        hint: Some("check the file's YAML, or log in again to rewrite it".into()),
    })
}

/// A YAML error's position and kind, without the excerpt of the file the parser quotes: the
/// offending line of a kubeconfig is often a token or a key.
fn parse_error_without_content(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    match first.find(['"', '`', '\'']) {
        Some(quote) => format!("{}…", first[..quote].trim_end()),
        None => first.to_owned(),
    }
}

fn kubeconfig_error(err: &kube::config::KubeconfigError, source: &KubeconfigSource) -> Error {
    Error::Kubeconfig {
        message: format!("{} (in {source})", crate::error::describe_chain(err)),
        hint: Some(
            "check the selected context, cluster and user (`kubectl config view --minify`)".into(),
        ),
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let args = KubeArgs {
            token: Some(Secret::new("sha256~very-secret")),
            ..KubeArgs::default()
        };
        assert!(!format!("{args:?}").contains("very-secret"));
    }
}
