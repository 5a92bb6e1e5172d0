//! The real MCP clients run exactly what `oc mcp-client config` prints, as a member and as an
//! outsider would: the MCP Inspector's CLI (the printed command line, through `sh`, its
//! `--method` changed for the tool call) and mcp-remote (the printed mcp-remote line, and the
//! stdio entry of every client that runs it: Claude Desktop, Zed, Goose, JetBrains AI
//! Assistant and Continue, each read from its own file format; spawned with their arguments
//! and environment and driven over stdio like a desktop app: initialize, tools/list,
//! tools/call). In openshift mode the token comes from `kubectl mcp-client token`; in oidc
//! mode each client runs its own OAuth login, with a headless stand-in for the browser that
//! follows the authorize URL (the sandbox issuer approves the `login_hint` user). The member
//! lists namespaces; the cluster refuses the outsider's call. Node 22, the Inspector and
//! mcp-remote are the pinned packages `cargo xtask tools` installs; `npx` finds them in that
//! npm project. The clients reach the route host through the sandbox router on loopback (a
//! preload maps the host and its port 443, and refuses any other destination that is not
//! loopback), trusting the sandbox CA through `NODE_EXTRA_CA_CERTS`.

use std::{ffi::OsString, time::Duration};

use oc_mcp_e2e::{
    kubectl,
    kubectl_shell::{INSTALL_AND_WAIT, KubectlShell},
    node_clients::{NodeClients, Ran, run_bounded},
    stdio_session::StdioSession,
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";
const NAME: &str = "kubernetes-mcp-server";
/// The OAuth client the administrator registered with the issuer (`oc mcp-install --client-id`).
const OIDC_CLIENT_ID: &str = "mcp-server";
/// Each client run, request and plugin command is bounded by this.
const LIMIT: Duration = Duration::from_secs(90);

/// A sandbox with the guide's openshift-mode deployment, the plugins and a `kubectl` on PATH.
struct Deployment {
    sandbox: Sandbox,
    /// Holds `kubectl` (a link to the real one): the printed commands call it by that name.
    shims: tempfile::TempDir,
    clients: NodeClients,
    /// The plugins as each user runs them, with the route proxy for the route host (the
    /// clients map it with their preload).
    shell: KubectlShell,
}

impl Deployment {
    /// role --profile full, bind mcp-users, install --engine manifests --wait, oauth register
    /// openshift: what an administrator does before handing out the URL.
    async fn openshift() -> Self {
        let deployment = Self::bare(SandboxConfig::default()).await;
        deployment.deploy(&[]).await;
        deployment
            .kubectl_ok("admin", &["mcp-oauth", "register", "openshift"])
            .await;
        assert!(
            deployment.sandbox.resolve(HOST).is_some(),
            "the router serves {HOST}"
        );
        deployment
    }

    /// The guide's oidc mode: the cluster trusts the sandbox issuer (external OIDC) for the
    /// server's URL as audience (the `resource` a spec-following client asks its token for),
    /// the server validates the issuer's JWTs.
    async fn oidc() -> Self {
        // The sandbox's API server takes one audience: the server's URL, which is what the
        // install's check asks the administrator to add for spec-following clients.
        let deployment = Self::bare(SandboxConfig {
            trust_issuer: true,
            oidc_audience: format!("https://{HOST}/mcp"),
            ..SandboxConfig::default()
        })
        .await;
        let issuer = deployment.sandbox.issuer_url().to_owned();
        // The sandbox's Authentication names the issuer and that audience, as OpenShift's
        // external OIDC does.
        let client_id = OIDC_CLIENT_ID;
        let ca = deployment
            .sandbox
            .dir()
            .join("ca.crt")
            .display()
            .to_string();
        deployment
            .deploy(&[
                "--auth",
                "oidc",
                "--issuer",
                &issuer,
                "--client-id",
                client_id,
                "--issuer-ca",
                &ca,
            ])
            .await;
        deployment
    }

    /// role --profile full, bind mcp-users, then the install with `install_extra`.
    async fn deploy(&self, install_extra: &[&str]) {
        let install = [&INSTALL_AND_WAIT[..], install_extra].concat();
        for args in [
            &["mcp-rbac", "role", "--profile", "full"][..],
            &["mcp-rbac", "bind", "mcp-users"],
            &install,
        ] {
            self.kubectl_ok("admin", args).await;
        }
    }

    async fn bare(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let shims = tempfile::tempdir().expect("shims");
        std::os::unix::fs::symlink(kubectl(), shims.path().join("kubectl")).expect("link kubectl");
        let clients = NodeClients::installed();
        let shell = KubectlShell::start_in(&sandbox, HOST, &clients.home()).await;
        Self {
            sandbox,
            shims,
            clients,
            shell,
        }
    }

    fn path(&self) -> OsString {
        self.clients
            .path(&[self.shell.plugins(), self.shims.path()])
    }

    /// `kubectl <args>` as `user`, as typed in a shell; its stdout.
    async fn kubectl_ok(&self, user: &str, args: &[&str]) -> String {
        let command = self.shell.kubectl(user, args);
        let ran = run_bounded(command, LIMIT, &format!("kubectl {args:?}")).await;
        assert_eq!(
            ran.code,
            Some(0),
            "kubectl {args:?} as {user}\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
        ran.stdout
    }

    /// What `kubectl mcp-client config --for <client>` prints for `user`, given the route's
    /// URL as the administrator hands it out.
    async fn config(&self, user: &str, client: &str) -> String {
        self.kubectl_ok(
            user,
            &[
                "mcp-client",
                "config",
                "--for",
                client,
                "--url",
                &format!("https://{HOST}/mcp"),
            ],
        )
        .await
    }

    /// The client environment for `user`: their kubeconfig is the default one, the route
    /// host goes to the router, the sandbox CA is trusted.
    fn env(&self, user: &str) -> Vec<(String, OsString)> {
        let router = self.sandbox.resolve(HOST).expect("router");
        let mut env = self.clients.env(
            self.path(),
            &[(HOST, router)],
            &self.sandbox.dir().join("ca.crt"),
        );
        env.push(("KUBECONFIG".into(), self.shell.kubeconfig(user).into()));
        // An unexpected login must not wait for a browser: the stand-in fails at once.
        env.push(("BROWSER".into(), "/bin/false".into()));
        // For the plugins the clients run (`mcp-client token`); the node clients ignore it.
        env.extend(self.shell.proxy_env());
        env
    }

    /// [`Self::env`] with a headless browser that logs `user` in: it follows the authorize
    /// URL the client opens (the sandbox issuer approves the `login_hint` user, as a user who
    /// clicks "allow") to the client's loopback callback.
    fn env_with_browser(&self, user: &str) -> Vec<(String, OsString)> {
        let script = self.clients.home().join(format!("browser-{user}"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# Loopback only: the issuer and the client's callback.\ncase \"$1\" in https://127.0.0.1:*) ;; *) echo \"not the sandbox issuer: $1\" >&2; exit 1 ;; esac\necho \"$1\" >> {log}\nexec /usr/bin/curl -sS -L --max-redirs 3 --max-time 30 --cacert {ca} -o /dev/null \"$1&login_hint={user}\" >> {log} 2>&1\n",
                log = self.clients.home().join(format!("browser-{user}.log")).display(),
                ca = self.sandbox.dir().join("ca.crt").display(),
            ),
        )
        .expect("write the browser");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let mut env = self.env(user);
        env.retain(|(k, _)| k != "BROWSER");
        env.push(("BROWSER".into(), script.into()));
        env
    }
}

/// The text of a tools/call result's content.
fn content_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn tool_names(result: &Value) -> Vec<String> {
    result["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Run the printed Inspector line through `sh`, with its `--method tools/list` (the end of
/// what `config` prints) replaced by `method_args`, asking for JSON output.
async fn inspector(deployment: &Deployment, user: &str, line: &str, method_args: &str) -> Ran {
    let base = line
        .strip_suffix("--method tools/list")
        .unwrap_or_else(|| panic!("the printed line ends with --method tools/list: {line}"));
    let script = format!("{base}{method_args} --format json");
    let command =
        deployment
            .clients
            .command("/bin/sh", &["-c".to_owned(), script], &deployment.env(user));
    run_bounded(command, LIMIT, &format!("the Inspector as {user}")).await
}

#[tokio::test]
async fn the_inspector_cli_runs_the_printed_command_in_openshift_mode() {
    let deployment = Deployment::openshift().await;
    let members = deployment.sandbox.token("member").expect("token");
    let outsiders = deployment.sandbox.token("outsider").expect("token");
    for user in ["member", "outsider"] {
        let printed = deployment.config(user, "inspector").await;
        let line = printed.trim();
        assert_eq!(printed.lines().count(), 1, "one command line: {printed}");
        // The token command may carry what the plugin learned from the server (`--auth
        // openshift` for a user who cannot read the server's config), so the user's own run
        // of it needs no read either.
        let (token_command, client) = line.split_once(" | ").unwrap_or_default();
        assert!(
            token_command.starts_with("kubectl mcp-client token ")
                && token_command.contains(" --format inspector-config")
                && client
                    .starts_with("npx @modelcontextprotocol/inspector --cli --config /dev/stdin"),
            "{line}"
        );
        for token in [&members, &outsiders] {
            assert!(
                !line.contains(token.as_str()),
                "a token in the line: {line}"
            );
        }

        let listed = inspector(&deployment, user, line, "--method tools/list").await;
        let called = inspector(
            &deployment,
            user,
            line,
            "--method tools/call --tool-name namespaces_list",
        )
        .await;
        let context = format!(
            "{user}:\n{line}\ntools/list: {:?}\n{}\n{}\ntools/call: {:?}\n{}\n{}",
            listed.code, listed.stdout, listed.stderr, called.code, called.stdout, called.stderr
        );
        // --format json prints {"result": <the MCP result>}.
        let list: Value = serde_json::from_str(&listed.stdout)
            .unwrap_or_else(|e| panic!("tools/list output is not JSON ({e}): {context}"));
        assert_eq!(listed.code, Some(0), "{context}");
        assert!(
            tool_names(&list["result"])
                .iter()
                .any(|n| n == "namespaces_list"),
            "{context}"
        );
        let call: Value = serde_json::from_str::<Value>(&called.stdout)
            .map_or(Value::Null, |v| v["result"].clone());
        if user == "member" {
            assert_eq!(called.code, Some(0), "{context}");
            assert_ne!(call["isError"], true, "{context}");
            assert!(content_text(&call).contains("mcp-server"), "{context}");
        } else {
            // The server runs the call with the outsider's own token: the cluster refuses it.
            let refusal = format!("{}{}{}", content_text(&call), called.stdout, called.stderr);
            assert!(
                call["isError"] == true || called.code != Some(0),
                "{context}"
            );
            assert!(
                refusal.contains(r#"User "outsider" cannot list resource "namespaces""#),
                "{context}"
            );
            assert!(!content_text(&call).contains("mcp-server"), "{context}");
        }
    }
}

/// initialize, tools/list, tools/call namespaces_list over stdio; the tools/call result.
async fn drive(mut session: StdioSession, what: &str) -> (Value, String) {
    let outcome = async {
        let init = session.initialize(LIMIT).await?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}"));
        }
        let list = session.request("tools/list", json!({}), LIMIT).await?;
        if !tool_names(&list["result"])
            .iter()
            .any(|n| n == "namespaces_list")
        {
            return Err(format!("tools/list has no namespaces_list: {list}"));
        }
        session
            .request(
                "tools/call",
                json!({"name": "namespaces_list", "arguments": {}}),
                LIMIT,
            )
            .await
    }
    .await;
    let other = session.other.join("\n");
    let stderr = session.close().await;
    match outcome {
        Ok(call) => (call, stderr),
        Err(e) => panic!("{what}: {e}\nstdout:\n{other}\nstderr:\n{stderr}"),
    }
}

/// A stdio entry (`command`, `args`, `env`) spawned as a desktop app does, with `env` (the
/// user's) and the entry's own environment on top.
fn spawn_entry(
    deployment: &Deployment,
    mut env: Vec<(String, OsString)>,
    entry: &Value,
    what: &str,
) -> StdioSession {
    let command = entry["command"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no command in {entry}"));
    let args: Vec<String> = serde_json::from_value(entry["args"].clone())
        .unwrap_or_else(|e| panic!("{what}: args are not strings ({e}): {entry}"));
    if let Some(vars) = entry["env"].as_object() {
        env.extend(
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().into())),
        );
    }
    StdioSession::spawn(deployment.clients.command(command, &args, &env), what)
}

/// The clients whose entry, for a token from a command or for an OAuth login, is an
/// mcp-remote stdio server written in the client's own format (Continue: without
/// `--token-env`).
const STDIO_CLIENTS: [&str; 5] = ["claude-desktop", "zed", "goose", "jetbrains", "continue"];

/// The server's stdio entry in what `config --for <client>` printed, as `command`, `args`
/// and `env`, read the way each client reads its file.
fn stdio_entry(client: &str, printed: &str) -> Value {
    let json = || {
        serde_json::from_str::<Value>(printed)
            .unwrap_or_else(|e| panic!("{client} prints JSON ({e}):\n{printed}"))
    };
    let yaml = || {
        serde_saphyr::from_str::<Value>(printed)
            .unwrap_or_else(|e| panic!("{client} prints YAML ({e}):\n{printed}"))
    };
    let entry = match client {
        "claude-desktop" | "jetbrains" => json()["mcpServers"][NAME].clone(),
        "zed" => json()["context_servers"][NAME].clone(),
        // Goose spells a stdio extension `cmd`, `args`, `envs`.
        "goose" => {
            let extension = yaml()["extensions"][NAME].clone();
            assert_eq!(extension["type"], "stdio", "goose:\n{printed}");
            assert_eq!(extension["enabled"], true, "goose:\n{printed}");
            json!({"command": extension["cmd"], "args": extension["args"], "env": extension["envs"]})
        }
        // A Continue block lists its servers, each with its name.
        "continue" => {
            let block = yaml();
            assert_eq!(block["schema"], "v1", "continue:\n{printed}");
            let servers = block["mcpServers"].as_array().cloned().unwrap_or_default();
            let entry = servers
                .into_iter()
                .find(|s| s["name"] == NAME)
                .unwrap_or(Value::Null);
            assert_eq!(entry["type"], "stdio", "continue:\n{printed}");
            entry
        }
        other => panic!("no reader for {other}'s format"),
    };
    assert!(
        entry["command"].is_string(),
        "{client}: no stdio entry for {NAME}:\n{printed}"
    );
    entry
}

/// Whether the entry starts mcp-remote: `npx -y mcp-remote <url> ...` itself, or through
/// the shell that fetches the token first.
fn runs_mcp_remote(entry: &Value) -> bool {
    let args: Vec<&str> = entry["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let url = format!("https://{HOST}/mcp");
    match entry["command"].as_str() {
        Some("npx") => args.starts_with(&["-y", "mcp-remote", url.as_str()]),
        // The URL is quoted only when the shell needs it to be.
        Some("/bin/sh") => {
            args.len() == 2
                && args[0] == "-c"
                && [format!("{url} "), format!("'{url}' ")]
                    .iter()
                    .any(|u| args[1].contains(&format!("exec npx -y mcp-remote {u}")))
        }
        _ => false,
    }
}

/// The member lists the namespaces; the cluster refuses the outsider's call, which the
/// server ran with the outsider's own token.
fn assert_outcome(user: &str, call: &Value, context: &str) {
    let result = &call["result"];
    if user == "member" {
        assert_ne!(result["isError"], true, "{context}");
        assert!(content_text(result).contains("mcp-server"), "{context}");
    } else {
        assert_eq!(result["isError"], true, "{context}");
        assert!(
            content_text(result).contains(r#"User "outsider" cannot list resource "namespaces""#),
            "{context}"
        );
        assert!(!content_text(result).contains("mcp-server"), "{context}");
    }
}

#[tokio::test]
async fn mcp_remote_runs_every_stdio_entry_and_the_printed_line_in_openshift_mode() {
    let deployment = Deployment::openshift().await;
    let tokens = ["member", "outsider"].map(|u| deployment.sandbox.token(u).expect("token"));
    for user in ["member", "outsider"] {
        let mut runs = Vec::new();
        for client in STDIO_CLIENTS {
            let printed = deployment.config(user, client).await;
            for token in &tokens {
                assert!(
                    !printed.contains(token.as_str()),
                    "a token in {client}'s entry"
                );
            }
            let entry = stdio_entry(client, &printed);
            assert!(runs_mcp_remote(&entry), "{client}: {entry}");
            // No token is written in: the entry fetches one each time it starts.
            assert_eq!(entry["command"], "/bin/sh", "{client}: {entry}");
            runs.push((client.to_owned(), entry));
        }
        let line = deployment.config(user, "mcp-remote").await;
        assert_eq!(line.lines().count(), 1, "one command line: {line}");
        for token in &tokens {
            assert!(
                !line.contains(token.as_str()),
                "a token in the mcp-remote line"
            );
        }
        runs.push((
            "mcp-remote".to_owned(),
            json!({"command": "/bin/sh", "args": ["-c", line.trim()]}),
        ));
        // One client at a time: each session ends (and its mcp-remote with it) before the next.
        for (client, entry) in runs {
            let what = format!("{client}'s entry as {user}");
            let session = spawn_entry(&deployment, deployment.env(user), &entry, &what);
            let (call, stderr) = drive(session, &what).await;
            assert_outcome(user, &call, &format!("{what}: {call}\nstderr:\n{stderr}"));
        }
    }
}

#[tokio::test]
async fn mcp_remote_logs_in_itself_from_every_stdio_entry_in_oidc_mode() {
    let deployment = Deployment::oidc().await;
    let url = format!("https://{HOST}/mcp");
    // The member runs every client's entry; the outsider two of them, one of each file
    // format family (JSON `mcpServers`, Goose's YAML).
    let runs = STDIO_CLIENTS
        .iter()
        .map(|c| ("member", *c))
        .chain([("outsider", "claude-desktop"), ("outsider", "goose")]);
    for (user, client) in runs {
        // The administrator hands out the configuration (a member may not read the server's
        // settings); the login picks the user.
        let printed = deployment
            .kubectl_ok(
                "admin",
                &[
                    "mcp-client",
                    "config",
                    "--for",
                    client,
                    "--url",
                    &url,
                    "--client-id",
                    OIDC_CLIENT_ID,
                ],
            )
            .await;
        let entry = stdio_entry(client, &printed);
        assert!(runs_mcp_remote(&entry), "{client}: {entry}");
        assert!(
            entry["args"]
                .to_string()
                .contains("--static-oauth-client-info"),
            "{client}: {entry}"
        );
        let mut env = deployment.env_with_browser(user);
        // A token store of its own for each run, so that each entry logs in itself rather
        // than reusing what an earlier run stored.
        let home = deployment.clients.home().join(format!("{client}-{user}"));
        std::fs::create_dir_all(&home).expect("home");
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home.into()));
        let what = format!("{client}'s mcp-remote logging in as {user}");
        let session = spawn_entry(&deployment, env, &entry, &what);
        let (call, stderr) = drive(session, &what).await;
        assert_outcome(
            user,
            &call,
            &format!("oidc, {what}: {call}\nstderr:\n{stderr}"),
        );
    }
}

#[tokio::test]
async fn the_inspector_cli_logs_in_itself_in_oidc_mode() {
    let deployment = Deployment::oidc().await;
    let printed = deployment
        .kubectl_ok(
            "admin",
            &[
                "mcp-client",
                "config",
                "--for",
                "inspector",
                "--url",
                &format!("https://{HOST}/mcp"),
                "--client-id",
                OIDC_CLIENT_ID,
            ],
        )
        .await;
    let line = printed.trim();
    assert!(line.contains("--client-id"), "{line}");
    for user in ["member", "outsider"] {
        let mut env = deployment.env_with_browser(user);
        let home = deployment.clients.home().join(format!("inspector-{user}"));
        std::fs::create_dir_all(&home).expect("home");
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home.into()));
        // A user runs it in a terminal; without one the Inspector logs in only when told
        // it may open the browser.
        env.push(("MCP_AUTO_OPEN_ENABLED".into(), "true".into()));
        let base = line
            .strip_suffix("--method tools/list")
            .unwrap_or_else(|| panic!("the printed line ends with --method tools/list: {line}"));
        let mut results = Vec::new();
        for method in [
            "--method tools/list",
            "--method tools/call --tool-name namespaces_list",
        ] {
            let command = deployment.clients.command(
                "/bin/sh",
                &["-c".to_owned(), format!("{base}{method} --format json")],
                &env,
            );
            results.push(run_bounded(command, LIMIT, &format!("the Inspector as {user}")).await);
        }
        let context = format!(
            "oidc, {user}:\n{line}\n{}",
            results
                .iter()
                .map(|r| format!("{:?}\n{}\n{}", r.code, r.stdout, r.stderr))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let list: Value = serde_json::from_str(&results[0].stdout)
            .unwrap_or_else(|e| panic!("tools/list output is not JSON ({e}): {context}"));
        assert!(
            tool_names(&list["result"])
                .iter()
                .any(|n| n == "namespaces_list"),
            "{context}"
        );
        let call: Value = serde_json::from_str::<Value>(&results[1].stdout)
            .map_or(Value::Null, |v| v["result"].clone());
        if user == "member" {
            assert_ne!(call["isError"], true, "{context}");
            assert!(content_text(&call).contains("mcp-server"), "{context}");
        } else {
            assert!(
                content_text(&call)
                    .contains(r#"User "outsider" cannot list resource "namespaces""#),
                "{context}"
            );
        }
    }
}
