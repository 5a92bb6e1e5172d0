//! `oc mcp-verify` against the real server in oidc mode: JWTs from an issuer the server
//! validates and the (sandbox) API server trusts. A correct deployment passes every check,
//! with the OAuth discovery documents checked; an expired token is exit 3.

use crate::support;

use oc_mcp_common::server_config::{
    OidcSettings, ServerConfig, ServerVersion, TokenExchangeSettings,
};
use oc_mcp_sandbox::{OidcConfig, SandboxConfig};
use serde_json::json;
use support::{App, Env, oidc::Issuer};

/// The audience a client that follows the MCP spec gets a token for: the protected-resource
/// metadata's `resource`, which is the Route's URL (`App::default()` in the default domain).
const AUDIENCE: &str = "https://kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

/// The issuer, a sandbox that trusts it, and the server deployed in oidc mode behind its Route.
async fn deployed() -> (Issuer, Env, App, std::path::PathBuf) {
    deployed_with(|_| {}).await
}

/// [`deployed`] with an edit of the server's config.
async fn deployed_with(
    edit: impl FnOnce(&mut ServerConfig),
) -> (Issuer, Env, App, std::path::PathBuf) {
    let issuer = Issuer::start().await;
    let mut oidc = OidcConfig::new(&issuer.url, AUDIENCE);
    oidc.ca_pem = Some(issuer.ca_pem.clone());
    let env = Env::start(SandboxConfig {
        oidc: Some(oidc),
        ..SandboxConfig::default()
    })
    .await;
    // What a cluster with external OIDC shows (the sandbox's own seed says IntegratedOAuth).
    let auth: kube::Api<oc_mcp_common::openshift::AuthenticationConfig> =
        kube::Api::all(env.admin().await);
    auth.patch(
        "cluster",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"type": "OIDC", "oidcProviders": [
            {"name": "test-issuer", "issuer": {"issuerURL": issuer.url, "audiences": [AUDIENCE]}}]}})),
    )
    .await
    .expect("authentication config");
    let mut app = App::default();
    let settings = OidcSettings::new(&issuer.url, AUDIENCE)
        .with_scopes(&["openid", "profile", "groups"])
        .with_route_host(app.host(env.sb.apps_domain()));
    let mut config = ServerConfig::oidc::<&str>(&settings, &[]);
    config.certificate_authority = Some("/etc/mcp-issuer-ca/ca.crt".into());
    edit(&mut config);
    app.config = config.to_toml_string();
    app.extra_files.push((
        "/etc/mcp-issuer-ca".into(),
        "mcp-issuer-ca".into(),
        "ca.crt".into(),
        issuer.ca_pem.clone(),
    ));
    env.deploy(&app).await;
    env.wait_ready(&app).await;
    env.wait_route(&app).await;
    env.wait_serving(&app).await;
    // The verifier trusts the router's CA and the issuer's.
    let bundle = env.dir.path().join("cas.pem");
    std::fs::write(&bundle, format!("{}{}", env.sb.ca_pem(), issuer.ca_pem)).expect("bundle");
    (issuer, env, app, bundle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_oidc_deployment_passes_every_check() {
    let (issuer, env, app, bundle) = deployed().await;
    let alice = issuer.mint("alice", &["mcp-users"], AUDIENCE, 3600);
    let mallory = issuer.mint("mallory", &[], AUDIENCE, 3600);
    let out = env.verify(
        &app,
        &[
            "--endpoint-ca",
            bundle.to_str().expect("path"),
            "--token-env",
            "ALICE",
            "--denied-token-env",
            "MALLORY",
        ],
        &[("ALICE", &alice), ("MALLORY", &mallory)],
    );
    out.assert_complete();
    assert_eq!(out.code, Some(0), "{}\n{}", out.summary(), out.stderr);
    out.assert_only_failures(&[]);
    for id in [
        "config.lint",
        "config.auth-mode",
        "discovery.audience",
        "route.server-url",
        "endpoint.tls",
        "unauth.no-token",
        "unauth.garbage-token",
        "discovery.protected-resource",
        "discovery.authorization-server",
        "mcp.initialize",
        "mcp.tools",
        "passthrough.user",
        "passthrough.denied",
    ] {
        out.assert_status(id, "pass");
    }
    // The issuer's client is registered with the issuer, not as an OpenShift OAuthClient.
    out.assert_status("route.oauth-redirect", "skip");
    let json = out.json();
    assert_eq!(json["target"]["authMode"], "oidc");
    let no_token = out.row("unauth.no-token").to_string();
    assert!(
        no_token.contains(&format!("audience=\\\"{AUDIENCE}\\\"")),
        "{no_token}"
    );
    let garbage = out.row("unauth.garbage-token").to_string();
    assert!(garbage.contains("invalid_token"), "{garbage}");
    let prm = out.row("discovery.protected-resource").to_string();
    assert!(
        prm.contains(&format!("https://{}", app.host(env.sb.apps_domain())))
            && prm.contains(&issuer.url),
        "{prm}"
    );
    let as_row = out.row("discovery.authorization-server").to_string();
    assert!(
        as_row.contains(&format!("issuer {}", issuer.url)),
        "{as_row}"
    );
    out.assert_no_secrets(&[&alice, &mallory]);

    // An expired token: the server answers 401, the run exits 3.
    let expired = issuer.mint("alice", &["mcp-users"], AUDIENCE, -600);
    let out = env.verify(
        &app,
        &[
            "--endpoint-ca",
            bundle.to_str().expect("path"),
            "--token-stdin",
        ],
        &[],
    );
    assert_eq!(out.code, Some(2), "no token on stdin is a usage error");
    let out = env.verify_stdin(
        &app,
        &[
            "--endpoint-ca",
            bundle.to_str().expect("path"),
            "--token-stdin",
        ],
        &[],
        Some(&expired),
    );
    out.assert_complete();
    assert_eq!(out.code, Some(3), "{}", out.summary());
    out.assert_status("mcp.initialize", "fail");
    let init = out.row("mcp.initialize").to_string();
    assert!(init.contains("invalid_token"), "{init}");
    out.assert_no_secrets(&[&expired]);

    // Without a token flag, the kubeconfig's opaque token is no use in oidc mode: the
    // authenticated checks are skipped with the reason, and nothing fails.
    let out = env.verify(
        &app,
        &["--endpoint-ca", bundle.to_str().expect("path")],
        &[],
    );
    out.assert_complete();
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_status("mcp.initialize", "skip");
    let why = out.row("mcp.initialize")["fix"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(why.contains("wants a JWT"), "{why}");
}

/// The token-exchange client secret written into the ConfigMap (the guide's
/// mistake): config.secrets fails, naming the key and never the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_configmap_fails_config_secrets() {
    const SECRET: &str = "s3cr3t-in-a-configmap-value";
    let (_issuer, env, app, bundle) = deployed_with(|c| {
        let settings =
            TokenExchangeSettings::entra_obo("mcp-client", &["api://kubernetes/.default"]);
        *c = c
            .clone()
            .with_token_exchange(&settings, ServerVersion::TESTED);
        if let Some(auth) = c
            .token_exchange
            .as_mut()
            .and_then(|t| t.client_auth.as_mut())
        {
            auth.client_secret = Some(SECRET.into());
        }
    })
    .await;
    let out = env.verify(
        &app,
        &[
            "--endpoint-ca",
            bundle.to_str().expect("path"),
            "--only",
            "cluster,logs,config,route",
        ],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("config.secrets", "fail");
    let row = out.row("config.secrets").to_string();
    assert!(
        row.contains("token_exchange.client_auth.client_secret"),
        "{row}"
    );
    out.assert_only_failures(&["config.secrets"]);
    out.assert_status("logs.startup", "pass");
    out.assert_no_secrets(&[SECRET]);
}
