//! Least-privilege OpenShift tokens: after the guide (role, binding, install, `oc mcp-oauth
//! register openshift`), the administrator logs in through `kubectl mcp-client token
//! --oauth-client`. The token is scoped to the read-only role (`role:mcp-readonly:*`, with
//! `user:info` and `user:check-access`), so although the administrator may write anything,
//! the token may not: the API server refuses its writes and its Secret reads, and so does
//! every call the MCP server makes with it, while the server's reads work. The server runs
//! `read_only = true` and lists no write tool, so the write is shown where the server would
//! send it (the API) and the limit through the server with a Secret read, which the
//! administrator's own token is allowed. A login asking the restricted client for
//! `user:full` is refused.

use std::time::Duration;

use k8s_openapi::api::{
    authentication::v1::TokenReview,
    authorization::v1::SelfSubjectAccessReview,
    core::v1::{ConfigMap, Pod, Secret},
};
use kube::{
    Api,
    api::{ListParams, PostParams},
};
use oc_mcp_common::{
    kube_args::Secret as Token,
    mcp::{McpSession, McpTarget, result_text},
    openshift::OAuthClient,
};
use oc_mcp_e2e::{admin::AdminBench, harness::redirect_location, kubectl_shell::KubectlShell};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};

const NAMESPACE: &str = "mcp-server";
const RELEASE: &str = "kubernetes-mcp-server";
const SCOPES: [&str; 3] = ["user:info", "user:check-access", "role:mcp-readonly:*"];
/// Bounds every wait on the login child.
const LIMIT: Duration = Duration::from_secs(120);

/// What `kubectl mcp-client token --oauth-client` ended with.
struct Login {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The status of the loopback callback page the browser was sent to.
    callback: u16,
}

/// `kubectl mcp-client token --oauth-client --no-browser` as the administrator, kubectl as
/// the plugin host. The browser's part: open the printed URL logged in as `admin` (Basic
/// credentials, which the sandbox's login accepts), follow the redirect to the loopback
/// callback.
async fn login(bench: &AdminBench, secret: &str, extra: &[&str]) -> Login {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = format!("{RELEASE}-{NAMESPACE}.{}", bench.sandbox.apps_domain());
    let shell = KubectlShell::start_in(&bench.sandbox, &host, bench.home.path()).await;
    let mut command = shell.kubectl(
        "admin",
        &["mcp-client", "token", "--oauth-client", "--no-browser"],
    );
    command
        .args(["--client-secret-env", "MCP_CLIENT_SECRET"])
        .args(extra)
        .arg("--cache-dir")
        .arg(cache.path())
        .env("MCP_CLIENT_SECRET", secret);
    let mut child = command.spawn().expect("run kubectl mcp-client token");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut stderr = String::new();
    let url = tokio::time::timeout(LIMIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            stderr.push_str(&line);
            stderr.push('\n');
            if let Some(at) = line.find("https://") {
                let url = line[at..].trim();
                if url.contains("code_challenge=") {
                    return Some(url.to_owned());
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("no login URL printed:\n{stderr}"));

    let http = browser(bench);
    let answer = http
        .get(&url)
        .basic_auth("admin", Some("any-password"))
        .send()
        .await
        .expect("authorize");
    let location = redirect_location(&answer);
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let callback = http
        .get(&location)
        .send()
        .await
        .expect("callback")
        .status()
        .as_u16();

    let status = tokio::time::timeout(LIMIT, child.wait())
        .await
        .expect("the login ends")
        .expect("wait");
    while let Ok(Ok(Some(line))) = tokio::time::timeout(LIMIT, lines.next_line()).await {
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let mut out = String::new();
    stdout.read_to_string(&mut out).await.expect("stdout");
    Login {
        code: status.code(),
        stdout: out.trim().to_owned(),
        stderr,
        callback,
    }
}

fn browser(bench: &AdminBench) -> reqwest::Client {
    oc_mcp_common::install_crypto_provider();
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(bench.sandbox.ca_pem().as_bytes()).expect("CA"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// A client of the API server authenticated with `token` (the administrator's kubeconfig
/// with its token replaced).
async fn api_client(bench: &AdminBench, token: &str) -> kube::Client {
    let yaml = bench
        .sandbox
        .kubeconfig_for("admin")
        .expect("kubeconfig")
        .replace(&bench.sandbox.token("admin").expect("admin token"), token);
    assert!(yaml.contains(token), "the kubeconfig carries the token");
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("parse kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// An MCP session with the server's pod (plain HTTP on loopback, as the Route's backend).
async fn mcp(bench: &AdminBench, token: &str) -> McpSession {
    let admin = bench.sandbox.client_for("admin").await.expect("client");
    let pods: Api<Pod> = Api::namespaced(admin, NAMESPACE);
    let pod = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={RELEASE}")))
        .await
        .expect("pods")
        .items
        .into_iter()
        .find_map(|p| p.metadata.name)
        .expect("a server pod");
    let addr = bench
        .sandbox
        .pod_address(NAMESPACE, &pod, 8080)
        .expect("the pod's address");
    assert!(addr.ip().is_loopback(), "{addr}");
    let target = McpTarget::new(format!("http://{addr}/mcp")).with_token(Some(Token::new(token)));
    McpSession::connect(&target).await.expect("initialize")
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}}))
        .expect("configmap")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrators_mcp_login_yields_a_read_only_token() {
    let bench = AdminBench::deployed().await;
    let admin = bench.sandbox.client_for("admin").await.expect("client");
    let client = Api::<OAuthClient>::all(admin.clone())
        .get(RELEASE)
        .await
        .expect("oauthclient");
    assert!(
        client.scope_problems("mcp-readonly").is_empty(),
        "register restricts the client: {:?}",
        client.scope_restrictions
    );
    let secret = client.secret.clone().expect("a client secret");

    let done = login(&bench, &secret, &[]).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.callback, 200);
    let token = done.stdout.clone();
    assert!(token.starts_with("sha256~"), "an OpenShift token");
    assert!(!done.stderr.contains(&secret) && !done.stderr.contains(&token));

    scoped_as_the_api_server_says(&bench, &admin, &token).await;
    limited_through_the_server(&bench, &token).await;
    user_full_is_refused(&bench, &secret).await;
}

/// Whose the token is, how it is scoped, and what the API server lets it do.
async fn scoped_as_the_api_server_says(bench: &AdminBench, admin: &kube::Client, token: &str) {
    // Whose and how scoped, as the API server sees it.
    let review: TokenReview =
        serde_json::from_value(json!({"spec": {"token": token}})).expect("review");
    let status = Api::<TokenReview>::all(admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("token review")
        .status
        .expect("status");
    assert_eq!(status.authenticated, Some(true));
    let user = status.user.expect("user");
    assert_eq!(user.username.as_deref(), Some("admin"));
    assert_eq!(
        user.extra
            .unwrap_or_default()
            .get("scopes.authorization.openshift.io")
            .cloned()
            .unwrap_or_default(),
        SCOPES.map(str::to_owned).to_vec()
    );

    // The administrator may write; the scoped token may not.
    let scoped = api_client(bench, token).await;
    Api::<ConfigMap>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &config_map("written-by-admin"))
        .await
        .expect("the administrator's own token writes");
    let refused = Api::<ConfigMap>::namespaced(scoped.clone(), "default")
        .create(&PostParams::default(), &config_map("written-by-mcp-token"))
        .await
        .expect_err("the scoped token cannot write");
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 403),
        "{refused:?}"
    );
    let secrets = Api::<Secret>::namespaced(scoped.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .expect_err("nor read Secrets");
    assert!(
        matches!(&secrets, kube::Error::Api(s) if s.code == 403),
        "{secrets:?}"
    );
    // It may ask what it may do, and is told the truth.
    let ssar: SelfSubjectAccessReview = serde_json::from_value(json!({"spec": {
        "resourceAttributes": {"verb": "create", "resource": "configmaps", "namespace": "default"}}}))
    .expect("ssar");
    let answer = Api::<SelfSubjectAccessReview>::all(scoped.clone())
        .create(&PostParams::default(), &ssar)
        .await
        .expect("user:check-access allows the review")
        .status
        .expect("status");
    assert!(!answer.allowed, "{answer:?}");
    let ssar: SelfSubjectAccessReview = serde_json::from_value(json!({"spec": {
        "resourceAttributes": {"verb": "list", "resource": "pods"}}}))
    .expect("ssar");
    let answer = Api::<SelfSubjectAccessReview>::all(scoped)
        .create(&PostParams::default(), &ssar)
        .await
        .expect("review")
        .status
        .expect("status");
    assert!(answer.allowed, "reads across namespaces: {answer:?}");
}

/// Through the MCP server: the reads work, and the token's limit holds in its calls.
async fn limited_through_the_server(bench: &AdminBench, token: &str) {
    let session = mcp(bench, token).await;
    let tools: Vec<String> = session
        .tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        tools.iter().any(|t| t == "namespaces_list") && tools.iter().any(|t| t == "pods_list"),
        "{tools:?}"
    );
    assert!(
        !tools.iter().any(|t| t == "resources_create_or_update"),
        "read_only lists no write tool: {tools:?}"
    );
    let namespaces = session
        .call("namespaces_list", json!({}))
        .await
        .expect("namespaces_list");
    assert_ne!(
        namespaces.is_error,
        Some(true),
        "{}",
        result_text(&namespaces)
    );
    assert!(result_text(&namespaces).contains(NAMESPACE));
    let pods = session
        .call("pods_list", json!({}))
        .await
        .expect("pods_list");
    assert_ne!(pods.is_error, Some(true), "{}", result_text(&pods));
    assert!(
        result_text(&pods).contains(RELEASE),
        "{}",
        result_text(&pods)
    );
    let secret_read = json!({"apiVersion": "v1", "kind": "Secret", "namespace": NAMESPACE});
    let denied = session
        .call("resources_list", secret_read.clone())
        .await
        .expect("resources_list");
    assert_eq!(denied.is_error, Some(true), "{}", result_text(&denied));
    assert!(
        result_text(&denied).contains("forbidden"),
        "{}",
        result_text(&denied)
    );
    session.close().await;
    // The same call with the administrator's own (unscoped) token: the scope made the
    // difference, not RBAC.
    let own = mcp(bench, &bench.sandbox.token("admin").expect("admin token")).await;
    let allowed = own
        .call("resources_list", secret_read)
        .await
        .expect("resources_list");
    assert_ne!(allowed.is_error, Some(true), "{}", result_text(&allowed));
    own.close().await;
}

/// Asking the restricted client for everything the administrator may do is refused.
async fn user_full_is_refused(bench: &AdminBench, secret: &str) {
    let full = login(bench, secret, &["--scope", "user:full"]).await;
    assert_eq!(full.code, Some(3), "{}", full.stderr);
    assert_eq!(
        full.callback, 401,
        "the callback page says the login failed"
    );
    assert!(full.stdout.is_empty(), "no token");
    assert!(full.stderr.contains("access_denied"), "{}", full.stderr);
    assert!(
        full.stderr.contains("scope denied: user:full"),
        "{}",
        full.stderr
    );
}
