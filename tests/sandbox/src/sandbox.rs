//! The `Sandbox` handle: starts the server on its own runtime thread (so tests may block
//! on child processes without starving it), and hands out kubeconfigs and clients.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::audit::{AuditEntry, AuditLog};
use crate::authn::{OidcConfig, OidcVerifier, TokenTable, UserInfo};
use crate::server::State;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to write ca.crt, audit.jsonl and kubeconfigs; a temp dir when `None`.
    pub dir: Option<PathBuf>,
    /// 0 = an ephemeral port.
    pub port: u16,
    /// Where the router listens (default 127.0.0.1). Must be loopback: `start` refuses any
    /// other address. A demo gives it an address of its own, so port 443 there is free.
    pub router_addr: IpAddr,
    /// The router's HTTPS port; 0 (the default) = an ephemeral one, so sandboxes run side by
    /// side. Its HTTP listener always takes an ephemeral port of the same address.
    pub router_https_port: u16,
    /// The cluster's apps domain (`ingresses.config.openshift.io/cluster` spec.domain).
    pub apps_domain: String,
    pub oidc: Option<OidcConfig>,
    /// The kubernetes-mcp-server binary pods of its image run; `None`: `tools::mcp_server()`.
    pub mcp_server_bin: Option<PathBuf>,
    /// Repository globs of images run as the kubernetes-mcp-server
    /// (default: [`crate::kubelet::DEFAULT_MCP_IMAGES`]).
    pub mcp_images: Vec<String>,
    /// Where every pod process listens; `None` (the default): a loopback address per pod
    /// (see [`crate::kubelet::pod_loopback`]). Must be loopback: the sandbox listens on
    /// nothing else, so `start` refuses any other address.
    pub pod_network: Option<IpAddr>,
    /// The kubelet's first restart back-off (10 s, doubling up to 5 min).
    pub crash_backoff: Duration,
    /// Whether the API server accepts JWTs from the sandbox's own OIDC issuer (the "cluster
    /// accepts OIDC tokens" case); `false` is classic ARO (OpenShift OAuth tokens only).
    /// Ignored when `oidc` names another issuer.
    pub trust_issuer: bool,
    /// The audience of the issuer's access tokens by default, and the one the API server
    /// expects when it trusts the issuer.
    pub oidc_audience: String,
    /// Faults to inject from the start (see [`crate::faults`]); more with `add_fault`.
    pub faults: Vec<crate::faults::FaultRule>,
    /// Objects stored before serving, as given (see [`crate::seed::preload`]): large
    /// fixtures such as 10,000 ClusterRoleBindings, which take minutes to POST one by one.
    pub preload: Vec<serde_json::Value>,
    /// OpenShift (the default) or plain Kubernetes: no OpenShift API group, OAuth server or
    /// Route; an ingress controller serves Ingresses (see [`crate::ingress`]).
    pub flavour: crate::flavour::Flavour,
    /// Kubernetes flavour only: serve `cert-manager.io` (ClusterIssuer `sandbox-ca`) and
    /// issue the missing TLS Secrets of Ingresses annotated for it from the sandbox CA.
    pub cert_manager: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            dir: None,
            port: 0,
            router_addr: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            router_https_port: 0,
            apps_domain: "apps.sandbox.example.com".into(),
            oidc: None,
            mcp_server_bin: None,
            mcp_images: crate::kubelet::DEFAULT_MCP_IMAGES
                .iter()
                .map(ToString::to_string)
                .collect(),
            pod_network: None,
            crash_backoff: Duration::from_secs(10),
            trust_issuer: false,
            oidc_audience: crate::issuer::DEFAULT_AUDIENCE.into(),
            faults: Vec::new(),
            preload: Vec::new(),
            flavour: crate::flavour::Flavour::OpenShift,
            cert_manager: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("sandbox I/O failed ({what}): {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("unknown sandbox user {0:?}; add it with Sandbox::add_user")]
    UnknownUser(String),
    #[error("building a kube client failed: {0}")]
    Client(String),
    #[error("the sandbox server thread failed to start")]
    Start,
    #[error("the sandbox OIDC issuer failed: {0}")]
    Issuer(String),
    #[error("cannot listen on {addr} ({what}): {hint}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        hint: String,
        source: std::io::Error,
    },
    #[error("invalid sandbox config: {0}")]
    Config(String),
    #[error("cannot preload object {index}: {message}")]
    Preload { index: usize, message: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

/// A running sandbox API server. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    state: Arc<State>,
    url: String,
    ca_pem: String,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    users: Mutex<Vec<String>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sandbox {
    /// Async for callers in tests; binding is synchronous and serving runs on its own thread.
    #[allow(clippy::unused_async)]
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Self::start_blocking(config)
    }

    /// Start without an async context (binds synchronously; serving runs on its own thread).
    pub fn start_blocking(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (tmp, dir) = match &config.dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("oc-mcp-sandbox-")
                    .tempdir()
                    .map_err(io("creating a temp dir"))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        if let Some(ip) = config.pod_network {
            crate::listeners::check_loopback("pod_network", ip)?;
        }
        let pki = crate::tls::generate()?;
        let crate::listeners::Listeners {
            api: (listener, addr),
            router_https: (router_https, router_https_addr),
            router_http: (router_http, router_http_addr),
            issuer: (issuer_listener, issuer_addr),
        } = crate::listeners::bind_all(config.port, config.router_addr, config.router_https_port)?;
        let issuer_url = format!("https://{issuer_addr}");
        crate::issuer::warm_up();
        std::fs::write(dir.join("issuer"), format!("{issuer_url}\n"))
            .map_err(io("writing issuer"))?;
        std::fs::write(dir.join("apps-domain"), format!("{}\n", config.apps_domain))
            .map_err(io("writing apps-domain"))?;
        let oidc = match (&config.oidc, config.trust_issuer) {
            (Some(o), _) => Some(o.clone()),
            (None, true) => {
                let mut o = OidcConfig::new(&issuer_url, &config.oidc_audience);
                o.ca_pem = Some(pki.ca_pem.clone());
                Some(o)
            }
            (None, false) => None,
        };
        std::fs::write(dir.join("ca.crt"), &pki.ca_pem).map_err(io("writing ca.crt"))?;
        let audit =
            AuditLog::create(&dir.join("audit.jsonl")).map_err(io("opening audit.jsonl"))?;
        let flavour = config.flavour;
        let cert_manager = config.cert_manager && !flavour.is_openshift();
        let mut store = Store::new();
        crate::seed::seed_flavour(&mut store, &config.apps_domain, &pki.ca_pem, flavour);
        if let Some(o) = &oidc
            && flavour.is_openshift()
        {
            crate::seed::external_oidc(&mut store, o);
        }
        if cert_manager {
            crate::seed::cert_manager(&mut store);
        }
        for (index, obj) in config.preload.iter().enumerate() {
            let api_version = obj.get("apiVersion").and_then(serde_json::Value::as_str);
            let kind = obj.get("kind").and_then(serde_json::Value::as_str);
            if let Some(def) =
                crate::resources::by_kind(api_version.unwrap_or(""), kind.unwrap_or(""))
                && !flavour.serves(def, cert_manager)
            {
                return Err(SandboxError::Preload {
                    index,
                    message: format!(
                        "the {flavour} flavour does not serve {}",
                        def.group_resource()
                    ),
                });
            }
            crate::seed::preload(&mut store, obj.clone())
                .map_err(|message| SandboxError::Preload { index, message })?;
        }
        let tokens = TokenTable::default();
        let mut users = Vec::new();
        for (name, groups) in crate::seed::SEED_USERS {
            tokens.insert(&crate::authn::new_token(), UserInfo::new(name, groups));
            users.push((*name).to_string());
        }
        let state = Arc::new(State {
            store: Mutex::new(store),
            tokens,
            oidc: oidc.map(OidcVerifier::new),
            audit,
            server_address: addr.to_string(),
            apps_domain: config.apps_domain.clone(),
            next_ip: Mutex::new(256),
            api_url: format!("https://{addr}"),
            ca_pem: pki.ca_pem.clone(),
            kubelet: crate::kubelet::Kubelet::new(
                crate::kubelet::KubeletConfig {
                    mcp_images: config.mcp_images.clone(),
                    server_bin: config.mcp_server_bin.clone(),
                    pod_network: config.pod_network,
                    backoff: config.crash_backoff,
                },
                dir.join("pods"),
            ),
            router: crate::router::RouterInfo {
                https: router_https_addr,
                http: router_http_addr,
            },
            issuer: Arc::new(crate::issuer::Issuer::new(
                issuer_url,
                config.oidc_audience.clone(),
            )),
            oauth: crate::oauth::OAuthServer::default(),
            faults: crate::faults::Faults::new(config.faults.clone()),
            flavour,
            cert_manager,
            ca: pki.ca.clone(),
        });
        let router_tls = crate::router::tls_config(state.clone(), pki.ca.clone())?;
        let resolve_path = dir.join("resolve");
        // The file exists before the sandbox is ready (`serve` then writes DIR/ready); the
        // task below keeps it current.
        let _ = std::fs::write(&resolve_path, "");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<bool>();
        let st = state.clone();
        let tls = pki.server_config.clone();
        let issuer_tls = pki.server_config.clone();
        let thread = std::thread::Builder::new()
            .name("oc-mcp-sandbox".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    let _ = ready_tx.send(false);
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        let _ = ready_tx.send(false);
                        return;
                    };
                    let (Ok(router_https), Ok(router_http), Ok(issuer_listener)) = (
                        tokio::net::TcpListener::from_std(router_https),
                        tokio::net::TcpListener::from_std(router_http),
                        tokio::net::TcpListener::from_std(issuer_listener),
                    ) else {
                        let _ = ready_tx.send(false);
                        return;
                    };
                    let _ = ready_tx.send(true);
                    let tasks = [
                        tokio::spawn(crate::controllers::run(st.clone())),
                        tokio::spawn(crate::kubelet::run(st.clone())),
                        tokio::spawn(crate::router::serve(
                            router_https,
                            Some(router_tls),
                            st.clone(),
                        )),
                        tokio::spawn(crate::router::serve(router_http, None, st.clone())),
                        tokio::spawn(crate::router::write_resolve(st.clone(), resolve_path)),
                        tokio::spawn(crate::issuer::serve(
                            issuer_listener,
                            issuer_tls,
                            st.clone(),
                        )),
                    ];
                    crate::listeners::serve_api(listener, tls, st.clone(), stop_rx).await;
                    for t in &tasks {
                        t.abort();
                    }
                    st.kubelet.shutdown();
                });
                // Open watch streams would otherwise keep the runtime alive.
                rt.shutdown_timeout(std::time::Duration::from_millis(200));
            })
            .map_err(io("spawning the server thread"))?;
        if !ready_rx.recv().unwrap_or(false) {
            return Err(SandboxError::Start);
        }
        let sb = Sandbox {
            state,
            url: format!("https://{addr}"),
            ca_pem: pki.ca_pem,
            dir,
            _tmp: tmp,
            users: Mutex::new(users),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        Ok(sb)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The router's HTTPS address (`router_addr`, 127.0.0.1 by default, and
    /// `router_https_port` or a free port): every admitted Route's host is served here with a
    /// certificate signed by the sandbox CA.
    pub fn router_https_addr(&self) -> SocketAddr {
        self.state.router.https
    }

    pub fn router_https_port(&self) -> u16 {
        self.state.router.https.port()
    }

    /// The router's plain HTTP address (redirects to HTTPS or serves, per Route).
    pub fn router_http_addr(&self) -> SocketAddr {
        self.state.router.http
    }

    pub fn router_http_port(&self) -> u16 {
        self.state.router.http.port()
    }

    /// Where a Route host is served (the router's HTTPS address) when an admitted Route has
    /// that host; no DNS serves the apps domain, so clients connect here (reqwest's
    /// `ClientBuilder::resolve`, curl's `--resolve`). In the Kubernetes flavour: where an
    /// Ingress rule's host is served, the HTTPS address for a host with a tls entry, else
    /// the plain HTTP address.
    pub fn resolve(&self, host: &str) -> Option<SocketAddr> {
        if !self.state.flavour.is_openshift() {
            let tls = crate::ingress::serves_host(&self.state.store(), host)?;
            return Some(if tls {
                self.state.router.https
            } else {
                self.state.router.http
            });
        }
        crate::router::admitted_routes(&self.state)
            .iter()
            .any(|r| {
                r.pointer("/spec/host")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|h| h.eq_ignore_ascii_case(host))
            })
            .then_some(self.state.router.https)
    }

    /// `https://<host>:<router https port>`: the URL of a Route host through the router.
    pub fn route_url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.state.router.https.port())
    }

    /// Kubernetes flavour: the URL an Ingress host is served at, `https://<host>:<router
    /// https port>` with a tls entry, else `http://<host>:<router http port>`; `None` when
    /// no served Ingress has a rule for the host (or in the OpenShift flavour: use
    /// [`Sandbox::route_url`]).
    pub fn ingress_url(&self, host: &str) -> Option<String> {
        if self.state.flavour.is_openshift() {
            return None;
        }
        let tls = crate::ingress::serves_host(&self.state.store(), host)?;
        Some(if tls {
            format!("https://{host}:{}", self.state.router.https.port())
        } else {
            format!("http://{host}:{}", self.state.router.http.port())
        })
    }

    /// Which cluster this sandbox emulates.
    pub fn flavour(&self) -> crate::flavour::Flavour {
        self.state.flavour
    }

    /// A serving certificate for `hosts` signed by the sandbox CA, as PEM:
    /// `(tls.crt, tls.key)` (the leaf then the CA; PKCS#8 key).
    pub fn tls_pem(&self, hosts: &[&str]) -> Result<(String, String), SandboxError> {
        let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        Ok(self.state.ca.issue_pem(&names)?)
    }

    /// Store a `kubernetes.io/tls` Secret `namespace/name` with a certificate for `hosts`
    /// from the sandbox CA (replacing one of that name), as a test's setup would.
    pub fn create_tls_secret(
        &self,
        namespace: &str,
        name: &str,
        hosts: &[&str],
    ) -> Result<(), SandboxError> {
        use base64::Engine as _;
        let (crt, key) = self.tls_pem(hosts)?;
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": b64(&crt), "tls.key": b64(&key)}});
        let def = crate::resources::find("", "v1", "secrets")
            .ok_or_else(|| SandboxError::Client("secrets are not served".into()))?;
        let key = crate::store::Key::new(def, namespace, name);
        self.with_store(|s| {
            let _ = s.delete(&key);
            s.create(key, secret).map(|_| ()).map_err(|e| {
                SandboxError::Client(format!("storing Secret {namespace}/{name}: {e}"))
            })
        })
    }

    /// The lines of `DIR/resolve`: `host:port:127.0.0.1` for the HTTPS and HTTP ports of every
    /// admitted Route host.
    pub fn resolve_lines(&self) -> Vec<String> {
        crate::router::resolve_lines(&self.state)
    }

    /// `DIR/resolve` (kept current as Routes change).
    pub fn resolve_path(&self) -> PathBuf {
        self.dir.join("resolve")
    }

    /// The sandbox OIDC issuer's URL (`https://127.0.0.1:<port>`, certificate from the
    /// sandbox CA); also in `DIR/issuer`.
    pub fn issuer_url(&self) -> &str {
        &self.state.issuer.url
    }

    /// The issuer's default token audience (and the API server's, when it trusts it).
    pub fn oidc_audience(&self) -> &str {
        &self.state.issuer.audience
    }

    /// An RS256 access token from the sandbox issuer for a known user (its groups in the
    /// `groups` claim); `audience` defaults to [`Sandbox::oidc_audience`].
    pub fn oidc_token(
        &self,
        user: &str,
        audience: Option<&str>,
        expires_in: Duration,
    ) -> Result<String, SandboxError> {
        let u = self
            .state
            .tokens
            .user(user)
            .ok_or_else(|| SandboxError::UnknownUser(user.into()))?;
        let groups: Vec<String> = u
            .groups
            .into_iter()
            .filter(|g| g != crate::authn::AUTHENTICATED)
            .collect();
        self.state
            .issuer
            .mint(user, &groups, audience, expires_in)
            .map_err(SandboxError::Issuer)
    }

    /// Register a client with the issuer: with a secret it is confidential (needed for
    /// client_credentials); with redirect URIs only those are accepted (else any loopback
    /// or https URI).
    pub fn add_oidc_client(&self, id: &str, secret: Option<&str>, redirect_uris: &[&str]) {
        self.state.issuer.add_client(crate::issuer::OidcClient {
            id: id.into(),
            secret: secret.map(String::from),
            redirect_uris: redirect_uris.iter().map(ToString::to_string).collect(),
        });
    }

    /// The OpenShift OAuth server's endpoints on the API server URL:
    /// `(authorize, token)`; the metadata is at `<url>/.well-known/oauth-authorization-server`.
    pub fn oauth_endpoints(&self) -> (String, String) {
        (
            format!("{}/oauth/authorize", self.url),
            format!("{}/oauth/token", self.url),
        )
    }

    /// Inject a fault from now on (bounded by the rule's `max`; logged in the audit entry).
    pub fn add_fault(&self, rule: crate::faults::FaultRule) {
        self.state.faults.add(rule);
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// How many faults have been injected so far.
    pub fn faults_injected(&self) -> u64 {
        self.state.faults.injected()
    }

    /// Deploy the real kubernetes-mcp-server like its Helm chart does (as `admin`, through
    /// the API), without waiting.
    pub async fn deploy_mcp_server(
        &self,
        app: &crate::apps::McpServerApp,
    ) -> Result<(), SandboxError> {
        let client = self.client_for("admin").await?;
        crate::apps::deploy(&client, &self.state.apps_domain, app).await
    }

    /// Wait (at most `limit`) until the app's pod is Ready and its Route is served; returns
    /// the route URL, `https://<host>:<router https port>` ("" without an Ingress).
    pub async fn wait_mcp_server(
        &self,
        app: &crate::apps::McpServerApp,
        limit: Duration,
    ) -> Result<String, SandboxError> {
        crate::apps::wait_ready(self, app, limit).await
    }

    /// Where a pod's process serves a container port (what port-forward and the router
    /// connect to); `None` when no process of the pod serves it.
    pub fn pod_address(&self, namespace: &str, pod: &str, port: u16) -> Option<SocketAddr> {
        let uid = self.with_store(|s| {
            let def = crate::resources::find("", "v1", "pods")?;
            s.get(&crate::store::Key::new(def, namespace, pod))
                .and_then(|p| p.pointer("/metadata/uid"))
                .and_then(serde_json::Value::as_str)
                .map(String::from)
        })?;
        self.state.kubelet.address(&uid, port)
    }

    /// The cluster's apps domain (Route hosts live under it).
    pub fn apps_domain(&self) -> &str {
        &self.state.apps_domain
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn audit_path(&self) -> PathBuf {
        self.state.audit.path().to_path_buf()
    }

    /// Every audit entry so far.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.state.audit.read()
    }

    /// The bearer token of a user.
    pub fn token(&self, user: &str) -> Result<String, SandboxError> {
        self.state
            .tokens
            .token_of(user)
            .ok_or_else(|| SandboxError::UnknownUser(user.into()))
    }

    /// Add a static-token user and return its token.
    pub fn add_user(&self, name: &str, groups: &[&str]) -> String {
        let t = crate::authn::new_token();
        self.state.tokens.insert(&t, UserInfo::new(name, groups));
        if let Ok(mut u) = self.users.lock() {
            u.push(name.into());
        }
        t
    }

    /// Direct access to the store (for seeding tests quickly).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.state.store())
    }

    /// A kubeconfig (YAML) with one context, `user`, current.
    pub fn kubeconfig_for(&self, user: &str) -> Result<String, SandboxError> {
        let t = self.token(user)?;
        Ok(crate::kubeconfig::render(
            &self.url,
            &self.ca_pem,
            &[(user.to_string(), t)],
            "default",
        ))
    }

    /// A kubeconfig with a context per known user, `first` current.
    pub fn kubeconfig_all(&self, first: &str) -> Result<String, SandboxError> {
        let mut names = self.users.lock().map(|u| u.clone()).unwrap_or_default();
        names.sort_by_key(|n| n != first);
        let pairs = names
            .iter()
            .map(|n| Ok((n.clone(), self.token(n)?)))
            .collect::<Result<Vec<_>, SandboxError>>()?;
        Ok(crate::kubeconfig::render(
            &self.url,
            &self.ca_pem,
            &pairs,
            "default",
        ))
    }

    /// Write `kubeconfig_for(user)` to `<dir>/kubeconfig-<user>` (mode 0600) and return the path.
    pub fn kubeconfig_path(&self, user: &str) -> Result<PathBuf, SandboxError> {
        let p = self.dir.join(format!("kubeconfig-{user}"));
        write_private(&p, &self.kubeconfig_for(user)?)?;
        Ok(p)
    }

    /// A kube-rs client authenticated as `user`.
    pub async fn client_for(&self, user: &str) -> Result<kube::Client, SandboxError> {
        let yaml = self.kubeconfig_for(user)?;
        let kc = kube::config::Kubeconfig::from_yaml(&yaml)
            .map_err(|e| SandboxError::Client(e.to_string()))?;
        let cfg =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| SandboxError::Client(e.to_string()))?;
        kube::Client::try_from(cfg).map_err(|e| SandboxError::Client(e.to_string()))
    }

    /// Stop serving and wait for the server thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Write a file only the owner can read (kubeconfigs hold tokens).
pub fn write_private(path: &Path, content: &str) -> Result<(), SandboxError> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    f.write_all(content.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}
