//! oidc mode against the sandbox's own issuer, which honours RFC 8707 (`resource` becomes the
//! token's `aud`): a client that logs in by itself, as the MCP spec says, gets a token for the
//! protected-resource metadata's `resource`. With `oauth_audience` set to the client id (what
//! install writes today) `discovery.audience` and `login.pkce` fail and name the fix; with
//! `oauth_audience` equal to the resource both pass, the login's token initializes and calls a
//! tool.

use crate::support;

use std::time::Duration;

use oc_mcp_common::server_config::{OidcSettings, ServerConfig};
use oc_mcp_sandbox::SandboxConfig;
use serde_json::json;
use support::{App, Env};

/// A sandbox whose API server trusts its issuer for `audience`, and the server in oidc mode
/// expecting `audience`.
async fn deployed(audience: &str) -> (Env, App) {
    let env = Env::start(SandboxConfig {
        trust_issuer: true,
        oidc_audience: audience.into(),
        ..SandboxConfig::default()
    })
    .await;
    let issuer = env.sb.issuer_url().to_owned();
    let auth: kube::Api<oc_mcp_common::openshift::AuthenticationConfig> =
        kube::Api::all(env.admin().await);
    auth.patch(
        "cluster",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"type": "OIDC", "oidcProviders": [
            {"name": "sandbox", "issuer": {"issuerURL": issuer, "audiences": [audience]}}]}})),
    )
    .await
    .expect("authentication config");
    let mut app = App::default();
    let settings = OidcSettings::new(&issuer, audience)
        .with_scopes(&["openid", "profile", "groups"])
        .with_route_host(app.host(env.sb.apps_domain()));
    let mut config = ServerConfig::oidc::<&str>(&settings, &[]);
    config.certificate_authority = Some("/etc/mcp-issuer-ca/ca.crt".into());
    app.config = config.to_toml_string();
    app.extra_files.push((
        "/etc/mcp-issuer-ca".into(),
        "mcp-issuer-ca".into(),
        "ca.crt".into(),
        env.sb.ca_pem().to_owned(),
    ));
    env.deploy(&app).await;
    env.wait_ready(&app).await;
    env.wait_route(&app).await;
    env.wait_serving(&app).await;
    (env, app)
}

/// A headless browser: follows the issuer's redirects back to the loopback listener.
fn browser(env: &Env) -> String {
    let path = env.dir.path().join("browser.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nexec curl -sS -L --max-redirs 5 --cacert '{}' -o /dev/null \"$1\"\n",
            env.ca.display()
        ),
    )
    .expect("browser script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    path.display().to_string()
}

fn run(env: &Env, app: &App, audience: &str) -> support::Outcome {
    let member = env
        .sb
        .oidc_token("member", Some(audience), Duration::from_secs(3600))
        .expect("token");
    let outsider = env
        .sb
        .oidc_token("outsider", Some(audience), Duration::from_secs(3600))
        .expect("token");
    let script = browser(env);
    let out = env.verify(
        app,
        &[
            "--token-env",
            "MEMBER_TOKEN",
            "--denied-token-env",
            "OUTSIDER_TOKEN",
            "--login",
            "--login-hint",
            "member",
        ],
        &[
            ("MEMBER_TOKEN", &member),
            ("OUTSIDER_TOKEN", &outsider),
            ("BROWSER", &script),
        ],
    );
    out.assert_complete();
    out.assert_no_secrets(&[&member, &outsider]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_following_login_fails_today_and_passes_with_the_resource_as_audience() {
    // Today: oauth_audience is the client id.
    let (env, app) = deployed("mcp-server").await;
    let out = run(&env, &app, "mcp-server");
    assert_eq!(out.code, Some(1), "{}\n{}", out.summary(), out.stderr);
    out.assert_status("discovery.audience", "fail");
    out.assert_status("login.pkce", "fail");
    out.assert_only_failures(&["discovery.audience", "login.pkce"]);
    let fix = out.row("discovery.audience")["fix"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let resource = fix
        .strip_prefix("oc mcp-install --audience ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no --audience in the fix: {fix}"))
        .to_owned();
    let host = app.host(env.sb.apps_domain());
    assert!(
        resource.starts_with(&format!("https://{host}")),
        "{resource}"
    );
    let login = out.row("login.pkce").to_string();
    assert!(
        login.contains(&format!("token aud {resource}")) && login.contains("401"),
        "{login}"
    );
    drop(env);

    // The fix: the audience is the resource clients ask for (and the cluster accepts it).
    let (env, app) = deployed(&resource).await;
    let out = run(&env, &app, &resource);
    assert_eq!(out.code, Some(0), "{}\n{}", out.summary(), out.stderr);
    out.assert_status("discovery.audience", "pass");
    out.assert_status("login.pkce", "pass");
    let login = out.row("login.pkce").to_string();
    assert!(
        login.contains("namespaces_list with that token: ok"),
        "{login}"
    );
}
