//! verify with a member's scoped OpenShift token, the kind `oc mcp-client token` gets
//! (`user:info user:check-access role:<role>:*`): the sandbox's scope authorizer refuses such
//! a token a SelfSubjectReview, as OpenShift's does, so verify learns the identity from
//! `users/~` and says so, and the token still proves what members get.

use std::time::Duration;

use crate::support;

use reqwest::Url;
use support::{App, Env, bench::OAUTH_CLIENT as CLIENT};

/// What `Env::oauth_client` registers as the client's secret.
const CLIENT_SECRET: &str = "oauth-client-secret-value";

/// The release deployed and serving, with the OAuthClient `oc mcp-oauth register openshift`
/// creates; returns the client's redirect URI too.
async fn deployed() -> (Env, App, String) {
    let (env, app) = Env::serving(App::default()).await;
    let redirect = env.register_oauth_client(&app).await;
    (env, app, redirect)
}

/// A token for `user` with `scopes` from the sandbox's OpenShift OAuth server: the authorize
/// step (the user named by `login_hint`, as the sandbox's login accepts), then the code
/// redeemed; also the scopes the token endpoint says it carries.
async fn scoped_token(env: &Env, scopes: &str, user: &str, redirect: &str) -> (String, String) {
    let (authorize, token) = env.sb.oauth_endpoints();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(env.sb.ca_pem().as_bytes()).expect("sandbox CA"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let mut url = Url::parse(&authorize).expect("authorize URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scopes)
        .append_pair("login_hint", user);
    let answer = http.get(url).send().await.expect("authorize");
    assert_eq!(answer.status().as_u16(), 302, "authorize: {answer:?}");
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned();
    let code = Url::parse(&location)
        .expect("redirect URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map_or_else(|| panic!("no code in {location}"), |(_, v)| v.into_owned());
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("client_id", CLIENT),
            ("client_secret", CLIENT_SECRET),
        ])
        .finish();
    let answer = http
        .post(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("token");
    assert!(answer.status().is_success(), "token: {answer:?}");
    let body: serde_json::Value = answer.json().await.expect("token JSON");
    let access = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    (
        access,
        body["scope"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_scoped_token_is_judged_through_users_tilde() {
    let (env, app, redirect) = deployed().await;
    let scopes = oc_mcp_common::openshift::mcp_login_scopes(&app.role()).join(" ");
    let (member, scope) = scoped_token(&env, &scopes, "member", &redirect).await;
    assert_eq!(
        scope,
        format!("user:info user:check-access role:{}:*", app.role()),
        "the token carries the MCP login's scopes"
    );
    let tokens = support::bench::Tokens {
        member,
        outsider: env.token("outsider"),
    };
    let out = env.verify_tokens(&app, &tokens, &[]);
    out.assert_passes(&support::bench::MCP_PASSES);
    let json = out.json();
    let identity = &json["target"]["identity"];
    assert_eq!(identity["user"], "member", "{json}");
    // The SelfSubjectReview was refused (scopes), so users/~ answered, and the report says why.
    assert_eq!(identity["source"], "users/~", "{identity}");
    assert!(
        identity["fallback"]
            .as_str()
            .is_some_and(|f| f.contains("may not create a SelfSubjectReview (403)")),
        "{identity}"
    );
    assert!(
        identity["groups"].to_string().contains("mcp-users"),
        "{identity}"
    );
    out.assert_row_contains(
        "passthrough.user",
        &[
            "ran as user member",
            "users/~, because the token may not create a SelfSubjectReview (403)",
            "cannot write: the read is what members get",
        ],
    );
    // The outsider's unscoped token still gets the SelfSubjectReview.
    assert_eq!(
        json["target"]["deniedIdentity"]["source"],
        "SelfSubjectReview"
    );

    // Without user:info neither source answers: the identity is unknown, with both reasons,
    // and the read proves nothing.
    let (blind, scope) = scoped_token(&env, "user:check-access", "member", &redirect).await;
    assert_eq!(scope, "user:check-access");
    let out = env.verify(
        &app,
        &["--token-env", "MEMBER_TOKEN"],
        &[("MEMBER_TOKEN", &blind)],
    );
    out.assert_complete();
    assert!(out.json()["target"]["identity"].is_null(), "{}", out.stdout);
    out.assert_row_contains(
        "passthrough.user",
        &[
            "ran as an unknown identity",
            "SelfSubjectReview",
            "(403); then",
            "users/~",
        ],
    );
    assert_ne!(out.status("passthrough.user"), "pass", "{}", out.summary());
    out.assert_no_secrets(&[&blind]);
}
