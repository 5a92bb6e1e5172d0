//! Every path to the server's pods: a second Route without TLS, a second Route that allows
//! plain HTTP, the Service patched to NodePort, a LoadBalancer Service selecting the pods, and a
//! second Deployment with the pods' labels each fail their exposure check, and nothing else;
//! the correct deployment passes every exposure check.

use crate::support;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use oc_mcp_sandbox::SandboxConfig;
use serde_json::json;
use support::{App, Env};

fn app_in(namespace: &str) -> App {
    App {
        namespace: namespace.into(),
        ..App::default()
    }
}

async fn create_route(env: &Env, app: &App, name: &str, tls: Option<serde_json::Value>) {
    let mut spec = json!({"host": format!("{name}-{}.{}", app.namespace, env.sb.apps_domain()),
        "to": {"kind": "Service", "name": app.name}, "port": {"targetPort": "http"}});
    if let Some(tls) = tls {
        spec["tls"] = tls;
    }
    let route: oc_mcp_common::openshift::Route = serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": name, "namespace": app.namespace}, "spec": spec}))
    .expect("route");
    support::routes_api(&env.admin().await, &app.namespace)
        .create(&PostParams::default(), &route)
        .await
        .expect("create route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one deployment per path, checked in turn
async fn every_path_to_the_pods_is_checked() {
    let env = Env::start(SandboxConfig::default()).await;
    let ok = app_in("x-ok");
    let plain = app_in("x-plain-route");
    let allow = app_in("x-allow-route");
    let nodeport = app_in("x-nodeport");
    let lb = app_in("x-loadbalancer");
    let shadow = app_in("x-shadow");
    let ingress = app_in("x-ingress");
    let apps = [&ok, &plain, &allow, &nodeport, &lb, &shadow, &ingress];
    env.deploy_serving(&apps).await;
    let admin = env.admin().await;

    create_route(&env, &plain, "second", None).await;
    create_route(
        &env,
        &allow,
        "second",
        Some(json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Allow"})),
    )
    .await;
    let services: Api<Service> = Api::namespaced(admin.clone(), &nodeport.namespace);
    services
        .patch(
            &nodeport.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"type": "NodePort"}})),
        )
        .await
        .expect("patch service");
    let services: Api<Service> = Api::namespaced(admin.clone(), &lb.namespace);
    let balancer: Service = serde_json::from_value(json!({
        "metadata": {"name": "public", "namespace": lb.namespace},
        "spec": {"type": "LoadBalancer",
            "selector": {"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": lb.name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}))
    .expect("service");
    services
        .create(&PostParams::default(), &balancer)
        .await
        .expect("create service");
    // A second Ingress for another ingress controller, without TLS.
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::namespaced(admin.clone(), &ingress.namespace);
    let second: k8s_openapi::api::networking::v1::Ingress = serde_json::from_value(json!({
        "metadata": {"name": "second", "namespace": ingress.namespace},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "mcp.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": ingress.name, "port": {"number": 8080}}}}]}}]}}))
    .expect("ingress");
    ingresses
        .create(&PostParams::default(), &second)
        .await
        .expect("create ingress");
    // A copy of the release's Deployment under another name: same labels, same pods.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &shadow.namespace);
    let mut copy = deployments.get(&shadow.name).await.expect("deployment");
    copy.metadata = kube::api::ObjectMeta {
        name: Some("shadow".into()),
        namespace: Some(shadow.namespace.clone()),
        ..kube::api::ObjectMeta::default()
    };
    copy.status = None;
    deployments
        .create(&PostParams::default(), &copy)
        .await
        .expect("create shadow deployment");
    support::wait_for(
        || async {
            let d = deployments.get("shadow").await.ok()?;
            (d.status?.ready_replicas? >= 1).then_some(())
        },
        std::time::Duration::from_secs(60),
        "the shadow Deployment's pod",
    )
    .await;

    let tokens = env.tokens();
    let run = |app: &App| env.verify_tokens(app, &tokens, &[]);

    // No false alarm.
    let out = run(&ok);
    assert_eq!(out.code, Some(0), "{}", out.summary());
    out.assert_statuses(
        &[
            "exposure.routes",
            "exposure.ingresses",
            "exposure.services",
            "exposure.workloads",
        ],
        "pass",
    );

    let fails = |app: &App, id: &str, needles: &[&str]| run(app).assert_fails_only(id, needles);
    fails(
        &plain,
        "exposure.routes",
        &["route/second", "has no TLS", "oc delete route/second"],
    );
    fails(
        &allow,
        "exposure.routes",
        &["route/second", "insecureEdgeTerminationPolicy Allow"],
    );
    fails(
        &nodeport,
        "exposure.services",
        &[
            &format!("service/{} is type NodePort", nodeport.name),
            "\\\"type\\\":\\\"ClusterIP\\\"",
        ],
    );
    fails(
        &lb,
        "exposure.services",
        &[
            "service/public is type LoadBalancer",
            "oc delete service/public",
        ],
    );
    let out = run(&ingress);
    assert_eq!(out.code, Some(1), "{}", out.summary());
    out.assert_status("exposure.ingresses", "fail");
    // Whether a Route is made from it depends on the ingress controller; either is a fail.
    out.assert_only_failures(&["exposure.ingresses", "exposure.routes"]);
    out.assert_row_contains(
        "exposure.ingresses",
        &[
            "ingress/second (mcp.example.com, class nginx) has no tls section",
            "spec.tls",
        ],
    );

    // Two servers behind one Service break MCP sessions at random (the initialized
    // notification may reach the other pod), so only the cluster side is judged here.
    let out = env.verify(&shadow, &["--only", "cluster,exposure"], &[]);
    out.assert_fails_only(
        "exposure.workloads",
        &["deployment/shadow", "oc delete deployment/shadow"],
    );
    // The shadow's pod is not counted as the release's.
    let pods = out.row("cluster.pods").to_string();
    assert!(pods.contains("1/1 pods ready"), "{pods}");
    assert!(!pods.contains("pod/shadow"), "{pods}");
}
