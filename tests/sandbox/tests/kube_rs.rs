//! kube-rs (typed and dynamic) against the sandbox.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::Discovery;
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_crud_with_conflicts() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let v = client.apiserver_version().await.expect("version");
    assert_eq!(v.major, "1");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", &[("k", "1")]))
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("uid");
    assert!(
        created.metadata.resource_version.is_some()
            && created.metadata.creation_timestamp.is_some()
    );
    let dup = api_error(
        cms.create(&PostParams::default(), &cm("a", &[]))
            .await
            .expect_err("exists"),
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));

    let mut got = cms.get("a").await.expect("get");
    got.data
        .get_or_insert_default()
        .insert("k".into(), "2".into());
    let updated = cms
        .replace("a", &PostParams::default(), &got)
        .await
        .expect("replace");
    assert_ne!(
        updated.metadata.resource_version,
        got.metadata.resource_version
    );
    let stale = api_error(
        cms.replace("a", &PostParams::default(), &got)
            .await
            .expect_err("stale"),
    );
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(
        stale.message.contains("the object has been modified"),
        "{}",
        stale.message
    );

    let merged = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "x"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        merged
            .data
            .as_ref()
            .and_then(|d| d.get("m"))
            .map(String::as_str),
        Some("x")
    );
    assert_eq!(merged.metadata.uid.as_deref(), Some(uid.as_str()));

    let dry = cms
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm("dry", &[]),
        )
        .await
        .expect("dry run");
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert!(
        cms.get_opt("dry").await.expect("get_opt").is_none(),
        "dry run stores nothing"
    );

    cms.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let gone = api_error(cms.get("a").await.expect_err("gone"));
    assert_eq!((gone.code, gone.reason.as_str()), (404, "NotFound"));
    assert_eq!(gone.message, "configmaps \"a\" not found");

    let missing_ns: Api<ConfigMap> = Api::namespaced(client, "nope");
    let e = api_error(
        missing_ns
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .expect_err("no namespace"),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );
}

#[tokio::test]
async fn server_side_apply_conflicts_and_force() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let roles: Api<ClusterRole> = Api::all(client);
    let mine = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ssa-probe"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let created = roles
        .patch(
            "ssa-probe",
            &PatchParams::apply("oc-mcp"),
            &Patch::Apply(&mine),
        )
        .await
        .expect("apply creates");
    let mf = created.metadata.managed_fields.expect("managedFields");
    assert_eq!(mf.len(), 1);
    assert_eq!(
        (mf[0].manager.as_deref(), mf[0].operation.as_deref()),
        (Some("oc-mcp"), Some("Apply"))
    );
    let rv = created.metadata.resource_version.clone();
    let again = roles
        .patch(
            "ssa-probe",
            &PatchParams::apply("oc-mcp"),
            &Patch::Apply(&mine),
        )
        .await
        .expect("re-apply");
    assert_eq!(
        again.metadata.resource_version, rv,
        "a no-op apply does not bump resourceVersion"
    );

    let theirs = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ssa-probe"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]});
    let conflict = api_error(
        roles
            .patch(
                "ssa-probe",
                &PatchParams::apply("someone-else"),
                &Patch::Apply(&theirs),
            )
            .await
            .expect_err("conflict"),
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"oc-mcp\" using rbac.authorization.k8s.io/v1: .rules"
    );
    let forced = roles
        .patch(
            "ssa-probe",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&theirs),
        )
        .await
        .expect("forced");
    assert_eq!(
        forced.rules.expect("rules")[0].resources.as_deref(),
        Some(&["secrets".to_string()][..])
    );

    // Strict field validation rejects unknown fields, as kube-apiserver does.
    let bogus = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "bogus"}, "rulez": []});
    let pp = PatchParams {
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..PatchParams::apply("oc-mcp")
    };
    let bad = api_error(
        roles
            .patch("bogus", &pp, &Patch::Apply(&bogus))
            .await
            .expect_err("unknown field"),
    );
    assert_eq!(bad.code, 400);
    assert!(
        bad.message.contains(".rulez: field not declared in schema"),
        "{}",
        bad.message
    );
}

#[tokio::test]
async fn paging_over_1200_objects() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some("bulk".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("namespace");
    let cms: Api<ConfigMap> = Api::namespaced(client, "bulk");
    for i in 0..1200 {
        let mut c = cm(&format!("cm-{i:04}"), &[("i", &i.to_string())]);
        c.metadata.labels = Some(
            [(
                "parity".to_string(),
                if i % 2 == 0 { "even" } else { "odd" }.to_string(),
            )]
            .into(),
        );
        cms.create(&PostParams::default(), &c)
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(500).labels("parity");
    let mut pages = 0;
    loop {
        let page = cms.list(&lp).await.expect("page");
        pages += 1;
        names.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => lp = lp.continue_token(&t),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 1200);
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 1200, "no duplicates across pages");
    let even = cms
        .list(&ListParams::default().labels("parity=even"))
        .await
        .expect("selector");
    assert_eq!(even.items.len(), 600);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=cm-0042"))
        .await
        .expect("field selector");
    assert_eq!(one.items.len(), 1);
}

#[tokio::test]
async fn dynamic_clients_and_discovery() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (route_ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("route.openshift.io", "v1", "Route"))
        .expect("routes are discoverable");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &route_ar);
    let r: DynamicObject = serde_json::from_value(json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "web"}, "spec": {"to": {"kind": "Service", "name": "web"}, "tls": {"termination": "edge"}}}))
    .expect("route");
    let created = routes
        .create(&PostParams::default(), &r)
        .await
        .expect("create route");
    assert_eq!(
        created.data["spec"]["host"],
        "web-default.apps.sandbox.example.com"
    );
    let listed = routes
        .list(&ListParams::default())
        .await
        .expect("list routes");
    assert_eq!(listed.items.len(), 1);
    routes
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete route");

    let ingress_ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("config.openshift.io", "v1", "Ingress"),
        "ingresses",
    );
    let ingresses: Api<DynamicObject> = Api::all_with(client.clone(), &ingress_ar);
    let cluster = ingresses
        .get("cluster")
        .await
        .expect("preset ingress config");
    assert_eq!(cluster.data["spec"]["domain"], "apps.sandbox.example.com");

    let user_ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("user.openshift.io", "v1", "User"),
        "users",
    );
    let member = sb.client_for("member").await.expect("member client");
    let me = Api::<DynamicObject>::all_with(member, &user_ar)
        .get("~")
        .await
        .expect("users/~");
    assert_eq!(me.metadata.name.as_deref(), Some("member"));

    let projects_ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("project.openshift.io", "v1", "ProjectRequest"),
        "projectrequests",
    );
    let outsider = sb.client_for("outsider").await.expect("outsider");
    let pr: DynamicObject = serde_json::from_value(json!({"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": "mine"}})).expect("pr");
    let denied = api_error(
        Api::<DynamicObject>::all_with(outsider, &projects_ar)
            .create(&PostParams::default(), &pr)
            .await
            .expect_err("no self-provisioner"),
    );
    assert_eq!(denied.code, 403);
    let p = Api::<DynamicObject>::all_with(client.clone(), &projects_ar)
        .create(&PostParams::default(), &pr)
        .await
        .expect("admin requests a project");
    assert_eq!(p.types.as_ref().map(|t| t.kind.as_str()), Some("Project"));
    let ns: Api<Namespace> = Api::all(client);
    assert!(
        ns.get_opt("mine").await.expect("get").is_some(),
        "the project's namespace exists"
    );
}

#[tokio::test]
async fn watch_streams_changes() {
    use futures::StreamExt as _;
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = sb.client_for("admin").await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = cms
        .watch(&kube::api::WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &cm("w", &[]))
        .await
        .expect("create");
    cms.delete("w", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        seen.push(match ev {
            kube::api::WatchEvent::Added(c) => {
                format!("ADDED {}", c.metadata.name.unwrap_or_default())
            }
            kube::api::WatchEvent::Deleted(c) => {
                format!("DELETED {}", c.metadata.name.unwrap_or_default())
            }
            other => format!("{other:?}"),
        });
    }
    assert_eq!(seen, ["ADDED w", "DELETED w"]);
}
