//! `register entra` against a fake Microsoft Graph: the requests in order, an idempotent
//! re-run, and the client secret only in the cluster Secret.

// The story reads top to bottom like a user's session; splitting it would hide the order.
#![allow(clippy::too_many_lines)]

use crate::common;

use common::{
    Cluster, NAMESPACE, Run, assert_stderr_has,
    graph::{DOMAIN, FakeGraph, GRAPH_SP_ID, TENANT},
    ok, stderr, stdout,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret as KubeSecret};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.graph-token-for-tests.c2lnbmF0dXJl";

fn run_entra(cluster: &Cluster, graph: &FakeGraph, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["register", "entra", "--graph-token-stdin"];
    args.extend_from_slice(extra);
    cluster.run_with(
        &args,
        &Run {
            stdin: Some(TOKEN.as_bytes()),
            env: vec![("OC_MCP_GRAPH_URL", graph.url.clone())],
            ..Run::default()
        },
    )
}

/// The sandbox with the namespace, and a fake Graph that accepts `TOKEN`.
async fn start() -> (Cluster, FakeGraph) {
    (Cluster::start().await, FakeGraph::start(TOKEN).await)
}

async fn cluster_objects(cluster: &Cluster) -> (KubeSecret, ConfigMap) {
    let client = cluster.admin_client().await;
    let secrets: Api<KubeSecret> = Api::namespaced(client.clone(), NAMESPACE);
    let maps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    (
        secrets.get("mcp-oauth-credentials").await.expect("secret"),
        maps.get("mcp-oauth-settings").await.expect("settings"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_entra_sends_the_right_requests_in_order_and_a_rerun_changes_nothing() {
    let (cluster, graph) = start().await;

    let out = run_entra(
        &cluster,
        &graph,
        &["--tenant", TENANT, "--admin-consent", "-o", "json"],
    );
    let report: Value = serde_json::from_str(&ok(&out)).expect("json report");
    let app = graph.app("kubernetes-mcp-server").expect("app created");
    let object_id = app["id"].as_str().expect("id").to_owned();
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    let sp_id = {
        let seen = graph.seen();
        let created = seen
            .iter()
            .find(|s| s.line == "POST /servicePrincipals")
            .expect("service principal created");
        assert_eq!(created.body, Some(json!({"appId": app_id})));
        let grant = graph.grants();
        grant[0]["clientId"].as_str().expect("clientId").to_owned()
    };
    let select = "id,appId,displayName,signInAudience,web,publicClient,requiredResourceAccess,api,identifierUris,optionalClaims,passwordCredentials";
    assert_eq!(
        graph.lines(),
        [
            "GET /organization?$select=id,verifiedDomains".to_owned(),
            "GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id,oauth2PermissionScopes".to_owned(),
            format!("GET /applications(uniqueName='kubernetes-mcp-server')?$select={select}"),
            "PATCH /applications(uniqueName='kubernetes-mcp-server')".to_owned(),
            format!("PATCH /applications/{object_id}"),
            format!("GET /servicePrincipals(appId='{app_id}')?$select=id"),
            "POST /servicePrincipals".to_owned(),
            format!("POST /applications/{object_id}/addPassword"),
            // A service principal made just now has no grant to look up.
            "POST /oauth2PermissionGrants".to_owned(),
        ]
    );
    let seen = graph.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "every request carries the token"
    );
    // The upsert: by unique name, create-if-missing, the registration the guide does by hand.
    let upsert = &seen[3];
    assert_eq!(upsert.prefer.as_deref(), Some("create-if-missing"));
    let body = upsert.body.clone().expect("body");
    assert_eq!(body["displayName"], "kubernetes-mcp-server");
    assert_eq!(body["signInAudience"], "AzureADMyOrg");
    assert_eq!(
        body["web"]["redirectUris"],
        json!(["https://kubernetes-mcp-server-mcp-server.apps.sandbox.example.com/oauth/callback"])
    );
    assert_eq!(
        body["publicClient"]["redirectUris"],
        json!([
            "http://127.0.0.1/oauth/callback",
            "http://localhost/oauth/callback"
        ])
    );
    assert_eq!(
        body["requiredResourceAccess"],
        json!([{"resourceAppId": "00000003-0000-0000-c000-000000000000", "resourceAccess": [
            {"id": "37f7f235-527c-4136-accd-4a02d197296e", "type": "Scope"},
            {"id": "14dad69e-099b-42c9-810b-d002981feec1", "type": "Scope"},
            {"id": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "type": "Scope"},
            {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"}]}])
    );
    assert_eq!(
        body["optionalClaims"]["idToken"],
        json!([{"name": "email", "essential": false}, {"name": "preferred_username", "essential": false}])
    );
    // Exposed API: tokens carry the app as audience, v2 issuer.
    let api = seen[4].body.clone().expect("body");
    assert_eq!(api["identifierUris"], json!([format!("api://{app_id}")]));
    assert_eq!(api["api"]["requestedAccessTokenVersion"], 2);
    assert_eq!(
        api["api"]["oauth2PermissionScopes"][0]["value"],
        "access_as_user"
    );
    assert_eq!(api["api"]["oauth2PermissionScopes"][0]["isEnabled"], true);
    let password = seen[7].body.clone().expect("body");
    assert_eq!(
        password["passwordCredential"]["displayName"],
        "oc-mcp mcp-server/mcp-oauth-credentials"
    );
    assert!(
        password["passwordCredential"]["endDateTime"]
            .as_str()
            .is_some_and(|d| d.len() == 20 && d.ends_with('Z')),
        "{password}"
    );
    assert_eq!(
        seen[8].body,
        Some(
            json!({"clientId": sp_id, "consentType": "AllPrincipals", "resourceId": GRAPH_SP_ID,
            "scope": "openid profile email offline_access"})
        )
    );

    // The secret went straight into the cluster Secret, and only there.
    let issued = graph.secrets_issued();
    assert_eq!(issued.len(), 1);
    let secret_text = &issued[0];
    let (secret, settings) = cluster_objects(&cluster).await;
    assert_eq!(
        secret.data.as_ref().expect("data")["sts_client_secret"].0,
        secret_text.as_bytes()
    );
    let data = settings.data.clone().expect("settings data");
    assert_eq!(data["provider"], "entra");
    assert_eq!(data["tenant_id"], TENANT);
    assert_eq!(data["client_id"], app_id);
    assert_eq!(data["audience"], app_id);
    assert_eq!(
        data["issuer_url"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert_eq!(
        data["scopes"],
        format!("openid profile email offline_access api://{app_id}/access_as_user")
    );
    assert!(data.values().all(|v| !v.contains(secret_text.as_str())));
    assert!(!stdout(&out).contains(secret_text.as_str()));
    assert!(!stderr(&out).contains(secret_text.as_str()));
    assert!(!stdout(&out).contains(TOKEN));
    assert!(
        seen.iter().all(|s| !s
            .body
            .as_ref()
            .is_some_and(|b| b.to_string().contains(secret_text.as_str()))),
        "the secret is never sent back to Graph"
    );
    assert_eq!(report["clientId"], app_id);
    assert_eq!(report["tenantId"], TENANT);
    assert_eq!(
        report["issuerUrl"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert_eq!(report["audience"], app_id);

    // A re-run reads, finds everything in place, and writes nothing: not to Graph, not to the cluster.
    graph.clear();
    let out = run_entra(&cluster, &graph, &["--tenant", DOMAIN, "--admin-consent"]);
    let table = ok(&out);
    assert_eq!(
        graph.lines(),
        [
            "GET /organization?$select=id,verifiedDomains".to_owned(),
            "GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id,oauth2PermissionScopes".to_owned(),
            format!("GET /applications(uniqueName='kubernetes-mcp-server')?$select={select}"),
            format!("GET /servicePrincipals(appId='{app_id}')?$select=id"),
            format!("GET /oauth2PermissionGrants?$filter=clientId eq '{sp_id}' and consentType eq 'AllPrincipals' and resourceId eq '{GRAPH_SP_ID}'"),
        ]
    );
    for expected in [
        "application",
        "exposed API",
        "service principal",
        "admin consent",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(expected) && l.trim_end().ends_with("unchanged")),
            "{expected}: {table}"
        );
    }
    assert!(table.contains("kept (key id"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("secret/mcp-oauth-credentials") && l.ends_with("unchanged")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("configmap/mcp-oauth-settings") && l.ends_with("unchanged")),
        "{table}"
    );
    assert!(table.contains(&format!("CLIENT ID   {app_id}")), "{table}");
    let (secret_again, settings_again) = cluster_objects(&cluster).await;
    assert_eq!(secret_again.resource_version(), secret.resource_version());
    assert_eq!(
        settings_again.resource_version(),
        settings.resource_version()
    );
    assert_eq!(graph.secrets_issued().len(), 1, "no second password");
    assert_eq!(graph.grants().len(), 1);

    // If the Secret loses its value, a re-run adds a new password rather than guessing.
    let secrets: Api<KubeSecret> = Api::namespaced(cluster.admin_client().await, NAMESPACE);
    secrets
        .delete("mcp-oauth-credentials", &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    graph.clear();
    ok(&run_entra(&cluster, &graph, &["--tenant", TENANT]));
    assert!(graph.lines().iter().any(|l| l.ends_with("/addPassword")));
    let issued = graph.secrets_issued();
    assert_eq!(issued.len(), 2);
    let (secret, settings) = cluster_objects(&cluster).await;
    assert_eq!(
        secret.data.expect("data")["sts_client_secret"].0,
        issued[1].as_bytes()
    );
    assert_ne!(
        settings.data.expect("data")["client_secret_key_id"],
        data["client_secret_key_id"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_or_in_client_dry_run_the_steps_are_printed_and_nothing_is_sent() {
    let (cluster, graph) = start().await;
    let empty_path = tempfile::tempdir().expect("tmp");
    let how = Run {
        env: vec![("OC_MCP_GRAPH_URL", graph.url.clone())],
        path: Some(empty_path.path().display().to_string()),
        ..Run::default()
    };
    let out = cluster.run_with(
        &["register", "entra", "--tenant", TENANT, "--dry-run=client"],
        &how,
    );
    let steps = ok(&out);
    assert!(
        steps.contains(&format!(
            "PATCH {}/applications(uniqueName='kubernetes-mcp-server')\nPrefer: create-if-missing",
            graph.url
        )),
        "{steps}"
    );
    assert!(steps.contains("/addPassword"), "{steps}");
    assert!(
        steps.contains("oc mcp-oauth secret set --from-stdin"),
        "{steps}"
    );
    assert!(
        steps.contains(&format!(
            "issuer_url: https://login.microsoftonline.com/{TENANT}/v2.0"
        )),
        "{steps}"
    );
    assert!(
        !steps.lines().any(|l| l.starts_with("Authorization")),
        "{steps}"
    );
    let json: Value = serde_json::from_str(&ok(&cluster.run_with(
        &[
            "register",
            "entra",
            "--tenant",
            TENANT,
            "--dry-run=client",
            "-o",
            "json",
        ],
        &how,
    )))
    .expect("json");
    assert_eq!(json["requests"][2]["method"], "PATCH");
    assert_eq!(
        json["requests"][2]["headers"],
        json!([["Prefer", "create-if-missing"]])
    );
    assert_eq!(
        json["objects"][0]["data"]["sts_client_secret"],
        "<redacted>"
    );

    // No az on PATH and no --graph-token-stdin: the same steps, and a failure that says why.
    let out = cluster.run_with(&["register", "entra", "--tenant", TENANT], &how);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("/addPassword"));
    assert_stderr_has(&out, "no Microsoft Graph token");
    assert!(graph.lines().is_empty(), "{:?}", graph.lines());
    assert_eq!(cluster.writes(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_tenant_or_a_rejected_token_stops_before_any_write() {
    let (cluster, graph) = start().await;
    let out = run_entra(
        &cluster,
        &graph,
        &["--tenant", "11111111-2222-4333-8444-555555555555"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(
        &out,
        &format!(
            "the Microsoft Graph token belongs to tenant {TENANT}, not 11111111-2222-4333-8444-555555555555"
        ),
    );
    assert_stderr_has(&out, "az login --tenant");
    assert_eq!(
        graph.lines(),
        ["GET /organization?$select=id,verifiedDomains"]
    );

    graph.clear();
    let out = cluster.run_with(
        &[
            "register",
            "entra",
            "--graph-token-stdin",
            "--tenant",
            TENANT,
        ],
        &Run {
            stdin: Some(b"an-expired-token"),
            env: vec![("OC_MCP_GRAPH_URL", graph.url.clone())],
            ..Run::default()
        },
    );
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "Microsoft Graph rejected the token");
    assert!(!stderr(&out).contains("an-expired-token"));
    assert_eq!(cluster.writes(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_sync_updates_the_entra_app_and_status_shows_the_settings() {
    let (cluster, graph) = start().await;
    ok(&run_entra(&cluster, &graph, &["--tenant", TENANT]));
    let app = graph.app("kubernetes-mcp-server").expect("app");
    let object_id = app["id"].as_str().expect("id").to_owned();

    cluster
        .create_route(&common::service_route(
            "kubernetes-mcp-server",
            "mcp.apps.sandbox.example.com",
        ))
        .await;

    graph.clear();
    let out = cluster.run_with(
        &["redirect", "sync", "--graph-token-stdin", "-o", "json"],
        &Run {
            stdin: Some(TOKEN.as_bytes()),
            env: vec![("OC_MCP_GRAPH_URL", graph.url.clone())],
            ..Run::default()
        },
    );
    let report: Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(report["provider"], "entra");
    assert_eq!(report["changed"], true);
    assert_eq!(
        graph.lines(),
        [
            format!("GET /applications/{object_id}?$select=id,appId,web"),
            format!("PATCH /applications/{object_id}"),
        ]
    );
    assert_eq!(
        graph.seen()[1].body,
        Some(
            json!({"web": {"redirectUris": ["https://mcp.apps.sandbox.example.com/oauth/callback"]}})
        )
    );
    assert_eq!(
        graph.app("kubernetes-mcp-server").expect("app")["web"]["redirectUris"],
        json!(["https://mcp.apps.sandbox.example.com/oauth/callback"])
    );
    // The loopback redirects are public-client ones and stay as they were.
    assert_eq!(
        graph.app("kubernetes-mcp-server").expect("app")["publicClient"]["redirectUris"],
        json!([
            "http://127.0.0.1/oauth/callback",
            "http://localhost/oauth/callback"
        ])
    );

    let status: Value =
        serde_json::from_str(&ok(&cluster.run(&["status", "-o", "json"]))).expect("json");
    assert_eq!(status["entra"]["tenantId"], TENANT);
    assert_eq!(status["entra"]["clientId"], app["appId"]);
    assert_eq!(status["secret"]["present"], true);
    assert_eq!(status["route"]["host"], "mcp.apps.sandbox.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_reads_graph_but_sends_no_change() {
    let (cluster, graph) = start().await;
    let out = run_entra(
        &cluster,
        &graph,
        &["--tenant", TENANT, "--admin-consent", "--dry-run=server"],
    );
    let table = ok(&out);
    assert!(
        graph.lines().iter().all(|l| l.starts_with("GET ")),
        "{:?}",
        graph.lines()
    );
    assert!(graph.app("kubernetes-mcp-server").is_none());
    assert!(table.contains("created (dry run: not sent)"), "{table}");
    assert!(table.contains("created (server dry run)"), "{table}");
    let audit = cluster.sandbox.audit();
    assert!(
        audit
            .iter()
            .any(|e| e.dry_run && e.method == "PATCH" && e.resource == "secrets")
    );
    assert!(
        cluster.writes().iter().all(|w| w.contains("dryRun=All")),
        "{:?}",
        cluster.writes()
    );
}
