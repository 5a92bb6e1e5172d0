//! Fault injection as a kube-rs client sees it: latency, 500, 503 and 429 (retried by kube's
//! default policy, visible without it), dropped connections; bounded and logged in the audit.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::ListParams;
use oc_mcp_sandbox::faults::{FaultKind, FaultRule, Target};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

use crate::common::https;

async fn client(sb: &Sandbox, retry: bool) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(&sb.kubeconfig_for("admin").expect("kubeconfig"))
        .expect("kubeconfig");
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    cfg.default_retry = retry;
    kube::Client::try_from(cfg).expect("client")
}

fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

fn faulted(sb: &Sandbox, path: &str) -> Vec<(u16, String)> {
    sb.audit()
        .into_iter()
        .filter(|e| e.request_uri.starts_with(path))
        .filter_map(|e| e.fault.map(|f| (e.code, f)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one fault kind after the other
async fn each_fault_kind_is_observable_bounded_and_logged() {
    let sb = Sandbox::start(SandboxConfig {
        faults: oc_mcp_sandbox::faults::parse(
            "kind=latency,ms=400,path=/api/v1/namespaces,verb=list,max=1",
        )
        .expect("spec"),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let retrying = client(&sb, true).await;
    let plain = client(&sb, false).await;
    let ns: Api<Namespace> = Api::all(plain.clone());

    // Latency (from the config), once.
    let t = Instant::now();
    ns.list(&ListParams::default()).await.expect("list");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    ns.list(&ListParams::default()).await.expect("list");
    assert!(t.elapsed() < Duration::from_millis(400), "bounded by max=1");
    assert_eq!(
        faulted(&sb, "/api/v1/namespaces"),
        vec![(200, "latency 400ms".to_string())]
    );

    // 500: not retried by kube; the next call works.
    let cms: Api<ConfigMap> = Api::namespaced(plain.clone(), "default");
    sb.add_fault(
        FaultRule::new(FaultKind::Status(500))
            .path("/api/v1/namespaces/default/configmaps")
            .verbs(&["list"])
            .max(1),
    );
    let e = cms.list(&ListParams::default()).await.expect_err("500");
    assert_eq!(api_code(&e), Some(500), "{e}");
    assert!(e.to_string().contains("fault injected"), "{e}");
    cms.list(&ListParams::default())
        .await
        .expect("after the fault");

    // 503 and 429: kube's default retry policy rides them out; without it they surface.
    sb.clear_faults();
    sb.add_fault(
        FaultRule::new(FaultKind::Status(503))
            .path("/api/v1/namespaces/kube-system*")
            .max(2),
    );
    let sys: Api<ConfigMap> = Api::namespaced(retrying.clone(), "kube-system");
    sys.list(&ListParams::default())
        .await
        .expect("retried past two 503s");
    let log = faulted(&sb, "/api/v1/namespaces/kube-system");
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|(c, f)| *c == 503 && f == "status 503"));
    sb.add_fault(
        FaultRule::new(FaultKind::Status(503))
            .path("/api/v1/namespaces/kube-public*")
            .max(1),
    );
    let e = Api::<ConfigMap>::namespaced(plain.clone(), "kube-public")
        .list(&ListParams::default())
        .await
        .expect_err("503");
    assert_eq!(api_code(&e), Some(503));

    sb.add_fault(
        FaultRule::new(FaultKind::TooManyRequests { retry_after: 1 })
            .path("/api/v1/namespaces/openshift/*")
            .max(1),
    );
    let t = Instant::now();
    Api::<ConfigMap>::namespaced(retrying.clone(), "openshift")
        .list(&ListParams::default())
        .await
        .expect("retried after Retry-After");
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "honoured Retry-After: {:?}",
        t.elapsed()
    );
    sb.add_fault(
        FaultRule::new(FaultKind::TooManyRequests { retry_after: 7 })
            .path("/api/v1/namespaces/openshift-config/*")
            .max(1),
    );
    let e = Api::<ConfigMap>::namespaced(plain.clone(), "openshift-config")
        .list(&ListParams::default())
        .await
        .expect_err("429");
    match &e {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (429, "TooManyRequests"));
        }
        other => panic!("{other}"),
    }

    // A dropped connection is a transport error, not a Status.
    sb.add_fault(
        FaultRule::new(FaultKind::Drop)
            .path("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
            .verbs(&["GET"])
            .max(1),
    );
    let e = cms.get("kube-root-ca.crt").await.expect_err("dropped");
    assert_eq!(api_code(&e), None, "{e}");
    cms.get("kube-root-ca.crt")
        .await
        .expect("the next request is served");

    // Router faults, on any host.
    sb.add_fault(
        FaultRule::new(FaultKind::Status(503))
            .path("/healthz")
            .target(Target::Router)
            .max(1),
    );
    let host = format!("x.{}", sb.apps_domain());
    let r = https::client(&sb, &[&host])
        .get(format!("{}/healthz", sb.route_url(&host)))
        .send()
        .await
        .expect("router");
    assert_eq!(r.status().as_u16(), 503);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("fault injected")
    );

    assert_eq!(sb.faults_injected(), 9, "every injection is counted");
    let logged = sb.audit().into_iter().filter(|e| e.fault.is_some()).count();
    assert_eq!(
        logged, 9,
        "every injection is in the audit log (the config rule too)"
    );
}
