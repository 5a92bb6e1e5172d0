//! `register openshift`, `rotate`, `secret set` and `status` against the sandbox API server.

use crate::common;

use common::{Cluster, NAMESPACE, Run, assert_stderr_has, ok, stdout};
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::{Api, ResourceExt};
use oc_mcp_common::openshift::OAuthClient;

async fn client_and_secret(cluster: &Cluster) -> (OAuthClient, KubeSecret) {
    let client = cluster.admin_client().await;
    let oauth: Api<OAuthClient> = Api::all(client.clone());
    let secrets: Api<KubeSecret> = Api::namespaced(client, NAMESPACE);
    (
        oauth
            .get("kubernetes-mcp-server")
            .await
            .expect("oauthclient"),
        secrets.get("mcp-oauth-credentials").await.expect("secret"),
    )
}

fn stored_value(secret: &KubeSecret) -> String {
    let bytes = &secret.data.as_ref().expect("data")["sts_client_secret"].0;
    String::from_utf8(bytes.clone()).expect("utf8")
}

#[tokio::test]
async fn register_creates_client_and_secret_and_a_rerun_changes_nothing() {
    let cluster = Cluster::start().await;
    let out = ok(&cluster.run(&["register", "openshift"]));
    assert_eq!(
        out,
        "oauthclient.oauth.openshift.io/kubernetes-mcp-server created\nsecret/mcp-oauth-credentials created\n"
    );
    let (client, secret) = client_and_secret(&cluster).await;
    let value = client.secret.clone().expect("secret set");
    assert_eq!(value.len(), 64, "48 random bytes, URL-safe base64");
    assert!(
        value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(stored_value(&secret), value);
    assert_eq!(
        client.redirect_uris,
        [
            "https://kubernetes-mcp-server-mcp-server.apps.sandbox.example.com/oauth/callback",
            "http://127.0.0.1/oauth/callback",
            "http://localhost/oauth/callback"
        ]
    );
    assert_eq!(client.grant_method.as_deref(), Some("auto"));
    // Logins may ask only for tokens scoped to the read-only role, never user:full.
    assert_eq!(
        client.scope_restrictions,
        oc_mcp_common::openshift::mcp_scope_restrictions("mcp-readonly")
    );
    assert_eq!(
        client
            .labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("oc-mcp")
    );
    assert!(
        client
            .managed_fields()
            .iter()
            .any(|m| m.manager.as_deref() == Some("oc-mcp"))
    );

    // A re-run keeps the secret and writes nothing new.
    let out = ok(&cluster.run(&["register", "openshift"]));
    assert_eq!(
        out,
        "oauthclient.oauth.openshift.io/kubernetes-mcp-server unchanged\nsecret/mcp-oauth-credentials unchanged\n"
    );
    let (again, secret_again) = client_and_secret(&cluster).await;
    assert_eq!(again.resource_version(), client.resource_version());
    assert_eq!(secret_again.resource_version(), secret.resource_version());
    assert_eq!(again.secret, client.secret);
}

#[tokio::test]
async fn rotate_keeps_the_old_secret_in_additional_secrets_until_dropped() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["register", "openshift"]));
    let (before, _) = client_and_secret(&cluster).await;
    let old = before.secret.clone().expect("secret");

    let out = ok(&cluster.run(&["rotate"]));
    assert_eq!(
        out,
        "oauthclient.oauth.openshift.io/kubernetes-mcp-server configured\nsecret/mcp-oauth-credentials configured\n"
    );
    let (after, secret) = client_and_secret(&cluster).await;
    let new = after.secret.clone().expect("secret");
    assert_ne!(new, old);
    assert_eq!(new.len(), 64);
    assert_eq!(after.additional_secrets, vec![old]);
    assert_eq!(stored_value(&secret), new);
    // Everything else stays as registered.
    assert_eq!(after.redirect_uris, before.redirect_uris);
    assert_eq!(after.grant_method, before.grant_method);
    assert_eq!(after.scope_restrictions, before.scope_restrictions);
    assert!(!after.scope_restrictions.is_empty());

    // A second rotation keeps only the one before it.
    ok(&cluster.run(&["rotate", "-o", "json"]));
    let (third, _) = client_and_secret(&cluster).await;
    assert_eq!(third.additional_secrets, vec![new]);

    // Finishing the rotation drops the previous secret and keeps the current one.
    let report: serde_json::Value = serde_json::from_str(&ok(&cluster.run(&[
        "rotate",
        "--drop-previous",
        "-o",
        "json",
    ])))
    .expect("json");
    assert_eq!(report["secret"]["origin"], "unchanged");
    assert_eq!(report["previousSecrets"], 0);
    let (done, secret) = client_and_secret(&cluster).await;
    assert!(done.additional_secrets.is_empty());
    assert_eq!(done.secret, third.secret);
    assert_eq!(Some(stored_value(&secret)), third.secret);

    // A re-run of register keeps the rotated secret.
    ok(&cluster.run(&["register", "openshift"]));
    let (again, _) = client_and_secret(&cluster).await;
    assert_eq!(again.secret, third.secret);

    // Another read-only role: the restriction names it instead.
    ok(&cluster.run(&["register", "openshift", "--role", "mcp-minimal"]));
    let (other, _) = client_and_secret(&cluster).await;
    assert_eq!(
        other.scope_restrictions,
        oc_mcp_common::openshift::mcp_scope_restrictions("mcp-minimal")
    );
    // A name that would widen the scope (`*`, `:!`) is refused before anything is written.
    let bad = cluster.run(&["register", "openshift", "--role", "*"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role"));
    let (unchanged, _) = client_and_secret(&cluster).await;
    assert_eq!(unchanged.scope_restrictions, other.scope_restrictions);
}

#[tokio::test]
async fn client_dry_run_redacts_and_server_dry_run_stores_nothing() {
    let cluster = Cluster::start().await;
    for format in ["yaml", "json"] {
        let out = ok(&cluster.run(&["register", "openshift", "--dry-run=client", "-o", format]));
        assert!(out.contains("<redacted>"), "{out}");
        assert!(
            out.contains("kind: OAuthClient") || out.contains("\"kind\": \"OAuthClient\""),
            "{out}"
        );
        assert!(out.contains("sts_client_secret"), "{out}");
    }
    let out = ok(&cluster.run(&["register", "openshift", "--dry-run=client"]));
    assert_eq!(
        out,
        "oauthclient.oauth.openshift.io/kubernetes-mcp-server (dry run)\nsecret/mcp-oauth-credentials (dry run)\n"
    );
    let out = ok(&cluster.run(&["register", "openshift", "--dry-run=server"]));
    assert_eq!(
        out,
        "oauthclient.oauth.openshift.io/kubernetes-mcp-server created (server dry run)\nsecret/mcp-oauth-credentials created (server dry run)\n"
    );
    let audit = cluster.sandbox.audit();
    assert!(
        audit
            .iter()
            .any(|e| e.dry_run && e.method == "PATCH" && e.resource == "oauthclients")
    );
    let writes: Vec<_> = audit
        .iter()
        .filter(|e| e.method == "PATCH" && !e.dry_run)
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let api: Api<OAuthClient> = Api::all(cluster.admin_client().await);
    assert!(
        api.get_opt("kubernetes-mcp-server")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn secret_set_reads_stdin_env_or_file_and_warns_about_a_different_oauth_client() {
    let cluster = Cluster::start().await;
    let out = cluster.run_with(
        &["secret", "set", "--from-stdin"],
        &Run {
            stdin: Some(b"entra-portal-secret-1\n"),
            ..Run::default()
        },
    );
    assert_eq!(ok(&out), "secret/mcp-oauth-credentials created\n");
    let secrets: Api<KubeSecret> = Api::namespaced(cluster.admin_client().await, NAMESPACE);
    let value = |s: &KubeSecret| stored_value(s);
    assert_eq!(
        value(&secrets.get("mcp-oauth-credentials").await.expect("secret")),
        "entra-portal-secret-1"
    );

    let out = cluster.run_with(
        &["secret", "set", "--from-env", "MY_CLIENT_SECRET"],
        &Run {
            env: vec![("MY_CLIENT_SECRET", "entra-portal-secret-2".into())],
            ..Run::default()
        },
    );
    assert_eq!(ok(&out), "secret/mcp-oauth-credentials configured\n");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, "entra-portal-secret-3\n").expect("write");
    let out = cluster.run(&["secret", "set", "--from-file", file.to_str().expect("utf8")]);
    ok(&out);
    assert_eq!(
        value(&secrets.get("mcp-oauth-credentials").await.expect("secret")),
        "entra-portal-secret-3"
    );
    // Same value again: nothing changes.
    let out = cluster.run(&["secret", "set", "--from-file", file.to_str().expect("utf8")]);
    assert_eq!(ok(&out), "secret/mcp-oauth-credentials unchanged\n");

    // register openshift takes the stored secret for a new OAuthClient...
    let report: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["register", "openshift", "-o", "json"])))
            .expect("json");
    assert_eq!(report["secret"]["origin"], "kept-from-secret");
    let (client, _) = client_and_secret(&cluster).await;
    assert_eq!(client.secret.as_deref(), Some("entra-portal-secret-3"));
    // ...and `secret set` with another value says the OAuthClient will reject it.
    let out = cluster.run_with(
        &["secret", "set", "--from-stdin"],
        &Run {
            stdin: Some(b"something-else"),
            ..Run::default()
        },
    );
    ok(&out);
    assert_stderr_has(&out, "has a different secret");
}

#[tokio::test]
async fn status_and_redirect_sync_follow_the_real_route() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    let cluster = Cluster::start().await;
    ok(&cluster.run(&["register", "openshift"]));
    let status: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["status", "-o", "json"]))).expect("json");
    assert_eq!(status["oauthClient"]["present"], true);
    assert_eq!(status["oauthClient"]["managedByOcMcp"], true);
    assert_eq!(status["secret"]["present"], true);
    assert_eq!(status["secret"]["matchesOauthClient"], true);
    assert!(status.get("route").is_none(), "{status}");
    assert!(
        !stdout(&cluster.run(&["status", "-o", "json"]))
            .contains(&client_and_secret(&cluster).await.0.secret.expect("secret"))
    );

    // The chart's Ingress became a Route with a random suffix and its own host.
    let mut route = common::service_route(
        "kubernetes-mcp-server-x7k2p",
        "mcp.apps.sandbox.example.com",
    );
    route.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "networking.k8s.io/v1".into(),
        kind: "Ingress".into(),
        name: "kubernetes-mcp-server".into(),
        uid: "0b5c6f2e-1a1b-4c1d-9e1f-000000000001".into(),
        controller: Some(true),
        ..OwnerReference::default()
    }]);
    cluster.create_route(&route).await;
    let status: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["status", "-o", "json"]))).expect("json");
    assert_eq!(status["route"]["host"], "mcp.apps.sandbox.example.com");
    assert_eq!(status["redirectRegistered"], false);
    assert!(
        status["warnings"].to_string().contains("redirect sync"),
        "{status}"
    );

    // Client dry run shows the change and writes nothing.
    let out = ok(&cluster.run(&["redirect", "sync", "--dry-run=client"]));
    let line = |uri: &str| {
        out.lines()
            .find(|l| l.starts_with(uri))
            .map(|l| l[uri.len()..].trim().to_owned())
    };
    assert_eq!(
        line("https://mcp.apps.sandbox.example.com/oauth/callback").as_deref(),
        Some("added (dry run)"),
        "{out}"
    );
    assert_eq!(
        line("https://kubernetes-mcp-server-mcp-server.apps.sandbox.example.com/oauth/callback")
            .as_deref(),
        Some("removed (dry run)"),
        "{out}"
    );
    let before = client_and_secret(&cluster).await.0;
    let report: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["redirect", "sync", "-o", "json"]))).expect("json");
    assert_eq!(report["changed"], true);
    let (after, _) = client_and_secret(&cluster).await;
    assert_eq!(
        after.redirect_uris,
        [
            "https://mcp.apps.sandbox.example.com/oauth/callback",
            "http://127.0.0.1/oauth/callback",
            "http://localhost/oauth/callback"
        ]
    );
    assert_eq!(after.secret, before.secret, "the secret survives the sync");
    // In sync now: a second run changes nothing.
    let report: serde_json::Value =
        serde_json::from_str(&ok(&cluster.run(&["redirect", "sync", "-o", "json"]))).expect("json");
    assert_eq!(report["changed"], false);
    assert_eq!(
        client_and_secret(&cluster).await.0.resource_version(),
        after.resource_version()
    );
    // A new register takes the Route's host from now on.
    ok(&cluster.run(&["register", "openshift"]));
    assert_eq!(
        client_and_secret(&cluster).await.0.redirect_uris,
        after.redirect_uris
    );
    let table = ok(&cluster.run(&["status"]));
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with("callback registered")
                && l.contains(" yes (https://mcp.apps")),
        "{table}"
    );
}
