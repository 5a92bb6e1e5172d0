//! End to end against the sandbox: the real kubernetes-mcp-server deployed the way the chart
//! renders it, in oidc mode against the sandbox's own issuer (which the API server trusts).
//! `token` logs in with PKCE through the issuer (HTTP driver in place of the browser), and
//! the token it prints opens an MCP session through the Route and lists namespaces as the
//! user; the headersHelper that `config --for claude-code --login token` writes does the same
//! from the cache.

#![allow(clippy::too_many_lines)]

use crate::common;

use std::{path::Path, process::Command, time::Duration};

use common::{Running, bin, browse_trusting, ok, run};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::{DynamicObject, ListParams, PostParams},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(90);
const NS: &str = "mcp-server";
const NAME: &str = "kubernetes-mcp-server";

async fn create<K>(client: &kube::Client, namespaced: bool, v: Value)
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: K = serde_json::from_value(v).expect("a valid object");
    let obj: DynamicObject =
        serde_json::from_value(serde_json::to_value(&typed).expect("serialize")).expect("object");
    let ar = kube::api::ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), NS, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {} {:?}: {e}", ar.kind, obj.metadata.name));
}

/// The chart's objects (ServiceAccount, ConfigMap, Deployment, Service, Ingress with the
/// OpenShift termination annotation) and read access for group mcp-users.
async fn deploy(sb: &Sandbox, config: &str) -> String {
    use k8s_openapi::api::{apps, core, networking, rbac};
    oc_mcp_sandbox::tools::mcp_server().expect("the real kubernetes-mcp-server binary");
    let client = sb.client_for("admin").await.expect("client");
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": NAME});
    create::<core::v1::Namespace>(&client, false, json!({"metadata": {"name": NS}})).await;
    create::<rbac::v1::ClusterRole>(&client, false, json!({"metadata": {"name": "mcp-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces", "pods"], "verbs": ["get", "list", "watch"]}]})).await;
    create::<rbac::v1::ClusterRoleBinding>(&client, false, json!({"metadata": {"name": "mcp-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mcp-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mcp-users"}]})).await;
    create::<core::v1::ServiceAccount>(
        &client,
        true,
        json!({"metadata": {"name": NAME, "labels": labels}}),
    )
    .await;
    create::<core::v1::ConfigMap>(
        &client,
        true,
        json!({"metadata": {"name": NAME, "labels": labels}, "data": {"config.toml": config}}),
    )
    .await;
    create::<apps::v1::Deployment>(&client, true, json!({"metadata": {"name": NAME, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                "spec": {"serviceAccountName": NAME,
                    "containers": [{"name": NAME, "image": "quay.io/containers/kubernetes_mcp_server:v0.0.67",
                        "args": ["--config", "/etc/kubernetes-mcp-server/config.toml"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/kubernetes-mcp-server"},
                                         {"name": "ca", "mountPath": "/etc/mcp-ca"}]}],
                    "volumes": [{"name": "config", "configMap": {"name": NAME}},
                                {"name": "ca", "configMap": {"name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}}})).await;
    create::<core::v1::Service>(&client, true, json!({"metadata": {"name": NAME, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}})).await;
    let host = format!("{NAME}-{NS}.{}", sb.apps_domain());
    create::<networking::v1::Ingress>(
        &client,
        true,
        json!({"metadata": {"name": NAME, "labels": labels,
            "annotations": {"route.openshift.io/termination": "edge"}},
        "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": NAME, "port": {"number": 8080}}}}]}}]}}),
    )
    .await;

    let pods: Api<Pod> = Api::namespaced(client, NS);
    let start = std::time::Instant::now();
    loop {
        let list = pods
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={NAME}")))
            .await
            .expect("pods");
        let ready = list.items.iter().any(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        if ready && sb.resolve(&host).is_some() {
            return host;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server did not become ready: {:?}",
            list.items.iter().map(|p| &p.status).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON-RPC messages of a streamable-HTTP response (SSE or plain JSON).
fn messages(body: &str) -> Vec<Value> {
    let sse: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    if sse.is_empty() {
        serde_json::from_str(body).into_iter().collect()
    } else {
        sse
    }
}

/// Initialize, then call `namespaces_list` with `token`: the text of the result.
async fn list_namespaces(sb: &Sandbox, host: &str, token: &str) -> Result<String, u16> {
    oc_mcp_common::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .resolve(host, sb.router_https_addr());
    for cert in reqwest::Certificate::from_pem_bundle(sb.ca_pem().as_bytes()).expect("CA") {
        builder = builder.add_root_certificate(cert);
    }
    let http = builder.build().expect("client");
    let url = format!("{}/mcp", sb.route_url(host));
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(&url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            request = request.header("mcp-session-id", s);
        }
        request.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "oc-mcp-client-test", "version": "1"}}});
    let response = post(init, None).await.expect("initialize");
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = response.text().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(initialized, session.clone())
        .await
        .expect("initialized");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "namespaces_list", "arguments": {}}});
    let response = post(call, session).await.expect("tools/call");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    let result = messages(&body)
        .into_iter()
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to tools/call ({status}): {body}"));
    assert_ne!(result["result"]["isError"], true, "{result}");
    Ok(result["result"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n"))
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims")
}

/// Let the sandbox issuer approve the login at `url` (its default user), and the token
/// `token` printed.
async fn approve(running: Running, url: &str, sb: &Sandbox) -> String {
    let (status, _) = browse_trusting(url, Some(sb.ca_pem())).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let (code, out, err) = running.finish(LIMIT);
    assert_eq!(code, Some(0), "{err}");
    out.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pkce_login_through_the_sandbox_issuer_opens_an_mcp_session() {
    let sb = Sandbox::start(SandboxConfig {
        trust_issuer: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let config = format!(
        "port = \"8080\"\nrequire_oauth = true\nauthorization_url = \"{}\"\noauth_audience = \"{}\"\ncertificate_authority = \"/etc/mcp-ca/ca.crt\"\ncluster_auth_mode = \"passthrough\"\nread_only = true\n",
        sb.issuer_url(),
        sb.oidc_audience()
    );
    let host = deploy(&sb, &config).await;
    // The app registration of step 6: a public client (PKCE, no secret).
    sb.add_oidc_client("mcp-cli", None, &[]);
    let admin = sb.client_for("admin").await.expect("client");
    create::<k8s_openapi::api::core::v1::ConfigMap>(
        &admin,
        true,
        json!({"metadata": {"name": "mcp-oauth-settings"},
               "data": {"provider": "oidc", "clientId": "mcp-cli"}}),
    )
    .await;

    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let cache = h.join("cache");
    let admin_kubeconfig = sb.kubeconfig_path("admin").expect("kubeconfig");

    // No token, no session.
    assert_eq!(list_namespaces(&sb, &host, "").await, Err(401));

    // Everything from the cluster: mode oidc, the issuer, the audience, the client id.
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin_kubeconfig)
        .args(["token", "--no-browser"])
        .arg("--cache-dir")
        .arg(&cache);
    let mut running = Running::spawn(cmd);
    let url = running.login_url(LIMIT);
    assert!(
        url.starts_with(&format!("{}/authorize?", sb.issuer_url())),
        "{url}"
    );
    let token = approve(running, &url, &sb).await;
    let c = claims(&token);
    // The sandbox issuer approves its default user; the access token is for the server.
    assert_eq!(c["sub"], "member");
    assert_eq!(c["aud"], sb.oidc_audience());
    assert_eq!(c["iss"], sb.issuer_url());

    let text = list_namespaces(&sb, &host, &token)
        .await
        .expect("the server accepts the token");
    assert!(text.contains(NS), "{text}");
    // The API server saw the user, not the server's service account.
    assert!(sb.audit().iter().any(|e| e.user == "member"
        && e.resource == "namespaces"
        && e.code == 200
        && e.user_agent.starts_with("kubernetes-mcp-server")));

    // A client configured with `--login token` runs a command that needs no cluster read:
    // the login is written out, and the cached token comes back.
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin_kubeconfig)
        .args(["config", "--for", "claude-code", "--login", "token"])
        .arg("--cache-dir")
        .arg(&cache);
    let doc: Value = serde_json::from_str(&ok(&run(cmd, LIMIT))).expect("json");
    let entry = &doc["mcpServers"][NAME];
    assert_eq!(entry["url"], format!("https://{host}/mcp"));
    let helper = entry["headersHelper"].as_str().expect("headersHelper");
    for expected in [
        format!("--issuer {}", sb.issuer_url()),
        "--client-id mcp-cli".to_owned(),
        format!("--audience {}", sb.oidc_audience()),
    ] {
        assert!(helper.contains(&expected), "{helper}");
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kubectl-mcp_client"))
        .parent()
        .expect("dir")
        .to_owned();
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", &format!("{helper} --stored-only")])
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", h)
        .env_remove("KUBECONFIG")
        .current_dir(h);
    let headers: Value = serde_json::from_str(&ok(&run(sh, LIMIT))).expect("headers");
    assert_eq!(headers["Authorization"], format!("Bearer {token}"));

    // A member of the MCP group, who may not read the server's ConfigMap, gets the same login
    // from the flags alone.
    let member = sb.kubeconfig_path("member").expect("kubeconfig");
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&member)
        .args([
            "token",
            "--stored-only",
            "--issuer",
            sb.issuer_url(),
            "--client-id",
            "mcp-cli",
        ])
        .args(["--scope", "openid,profile,email"])
        .arg("--cache-dir")
        .arg(&cache);
    assert_eq!(ok(&run(cmd, LIMIT)).trim(), token);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openshift_oauth_client_login_yields_a_token_the_server_passes_through() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let config =
        oc_mcp_common::server_config::ServerConfig::openshift(&[] as &[&str]).to_toml_string();
    let host = deploy(&sb, &config).await;
    // `oc mcp-oauth register openshift`: a confidential OAuthClient with the loopback
    // redirect URIs for CLI logins and the route's callback.
    let admin = sb.client_for("admin").await.expect("client");
    let clients: Api<oc_mcp_common::openshift::OAuthClient> = Api::all(admin);
    let mut client = oc_mcp_common::openshift::OAuthClient::named(NAME);
    client.secret = Some("s3cret-value".into());
    client.redirect_uris = vec![
        "http://127.0.0.1/oauth/callback".into(),
        "http://localhost/oauth/callback".into(),
        format!("https://{host}/oauth/callback"),
    ];
    client.grant_method = Some("auto".into());
    clients
        .create(&PostParams::default(), &client)
        .await
        .expect("OAuthClient");

    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let cache = h.join("cache");
    let member = sb.kubeconfig_path("member").expect("kubeconfig");
    // Taken now: once the OAuth server has issued member a token, `Sandbox::token` may name
    // either.
    let kubeconfig_token = sb.token("member").expect("kubeconfig token");
    let member_yaml = sb.kubeconfig_for("member").expect("kubeconfig");
    let login = |secret: &str| {
        let mut cmd = bin(h);
        cmd.arg("--kubeconfig")
            .arg(&member)
            .args([
                "token",
                "--oauth-client",
                "--no-browser",
                "--client-secret-env",
                "MCP_CLIENT_SECRET",
                // The members' role here is mcp-reader, not the default mcp-readonly.
                "--scope",
                "user:info,user:check-access,role:mcp-reader:*",
            ])
            .env("MCP_CLIENT_SECRET", secret)
            .arg("--cache-dir")
            .arg(&cache);
        cmd
    };

    // A wrong secret: the token endpoint refuses, exit 3, nothing cached.
    let mut running = Running::spawn(login("wrong"));
    let url = running.login_url(LIMIT);
    let (status, _) = browse_trusting(&url, Some(sb.ca_pem())).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let (code, out, err) = running.finish(LIMIT);
    assert_eq!(code, Some(3), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("unauthorized_client"), "{err}");
    assert!(!err.contains("wrong"), "the secret is never echoed");

    let mut running = Running::spawn(login("s3cret-value"));
    let url = running.login_url(LIMIT);
    // The authorize endpoint is the cluster's OAuth server, found through the API server.
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", sb.url())),
        "{url}"
    );
    assert!(
        url.contains("scope=user%3Ainfo+user%3Acheck-access+role%3Amcp-reader%3A*"),
        "{url}"
    );
    let token = approve(running, &url, &sb).await;
    assert_ne!(token, kubeconfig_token);

    // An OpenShift token for the user: the API server knows it as member...
    let yaml = member_yaml.replace(&kubeconfig_token, &token);
    assert!(yaml.contains(&token));
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    let as_token = kube::Client::try_from(cfg).expect("client");
    let me: Value = serde_json::from_str(
        &as_token
            .request_text(
                http::Request::get("/apis/user.openshift.io/v1/users/~")
                    .body(Vec::new())
                    .expect("request"),
            )
            .await
            .expect("users/~"),
    )
    .expect("json");
    assert_eq!(me["metadata"]["name"], "member");
    // ...and the server in openshift mode passes it through.
    let text = list_namespaces(&sb, &host, &token)
        .await
        .expect("the server accepts the token");
    assert!(text.contains(NS), "{text}");

    // From the cache next time, without the secret or a browser.
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&member)
        .args(["token", "--oauth-client", "--stored-only"])
        .args(["--scope", "user:info,user:check-access,role:mcp-reader:*"])
        .arg("--cache-dir")
        .arg(&cache);
    assert_eq!(ok(&run(cmd, LIMIT)).trim(), token);
    assert!(common::files_containing(h, "s3cret-value").is_empty());
}
