//! The secret-leak test: known client secrets and tokens never appear in stdout, in stderr at
//! `-vvv` (trace logging of every crate), in the argv of a child process (a recording `az`
//! first on PATH), or in any file the commands write (HOME, TMPDIR and the working directory
//! point into one empty directory that is searched afterwards).

// One session of commands, then one search over everything they left.
#![allow(clippy::too_many_lines)]

use crate::common;

use std::path::{Path, PathBuf};

use common::{Cluster, NAMESPACE, Run, graph::FakeGraph, graph::TENANT, ok, stderr, stdout};
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::Api;
use oc_mcp_common::openshift::OAuthClient;

const KNOWN_SECRET: &str = "known-client-secret-7f3a9c1e5b";
const GRAPH_TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.known-graph-token-4d2b8e.c2ln";

/// Every file under `dir`, with its content.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(content) = std::fs::read(&path) {
            out.push((path, content));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_leak() {
    let cluster = Cluster::start().await;
    let graph = FakeGraph::start(GRAPH_TOKEN).await;
    let home = tempfile::tempdir().expect("home");
    let bin = tempfile::tempdir().expect("bin");
    let argv_log = bin.path().join("az-argv.log");
    // A recording az: one line per argument, then the token on stdout as `-o tsv` prints it.
    let az = bin.path().join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\nprintf '%s\\n' '{GRAPH_TOKEN}'\n",
            argv_log.display()
        ),
    )
    .expect("write az");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let home_str = home.path().display().to_string();
    let env = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("HOME", home_str.clone()),
            ("TMPDIR", home_str.clone()),
            ("XDG_CACHE_HOME", home_str.clone()),
            ("XDG_CONFIG_HOME", home_str.clone()),
            ("OC_MCP_GRAPH_URL", graph.url.clone()),
        ];
        env.extend(extra);
        env
    };
    let kube_token = cluster.sandbox.token("admin").expect("admin token");

    let mut outputs = Vec::new();
    let mut run = |args: &[&str], stdin: Option<&[u8]>, extra: Vec<(&'static str, String)>| {
        let mut full: Vec<&str> = args.to_vec();
        full.push("-vvv");
        let out = cluster.run_with(
            &full,
            &Run {
                stdin,
                env: env(extra),
                path: Some(path.clone()),
                cwd: Some(home.path()),
                ..Run::default()
            },
        );
        ok(&out);
        outputs.push((full.join(" "), out));
    };
    // The guide's step 7 with a known secret, every way it can come in.
    run(
        &["secret", "set", "--from-stdin"],
        Some(KNOWN_SECRET.as_bytes()),
        vec![],
    );
    run(
        &["secret", "set", "--from-env", "MY_SECRET", "-o", "yaml"],
        None,
        vec![("MY_SECRET", KNOWN_SECRET.to_owned())],
    );
    // The OpenShift client takes it, renders it, rotates it, reports on it.
    run(&["register", "openshift", "-o", "json"], None, vec![]);
    run(
        &["register", "openshift", "--dry-run=client", "-o", "yaml"],
        None,
        vec![],
    );
    run(&["register", "openshift", "--dry-run=server"], None, vec![]);
    run(&["rotate"], None, vec![]);
    run(&["status", "-o", "json"], None, vec![]);
    run(&["status"], None, vec![]);
    // Entra: the token from the recording az, the secret from the fake Graph.
    run(
        &["register", "entra", "--tenant", TENANT, "-o", "yaml"],
        None,
        vec![],
    );
    run(&["register", "entra", "--tenant", TENANT], None, vec![]);

    let client = cluster.admin_client().await;
    let rotated = Api::<OAuthClient>::all(client.clone())
        .get("kubernetes-mcp-server")
        .await
        .expect("oauthclient")
        .secret
        .expect("secret");
    let stored = Api::<KubeSecret>::namespaced(client, NAMESPACE)
        .get("mcp-oauth-credentials")
        .await
        .expect("secret");
    let from_graph = graph.secrets_issued();
    assert_eq!(from_graph.len(), 1);
    assert_eq!(
        stored.data.expect("data")["sts_client_secret"].0,
        from_graph[0].as_bytes(),
        "the Entra secret is in the cluster Secret"
    );
    let plain: Vec<(&str, &str)> = vec![
        ("the known client secret", KNOWN_SECRET),
        ("the rotated client secret", &rotated),
        ("the Entra client secret", &from_graph[0]),
        ("the Graph token", GRAPH_TOKEN),
        ("the cluster token", &kube_token),
    ];
    // The API server sees Secret data base64-encoded: look for that form too.
    let encoded: Vec<(String, String)> = plain
        .iter()
        .map(|(what, v)| {
            (
                format!("{what} (base64)"),
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v),
            )
        })
        .collect();
    let secrets: Vec<(&str, &str)> = plain
        .iter()
        .copied()
        .chain(encoded.iter().map(|(w, v)| (w.as_str(), v.as_str())))
        .collect();

    // -vvv really was trace logging, and az really ran.
    let all_stderr: String = outputs.iter().map(|(_, o)| stderr(o)).collect();
    assert!(all_stderr.contains("TRACE"), "no trace output at -vvv");
    let argv = std::fs::read_to_string(&argv_log).expect("az ran");
    assert_eq!(
        argv.lines().take(10).collect::<Vec<_>>(),
        oc_mcp_oauth::entra::token::az_args(TENANT)
    );

    for (what, value) in &secrets {
        for (command, out) in &outputs {
            assert!(
                !stdout(out).contains(value),
                "{what} on stdout of `{command}`"
            );
            assert!(
                !stderr(out).contains(value),
                "{what} on stderr of `{command}`"
            );
        }
        assert!(!argv.contains(value), "{what} in az's argv");
        for (file, content) in files(home.path()) {
            assert!(!contains(&content, value), "{what} in {}", file.display());
        }
    }
    // Nothing was written there at all.
    assert_eq!(
        files(home.path())
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        Vec::<PathBuf>::new()
    );
}
