//! Where each client reads its configuration, per OS, as its documentation says (each
//! client's module names the page).

use std::path::{Path, PathBuf};

use super::ClientKind;

pub(super) fn default_path(kind: ClientKind, home: Option<&Path>, name: &str) -> Option<PathBuf> {
    match kind {
        ClientKind::Cursor => Some(PathBuf::from(".cursor").join("mcp.json")),
        ClientKind::Vscode => Some(PathBuf::from(".vscode").join("mcp.json")),
        ClientKind::ClaudeCode => Some(PathBuf::from(".mcp.json")),
        ClientKind::ClaudeDesktop => claude_desktop_config(home),
        ClientKind::Inspector => home.map(|h| h.join(".mcp-inspector").join("mcp.json")),
        ClientKind::McpRemote | ClientKind::Jetbrains => None,
        // The same place on every OS (Windows: %USERPROFILE%\.codeium\windsurf).
        ClientKind::Windsurf => {
            home.map(|h| h.join(".codeium").join("windsurf").join("mcp_config.json"))
        }
        ClientKind::Zed => zed_settings(home),
        ClientKind::Cline => cline_settings(home),
        ClientKind::Continue => continue_block(name),
        ClientKind::Goose => goose_config(home),
        ClientKind::Gemini => home.map(|h| h.join(".gemini").join("settings.json")),
        ClientKind::Codex => codex_config(home),
        ClientKind::Opencode => Some(PathBuf::from("opencode.json")),
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
fn xdg_config(home: Option<&Path>) -> Option<PathBuf> {
    env_dir("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config")))
}

fn claude_desktop_config(home: Option<&Path>) -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Application Support/Claude/claude_desktop_config.json"))
    } else if cfg!(windows) {
        env_dir("APPDATA").map(|d| d.join("Claude").join("claude_desktop_config.json"))
    } else {
        // Not an official build; where the community builds for Linux read it.
        xdg_config(home).map(|c| c.join("Claude").join("claude_desktop_config.json"))
    }
}

/// Zed: `~/.config/zed/settings.json` on macOS and Linux (`$XDG_CONFIG_HOME` on Linux),
/// `%APPDATA%\Zed\settings.json` on Windows.
fn zed_settings(home: Option<&Path>) -> Option<PathBuf> {
    if cfg!(windows) {
        env_dir("APPDATA").map(|d| d.join("Zed").join("settings.json"))
    } else if cfg!(target_os = "macos") {
        home.map(|h| h.join(".config").join("zed").join("settings.json"))
    } else {
        xdg_config(home).map(|c| c.join("zed").join("settings.json"))
    }
}

/// Cline's shared settings (the VS Code extension, the CLI and JetBrains read the same
/// file): `$CLINE_MCP_SETTINGS_PATH`, else `$CLINE_DATA_DIR/settings/`, else
/// `$CLINE_DIR/data/settings/` with `~/.cline` as the default `CLINE_DIR`.
fn cline_settings(home: Option<&Path>) -> Option<PathBuf> {
    const FILE: &str = "cline_mcp_settings.json";
    if let Some(path) = env_dir("CLINE_MCP_SETTINGS_PATH") {
        return Some(path);
    }
    if let Some(data) = env_dir("CLINE_DATA_DIR") {
        return Some(data.join("settings").join(FILE));
    }
    env_dir("CLINE_DIR")
        .or_else(|| home.map(|h| h.join(".cline")))
        .map(|dir| dir.join("data").join("settings").join(FILE))
}

/// Continue reads every block file in the workspace's `.continue/mcpServers/`; ours is named
/// after the server, so only a name that is a plain file name makes one.
fn continue_block(name: &str) -> Option<PathBuf> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    plain.then(|| {
        PathBuf::from(".continue")
            .join("mcpServers")
            .join(format!("{name}.yaml"))
    })
}

/// Goose: `~/.config/goose/config.yaml` on macOS and Linux,
/// `%APPDATA%\Block\goose\config\config.yaml` on Windows.
fn goose_config(home: Option<&Path>) -> Option<PathBuf> {
    if cfg!(windows) {
        env_dir("APPDATA").map(|d| {
            d.join("Block")
                .join("goose")
                .join("config")
                .join("config.yaml")
        })
    } else {
        home.map(|h| h.join(".config").join("goose").join("config.yaml"))
    }
}

/// Codex: `$CODEX_HOME/config.toml`, `~/.codex` by default.
fn codex_config(home: Option<&Path>) -> Option<PathBuf> {
    env_dir("CODEX_HOME")
        .or_else(|| home.map(|h| h.join(".codex")))
        .map(|d| d.join("config.toml"))
}
