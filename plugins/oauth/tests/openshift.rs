//! `register openshift`, `rotate`, `secret set` and `status` against the sandbox API server.

mod common;

use common::{Cluster, NAMESPACE, ok};
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
