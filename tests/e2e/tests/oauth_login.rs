//! Guide steps 6-7 for real: the OAuthClient `oc mcp-oauth register openshift` makes lets a
//! PKCE authorization-code login through the cluster's OAuth server obtain a token the API
//! server accepts; after `rotate`, the previous secret still works until it is dropped.

use std::path::PathBuf;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, api::PostParams};
use oc_mcp_e2e::{plugin_dir, text};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1/oauth/callback";

/// Log in as the sandbox user `member` with the client's secret; the access token, or the
/// token endpoint's refusal.
async fn login(sandbox: &Sandbox, secret: &str) -> Result<String, String> {
    oc_mcp_common::install_crypto_provider();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).expect("ca"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let verifier =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let metadata: serde_json::Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            sandbox.url()
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let authorize = metadata["authorization_endpoint"]
        .as_str()
        .expect("authorization_endpoint");
    let token_endpoint = metadata["token_endpoint"].as_str().expect("token_endpoint");
    let answer = http
        .get(authorize)
        .query(&[
            ("client_id", "kubernetes-mcp-server"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "e2e-state"),
            ("login_hint", "member"),
            // What `oc mcp-client token --oauth-client` asks for; the client allows no more.
            ("scope", "user:info user:check-access role:mcp-readonly:*"),
        ])
        .send()
        .await
        .expect("authorize");
    let status = answer.status();
    let location = answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map_or_else(
            || panic!("authorize answered {status} without a redirect"),
            str::to_owned,
        );
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(location.contains("state=e2e-state"), "{location}");
    let code = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .expect("a code")
        .to_owned();
    let reply = http
        .post(token_endpoint)
        .basic_auth("kubernetes-mcp-server", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    let status = reply.status();
    let body: serde_json::Value = reply.json().await.expect("json");
    if status.is_success() {
        Ok(body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned())
    } else {
        Err(body["error"].as_str().unwrap_or_default().to_owned())
    }
}

/// Who the API server says the token belongs to (`users/~`, which the `user:info` scope
/// allows; a SelfSubjectReview is outside the token's scopes).
async fn whoami(sandbox: &Sandbox, token: &str) -> String {
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).expect("ca"),
        )
        .build()
        .expect("client");
    let me: serde_json::Value = http
        .get(format!(
            "{}/apis/user.openshift.io/v1/users/~",
            sandbox.url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/~")
        .error_for_status()
        .expect("the API server accepts the token")
        .json()
        .await
        .expect("json");
    me["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn oauth(sandbox: &Sandbox, plugins: &tempfile::TempDir, args: &[&str]) {
    let kubeconfig: PathBuf = sandbox.kubeconfig_path("admin").expect("kubeconfig");
    let out = std::process::Command::new(plugins.path().join("kubectl-mcp_oauth"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl-mcp_oauth");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
}

async fn stored_secret(sandbox: &Sandbox) -> String {
    let secrets: Api<Secret> = Api::namespaced(
        sandbox.client_for("admin").await.expect("client"),
        "mcp-server",
    );
    let secret = secrets.get("mcp-oauth-credentials").await.expect("secret");
    let bytes = secret.data.expect("data")["sts_client_secret"].0.clone();
    String::from_utf8(bytes).expect("utf8")
}

#[tokio::test]
async fn a_registered_oauth_client_logs_users_in_and_rotation_keeps_the_old_secret() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let plugins = plugin_dir();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
        Api::all(sandbox.client_for("admin").await.expect("client"));
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "mcp-server"}}))
            .expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");

    oauth(&sandbox, &plugins, &["register", "openshift"]);
    let first = stored_secret(&sandbox).await;
    let token = login(&sandbox, &first)
        .await
        .expect("login with the registered secret");
    assert!(token.starts_with("sha256~"), "an opaque OpenShift token");
    assert_eq!(whoami(&sandbox, &token).await, "member");
    assert_eq!(
        login(&sandbox, "not-the-secret").await,
        Err("unauthorized_client".to_owned())
    );

    oauth(&sandbox, &plugins, &["rotate"]);
    let second = stored_secret(&sandbox).await;
    assert_ne!(first, second, "rotate sets a new secret");
    assert!(
        login(&sandbox, &second).await.is_ok(),
        "the new secret works"
    );
    assert!(
        login(&sandbox, &first).await.is_ok(),
        "the previous secret still works after rotate"
    );
}
