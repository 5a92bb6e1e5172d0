//! Helpers for running the built plugins the way users do: as kubectl plugins found on PATH.

pub mod admin;
pub mod harness;
pub mod kubectl_shell;
pub mod node_clients;
pub mod route_proxy;
pub mod stdio_session;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The five plugins, by krew name.
pub const PLUGINS: [&str; 5] = [
    "mcp-rbac",
    "mcp-oauth",
    "mcp-install",
    "mcp-verify",
    "mcp-client",
];

/// `mcp-rbac` -> `kubectl-mcp_rbac`.
pub fn binary_name(plugin: &str) -> String {
    format!("kubectl-{}", plugin.replace('-', "_"))
}

/// The cargo output directory that holds the plugin binaries (`target/debug`).
///
/// Tests run from `target/debug/deps/`; the binaries are built by `cargo build --bins`
/// (which `cargo xtask test` runs first).
pub fn built_binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    for plugin in PLUGINS {
        let bin = dir.join(binary_name(plugin));
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --workspace --bins` first (`cargo xtask test` does)",
            bin.display()
        );
    }
    dir
}

/// A directory holding only the five plugin binaries, as `~/.krew/bin` would.
pub fn plugin_dir() -> tempfile::TempDir {
    let src = built_binaries_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    for plugin in PLUGINS {
        let name = binary_name(plugin);
        std::fs::copy(src.join(&name), dir.path().join(&name)).expect("copy plugin binary");
    }
    dir
}

/// The real kubectl: `OC_MCP_KUBECTL`, else kubectl 1.33 of these machines, else the one
/// `cargo xtask` installs, else `kubectl` on PATH.
pub fn kubectl() -> PathBuf {
    if let Some(path) = std::env::var_os("OC_MCP_KUBECTL") {
        return PathBuf::from(path);
    }
    let candidates = [
        PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.33"),
        workspace_root().join("target/tools/kubectl"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/e2e is two levels below the root")
        .to_path_buf()
}

/// Run a command the way a shell would: `PATH` starts with `plugins`, and `_` names the
/// program the shell started (kubectl and oc pass it on to the plugin they exec).
pub fn shell_run(plugins: &Path, program: &Path, args: &[&str]) -> Output {
    let path = std::env::join_paths(
        std::iter::once(plugins.to_path_buf())
            .chain(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from)),
    )
    .expect("PATH");
    Command::new(program)
        .args(args)
        .env("PATH", path)
        .env("_", program)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
