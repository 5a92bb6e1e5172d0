//! `token` and `logout` run as the real binary: the kubeconfig token against the sandbox
//! (static and exec-plugin users), the PKCE login against a local issuer with an HTTP driver
//! in place of the browser (cache 0600, refresh after expiry, --stored-only, logout), and the
//! OpenShift OAuth server flow with an OAuthClient.

// Story tests read top to bottom; splitting them would hide the order.
#![allow(clippy::too_many_lines)]

use crate::common;

use base64::Engine as _;
use common::{
    LIMIT, Running, bin, browse, files_containing, idp, ok, run, sandbox_member, stderr, stdout,
};

/// `--kubeconfig kubeconfig token --auth openshift`
fn openshift_token(home: &std::path::Path, kubeconfig: &std::path::Path) -> std::process::Command {
    let mut cmd = bin(home);
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["token", "--auth", "openshift"]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn openshift_mode_prints_the_kubeconfig_users_token() {
    let (sb, home, token) = sandbox_member().await;
    let kubeconfig = sb.kubeconfig_path("member").expect("kubeconfig");

    let cmd = openshift_token(home.path(), &kubeconfig);
    let out = ok(&run(cmd, LIMIT));
    assert_eq!(out, format!("{token}\n"));

    // Without --auth the mode comes from the server's ConfigMap; there is none here, so the
    // plugin says so and takes the openshift default.
    let mut cmd = bin(home.path());
    cmd.arg("--kubeconfig").arg(&kubeconfig).arg("token");
    let result = run(cmd, LIMIT);
    assert_eq!(ok(&result), format!("{token}\n"));
    assert!(
        stderr(&result).contains("assuming openshift"),
        "{}",
        stderr(&result)
    );
    assert!(!stderr(&result).contains(&token));

    for (format, expected) in [
        ("header", format!("Authorization: Bearer {token}\n")),
        (
            "headers-json",
            format!(
                "{}\n",
                serde_json::json!({"Authorization": format!("Bearer {token}")})
            ),
        ),
    ] {
        let mut cmd = bin(home.path());
        cmd.arg("--kubeconfig").arg(&kubeconfig).args([
            "token",
            "--auth",
            "openshift",
            "--format",
            format,
        ]);
        assert_eq!(ok(&run(cmd, LIMIT)), expected);
    }
    assert!(
        files_containing(home.path(), &token).is_empty(),
        "the token was written somewhere"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_credential_plugins_are_run_like_kubectl_does() {
    let (sb, home, token) = sandbox_member().await;
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    });
    let script = home.path().join("credential.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat <<'EOF'\n{credential}\nEOF\n"),
    )
    .expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let ca = base64::engine::general_purpose::STANDARD.encode(sb.ca_pem());
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sb\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n- name: sb\n  context:\n    cluster: sb\n    user: exec\ncurrent-context: sb\nusers:\n- name: exec\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            sb.url(),
            script.display()
        ),
    )
    .expect("kubeconfig");
    let cmd = openshift_token(home.path(), &kubeconfig);
    assert_eq!(ok(&run(cmd, LIMIT)), format!("{token}\n"));

    // A user with a client certificate has no bearer token to give.
    let cert_kubeconfig = home.path().join("cert-kubeconfig");
    std::fs::write(
        &cert_kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sb\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n- name: sb\n  context:\n    cluster: sb\n    user: nobody\ncurrent-context: sb\nusers:\n- name: nobody\n  user: {{}}\n",
            sb.url()
        ),
    )
    .expect("kubeconfig");
    let cmd = openshift_token(home.path(), &cert_kubeconfig);
    let out = run(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("no bearer token"), "{}", stderr(&out));
}

fn login_cmd(
    home: &std::path::Path,
    issuer: &str,
    cache: &std::path::Path,
) -> std::process::Command {
    let mut cmd = bin(home);
    cmd.args([
        "token",
        "--no-browser",
        "--issuer",
        issuer,
        "--client-id",
        "mcp-cli",
    ])
    .args(["--scope", "openid,profile"])
    .arg("--cache-dir")
    .arg(cache)
    .args(["--login-timeout", "30s"]);
    cmd
}

/// Run a login to the end with the HTTP driver; the token printed.
/// [`login_cmd`] that may use only the cache or a refresh.
fn stored_only(
    home: &std::path::Path,
    issuer: &str,
    cache: &std::path::Path,
) -> std::process::Command {
    let mut cmd = login_cmd(home, issuer, cache);
    cmd.arg("--stored-only");
    cmd
}

/// A login at an issuer whose tokens live 30 s, inside the 60 s refresh margin: the issuer,
/// the home, the cache directory and the token.
async fn short_lived_login() -> (idp::Idp, tempfile::TempDir, std::path::PathBuf, String) {
    let mut config = idp::Config::oidc("mcp-cli");
    config.expires_in = 30;
    let idp = idp::Idp::start(config).await;
    let home = tempfile::tempdir().expect("home");
    let cache = home.path().join("cache");
    let (first, _) = login(login_cmd(home.path(), &idp.url, &cache)).await;
    (idp, home, cache, first)
}

async fn login(cmd: std::process::Command) -> (String, String) {
    let mut running = Running::spawn(cmd);
    let url = running.login_url(LIMIT);
    let (status, _) = browse(&url).await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "the listener took the code"
    );
    let (code, out, err) = running.finish(LIMIT);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    (out, err)
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims")
}

#[tokio::test(flavor = "multi_thread")]
async fn pkce_login_is_cached_privately_and_reused() {
    let idp = idp::Idp::start(idp::Config::oidc("mcp-cli")).await;
    let home = tempfile::tempdir().expect("home");
    let cache = home.path().join("cache");

    let (out, err) = login(login_cmd(home.path(), &idp.url, &cache)).await;
    let token = out.trim().to_owned();
    assert_eq!(claims(&token)["aud"], "mcp-cli");
    {
        let seen = idp.seen();
        assert_eq!(seen.code_grants, 1);
        assert!(seen.rejected.is_empty(), "{:?}", seen.rejected);
        let q = &seen.authorize_requests[0];
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["client_id"], "mcp-cli");
        // offline_access is added for a refresh token.
        assert_eq!(q["scope"], "openid profile offline_access");
        assert!(q.contains_key("nonce"));
        assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
        assert!(seen.issued.contains(&token));
    }
    assert!(err.contains("To log in, open this URL"), "{err}");
    assert!(!err.contains(&token), "the token is only on stdout");

    // The cache: one file, owner-only, in a private directory.
    let files: Vec<_> = std::fs::read_dir(cache.join("tokens"))
        .expect("cache dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        assert_eq!(common::mode(&files[0]), 0o600);
        assert_eq!(common::mode(&cache.join("tokens")), 0o700);
    }
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("json");
    assert_eq!(entry["issuer"], idp.url.as_str());
    assert_eq!(entry["clientId"], "mcp-cli");
    assert!(entry["refreshToken"].is_string());

    // Again: from the cache, no browser, no request to the issuer's token endpoint.
    let cmd = stored_only(home.path(), &idp.url, &cache);
    let again = run(cmd, LIMIT);
    assert_eq!(ok(&again), format!("{token}\n"));
    assert!(!stderr(&again).contains("code_challenge"));
    assert_eq!(idp.seen().code_grants, 1);
    assert_eq!(idp.seen().refresh_grants, 0);

    // Other scopes are another login: not served from this cache entry.
    let mut cmd = login_cmd(home.path(), &idp.url, &cache);
    cmd.args(["--scope", "email", "--stored-only"]);
    let other = run(cmd, LIMIT);
    assert_eq!(other.status.code(), Some(3), "{}", stderr(&other));
    assert!(stdout(&other).is_empty());

    // Nothing but the cache holds a token.
    for issued in idp.seen().issued.clone() {
        let holders = files_containing(home.path(), &issued);
        assert!(
            holders.iter().all(|p| p.starts_with(cache.join("tokens"))),
            "a token outside the cache: {holders:?}"
        );
    }

    // --relogin starts over even though the cached token is good.
    let mut cmd = login_cmd(home.path(), &idp.url, &cache);
    cmd.arg("--relogin");
    let (out, _) = login(cmd).await;
    assert_ne!(out.trim(), token);
    assert_eq!(idp.seen().code_grants, 2);

    // logout with the same selection removes exactly that entry; --all removes the rest.
    let mut cmd = bin(home.path());
    cmd.args([
        "logout",
        "--issuer",
        &idp.url,
        "--client-id",
        "mcp-cli",
        "--scope",
        "openid,profile",
    ])
    .arg("--cache-dir")
    .arg(&cache)
    .args(["-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&run(cmd, LIMIT))).expect("json");
    assert_eq!(report["removed"], 1);
    let cmd = stored_only(home.path(), &idp.url, &cache);
    assert_eq!(run(cmd, LIMIT).status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tokens_are_refreshed_and_a_revoked_refresh_token_needs_a_login() {
    // Tokens that live 30 s are inside the 60 s margin at once: every later run refreshes.
    let (idp, home, cache, first) = short_lived_login().await;
    let cmd = stored_only(home.path(), &idp.url, &cache);
    let second = ok(&run(cmd, LIMIT));
    assert_ne!(first, second, "a new token after expiry");
    assert_eq!(idp.seen().refresh_grants, 1);
    assert_eq!(idp.seen().code_grants, 1, "no second login");
    assert!(idp.seen().issued.contains(&second.trim().to_owned()));

    // The refresh token rotated: the cache holds the new one, and it works again.
    let cmd = stored_only(home.path(), &idp.url, &cache);
    let third = ok(&run(cmd, LIMIT));
    assert_ne!(second, third);
    assert_eq!(idp.seen().refresh_grants, 2);

    // Revoked: --stored-only fails with exit 3 and prints no token...
    idp.seen().revoke_refresh_tokens();
    let cmd = stored_only(home.path(), &idp.url, &cache);
    let failed = run(cmd, LIMIT);
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    assert!(stdout(&failed).is_empty());
    assert!(
        stderr(&failed).contains("--stored-only"),
        "{}",
        stderr(&failed)
    );
    // ...and without it the user logs in again.
    // At the most verbose log level, too, tokens and codes stay off stderr.
    let mut cmd = login_cmd(home.path(), &idp.url, &cache);
    cmd.arg("-vvv");
    let (fourth, err) = login(cmd).await;
    assert_ne!(third, fourth);
    assert_eq!(idp.seen().code_grants, 2);
    let mut cmd = login_cmd(home.path(), &idp.url, &cache);
    cmd.args(["-vvv", "--stored-only"]);
    let refreshed = run(cmd, LIMIT);
    let fifth = ok(&refreshed);
    assert_eq!(idp.seen().refresh_grants, 3);
    let logs = format!("{err}\n{}", stderr(&refreshed));
    assert!(logs.contains("refreshed the token"), "-vvv logs: {logs}");
    for secret in idp.seen().issued.iter().chain([&fifth, &fourth]) {
        let secret = secret.trim();
        assert!(!logs.contains(secret), "a token in the -vvv log");
    }
    assert!(
        !logs.contains("code-"),
        "an authorization code in the -vvv log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_spend_the_refresh_token_once() {
    // The first token lives 30 s (inside the refresh margin); the refreshed ones an hour.
    let (idp, home, cache, first) = short_lived_login().await;
    idp.config.lock().expect("lock").expires_in = 3600;

    // Clients start several helpers at once; each wants a token now.
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = login_cmd(home.path(), &idp.url, &cache);
            cmd.arg("--stored-only")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().expect("spawn")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let tokens: Vec<String> = outputs.iter().map(ok).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    assert_ne!(tokens[0], first);
    assert_eq!(idp.seen().refresh_grants, 1, "{:?}", idp.seen().rejected);
    assert!(idp.seen().rejected.is_empty(), "{:?}", idp.seen().rejected);
    let leftovers = files_containing(&cache, "");
    assert!(
        leftovers
            .iter()
            .all(|p| p.extension().is_some_and(|e| e == "json")),
        "no lock or temp file stays behind: {leftovers:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listener_waits_for_its_own_state_and_reports_a_refusal() {
    let idp = idp::Idp::start(idp::Config::oidc("mcp-cli")).await;
    let home = tempfile::tempdir().expect("home");
    let cache = home.path().join("cache");

    let mut running = Running::spawn(login_cmd(home.path(), &idp.url, &cache));
    let url = running.login_url(LIMIT);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = http.get(&url).send().await.expect("authorize");
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    // A forged redirect with another state is turned away; the login goes on.
    let mut forged = reqwest::Url::parse(&location).expect("url");
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let status = http.get(forged).send().await.expect("forged").status();
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let status = http.get(&location).send().await.expect("real").status();
    assert_eq!(status, reqwest::StatusCode::OK);
    let (code, out, err) = running.finish(LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.trim().is_empty());

    // The user refuses: exit 3, the issuer's reason, no token.
    idp.config.lock().expect("lock").deny = Some("access_denied".into());
    let mut cmd = login_cmd(home.path(), &idp.url, &cache);
    cmd.arg("--relogin");
    let mut running = Running::spawn(cmd);
    let url = running.login_url(LIMIT);
    let (status, _) = browse(&url).await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    let (code, out, err) = running.finish(LIMIT);
    assert_eq!(code, Some(3), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("access_denied"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openshift_oauth_server_issues_a_token_for_the_oauth_client() {
    let mut config = idp::Config::openshift("kubernetes-mcp-server");
    config.client_secret = Some("s3cret: with/odd chars".into());
    let idp = idp::Idp::start(config).await;
    let home = tempfile::tempdir().expect("home");
    let cache = home.path().join("cache");
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, idp.kubeconfig("sha256~kubeconfig-token")).expect("kubeconfig");

    let mut cmd = bin(home.path());
    cmd.arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "token",
            "--oauth-client",
            "--no-browser",
            "--client-secret-env",
            "CLIENT_SECRET",
        ])
        .env("CLIENT_SECRET", "s3cret: with/odd chars")
        .arg("--cache-dir")
        .arg(&cache);
    let (out, err) = login(cmd).await;
    let token = out.trim();
    assert!(token.starts_with("sha256~access-"), "{token}");
    assert_ne!(token, "sha256~kubeconfig-token");
    assert!(!err.contains("s3cret"));
    {
        let seen = idp.seen();
        let q = &seen.authorize_requests[0];
        assert_eq!(q["client_id"], "kubernetes-mcp-server");
        // Scoped to the read-only role, never user:full (everything the user may do).
        assert_eq!(
            q["scope"],
            "user:info user:check-access role:mcp-readonly:*"
        );
        assert!(
            !q.contains_key("nonce"),
            "no OIDC nonce for OpenShift OAuth"
        );
        assert_eq!(seen.basic_auth, ["kubernetes-mcp-server"]);
        assert!(seen.rejected.is_empty(), "{:?}", seen.rejected);
    }
    // Cached: the next call needs neither the browser nor the secret.
    let mut cmd = bin(home.path());
    cmd.arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["token", "--oauth-client", "--stored-only"])
        .arg("--cache-dir")
        .arg(&cache);
    assert_eq!(ok(&run(cmd, LIMIT)).trim(), token);
    assert_eq!(
        files_containing(home.path(), "s3cret"),
        Vec::<std::path::PathBuf>::new()
    );
}
