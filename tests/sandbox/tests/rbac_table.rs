//! RBAC decision table: the evaluator against Kubernetes semantics (wildcards,
//! subresources, resourceNames, cluster vs namespace bindings, groups, service accounts,
//! non-resource URLs, aggregation, impersonation).

// Tables of cases and fixtures read best as one long list.
#![allow(clippy::too_many_lines, clippy::needless_pass_by_value)]

use oc_mcp_sandbox::rbac::{self, Attributes};
use oc_mcp_sandbox::store::{Key, Store};
use oc_mcp_sandbox::{Sandbox, SandboxConfig, UserInfo};
use serde_json::{Value, json};

const RBAC: &str = "rbac.authorization.k8s.io";

fn put(store: &mut Store, resource: &str, ns: &str, obj: Value) {
    let def = oc_mcp_sandbox::resources::find(RBAC, "v1", resource).expect("served");
    let name = obj["metadata"]["name"].as_str().expect("name").to_string();
    store.create(Key::new(def, ns, &name), obj).expect("create");
}

fn cluster_role(store: &mut Store, name: &str, rules: Value) {
    put(
        store,
        "clusterroles",
        "",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}),
    );
}

fn crb(store: &mut Store, name: &str, role: &str, subjects: Value) {
    put(
        store,
        "clusterrolebindings",
        "",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": subjects}),
    );
}

fn rb(store: &mut Store, ns: &str, name: &str, kind: &str, role: &str, subjects: Value) {
    put(
        store,
        "rolebindings",
        ns,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role}, "subjects": subjects}),
    );
}

fn user(name: &str) -> Value {
    json!([{"apiGroup": RBAC, "kind": "User", "name": name}])
}

fn group(name: &str) -> Value {
    json!([{"apiGroup": RBAC, "kind": "Group", "name": name}])
}

fn fixture() -> Store {
    let mut s = Store::new();
    oc_mcp_sandbox::seed::seed(&mut s, "apps.example.com");
    cluster_role(
        &mut s,
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]),
    );
    cluster_role(
        &mut s,
        "log-reader",
        json!([{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]),
    );
    cluster_role(
        &mut s,
        "star-apps",
        json!([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}]),
    );
    cluster_role(
        &mut s,
        "named-cm",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get", "update"]}]),
    );
    cluster_role(
        &mut s,
        "health",
        json!([{"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}]),
    );
    cluster_role(
        &mut s,
        "any-group-pods",
        json!([{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}]),
    );
    cluster_role(
        &mut s,
        "status-reader",
        json!([{"apiGroups": ["apps"], "resources": ["*/status"], "verbs": ["get"]}]),
    );
    cluster_role(
        &mut s,
        "impersonator",
        json!([
        {"apiGroups": [""], "resources": ["users"], "resourceNames": ["alice"], "verbs": ["impersonate"]},
        {"apiGroups": [""], "resources": ["groups"], "resourceNames": ["readers"], "verbs": ["impersonate"]}]),
    );
    put(
        &mut s,
        "roles",
        "team",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secret-getter", "namespace": "team"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}),
    );
    crb(&mut s, "readers", "pod-reader", group("readers"));
    crb(&mut s, "bob-cm", "named-cm", user("bob"));
    crb(&mut s, "carol-logs", "log-reader", user("carol"));
    crb(&mut s, "monitor", "health", user("monitor"));
    crb(&mut s, "gina", "any-group-pods", user("gina"));
    crb(&mut s, "imp", "impersonator", user("imp"));
    rb(
        &mut s,
        "team",
        "alice-apps",
        "ClusterRole",
        "star-apps",
        user("alice"),
    );
    rb(
        &mut s,
        "team",
        "bot-secrets",
        "Role",
        "secret-getter",
        json!([{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]),
    );
    rb(
        &mut s,
        "team",
        "dave-view",
        "ClusterRole",
        "view",
        user("dave"),
    );
    rb(
        &mut s,
        "team",
        "eve-edit",
        "ClusterRole",
        "edit",
        user("eve"),
    );
    rb(
        &mut s,
        "team",
        "frank-admin",
        "ClusterRole",
        "admin",
        user("frank"),
    );
    rb(
        &mut s,
        "team",
        "henry-status",
        "ClusterRole",
        "status-reader",
        user("henry"),
    );
    rb(
        &mut s,
        "other",
        "ghost",
        "ClusterRole",
        "does-not-exist",
        user("ghost"),
    );
    s
}

fn who(name: &str) -> UserInfo {
    match name {
        "anonymous" => UserInfo::anonymous(),
        "reader" => UserInfo::new("reader", &["readers"]).authenticated(),
        "admin" => UserInfo::new("admin", &["system:cluster-admins"]).authenticated(),
        "master" => UserInfo::new("root", &["system:masters"]).authenticated(),
        "bot" => UserInfo::new(
            "system:serviceaccount:team:bot",
            &["system:serviceaccounts", "system:serviceaccounts:team"],
        )
        .authenticated(),
        "otherbot" => UserInfo::new(
            "system:serviceaccount:other:bot",
            &["system:serviceaccounts"],
        )
        .authenticated(),
        n => UserInfo::new(n, &[]).authenticated(),
    }
}

#[test]
fn rbac_decision_table() {
    let store = fixture();
    // (user, verb, group, resource[/sub] or URL, namespace, name, expected)
    let cases: &[(&str, &str, &str, &str, &str, &str, bool)] = &[
        ("reader", "list", "", "pods", "default", "", true),
        ("reader", "list", "", "pods", "", "", true),
        ("reader", "get", "", "pods", "team", "p1", true),
        ("reader", "delete", "", "pods", "default", "p1", false),
        ("reader", "get", "", "pods/log", "default", "p1", false),
        ("reader", "get", "", "pods/status", "default", "p1", false),
        ("nobody", "list", "", "pods", "default", "", false),
        ("alice", "get", "apps", "deployments", "team", "d", true),
        ("alice", "get", "apps", "deployments", "default", "d", false),
        ("alice", "create", "apps", "replicasets", "team", "", true),
        ("alice", "list", "apps", "deployments", "", "", false),
        (
            "alice",
            "update",
            "apps",
            "deployments/scale",
            "team",
            "d",
            true,
        ),
        (
            "alice",
            "deletecollection",
            "apps",
            "deployments",
            "team",
            "",
            true,
        ),
        ("alice", "get", "", "pods", "team", "p", false),
        ("bot", "get", "", "secrets", "team", "s", true),
        ("bot", "list", "", "secrets", "team", "", false),
        ("bot", "get", "", "secrets", "default", "s", false),
        ("otherbot", "get", "", "secrets", "team", "s", false),
        (
            "bob",
            "get",
            "",
            "configmaps",
            "default",
            "app-config",
            true,
        ),
        ("bob", "get", "", "configmaps", "team", "app-config", true),
        ("bob", "get", "", "configmaps", "default", "other", false),
        ("bob", "list", "", "configmaps", "default", "", false),
        (
            "bob",
            "update",
            "",
            "configmaps",
            "default",
            "app-config",
            true,
        ),
        (
            "bob",
            "delete",
            "",
            "configmaps",
            "default",
            "app-config",
            false,
        ),
        ("carol", "get", "", "pods/log", "default", "p", true),
        ("carol", "get", "", "pods", "default", "p", false),
        ("monitor", "get", "", "/healthz", "", "", true),
        ("monitor", "get", "", "/metrics/cpu", "", "", true),
        ("monitor", "post", "", "/healthz", "", "", false),
        ("monitor", "get", "", "/metrics", "", "", false),
        ("nobody", "get", "", "/api", "", "", true),
        ("nobody", "get", "", "/apis/apps/v1", "", "", true),
        ("anonymous", "get", "", "/api", "", "", false),
        ("anonymous", "get", "", "/healthz", "", "", true),
        ("anonymous", "get", "", "/version", "", "", true),
        ("anonymous", "list", "", "pods", "default", "", false),
        ("admin", "delete", "", "namespaces", "", "x", true),
        ("admin", "get", "", "/anything/at/all", "", "", true),
        ("master", "escalate", RBAC, "clusterroles", "", "x", true),
        (
            "nobody",
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            "",
            true,
        ),
        (
            "nobody",
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
            "",
            "",
            false,
        ),
        ("nobody", "get", "user.openshift.io", "users", "", "~", true),
        (
            "nobody",
            "get",
            "user.openshift.io",
            "users",
            "",
            "alice",
            false,
        ),
        (
            "nobody",
            "list",
            "project.openshift.io",
            "projects",
            "",
            "",
            true,
        ),
        (
            "nobody",
            "create",
            "project.openshift.io",
            "projectrequests",
            "",
            "",
            false,
        ),
        ("imp", "impersonate", "", "users", "", "alice", true),
        ("imp", "impersonate", "", "users", "", "bob", false),
        ("imp", "impersonate", "", "groups", "", "readers", true),
        (
            "imp",
            "impersonate",
            "",
            "groups",
            "",
            "system:masters",
            false,
        ),
        ("dave", "get", "", "configmaps", "team", "c", true),
        ("dave", "list", "apps", "deployments", "team", "", true),
        ("dave", "get", "", "secrets", "team", "s", false),
        ("dave", "create", "", "configmaps", "team", "", false),
        ("dave", "get", "", "configmaps", "default", "c", false),
        ("eve", "create", "", "secrets", "team", "", true),
        ("eve", "list", "", "pods", "team", "", true),
        ("eve", "create", RBAC, "rolebindings", "team", "", false),
        ("frank", "create", RBAC, "rolebindings", "team", "", true),
        ("frank", "get", "", "pods/log", "team", "p", true),
        (
            "frank",
            "create",
            RBAC,
            "rolebindings",
            "default",
            "",
            false,
        ),
        ("ghost", "get", "", "pods", "other", "p", false),
        (
            "gina",
            "get",
            "metrics.k8s.io",
            "pods",
            "default",
            "p",
            true,
        ),
        (
            "gina",
            "list",
            "metrics.k8s.io",
            "pods",
            "default",
            "",
            false,
        ),
        (
            "henry",
            "get",
            "apps",
            "deployments/status",
            "team",
            "d",
            true,
        ),
        ("henry", "get", "apps", "deployments", "team", "d", false),
    ];
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (u, verb, g, res, ns, name, want) in cases {
        let user = who(u);
        let a = if res.starts_with('/') {
            Attributes::non_resource(&user, verb, res)
        } else {
            Attributes::resource(&user, verb, g, res, ns, name)
        };
        let got = rbac::authorize(&store, &a).allowed;
        if got != *want {
            failures.push(format!(
                "{u} {verb} {g}/{res} ns={ns:?} name={name:?}: want {want}, got {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

async fn status_of(client: &kube::Client, req: http::Request<Vec<u8>>) -> (u16, Value) {
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("request sent");
    let code = resp.status().as_u16();
    let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1 << 20)
        .await
        .expect("body");
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn get(path: &str, headers: &[(&str, &str)]) -> http::Request<Vec<u8>> {
    let mut b = http::Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Vec::new()).expect("request")
}

#[tokio::test]
async fn impersonation_and_reviews_use_the_same_evaluator() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("admin");
    let member = sb.client_for("member").await.expect("member");
    sb.with_store(|s| {
        cluster_role(s, "impersonate-reader", json!([
            {"apiGroups": [""], "resources": ["users"], "resourceNames": ["outsider"], "verbs": ["impersonate"]},
            {"apiGroups": [""], "resources": ["groups"], "resourceNames": ["readers"], "verbs": ["impersonate"]},
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]));
        crb(s, "member-imp", "impersonate-reader", group("mcp-users"));
        cluster_role(s, "pod-reader", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]));
        crb(s, "readers", "pod-reader", group("readers"));
    });
    // member may impersonate outsider (+ group readers), not admin.
    let (code, _) = status_of(
        &member,
        get(
            "/api/v1/namespaces/default/pods",
            &[("Impersonate-User", "outsider")],
        ),
    )
    .await;
    assert_eq!(code, 403, "outsider itself cannot list pods");
    let (code, _) = status_of(
        &member,
        get(
            "/api/v1/namespaces/default/pods",
            &[
                ("Impersonate-User", "outsider"),
                ("Impersonate-Group", "readers"),
            ],
        ),
    )
    .await;
    assert_eq!(code, 200, "impersonated group grants access");
    let (code, body) = status_of(
        &member,
        get(
            "/api/v1/namespaces/default/pods",
            &[("Impersonate-User", "admin")],
        ),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "users \"admin\" is forbidden: User \"member\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let (code, _) = status_of(
        &member,
        get(
            "/api/v1/namespaces/default/pods",
            &[
                ("Impersonate-User", "outsider"),
                ("Impersonate-Group", "system:masters"),
            ],
        ),
    )
    .await;
    assert_eq!(code, 403, "groups are checked one by one");
    let (code, body) = status_of(&member, {
        let mut r = get(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &[("Impersonate-User", "system:serviceaccount:default:default")],
        );
        *r.method_mut() = http::Method::POST;
        *r.body_mut() =
            br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#.to_vec();
        r.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        r
    })
    .await;
    assert_eq!(code, 201);
    assert_eq!(
        body["status"]["userInfo"]["username"],
        "system:serviceaccount:default:default"
    );
    assert!(
        body["status"]["userInfo"]["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g == "system:serviceaccounts:default")
    );
    let imp: Vec<_> = sb
        .audit()
        .into_iter()
        .filter(|e| e.impersonated_by.as_deref() == Some("member"))
        .collect();
    assert!(!imp.is_empty());

    // SubjectAccessReview answers like the authorizer.
    let sar = |user: &str, groups: &[&str], verb: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": "default"}}})
    };
    let reviews: kube::Api<kube::core::DynamicObject> = kube::Api::all_with(
        admin.clone(),
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("authorization.k8s.io", "v1", "SubjectAccessReview"),
            "subjectaccessreviews",
        ),
    );
    for (u, g, verb, want) in [
        ("x", &["readers"][..], "list", true),
        ("x", &[][..], "list", false),
        ("x", &["readers"][..], "delete", false),
    ] {
        let obj: kube::core::DynamicObject = serde_json::from_value(sar(u, g, verb)).expect("sar");
        let r = reviews
            .create(&kube::api::PostParams::default(), &obj)
            .await
            .expect("review");
        assert_eq!(r.data["status"]["allowed"], want, "{u} {g:?} {verb}");
    }
    let denied = kube::Api::<kube::core::DynamicObject>::all_with(
        member,
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("authorization.k8s.io", "v1", "SubjectAccessReview"),
            "subjectaccessreviews",
        ),
    )
    .create(
        &kube::api::PostParams::default(),
        &serde_json::from_value(sar("x", &[], "list")).expect("sar"),
    )
    .await
    .expect_err("member cannot create SubjectAccessReviews");
    assert!(matches!(denied, kube::Error::Api(s) if s.code == 403));
}

#[tokio::test]
async fn escalation_is_prevented() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    sb.with_store(|s| {
        rb(
            s,
            "default",
            "member-admin",
            "ClusterRole",
            "admin",
            group("mcp-users"),
        );
    });
    let member = sb.client_for("member").await.expect("member");
    let rbs: kube::Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        kube::Api::namespaced(member.clone(), "default");
    let grant = |role: &str| -> k8s_openapi::api::rbac::v1::RoleBinding {
        serde_json::from_value(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": format!("give-{role}")},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": [{"kind": "User", "name": "outsider", "apiGroup": RBAC}]}))
        .expect("binding")
    };
    rbs.create(&kube::api::PostParams::default(), &grant("view"))
        .await
        .expect("admin of a namespace may grant view there");
    let e = rbs
        .create(&kube::api::PostParams::default(), &grant("cluster-admin"))
        .await
        .expect_err("escalation");
    match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert!(
                s.message
                    .contains("is attempting to grant RBAC permissions not currently held"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn openshift_groups_feed_rbac() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let outsider = sb.client_for("outsider").await.expect("outsider");
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(outsider.clone(), "default");
    assert!(
        pods.list(&kube::api::ListParams::default()).await.is_err(),
        "no access yet"
    );
    sb.with_store(|s| {
        cluster_role(s, "pod-lister", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]));
        crb(s, "ops-pods", "pod-lister", group("ops"));
        let def = oc_mcp_sandbox::resources::find("user.openshift.io", "v1", "groups").expect("served");
        s.create(Key::new(def, "", "ops"), json!({"apiVersion": "user.openshift.io/v1", "kind": "Group", "metadata": {"name": "ops"}, "users": ["outsider"]}))
            .expect("group");
    });
    pods.list(&kube::api::ListParams::default())
        .await
        .expect("a Group object's members get its bindings");
    let user_ar = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("user.openshift.io", "v1", "User"),
        "users",
    );
    let me = kube::Api::<kube::core::DynamicObject>::all_with(outsider, &user_ar)
        .get("~")
        .await
        .expect("users/~");
    assert!(
        me.data["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g == "ops"),
        "{:?}",
        me.data
    );
}
