//! `config --for <client>` run as the real binary: each client's output parses and has the
//! keys that client requires; `--write` merges into files that hold other servers without
//! changing them and keeps a backup; the URL and mode come from the cluster (the Route the
//! sandbox's controller made from the chart's Ingress, the ConfigMap, the registration);
//! no token is written anywhere unless `--embed-token`.

#![allow(clippy::too_many_lines)]

use crate::common;

use std::{path::Path, process::Command, time::Duration};

use clap::ValueEnum as _;
use common::{
    LIMIT, NAME, OIDC, URL, bin, files_containing, ok, openshift_config, run, sandbox_member,
    stderr, stdout, write_json_flags,
};
use k8s_openapi::api::{
    core::v1::{ConfigMap, Namespace, Service},
    networking::v1::Ingress,
};
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use oc_mcp_client::{clients::ClientKind, jsonfile, shell::split};
use oc_mcp_common::{openshift::Route, server_config::ServerConfig};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

fn config(home: &Path, client: &str, extra: &[&str]) -> Command {
    let mut cmd = bin(home);
    cmd.args(["config", "--for", client]).args(extra);
    cmd
}

fn json_out(cmd: Command) -> Value {
    let text = ok(&run(cmd, LIMIT));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn words(cmd: Command) -> Vec<String> {
    let text = ok(&run(cmd, LIMIT));
    assert_eq!(text.lines().count(), 1, "one command line: {text}");
    split(text.trim()).expect("a shell command line")
}

fn after<'a>(words: &'a [String], flag: &str) -> &'a str {
    let i = words
        .iter()
        .position(|w| w == flag)
        .unwrap_or_else(|| panic!("{flag} missing in {words:?}"));
    &words[i + 1]
}

#[test]
fn openshift_mode_output_of_every_client_parses_and_has_its_keys() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let flags = ["--url", URL, "--auth", "openshift"];

    let cursor = json_out(config(h, "cursor", &flags));
    let entry = &cursor["mcpServers"][NAME];
    assert_eq!(entry["url"], URL);
    assert_eq!(entry["headers"]["Authorization"], "Bearer ${env:MCP_TOKEN}");

    let vscode = json_out(config(h, "vscode", &flags));
    let entry = &vscode["servers"][NAME];
    assert_eq!(entry["type"], "http");
    assert_eq!(entry["url"], URL);
    let input = &vscode["inputs"][0];
    assert_eq!(input["type"], "promptString");
    assert_eq!(input["password"], true);
    assert_eq!(
        entry["headers"]["Authorization"],
        format!("Bearer ${{input:{}}}", input["id"].as_str().expect("id"))
    );

    let claude = json_out(config(h, "claude-code", &flags));
    let entry = &claude["mcpServers"][NAME];
    assert_eq!(entry["type"], "http");
    assert_eq!(entry["url"], URL);
    let helper = split(entry["headersHelper"].as_str().expect("headersHelper")).expect("words");
    assert_eq!(
        helper,
        ["kubectl-mcp_client", "token", "--format", "headers-json"]
    );

    let desktop = json_out(config(h, "claude-desktop", &flags));
    let entry = &desktop["mcpServers"][NAME];
    assert_eq!(entry["command"], "/bin/sh");
    assert_eq!(entry["args"][0], "-c");
    let script = entry["args"][1].as_str().expect("script");
    // Claude Desktop gets the binary's absolute path: it does not start from a shell.
    let exe = env!("CARGO_BIN_EXE_kubectl-mcp_client");
    assert!(
        script.starts_with(&format!("token=$({exe} token) || exit 1;")),
        "{script}"
    );
    assert!(script.contains(&format!(
        "exec npx -y mcp-remote {URL} --header 'Authorization:${{AUTH_HEADER}}'"
    )));

    // The token reaches the Inspector as a --config document on its stdin, never as an
    // argument.
    let inspector = words(config(h, "inspector", &flags));
    let pipe = inspector
        .iter()
        .position(|w| w == "|")
        .expect("token | inspector");
    assert_eq!(
        &inspector[..pipe],
        [
            "kubectl-mcp_client",
            "token",
            "--format",
            "inspector-config",
            "--url",
            URL,
            "--name",
            NAME
        ]
    );
    assert_eq!(
        &inspector[pipe + 1..pipe + 4],
        ["npx", "@modelcontextprotocol/inspector", "--cli"]
    );
    assert_eq!(after(&inspector, "--config"), "/dev/stdin");
    assert_eq!(after(&inspector, "--server"), NAME);
    assert_eq!(after(&inspector, "--method"), "tools/list");
    assert!(!inspector.iter().any(|w| w.contains("$(")), "{inspector:?}");

    let remote = words(config(h, "mcp-remote", &flags));
    assert_eq!(remote[0], "AUTH_HEADER=Bearer $(kubectl-mcp_client token)");
    assert_eq!(&remote[1..4], ["npx", "-y", "mcp-remote"]);
    assert_eq!(remote[4], URL);
    assert_eq!(after(&remote, "--header"), "Authorization:${AUTH_HEADER}");

    // -o json gives the command-line clients' mcpServers entry instead.
    let mut cmd = config(h, "mcp-remote", &flags);
    cmd.args(["-o", "json"]);
    let entry = &json_out(cmd)["mcpServers"][NAME];
    assert_eq!(entry["command"], "/bin/sh");
}

#[test]
fn issuer_mode_carries_the_client_id_and_scopes() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let flags: Vec<&str> = ["--url", URL].into_iter().chain(OIDC).collect();
    let scopes = ["openid", "profile", "offline_access"];

    let cursor = json_out(config(h, "cursor", &flags));
    let auth = &cursor["mcpServers"][NAME]["auth"];
    assert_eq!(auth["CLIENT_ID"], "mcp-cli");
    assert_eq!(auth["scopes"], json!(scopes));
    assert!(cursor["mcpServers"][NAME].get("headers").is_none());

    let claude = json_out(config(h, "claude-code", &flags));
    let oauth = &claude["mcpServers"][NAME]["oauth"];
    assert_eq!(oauth["clientId"], "mcp-cli");
    assert_eq!(oauth["scopes"], scopes.join(" "));

    let desktop = json_out(config(h, "claude-desktop", &flags));
    let args: Vec<String> =
        serde_json::from_value(desktop["mcpServers"][NAME]["args"].clone()).expect("args");
    let info: Value =
        serde_json::from_str(after(&args, "--static-oauth-client-info")).expect("json");
    assert_eq!(info["client_id"], "mcp-cli");
    let metadata: Value =
        serde_json::from_str(after(&args, "--static-oauth-client-metadata")).expect("json");
    assert_eq!(metadata["scope"], scopes.join(" "));
    assert!(
        !args.contains(&"--disable-resource-parameter".to_owned()),
        "not Entra"
    );

    let inspector = words(config(h, "inspector", &flags));
    assert_eq!(after(&inspector, "--client-id"), "mcp-cli");

    let remote = words(config(h, "mcp-remote", &flags));
    let info: Value =
        serde_json::from_str(after(&remote, "--static-oauth-client-info")).expect("json");
    assert_eq!(info["client_id"], "mcp-cli");

    // VS Code has no field for a pre-registered client: it asks, and the note says what to enter.
    let out = run(config(h, "vscode", &flags), LIMIT);
    let vscode: Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(vscode["servers"][NAME]["type"], "http");
    assert!(
        stderr(&out).contains("client ID mcp-cli"),
        "{}",
        stderr(&out)
    );

    // --login token: a header from `token`, with the login baked into the command.
    let mut cmd = config(h, "claude-code", &flags);
    cmd.args(["--login", "token"]);
    let claude = json_out(cmd);
    let helper = split(
        claude["mcpServers"][NAME]["headersHelper"]
            .as_str()
            .expect("helper"),
    )
    .expect("words");
    assert_eq!(
        after(&helper, "--issuer"),
        "https://idp.example.com/realms/ops"
    );
    assert_eq!(after(&helper, "--client-id"), "mcp-cli");
    // offline_access was added for a refresh token; the audience is unknown here.
    assert_eq!(after(&helper, "--scope"), "openid,profile,offline_access");
    assert!(!helper.contains(&"--audience".to_owned()));
}

fn backups(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".bak"))
        .collect();
    found.sort();
    found
}

#[test]
fn write_merges_beside_other_servers_and_keeps_a_backup() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let other_stdio = json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"DEBUG": "1"}});
    let other_http =
        json!({"type": "http", "url": "https://example.com/mcp", "headers": {"X-Tenant": "acme"}});
    let cases: [(&str, &str, String); 6] = [
        (
            "vscode",
            "servers",
            // VS Code allows comments and trailing commas.
            format!(
                "{{\n    // mine\n    \"inputs\": [{{\"type\": \"promptString\", \"id\": \"other-key\", \"password\": true}}],\n    \"servers\": {{\n        \"fs\": {other_stdio},\n        \"web\": {other_http},\n    }}\n}}\n"
            ),
        ),
        (
            "cursor",
            "mcpServers",
            format!("{{\"mcpServers\": {{\"fs\": {other_stdio}, \"web\": {other_http}}}}}"),
        ),
        (
            "claude-code",
            "mcpServers",
            format!("{{\"mcpServers\": {{\"fs\": {other_stdio}, \"web\": {other_http}}}}}"),
        ),
        (
            "claude-desktop",
            "mcpServers",
            format!(
                "{{\"globalShortcut\": \"Ctrl+Space\", \"mcpServers\": {{\"fs\": {other_stdio}, \"web\": {other_http}}}}}"
            ),
        ),
        (
            "inspector",
            "mcpServers",
            format!("{{\"mcpServers\": {{\"fs\": {other_stdio}, \"web\": {other_http}}}}}"),
        ),
        (
            "mcp-remote",
            "mcpServers",
            format!("{{\"mcpServers\": {{\"fs\": {other_stdio}, \"web\": {other_http}}}}}"),
        ),
    ];
    for (client, key, original) in cases {
        let dir = h.join(client);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mcp.json");
        std::fs::write(&path, &original).expect("seed");
        let path_arg = path.display().to_string();
        let flags = write_json_flags(URL, &path_arg);

        let report = json_out(config(h, client, &flags));
        assert_eq!(report["action"], "added", "{client}");
        assert_eq!(report["file"], path_arg);
        let backup = report["backup"].as_str().expect("a backup");
        assert_eq!(
            std::fs::read_to_string(backup).expect("backup"),
            original,
            "{client}"
        );

        let written = others_kept(&path, key, &other_stdio, &other_http, client);
        assert_eq!(written[key].as_object().map(serde_json::Map::len), Some(3));
        assert!(written[key][NAME].is_object(), "{client}");
        if client == "vscode" {
            assert_eq!(written["inputs"][0]["id"], "other-key");
            assert_eq!(written["inputs"].as_array().map(Vec::len), Some(2));
        }
        if client == "claude-desktop" {
            assert_eq!(written["globalShortcut"], "Ctrl+Space");
        }

        // The same again changes nothing and makes no new backup.
        let report = json_out(config(h, client, &flags));
        assert_eq!(report["action"], "unchanged", "{client}");
        assert_eq!(backups(&dir).len(), 1, "{client}");

        // A different URL replaces only our entry, with a second backup.
        let other_url = "https://mcp.other.example.com/mcp";
        let flags = write_json_flags(other_url, &path_arg);
        let report = json_out(config(h, client, &flags));
        assert_eq!(report["action"], "replaced", "{client}");
        assert_eq!(backups(&dir).len(), 2, "{client}");
        let written = others_kept(&path, key, &other_stdio, &other_http, client);
        assert!(written.to_string().contains(other_url));
        assert!(!written.to_string().contains(URL));
    }
}

/// The file at `path`, read as the client reads it (comments allowed), after checking that
/// the two servers of the user's under `key` are as they were.
fn others_kept(path: &Path, key: &str, stdio: &Value, http: &Value, client: &str) -> Value {
    let written = jsonfile::parse(&std::fs::read_to_string(path).expect("read"), path)
        .expect("valid JSON")
        .to_value();
    assert_eq!(&written[key]["fs"], stdio, "{client}: other server changed");
    assert_eq!(&written[key]["web"], http, "{client}: other server changed");
    written
}

#[test]
fn write_uses_each_clients_usual_file_and_dry_run_writes_nothing() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let flags = ["--url", URL, "--auth", "openshift"];
    for (client, file) in [
        ("vscode", ".vscode/mcp.json"),
        ("cursor", ".cursor/mcp.json"),
        ("claude-code", ".mcp.json"),
        ("inspector", ".mcp-inspector/mcp.json"),
    ] {
        let mut cmd = config(h, client, &flags);
        cmd.args(["--write", "--dry-run"]);
        let out = run(cmd, LIMIT);
        let preview: Value = serde_json::from_str(&ok(&out)).expect("the new file");
        assert!(preview.to_string().contains(URL));
        assert!(stderr(&out).contains("dry run"));
        assert!(!h.join(file).exists(), "{client}: dry run wrote {file}");

        let mut cmd = config(h, client, &flags);
        cmd.arg("--write");
        let out = run(cmd, LIMIT);
        ok(&out);
        assert!(h.join(file).is_file(), "{client}: {file}");
        if client == "inspector" {
            // The catalog cannot hold the token: the line still reads its configuration,
            // token included, from the token command's pipe.
            let line = split(stdout(&out).trim()).expect("words");
            assert_eq!(after(&line, "--config"), "/dev/stdin");
            assert_eq!(after(&line, "--server"), NAME);
            assert!(
                stderr(&out).contains("the written catalog has no token"),
                "{}",
                stderr(&out)
            );
            let catalog = std::fs::read_to_string(h.join(file)).expect("catalog");
            assert!(!catalog.contains("Authorization"), "{catalog}");
        }
    }
    // mcp-remote has no file of its own.
    let mut cmd = config(h, "mcp-remote", &flags);
    cmd.arg("--write");
    let out = run(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A file that is not JSON is left alone.
    std::fs::create_dir_all(h.join("bad")).expect("dir");
    let bad = h.join("bad/mcp.json");
    std::fs::write(&bad, "{ not json").expect("write");
    let mut cmd = config(h, "cursor", &flags);
    cmd.arg("--write").arg(&bad);
    let out = run(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&bad).expect("read"), "{ not json");

    // Plain http is refused for a route.
    let out = run(
        config(
            h,
            "cursor",
            &["--url", "http://mcp.example.com/mcp", "--auth", "openshift"],
        ),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2));
}

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";

async fn deploy(sb: &Sandbox, config_toml: &str) {
    let client = sb.client_for("admin").await.expect("client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "mcp-server"}})).expect("ns"),
        )
        .await;
    let services: Api<Service> = Api::namespaced(client.clone(), "mcp-server");
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": NAME, "labels": {"app.kubernetes.io/instance": NAME}},
                "spec": {"selector": {"app.kubernetes.io/instance": NAME},
                         "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}
            }))
            .expect("service"),
        )
        .await
        .expect("create service");
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "mcp-server");
    ingresses
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": NAME, "labels": {"app.kubernetes.io/instance": NAME},
                             "annotations": {"route.openshift.io/termination": "edge"}},
                "spec": {"rules": [{"host": HOST, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": NAME, "port": {"number": 8080}}}}]}}]}
            }))
            .expect("ingress"),
        )
        .await
        .expect("create ingress");
    set_config(sb, config_toml).await;
    // The sandbox's controller turns the Ingress into a Route with a random suffix.
    let routes: Api<Route> = Api::namespaced(client, "mcp-server");
    for _ in 0..200 {
        let list = routes.list(&ListParams::default()).await.expect("routes");
        if list
            .items
            .iter()
            .any(|r| r.spec.host.as_deref() == Some(HOST))
        {
            assert!(
                list.items
                    .iter()
                    .all(|r| r.metadata.name.as_deref() != Some(NAME))
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sandbox made no Route from the Ingress");
}

async fn set_config(sb: &Sandbox, config_toml: &str) {
    let client = sb.client_for("admin").await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client, "mcp-server");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME},
        "data": {"config.toml": config_toml}});
    cms.patch(
        NAME,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&cm),
    )
    .await
    .expect("apply configmap");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_gives_the_route_and_the_mode() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    deploy(
        &sb,
        &ServerConfig::openshift(&[] as &[&str]).to_toml_string(),
    )
    .await;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let admin = sb.kubeconfig_path("admin").expect("kubeconfig");
    let url = format!("https://{HOST}/mcp");

    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin)
        .args(["config", "--for", "cursor"]);
    let cursor: Value = serde_json::from_str(&ok(&run(cmd, LIMIT))).expect("json");
    assert_eq!(cursor["mcpServers"][NAME]["url"], url.as_str());
    assert_eq!(
        cursor["mcpServers"][NAME]["headers"]["Authorization"],
        "Bearer ${env:MCP_TOKEN}"
    );

    // Claude Code's headersHelper, run the way Claude Code runs it, prints the header for
    // the kubeconfig user named in the command.
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin)
        .args(["config", "--for", "claude-code"]);
    let claude: Value = serde_json::from_str(&ok(&run(cmd, LIMIT))).expect("json");
    let helper = claude["mcpServers"][NAME]["headersHelper"]
        .as_str()
        .expect("helper");
    assert!(
        helper.contains(&format!("--kubeconfig {}", admin.display())),
        "{helper}"
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kubectl-mcp_client"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", helper])
        .env("PATH", path)
        .env("HOME", h)
        .env_remove("KUBECONFIG")
        .current_dir(h);
    let out = run(sh, LIMIT);
    let headers: Value = serde_json::from_str(&ok(&out)).expect("a JSON object of headers");
    assert_eq!(
        headers["Authorization"],
        format!("Bearer {}", sb.token("admin").expect("token"))
    );

    // Entra mode, with the registration `oc mcp-oauth register entra` leaves behind (keys in
    // another spelling than its own, to show they are accepted).
    set_config(
        &sb,
        &ServerConfig::entra("tenant-1", "app-123", Some(HOST), &[] as &[&str]).to_toml_string(),
    )
    .await;
    let client = sb.client_for("admin").await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client, "mcp-server");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "mcp-oauth-settings"},
            "data": {"provider": "entra", "tenantId": "tenant-1", "client-id": "app-123",
                     "scopes": "openid profile email api://app-123/mcp.access"}}))
        .expect("cm"),
    )
    .await
    .expect("settings");
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin)
        .args(["config", "--for", "claude-code"]);
    let claude: Value = serde_json::from_str(&ok(&run(cmd, LIMIT))).expect("json");
    let oauth = &claude["mcpServers"][NAME]["oauth"];
    assert_eq!(oauth["clientId"], "app-123");
    // The server's oauth_scopes win over the registration's; offline_access is added.
    assert_eq!(oauth["scopes"], "openid profile email offline_access");
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&admin)
        .args(["config", "--for", "mcp-remote"]);
    let line = split(ok(&run(cmd, LIMIT)).trim()).expect("words");
    assert!(
        line.contains(&"--disable-resource-parameter".to_owned()),
        "Entra rejects resource"
    );
    assert_eq!(line[3], url);

    // A user who may not read the server's objects is told what to pass.
    let member = sb.kubeconfig_path("outsider").expect("kubeconfig");
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&member)
        .args(["config", "--for", "cursor"]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("Routes"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_embed_token_writes_a_token_and_then_privately() {
    let (sb, home, token) = sandbox_member().await;
    let h = home.path();
    let member = sb.kubeconfig_path("member").expect("kubeconfig");

    // Every client `--for` knows.
    for client in ClientKind::value_variants().iter().map(|k| k.as_str()) {
        let file = h.join(format!("{client}.json"));
        let mut cmd = bin(h);
        cmd.arg("--kubeconfig")
            .arg(&member)
            .args(openshift_config(client))
            .arg("--write")
            .arg(&file);
        let out = run(cmd, LIMIT);
        ok(&out);
        assert!(!stdout(&out).contains(&token));
        assert!(!stderr(&out).contains(&token));
    }
    assert!(
        files_containing(h, &token).is_empty(),
        "a token was written"
    );

    let file = h.join("embedded.json");
    let mut cmd = bin(h);
    cmd.arg("--kubeconfig")
        .arg(&member)
        .args([
            "config",
            "--for",
            "cursor",
            "--url",
            URL,
            "--auth",
            "openshift",
            "--embed-token",
            "--write",
        ])
        .arg(&file);
    let out = run(cmd, LIMIT);
    ok(&out);
    assert!(
        stderr(&out).contains("holds your token"),
        "{}",
        stderr(&out)
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    assert_eq!(
        written["mcpServers"][NAME]["headers"]["Authorization"],
        format!("Bearer {token}")
    );
    #[cfg(unix)]
    assert_eq!(common::mode(&file), 0o600);
    assert_eq!(files_containing(h, &token), vec![file]);
}
