//! Malformed and mismatched requests get the Status codes kube-apiserver returns.

// One case after another, like a table.
#![allow(clippy::too_many_lines)]

use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    ct: &str,
    body: &str,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let resp = client.send(req).await.expect("sent");
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1 << 20)
        .await
        .expect("body");
    let v: Value = serde_json::from_slice(&bytes).expect("a JSON Status");
    (code, v)
}

fn status(v: &Value) -> (&str, &str) {
    (
        v["kind"].as_str().unwrap_or(""),
        v["reason"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn bad_requests_get_kube_status_codes() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let c = sb.client_for("admin").await.expect("client");
    let cms = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";

    let (code, v) = send(&c, "POST", cms, json, "{\"apiVersion\": \"v1\", \"kind\": ").await;
    assert_eq!(
        (code, status(&v)),
        (400, ("Status", "BadRequest")),
        "malformed JSON: {v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .starts_with("the object provided is unrecognized (must be of type ConfigMap)")
    );

    let secret = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#;
    let (code, v) = send(&c, "POST", cms, json, secret).await;
    assert_eq!(
        (code, status(&v)),
        (400, ("Status", "BadRequest")),
        "wrong kind for the path: {v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("cannot be handled as a ConfigMap")
    );

    let wrong_group = r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"g"}}"#;
    let (code, v) = send(&c, "POST", cms, json, wrong_group).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(
        v["message"],
        "the API version in the data (apps/v1) does not match the expected API version (v1)"
    );

    let (code, _) = send(
        &c,
        "POST",
        cms,
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#,
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = send(
        &c,
        "PUT",
        &format!("{cms}/a"),
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#,
    )
    .await;
    assert_eq!(
        (code, status(&v)),
        (400, ("Status", "BadRequest")),
        "name mismatch: {v}"
    );
    assert_eq!(
        v["message"],
        "the name of the object (b) does not match the name on the URL (a)"
    );

    let (code, v) = send(&c, "POST", cms, json, r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","namespace":"kube-system"}}"#).await;
    assert_eq!(code, 400, "namespace mismatch: {v}");
    assert_eq!(
        v["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );

    let (code, v) = send(
        &c,
        "POST",
        "/api/v1/configmaps",
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    )
    .await;
    assert_eq!(
        (code, status(&v)),
        (405, ("Status", "MethodNotAllowed")),
        "no namespace in the path: {v}"
    );

    let (code, v) = send(
        &c,
        "POST",
        "/api/v1/namespaces/missing/configmaps",
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    )
    .await;
    assert_eq!(
        (code, status(&v)),
        (404, ("Status", "NotFound")),
        "missing namespace: {v}"
    );
    assert_eq!(v["message"], "namespaces \"missing\" not found");

    let (code, v) = send(
        &c,
        "POST",
        cms,
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
    )
    .await;
    assert_eq!(
        (code, status(&v)),
        (422, ("Status", "Invalid")),
        "no name: {v}"
    );
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");

    let (code, v) = send(
        &c,
        "POST",
        cms,
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"UPPER"}}"#,
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueInvalid");

    let (code, v) = send(&c, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json, r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"b"},"roleRef":{"kind":"Role","name":"x"}}"#).await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["details"]["causes"][0]["field"], "roleRef.kind");

    let (code, v) = send(
        &c,
        "POST",
        &format!("{cms}?fieldValidation=Strict"),
        json,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"spec":{}}"#,
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(
        v["message"],
        "strict decoding error: unknown field \"spec\""
    );

    let (code, v) = send(&c, "POST", cms, "text/csv", "a,b").await;
    assert_eq!(
        (code, status(&v)),
        (415, ("Status", "UnsupportedMediaType"))
    );

    let (code, v) = send(&c, "GET", "/apis/nope.example.com/v1/things", json, "").await;
    assert_eq!((code, status(&v)), (404, ("Status", "NotFound")));

    let (code, v) = send(
        &c,
        "PATCH",
        &format!("{cms}/a"),
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .await;
    assert_eq!(code, 422, "apply without fieldManager: {v}");

    let (code, v) = send(
        &c,
        "GET",
        &format!("{cms}?labelSelector=a%20in%20b"),
        json,
        "",
    )
    .await;
    assert_eq!((code, status(&v)), (400, ("Status", "BadRequest")), "{v}");
}

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let yaml = sb.kubeconfig_for("member").expect("kubeconfig");
    let token = sb.token("member").expect("token");
    let forged = yaml.replace(&token, "sha256~not-a-real-token");
    let kc = kube::config::Kubeconfig::from_yaml(&forged).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    let c = kube::Client::try_from(cfg).expect("client");
    let (code, v) = send(&c, "GET", "/api/v1/namespaces", "application/json", "").await;
    assert_eq!((code, status(&v)), (401, ("Status", "Unauthorized")));
    assert_eq!(v["message"], "Unauthorized");
    assert!(
        sb.audit()
            .iter()
            .any(|e| e.code == 401 && e.user.is_empty())
    );
}
