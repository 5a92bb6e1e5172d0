//! OIDC bearer tokens: the sandbox fetches the issuer's discovery document and JWKS and
//! maps the claims to a user and groups, as kube-apiserver's `--oidc-*` flags do.

use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oc_mcp_sandbox::{OidcConfig, Sandbox, SandboxConfig};
use serde_json::{Value, json};

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// A throwaway issuer on plain http: discovery + JWKS, and the key to sign with.
async fn issuer() -> (String, EncodingKey, tokio::task::JoinHandle<()>) {
    let kp = rcgen::KeyPair::generate().expect("P-256 key");
    let raw = kp.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65]), "kid": "k1", "alg": "ES256", "use": "sig"}]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let disco = Arc::new(
        json!({"issuer": url, "jwks_uri": format!("{url}/jwks"), "id_token_signing_alg_values_supported": ["ES256"]}),
    );
    let jwks = Arc::new(jwks);
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json((*disco).clone()) }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || async move { axum::Json((*jwks).clone()) }),
        );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        url,
        EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).expect("key"),
        task,
    )
}

fn mint(key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    jsonwebtoken::encode(&h, claims, key).expect("sign")
}

async fn whoami(sb: &Sandbox, token: &str) -> (u16, Value) {
    let yaml = sb
        .kubeconfig_for("admin")
        .expect("kubeconfig")
        .replace(&sb.token("admin").expect("token"), token);
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(cfg).expect("client");
    let req = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(kube::client::Body::from(
            br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#.to_vec(),
        ))
        .expect("request");
    let resp = client.send(req).await.expect("sent");
    let code = resp.status().as_u16();
    let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1 << 20)
        .await
        .expect("body");
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_authenticate_with_claims() {
    let (url, key, task) = issuer().await;
    let mut oidc = OidcConfig::new(&url, "sandbox");
    oidc.username_prefix = "oidc:".into();
    let sb = Sandbox::start(SandboxConfig {
        oidc: Some(oidc),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let good = json!({"iss": url, "aud": "sandbox", "sub": "alice", "groups": ["mcp-users"], "exp": now() + 600});
    let (code, v) = whoami(&sb, &mint(&key, &good)).await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["userInfo"]["username"], "oidc:alice");
    assert_eq!(
        v["status"]["userInfo"]["groups"],
        json!(["mcp-users", "system:authenticated"])
    );
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("other");
    assert_eq!(whoami(&sb, &mint(&key, &wrong_aud)).await.0, 401);
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(whoami(&sb, &mint(&key, &expired)).await.0, 401);
    task.abort();
}
