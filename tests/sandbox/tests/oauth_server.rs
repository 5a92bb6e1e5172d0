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

const ROLE_SCOPES: &str = "user:info user:check-access role:reader:*";
const SCOPED_REDIRECT: &str = "http://127.0.0.1:45679/callback";

fn oauth_clients(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "oauth.openshift.io".into(),
        version: "v1".into(),
        api_version: "oauth.openshift.io/v1".into(),
        kind: "OAuthClient".into(),
        plural: "oauthclients".into(),
    };
    Api::<DynamicObject>::all_with(client, &ar)
}

/// A ClusterRole `reader` (pods, Secrets, namespaces; the rules review) and an OAuthClient
/// `mcp` restricted as `oc mcp-oauth register openshift --role reader` restricts it.
async fn restricted_client(sb: &Sandbox) -> reqwest::Client {
    let c = https::client(sb, &[]);
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "secrets", "namespaces"], "verbs": ["get", "list"]},
            // user:check-access covers only OpenShift's rules review, not this one.
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"], "verbs": ["create"]}]});
    let created = c
        .post(format!(
            "{}/apis/rbac.authorization.k8s.io/v1/clusterroles",
            sb.url()
        ))
        .bearer_auth(sb.token("admin").expect("token"))
        .json(&role)
        .send()
        .await
        .expect("create role");
    assert_eq!(created.status().as_u16(), 201);
    let oc: DynamicObject = serde_json::from_value(json!({"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
        "metadata": {"name": "mcp"}, "secret": "s", "redirectURIs": ["http://127.0.0.1/callback"], "grantMethod": "auto",
        "scopeRestrictions": [{"literals": ["user:info", "user:check-access"]},
            {"clusterRole": {"roleNames": ["reader"], "namespaces": ["*"], "allowEscalation": false}}]}))
    .expect("object");
    oauth_clients(sb.client_for("admin").await.expect("admin"))
        .create(&PostParams::default(), &oc)
        .await
        .expect("create OAuthClient");
    c
}

/// `/oauth/authorize` for client `mcp` as `admin`, asking for `scope`.
async fn authorize_scope(c: &reqwest::Client, sb: &Sandbox, scope: &str) -> reqwest::Response {
    let (authorize, _) = sb.oauth_endpoints();
    c.get(format!(
        "{authorize}?{}",
        form(&[
            ("client_id", "mcp"),
            ("redirect_uri", SCOPED_REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "s1"),
            ("login_hint", "admin"),
        ])
    ))
    .send()
    .await
    .expect("authorize")
}

async fn redeem(c: &reqwest::Client, sb: &Sandbox, code: &str) -> reqwest::Response {
    let (_, token) = sb.oauth_endpoints();
    c.post(token)
        .basic_auth("mcp", Some("s"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SCOPED_REDIRECT),
        ]))
        .send()
        .await
        .expect("token")
}

/// A token of `admin` scoped to the `reader` role.
async fn role_token(c: &reqwest::Client, sb: &Sandbox) -> String {
    let code = param(&authorize_scope(c, sb, ROLE_SCOPES).await, "code").expect("code");
    let t: Value = redeem(c, sb, &code).await.json().await.expect("json");
    assert_eq!(t["scope"], ROLE_SCOPES, "{t}");
    t["access_token"].as_str().expect("token").to_owned()
}

/// The client's `scopeRestrictions` decide what a login may ask for, and OpenShift's errors
/// say what was refused; a restriction tightened after the authorize step refuses the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_client_refuses_scopes_it_does_not_name() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let c = restricted_client(&sb).await;
    for (scope, denied) in [
        ("", "scope denied: user:full"),
        ("user:full", "scope denied: user:full"),
        ("user:info role:reader:*:!", "scope denied: role:reader:*:!"),
        ("role:admin:* role:reader:*", "scope denied: role:admin:*"),
    ] {
        let r = authorize_scope(&c, &sb, scope).await;
        assert_eq!(r.status().as_u16(), 302, "{scope}");
        assert_eq!(
            param(&r, "error").as_deref(),
            Some("access_denied"),
            "{scope}"
        );
        assert_eq!(param(&r, "error_description").as_deref(), Some(denied));
        assert_eq!(param(&r, "state").as_deref(), Some("s1"));
        assert!(param(&r, "code").is_none());
    }
    let r = authorize_scope(&c, &sb, "openid").await;
    assert_eq!(param(&r, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(
        param(&r, "error_description").as_deref(),
        Some("[0]: Invalid value: \"openid\": no scope handler found")
    );

    let code = param(&authorize_scope(&c, &sb, ROLE_SCOPES).await, "code").expect("code");
    let clients = oauth_clients(sb.client_for("admin").await.expect("admin"));
    let mut tightened = clients.get("mcp").await.expect("client");
    tightened.data["scopeRestrictions"] = json!([{"literals": ["user:info"]}]);
    clients
        .replace("mcp", &PostParams::default(), &tightened)
        .await
        .expect("replace");
    let late = redeem(&c, &sb, &code).await;
    assert_eq!(late.status().as_u16(), 400);
    let body: Value = late.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
}

/// A `role:` token does only what both the user's RBAC and the role allow, without Secrets,
/// plus discovery and `users/~`; the user's own token keeps every right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_scoped_token_is_limited_to_the_role() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let c = restricted_client(&sb).await;
    let token = role_token(&c, &sb).await;
    let get = |path: &str, tok: &str| {
        let request = c.get(format!("{}{path}", sb.url())).bearer_auth(tok);
        async move {
            let r = request.send().await.expect("get");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, me) = get("/apis/user.openshift.io/v1/users/~", &token).await;
    assert_eq!(
        (status, me["metadata"]["name"].clone()),
        (200, json!("admin"))
    );
    assert_eq!(get("/api/v1/pods", &token).await.0, 200);
    assert_eq!(get("/apis", &token).await.0, 200, "discovery");
    let secrets = "/api/v1/namespaces/default/secrets";
    let (status, body) = get(secrets, &token).await;
    assert_eq!(status, 403, "Secrets are escalating: {body}");
    assert_eq!(
        get("/api/v1/configmaps", &token).await.0,
        403,
        "not in the role"
    );
    let own = sb.token("admin").expect("token");
    assert_eq!(get(secrets, &own).await.0, 200, "the user's own token may");
    let write = c
        .post(format!("{}/api/v1/namespaces/default/configmaps", sb.url()))
        .bearer_auth(&token)
        .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
        .send()
        .await
        .expect("write");
    assert_eq!(write.status().as_u16(), 403);
}

/// Access and rules reviews answer for the scoped token, as its requests are decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_answer_for_the_scoped_token() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let c = restricted_client(&sb).await;
    let token = role_token(&c, &sb).await;
    let review = |body: Value, path: &str| {
        let request = c
            .post(format!("{}{path}", sb.url()))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let r = request.send().await.expect("review");
            assert_eq!(r.status().as_u16(), 201);
            r.json::<Value>().await.expect("json")
        }
    };
    let ssar = |verb: &str, resource: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": "default"}}})
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let yes = review(ssar("list", "pods"), path).await;
    assert_eq!(yes["status"]["allowed"], true, "{yes}");
    let no = review(ssar("create", "configmaps"), path).await;
    assert_eq!(no["status"]["allowed"], false, "{no}");
    assert_eq!(no["status"]["denied"], true);
    assert_eq!(
        no["status"]["reason"],
        format!("scopes [{ROLE_SCOPES}] prevent this action")
    );
    let rules = review(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": "default"}}),
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    )
    .await;
    let resource_rules = rules["status"]["resourceRules"]
        .as_array()
        .expect("rules")
        .clone();
    let grants = |verb: &str, resource: &str| {
        resource_rules.iter().any(|r| {
            r["verbs"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == verb || x == "*"))
                && r["resources"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|x| x == resource || x == "*"))
        })
    };
    assert!(grants("list", "pods"), "{rules}");
    assert!(
        !grants("create", "configmaps") && !grants("get", "secrets"),
        "{rules}"
    );
}
