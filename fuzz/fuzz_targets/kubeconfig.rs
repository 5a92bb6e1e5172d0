//! kubectl flag and kubeconfig resolution (`common::kube_args`), without any network.
//!
//! Input: kubeconfig YAML, then flag values after a line `#--- flags`, one `name=value` per
//! line (`context`, `cluster`, `user`, `namespace`, `server`, `token`, `as`, `insecure`).
//! Invariants: resolution returns a config or an error, never panics; errors are kubeconfig or
//! usage errors, and never show the `--token` value; a config honours `-n`, `--server`,
//! `--token` and `--as`.
#![no_main]

use std::{io::Write, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use oc_mcp_common::{
    KubeArgs,
    kube_args::{LoadEnv, Secret},
};

const TOKEN: &str = "fz-flag-token-3b8f27d1c9";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Paths in a kubeconfig are read as files: a device or /proc file would block or be
    // endless, which says nothing about our code.
    if ["/dev", "/proc", "/sys", "/run"]
        .iter()
        .any(|p| text.contains(p))
    {
        return;
    }
    let (yaml, flags) = text.split_once("\n#--- flags\n").unwrap_or((text, ""));
    let path = scratch().path().join("kubeconfig");
    let Ok(mut file) = std::fs::File::create(&path) else {
        return;
    };
    if file.write_all(yaml.as_bytes()).is_err() {
        return;
    }
    drop(file);

    let mut args = KubeArgs {
        kubeconfig: Some(path),
        ..KubeArgs::default()
    };
    for line in flags.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.to_owned();
        match name {
            "context" => args.context = Some(value),
            "cluster" => args.cluster = Some(value),
            "user" => args.user = Some(value),
            "namespace" => args.namespace = Some(value),
            "server" => args.server = Some(value),
            "token" => args.token = Some(Secret::new(TOKEN)),
            "as" => args.as_user = Some(value),
            "insecure" => args.insecure_skip_tls_verify = true,
            _ => {}
        }
    }
    let env = LoadEnv::default();
    match runtime().block_on(args.config_with(&env)) {
        Ok(config) => {
            if let Some(ns) = &args.namespace {
                assert_eq!(&config.default_namespace, ns);
            }
            if let Some(server) = &args.server {
                assert_eq!(
                    Some(&config.cluster_url),
                    server.parse::<http::Uri>().ok().as_ref(),
                    "--server {server:?} was not used"
                );
            }
            if args.token.is_some() {
                let token = config.auth_info.token.as_ref().map(|t| {
                    use secrecy::ExposeSecret;
                    t.expose_secret().to_owned()
                });
                assert_eq!(token.as_deref(), Some(TOKEN), "--token was not used");
            }
            if let Some(user) = &args.as_user {
                assert_eq!(config.auth_info.impersonate.as_ref(), Some(user));
            }
        }
        Err(e) => {
            let code = e.exit_code().code();
            assert_eq!(code, 2, "a bad kubeconfig or flag is bad input: {e}");
            let shown = format!("{e} {e:?}");
            if !yaml.contains(TOKEN) {
                assert!(!shown.contains(TOKEN), "an error shows the token: {shown}");
            }
        }
    }
});
