//! The whole guide, end to end, as a user runs it: the plugins through the real kubectl against
//! the sandbox, where the real kubernetes-mcp-server runs behind a TLS route. Then the failure
//! stories a reader of the guide meets, each prevented or detected with the right message.

use std::{process::Output, time::Duration};

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use oc_mcp_e2e::{
    kubectl_shell::{INSTALL_AND_WAIT, KubectlShell},
    text, workspace_root,
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

/// A sandbox and the shell that runs the plugins as its administrator.
struct Guide {
    sandbox: Sandbox,
    shell: KubectlShell,
}

impl Guide {
    async fn start(config: SandboxConfig) -> Self {
        let (sandbox, shell) = KubectlShell::with_sandbox(config, HOST).await;
        Self { sandbox, shell }
    }

    /// `kubectl <args>` as the administrator, the plugins and helm first on PATH; `vars`
    /// carry tokens.
    async fn kubectl(&self, args: &[&str], vars: &[(&str, String)]) -> Output {
        self.shell
            .kubectl("admin", args)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .expect("run kubectl")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, &[]).await;
        assert!(
            out.status.success(),
            "kubectl {args:?}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `mcp-verify` through the router: the member's token for MCP, the outsider's for the denial.
    async fn verify(&self, token: String, extra: &[&str]) -> Output {
        let addr = self
            .sandbox
            .resolve(HOST)
            .expect("the router serves the route host");
        let connect_to = format!("{HOST}:443:{}:{}", addr.ip(), addr.port());
        let ca = self.sandbox.dir().join("ca.crt").display().to_string();
        let mut args = vec![
            "mcp-verify",
            "-o",
            "json",
            "--connect-to",
            &connect_to,
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_TOKEN",
            "--denied-token-env",
            "MCP_DENIED_TOKEN",
        ];
        args.extend_from_slice(extra);
        let outsider = self.sandbox.token("outsider").expect("token");
        // `--connect-to` already sends the route host to the router, so verify needs no DNS;
        // through the proxy's tunnel reqwest hands verify no peer certificate, and the
        // endpoint.tls row would warn that it has none to inspect.
        let direct = format!("127.0.0.1,localhost,{HOST}");
        self.kubectl(
            &args,
            &[
                ("MCP_TOKEN", token),
                ("MCP_DENIED_TOKEN", outsider),
                ("NO_PROXY", direct),
            ],
        )
        .await
    }

    async fn admin(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify -o json: {e}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// The status of every check, as `id=status` strings.
fn statuses(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["id"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn status_of(report: &serde_json::Value, id: &str) -> String {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["status"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

/// Every check passes (or is informational), except the ones named as legitimately skipped.
#[track_caller]
fn assert_all_pass(out: &Output, skipped: &[&str]) {
    let report = report(out);
    let bad: Vec<String> = statuses(&report)
        .into_iter()
        .filter(|s| !s.ends_with("=pass") && !s.ends_with("=info"))
        .filter(|s| !skipped.iter().any(|id| *s == format!("{id}=skip")))
        .collect();
    assert!(
        bad.is_empty() && out.status.success(),
        "not all checks pass: {bad:?}\n{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn openshift_mode_with_the_manifests_engine() {
    let guide = Guide::start(SandboxConfig::default()).await;
    guide.ok(&["mcp-rbac", "role", "--profile", "full"]).await;
    guide.ok(&["mcp-rbac", "bind", "mcp-users"]).await;
    guide.ok(&INSTALL_AND_WAIT).await;
    guide.ok(&["mcp-oauth", "register", "openshift"]).await;
    let member = guide.sandbox.token("member").expect("token");
    assert_all_pass(&guide.verify(member, &[]).await, &[]);
    let config: serde_json::Value = serde_json::from_str(
        &guide
            .ok(&[
                "mcp-client",
                "config",
                "--for",
                "vscode",
                "--url",
                &format!("https://{HOST}/mcp"),
            ])
            .await,
    )
    .expect("vscode config");
    assert_eq!(config["servers"]["kubernetes-mcp-server"]["type"], "http");
}

#[tokio::test]
async fn openshift_mode_with_the_helm_engine() {
    let guide = Guide::start(SandboxConfig::default()).await;
    let chart = workspace_root().join("plugins/install/tests/fixtures/test-chart");
    guide
        .ok(&["mcp-rbac", "role", "--profile", "minimal"])
        .await;
    guide.ok(&["mcp-rbac", "bind", "mcp-users"]).await;
    let out = guide
        .ok(&[
            "mcp-install",
            "--chart",
            &chart.display().to_string(),
            "--wait",
            "--timeout",
            "120s",
        ])
        .await;
    assert!(
        out.contains("release.helm.sh/kubernetes-mcp-server"),
        "{out}"
    );
    guide.ok(&["mcp-oauth", "register", "openshift"]).await;
    let member = guide.sandbox.token("member").expect("token");
    let out = guide.verify(member, &[]).await;
    let report = report(&out);
    assert_eq!(
        status_of(&report, "cluster.install"),
        "pass",
        "{:?}",
        statuses(&report)
    );
    assert_all_pass(&out, &[]);
}

#[tokio::test]
async fn oidc_mode_when_the_cluster_trusts_the_issuer() {
    // The audience a client's login yields is the metadata's `resource`, the MCP endpoint:
    // the cluster trusts the issuer for it (install checks that it does).
    let audience = format!("https://{HOST}/mcp");
    let guide = Guide::start(SandboxConfig {
        trust_issuer: true,
        oidc_audience: audience.clone(),
        ..SandboxConfig::default()
    })
    .await;
    let issuer = guide.sandbox.issuer_url().to_owned();
    // The cluster administrator configured external OIDC for this issuer and audience: the
    // sandbox's Authentication says so, as OpenShift's does.
    guide.ok(&["mcp-rbac", "role"]).await;
    guide.ok(&["mcp-rbac", "bind", "mcp-users"]).await;
    // The sandbox issuer's certificate comes from the sandbox CA, as a private issuer's would.
    let ca = guide.sandbox.dir().join("ca.crt").display().to_string();
    guide
        .ok(&[
            "mcp-install",
            "--engine",
            "manifests",
            "--auth",
            "oidc",
            "--issuer",
            &issuer,
            "--client-id",
            "mcp-server",
            "--issuer-ca",
            &ca,
            "--wait",
            "--timeout",
            "120s",
        ])
        .await;
    let jwt = guide
        .sandbox
        .oidc_token("member", None, Duration::from_secs(3600))
        .expect("jwt");
    let out = guide.verify(jwt, &["--skip", "passthrough.denied"]).await;
    let report = report(&out);
    assert_eq!(status_of(&report, "config.auth-mode"), "pass");
    assert_eq!(
        status_of(&report, "discovery.protected-resource"),
        "pass",
        "{:?}",
        statuses(&report)
    );
    // No OpenShift OAuthClient in oidc mode: the issuer's own client is used.
    // `--login` opens a browser: the client's own login is tried in attack_matrix.rs.
    assert_all_pass(
        &out,
        &[
            "route.oauth-redirect",
            "route.oauth-scopes",
            "passthrough.denied",
            "login.pkce",
        ],
    );

    // An opaque OpenShift token against this JWT-validating server is refused: exit 3.
    let opaque = guide.sandbox.token("member").expect("token");
    let out = guide.verify(opaque, &["--only", "mcp"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[tokio::test]
async fn failure_stories_of_the_guide_are_prevented_or_detected() {
    let guide = Guide::start(SandboxConfig::default()).await;
    guide.ok(&["mcp-rbac", "role"]).await;
    guide.ok(&["mcp-rbac", "bind", "mcp-users"]).await;

    // 1. The guide's `ingress.host: ""` fails helm install; mcp-install derives the host.
    let chart = workspace_root().join("plugins/install/tests/fixtures/test-chart");
    let helm = oc_mcp_sandbox::tools::helm().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(&helm)
        .args(["template", "kubernetes-mcp-server"])
        .arg(&chart)
        .args(["--set", "ingress.enabled=true", "--set", "ingress.host="])
        .output()
        .expect("helm template");
    assert!(
        !out.status.success() && text(&out.stderr).contains("Ingress hostname must be specified")
    );
    let overlay = guide.ok(&["mcp-install", "render"]).await;
    assert!(overlay.contains(&format!("host: {HOST}")), "{overlay}");

    // 2. A public route without OAuth is refused before anything is written.
    let out = guide.kubectl(&["mcp-install", "--auth", "none"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--auth none on a public route"),
        "{}",
        text(&out.stderr)
    );

    // 3. Entra on a cluster that only accepts OpenShift tokens (classic ARO) is refused.
    let out = guide
        .kubectl(
            &[
                "mcp-install",
                "--auth",
                "entra",
                "--tenant",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "--client-id",
                "app",
            ],
            &[],
        )
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("does not accept tokens from https://login.microsoftonline.com/"),
        "{}",
        text(&out.stderr)
    );

    // 4. `automountToken: false` (the guide's overlay) crash-loops the server; verify says why.
    //    The rollout keeps the old pod serving, so it is a warning, and --strict fails on it.
    guide.ok(&INSTALL_AND_WAIT).await;
    let deployments: Api<Deployment> = Api::namespaced(guide.admin().await, "mcp-server");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"automountServiceAccountToken": false}}}});
    deployments
        .patch(
            "kubernetes-mcp-server",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("the guide's automountToken: false");
    let member = guide.sandbox.token("member").expect("token");
    let mut last = String::new();
    for _ in 0..60 {
        let out = guide
            .verify(member.clone(), &["--only", "cluster", "--strict"])
            .await;
        let report = report(&out);
        last = serde_json::to_string(&report["checks"]).unwrap_or_default();
        if status_of(&report, "cluster.pods") != "pass" && last.contains("automountToken is false")
        {
            assert_eq!(out.status.code(), Some(1), "--strict fails on the warning");
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("verify never pointed at automountServiceAccountToken: {last}");
}
