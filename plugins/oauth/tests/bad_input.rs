//! Bad input: exit 2, a message naming the problem, nothing on stdout, and no write in the
//! sandbox's audit log. Missing permissions: exit 3, every one listed, no write.

// One table of cases reads best as one list.
#![allow(clippy::too_many_lines)]

use crate::common;

use common::{Cluster, Run, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_names_the_problem_and_writes_nothing() {
    let cluster = Cluster::start().await;
    let stdin_empty: &[u8] = b"";
    let stdin_newline: &[u8] = b"\n";
    let cases: Vec<(Vec<&str>, Run<'_>, &str)> = vec![
        (
            vec!["register", "openshift", "--redirect-uri", "not a uri"],
            Run::default(),
            "invalid redirect URI \"not a uri\"",
        ),
        (
            vec!["register", "openshift", "--redirect-uri", "/oauth/callback"],
            Run::default(),
            "invalid redirect URI",
        ),
        (
            vec![
                "register",
                "openshift",
                "--redirect-uri",
                "http://mcp.example.com/oauth/callback",
            ],
            Run::default(),
            "only loopback addresses (127.0.0.1, [::1], localhost) may use http",
        ),
        (
            vec![
                "register",
                "openshift",
                "--redirect-uri",
                "https://mcp.example.com/cb#frag",
            ],
            Run::default(),
            "may not have a #fragment",
        ),
        (
            vec![
                "register",
                "entra",
                "--tenant",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "--redirect-uri",
                "http://10.0.0.1/oauth/callback",
            ],
            Run::default(),
            "only loopback addresses",
        ),
        (
            vec!["register", "entra", "--tenant", "contoso"],
            Run::default(),
            "unknown tenant format \"contoso\"",
        ),
        (
            vec!["register", "entra", "--tenant", "72f988bf-86f1-41af-91ab"],
            Run::default(),
            "unknown tenant format",
        ),
        (
            vec!["register", "entra", "--tenant", "common"],
            Run::default(),
            "is a multi-tenant alias",
        ),
        (
            vec![
                "register",
                "entra",
                "--tenant",
                "contoso.onmicrosoft.com",
                "--display-name",
                "my app",
            ],
            Run::default(),
            "cannot be the application's unique name",
        ),
        (
            vec!["register", "entra", "--tenant", "contoso.onmicrosoft.com"],
            Run {
                env: vec![("OC_MCP_GRAPH_URL", "http://graph.example.com/v1.0".into())],
                ..Run::default()
            },
            "must use https",
        ),
        (
            vec!["secret", "set", "--from-stdin"],
            Run {
                stdin: Some(stdin_empty),
                ..Run::default()
            },
            "the client secret from stdin is empty",
        ),
        (
            vec!["secret", "set", "--from-stdin"],
            Run {
                stdin: Some(stdin_newline),
                ..Run::default()
            },
            "the client secret from stdin is empty",
        ),
        (
            vec!["secret", "set"],
            Run::default(),
            "no client secret given and there is no terminal to ask for it",
        ),
        (
            vec!["secret", "set", "--from-env", "OC_MCP_TEST_UNSET_VARIABLE"],
            Run::default(),
            "environment variable OC_MCP_TEST_UNSET_VARIABLE is not set",
        ),
        (
            vec!["secret", "set", "--from-file", "/nonexistent/secret.txt"],
            Run::default(),
            "cannot read client secret file /nonexistent/secret.txt",
        ),
        (
            vec!["secret", "set", "--from-stdin", "--from-env", "X"],
            Run::default(),
            "cannot be used with",
        ),
        (
            vec!["register", "openshift", "--name", "Bad Name"],
            Run::default(),
            "--name \"Bad Name\" is not a valid object name",
        ),
        (
            vec!["register", "openshift", "-n", "Bad_NS"],
            Run::default(),
            "namespace \"Bad_NS\" is not a valid DNS label",
        ),
        (
            vec!["register", "openshift", "--grant-method", "deny"],
            Run::default(),
            "invalid value 'deny' for '--grant-method <GRANT_METHOD>'",
        ),
        (
            vec!["register", "openshift", "--access-token-max-age=-5"],
            Run::default(),
            "invalid value '-5' for '--access-token-max-age <SECONDS>'",
        ),
        (
            vec!["rotate", "--name", "UPPER"],
            Run::default(),
            "is not a valid object name",
        ),
        (
            vec!["redirect", "sync", "--release", "a.b"],
            Run::default(),
            "--release \"a.b\" is not a valid DNS label",
        ),
        (
            vec!["discover", "login.microsoftonline.com/t/v2.0"],
            Run::default(),
            "invalid issuer URL",
        ),
        (
            vec!["discover", "https://issuer.example.com/?tenant=x"],
            Run::default(),
            "may not have a query or fragment",
        ),
    ];
    for (args, how, expected) in &cases {
        let out = cluster.run_with(args, how);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: {err:?} lacks {expected:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed {}", stdout(&out));
    }
    assert_eq!(
        cluster.writes(),
        Vec::<String>::new(),
        "bad input must not change the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_are_listed_at_once_and_nothing_is_written() {
    let cluster = Cluster::start().await;
    let out = cluster.run_with(
        &["register", "openshift"],
        &Run {
            user: Some("member"),
            ..Run::default()
        },
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    for expected in [
        "create oauthclients.oauth.openshift.io (cluster-wide)",
        "patch oauthclients.oauth.openshift.io (cluster-wide)",
        "create secrets in namespace mcp-server",
        "patch secrets in namespace mcp-server",
    ] {
        assert!(err.contains(expected), "{err}");
    }
    assert!(err.contains("nothing was changed"), "{err}");
    let out = cluster.run_with(
        &["secret", "set", "--from-stdin"],
        &Run {
            user: Some("outsider"),
            stdin: Some(b"value"),
            ..Run::default()
        },
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(cluster.writes(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_namespace_or_client_is_named() {
    let cluster = Cluster::bare().await;
    let out = cluster.run(&["register", "openshift"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("namespace mcp-server does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("oc new-project mcp-server"),
        "{}",
        stderr(&out)
    );
    let out = cluster.run(&["rotate", "-n", "default"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("OAuthClient kubernetes-mcp-server does not exist"),
        "{}",
        stderr(&out)
    );
    let out = cluster.run(&["redirect", "sync", "-n", "default"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Route serves release kubernetes-mcp-server"),
        "{}",
        stderr(&out)
    );
    assert_eq!(cluster.writes(), Vec::<String>::new());
}
