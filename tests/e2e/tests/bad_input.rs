//! Bad input, all five plugins, one sandbox: every case gives its documented exit code (2 bad
//! input, 3 not authenticated or forbidden, 4 unreachable, 1 a failed check), a message that
//! names the problem and one that names the fix, and no token in the message. After the whole
//! table the sandbox's audit log holds no write by anyone.
//!
//! The binaries must be built (`cargo build --workspace --bins`, as `cargo xtask test` does).

// One table of cases reads best as one list.
#![allow(clippy::too_many_lines)]

use std::{collections::BTreeMap, path::Path, time::Duration};

use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use oc_mcp_e2e::harness::{Invocation, kubeconfig_yaml, search_path, sparse_file, write_private};
use oc_mcp_sandbox::{Sandbox, SandboxConfig};

/// 50 MB: far beyond any input these plugins take, and sparse, so it costs no disk.
const OVERSIZED: u64 = 50 * 1024 * 1024;

struct Case {
    category: &'static str,
    run: Invocation,
    code: i32,
    /// Substrings of stderr: the problem, then the fix.
    expect: Vec<String>,
    /// `mcp-verify` reports failed checks as table rows on stdout.
    on_stdout: bool,
}

/// Append a case run with `--kubeconfig kubeconfig`; returns it for extra settings.
fn add<'a>(
    cases: &'a mut Vec<Case>,
    category: &'static str,
    kubeconfig: &str,
    plugin: &str,
    args: &[&str],
    code: i32,
    expect: &[&str],
) -> &'a mut Case {
    let mut run = Invocation::new(plugin, args);
    run.args.push("--kubeconfig".into());
    run.args.push(kubeconfig.to_owned());
    cases.push(Case {
        category,
        run,
        code,
        expect: expect.iter().map(|s| (*s).to_owned()).collect(),
        on_stdout: false,
    });
    cases.last_mut().expect("just pushed")
}

/// A JWT signed by the sandbox issuer's key with the claims given (to make it expired or
/// foreign); everything else as the issuer would mint it.
fn jwt(sb: &Sandbox, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut claims = oc_mcp_sandbox::issuer::user_claims(
        sb.issuer_url(),
        "member",
        &[],
        sb.oidc_audience(),
        "oc-mcp-sandbox",
        Duration::from_secs(600),
    );
    edit(&mut claims);
    oc_mcp_sandbox::issuer::signing_key()
        .and_then(|key| key.sign(&claims))
        .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_documented_exit_code_a_message_with_a_fix_and_writes_nothing() {
    let sb = Sandbox::start(SandboxConfig {
        // The API server accepts the issuer's JWTs, so expired and foreign ones can be told
        // apart from unknown opaque tokens.
        trust_issuer: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let admin = sb.client_for("admin").await.expect("client");
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("mcp-server".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(admin)
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let baseline = sb.audit().len();

    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    let home = dir.join("home");
    std::fs::create_dir(&home).expect("home");
    let kc = |user: &str| {
        sb.kubeconfig_path(user)
            .expect("kubeconfig")
            .display()
            .to_string()
    };
    let (admin_kc, member_kc, outsider_kc) = (kc("admin"), kc("member"), kc("outsider"));
    let ca = sb.dir().join("ca.crt");
    let ca_line = format!("certificate-authority: {}", ca.display());
    let admin_token = sb.token("admin").expect("token");
    let file = |name: &str, content: &str| {
        write_private(dir, name, content.as_bytes())
            .display()
            .to_string()
    };

    // Kubeconfigs that are wrong in one way each.
    let garbage_kc = file("kc-garbage", "this: is: not: yaml: [\n");
    let no_current_kc = file(
        "kc-no-current",
        &kubeconfig_yaml(sb.url(), &ca_line, &admin_token).replace("current-context: x\n", ""),
    );
    let missing_ca_kc = file(
        "kc-missing-ca",
        &kubeconfig_yaml(
            sb.url(),
            "certificate-authority: /nonexistent/ca.crt",
            &admin_token,
        ),
    );
    let not_pem = file("not-a-cert.pem", "this is not a certificate\n");
    let not_pem_kc = file(
        "kc-not-pem-ca",
        &kubeconfig_yaml(
            sb.url(),
            &format!("certificate-authority: {not_pem}"),
            &admin_token,
        ),
    );
    // A real CA, but not the one that signed the API server's certificate.
    let other = Sandbox::start(SandboxConfig::default())
        .await
        .expect("second sandbox");
    let other_ca = file("other-ca.pem", other.ca_pem());
    other.shutdown();
    let wrong_ca_kc = file(
        "kc-wrong-ca",
        &kubeconfig_yaml(
            sb.url(),
            &format!("certificate-authority: {other_ca}"),
            &admin_token,
        ),
    );
    let expired = jwt(&sb, |c| {
        let now = oc_mcp_sandbox::issuer::now();
        c["iat"] = (now - 7200).into();
        c["nbf"] = (now - 7200).into();
        c["exp"] = (now - 3600).into();
    });
    let expired_kc = file("kc-expired", &kubeconfig_yaml(sb.url(), &ca_line, &expired));
    let foreign = jwt(&sb, |c| {
        c["iss"] = "https://issuer.other.example.com".into();
    });
    let foreign_kc = file("kc-foreign", &kubeconfig_yaml(sb.url(), &ca_line, &foreign));
    let unknown_kc = file(
        "kc-unknown-token",
        &kubeconfig_yaml(sb.url(), &ca_line, "sha256~this-token-was-never-issued"),
    );
    // A port nothing listens on: bind one, note it, close it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let closed_url = format!("https://127.0.0.1:{closed}");
    let closed_kc = file(
        "kc-closed-port",
        &kubeconfig_yaml(&closed_url, &ca_line, &admin_token),
    );
    // Input files.
    let typo_toml = file("typo.toml", "lsit_output = \"table\"\n");
    let wrong_type_toml = file("wrong-type.toml", "read_only = \"yes\"\n");
    let broken_toml = file("broken.toml", "denied_resources = [\n");
    let big = sparse_file(dir, "oversized", OVERSIZED)
        .display()
        .to_string();
    let not_json = typo_toml.clone();
    let closed_mcp = format!("https://127.0.0.1:{closed}/mcp");

    let oidc = [
        "render",
        "--auth",
        "oidc",
        "--issuer",
        "https://issuer.example.com",
        "--client-id",
        "mcp",
    ];
    let mut cases: Vec<Case> = Vec::new();
    let a = admin_kc.as_str();
    let lower_case_fix = "use lower-case letters, digits, '-' and '.'";
    let label_fix = "use at most 63 lower-case letters, digits and '-'";

    // --- invalid names ---------------------------------------------------------------------
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["role", "--name", "Bad Name"],
        2,
        &[
            "--name \"Bad Name\" is not a valid object name",
            lower_case_fix,
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["bind", ""],
        2,
        &[
            "an empty group name was given",
            "pass the group or user name exactly",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["bind", "mcp-users", "--role", "Bad Role"],
        2,
        &[
            "--role \"Bad Role\" is not a valid object name",
            lower_case_fix,
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["bind", "--service-account", "ns:Bad_Name"],
        2,
        &[
            "\"ns:Bad_Name\" is not a valid NAMESPACE:NAME",
            "write it as NAMESPACE:NAME",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["check", "--service-account", "nocolon"],
        2,
        &[
            "--service-account \"nocolon\" has no namespace",
            "write it as NAMESPACE:NAME",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-rbac",
        &["check", "--user", ""],
        2,
        &[
            "an empty --user name was given",
            "pass the group or user name exactly",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-oauth",
        &["register", "openshift", "--name", "Bad Name"],
        2,
        &[
            "'--name <NAME>': \"Bad Name\" is not a valid object name",
            lower_case_fix,
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-oauth",
        &["rotate", "--name", "UPPER"],
        2,
        &[
            "'--name <NAME>': \"UPPER\" is not a valid object name",
            lower_case_fix,
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-oauth",
        &["redirect", "sync", "--release", "a.b"],
        2,
        &[
            "'--release <NAME>': \"a.b\" is not a valid DNS label",
            label_fix,
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-install",
        &["render", "--release", "Bad"],
        2,
        &[
            "'--release <NAME>': \"Bad\" is not a valid release name",
            "use at most 53 lower-case letters",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-install",
        &["uninstall", "--release", "x_y", "--yes"],
        2,
        &[
            "'--release <NAME>': \"x_y\" is not a valid release name",
            "use at most 53 lower-case letters",
        ],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-install",
        &["render", "--toolsets", "core,bogus"],
        2,
        &["unknown toolset \"bogus\"", "use some of: "],
    );
    add(
        &mut cases,
        "names",
        a,
        "mcp-verify",
        &["--release", "Bad_Release"],
        2,
        &[
            "--release \"Bad_Release\" is not a valid DNS label",
            label_fix,
        ],
    );

    // --- wrong or invalid namespace --------------------------------------------------------
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-oauth",
        &["register", "openshift", "-n", "Bad_NS"],
        2,
        &["namespace \"Bad_NS\" is not a valid DNS label", label_fix],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-install",
        &["render", "-n", "Bad_NS"],
        2,
        &["namespace \"Bad_NS\" is not a valid DNS label", label_fix],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-install",
        &["uninstall", "-n", "Bad_NS", "--yes"],
        2,
        &["namespace \"Bad_NS\" is not a valid DNS label", label_fix],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-oauth",
        &["rotate", "-n", "nosuch"],
        1,
        &["namespace nosuch does not exist", "oc new-project nosuch"],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-oauth",
        &["register", "openshift", "-n", "nosuch"],
        1,
        &["namespace nosuch does not exist", "oc new-project nosuch"],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-client",
        &["config", "--for", "vscode", "-n", "nosuch"],
        1,
        &[
            "found no Route or Ingress for release \"kubernetes-mcp-server\" in namespace nosuch",
            "pass -n for another namespace",
        ],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-install",
        &["uninstall", "-n", "nosuch", "--yes"],
        1,
        &[
            "no objects of release kubernetes-mcp-server",
            "check --release and -n",
        ],
    );
    add(
        &mut cases,
        "namespace",
        a,
        "mcp-verify",
        &["-n", "nosuch"],
        1,
        &["namespace nosuch", "oc mcp-install"],
    )
    .on_stdout = true;

    // --- invalid URLs and hosts ------------------------------------------------------------
    add(
        &mut cases,
        "urls",
        a,
        "mcp-install",
        &["render", "--host", "bad_host"],
        2,
        &[
            "'--host <HOST>': \"bad_host\" is not a valid host name",
            "pass a lower-case DNS name",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-install",
        &["render", "--host", "https://mcp.example.com"],
        2,
        &["is not a valid host name", "(no scheme, port or path)"],
    );
    let oidc_with = |issuer: &str| {
        let mut args = oidc.to_vec();
        args[4] = issuer;
        args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let http_issuer = oidc_with("http://issuer.example.com");
    let no_url_issuer = oidc_with("not a url");
    add(
        &mut cases,
        "urls",
        a,
        "mcp-install",
        &http_issuer.iter().map(String::as_str).collect::<Vec<_>>(),
        2,
        &[
            "'--issuer <URL>': \"http://issuer.example.com\" must be an https:// URL",
            "pass an absolute https URL",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-install",
        &no_url_issuer.iter().map(String::as_str).collect::<Vec<_>>(),
        2,
        &[
            "'--issuer <URL>': \"not a url\" contains whitespace",
            "pass an absolute https URL",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-oauth",
        &["register", "openshift", "--redirect-uri", "not a uri"],
        2,
        &["invalid redirect URI \"not a uri\"", "https://"],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-oauth",
        &[
            "register",
            "openshift",
            "--redirect-uri",
            "http://mcp.example.com/cb",
        ],
        2,
        &[
            "only loopback addresses (127.0.0.1, [::1], localhost) may use http",
            "use https://",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-oauth",
        &[
            "register",
            "openshift",
            "--redirect-uri",
            "https://mcp.example.com/cb#frag",
        ],
        2,
        &["may not have a #fragment", "https://"],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-oauth",
        &["discover", "login.microsoftonline.com/t/v2.0"],
        2,
        &["invalid issuer URL", "https://"],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-oauth",
        &["discover", "https://issuer.example.com/?tenant=x"],
        2,
        &["may not have a query or fragment", "https://"],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-verify",
        &["--url", "not a url"],
        2,
        &[
            "--url \"not a url\" is not a URL",
            "pass the endpoint, e.g. https://",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-verify",
        &["--url", "ftp://mcp.example.com/mcp"],
        2,
        &[
            "must be an http(s) URL with a host",
            "pass the endpoint, e.g. https://",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-verify",
        &["--resolve", "mcp.example.com"],
        2,
        &[
            "\"mcp.example.com\" is not HOST:PORT:ADDR",
            "e.g. mcp.apps.example.com:443:10.0.0.5",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-client",
        &["config", "--for", "vscode", "--url", "not a url"],
        2,
        &[
            "--url \"not a url\" is not a URL",
            "give the full endpoint, e.g. https://",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-client",
        &[
            "config",
            "--for",
            "vscode",
            "--url",
            "http://mcp.example.com/mcp",
        ],
        2,
        &[
            "does not use https: the client would send its token in clear text",
            "use the route's https:// address",
        ],
    );
    add(
        &mut cases,
        "urls",
        a,
        "mcp-rbac",
        &["role", "--profile", "tools", "--from-server", "not a url"],
        2,
        &[
            "--from-server \"not a url\" is not an http(s) URL",
            "pass the server's MCP endpoint",
        ],
    );

    // --- unknown enum values ---------------------------------------------------------------
    let enums: [(&str, &[&str], &str, &str); 13] = [
        (
            "mcp-rbac",
            &["role", "--profile", "bogus"],
            "invalid value 'bogus' for '--profile <PROFILE>'",
            "[possible values: full, minimal, tools]",
        ),
        (
            "mcp-rbac",
            &["role", "--generic-resources", "bogus"],
            "invalid value 'bogus' for '--generic-resources <PROFILE>'",
            "[possible values: full, minimal, tools]",
        ),
        (
            "mcp-rbac",
            &["status", "-o", "bogus"],
            "invalid value 'bogus' for '--output <OUTPUT>'",
            "[possible values: table, wide, json, yaml]",
        ),
        (
            "mcp-rbac",
            &["role", "--dry-run=bogus"],
            "invalid value 'bogus' for '--dry-run[=<MODE>]'",
            "[possible values: none, client, server]",
        ),
        (
            "mcp-oauth",
            &["register", "openshift", "--grant-method", "deny"],
            "invalid value 'deny' for '--grant-method <GRANT_METHOD>'",
            "[possible values: ",
        ),
        (
            "mcp-install",
            &["--engine", "bogus"],
            "invalid value 'bogus' for '--engine <ENGINE>'",
            "[possible values: helm, manifests]",
        ),
        (
            "mcp-install",
            &["--auth", "bogus"],
            "unknown auth mode \"bogus\"",
            "use openshift, entra, oidc or none",
        ),
        (
            "mcp-install",
            &["--dry-run=bogus"],
            "invalid value 'bogus' for '--dry-run[=<MODE>]'",
            "[possible values: none, client, server]",
        ),
        (
            "mcp-verify",
            &["--auth-mode", "bogus"],
            "unknown auth mode \"bogus\"",
            "use openshift, entra, oidc or none",
        ),
        (
            "mcp-verify",
            &["-o", "bogus"],
            "invalid value 'bogus' for '--output <OUTPUT>'",
            "[possible values: table, wide, json, yaml]",
        ),
        (
            "mcp-verify",
            &["--only", "bogus.check"],
            "--only \"bogus.check\" is not a check id or group",
            "use a group (cluster, logs",
        ),
        (
            "mcp-client",
            &["config", "--for", "bogus"],
            "invalid value 'bogus' for '--for <CLIENT>'",
            "[possible values: cursor, vscode",
        ),
        (
            "mcp-client",
            &["token", "--token-kind", "bogus"],
            "invalid value 'bogus' for '--token-kind <KIND>'",
            "[possible values: auto, access, id]",
        ),
    ];
    for (plugin, args, problem, fix) in enums {
        add(&mut cases, "enums", a, plugin, args, 2, &[problem, fix]);
    }

    // --- malformed kubeconfig --------------------------------------------------------------
    add(
        &mut cases,
        "kubeconfig",
        &garbage_kc,
        "mcp-rbac",
        &["status"],
        2,
        &[
            "is not a valid kubeconfig",
            "check the file's YAML, or log in again",
        ],
    );
    add(
        &mut cases,
        "kubeconfig",
        &garbage_kc,
        "mcp-verify",
        &[],
        2,
        &[
            "is not a valid kubeconfig",
            "check the file's YAML, or log in again",
        ],
    );
    add(
        &mut cases,
        "kubeconfig",
        &no_current_kc,
        "mcp-oauth",
        &["status"],
        2,
        &[
            "no current context is set",
            "log in to the cluster (`oc login ...`), or pass --kubeconfig, --context or --server",
        ],
    );
    add(
        &mut cases,
        "kubeconfig",
        a,
        "mcp-client",
        &["config", "--for", "vscode", "--context", "nosuch"],
        2,
        &["context \"nosuch\" does not exist", "use one of: admin"],
    );
    add(
        &mut cases,
        "kubeconfig",
        "/nonexistent/kubeconfig",
        "mcp-install",
        &["render"],
        2,
        &[
            "cannot read /nonexistent/kubeconfig",
            "check the path and its permissions",
        ],
    );
    add(
        &mut cases,
        "kubeconfig",
        &missing_ca_kc,
        "mcp-install",
        &["render"],
        2,
        &[
            "failed to load certificate authority",
            "check the selected context, cluster and user",
        ],
    );
    add(
        &mut cases,
        "kubeconfig",
        &not_pem_kc,
        "mcp-oauth",
        &["status"],
        4,
        &["invalid peer certificate", "not signed by the CA you trust"],
    );
    add(
        &mut cases,
        "kubeconfig",
        &wrong_ca_kc,
        "mcp-rbac",
        &["status"],
        4,
        &["invalid peer certificate", "not signed by the CA you trust"],
    );

    // --- expired, foreign and unknown tokens: log in again ---------------------------------
    let relogin = "log in again";
    add(
        &mut cases,
        "tokens",
        &expired_kc,
        "mcp-rbac",
        &["status"],
        3,
        &["not authenticated", relogin],
    );
    add(
        &mut cases,
        "tokens",
        &expired_kc,
        "mcp-install",
        &["--engine", "manifests", "--yes"],
        3,
        &["not authenticated", relogin],
    );
    // verify reports every check on stdout, with its evidence and fix.
    add(
        &mut cases,
        "tokens",
        &expired_kc,
        "mcp-verify",
        &[],
        3,
        &["Unauthorized (401)", "fix: log in again"],
    )
    .on_stdout = true;
    add(
        &mut cases,
        "tokens",
        &foreign_kc,
        "mcp-oauth",
        &["register", "openshift"],
        3,
        &["not authenticated", relogin],
    );
    add(
        &mut cases,
        "tokens",
        &foreign_kc,
        "mcp-client",
        &["config", "--for", "vscode"],
        3,
        &["not authenticated", relogin],
    );
    add(
        &mut cases,
        "tokens",
        &unknown_kc,
        "mcp-rbac",
        &["bind", "mcp-users"],
        3,
        &["not authenticated", relogin],
    );

    // --- missing permissions: exit 3, the permission named, nothing written ----------------
    let nothing = "nothing was changed";
    add(
        &mut cases,
        "permissions",
        &member_kc,
        "mcp-rbac",
        &["role"],
        3,
        &[
            "create clusterroles.rbac.authorization.k8s.io (cluster-wide)",
            nothing,
        ],
    );
    add(
        &mut cases,
        "permissions",
        &outsider_kc,
        "mcp-rbac",
        &["bind", "mcp-users"],
        3,
        &[
            "create clusterrolebindings.rbac.authorization.k8s.io (cluster-wide)",
            nothing,
        ],
    );
    add(
        &mut cases,
        "permissions",
        &member_kc,
        "mcp-rbac",
        &["status"],
        3,
        &["User \"member\" cannot", "ask a cluster administrator"],
    );
    add(
        &mut cases,
        "permissions",
        &member_kc,
        "mcp-oauth",
        &["register", "openshift"],
        3,
        &[
            "create oauthclients.oauth.openshift.io (cluster-wide)",
            nothing,
        ],
    );
    add(
        &mut cases,
        "permissions",
        &outsider_kc,
        "mcp-oauth",
        &["secret", "set", "--from-stdin"],
        3,
        &["create secrets in namespace mcp-server", nothing],
    )
    .run
    .stdin = Some(b"a-client-secret".to_vec());
    add(
        &mut cases,
        "permissions",
        &member_kc,
        "mcp-install",
        &["--engine", "manifests", "--yes"],
        3,
        &[
            "get ingresses.config.openshift.io named cluster (cluster-wide)",
            nothing,
        ],
    );
    add(
        &mut cases,
        "permissions",
        &outsider_kc,
        "mcp-install",
        &["uninstall", "--yes"],
        3,
        &["delete deployments.apps in namespace mcp-server", nothing],
    );

    // --- unreachable API server: exit 4 ----------------------------------------------------
    let refused = "cannot reach the Kubernetes API server";
    let network = "check the server address, your network and VPN";
    for (plugin, args) in [
        ("mcp-rbac", &["status"][..]),
        ("mcp-oauth", &["status"][..]),
        ("mcp-install", &["render"][..]),
        ("mcp-client", &["config", "--for", "vscode"][..]),
    ] {
        add(
            &mut cases,
            "unreachable",
            &closed_kc,
            plugin,
            args,
            4,
            &[refused, network],
        );
    }
    add(
        &mut cases,
        "unreachable",
        &closed_kc,
        "mcp-verify",
        &[],
        4,
        &[
            "cannot reach the API server",
            "Connection refused",
            "fix: check the API server address, network and VPN",
        ],
    )
    .on_stdout = true;
    add(
        &mut cases,
        "unreachable",
        a,
        "mcp-rbac",
        &["role", "--profile", "tools", "--from-server", &closed_mcp],
        4,
        &["cannot reach", network],
    );

    // --- malformed and oversized files -----------------------------------------------------
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--extra-config", &typo_toml],
        2,
        &[
            "unknown key `lsit_output`",
            "rename `lsit_output` to `list_output`",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--extra-config", &wrong_type_toml],
        2,
        &["the server expects a boolean", "make `read_only` a boolean"],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--extra-config", &broken_toml],
        2,
        &["--extra-config is not valid TOML", "fix the file's syntax"],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--extra-config", "/nonexistent/extra.toml"],
        2,
        &[
            "cannot read --extra-config /nonexistent/extra.toml",
            "pass a readable TOML file",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--extra-config", &big],
        2,
        &["is 52428800 bytes", "pass only the TOML settings"],
    );
    let mut with_ca = oidc.to_vec();
    with_ca.extend(["--issuer-ca", big.as_str()]);
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &with_ca,
        2,
        &[
            "--issuer-ca",
            "is 52428800 bytes",
            "only the issuer's CA certificate",
        ],
    );
    let mut with_bad_ca = oidc.to_vec();
    with_bad_ca.extend(["--issuer-ca", not_pem.as_str()]);
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &with_bad_ca,
        2,
        &[
            "is not a PEM certificate bundle",
            "pass the CA certificate (-----BEGIN CERTIFICATE-----)",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-install",
        &["render", "--values-out", "/nonexistent/dir/values.yaml"],
        2,
        &[
            "cannot write --values-out /nonexistent/dir/values.yaml",
            "an existing directory",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-rbac",
        &["role", "--profile", "tools", "--from-tools", &big],
        2,
        &[
            "is 52428800 bytes",
            "pass the saved reply to `tools/list` only",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-rbac",
        &["role", "--profile", "tools", "--from-tools", &not_json],
        2,
        &[
            "not a tools/list reply",
            "save the server's reply to `tools/list`",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-rbac",
        &[
            "role",
            "--profile",
            "tools",
            "--from-server",
            &closed_mcp,
            "--server-token-file",
            &big,
        ],
        2,
        &[
            "longer than 65536 bytes",
            "give only the --server-token-file token itself",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-oauth",
        &["secret", "set", "--from-file", &big],
        2,
        &[
            "the client secret from file",
            "longer than 65536 bytes",
            "give only the client secret itself",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-oauth",
        &["secret", "set", "--from-stdin"],
        2,
        &[
            "the client secret from stdin is longer than 65536 bytes",
            "give only the client secret itself",
        ],
    )
    .run
    .stdin = Some(vec![b'x'; 1024 * 1024]);
    add(
        &mut cases,
        "files",
        a,
        "mcp-oauth",
        &["secret", "set", "--from-file", "/nonexistent/secret"],
        2,
        &[
            "cannot read client secret file /nonexistent/secret",
            "check the path and its permissions",
        ],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-verify",
        &["--token-file", &big],
        2,
        &["longer than 65536 bytes", "holds only the token"],
    );
    add(
        &mut cases,
        "files",
        a,
        "mcp-verify",
        &["--token-stdin"],
        2,
        &["longer than 65536 bytes", "holds only the token"],
    )
    .run
    .stdin = Some(vec![b'x'; 1024 * 1024]);
    add(
        &mut cases,
        "files",
        a,
        "mcp-verify",
        &["--token-file", "/nonexistent/token"],
        2,
        &[
            "cannot read the token from /nonexistent/token",
            "pass a readable file that holds only the token",
        ],
    );

    // --- no terminal and no --yes: refused, nothing deleted --------------------------------
    add(
        &mut cases,
        "non-tty",
        a,
        "mcp-install",
        &["uninstall"],
        2,
        &["stdin is not a terminal", "pass --yes to confirm"],
    );
    add(
        &mut cases,
        "non-tty",
        a,
        "mcp-oauth",
        &["secret", "set"],
        2,
        &[
            "no client secret given and there is no terminal to ask for it",
            "pass --from-stdin, --from-env VAR or --from-file PATH",
        ],
    );

    // --- invalid chart references: refused before helm runs --------------------------------
    for (chart, why) in [
        ("not a chart!", "it contains spaces"),
        ("oci://", "an OCI reference is oci://REGISTRY/REPOSITORY"),
        (
            "oci://ghcr.io/Containers/Charts",
            "an OCI reference is oci://REGISTRY/REPOSITORY",
        ),
        ("/nonexistent/chart", "no such chart directory or file"),
        (
            "ftp://charts.example.com/mcp.tgz",
            "only oci://, https:// and local paths",
        ),
    ] {
        add(
            &mut cases,
            "chart",
            a,
            "mcp-install",
            &["--chart", chart, "--yes"],
            2,
            &[
                why,
                "pass an OCI reference such as oci://ghcr.io/containers/charts/kubernetes-mcp-server",
            ],
        );
    }

    // --- mutually exclusive flags and combinations that cannot work ------------------------
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-rbac",
        &[
            "role",
            "--profile",
            "tools",
            "--from-tools",
            &not_json,
            "--from-server",
            "https://x.example.com/mcp",
        ],
        2,
        &[
            "the argument '--from-tools <FILE>' cannot be used with '--from-server <URL>'",
            "Usage:",
        ],
    );
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-rbac",
        &["role", "--from-server", "https://x.example.com/mcp"],
        2,
        &[
            "--from-tools and --from-server only apply to --profile tools",
            "use --profile tools",
        ],
    );
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-verify",
        &["--token-stdin", "--token-env", "X"],
        2,
        &[
            "the argument '--token-stdin' cannot be used with '--token-env <VAR>'",
            "Usage:",
        ],
    );
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-oauth",
        &["secret", "set", "--from-stdin", "--from-env", "X"],
        2,
        &["cannot be used with", "Usage:"],
    );
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-install",
        &["render", "--auth", "none"],
        2,
        &["--auth none on a public route", "add --internal"],
    );
    add(
        &mut cases,
        "exclusive",
        a,
        "mcp-install",
        &["render", "--auth", "oidc"],
        2,
        &[
            "--auth oidc needs the issuer and the client ID",
            "pass --issuer URL and --client-id ID",
        ],
    );

    let path = search_path(&[]);
    let secrets = [admin_token.as_str(), expired.as_str(), foreign.as_str()];
    let mut failures = Vec::new();
    let mut per_plugin: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_code: BTreeMap<i32, usize> = BTreeMap::new();
    let mut matrix: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for case in &cases {
        let out = case.run.run(&path, &home);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let text = if case.on_stdout {
            format!("{stdout}{stderr}")
        } else {
            stderr.to_string()
        };
        let name = case.run.display();
        *per_plugin.entry(case.run.plugin.clone()).or_default() += 1;
        *per_category.entry(case.category).or_default() += 1;
        *matrix
            .entry((case.category, case.run.plugin.clone()))
            .or_default() += 1;
        *per_code.entry(case.code).or_default() += 1;
        if out.status.code() != Some(case.code) {
            failures.push(format!(
                "`{name}`: exit {:?}, expected {}\n{text}",
                out.status.code(),
                case.code
            ));
            continue;
        }
        for want in &case.expect {
            if !text.contains(want.as_str()) {
                failures.push(format!("`{name}`: output lacks {want:?}\n{text}"));
            }
        }
        if !case.on_stdout && case.code != 1 && !out.stdout.is_empty() {
            failures.push(format!(
                "`{name}`: a refusal printed a result on stdout:\n{stdout}"
            ));
        }
        for secret in secrets {
            if text.contains(secret) || stdout.contains(secret) {
                failures.push(format!("`{name}`: a token appears in the output"));
            }
        }
    }
    println!("{} bad-input cases", cases.len());
    println!("per plugin: {per_plugin:?}");
    println!("per category: {per_category:?}");
    println!("per exit code: {per_code:?}");
    for ((category, plugin), n) in &matrix {
        println!("  {category:<12} {plugin:<12} {n}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(cases.len() >= 60, "the suite has {} cases", cases.len());
    assert_eq!(
        per_plugin.len(),
        5,
        "every plugin has cases: {per_plugin:?}"
    );

    let audit = sb.audit();
    let after: Vec<_> = audit.into_iter().skip(baseline).collect();
    assert!(!after.is_empty(), "the cases reached the API server");
    let writes: Vec<String> = after
        .iter()
        .filter(|e| matches!(e.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        // Access and token reviews are questions, not writes.
        .filter(|e| e.api_group != "authorization.k8s.io" && e.api_group != "authentication.k8s.io")
        .map(|e| format!("{} {} {} -> {}", e.user, e.method, e.request_uri, e.code))
        .collect();
    println!(
        "audit: {} requests during the table, {} writes",
        after.len(),
        writes.len()
    );
    assert_eq!(
        writes,
        Vec::<String>::new(),
        "bad input must not change the cluster"
    );
    assert!(Path::new(&home).exists());
}
