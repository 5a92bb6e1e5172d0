//! Every plugin command in the README parses with that plugin's real flags, so the README
//! cannot drift from the code. (The sandbox runs the openshift-mode quick start in
//! `cargo xtask demo` and in `guide.rs`.)

use clap::CommandFactory;
use oc_mcp_e2e::workspace_root;

/// The words of every `oc mcp-...` or `kubectl mcp-...` command line in the README's code blocks.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let mut in_code = false;
    let mut commands = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line
            .strip_prefix("oc ")
            .or_else(|| line.strip_prefix("kubectl "))
        else {
            continue;
        };
        if in_code && rest.starts_with("mcp-") {
            commands.push(rest.split_whitespace().map(str::to_owned).collect());
        }
    }
    commands
}

fn command_for(plugin: &str) -> Option<clap::Command> {
    Some(match plugin {
        "mcp-rbac" => oc_mcp_rbac::Cli::command(),
        "mcp-oauth" => oc_mcp_oauth::Cli::command(),
        "mcp-install" => oc_mcp_install::Cli::command(),
        "mcp-verify" => oc_mcp_verify::Cli::command(),
        "mcp-client" => oc_mcp_client::Cli::command(),
        _ => return None,
    })
}

#[test]
fn every_readme_command_parses() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 15,
        "found only {} commands",
        commands.len()
    );
    for words in commands {
        let cmd =
            command_for(&words[0]).unwrap_or_else(|| panic!("unknown plugin in README: {words:?}"));
        if let Err(e) = cmd.try_get_matches_from(&words) {
            panic!("README command {words:?} does not parse: {e}");
        }
    }
}
