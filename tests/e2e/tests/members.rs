//! Members first: a member of the bound group whose role grants no reads in the server's
//! namespace (a `--profile tools` role derived from the server's `namespaces_list` tool alone:
//! cluster-wide `namespaces`, nothing in `mcp-server`) runs `oc mcp-client config` and `token`
//! with only the URL (and, in oidc mode, the client ID) the administrator hands out. The mode,
//! issuer, audience and scopes come from what the real server publishes without a token; the
//! result matches the administrator's, no warning is printed, and the token works through
//! the server. An outsider's token is refused by the cluster.
//!
//! The plugins reach the route host the way a member behind a web proxy does: `ALL_PROXY`
//! names a CONNECT proxy on loopback that sends only the route host's port 443 to the
//! sandbox router (`NO_PROXY` keeps the API server and the issuer, both on 127.0.0.1,
//! direct; kubectl and kube-rs do not read `ALL_PROXY`).

use std::{path::Path, time::Duration};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use oc_mcp_common::openshift::Route;
use oc_mcp_e2e::{
    harness::redirect_location,
    kubectl_shell::{INSTALL_AND_WAIT, KubectlShell},
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader},
    process::Command,
};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";
const NAMESPACE: &str = "mcp-server";
const NAME: &str = "kubernetes-mcp-server";
/// The OAuth client the administrator registered with the issuer (`oc mcp-install --client-id`).
const CLIENT_ID: &str = "mcp-server";
/// Each command and request is bounded by this.
const LIMIT: Duration = Duration::from_secs(90);

fn url() -> String {
    format!("https://{HOST}/mcp")
}

/// What a bounded run printed.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn context(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    fn ok_without_warnings(&self, what: &str) -> &str {
        assert_eq!(self.code, Some(0), "{what}: {}", self.context());
        assert!(
            !self.stderr.to_lowercase().contains("warning"),
            "{what} warned: {}",
            self.context()
        );
        &self.stdout
    }
}

/// A sandbox with the server deployed, the members' group bound to a role derived from
/// `namespaces_list`, and the shell that runs the plugins as each user.
struct Bench {
    sandbox: Sandbox,
    shell: KubectlShell,
}

impl Bench {
    async fn start(config: SandboxConfig) -> Self {
        let (sandbox, shell) = KubectlShell::with_sandbox(config, HOST).await;
        Self { sandbox, shell }
    }

    /// `mcp-install --engine manifests --wait <extra>` as the administrator.
    async fn install(&self, extra: &[&str]) {
        self.ok("admin", &[&INSTALL_AND_WAIT[..], extra].concat())
            .await;
    }

    async fn run(&self, user: &str, args: &[&str]) -> Ran {
        bounded(self.shell.kubectl(user, args), &format!("{args:?}")).await
    }

    async fn ok(&self, user: &str, args: &[&str]) -> String {
        let ran = self.run(user, args).await;
        assert_eq!(ran.code, Some(0), "{args:?} as {user}: {}", ran.context());
        ran.stdout
    }

    /// `mcp-client config --for <client> --url <url> <extra>` as `user`.
    async fn config(&self, user: &str, client: &str, extra: &[&str]) -> Ran {
        let url = url();
        let mut args = vec!["mcp-client", "config", "--for", client, "--url", &url];
        args.extend_from_slice(extra);
        self.run(user, &args).await
    }

    /// Restrict the members' role to what `namespaces_list` needs, and show it grants no
    /// reads in the server's namespace.
    async fn bind_members_to_the_narrow_role(&self, admin_token: &str) {
        let tools = mcp(&self.sandbox, admin_token, "tools/list", json!({})).await;
        let only: Vec<Value> = tools["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter(|t| t["name"] == "namespaces_list")
            .cloned()
            .collect();
        assert_eq!(only.len(), 1, "{tools}");
        let file = self.shell.home().join("tools.json");
        std::fs::write(&file, json!({"result": {"tools": only}}).to_string()).expect("write");
        let from = file.display().to_string();
        self.ok(
            "admin",
            &[
                "mcp-rbac",
                "role",
                "--profile",
                "tools",
                "--from-tools",
                &from,
            ],
        )
        .await;
        self.ok("admin", &["mcp-rbac", "bind", "mcp-users"]).await;

        let member = self.sandbox.client_for("member").await.expect("client");
        let configmaps: Api<ConfigMap> = Api::namespaced(member.clone(), NAMESPACE);
        let routes: Api<Route> = Api::namespaced(member, NAMESPACE);
        for (what, denied) in [
            ("configmaps", forbidden(configmaps.get(NAME).await.err())),
            (
                "routes",
                forbidden(routes.list(&kube::api::ListParams::default()).await.err()),
            ),
        ] {
            assert!(denied, "the member may read {what} in {NAMESPACE}");
        }
    }
}

fn forbidden(e: Option<kube::Error>) -> bool {
    matches!(e, Some(kube::Error::Api(s)) if s.code == 403)
}

async fn bounded(mut command: Command, what: &str) -> Ran {
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}: killed"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An HTTP client that reaches the route host through the router, trusting the sandbox CA.
fn route_client(sandbox: &Sandbox) -> reqwest::Client {
    oc_mcp_common::install_crypto_provider();
    reqwest::Client::builder()
        .resolve(HOST, sandbox.router_https_addr())
        .add_root_certificate(
            reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).expect("CA"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(LIMIT)
        .build()
        .expect("http client")
}

/// One JSON-RPC message of a streamable HTTP answer (JSON, or SSE `data:` lines).
fn message(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("id").is_some())
            .unwrap_or(Value::Null)
    })
}

/// initialize, then `method` with `token`, through the route: the answer to `method`.
async fn mcp(sandbox: &Sandbox, token: &str, method: &str, params: Value) -> Value {
    let http = route_client(sandbox);
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        request.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "oc-mcp-e2e", "version": "0"}}}),
        None,
    )
    .await
    .expect("initialize");
    assert!(init.status().is_success(), "initialize: {}", init.status());
    let session = init
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = init.text().await;
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .expect("initialized");
    let answer = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params}),
        session,
    )
    .await
    .expect(method);
    message(&answer.text().await.expect("body"))
}

/// The text of a `namespaces_list` call with `token`, and whether it was an error.
async fn namespaces(sandbox: &Sandbox, token: &str) -> (String, bool) {
    let answer = mcp(
        sandbox,
        token,
        "tools/call",
        json!({"name": "namespaces_list", "arguments": {}}),
    )
    .await;
    let result = &answer["result"];
    let text = result["content"].as_array().map_or_else(
        || answer.to_string(),
        |c| {
            c.iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    (
        text,
        result["isError"] == true || answer.get("error").is_some(),
    )
}

#[track_caller]
fn assert_member_lists(text: &str, error: bool) {
    assert!(!error && text.contains(NAMESPACE), "{text}");
}

#[track_caller]
fn assert_outsider_refused(text: &str, error: bool) {
    assert!(error, "{text}");
    assert!(
        text.contains(r#"User "outsider" cannot list resource "namespaces""#),
        "{text}"
    );
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_member_without_reads_configures_clients_and_gets_a_token_in_openshift_mode() {
    let bench = Bench::start(SandboxConfig::default()).await;
    bench.install(&[]).await;
    let admin_token = bench.sandbox.token("admin").expect("token");
    bench.bind_members_to_the_narrow_role(&admin_token).await;

    // The administrator reads the ConfigMap: the server is not asked.
    let before = bench.shell.proxy().connects();
    let admin_vscode = json_of(
        bench
            .config("admin", "vscode", &[])
            .await
            .ok_without_warnings("admin config"),
    );
    assert_eq!(
        bench.shell.proxy().connects(),
        before,
        "{:?}",
        bench.shell.proxy().targets()
    );

    // The member reads nothing in the namespace: the server's 401 challenge and its missing
    // metadata say openshift (token passthrough).
    let member_vscode = bench.config("member", "vscode", &[]).await;
    let member_vscode = json_of(member_vscode.ok_without_warnings("member config --for vscode"));
    assert!(
        bench.shell.proxy().connects() > before,
        "the member's config asked the server: {:?}",
        bench.shell.proxy().targets()
    );
    let server = &member_vscode["servers"][NAME];
    assert_eq!(server, &admin_vscode["servers"][NAME], "{member_vscode}");
    assert_eq!(server["url"], url());
    assert_eq!(server["type"], "http");

    let claude = bench.config("member", "claude-code", &[]).await;
    let claude = json_of(claude.ok_without_warnings("member config --for claude-code"));
    let entry = &claude["mcpServers"][NAME];
    assert_eq!(entry["url"], url());
    let helper = entry["headersHelper"].as_str().expect("headersHelper");
    assert!(helper.contains("token --auth openshift"), "{helper}");

    // Claude Code runs the helper on each connection: the member's own token, no warning.
    let ran = bounded(
        bench
            .shell
            .command("member", Path::new("/bin/sh"), &["-c", helper]),
        "the headersHelper",
    )
    .await;
    let headers = json_of(ran.ok_without_warnings("the headersHelper"));
    let member_token = bench.sandbox.token("member").expect("token");
    assert_eq!(headers["Authorization"], format!("Bearer {member_token}"));

    // `token` with the URL alone, as a member types it.
    let url = url();
    let ran = bench
        .run("member", &["mcp-client", "token", "--url", &url])
        .await;
    let printed = ran.ok_without_warnings("member token").trim().to_owned();
    assert_eq!(printed, member_token);
    let (text, error) = namespaces(&bench.sandbox, &printed).await;
    assert_member_lists(&text, error);

    // Without the URL the member is told where to get it.
    let ran = bench
        .run("member", &["mcp-client", "config", "--for", "vscode"])
        .await;
    assert_eq!(ran.code, Some(3), "{}", ran.context());
    assert!(
        ran.stderr.contains("--url") && ran.stderr.contains("administrator"),
        "{}",
        ran.context()
    );

    // The outsider's token reaches the server, which runs the call as the outsider: refused.
    let ran = bench
        .run("outsider", &["mcp-client", "token", "--url", &url])
        .await;
    let outsider_token = ran.ok_without_warnings("outsider token").trim().to_owned();
    let (text, error) = namespaces(&bench.sandbox, &outsider_token).await;
    assert_outsider_refused(&text, error);
}

/// `mcp-client token ... --no-browser` as `user`, with the browser's part played here: open
/// the authorize URL it prints (the sandbox issuer approves the `login_hint` user) and follow
/// the redirect to the plugin's loopback listener.
async fn login(bench: &Bench, user: &str, args: &[&str]) -> Ran {
    let mut child = bench
        .shell
        .kubectl(user, args)
        .spawn()
        .expect("start token");
    let stderr = child.stderr.take().expect("stderr");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let authorize = tokio::time::timeout(LIMIT, async {
        // Bounded by the child's stderr, which ends when it exits, and by LIMIT.
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains("code_challenge=") {
                return Some(line.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("{args:?} printed no login URL: {}", seen.join("\n")));
    assert!(authorize.starts_with("https://127.0.0.1:"), "{authorize}");
    let http = route_client(&bench.sandbox);
    let answer = http
        .get(format!("{authorize}&login_hint={user}"))
        .send()
        .await
        .expect("authorize");
    let location = redirect_location(&answer);
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    http.get(&location).send().await.expect("callback");
    let rest = tokio::time::timeout(LIMIT, async {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out).await;
        // Bounded by the child's stderr, which ends when it exits.
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        (out, child.wait().await.expect("wait"))
    })
    .await
    .unwrap_or_else(|_| panic!("{args:?} did not finish after the login"));
    Ran {
        code: rest.1.code(),
        stdout: rest.0,
        stderr: seen.join("\n"),
    }
}

#[tokio::test]
async fn a_member_without_reads_configures_clients_and_logs_in_in_oidc_mode() {
    let config = SandboxConfig {
        trust_issuer: true,
        oidc_audience: url(),
        ..SandboxConfig::default()
    };
    let bench = Bench::start(config).await;
    let issuer = bench.sandbox.issuer_url().to_owned();
    let ca = bench.sandbox.dir().join("ca.crt").display().to_string();
    bench
        .install(&[
            "--auth",
            "oidc",
            "--issuer",
            &issuer,
            "--client-id",
            CLIENT_ID,
            "--issuer-ca",
            &ca,
        ])
        .await;
    let admin_jwt = bench
        .sandbox
        .oidc_token("admin", None, Duration::from_secs(600))
        .expect("jwt");
    bench.bind_members_to_the_narrow_role(&admin_jwt).await;

    // The member's configuration is the administrator's, word for word: the issuer, the
    // audience and the scopes come from the server's metadata instead of its ConfigMap.
    for client in ["vscode", "claude-code"] {
        let admin = bench
            .config("admin", client, &["--client-id", CLIENT_ID])
            .await;
        let admin = admin.ok_without_warnings("admin config").to_owned();
        let before = bench.shell.proxy().connects();
        let member = bench
            .config("member", client, &["--client-id", CLIENT_ID])
            .await;
        assert_eq!(
            member.ok_without_warnings(&format!("member config --for {client}")),
            admin
        );
        assert!(
            bench.shell.proxy().connects() > before,
            "the member asked the server"
        );
        if client == "claude-code" {
            let oauth = &json_of(&admin)["mcpServers"][NAME]["oauth"];
            assert_eq!(oauth["clientId"], CLIENT_ID, "{admin}");
        }
    }

    // The client ID is never published: the member is told where to get it.
    let ran = bench.config("member", "vscode", &[]).await;
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("--client-id") && ran.stderr.contains("administrator"),
        "{}",
        ran.context()
    );

    // `token` logs the member in at the issuer the server names; the token works.
    let url = url();
    for user in ["member", "outsider"] {
        let cache = bench.shell.home().join(format!("cache-{user}"));
        let cache = cache.display().to_string();
        let ran = login(
            &bench,
            user,
            &[
                "mcp-client",
                "token",
                "--url",
                &url,
                "--client-id",
                CLIENT_ID,
                "--no-browser",
                "--cache-dir",
                &cache,
            ],
        )
        .await;
        let token = ran
            .ok_without_warnings(&format!("{user} token"))
            .trim()
            .to_owned();
        assert_eq!(token.split('.').count(), 3, "a JWT: {}", ran.context());
        let (text, error) = namespaces(&bench.sandbox, &token).await;
        if user == "member" {
            assert_member_lists(&text, error);
        } else {
            assert_outsider_refused(&text, error);
        }
    }
}
