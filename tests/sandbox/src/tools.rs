//! Locating the real client binaries tests run against the sandbox. A missing binary is
//! an error that says how to install it; tests never skip silently.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error(
    "{name} not found at {path}: run `cargo xtask test` (it installs it), or set {env} to its path"
)]
pub struct MissingTool {
    pub name: &'static str,
    pub path: PathBuf,
    pub env: &'static str,
}

/// `<workspace>/target/tools`.
pub fn tools_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ws = manifest.parent().and_then(Path::parent).unwrap_or(manifest);
    ws.join("target").join("tools")
}

fn find(env: &'static str, file: &str, name: &'static str) -> Result<PathBuf, MissingTool> {
    let path = std::env::var_os(env).map_or_else(|| tools_dir().join(file), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(MissingTool { name, path, env })
    }
}

/// kubectl: `OC_MCP_KUBECTL`, else the 1.33 binary of the google-cloud-sdk (the version
/// the sandbox is measured against), else target/tools/kubectl, else `kubectl` on PATH.
pub fn kubectl() -> PathBuf {
    if let Some(p) = std::env::var_os("OC_MCP_KUBECTL") {
        return PathBuf::from(p);
    }
    let gcloud = PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.33");
    if gcloud.is_file() {
        return gcloud;
    }
    let local = tools_dir().join("kubectl");
    if local.is_file() {
        return local;
    }
    PathBuf::from("kubectl")
}

pub fn helm() -> Result<PathBuf, MissingTool> {
    find("OC_MCP_HELM", "helm", "helm")
}

pub fn mcp_server() -> Result<PathBuf, MissingTool> {
    find(
        "OC_MCP_SERVER_BIN",
        "kubernetes-mcp-server",
        "kubernetes-mcp-server",
    )
}
