//! `oc mcp-install` against the sandbox: render per mode, the manifests engine, the helm
//! engine with the real helm 3, guardrails, re-runs and uninstall.

// Story tests read top to bottom like the guide; splitting them would hide the order.
#![allow(clippy::too_many_lines)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace},
    networking::v1::Ingress,
    rbac::v1::ClusterRole,
};
use kube::{Api, api::PostParams};
use oc_mcp_common::server_config::{LintContext, ParsedConfig, ServerVersion};

use crate::support::{Cluster, ok, stderr, stdout, write_files};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

impl Cluster {
    /// Run `render` and check that it wrote nothing to the cluster.
    fn render(&self, args: &[&str]) -> String {
        let before = self.writes().len();
        let mut full = vec!["render"];
        full.extend_from_slice(args);
        let text = ok(&self.run(&full));
        assert_eq!(self.writes().len(), before, "render must not write");
        text
    }
}

#[tokio::test]
async fn render_shows_the_overlay_of_each_auth_mode() {
    let cluster = Cluster::start().await;
    insta::assert_snapshot!("render_openshift", cluster.render(&[]));
    insta::assert_snapshot!(
        "render_none_internal",
        cluster.render(&["--auth", "none", "--internal"])
    );
    // The audience MCP clients obtain: the endpoint the protected-resource metadata names.
    cluster
        .trust_issuer(
            "https://idp.example.com/realms/ops",
            &format!("https://{HOST}/mcp"),
        )
        .await;
    insta::assert_snapshot!(
        "render_oidc",
        cluster.render(&[
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com/realms/ops",
            "--client-id",
            "mcp-server",
            "--scopes",
            "openid,profile",
        ])
    );
    // entra: tenant and client id come from the ConfigMap `oc mcp-oauth register entra` writes.
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    cluster.create_named::<Namespace>("mcp-server").await;
    let settings: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "mcp-oauth-settings", "namespace": "mcp-server"},
        "data": {"tenant": tenant, "clientId": "0f3c-app"}
    }))
    .expect("cm");
    Api::namespaced(cluster.admin().await, "mcp-server")
        .create(&PostParams::default(), &settings)
        .await
        .expect("settings");
    cluster
        .trust_issuer(
            &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            "0f3c-app",
        )
        .await;
    insta::assert_snapshot!("render_entra", cluster.render(&["--auth", "entra"]));
    insta::assert_snapshot!(
        "render_manifests_openshift",
        cluster.render(&["--engine", "manifests"])
    );
}

#[tokio::test]
async fn the_rendered_config_is_accepted_by_the_real_server() {
    let cluster = Cluster::start().await;
    let out = ok(&cluster.run(&["render", "--engine", "manifests", "-o", "json"]));
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let config = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["kind"] == "ConfigMap")
        .and_then(|cm| cm["data"]["config.toml"].as_str())
        .expect("config.toml")
        .to_owned();
    // The same linter verify uses finds nothing wrong with it in a ConfigMap behind a route.
    let parsed = ParsedConfig::parse(&config).expect("toml");
    let findings = parsed.lint(
        &LintContext::new(ServerVersion::TESTED)
            .in_configmap()
            .public_route(HOST),
    );
    assert!(findings.iter().all(|f| !f.is_error()), "{findings:?}");

    // The real server starts with it (plus a listen address for the test) and demands a token.
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = config.replace(
        "port = \"8080\"",
        &format!("port = \"{port}\"\nbind_address = \"127.0.0.1\""),
    );
    let kubeconfig = cluster
        .sandbox
        .kubeconfig_path("outsider")
        .expect("kubeconfig");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("kubeconfig = \"{}\"\n{config}", kubeconfig.display()),
    )
    .expect("write");
    let bin = oc_mcp_sandbox::tools::mcp_server().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Command::new(bin)
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start server");
    let status = probe_unauthenticated(port);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        status,
        Some(401),
        "POST /mcp without a token must be refused"
    );
}

/// POST an initialize without a token; the HTTP status, or None if the server never answered.
fn probe_unauthenticated(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let request = format!(
                "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
                 Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).ok()?;
            let mut reply = String::new();
            stream.read_to_string(&mut reply).ok()?;
            return reply.split_whitespace().nth(1).and_then(|c| c.parse().ok());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

#[tokio::test]
async fn manifests_engine_installs_reruns_upgrades_and_uninstalls() {
    let cluster = Cluster::start().await;
    let out = ok(&cluster.run(&["--engine", "manifests"]));
    assert_eq!(
        out,
        "project.project.openshift.io/mcp-server created\n\
         serviceaccount/kubernetes-mcp-server created\n\
         configmap/kubernetes-mcp-server created\n\
         deployment.apps/kubernetes-mcp-server created\n\
         service/kubernetes-mcp-server created\n\
         ingress.networking.k8s.io/kubernetes-mcp-server created\n"
    );
    let client = cluster.admin().await;
    let toml = cluster.live_config().await;
    assert!(
        toml.contains("require_oauth = true")
            && toml.contains("cluster_auth_mode = \"passthrough\""),
        "{toml}"
    );
    assert!(
        !toml.to_lowercase().contains("secret"),
        "the ConfigMap must hold no secret: {toml}"
    );
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "mcp-server");
    let ingress = ingresses
        .get("kubernetes-mcp-server")
        .await
        .expect("ingress");
    assert_eq!(
        ingress.metadata.annotations.expect("annotations")["route.openshift.io/termination"],
        "edge"
    );
    assert_eq!(
        ingress.spec.expect("spec").rules.expect("rules")[0]
            .host
            .as_deref(),
        Some(HOST)
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "mcp-server");
    let deployment = deployments
        .get("kubernetes-mcp-server")
        .await
        .expect("deployment");
    let pod = deployment.spec.template.spec.clone().expect("pod spec");
    assert_eq!(
        pod.automount_service_account_token,
        Some(true),
        "keep the token mounted: without it the server finds no cluster config"
    );
    let checksum = |d: &Deployment| {
        d.spec
            .template
            .metadata
            .clone()
            .expect("meta")
            .annotations
            .expect("ann")["checksum/config"]
            .clone()
    };
    let first_checksum = checksum(&deployment);

    // A re-run changes nothing and says so.
    let out = cluster.run(&["--engine", "manifests"]);
    let text = ok(&out);
    assert!(text.lines().all(|l| l.ends_with(" unchanged")), "{text}");
    assert!(
        stderr(&out).contains("nothing to change"),
        "{}",
        stderr(&out)
    );

    // Changing the toolsets changes the config, so the pod template's checksum rolls it.
    let text = ok(&cluster.run(&["--engine", "manifests", "--toolsets", "core,config,helm"]));
    assert!(
        text.contains("configmap/kubernetes-mcp-server configured"),
        "{text}"
    );
    assert!(
        text.contains("deployment.apps/kubernetes-mcp-server configured"),
        "{text}"
    );
    let rolled = deployments
        .get("kubernetes-mcp-server")
        .await
        .expect("deployment");
    assert_ne!(checksum(&rolled), first_checksum);

    // Going internal prunes the Ingress the earlier run made.
    let text = ok(&cluster.run(&[
        "--engine",
        "manifests",
        "--toolsets",
        "core,config,helm",
        "--internal",
    ]));
    assert!(
        text.contains("ingress.networking.k8s.io/kubernetes-mcp-server deleted"),
        "{text}"
    );
    assert!(
        ingresses
            .get_opt("kubernetes-mcp-server")
            .await
            .expect("get")
            .is_none()
    );

    // uninstall removes what install made and leaves RBAC (and OAuth) objects alone.
    cluster.create_named::<ClusterRole>("mcp-readonly").await;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let text = ok(&cluster.run(&["uninstall", "--yes"]));
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().all(|l| l.ends_with(" deleted")), "{text}");
    assert!(
        deployments
            .get_opt("kubernetes-mcp-server")
            .await
            .expect("get")
            .is_none()
    );
    assert!(roles.get_opt("mcp-readonly").await.expect("get").is_some());
    let out = cluster.run(&["uninstall", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "nothing left to uninstall");
}

#[tokio::test]
async fn guardrails_refuse_with_exit_2_and_change_nothing() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let [typo, integer_port, open] = write_files(
        dir.path(),
        [
            ("typo.toml", "requre_oauth = true\n"),
            ("port.toml", "port = 8080\n"),
            ("open.toml", "require_oauth = false\n"),
        ],
    );
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["--auth", "none"], &["--auth none on a public route"]),
        (
            vec![
                "--auth",
                "oidc",
                "--issuer",
                "https://idp.example.com",
                "--client-id",
                "mcp",
            ],
            &["does not accept tokens from https://idp.example.com"],
        ),
        (
            vec!["--auth", "entra"],
            &["needs the tenant and the app's client ID"],
        ),
        (
            vec![
                "--image",
                "quay.io/containers/kubernetes_mcp_server:v0.0.60",
            ],
            &["needs kubernetes-mcp-server v0.0.63"],
        ),
        (
            vec!["--image", "quay.io/containers/kubernetes_mcp_server"],
            &["with a tag or digest"],
        ),
        (
            vec!["--extra-config", &typo],
            &["did you mean `require_oauth`"],
        ),
        (vec!["--extra-config", &integer_port], &["port"]),
        (vec!["--extra-config", &open], &["public"]),
        (
            vec!["--host", "https://mcp.example.com"],
            &["--host <HOST>", "is not a valid host name"],
        ),
        (vec!["--toolsets", "core,kubectl"], &["unknown toolset"]),
        (
            vec!["--release", "MCP"],
            &["--release <NAME>", "is not a valid release name"],
        ),
        (vec!["--auth", "ldap"], &["unknown auth mode \"ldap\""]),
        (
            vec!["--token", "sha256~abc"],
            &["--token cannot be handed to helm"],
        ),
    ];
    // A token must never be echoed.
    cluster.assert_refused(&cases, "sha256~abc");
}

/// A `helm` on PATH that records its arguments and the mode of any values file, then runs
/// the real helm.
fn helm_wrapper(dir: &Path) -> PathBuf {
    let real = oc_mcp_sandbox::tools::helm().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.join("helm-argv.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nfor a in \"$@\"; do case \"$a\" in *values.yaml) stat -c 'values-mode %a' \"$a\" >> '{log}';; esac; done\nexec '{real}' \"$@\"\n",
        log = log.display(),
        real = real.display()
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let path = bin.join("helm");
    std::fs::write(&path, script).expect("wrapper");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    bin
}

#[tokio::test]
async fn helm_engine_installs_the_chart_with_the_overlay_and_no_secret_in_argv() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let bin = helm_wrapper(dir.path());
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-chart");
    let helm_home = dir.path().join("helm-home");
    let path = std::env::join_paths([
        bin.clone(),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/bin"),
    ])
    .expect("PATH");
    let install = |extra: &[&str]| {
        let mut args = vec!["--chart", chart];
        args.extend_from_slice(extra);
        cluster
            .command("admin", &args)
            .env("PATH", &path)
            .env("HELM_CONFIG_HOME", &helm_home)
            .env("HELM_CACHE_HOME", &helm_home)
            .env("HELM_DATA_HOME", &helm_home)
            .output()
            .expect("run")
    };
    let text = ok(&install(&[]));
    assert!(
        text.contains("project.project.openshift.io/mcp-server created"),
        "{text}"
    );
    assert!(
        text.contains("release.helm.sh/kubernetes-mcp-server configured"),
        "{text}"
    );

    // The release exists with the values of the overlay.
    let real_helm = oc_mcp_sandbox::tools::helm().unwrap_or_else(|e| panic!("{e}"));
    let values = Command::new(&real_helm)
        .args([
            "get",
            "values",
            "kubernetes-mcp-server",
            "-n",
            "mcp-server",
            "-o",
            "json",
            "--kubeconfig",
        ])
        .arg(
            cluster
                .sandbox
                .kubeconfig_path("admin")
                .expect("kubeconfig"),
        )
        .env("HELM_CONFIG_HOME", &helm_home)
        .env("HELM_CACHE_HOME", &helm_home)
        .output()
        .expect("helm get values");
    let values: serde_json::Value = serde_json::from_slice(&values.stdout).expect("values json");
    assert_eq!(values["openshift"], true);
    assert_eq!(values["ingress"]["host"], HOST);
    assert_eq!(values["serviceAccount"]["automountToken"], true);
    assert_eq!(values["rbac"]["create"], false);
    assert_eq!(values["image"]["version"], "v0.0.67");
    assert_eq!(values["config"]["read_only"], true);
    assert_eq!(values["config"]["port"], "8080");
    assert!(
        cluster
            .live_config()
            .await
            .contains("skip_jwt_verification = true")
    );

    // helm saw no token and no secret; the values file was private and is gone.
    let log = std::fs::read_to_string(dir.path().join("helm-argv.log")).expect("argv log");
    let token = cluster.sandbox.token("admin").expect("token");
    assert!(!log.contains(&token), "the API token reached helm's argv");
    assert!(
        !log.contains("--set"),
        "no value may travel on helm's command line: {log}"
    );
    assert!(log.contains("values-mode 600"), "{log}");
    let values_file = log
        .lines()
        .find(|l| l.starts_with("upgrade"))
        .and_then(|l| l.split_whitespace().find(|a| a.ends_with("values.yaml")))
        .expect("values file in argv")
        .to_owned();
    assert!(
        !Path::new(&values_file).exists(),
        "the values file must be removed afterwards"
    );

    // uninstall goes through helm for a helm release.
    let text = ok(&cluster
        .command("admin", &["uninstall", "--yes"])
        .env("PATH", &path)
        .env("HELM_CONFIG_HOME", &helm_home)
        .env("HELM_CACHE_HOME", &helm_home)
        .output()
        .expect("run"));
    assert_eq!(text, "release.helm.sh/kubernetes-mcp-server deleted\n");
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.admin().await, "mcp-server");
    assert!(
        config_maps
            .get_opt("kubernetes-mcp-server")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn wait_returns_when_the_real_server_runs_and_the_route_is_admitted() {
    use k8s_openapi::api::core::v1::Pod;
    use oc_mcp_common::openshift::Route;

    let cluster = Cluster::start().await;
    let out = cluster.run(&["--engine", "manifests", "--wait", "--timeout", "90s"]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("MCP endpoint: https://{HOST}/mcp")),
        "{err}"
    );
    assert!(err.contains("next: oc mcp-verify -n mcp-server"), "{err}");

    let client = cluster.admin().await;
    let routes: Api<Route> = Api::namespaced(client.clone(), "mcp-server");
    let route = routes
        .list(&kube::api::ListParams::default())
        .await
        .expect("routes")
        .items
        .into_iter()
        .find(|r| r.spec.host.as_deref() == Some(HOST))
        .expect("the Route OpenShift made from the Ingress");
    assert!(
        route.metadata.name.as_deref().is_some_and(
            |n| n.starts_with("kubernetes-mcp-server-") && n != "kubernetes-mcp-server-"
        )
    );
    assert!(route.admitted());

    // The server answers through the router: /healthz 200, /mcp 401 without a token.
    let addr = cluster
        .sandbox
        .resolve(HOST)
        .expect("the router serves the host");
    oc_mcp_common::install_crypto_provider();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cluster.sandbox.ca_pem().as_bytes()).expect("ca"),
        )
        .resolve(HOST, addr)
        .build()
        .expect("client");
    let health = http
        .get(format!("https://{HOST}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let mcp = http
        .post(format!("https://{HOST}/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        .send()
        .await
        .expect("mcp");
    assert_eq!(mcp.status(), 401);

    // A config change rolls the pod: a new pod runs the new config.
    let pods: Api<Pod> = Api::namespaced(client, "mcp-server");
    let names = |list: Vec<Pod>| {
        list.into_iter()
            .filter_map(|p| p.metadata.name)
            .collect::<Vec<_>>()
    };
    let before = names(
        pods.list(&kube::api::ListParams::default())
            .await
            .expect("pods")
            .items,
    );
    ok(&cluster.run(&[
        "--engine",
        "manifests",
        "--toolsets",
        "core,config,helm",
        "--wait",
        "--timeout",
        "90s",
    ]));
    let after = names(
        pods.list(&kube::api::ListParams::default())
            .await
            .expect("pods")
            .items,
    );
    assert!(
        after.iter().any(|p| !before.contains(p)),
        "a new pod after the rollout: {before:?} -> {after:?}"
    );
}

#[tokio::test]
async fn wait_times_out_with_the_evidence_when_the_server_cannot_start() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    // A log file the server cannot open makes it exit at startup, so the pod crash-loops.
    let extra = dir.path().join("extra.toml");
    std::fs::write(
        &extra,
        "cluster_provider_strategy = \"in-cluster\"\nlog_file = \"/nonexistent/dir/log\"\n",
    )
    .expect("write");
    let out = cluster.run(&[
        "--engine",
        "manifests",
        "--extra-config",
        &extra.display().to_string(),
        "--wait",
        "--timeout",
        "20s",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not ready after 20s"), "{err}");
    assert!(
        err.contains("pod kubernetes-mcp-server-"),
        "the pod status is shown: {err}"
    );
}

#[tokio::test]
async fn token_exchange_secret_travels_in_a_secret_drop_in_the_real_server_reads() {
    use k8s_openapi::api::core::v1::Secret;

    let cluster = Cluster::start().await;
    let client = cluster.admin().await;
    cluster.create_named::<Namespace>("mcp-server").await;
    // What `oc mcp-oauth secret set` stores.
    let secret_value = "exchange-client-secret-0123456789";
    let stored: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "mcp-oauth-credentials", "namespace": "mcp-server"},
        "stringData": {"sts_client_secret": secret_value}
    }))
    .expect("secret");
    Api::<Secret>::namespaced(client.clone(), "mcp-server")
        .create(&PostParams::default(), &stored)
        .await
        .expect("store the client secret");
    let oidc = cluster.oidc_flags("mcp-server");
    let mut args = vec![
        "--engine",
        "manifests",
        "--token-exchange",
        "rfc8693",
        "--sts-audience",
        "openshift-api",
    ];
    args.extend(oidc.iter().map(String::as_str));
    // Rendering shows the Secret without its value.
    let mut render = vec!["render"];
    render.extend_from_slice(&args);
    let text = ok(&cluster.run(&render));
    assert!(
        text.contains("kubernetes-mcp-server-config-secrets") && text.contains("<redacted>"),
        "{text}"
    );
    assert!(!text.contains(secret_value));

    let mut install = args.clone();
    install.extend_from_slice(&["--wait", "--timeout", "90s", "-vvv"]);
    let out = cluster.run(&install);
    ok(&out);
    assert!(
        !stderr(&out).contains(secret_value) && !stdout(&out).contains(secret_value),
        "never printed"
    );

    let main = cluster.live_config().await;
    assert!(
        main.contains("[token_exchange]") && !main.contains(secret_value),
        "{main}"
    );
    let drop_in = Api::<Secret>::namespaced(client.clone(), "mcp-server")
        .get("kubernetes-mcp-server-config-secrets")
        .await
        .expect("the drop-in Secret");
    let file = String::from_utf8(
        drop_in.data.expect("data")["50-token-exchange.toml"]
            .0
            .clone(),
    )
    .expect("utf8");
    assert!(file.contains(secret_value));
    let deployments: Api<Deployment> = Api::namespaced(client, "mcp-server");
    let container = deployments
        .get("kubernetes-mcp-server")
        .await
        .expect("deployment")
        .spec
        .template
        .spec
        .expect("pod")
        .containers[0]
        .clone();
    let command_line = container.args.expect("args").join(" ");
    assert!(
        command_line.contains("--config-dir /etc/kubernetes-mcp-server-secrets"),
        "{command_line}"
    );
    assert!(
        !command_line.contains(secret_value),
        "no secret on the command line"
    );
}
