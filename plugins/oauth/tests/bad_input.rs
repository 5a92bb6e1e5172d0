//! Bad input: exit 2, a message naming the problem, nothing on stdout, and no write in the
//! sandbox's audit log. Missing permissions: exit 3, every one listed, no write.

use crate::common;

use common::{Cluster, Run, assert_stderr_has, stderr, stdout};

/// Entra's documentation tenant, where a case needs a valid `--tenant`.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Bad input, each with what the message must say; run with no stdin and no extra variables.
const BAD_FLAGS: &[(&[&str], &str)] = &[
    (
        &["register", "openshift", "--redirect-uri", "not a uri"],
        "invalid redirect URI \"not a uri\"",
    ),
    (
        &["register", "openshift", "--redirect-uri", "/oauth/callback"],
        "invalid redirect URI",
    ),
    (
        &[
            "register",
            "openshift",
            "--redirect-uri",
            "http://mcp.example.com/oauth/callback",
        ],
        "only loopback addresses (127.0.0.1, [::1], localhost) may use http",
    ),
    (
        &[
            "register",
            "openshift",
            "--redirect-uri",
            "https://mcp.example.com/cb#frag",
        ],
        "may not have a #fragment",
    ),
    (
        &[
            "register",
            "entra",
            "--tenant",
            TENANT,
            "--redirect-uri",
            "http://10.0.0.1/oauth/callback",
        ],
        "only loopback addresses",
    ),
    (
        &["register", "entra", "--tenant", "contoso"],
        "unknown tenant format \"contoso\"",
    ),
    (
        &["register", "entra", "--tenant", "72f988bf-86f1-41af-91ab"],
        "unknown tenant format",
    ),
    (
        &["register", "entra", "--tenant", "common"],
        "is a multi-tenant alias",
    ),
    (
        &[
            "register",
            "entra",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--display-name",
            "my app",
        ],
        "invalid value 'my app' for '--display-name <NAME>': \"my app\" cannot be the application's unique name",
    ),
    (
        &["secret", "set"],
        "no client secret given and there is no terminal to ask for it",
    ),
    (
        &["secret", "set", "--from-env", "OC_MCP_TEST_UNSET_VARIABLE"],
        "environment variable OC_MCP_TEST_UNSET_VARIABLE is not set",
    ),
    (
        &["secret", "set", "--from-file", "/nonexistent/secret.txt"],
        "cannot read client secret file /nonexistent/secret.txt",
    ),
    (
        &["secret", "set", "--from-stdin", "--from-env", "X"],
        "cannot be used with",
    ),
    (
        &["register", "openshift", "--name", "Bad Name"],
        "invalid value 'Bad Name' for '--name <NAME>': \"Bad Name\" is not a valid object name",
    ),
    (
        &["register", "openshift", "-n", "Bad_NS"],
        "namespace \"Bad_NS\" is not a valid DNS label",
    ),
    (
        &["register", "openshift", "--grant-method", "deny"],
        "invalid value 'deny' for '--grant-method <GRANT_METHOD>'",
    ),
    (
        &["register", "openshift", "--access-token-max-age=-5"],
        "invalid value '-5' for '--access-token-max-age <SECONDS>'",
    ),
    (
        &["rotate", "--name", "UPPER"],
        "invalid value 'UPPER' for '--name <NAME>': \"UPPER\" is not a valid object name",
    ),
    (
        &["redirect", "sync", "--release", "a.b"],
        "invalid value 'a.b' for '--release <NAME>': \"a.b\" is not a valid DNS label",
    ),
    (
        &["discover", "login.microsoftonline.com/t/v2.0"],
        "invalid value 'login.microsoftonline.com/t/v2.0' for '<ISSUER_URL>': invalid issuer URL",
    ),
    (
        &["discover", "https://issuer.example.com/?tenant=x"],
        "may not have a query or fragment",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_names_the_problem_and_writes_nothing() {
    let cluster = Cluster::start().await;
    let graph_over_http = Run {
        env: vec![("OC_MCP_GRAPH_URL", "http://graph.example.com/v1.0".into())],
        ..Run::default()
    };
    let stdin = |input: &'static [u8]| Run {
        stdin: Some(input),
        ..Run::default()
    };
    let empty_secret = "the client secret from stdin is empty";
    let mut cases: Vec<(&[&str], Run<'_>, &str)> = BAD_FLAGS
        .iter()
        .map(|(args, expected)| (*args, Run::default(), *expected))
        .collect();
    cases.extend([
        (
            &["register", "entra", "--tenant", "contoso.onmicrosoft.com"][..],
            graph_over_http,
            "must use https",
        ),
        (
            &["secret", "set", "--from-stdin"][..],
            stdin(b""),
            empty_secret,
        ),
        (
            &["secret", "set", "--from-stdin"][..],
            stdin(b"\n"),
            empty_secret,
        ),
    ]);
    for (args, how, expected) in &cases {
        let out = cluster.run_with(args, how);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_stderr_has(&out, expected);
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
    assert_stderr_has(&out, "namespace mcp-server does not exist");
    assert_stderr_has(&out, "oc new-project mcp-server");
    let out = cluster.run(&["rotate", "-n", "default"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "OAuthClient kubernetes-mcp-server does not exist");
    let out = cluster.run(&["redirect", "sync", "-n", "default"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "no Route serves release kubernetes-mcp-server");
    assert_eq!(cluster.writes(), Vec::<String>::new());
}
