//! The OpenShift OAuth server: an OAuthClient created through the API lets a PKCE
//! authorization-code flow obtain an opaque `sha256~` token the API server accepts.

use crate::common;

use base64::Engine as _;
use common::https;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use sha2::Digest as _;

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn param(resp: &reqwest::Response, name: &str) -> Option<String> {
    let loc = resp.headers().get("location")?.to_str().ok()?;
    let url = reqwest::Url::parse(loc).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one flow with its failure cases
async fn oauth_client_pkce_flow_issues_a_token_the_api_accepts() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let c = https::client(&sb, &[]);
    let meta: Value = c
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            sb.url()
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let (authorize, token) = sb.oauth_endpoints();
    assert_eq!(meta["authorization_endpoint"], authorize.as_str());
    assert_eq!(meta["token_endpoint"], token.as_str());
    assert!(
        meta["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("S256")))
    );

    // The plugin's OAuthClient, created through the API.
    let admin = sb.client_for("admin").await.expect("admin");
    let ar = ApiResource {
        group: "oauth.openshift.io".into(),
        version: "v1".into(),
        api_version: "oauth.openshift.io/v1".into(),
        kind: "OAuthClient".into(),
        plural: "oauthclients".into(),
    };
    let oc: DynamicObject = serde_json::from_value(json!({"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
        "metadata": {"name": "kubernetes-mcp-server"}, "secret": "first-secret", "additionalSecrets": ["rotated-secret"],
        "redirectURIs": ["http://127.0.0.1/callback"], "grantMethod": "auto", "accessTokenMaxAgeSeconds": 3600}))
    .expect("object");
    Api::<DynamicObject>::all_with(admin, &ar)
        .create(&PostParams::default(), &oc)
        .await
        .expect("create OAuthClient");

    let verifier = "0123456789abcdefghijklmnopqrstuvwxyz-verifier-abc";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:45678/callback";
    let auth = |client: &'static str, redirect: &'static str| {
        c.get(format!(
            "{authorize}?{}",
            form(&[
                ("client_id", client),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "user:full"),
                ("state", "xyz"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", "member"),
            ])
        ))
        .send()
    };
    // Unknown client, unregistered redirect URI.
    assert_eq!(
        auth("nope", redirect)
            .await
            .expect("authorize")
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        auth("kubernetes-mcp-server", "https://evil.example.com/callback")
            .await
            .expect("authorize")
            .status()
            .as_u16(),
        400
    );
    let r = auth("kubernetes-mcp-server", redirect)
        .await
        .expect("authorize");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(param(&r, "state").as_deref(), Some("xyz"));
    let code = param(&r, "code").expect("code");
    let exchange = |code: String, secret: &'static str, verifier: &'static str| {
        c.post(&token)
            .basic_auth("kubernetes-mcp-server", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ]))
            .send()
    };
    assert_eq!(
        exchange(code.clone(), "wrong-secret", verifier)
            .await
            .expect("token")
            .status()
            .as_u16(),
        401
    );
    let bad = exchange(
        code.clone(),
        "first-secret",
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await
    .expect("token");
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // A fresh code, exchanged with one of the additionalSecrets.
    let r = auth("kubernetes-mcp-server", redirect)
        .await
        .expect("authorize");
    let code = param(&r, "code").expect("code");
    let t: Value = exchange(code.clone(), "rotated-secret", verifier)
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let access = t["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert!(access.starts_with("sha256~"), "{t}");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["token_type"], "Bearer");
    // Codes are single use.
    assert_eq!(
        exchange(code, "first-secret", verifier)
            .await
            .expect("token")
            .status()
            .as_u16(),
        400
    );

    // The API server accepts the token as the approving user.
    let who: Value = c
        .post(format!(
            "{}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            sb.url()
        ))
        .bearer_auth(&access)
        .header("content-type", "application/json")
        .body(r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert_eq!(who["status"]["userInfo"]["username"], "member");
    // The kubeconfig token stays the user's token.
    let kubeconfig_token = sb.token("member").expect("token");
    assert_ne!(kubeconfig_token, access);
    assert!(
        sb.kubeconfig_for("member")
            .expect("kubeconfig")
            .contains(&kubeconfig_token)
    );
    assert!(
        who["status"]["userInfo"]["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("mcp-users")))
    );

    // OpenShift issues no refresh tokens.
    assert!(t.get("refresh_token").is_none(), "{t}");
    // accessTokenMaxAgeSeconds bounds the token's life.
    let short: DynamicObject = serde_json::from_value(json!({"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
        "metadata": {"name": "short-lived"}, "redirectURIs": ["http://127.0.0.1/callback"], "grantMethod": "auto",
        "accessTokenMaxAgeSeconds": 1}))
    .expect("object");
    Api::<DynamicObject>::all_with(sb.client_for("admin").await.expect("admin"), &ar)
        .create(&PostParams::default(), &short)
        .await
        .expect("create OAuthClient");
    let r = auth("short-lived", redirect).await.expect("authorize");
    let code = param(&r, "code").expect("code");
    let public: Value = c
        .post(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "short-lived"),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ]))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(
        public["expires_in"], 1,
        "a public client (no secret) with PKCE: {public}"
    );
    let short_token = public["access_token"].as_str().expect("token").to_string();
    let status = |tok: String| {
        let c = c.clone();
        let url = format!(
            "{}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            sb.url()
        );
        async move {
            c.post(url)
                .bearer_auth(tok)
                .header("content-type", "application/json")
                .body(r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#)
                .send()
                .await
                .expect("whoami")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(short_token.clone()).await, 201);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(status(short_token).await, 401, "expired");
    // Tokens never reach the audit log.
    let audit = std::fs::read_to_string(sb.audit_path()).expect("audit");
    assert!(!audit.contains(&access));
}
