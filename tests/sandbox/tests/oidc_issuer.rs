//! The sandbox's own OIDC issuer: discovery, JWKS, PKCE authorization code flow without a
//! prompt, refresh and client_credentials grants; the API server trusting it or not; and the
//! real kubernetes-mcp-server validating its JWTs end to end through a Route.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use common::https;
use common::mcp::{self, McpApp};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use sha2::Digest as _;

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("claims")
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The query parameters of a redirect's Location.
fn location_params(resp: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect");
    let url = reqwest::Url::parse(loc).expect("location URL");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn whoami(sb: &Sandbox, token: &str) -> (u16, Value) {
    let c = https::client(sb, &[]);
    let r = c
        .post(format!(
            "{}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            sb.url()
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#)
        .send()
        .await
        .expect("whoami");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one flow, step by step
async fn issuer_pkce_refresh_client_credentials_and_trust() {
    let dir = tempfile::tempdir().expect("dir");
    let sb = Sandbox::start(SandboxConfig {
        dir: Some(dir.path().to_path_buf()),
        trust_issuer: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let issuer = sb.issuer_url().to_string();
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("issuer"))
            .expect("DIR/issuer")
            .trim(),
        issuer
    );
    let c = https::client(&sb, &[]);
    // The cluster says so, as OpenShift's direct external OIDC does.
    let auth: Value = c
        .get(format!(
            "{}/apis/config.openshift.io/v1/authentications/cluster",
            sb.url()
        ))
        .bearer_auth(sb.token("admin").expect("token"))
        .send()
        .await
        .expect("authentication")
        .json()
        .await
        .expect("json");
    assert_eq!(auth["spec"]["type"], "OIDC", "{auth}");
    assert_eq!(
        auth["spec"]["oidcProviders"][0]["issuer"]["issuerURL"],
        issuer.as_str()
    );
    assert_eq!(
        auth["spec"]["oidcProviders"][0]["issuer"]["audiences"],
        json!(["mcp-server"])
    );
    let disco: Value = c
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(disco["issuer"], issuer.as_str());
    assert_eq!(disco["code_challenge_methods_supported"][0], "S256");
    let jwks: Value = c
        .get(disco["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");

    // PKCE authorization code flow, approved without a prompt for the hinted user.
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:38123/callback";
    let auth = c
        .get(format!(
            "{}?{}",
            disco["authorization_endpoint"].as_str().expect("authorize"),
            form(&[
                ("response_type", "code"),
                ("client_id", "oc-mcp-client"),
                ("redirect_uri", redirect),
                ("scope", "openid groups"),
                ("state", "st-1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", "member"),
            ])
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(auth.status().as_u16(), 302);
    let params = location_params(&auth);
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    let code = params.get("code").expect("code").clone();
    let token_url = disco["token_endpoint"].as_str().expect("token").to_string();
    let bad = c
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "oc-mcp-client"),
            ("redirect_uri", redirect),
            ("code_verifier", "wrong"),
        ]))
        .send()
        .await
        .expect("token");
    assert_eq!(bad.status().as_u16(), 400);
    // The code was spent by the failed attempt (one use only); get a new one.
    let auth = c
        .get(format!(
            "{}?{}",
            disco["authorization_endpoint"].as_str().expect("authorize"),
            form(&[
                ("response_type", "code"),
                ("client_id", "oc-mcp-client"),
                ("redirect_uri", redirect),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", "member"),
            ])
        ))
        .send()
        .await
        .expect("authorize");
    let code = location_params(&auth).get("code").expect("code").clone();
    let tok: Value = c
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "oc-mcp-client"),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ]))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let at = tok["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let cl = claims(&at);
    assert_eq!(cl["iss"], issuer.as_str());
    assert_eq!(cl["sub"], "member");
    assert_eq!(cl["preferred_username"], "member");
    assert_eq!(cl["aud"], "mcp-server");
    assert_eq!(cl["groups"], json!(["mcp-users"]));
    assert!(cl["exp"].as_i64() > cl["iat"].as_i64());
    assert_eq!(
        claims(tok["id_token"].as_str().expect("id_token"))["aud"],
        "oc-mcp-client"
    );

    // The API server trusts the issuer: the JWT authenticates as member.
    let (code, who) = whoami(&sb, &at).await;
    assert_eq!(code, 201, "{who}");
    assert_eq!(who["status"]["userInfo"]["username"], "member");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!(["mcp-users", "system:authenticated"])
    );

    // refresh_token grant.
    let refreshed: Value = c
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tok["refresh_token"].as_str().expect("refresh"),
            ),
            ("client_id", "oc-mcp-client"),
        ]))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    assert_eq!(
        claims(refreshed["access_token"].as_str().expect("at"))["sub"],
        "member"
    );

    // client_credentials needs a registered confidential client.
    let cc = |secret: &'static str| {
        c.post(&token_url)
            .basic_auth("ci-bot", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("grant_type", "client_credentials")]))
            .send()
    };
    assert_eq!(cc("s3cret").await.expect("cc").status().as_u16(), 401);
    sb.add_oidc_client("ci-bot", Some("s3cret"), &[]);
    assert_eq!(cc("nope").await.expect("cc").status().as_u16(), 401);
    let t: Value = cc("s3cret").await.expect("cc").json().await.expect("json");
    assert_eq!(
        claims(t["access_token"].as_str().expect("at"))["sub"],
        "ci-bot"
    );

    // Library minting; expired and foreign-audience tokens are refused by the API server.
    let minted = sb
        .oidc_token("outsider", None, Duration::from_secs(600))
        .expect("mint");
    assert_eq!(
        whoami(&sb, &minted).await.1["status"]["userInfo"]["username"],
        "outsider"
    );
    let other_aud = sb
        .oidc_token("member", Some("another-app"), Duration::from_secs(600))
        .expect("mint");
    assert_eq!(whoami(&sb, &other_aud).await.0, 401);
    assert!(
        sb.oidc_token("nobody", None, Duration::from_secs(60))
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_cluster_does_not_trust_the_issuer() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let jwt = sb
        .oidc_token("member", None, Duration::from_secs(600))
        .expect("mint");
    assert_eq!(whoami(&sb, &jwt).await.0, 401);
    let auth = sb.with_store(|s| {
        s.list("config.openshift.io/authentications", None)
            .first()
            .map(|(_, a)| a["spec"]["type"].clone())
    });
    assert_eq!(auth, Some(json!("IntegratedOAuth")));
    let opaque = sb.token("member").expect("token");
    assert_eq!(whoami(&sb, &opaque).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_validates_sandbox_issuer_jwts() {
    let sb = Sandbox::start(SandboxConfig {
        trust_issuer: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    // authorization_url = the sandbox issuer, its CA from kube-root-ca.crt.
    let app = McpApp::oidc(&sb);
    assert!(app.config.contains(sb.issuer_url()));
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    mcp::wait_ready_pod(&admin, &app).await;
    let host = app.host(sb.apps_domain());
    common::wait_for(
        || async { sb.resolve(&host) },
        Duration::from_secs(20),
        "the Route",
    )
    .await;
    let c = https::client(&sb, &[&host]);
    let url = format!("{}/mcp", sb.route_url(&host));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    let (code, _, _) = https::post(&c, &url, None, None, &init).await;
    assert_eq!(code, 401);
    // An opaque OpenShift token is not a JWT of the configured issuer.
    let opaque = sb.token("member").expect("token");
    let (code, headers, _) = https::post(&c, &url, Some(&opaque), None, &init).await;
    assert_eq!(code, 401);
    assert!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("invalid_token"))
    );
    let member = sb
        .oidc_token("member", None, Duration::from_secs(600))
        .expect("mint");
    let ns = https::call_tool(&c, &url, &member, "namespaces_list", &json!({})).await;
    assert_ne!(ns["isError"], true, "{ns}");
    assert!(https::text(&ns).contains("mcp-server"), "{ns}");
    let outsider = sb
        .oidc_token("outsider", None, Duration::from_secs(600))
        .expect("mint");
    let denied = https::call_tool(&c, &url, &outsider, "namespaces_list", &json!({})).await;
    assert_eq!(denied["isError"], true, "{denied}");
    assert!(https::text(&denied).contains("forbidden"), "{denied}");
    // The server's OAuth metadata points at the sandbox issuer.
    let prm: Value = c
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            sb.route_url(&host)
        ))
        .send()
        .await
        .expect("prm")
        .json()
        .await
        .expect("json");
    assert!(prm["authorization_servers"].is_array(), "{prm}");
    // The resource is server_url, the route's URL (the plugins set it too; without it the
    // server would name the Host it receives: the pod's address here, the route host on a
    // cluster, over plain http either way).
    assert_eq!(
        prm["resource"],
        format!("{}/mcp", sb.route_url(&host)),
        "{prm}"
    );
    let audit = sb.audit();
    assert!(audit.iter().any(|e| e.user == "member"
        && e.resource == "namespaces"
        && e.code == 200
        && e.user_agent.starts_with("kubernetes-mcp-server")));
}
