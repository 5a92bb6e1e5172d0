//! The install's side of "every unsafe state is refused or undone": hand edits are restored by
//! a re-run, an interrupted run gives its Lease back, a killed run's Lease is taken over on
//! its host, malformed tokens and unpinned images are refused, a server dry run into a new
//! namespace is reported truthfully, and plain Kubernetes gets TLS or a refusal.

// Story tests read top to bottom; splitting them would hide the order.
#![allow(clippy::too_many_lines)]

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use k8s_openapi::api::{
    apps::v1::Deployment, coordination::v1::Lease, core::v1::ConfigMap, networking::v1::Ingress,
};
use kube::{Api, api::PostParams};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

use crate::support::{Cluster, ok, text, write_files};

const LEASE: &str = "oc-mcp-install-kubernetes-mcp-server";

#[tokio::test]
async fn a_rerun_restores_what_a_hand_edit_changed_and_says_so() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["--engine", "manifests"]));
    let client = cluster.admin().await;
    let toml = cluster.live_config().await;
    assert!(toml.contains("read_only = true"), "{toml}");
    // What `kubectl edit` sends: an update under its own field manager.
    let edited = toml.replace("read_only = true", "read_only = false");
    let release = "kubernetes-mcp-server";
    let edit = serde_json::json!({"data": {"config.toml": edited}});
    cluster
        .hand_edit::<ConfigMap>(release, "kubectl-edit", edit)
        .await;
    let scale = serde_json::json!({"spec": {"replicas": 3}});
    cluster
        .hand_edit::<Deployment>(release, "ops-console", scale)
        .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "mcp-server");

    let out = cluster.run(&["--engine", "manifests"]);
    let stdout = ok(&out);
    assert!(
        stdout.contains(
            "configmap/kubernetes-mcp-server configured: restored read_only (changed by kubectl-edit)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "deployment.apps/kubernetes-mcp-server configured: restored .spec.replicas (changed by ops-console)"
        ),
        "{stdout}"
    );
    assert!(
        !text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(cluster.live_config().await, toml, "the safe config is back");
    let replicas = deployments
        .get("kubernetes-mcp-server")
        .await
        .expect("deployment")
        .spec
        .replicas;
    assert_eq!(replicas, Some(1));
    // Restored once: the next run has nothing to take back.
    let stdout = ok(&cluster.run(&["--engine", "manifests"]));
    assert!(
        stdout.lines().all(|l| l.ends_with(" unchanged")),
        "{stdout}"
    );

    // An object of the release's name that oc-mcp never wrote is not taken over.
    let foreign: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "other-kubernetes-mcp-server", "namespace": "mcp-server"},
        "data": {"config.toml": "read_only = false\n"}
    }))
    .expect("cm");
    Api::<ConfigMap>::namespaced(client.clone(), "mcp-server")
        .create(
            &PostParams {
                field_manager: Some("kubectl-create".into()),
                ..PostParams::default()
            },
            &foreign,
        )
        .await
        .expect("foreign configmap");
    let before = cluster.writes().len();
    let out = cluster.run(&["--engine", "manifests", "--release", "other"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was not made by oc-mcp (written by kubectl-create)"),
        "{err}"
    );
    assert!(err.contains("choose another --release"), "{err}");
    let writes: Vec<String> = cluster.writes()[before..]
        .iter()
        .filter(|w| !w.contains("/leases"))
        .cloned()
        .collect();
    assert!(
        writes.is_empty(),
        "nothing of the release was applied: {writes:?}"
    );
}

async fn wait_for_lease(leases: &Api<Lease>) {
    for _ in 0..200 {
        if leases.get_opt(LEASE).await.expect("get lease").is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the install never took its Lease");
}

#[tokio::test]
async fn an_interrupted_install_gives_its_lease_back_and_exits_130_or_143() {
    use oc_mcp_sandbox::faults::{FaultKind, FaultRule};
    let cluster = Cluster::start().await;
    let leases: Api<Lease> = Api::namespaced(cluster.admin().await, "mcp-server");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // The Deployment's apply hangs, so the signal arrives mid-apply, lock held.
        cluster.sandbox.add_fault(
            FaultRule::new(FaultKind::Latency(Duration::from_secs(30)))
                .path("/apis/apps/v1/namespaces/mcp-server/deployments/*")
                .verbs(&["PATCH"])
                .max(1),
        );
        let child = cluster
            .command("admin", &["--engine", "manifests"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        wait_for_lease(&leases).await;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {err}");
        assert!(err.contains(&format!("SIG{signal}")), "{err}");
        assert!(err.contains("its lock was released"), "{err}");
        assert!(
            leases.get_opt(LEASE).await.expect("get").is_none(),
            "SIG{signal}: the Lease must be gone"
        );
        cluster.sandbox.clear_faults();
    }
    // The next run is not refused and converges.
    ok(&cluster.run(&["--engine", "manifests"]));
}

fn this_host() -> String {
    let out = Command::new("uname").arg("-n").output().expect("uname");
    text(&out.stdout).trim().to_owned()
}

/// The pid of a process that has just exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

async fn hold_lease(leases: &Api<Lease>, holder: &str) {
    let _ = leases
        .delete(LEASE, &kube::api::DeleteParams::default())
        .await;
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    );
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": LEASE, "namespace": "mcp-server"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 120,
                 "acquireTime": now, "renewTime": now}
    }))
    .expect("lease");
    leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
}

#[tokio::test]
async fn a_lease_left_by_a_killed_run_on_this_host_is_taken_over_at_once() {
    let cluster = Cluster::start().await;
    ok(&cluster.run(&["--engine", "manifests"]));
    let leases: Api<Lease> = Api::namespaced(cluster.admin().await, "mcp-server");
    let host = this_host();

    // A run on this host that was SIGKILLed: its process is gone.
    hold_lease(
        &leases,
        &format!("oc-mcp@{host}/pid-{}/deadbeef", dead_pid()),
    )
    .await;
    let out = cluster.run(&["--engine", "manifests"]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("a process on this host that no longer runs"),
        "{}",
        text(&out.stderr)
    );
    assert!(leases.get_opt(LEASE).await.expect("get").is_none());

    // Another host's run, and a live local process, are still waited for.
    for holder in [
        format!("oc-mcp@build-agent-7/pid-{}/deadbeef", dead_pid()),
        format!("oc-mcp@{host}/pid-{}/deadbeef", std::process::id()),
    ] {
        hold_lease(&leases, &holder).await;
        let out = cluster.run(&["--engine", "manifests"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{holder}: {err}");
        assert!(
            err.contains(&format!("another oc-mcp run ({holder}")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_server_dry_run_into_a_new_namespace_reports_every_object_truthfully() {
    let cluster = Cluster::start().await;
    let out = cluster.run(&["--engine", "manifests", "--dry-run=server"]);
    let stdout = ok(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert_eq!(
        lines[0],
        "project.project.openshift.io/mcp-server created (server dry run)"
    );
    for line in &lines[1..] {
        assert!(
            line.ends_with(" created (server dry run): not sent: its namespace does not exist yet"),
            "{line}"
        );
    }
    let err = text(&out.stderr);
    assert!(
        err.contains("the other 5 objects were checked by oc-mcp alone"),
        "{err}"
    );
    assert!(!err.contains("of 6 objects applied"), "{err}");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.admin().await);
    assert!(
        namespaces
            .get_opt("mcp-server")
            .await
            .expect("get")
            .is_none(),
        "a dry run creates nothing"
    );
}

#[tokio::test]
async fn bad_inputs_are_refused_with_exit_2_and_change_nothing() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let [loud, six, writable, shared] = write_files(
        dir.path(),
        [
            ("log9.toml", "log_level = 9\n"),
            ("log6.toml", "log_level = 6\n"),
            ("rw.toml", "read_only = false\n"),
            ("shared.toml", "cluster_auth_mode = \"kubeconfig\"\n"),
        ],
    );
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["--extra-config", &loud],
            &["log_level = 9", "Secrets included", "at most 5"],
        ),
        (
            vec!["--extra-config", &six, "--internal"],
            &["log_level = 6", "tool result", "at most 5"],
        ),
        (
            vec!["--extra-config", &writable],
            &["read_only is false", "set read_only = true"],
        ),
        (
            vec!["--extra-config", &shared],
            &["cluster_auth_mode = \"kubeconfig\""],
        ),
        (
            vec!["--image", "quay.io/containers/kubernetes_mcp_server:latest"],
            &[
                "is not pinned",
                "`latest` moves",
                "--image quay.io/containers/kubernetes_mcp_server:v0.0.67",
            ],
        ),
        (
            vec!["--image", "quay.io/containers/kubernetes_mcp_server"],
            &["is not pinned", "no tag or digest"],
        ),
        (
            vec!["--host", "10.0.0.1"],
            &["is an IP address", "DNS name"],
        ),
        (vec!["--host", "[2001:db8::1]"], &["is an IP address"]),
        (
            vec![
                "--auth",
                "entra",
                "--tenant",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "--client-id",
                "app",
                "--scopes",
                "openid,profile",
            ],
            &["names no scope of the app", "api://app/access_as_user"],
        ),
    ];
    let on_both_engines: Vec<(Vec<&str>, &[&str])> = cases
        .iter()
        .flat_map(|(args, expected)| {
            ["helm", "manifests"]
                .map(|engine| ([&["--engine", engine][..], args].concat(), *expected))
        })
        .collect();
    cluster.assert_refused(&on_both_engines, "sha256~");
}

/// A kubeconfig whose user's token has a control character in it.
fn broken_kubeconfig(dir: &std::path::Path, sandbox: &Sandbox, token: &str) -> PathBuf {
    let good = std::fs::read_to_string(sandbox.kubeconfig_path("admin").expect("kubeconfig"))
        .expect("read");
    let mut config: serde_json::Value = serde_saphyr::from_str(&good).expect("yaml");
    for user in config["users"].as_array_mut().expect("users") {
        user["user"] = serde_json::json!({"token": token});
    }
    let path = dir.join(format!("broken-{}.json", token.len()));
    std::fs::write(&path, serde_json::to_string(&config).expect("json")).expect("write");
    path
}

#[tokio::test]
async fn a_token_with_a_control_character_is_exit_2_in_every_plugin_never_a_panic() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let user = {
        let good = std::fs::read_to_string(cluster.sandbox.kubeconfig_path("admin").expect("kc"))
            .expect("read");
        let config: serde_json::Value = serde_saphyr::from_str(&good).expect("yaml");
        config["users"][0]["name"]
            .as_str()
            .expect("user name")
            .to_owned()
    };
    let secret_part = "sha256~secretpart0123456789";
    // Every plugin is built next to this one by `cargo build --workspace --bins`.
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-mcp_install"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let plugins: [(&str, &[&str]); 5] = [
        ("kubectl-mcp_install", &["render"]),
        ("kubectl-mcp_rbac", &["status"]),
        ("kubectl-mcp_oauth", &["status"]),
        ("kubectl-mcp_verify", &[]),
        ("kubectl-mcp_client", &["token"]),
    ];
    let mut ran = Vec::new();
    for token in [
        format!("{secret_part}\nrest"),
        format!("{secret_part}\u{1}rest"),
    ] {
        let kubeconfig = broken_kubeconfig(dir.path(), &cluster.sandbox, &token);
        for (binary, args) in plugins {
            let bin = bin_dir.join(binary);
            if !bin.exists() {
                continue;
            }
            ran.push(binary);
            let out = Command::new(&bin)
                .args(args)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .env_remove("KUBECONFIG")
                .env("RUST_BACKTRACE", "0")
                .output()
                .expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{binary}: {err}");
            assert!(
                err.contains(&format!("kubeconfig user {user:?}"))
                    && err.contains("control character")
                    && err.contains("oc login"),
                "{binary}: {err}"
            );
            assert!(!err.contains("panicked"), "{binary}: {err}");
            let all = format!("{err}{}", text(&out.stdout));
            assert!(
                !all.contains("secretpart"),
                "{binary} printed the token: {all}"
            );
        }
    }
    assert!(ran.contains(&"kubectl-mcp_install"), "{ran:?}");
    // `--token` with a line break: the same refusal, naming the flag.
    let out = cluster.run(&["render", "--token", "abc\ndef"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--token contains a control character"),
        "{err}"
    );
    assert!(!err.contains("abc"), "{err}");
}

#[tokio::test]
async fn plain_kubernetes_gets_tls_on_its_ingress_or_a_refusal() {
    let cluster = Cluster::start_with(SandboxConfig {
        flavour: oc_mcp_sandbox::flavour::Flavour::Kubernetes,
        cert_manager: true,
        ..SandboxConfig::default()
    })
    .await;
    let host = "mcp.apps.sandbox.example.com";
    let oidc_flags = cluster.oidc_flags("mcp-server");
    let mut oidc = vec!["--engine", "manifests", "--host", host];
    oidc.extend(oidc_flags.iter().map(String::as_str));
    let with = |extra: &[&'static str]| -> Vec<&str> { [&oidc[..], extra].concat() };
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            with(&[]),
            &[
                "needs TLS on its Ingress",
                "--tls-secret",
                "--cluster-issuer",
                "--internal",
            ],
        ),
        (
            vec![
                "--engine",
                "manifests",
                "--host",
                host,
                "--tls-secret",
                "mcp-tls",
            ],
            &["--auth openshift needs OpenShift", "--auth oidc"],
        ),
        (
            vec!["--auth", "none", "--host", host],
            &["needs TLS on its Ingress"],
        ),
    ];
    cluster.assert_refused(&cases, "sha256~");

    // cert-manager's annotation and a tls section naming the Secret it fills.
    let stdout = ok(&cluster.run(&with(&["--cluster-issuer", "sandbox-ca"])));
    assert!(
        stdout.starts_with("namespace/mcp-server created\n"),
        "{stdout}"
    );
    let ingresses: Api<Ingress> = Api::namespaced(cluster.admin().await, "mcp-server");
    let ingress = ingresses
        .get("kubernetes-mcp-server")
        .await
        .expect("ingress");
    let annotations = ingress.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("cert-manager.io/cluster-issuer")
            .map(String::as_str),
        Some("sandbox-ca")
    );
    assert!(
        !annotations.contains_key("route.openshift.io/termination"),
        "{annotations:?}"
    );
    let tls = ingress.spec.expect("spec").tls.expect("a tls section");
    assert_eq!(tls[0].hosts.as_deref(), Some(&[host.to_owned()][..]));
    assert_eq!(
        tls[0].secret_name.as_deref(),
        Some("kubernetes-mcp-server-tls")
    );

    // A named Secret instead: the same Ingress, now naming it.
    let stdout = ok(&cluster.run(&with(&["--tls-secret", "mcp-tls"])));
    assert!(
        stdout.contains("ingress.networking.k8s.io/kubernetes-mcp-server configured"),
        "{stdout}"
    );
    let ingress = ingresses
        .get("kubernetes-mcp-server")
        .await
        .expect("ingress");
    assert_eq!(
        ingress.spec.expect("spec").tls.expect("tls")[0]
            .secret_name
            .as_deref(),
        Some("mcp-tls")
    );
}

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

/// What an MCP client that follows the authorization spec does by itself: protected-resource
/// metadata, authorization-server metadata, a PKCE login asking for the metadata's `resource`
/// (RFC 8707), then initialize with that token. The install's audience must be what it gets.
#[tokio::test]
async fn in_oidc_mode_a_spec_following_login_yields_the_audience_the_server_expects() {
    let resource = format!("https://{HOST}/mcp");
    let cluster = Cluster::start_with(SandboxConfig {
        trust_issuer: true,
        oidc_audience: resource.clone(),
        ..SandboxConfig::default()
    })
    .await;
    // The sandbox publishes its trust of the issuer for that audience, as OpenShift's external
    // OIDC configuration does.
    let oidc = cluster.oidc_flags("mcp-client");
    let mut args = vec!["--engine", "manifests", "--wait", "--timeout", "90s"];
    args.extend(oidc.iter().map(String::as_str));
    ok(&cluster.run(&args));

    oc_mcp_common::install_crypto_provider();
    let addr = cluster
        .sandbox
        .resolve(HOST)
        .expect("the router serves the host");
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cluster.sandbox.ca_pem().as_bytes()).expect("ca"),
        )
        .resolve(HOST, addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let json =
        |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.expect("json") };
    let prm = json(
        http.get(format!(
            "https://{HOST}/.well-known/oauth-protected-resource/mcp"
        ))
        .send()
        .await
        .expect("metadata"),
    )
    .await;
    assert_eq!(prm["resource"], resource.as_str(), "{prm}");
    let server = prm["authorization_servers"][0]
        .as_str()
        .expect("server")
        .to_owned();
    let meta = json(
        http.get(format!("{server}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("as metadata"),
    )
    .await;
    let verifier = "a-pkce-verifier-of-enough-length-0123456789abcdef";
    let redirect_uri = "http://127.0.0.1:8976/callback";
    let url = reqwest::Url::parse_with_params(
        meta["authorization_endpoint"].as_str().expect("authorize"),
        &[
            ("response_type", "code"),
            ("client_id", "mcp-client"),
            ("redirect_uri", redirect_uri),
            ("code_challenge", verifier),
            ("code_challenge_method", "plain"),
            ("scope", "openid"),
            ("resource", prm["resource"].as_str().expect("resource")),
            ("login_hint", "member"),
        ],
    )
    .expect("url");
    let authorize = http.get(url).send().await.expect("authorize");
    let location = authorize
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect with the code")
        .to_owned();
    let code = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = json(
        http.post(meta["token_endpoint"].as_str().expect("token endpoint"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                reqwest::Url::parse_with_params(
                    "http://form.invalid/",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect_uri),
                        ("client_id", "mcp-client"),
                        ("code_verifier", verifier),
                    ],
                )
                .expect("form")
                .query()
                .unwrap_or_default()
                .to_owned(),
            )
            .send()
            .await
            .expect("token"),
    )
    .await;
    let token = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let initialize = |token: String| {
        http.post(format!("https://{HOST}/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .bearer_auth(token)
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
            .send()
    };
    let status = initialize(token).await.expect("initialize").status();
    assert_eq!(
        status, 200,
        "the server accepts the token a spec login yields"
    );
    // A token for the client ID (what the audience used to be) is not for this server.
    let other = cluster
        .sandbox
        .oidc_token("member", Some("mcp-client"), Duration::from_secs(600))
        .expect("token");
    let status = initialize(other).await.expect("initialize").status();
    assert_eq!(status, 401);
}
