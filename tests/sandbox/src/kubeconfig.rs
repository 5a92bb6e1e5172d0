//! Kubeconfig files pointing at the sandbox.

use base64::Engine as _;
use serde_json::json;

/// A kubeconfig with one context per `(user, token)`, the first one current.
pub fn render(server: &str, ca_pem: &str, users: &[(String, String)], namespace: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let contexts: Vec<_> = users
        .iter()
        .map(|(u, _)| json!({"name": u, "context": {"cluster": "sandbox", "user": u, "namespace": namespace}}))
        .collect();
    let auth: Vec<_> = users
        .iter()
        .map(|(u, t)| json!({"name": u, "user": {"token": t}}))
        .collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "contexts": contexts,
        "current-context": users.first().map(|(u, _)| u.clone()).unwrap_or_default(),
        "users": auth,
        "preferences": {},
    });
    serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string())
}
