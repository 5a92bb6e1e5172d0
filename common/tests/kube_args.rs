//! `KubeArgs` resolves kubeconfig, context, namespace and impersonation the way kubectl does.
//!
//! Each test starts a local HTTPS server (its own CA and a leaf certificate) that records the
//! request line and headers, points a kubeconfig at it, and looks at what the client sent.

use std::{
    ffi::OsString,
    fmt::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use http_body_util::Full;
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, api::ListParams};
use oc_mcp_common::{
    Error, KubeArgs,
    kube_args::{LoadEnv, Secret},
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::TcpListener;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    impersonate_user: Option<String>,
    impersonate_groups: Vec<String>,
    impersonate_uid: Option<String>,
}

impl Seen {
    /// The bearer token the request carried.
    fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }
}

struct Recorder {
    url: String,
    ca_pem: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    dir: tempfile::TempDir,
}

impl Recorder {
    async fn start() -> Self {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("leaf params");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");

        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let tls = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("tls config");
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let record = record.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&req, &record)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url: format!("https://127.0.0.1:{port}"),
            ca_pem: ca.pem(),
            seen,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn last(&self) -> Seen {
        self.seen().last().cloned().expect("a request was made")
    }

    /// List ConfigMaps with `args` and `env` and return the request this server saw.
    async fn list_with(&self, args: &KubeArgs, env: &LoadEnv) -> Seen {
        list_configmaps(args, env).await.expect("list");
        self.last()
    }

    /// Write [`Self::kubeconfig`] to the file `config`.
    fn kubeconfig_file(&self, current: &str, contexts: &[(&str, &str, Option<&str>)]) -> PathBuf {
        self.write("config", &self.kubeconfig(current, contexts))
    }

    /// Write a kubeconfig file with the given YAML body under the test's directory.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// A kubeconfig whose contexts each use their own token; `current` selects one.
    fn kubeconfig(&self, current: &str, contexts: &[(&str, &str, Option<&str>)]) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let mut text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n- name: local\n  cluster:\n    \
             server: {}\n    certificate-authority-data: {ca}\ncontexts:\n",
            self.url
        );
        for (name, _, namespace) in contexts {
            let _ = write!(
                text,
                "- name: {name}\n  context:\n    cluster: local\n    user: {name}-user\n"
            );
            if let Some(ns) = namespace {
                let _ = writeln!(text, "    namespace: {ns}");
            }
        }
        text.push_str("users:\n");
        for (name, token, _) in contexts {
            let _ = write!(text, "- name: {name}-user\n  user:\n    token: {token}\n");
        }
        text
    }
}

fn answer(
    req: &Request<hyper::body::Incoming>,
    record: &Mutex<Vec<Seen>>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        path: req.uri().path().to_owned(),
        authorization: header("authorization"),
        impersonate_user: header("impersonate-user"),
        impersonate_groups: req
            .headers()
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect(),
        impersonate_uid: header("impersonate-uid"),
    };
    record.lock().expect("lock").push(seen);
    let body = if req.uri().path() == "/version" {
        r#"{"major":"1","minor":"33","gitVersion":"v1.33.0","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":"linux/amd64"}"#
    } else {
        r#"{"apiVersion":"v1","kind":"ConfigMapList","metadata":{"resourceVersion":"1"},"items":[]}"#
    };
    Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

fn env_with(kubeconfig: &[&Path]) -> LoadEnv {
    LoadEnv {
        kubeconfig: Some(std::env::join_paths(kubeconfig).expect("join")),
        home: None,
    }
}

/// `KubeArgs` with only `--kubeconfig` set.
fn with_kubeconfig(path: PathBuf) -> KubeArgs {
    KubeArgs {
        kubeconfig: Some(path),
        ..KubeArgs::default()
    }
}

async fn list_configmaps(args: &KubeArgs, env: &LoadEnv) -> Result<(), Error> {
    let client = args.client_with(env).await?;
    Api::<ConfigMap>::default_namespaced(client)
        .list(&ListParams::default())
        .await?;
    Ok(())
}

/// Two contexts: `dev` with a namespace, `prod` without.
const DEV_AND_PROD: [(&str, &str, Option<&str>); 2] = [
    ("dev", "sha256~dev-token", Some("team-a")),
    ("prod", "sha256~prod", None),
];

#[tokio::test]
async fn current_context_supplies_server_token_and_namespace() {
    let server = Recorder::start().await;
    let path = server.kubeconfig_file("dev", &DEV_AND_PROD);
    let args = with_kubeconfig(path);
    let seen = server.list_with(&args, &LoadEnv::default()).await;
    assert_eq!(seen.path, "/api/v1/namespaces/team-a/configmaps");
    assert_eq!(seen.bearer(), Some("sha256~dev-token"));
    assert_eq!(seen.impersonate_user, None);
}

#[tokio::test]
async fn context_flag_and_namespace_flag_override_the_kubeconfig() {
    let server = Recorder::start().await;
    let path = server.kubeconfig_file("dev", &DEV_AND_PROD);
    let args = KubeArgs {
        kubeconfig: Some(path.clone()),
        context: Some("prod".into()),
        ..KubeArgs::default()
    };
    let seen = server.list_with(&args, &LoadEnv::default()).await;
    assert_eq!(seen.bearer(), Some("sha256~prod"));
    assert_eq!(
        seen.path, "/api/v1/namespaces/default/configmaps",
        "prod has no namespace"
    );

    let args = KubeArgs {
        kubeconfig: Some(path),
        namespace: Some("mcp-server".into()),
        ..KubeArgs::default()
    };
    list_configmaps(&args, &LoadEnv::default())
        .await
        .expect("list");
    assert_eq!(
        server.last().path,
        "/api/v1/namespaces/mcp-server/configmaps"
    );
}

#[tokio::test]
async fn impersonation_flags_become_headers() {
    let server = Recorder::start().await;
    let path = server.kubeconfig_file("admin", &[("admin", "sha256~admin", None)]);
    let args = KubeArgs {
        kubeconfig: Some(path),
        as_user: Some("alice".into()),
        as_groups: vec!["mcp-users".into(), "system:authenticated".into()],
        as_uid: Some("1234".into()),
        ..KubeArgs::default()
    };
    let seen = server.list_with(&args, &LoadEnv::default()).await;
    assert_eq!(seen.bearer(), Some("sha256~admin"));
    assert_eq!(seen.impersonate_user.as_deref(), Some("alice"));
    assert_eq!(
        seen.impersonate_groups,
        ["mcp-users", "system:authenticated"]
    );
    assert_eq!(seen.impersonate_uid.as_deref(), Some("1234"));
}

#[tokio::test]
async fn kubeconfig_env_merges_files_first_wins_and_skips_missing_ones() {
    let server = Recorder::start().await;
    // The first file sets current-context and the `dev` user; the second must not override them.
    let first = server.write(
        "first",
        &server.kubeconfig("dev", &[("dev", "sha256~first", None)]),
    );
    let second = server.write(
        "second",
        &server
            .kubeconfig(
                "other",
                &[
                    ("dev", "sha256~second", None),
                    ("other", "sha256~other", None),
                ],
            )
            .replace("name: local", "name: local2"),
    );
    let missing = server.dir.path().join("does-not-exist");
    let env = env_with(&[&missing, &first, &second]);
    list_configmaps(&KubeArgs::default(), &env)
        .await
        .expect("list");
    assert_eq!(server.last().bearer(), Some("sha256~first"));

    // A context only the second file defines is reachable through the merge.
    let args = KubeArgs {
        context: Some("other".into()),
        ..KubeArgs::default()
    };
    list_configmaps(&args, &env).await.expect("list");
    assert_eq!(server.last().bearer(), Some("sha256~other"));
}

#[tokio::test]
async fn token_and_server_flags_replace_kubeconfig_credentials() {
    let server = Recorder::start().await;
    let ca = server.write("ca.crt", &server.ca_pem);
    let args = KubeArgs {
        server: Some(server.url.clone()),
        certificate_authority: Some(ca),
        token: Some(Secret::new("sha256~from-flag")),
        namespace: Some("ns1".into()),
        ..KubeArgs::default()
    };
    let seen = server.list_with(&args, &LoadEnv::default()).await;
    assert_eq!(seen.bearer(), Some("sha256~from-flag"));
    assert_eq!(seen.path, "/api/v1/namespaces/ns1/configmaps");
}

#[tokio::test]
async fn a_server_with_an_unknown_ca_is_rejected_unless_insecure() {
    let server = Recorder::start().await;
    let text = server.kubeconfig("dev", &[("dev", "sha256~dev", None)]);
    let without_ca = text
        .lines()
        .filter(|l| !l.contains("certificate-authority-data"))
        .collect::<Vec<_>>()
        .join("\n");
    let path = server.write("config", &without_ca);
    let args = with_kubeconfig(path.clone());
    let err = list_configmaps(&args, &LoadEnv::default())
        .await
        .expect_err("unknown CA");
    assert_eq!(err.exit_code().code(), 4, "{err}");
    assert!(
        server.seen().is_empty(),
        "no request may complete over an untrusted TLS connection"
    );

    let args = KubeArgs {
        kubeconfig: Some(path),
        insecure_skip_tls_verify: true,
        ..KubeArgs::default()
    };
    list_configmaps(&args, &LoadEnv::default())
        .await
        .expect("insecure list");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn bad_kubeconfig_input_is_a_usage_error_that_names_the_problem() {
    let server = Recorder::start().await;
    let good = server.kubeconfig_file("dev", &[("dev", "sha256~dev", None)]);
    let garbage = server.write("garbage", "clusters: [this is: not: a kubeconfig");
    let oversized_len = usize::try_from(oc_mcp_common::kube_args::MAX_KUBECONFIG_BYTES + 1)
        .expect("fits in memory");
    let oversized = server.write("oversized", &"#".repeat(oversized_len));
    let missing_file = with_kubeconfig(server.dir.path().join("nope"));
    let garbage_file = with_kubeconfig(garbage.clone());
    let garbage_env = env_with(&[&garbage]);
    let oversized_file = with_kubeconfig(oversized);
    let staging = KubeArgs {
        context: Some("staging".into()),
        ..with_kubeconfig(good.clone())
    };
    let nobody = KubeArgs {
        user: Some("nobody".into()),
        ..with_kubeconfig(good)
    };
    let no_current = LoadEnv {
        kubeconfig: Some(OsString::from(server.dir.path().join("missing"))),
        home: None,
    };
    let (flags, env) = (KubeArgs::default, LoadEnv::default);
    let cases: Vec<(KubeArgs, LoadEnv, &str)> = vec![
        (missing_file, env(), "cannot read"),
        (garbage_file, env(), "is not a valid kubeconfig"),
        (flags(), garbage_env, "is not a valid kubeconfig"),
        (oversized_file, env(), "too large to be a kubeconfig"),
        (staging, env(), "context \"staging\" does not exist"),
        (nobody, env(), "user \"nobody\" does not exist"),
        (flags(), no_current, "no current context"),
    ];
    for (args, env, expected) in cases {
        let err = args.config_with(&env).await.expect_err(expected);
        assert_eq!(err.exit_code().code(), 2, "{err}");
        assert!(
            err.to_string().contains(expected),
            "{err} should contain {expected:?}"
        );
        assert!(err.hint().is_some(), "{err} should say what to do");
    }
    assert!(
        server.seen().is_empty(),
        "bad input must not reach the cluster"
    );
}

#[tokio::test]
async fn exec_credential_plugins_work_like_oc_login_and_kubelogin_users() {
    use std::os::unix::fs::PermissionsExt;
    let server = Recorder::start().await;
    // A client-go exec plugin: prints an ExecCredential with a token on stdout.
    let plugin = server.dir.path().join("credential-plugin");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\
         \"status\":{\"token\":\"sha256~from-exec\"}}'\n",
    )
    .expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let text = server.kubeconfig("sso", &[("sso", "unused", Some("apps"))]).replace(
        "  user:\n    token: unused\n",
        &format!(
            "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      \
             interactiveMode: Never\n",
            plugin.display()
        ),
    );
    let path = server.write("config", &text);
    let args = with_kubeconfig(path);
    let seen = server.list_with(&args, &LoadEnv::default()).await;
    assert_eq!(seen.bearer(), Some("sha256~from-exec"));
    assert_eq!(seen.path, "/api/v1/namespaces/apps/configmaps");
}

/// A static token kube cannot put in a header (a pasted line break, a control byte) is a
/// usage error naming the user and the fix, never a panic, and never shows the token.
#[tokio::test]
async fn a_token_with_a_control_character_is_refused_with_the_user_named() {
    let dir = tempfile::tempdir().expect("tmp");
    for (label, token) in [
        ("newline", "sha256~secretpart\nrest"),
        ("control", "sha256~secretpart\u{1}rest"),
    ] {
        let path = dir.path().join(format!("{label}.yaml"));
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "alice", "user": {"token": token}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "alice"}}],
            "current-context": "x"
        });
        std::fs::write(&path, kubeconfig.to_string()).expect("write");
        let args = with_kubeconfig(path.clone());
        let Err(err) = args.client_with(&LoadEnv::default()).await else {
            panic!("{label}: accepted");
        };
        assert_eq!(err.exit_code().code(), 2, "{label}: {err}");
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert!(
            text.contains("kubeconfig user \"alice\""),
            "{label}: {text}"
        );
        assert!(text.contains("oc login"), "{label}: {text}");
        assert!(
            !text.contains("secretpart"),
            "{label}: the token leaked: {text}"
        );
        // `oc whoami -t` reads the token through the same layer.
        let mut config = kube::Config::new("https://127.0.0.1:1".parse().expect("url"));
        config.auth_info.token = Some(token.to_owned().into());
        let err = oc_mcp_common::kube_token::bearer_token(&config)
            .await
            .expect_err(label);
        assert_eq!(err.exit_code().code(), 2, "{label}: {err}");
    }
    // A raw DEL is not even YAML: refused as a broken file, without quoting the line.
    let path = dir.path().join("delete.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nusers:\n- name: alice\n  user:\n    token: \"sha256~secretpart\u{7f}\"\n",
    )
    .expect("write");
    let args = with_kubeconfig(path);
    let Err(err) = args.client_with(&LoadEnv::default()).await else {
        panic!("DEL accepted");
    };
    assert_eq!(err.exit_code().code(), 2, "{err}");
    assert!(
        !err.to_string().contains("secretpart"),
        "the token leaked: {err}"
    );
    // --token: the flag is named.
    let path = dir.path().join("newline.yaml");
    let args = KubeArgs {
        kubeconfig: Some(path),
        token: Some(Secret::new("abc\ndef")),
        ..KubeArgs::default()
    };
    let Err(err) = args.client_with(&LoadEnv::default()).await else {
        panic!("--token accepted");
    };
    assert_eq!(err.exit_code().code(), 2);
    assert!(err.to_string().contains("--token contains"), "{err}");
}
