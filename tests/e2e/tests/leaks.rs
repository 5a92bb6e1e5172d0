//! The leak search: every plugin's commands, in openshift and oidc mode, as renders
//! (`--dry-run=client`, `-o json|yaml`, `render`, `--values-out`), server dry runs and real
//! applies, each at `-vvv`, with a known client secret (given on stdin, in a file and in an
//! environment variable, never on the command line) and known bearer tokens (the kubeconfig
//! user's, used without `--token`; and tokens handed to `mcp-verify` by env and file). Then
//! every place they could end up is searched, as is and base64-encoded:
//!
//! - stdout and stderr of every command;
//! - every file the commands wrote (HOME, TMPDIR, XDG dirs, helm's homes and the working
//!   directory all point into one directory: `--values-out`, `--junit`, `--write`, caches);
//! - the argv of child processes: recording `helm` and `az` shims first on PATH log their
//!   argv and the names (not values) of their environment, then exec the real helm;
//! - every version of every non-Secret object written to the sandbox during the run (its
//!   watch history: what the request bodies made), ConfigMaps included, and the audit log.
//!
//! Two outputs hold a token because the user asked for it, and are asserted separately:
//! `mcp-client token` (prints it, its purpose) and `mcp-client config --embed-token` (writes
//! it into the client's file, outside the searched directory). OpenShift keeps an OAuth
//! client's secret in the OAuthClient object by design, so OAuthClients are not searched
//! for the OAuth client secrets. The secrets must be in Secrets, and that is checked too.

// One session of commands, then one search over everything they left.
#![allow(clippy::too_many_lines)]

use std::{collections::BTreeMap, path::Path, process::Output, time::Duration};

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{
    Api,
    api::{ListParams, LogParams},
};
use oc_mcp_common::openshift::OAuthClient;
use oc_mcp_e2e::{
    harness::{
        Invocation, Needle, contains, files_under, redirect_location, search_path, write_private,
    },
    workspace_root,
};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

const CLIENT_SECRET: &str = "leak-canary-client-secret-5c2e9a71d3";
const NAMESPACE: &str = "mcp-server";
const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A shim that logs its argv and the names of its environment, then runs `then`.
fn shim(dir: &Path, name: &str, log: &Path, then: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let script = format!(
        "#!/bin/sh\n{{ printf '%s' '{name}'; for a in \"$@\"; do printf ' %s' \"$a\"; done; \
         printf '\\n'; printf 'env of {name}:'; env | cut -d= -f1 | tr '\\n' ' '; printf '\\n'; }} \
         >> '{log}'\n{then}\n",
        log = log.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, script).expect("write shim");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A Secret's values, decoded: `data` (base64) and `stringData`.
fn secret_values(secret: &serde_json::Value) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    if let Some(data) = secret["data"].as_object() {
        for value in data.values().filter_map(serde_json::Value::as_str) {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value) {
                out.push(bytes);
            }
        }
    }
    if let Some(data) = secret["stringData"].as_object() {
        out.extend(
            data.values()
                .filter_map(serde_json::Value::as_str)
                .map(|v| v.as_bytes().to_vec()),
        );
    }
    out
}

/// `mcp-client token ... --no-browser` with the browser's part played here: open the URL it
/// prints (the sandbox's OAuth server approves for `member`), and follow the redirect to the
/// plugin's loopback listener.
async fn browser_login(login: &Invocation, path: &str, home: &Path, ca_pem: &str) -> Output {
    use std::io::BufRead as _;
    let mut child = login
        .command(path, home)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", login.display()));
    let stderr = child.stderr.take().expect("piped stderr");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let err_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in std::io::BufReader::new(stderr)
            .split(b'\n')
            .map_while(Result::ok)
        {
            let _ = lines.send(String::from_utf8_lossy(&line).into_owned());
            all.extend_from_slice(&line);
            all.push(b'\n');
        }
        all
    });
    let out_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut bytes);
        bytes
    });
    let url = loop {
        let Ok(line) = received.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!("`{}` printed no login URL", login.display());
        };
        if line.contains("code_challenge=") {
            break line.trim().to_owned();
        }
    };
    oc_mcp_common::install_crypto_provider();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let answer = http.get(&url).send().await.expect("authorize");
    let location = redirect_location(&answer);
    let callback = http.get(&location).send().await.expect("callback");
    assert!(
        callback.status().is_success(),
        "the listener answered {}",
        callback.status()
    );
    let status = child.wait().expect("wait");
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// One command of the session, what it was run as, and what it printed.
struct Ran {
    label: String,
    mode: &'static str,
    out: Output,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_secrets_and_tokens_appear_nowhere_but_in_secrets() {
    let sb = Sandbox::start(SandboxConfig {
        trust_issuer: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let rv_start = sb.with_store(|s| s.resource_version());
    let admin = sb.client_for("admin").await.expect("client");
    let admin_token = sb.token("admin").expect("token");
    let member_token = sb.token("member").expect("token");
    let outsider_token = sb.token("outsider").expect("token");
    let jwt = sb
        .oidc_token("member", None, Duration::from_secs(3600))
        .expect("jwt");
    let issuer = sb.issuer_url().to_owned();
    let audience = sb.oidc_audience().to_owned();

    // Inputs live outside the searched directory: they hold the values on purpose.
    let inputs = tempfile::tempdir().expect("inputs");
    let kubeconfig = sb.kubeconfig_path("admin").expect("kubeconfig");
    let secret_file = write_private(inputs.path(), "client-secret", CLIENT_SECRET.as_bytes());
    let member_file = write_private(inputs.path(), "member.token", member_token.as_bytes());
    let embed_file = inputs.path().join("embedded-mcp.json");
    let argv_log = inputs.path().join("argv.log");
    let shims = inputs.path().join("shims");
    std::fs::create_dir(&shims).expect("shims");
    let real_helm = workspace_root().join("target/tools/helm");
    assert!(
        real_helm.exists(),
        "{} is missing: `cargo xtask test` fetches it",
        real_helm.display()
    );
    shim(
        &shims,
        "helm",
        &argv_log,
        &format!("exec '{}' \"$@\"", real_helm.display()),
    );
    shim(
        &shims,
        "az",
        &argv_log,
        "echo 'az (shim): not logged in' >&2; exit 1",
    );
    // Everything the commands may write goes here, and all of it is searched.
    let out_dir = tempfile::tempdir().expect("out");
    let home = out_dir.path().to_path_buf();
    let ca = sb.dir().join("ca.crt").display().to_string();
    let chart = workspace_root()
        .join("plugins/install/tests/fixtures/test-chart")
        .display()
        .to_string();
    let router = format!("{HOST}:443:127.0.0.1:{}", sb.router_https_port());
    let path = search_path(&[&shims]);
    let kc = kubeconfig.display().to_string();
    let values_out = home.join("values-aro-mcp.yaml").display().to_string();
    let values_oidc = home.join("values-oidc.yaml").display().to_string();
    let junit = home.join("verify.xml").display().to_string();
    let vscode_file = home.join(".vscode/mcp.json").display().to_string();
    let url = format!("https://{HOST}/mcp");
    let helm_home = home.join("helm").display().to_string();

    let mut ran: Vec<Ran> = Vec::new();
    let mut run = |mode: &'static str,
                   plugin: &str,
                   args: &[&str],
                   stdin: Option<&str>,
                   env: &[(&str, &str)],
                   codes: &[i32]| {
        let mut inv = Invocation::new(plugin, args);
        inv.args
            .extend(["--kubeconfig".to_owned(), kc.clone(), "-vvv".to_owned()]);
        inv.stdin = stdin.map(|s| s.as_bytes().to_vec());
        for (k, v) in env {
            inv = inv.env(k, *v);
        }
        for var in ["HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"] {
            inv = inv.env(var, helm_home.clone());
        }
        let out = inv.run(&path, &home);
        assert!(
            codes.contains(&out.status.code().unwrap_or(-1)),
            "`{}` exited {:?} (expected one of {codes:?})\nstdout:\n{}\nstderr (tail):\n{}",
            inv.display(),
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        ran.push(Ran {
            label: inv.display(),
            mode,
            out,
        });
    };
    let ok = &[0][..];

    // RBAC (steps 3-5).
    run(
        "--dry-run=client -o yaml",
        "mcp-rbac",
        &[
            "role",
            "--profile",
            "full",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        None,
        &[],
        ok,
    );
    run(
        "--dry-run=server -o json",
        "mcp-rbac",
        &[
            "role",
            "--profile",
            "full",
            "--dry-run=server",
            "-o",
            "json",
        ],
        None,
        &[],
        ok,
    );
    run(
        "apply",
        "mcp-rbac",
        &["role", "--profile", "full"],
        None,
        &[],
        ok,
    );
    run(
        "--dry-run=server",
        "mcp-rbac",
        &["bind", "mcp-users", "--dry-run=server"],
        None,
        &[],
        ok,
    );
    run(
        "apply -o yaml",
        "mcp-rbac",
        &["bind", "mcp-users", "-o", "yaml"],
        None,
        &[],
        ok,
    );
    run(
        "-o json",
        "mcp-rbac",
        &["status", "-o", "json"],
        None,
        &[],
        ok,
    );
    run(
        "-o yaml",
        "mcp-rbac",
        &["status", "-o", "yaml"],
        None,
        &[],
        ok,
    );
    run(
        "-o json",
        "mcp-rbac",
        &["check", "-o", "json"],
        None,
        &[],
        ok,
    );

    // Install, openshift mode (steps 2, 8-11): renders, then the real thing.
    run(
        "render -o yaml",
        "mcp-install",
        &["render", "-o", "yaml"],
        None,
        &[],
        ok,
    );
    run(
        "render --values-out",
        "mcp-install",
        &["render", "--values-out", &values_out],
        None,
        &[],
        ok,
    );
    run(
        "--dry-run=client -o yaml",
        "mcp-install",
        &["--engine", "manifests", "--dry-run=client", "-o", "yaml"],
        None,
        &[],
        ok,
    );
    run(
        "apply",
        "mcp-install",
        &[
            "--engine",
            "manifests",
            "--yes",
            "--wait",
            "--timeout",
            "120s",
        ],
        None,
        &[],
        ok,
    );

    // OAuth (steps 6-7): the OpenShift client, then the known secret every way it comes in.
    run(
        "--dry-run=client -o yaml",
        "mcp-oauth",
        &["register", "openshift", "--dry-run=client", "-o", "yaml"],
        None,
        &[],
        ok,
    );
    run(
        "--dry-run=server -o json",
        "mcp-oauth",
        &["register", "openshift", "--dry-run=server", "-o", "json"],
        None,
        &[],
        ok,
    );
    run(
        "apply -o json",
        "mcp-oauth",
        &["register", "openshift", "-o", "json"],
        None,
        &[],
        ok,
    );
    run(
        "--dry-run=server",
        "mcp-oauth",
        &["rotate", "--dry-run=server"],
        None,
        &[],
        ok,
    );
    run("apply", "mcp-oauth", &["rotate"], None, &[], ok);
    run("apply", "mcp-oauth", &["redirect", "sync"], None, &[], ok);
    run(
        "--dry-run=client -o yaml",
        "mcp-oauth",
        &[
            "secret",
            "set",
            "--from-stdin",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        Some(CLIENT_SECRET),
        &[],
        ok,
    );
    run(
        "--dry-run=server -o json",
        "mcp-oauth",
        &[
            "secret",
            "set",
            "--from-env",
            "MY_SECRET",
            "--dry-run=server",
            "-o",
            "json",
        ],
        None,
        &[("MY_SECRET", CLIENT_SECRET)],
        ok,
    );
    run(
        "apply -o yaml (file)",
        "mcp-oauth",
        &[
            "secret",
            "set",
            "--from-file",
            &secret_file.display().to_string(),
            "-o",
            "yaml",
        ],
        None,
        &[],
        ok,
    );
    run(
        "apply (env)",
        "mcp-oauth",
        &["secret", "set", "--from-env", "MY_SECRET"],
        None,
        &[("MY_SECRET", CLIENT_SECRET)],
        ok,
    );
    run(
        "apply (stdin)",
        "mcp-oauth",
        &["secret", "set", "--from-stdin"],
        Some(CLIENT_SECRET),
        &[],
        ok,
    );
    run(
        "-o json",
        "mcp-oauth",
        &["status", "-o", "json"],
        None,
        &[],
        ok,
    );
    run(
        "-o yaml",
        "mcp-oauth",
        &["status", "-o", "yaml"],
        None,
        &[],
        ok,
    );

    // Install, oidc mode with token exchange through helm: the client secret goes from the
    // Secret above into a Secret-mounted drop-in, never into values, ConfigMaps or argv.
    let oidc: Vec<&str> = vec![
        "--chart",
        &chart,
        "--release",
        "mcp-oidc",
        "--auth",
        "oidc",
        "--issuer",
        &issuer,
        "--client-id",
        &audience,
        "--issuer-ca",
        &ca,
        "--token-exchange",
        "rfc8693",
        "--sts-audience",
        "https://kubernetes.default.svc",
    ];
    let with = |extra: &[&'static str]| {
        let mut args = oidc.clone();
        args.extend_from_slice(extra);
        args
    };
    // `render` is a subcommand: its flags follow it.
    let mut render = vec!["render"];
    render.extend(with(&["-o", "yaml"]));
    run("oidc render -o yaml", "mcp-install", &render, None, &[], ok);
    run(
        "oidc --dry-run=client -o yaml",
        "mcp-install",
        &with(&["--dry-run=client", "-o", "yaml"]),
        None,
        &[],
        ok,
    );
    let mut server_dry = with(&["--dry-run=server", "-o", "json", "--values-out"]);
    server_dry.push(&values_oidc);
    run(
        "oidc --dry-run=server -o json --values-out",
        "mcp-install",
        &server_dry,
        None,
        &[],
        ok,
    );
    run(
        "oidc apply (helm)",
        "mcp-install",
        &with(&["--yes", "--wait", "--timeout", "120s"]),
        None,
        &[],
        ok,
    );

    // Verify (steps 12-14): the kubeconfig user's token (no token flag), then tokens by env
    // and file; a failed check (exit 1) is fine here, a leak is not.
    let checks = &[0, 1][..];
    run(
        "openshift -o json (kubeconfig token)",
        "mcp-verify",
        &["-o", "json", "--connect-to", &router, "--endpoint-ca", &ca],
        None,
        &[],
        checks,
    );
    run(
        "openshift -o yaml (env tokens)",
        "mcp-verify",
        &[
            "-o",
            "yaml",
            "--connect-to",
            &router,
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_TOKEN",
            "--denied-token-env",
            "MCP_DENIED",
        ],
        None,
        &[
            ("MCP_TOKEN", &member_token),
            ("MCP_DENIED", &outsider_token),
        ],
        checks,
    );
    run(
        "openshift --junit (file token)",
        "mcp-verify",
        &[
            "--connect-to",
            &router,
            "--endpoint-ca",
            &ca,
            "--token-file",
            &member_file.display().to_string(),
            "--junit",
            &junit,
        ],
        None,
        &[],
        checks,
    );
    run(
        "oidc -o json (env JWT)",
        "mcp-verify",
        &[
            "--release",
            "mcp-oidc",
            "-o",
            "json",
            "--endpoint-ca",
            &ca,
            "--token-env",
            "MCP_TOKEN",
            "--only",
            "cluster,config,logs",
        ],
        None,
        &[("MCP_TOKEN", &jwt)],
        checks,
    );

    // Clients (step 15): every client `config --for` knows.
    for client in <oc_mcp_client::clients::ClientKind as clap::ValueEnum>::value_variants() {
        run(
            "print",
            "mcp-client",
            &["config", "--for", client.as_str(), "--url", &url],
            None,
            &[],
            ok,
        );
    }
    run(
        "-o json",
        "mcp-client",
        &["config", "--for", "vscode", "--url", &url, "-o", "json"],
        None,
        &[],
        ok,
    );
    run(
        "--write",
        "mcp-client",
        &[
            "config",
            "--for",
            "vscode",
            "--url",
            &url,
            "--write",
            &vscode_file,
        ],
        None,
        &[],
        ok,
    );
    run(
        "oidc print",
        "mcp-client",
        &["config", "--for", "vscode", "--release", "mcp-oidc"],
        None,
        &[],
        ok,
    );
    run(
        "--embed-token --write",
        "mcp-client",
        &[
            "config",
            "--for",
            "vscode",
            "--url",
            &url,
            "--embed-token",
            "--write",
            &embed_file.display().to_string(),
        ],
        None,
        &[],
        ok,
    );
    run("token", "mcp-client", &["token"], None, &[], ok);
    // A login through the cluster's OAuth server with the OAuthClient `register` made, its
    // secret in an environment variable; the browser's part is played by `browser_login`.
    let current_secret = Api::<OAuthClient>::all(admin.clone())
        .get("kubernetes-mcp-server")
        .await
        .expect("oauthclient")
        .secret
        .expect("a secret");
    let login = Invocation::new(
        "mcp-client",
        &[
            "token",
            "--oauth-client",
            "--no-browser",
            "--client-secret-env",
            "OAUTH_CLIENT_SECRET",
            "--kubeconfig",
            &kc,
            "-vvv",
        ],
    )
    .env("OAUTH_CLIENT_SECRET", current_secret.clone());
    let login_out = browser_login(&login, &path, &home, sb.ca_pem()).await;
    assert!(
        login_out.status.success(),
        "the OAuth login failed:\n{}",
        text(&login_out.stderr)
    );
    let login_token = text(&login_out.stdout).trim().to_owned();
    assert!(
        login_token.starts_with("sha256~"),
        "an OpenShift access token: {login_token:?}"
    );
    run(
        "token --oauth-client --stored-only (cached)",
        "mcp-client",
        &["token", "--oauth-client", "--stored-only"],
        None,
        &[],
        ok,
    );

    // The logs of every pod (the real servers, at their configured log level), before the
    // uninstall removes one of them.
    let mut pod_logs = Vec::new();
    let pods: Api<Pod> = Api::all(admin.clone());
    for pod in pods.list(&ListParams::default()).await.expect("pods") {
        let (Some(ns), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            continue;
        };
        let logs = Api::<Pod>::namespaced(admin.clone(), &ns)
            .logs(&name, &LogParams::default())
            .await
            .unwrap_or_default();
        pod_logs.push((format!("{ns}/{name}"), logs));
    }
    assert!(pod_logs.len() >= 2, "both servers ran: {}", pod_logs.len());

    // Uninstall the helm release (helm again, through the shim).
    run(
        "--dry-run=server",
        "mcp-install",
        &["uninstall", "--release", "mcp-oidc", "--dry-run=server"],
        None,
        &[],
        ok,
    );
    run(
        "apply",
        "mcp-install",
        &["uninstall", "--release", "mcp-oidc", "--yes"],
        None,
        &[],
        ok,
    );

    ran.push(Ran {
        label: login.display(),
        mode: "browser login (--oauth-client, secret from env)",
        out: login_out,
    });

    // What the cluster holds now: the OAuth client's secrets, and the stored Secret.
    let oauth_client = Api::<OAuthClient>::all(admin.clone())
        .get("kubernetes-mcp-server")
        .await
        .expect("oauthclient");
    let mut oauth_secrets: Vec<String> = oauth_client.secret.clone().into_iter().collect();
    oauth_secrets.extend(oauth_client.additional_secrets.clone());
    assert!(
        oauth_secrets.len() >= 2,
        "rotate keeps the old secret: {}",
        oauth_secrets.len()
    );
    let stored = Api::<Secret>::namespaced(admin.clone(), NAMESPACE)
        .get("mcp-oauth-credentials")
        .await
        .expect("the client secret's Secret");
    assert_eq!(
        stored
            .data
            .as_ref()
            .and_then(|d| d.get("sts_client_secret"))
            .map(|b| b.0.as_slice()),
        Some(CLIENT_SECRET.as_bytes()),
        "the known client secret is stored in its Secret"
    );

    // The needles: each value as is and base64-encoded.
    let mut needles = vec![
        Needle::new("the known client secret", CLIENT_SECRET),
        Needle::new("the kubeconfig user's token", &admin_token),
        Needle::new(
            "the member's token (verify --token-env/--token-file)",
            &member_token,
        ),
        Needle::new(
            "the outsider's token (verify --denied-token-env)",
            &outsider_token,
        ),
        Needle::new("the OIDC JWT", &jwt),
    ];
    let oauth_needles: Vec<Needle> = oauth_secrets
        .iter()
        .enumerate()
        .map(|(i, s)| Needle::new(&format!("OAuthClient secret #{i}"), s))
        .collect();
    needles.extend(oauth_needles.iter().cloned());
    let forms: usize = needles.iter().map(|n| n.forms.len()).sum();

    let mut hits: Vec<String> = Vec::new();
    let mut searched: BTreeMap<&str, usize> = BTreeMap::new();
    // The token the login login_token: printed by `token` and kept in the client's private cache
    // (by design, like kubectl's exec plugins); anywhere else it is a leak.
    let issued_needle = Needle::new("the token the OAuth login login_token", &login_token);
    let mut cache_files = Vec::new();
    // 1-2. stdout and stderr.
    for r in &ran {
        let is_token_command = r.label.starts_with("mcp-client token");
        if !is_token_command {
            for (sink, bytes) in [("stdout", &r.out.stdout), ("stderr", &r.out.stderr)] {
                if let Some(form) = issued_needle.found_in(bytes) {
                    hits.push(format!("{form} on {sink} of `{}`", r.label));
                }
            }
        } else if let Some(form) = issued_needle.found_in(&r.out.stderr) {
            hits.push(format!("{form} on stderr of `{}`", r.label));
        }
        for (sink, bytes) in [("stdout", &r.out.stdout), ("stderr", &r.out.stderr)] {
            *searched.entry(sink).or_default() += 1;
            for n in &needles {
                // `token` prints the kubeconfig user's token: its purpose, asserted below.
                if is_token_command && sink == "stdout" && n.what == "the kubeconfig user's token" {
                    continue;
                }
                if let Some(form) = n.found_in(bytes) {
                    hits.push(format!("{form} on {sink} of `{}`", r.label));
                }
            }
        }
    }
    // 3. files written.
    let written = files_under(&home);
    for (file, content) in &written {
        *searched.entry("files written").or_default() += 1;
        if issued_needle.found_in(content).is_some() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(file).expect("stat").permissions().mode() & 0o777;
            cache_files.push(file.clone());
            if mode != 0o600 || !file.starts_with(home.join(".cache")) {
                hits.push(format!(
                    "the login_token token in {} (mode {mode:o}), not the private cache",
                    file.display()
                ));
            }
        }
        for n in &needles {
            if let Some(form) = n.found_in(content) {
                hits.push(format!("{form} in {}", file.display()));
            }
        }
    }
    // 4. child argv (and env names).
    let argv = std::fs::read_to_string(&argv_log).unwrap_or_default();
    let helm_runs = argv.lines().filter(|l| l.starts_with("helm ")).count();
    assert!(helm_runs >= 2, "helm ran through the shim: {argv}");
    for line in argv.lines() {
        *searched.entry("child argv/env-name lines").or_default() += 1;
        for n in &needles {
            if let Some(form) = n.found_in(line.as_bytes()) {
                hits.push(format!("{form} in a child process: {line}"));
            }
        }
    }
    // 5. every non-Secret object version written during the run, and the audit log.
    let history = sb
        .with_store(|s| s.events_since(rv_start))
        .expect("the sandbox kept the whole history of the run");
    let mut secret_objects = Vec::new();
    for event in &history {
        if event.key.gr == "/secrets" {
            secret_objects.push((event.key.name.clone(), secret_values(&event.object)));
            continue;
        }
        *searched.entry("object versions (non-Secret)").or_default() += 1;
        if event.key.gr == "/configmaps" {
            *searched.entry("of which ConfigMap versions").or_default() += 1;
        }
        let json = event.object.to_string();
        let is_oauth_client = event.key.gr == "oauth.openshift.io/oauthclients";
        for n in &needles {
            if is_oauth_client && n.what.starts_with("OAuthClient secret") {
                continue;
            }
            if let Some(form) = n.found_in(json.as_bytes()) {
                hits.push(format!(
                    "{form} in {} {}/{}",
                    event.key.gr, event.key.namespace, event.key.name
                ));
            }
        }
    }
    let audit = std::fs::read(sb.audit_path()).expect("audit log");
    *searched.entry("audit log lines").or_default() += audit.split(|b| *b == b'\n').count();
    for n in &needles {
        if let Some(form) = n.found_in(&audit) {
            hits.push(format!("{form} in the audit log"));
        }
    }

    // 6. the logs of every pod, as gathered before the uninstall.
    for (pod, logs) in &pod_logs {
        *searched.entry("pod logs").or_default() += 1;
        for n in &needles {
            if let Some(form) = n.found_in(logs.as_bytes()) {
                hits.push(format!("{form} in the log of pod {pod}"));
            }
        }
    }
    for hit in &hits {
        println!("LEAK: {hit}");
    }
    println!("the login_token token is cached in {cache_files:?}");
    assert!(!cache_files.is_empty(), "the login cached its token");
    // `logout` forgets it.
    let logout =
        Invocation::new("mcp-client", &["logout", "--kubeconfig", &kc, "-vvv"]).run(&path, &home);
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(
        cache_files.iter().all(|f| !f.exists()),
        "logout removed the cached token"
    );
    for n in needles.iter().chain([&issued_needle]) {
        for bytes in [&logout.stdout, &logout.stderr] {
            if let Some(form) = n.found_in(bytes) {
                hits.push(format!("{form} in the output of `logout`"));
            }
        }
    }

    // The tokens really went the whole way: verify reached the server's MCP endpoint with
    // the kubeconfig user's token (no token flag).
    let first_verify = ran
        .iter()
        .find(|r| r.label.starts_with("mcp-verify"))
        .expect("verify ran");
    let report: serde_json::Value =
        serde_json::from_slice(&first_verify.out.stdout).expect("verify -o json");
    // The kubeconfig user is the administrator: its tool call runs, and verify says (warn)
    // that an administrator's token proves nothing about members.
    let ran_with: Vec<&str> = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["status"] == "pass" || (c["id"] == "passthrough.user" && c["status"] == "warn")
        })
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        ran_with.contains(&"mcp.tools") && ran_with.contains(&"passthrough.user"),
        "verify with the kubeconfig token reached the server: {ran_with:?}"
    );

    // The two outputs that hold a token because the user asked, and only those.
    let token_run = ran
        .iter()
        .find(|r| r.label.starts_with("mcp-client token"))
        .expect("token ran");
    assert_eq!(
        text(&token_run.out.stdout).trim(),
        admin_token,
        "`token` prints the token"
    );
    let embedded = std::fs::read(&embed_file).expect("--embed-token wrote its file");
    assert!(
        Needle::new("", &admin_token).found_in(&embedded).is_some(),
        "--embed-token put the token in the client's file"
    );
    // Secrets are where the client secret lives: its own Secret and the server's drop-in.
    let holders: std::collections::BTreeSet<&str> = secret_objects
        .iter()
        .filter(|(_, values)| values.iter().any(|v| contains(v, CLIENT_SECRET)))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        holders.contains("mcp-oauth-credentials") && holders.len() >= 2,
        "the client secret is in its Secret and in the server's drop-in Secret: {holders:?}"
    );
    let in_secrets = holders.len();
    // -vvv really logged at trace level.
    assert!(
        ran.iter().any(|r| text(&r.out.stderr).contains("TRACE")),
        "no trace output at -vvv"
    );

    let plugins: BTreeMap<&str, usize> = ran.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.label.split(' ').next().unwrap_or(""))
            .or_default() += 1;
        m
    });
    let modes: std::collections::BTreeSet<&str> = ran.iter().map(|r| r.mode).collect();
    println!(
        "leak search: {} commands ({plugins:?}), {} distinct modes, {} needles in {forms} forms",
        ran.len(),
        modes.len(),
        needles.len()
    );
    println!("outputs searched: {searched:?}");
    println!(
        "{in_secrets} Secrets hold the client secret (where it belongs): {holders:?}; \
         {helm_runs} helm runs recorded"
    );
    assert!(
        hits.is_empty(),
        "{} leaks:\n{}",
        hits.len(),
        hits.join("\n")
    );
}
