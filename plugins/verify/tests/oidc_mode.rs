//! `oc mcp-verify` against the real server in oidc mode: JWTs from an issuer the server
//! validates and the (sandbox) API server trusts. A correct deployment passes every check,
//! with the OAuth discovery documents checked; an expired token is exit 3.

use crate::support;

use oc_mcp_common::server_config::{ServerConfig, ServerVersion, TokenExchangeSettings};
use oc_mcp_sandbox::{OidcConfig, SandboxConfig};
use support::{App, Env, bench::Tokens, oidc::Issuer};

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
    env.trust_oidc("test-issuer", &issuer.url, AUDIENCE).await;
    let app = App::oidc(&env, &issuer.url, AUDIENCE, &issuer.ca_pem, edit);
    env.deploy_serving(&[&app]).await;
    // The verifier trusts the router's CA and the issuer's.
    let bundle = env.dir.path().join("cas.pem");
    std::fs::write(&bundle, format!("{}{}", env.sb.ca_pem(), issuer.ca_pem)).expect("bundle");
    (issuer, env, app, bundle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_oidc_deployment_passes_every_check() {
    let (issuer, env, app, bundle) = deployed().await;
    // alice is a member, mallory is not.
    let tokens = Tokens {
        member: issuer.mint("alice", &["mcp-users"], AUDIENCE, 3600),
        outsider: issuer.mint("mallory", &[], AUDIENCE, 3600),
    };
    let out = env.verify_tokens(
        &app,
        &tokens,
        &["--endpoint-ca", bundle.to_str().expect("path")],
    );
    out.assert_passes(&support::bench::MCP_PASSES);
    out.assert_passes(&[
        "config.lint",
        "config.auth-mode",
        "discovery.audience",
        "route.server-url",
        "endpoint.tls",
        "unauth.no-token",
        "unauth.garbage-token",
        "discovery.protected-resource",
        "discovery.authorization-server",
    ]);
    // The issuer's client is registered with the issuer, not as an OpenShift OAuthClient.
    out.assert_status("route.oauth-redirect", "skip");
    let json = out.json();
    assert_eq!(json["target"]["authMode"], "oidc");
    out.assert_row_contains(
        "unauth.no-token",
        &[&format!("audience=\\\"{AUDIENCE}\\\"")],
    );
    out.assert_row_contains("unauth.garbage-token", &["invalid_token"]);
    out.assert_row_contains(
        "discovery.protected-resource",
        &[
            &format!("https://{}", app.host(env.sb.apps_domain())),
            &issuer.url,
        ],
    );
    out.assert_row_contains(
        "discovery.authorization-server",
        &[&format!("issuer {}", issuer.url)],
    );

    // An expired token: the server answers 401, the run exits 3.
    let expired = issuer.mint("alice", &["mcp-users"], AUDIENCE, -600);
    let stdin_args = [
        "--endpoint-ca",
        bundle.to_str().expect("path"),
        "--token-stdin",
    ];
    let out = env.verify(&app, &stdin_args, &[]);
    assert_eq!(out.code, Some(2), "no token on stdin is a usage error");
    let out = env.verify_stdin(&app, &stdin_args, &[], Some(&expired));
    out.assert_complete();
    assert_eq!(out.code, Some(3), "{}", out.summary());
    out.assert_status("mcp.initialize", "fail");
    out.assert_row_contains("mcp.initialize", &["invalid_token"]);
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
    let why = out.fix("mcp.initialize");
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
    out.assert_fails_only(
        "config.secrets",
        &["token_exchange.client_auth.client_secret"],
    );
    out.assert_status("logs.startup", "pass");
    out.assert_no_secrets(&[SECRET]);
}
