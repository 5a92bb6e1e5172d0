//! oidc mode against the sandbox's own issuer, which honours RFC 8707 (`resource` becomes the
//! token's `aud`): a client that logs in by itself, as the MCP spec says, gets a token for the
//! protected-resource metadata's `resource`. With `oauth_audience` set to the client id (what
//! install writes today) `discovery.audience` and `login.pkce` fail and name the fix; with
//! `oauth_audience` equal to the resource both pass, the login's token initializes and calls a
//! tool.

use crate::support;

use std::time::Duration;

use oc_mcp_sandbox::SandboxConfig;
use support::{App, Env, bench::Tokens};

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
    env.trust_oidc("sandbox", &issuer, audience).await;
    let app = App::oidc(&env, &issuer, audience, env.sb.ca_pem(), |_| {});
    env.deploy_serving(&[&app]).await;
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
    let token = |user: &str| {
        env.sb
            .oidc_token(user, Some(audience), Duration::from_secs(3600))
            .expect("token")
    };
    let tokens = Tokens {
        member: token("member"),
        outsider: token("outsider"),
    };
    let script = browser(env);
    env.verify_tokens_env(
        app,
        &tokens,
        &["--login", "--login-hint", "member"],
        &[("BROWSER", &script)],
    )
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
    let fix = out.fix("discovery.audience");
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
    out.assert_row_contains("login.pkce", &["namespaces_list with that token: ok"]);
}
