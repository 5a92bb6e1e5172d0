//! The plain-Kubernetes flavour: no OpenShift API in discovery or serving, and an ingress
//! controller that serves Ingress TLS from Secrets (HTTPS) and Ingresses without TLS on
//! plain HTTP only, forwarding to the real kubernetes-mcp-server.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::Kubectl;
use common::https;
use common::mcp::{self, McpApp};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::PostParams;
use oc_mcp_sandbox::{Flavour, Sandbox, SandboxConfig};
use serde_json::json;

fn kubernetes() -> SandboxConfig {
    SandboxConfig {
        flavour: Flavour::Kubernetes,
        ..SandboxConfig::default()
    }
}

/// The app without the chart's OpenShift Ingress: each test makes its own.
fn app(namespace: &str) -> McpApp {
    McpApp {
        namespace: namespace.into(),
        termination: None,
        ..McpApp::default()
    }
}

fn ingress(app: &McpApp, name: &str, host: &str, tls_secret: Option<&str>) -> Ingress {
    let mut v = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": app.namespace},
        "spec": {"ingressClassName": "sandbox",
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": app.name, "port": {"number": 8080}}}}]}}]}});
    if let Some(secret) = tls_secret {
        v["spec"]["tls"] = json!([{"hosts": [host], "secretName": secret}]);
    }
    serde_json::from_value(v).expect("ingress")
}

async fn create_ingress(client: &kube::Client, app: &McpApp, ing: &Ingress) {
    Api::<Ingress>::namespaced(client.clone(), &app.namespace)
        .create(&PostParams::default(), ing)
        .await
        .expect("create ingress");
}

async fn create_tls_secret(client: &kube::Client, ns: &str, name: &str, crt: &str, key: &str) {
    let s: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": crt, "tls.key": key}}))
    .expect("secret");
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &s)
        .await
        .expect("create secret");
}

/// The leaf certificate the router presents for `sni`, verified against `roots` (PEM).
async fn presented_leaf(sb: &Sandbox, sni: &str, roots: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject as _;
    let mut store = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(roots.as_bytes()) {
        store
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(store)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(sb.router_https_addr())
        .await
        .map_err(|e| e.to_string())?;
    let name =
        rustls::pki_types::ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, conn) = tls.get_ref();
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or_else(|| "no peer certificate".into())
}

fn first_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

#[test]
fn kubectl_discovery_has_no_openshift_groups() {
    let sb = Sandbox::start_blocking(kubernetes()).expect("sandbox");
    let k = Kubectl::new(&sb, "admin");
    let resources = k.ok(&["api-resources"]);
    assert!(!resources.contains("openshift.io"), "{resources}");
    for kind in [
        "Ingress",
        "IngressClass",
        "SelfSubjectReview",
        "SubjectAccessReview",
        "Deployment",
    ] {
        assert!(
            resources
                .lines()
                .any(|l| l.split_whitespace().last() == Some(kind)),
            "{kind}: {resources}"
        );
    }
    let versions = k.ok(&["api-versions"]);
    assert!(!versions.contains("openshift"), "{versions}");
    assert!(!versions.contains("cert-manager"), "{versions}");
    for kind in [
        "routes",
        "projects",
        "users",
        "oauthclients",
        "ingresses.config.openshift.io",
    ] {
        let r = k.run(&["get", kind]);
        assert_ne!(r.code, 0, "{kind}: {}", r.stdout);
        assert!(
            r.stderr.contains("doesn't have a resource type"),
            "{kind}: {}",
            r.stderr
        );
    }
    for path in [
        "/apis/route.openshift.io/v1",
        "/apis/user.openshift.io/v1/users/~",
        "/apis/project.openshift.io/v1/projectrequests",
        "/.well-known/oauth-authorization-server",
        "/oauth/authorize",
        "/openapi/v3/apis/route.openshift.io/v1",
    ] {
        let r = k.run(&["get", "--raw", path]);
        assert!(
            r.code != 0 && r.stderr.contains("NotFound"),
            "{path}: {} {}",
            r.stdout,
            r.stderr
        );
    }
    let openapi = k.ok(&["get", "--raw", "/openapi/v3"]);
    assert!(!openapi.contains("openshift"), "{openapi}");
    // Namespaces are plain Namespace objects; members get what RBAC grants.
    k.ok(&["create", "namespace", "team"]);
    let ns = k.ok(&["get", "ns", "-o", "name"]);
    assert!(
        ns.contains("namespace/team") && !ns.contains("openshift"),
        "{ns}"
    );
    let classes = k.ok(&["get", "ingressclass"]);
    assert!(
        classes.contains("sandbox") && classes.contains("k8s.io/ingress-nginx"),
        "{classes}"
    );
    let m = Kubectl::new(&sb, "member");
    assert_eq!(
        m.ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}"
        ]),
        "member"
    );
    assert_eq!(
        m.run(&["auth", "can-i", "create", "pods", "-n", "team"])
            .code,
        1
    );
    let roles = k.ok(&["get", "clusterrole", "system:basic-user", "-o", "json"]);
    assert!(!roles.contains("openshift"), "{roles}");
    assert_eq!(k.run(&["get", "clusterrole", "self-provisioner"]).code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_discovery_has_no_openshift_groups_and_openshift_is_unchanged() {
    let sb = Sandbox::start(kubernetes()).await.expect("sandbox");
    assert_eq!(sb.flavour(), Flavour::Kubernetes);
    let admin = sb.client_for("admin").await.expect("client");
    let d = kube::Discovery::new(admin.clone())
        .run()
        .await
        .expect("discovery");
    let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
    assert!(
        groups.iter().all(|g| !g.contains("openshift")),
        "{groups:?}"
    );
    assert!(
        groups.iter().any(|g| g == "networking.k8s.io"),
        "{groups:?}"
    );
    let req = http::Request::get("/apis/route.openshift.io/v1/namespaces/default/routes")
        .body(Vec::new())
        .expect("request");
    let err = admin
        .request_text(req)
        .await
        .expect_err("routes are not served");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404),
        "{err}"
    );
    // A Route cannot even be preloaded into this flavour.
    let route = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "r", "namespace": "default"}, "spec": {"host": "x"}});
    let refused = Sandbox::start(SandboxConfig {
        preload: vec![route],
        ..kubernetes()
    })
    .await;
    assert!(
        matches!(&refused, Err(oc_mcp_sandbox::SandboxError::Preload { .. })),
        "{refused:?}"
    );

    let os = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    assert_eq!(os.flavour(), Flavour::OpenShift);
    let c = os.client_for("admin").await.expect("client");
    let d = kube::Discovery::new(c).run().await.expect("discovery");
    let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
    for g in [
        "route.openshift.io",
        "project.openshift.io",
        "oauth.openshift.io",
        "config.openshift.io",
        "user.openshift.io",
    ] {
        assert!(groups.iter().any(|x| x == g), "{g}: {groups:?}");
    }
    assert!(!groups.iter().any(|x| x == "cert-manager.io"), "{groups:?}");
    let networking = d.get("networking.k8s.io").expect("networking");
    assert!(
        networking
            .recommended_resources()
            .iter()
            .all(|(r, _)| r.plural != "ingressclasses"),
        "the OpenShift flavour's discovery is what it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one Ingress story: status, resolve, certificate, MCP, redirects
async fn ingress_tls_from_secret_is_served_over_https_and_reaches_the_pod() {
    let sb = Sandbox::start(kubernetes()).await.expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let app = app("mcp");
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    mcp::wait_ready_pod(&admin, &app).await;

    // A certificate from the sandbox CA, stored the way a user would (kube-rs, stringData).
    let host = "mcp.example.test";
    let (crt, key) = sb.tls_pem(&[host]).expect("certificate");
    create_tls_secret(&admin, &app.namespace, "mcp-tls", &crt, &key).await;
    create_ingress(&admin, &app, &ingress(&app, "mcp", host, Some("mcp-tls"))).await;

    let ingresses: Api<Ingress> = Api::namespaced(admin.clone(), &app.namespace);
    let lb = common::wait_for(
        || async {
            let i = ingresses.get("mcp").await.ok()?;
            let ip = i.status?.load_balancer?.ingress?.first()?.ip.clone()?;
            Some(ip)
        },
        Duration::from_secs(10),
        "the Ingress load-balancer status",
    )
    .await;
    assert_eq!(lb, "127.0.0.1");

    assert_eq!(sb.resolve(host), Some(sb.router_https_addr()));
    let url = sb.ingress_url(host).expect("served");
    assert_eq!(url, format!("https://{host}:{}", sb.router_https_port()));
    let line = format!("{host}:{}:127.0.0.1", sb.router_https_port());
    assert!(
        sb.resolve_lines().contains(&line),
        "{:?}",
        sb.resolve_lines()
    );
    common::wait_for_resolve_line(&sb, &line, "DIR/resolve lists the Ingress host").await;

    // The router presents the Secret's certificate for the host.
    let leaf = presented_leaf(&sb, host, sb.ca_pem()).await.expect("TLS");
    assert_eq!(leaf, first_der(&crt));

    let c = https::client(&sb, &[host]);
    let health = c
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let member = sb.token("member").expect("token");
    let ns = https::list_namespaces(&c, &url, &member).await;
    assert!(https::text(&ns).contains("mcp"), "{ns}");

    // Plain HTTP to a TLS host is redirected, as ingress-nginx does by default.
    let plain = https::http_client(&sb, host)
        .get(format!("http://{host}:{}/mcp", sb.router_http_port()))
        .send()
        .await
        .expect("http");
    assert_eq!(plain.status().as_u16(), 308);
    assert_eq!(
        plain.headers()["location"],
        format!("https://{host}:{}/mcp", sb.router_https_port()).as_str()
    );

    // A self-made certificate (not from the sandbox CA) is served as well.
    let own_host = "own.example.test";
    let key_pair = rcgen::KeyPair::generate().expect("key");
    let own = rcgen::CertificateParams::new(vec![own_host.to_string()])
        .expect("params")
        .self_signed(&key_pair)
        .expect("self-signed");
    create_tls_secret(
        &admin,
        &app.namespace,
        "own-tls",
        &own.pem(),
        &key_pair.serialize_pem(),
    )
    .await;
    create_ingress(
        &admin,
        &app,
        &ingress(&app, "own", own_host, Some("own-tls")),
    )
    .await;
    let leaf = presented_leaf(&sb, own_host, &own.pem())
        .await
        .expect("TLS");
    assert_eq!(leaf, own.der().to_vec());
    // The sandbox CA does not vouch for it.
    assert!(presented_leaf(&sb, own_host, sb.ca_pem()).await.is_err());

    // A tls entry whose Secret is missing gets the untrusted fake certificate.
    create_ingress(
        &admin,
        &app,
        &ingress(&app, "missing", "missing.example.test", Some("nope")),
    )
    .await;
    let err = presented_leaf(&sb, "missing.example.test", sb.ca_pem())
        .await
        .expect_err("fake certificate");
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_without_tls_serves_mcp_over_plain_http_only() {
    let sb = Sandbox::start(kubernetes()).await.expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    // The chart-like app as-is: its Ingress has only the OpenShift termination annotation
    // and no tls section, which a plain-Kubernetes ingress controller ignores.
    let app = McpApp {
        namespace: "plain".into(),
        ..McpApp::default()
    };
    sb.deploy_mcp_server(&app).await.expect("deploy");
    let url = sb
        .wait_mcp_server(&app, Duration::from_secs(30))
        .await
        .expect("ready");
    let host = app.host(sb.apps_domain());
    assert_eq!(url, format!("http://{host}:{}", sb.router_http_port()));
    assert_eq!(sb.resolve(&host), Some(sb.router_http_addr()));

    // The MCP endpoint answers a member's tool call over plain HTTP.
    let c = https::http_client(&sb, &host);
    let member = sb.token("member").expect("token");
    let ns = https::list_namespaces(&c, &url, &member).await;
    assert!(https::text(&ns).contains("plain"), "{ns}");

    // No HTTPS server for the host: an untrusted certificate, and a 404 past it.
    assert!(presented_leaf(&sb, &host, sb.ca_pem()).await.is_err());
    let insecure = https::insecure_client(&sb, &host);
    let r = insecure
        .get(format!("https://{host}:{}/healthz", sb.router_https_port()))
        .send()
        .await
        .expect("https");
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap_or_default().contains("nginx"));

    // Another class is not this controller's: not served, no status.
    let mut other = ingress(&app, "other", "other.example.test", None);
    if let Some(spec) = other.spec.as_mut() {
        spec.ingress_class_name = Some("traefik".into());
    }
    create_ingress(&admin, &app, &other).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sb.resolve("other.example.test"), None);
    let got = Api::<Ingress>::namespaced(admin.clone(), &app.namespace)
        .get("other")
        .await
        .expect("get");
    assert!(
        got.status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .is_none_or(|i| i.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_manager_stand_in_issues_the_missing_secret() {
    let sb = Sandbox::start(SandboxConfig {
        cert_manager: true,
        ..kubernetes()
    })
    .await
    .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let app = app("cm");
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    let host = "cm.example.test";
    let mut ing = ingress(&app, "cm", host, Some("cm-tls"));
    ing.metadata.annotations = Some(
        [(
            "cert-manager.io/cluster-issuer".to_string(),
            "sandbox-ca".to_string(),
        )]
        .into(),
    );
    create_ingress(&admin, &app, &ing).await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &app.namespace);
    let secret = common::wait_for(
        || async { secrets.get_opt("cm-tls").await.ok().flatten() },
        Duration::from_secs(10),
        "the issued Secret",
    )
    .await;
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let k = Kubectl::new(&sb, "admin");
    assert!(k.ok(&["api-versions"]).contains("cert-manager.io/v1"));
    let certs = k.ok(&["get", "certificates", "-n", "cm", "-o", "name"]);
    assert!(certs.contains("cm-tls"), "{certs}");
    mcp::wait_ready_pod(&admin, &app).await;
    let url = sb.ingress_url(host).expect("served");
    let c = https::client(&sb, &[host]);
    let health = c
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

/// The sandbox's own listeners and the pod processes are on loopback (the router then
/// sends the pod address as Host); the loopback module checks every socket of a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_are_on_loopback() {
    let sb = Sandbox::start(kubernetes()).await.expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let app = app("lo");
    mcp::deploy(&admin, &app, sb.apps_domain()).await;
    let pod = mcp::wait_ready_pod(&admin, &app).await;
    let name = pod.metadata.name.expect("name");
    let pod_addr = sb.pod_address("lo", &name, 8080).expect("pod serves 8080");
    let addr = |url: &str| -> std::net::SocketAddr {
        url.trim_start_matches("https://").parse().expect("address")
    };
    for a in [
        addr(sb.url()),
        addr(sb.issuer_url()),
        sb.router_https_addr(),
        sb.router_http_addr(),
        pod_addr,
    ] {
        assert!(a.ip().is_loopback(), "{a} is not loopback");
    }
    // A loopback pod still serves MCP through the ingress.
    let host = "lo.example.test";
    create_ingress(&admin, &app, &ingress(&app, "lo", host, None)).await;
    let url = sb.ingress_url(host).expect("served");
    let member = sb.token("member").expect("token");
    let ns = https::call_tool(
        &https::http_client(&sb, host),
        &format!("{url}/mcp"),
        &member,
        "namespaces_list",
        &json!({}),
    )
    .await;
    assert_ne!(ns["isError"], true, "{ns}");
}

/// OIDC mode behind a TLS Ingress: the server's protected-resource metadata names the
/// Ingress URL (its `server_url`, as the plugins set it), and the issuer's tokens pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_server_behind_a_tls_ingress() {
    let sb = Sandbox::start(SandboxConfig {
        trust_issuer: true,
        ..kubernetes()
    })
    .await
    .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let host = "oidc.example.test";
    let app = McpApp {
        namespace: "oidc".into(),
        termination: None,
        ..McpApp::oidc(&sb)
    }
    .with_server_url(&format!("https://{host}:{}/mcp", sb.router_https_port()));
    sb.deploy_mcp_server(&app).await.expect("deploy");
    sb.create_tls_secret("oidc", "oidc-tls", &[host])
        .expect("secret");
    create_ingress(&admin, &app, &ingress(&app, "oidc", host, Some("oidc-tls"))).await;
    mcp::wait_ready_pod(&admin, &app).await;
    let url = sb.ingress_url(host).expect("served");
    let c = https::client(&sb, &[host]);
    let meta: serde_json::Value = c
        .get(format!("{url}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["authorization_servers"][0], sb.issuer_url(), "{meta}");
    assert_eq!(meta["resource"], format!("{url}/mcp"), "{meta}");
    let jwt = sb
        .oidc_token("member", None, Duration::from_secs(600))
        .expect("jwt");
    https::list_namespaces(&c, &url, &jwt).await;
}

#[test]
fn serve_flavour_kubernetes_with_cert_manager() {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oc-mcp-sandbox"))
        .args([
            "serve",
            "--flavour",
            "kubernetes",
            "--cert-manager",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the sandbox");
    let start = Instant::now();
    while !dir.path().join("ready").exists() {
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            panic!("sandbox did not become ready");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let k = Kubectl::with_kubeconfig(&dir.path().join("kubeconfig"));
    let versions = k.run(&["api-versions"]);
    let issuers = k.run(&["get", "clusterissuers", "-o", "name"]);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("sandbox ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(versions.code, 0, "{}", versions.stderr);
    assert!(
        !versions.stdout.contains("openshift"),
        "{}",
        versions.stdout
    );
    assert!(
        versions.stdout.contains("cert-manager.io/v1"),
        "{}",
        versions.stdout
    );
    assert_eq!(
        issuers.stdout.trim(),
        "clusterissuer.cert-manager.io/sandbox-ca"
    );
}
