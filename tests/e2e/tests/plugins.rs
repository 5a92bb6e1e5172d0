//! The plugins are found and run by the real kubectl, and share one set of global flags.

use std::collections::BTreeMap;

use clap::CommandFactory;
use oc_mcp_e2e::{PLUGINS, binary_name, kubectl, plugin_dir, shell_run, text};

#[test]
fn kubectl_plugin_list_finds_all_five_without_warnings() {
    let plugins = plugin_dir();
    let out = shell_run(plugins.path(), &kubectl(), &["plugin", "list"]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "kubectl plugin list failed: {stderr}");
    for plugin in PLUGINS {
        let path = plugins.path().join(binary_name(plugin));
        assert!(
            stdout.contains(&path.display().to_string()),
            "{plugin} missing from:\n{stdout}"
        );
    }
    assert!(
        !stderr.to_lowercase().contains("warning"),
        "warnings: {stderr}"
    );
    assert!(
        !stdout.to_lowercase().contains("warning"),
        "warnings: {stdout}"
    );
}

#[test]
fn kubectl_runs_the_plugins_and_help_names_kubectl() {
    let plugins = plugin_dir();
    let out = shell_run(plugins.path(), &kubectl(), &["mcp-rbac", "--help"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(
        help.contains("Usage: kubectl mcp-rbac [OPTIONS] <COMMAND>"),
        "{help}"
    );
    assert!(help.contains("--as-group <GROUP>"), "{help}");

    let out = shell_run(plugins.path(), &kubectl(), &["mcp-verify", "--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("kubectl mcp-verify {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_names_oc_when_oc_started_the_plugin() {
    // No `oc` binary can be installed here; oc execs plugins exactly like kubectl does, so the
    // plugin sees what a shell passes when the user typed `oc mcp-rbac --help`.
    let plugins = plugin_dir();
    let bin = plugins.path().join("kubectl-mcp_rbac");
    let out = std::process::Command::new(&bin)
        .arg("--help")
        .env("_", "/usr/bin/oc")
        .output()
        .expect("run plugin");
    assert!(text(&out.stdout).contains("Usage: oc mcp-rbac [OPTIONS] <COMMAND>"));
}

#[test]
fn run_directly_the_help_names_the_binary() {
    let plugins = plugin_dir();
    for plugin in PLUGINS {
        let bin = plugins.path().join(binary_name(plugin));
        let out = shell_run(plugins.path(), &bin, &["--help"]);
        assert!(out.status.success());
        assert!(
            text(&out.stdout).contains(&format!("Usage: {} [OPTIONS]", binary_name(plugin))),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn completion_scripts_are_generated_for_each_shell() {
    let plugins = plugin_dir();
    for plugin in PLUGINS {
        let bin = plugins.path().join(binary_name(plugin));
        for (shell, marker) in [
            ("bash", "complete -F"),
            ("zsh", "#compdef"),
            ("fish", "complete -c"),
        ] {
            let out = shell_run(plugins.path(), &bin, &["completion", shell]);
            assert!(
                out.status.success(),
                "{plugin} completion {shell}: {}",
                text(&out.stderr)
            );
            let script = text(&out.stdout);
            assert!(
                script.contains(marker),
                "{plugin} {shell} script lacks {marker:?}"
            );
            assert!(
                script.contains(&binary_name(plugin)),
                "{plugin} {shell} script names another binary"
            );
        }
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let plugins = plugin_dir();
    let cases: [(&[&str], &str); 5] = [
        (
            &["completion", "bash", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (
            &["completion", "bash", "-o", "xml"],
            "invalid value 'xml' for '--output <OUTPUT>'",
        ),
        (
            &["completion", "bash", "--dry-run=maybe"],
            "invalid value 'maybe' for '--dry-run[=<MODE>]'",
        ),
        (&["completion", "tcsh"], "invalid value 'tcsh'"),
        (
            &["completion", "bash", "--request-timeout", "soon"],
            "invalid duration \"soon\"",
        ),
    ];
    for plugin in PLUGINS {
        for (args, expected) in cases {
            // verify only reads: it has no run mode, so the flag itself is unknown there.
            let expected = if plugin == "mcp-verify" && args.contains(&"--dry-run=maybe") {
                "unexpected argument '--dry-run' found"
            } else {
                expected
            };
            let mut full = vec![plugin];
            full.extend_from_slice(args);
            let out = shell_run(plugins.path(), &kubectl(), &full);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{full:?}: {stderr}");
            assert!(
                stderr.contains(expected),
                "{full:?}: {stderr:?} lacks {expected:?}"
            );
            assert!(out.stdout.is_empty(), "{full:?} printed a result");
        }
    }
}

/// Every flag of the top-level command as (long name, short, value name, help, global),
/// in declaration order.
fn global_flags(cmd: &clap::Command) -> Vec<(String, Option<char>, String, String, bool)> {
    // The common flags: every global one, plus the kubeconfig `--user` (given before the
    // command, so not global). Plugin-specific top-level flags (install's) are not common.
    cmd.get_arguments()
        .filter(|a| a.is_global_set() || a.get_id().as_str() == "user")
        .map(|a| {
            (
                a.get_long().unwrap_or_default().to_owned(),
                a.get_short(),
                format!("{:?}", a.get_value_names()),
                a.get_help().map(ToString::to_string).unwrap_or_default(),
                a.is_global_set(),
            )
        })
        .collect()
}

#[test]
fn global_flags_are_identical_across_the_five_plugins() {
    let commands = BTreeMap::from([
        ("mcp-rbac", oc_mcp_rbac::Cli::command()),
        ("mcp-oauth", oc_mcp_oauth::Cli::command()),
        ("mcp-install", oc_mcp_install::Cli::command()),
        ("mcp-verify", oc_mcp_verify::Cli::command()),
        ("mcp-client", oc_mcp_client::Cli::command()),
    ]);
    let reference = global_flags(&commands["mcp-rbac"]);
    let longs: Vec<&str> = reference.iter().map(|f| f.0.as_str()).collect();
    for expected in [
        "kubeconfig",
        "context",
        "cluster",
        "user",
        "namespace",
        "as",
        "as-group",
        "as-uid",
        "request-timeout",
        "server",
        "token",
        "certificate-authority",
        "insecure-skip-tls-verify",
        "tls-server-name",
        "output",
        "dry-run",
        "verbose",
        "yes",
    ] {
        assert!(
            longs.contains(&expected),
            "--{expected} is not a global flag: {longs:?}"
        );
    }
    // The run-mode flags belong to the plugins that change something; read-only verify
    // refuses them (a usage error), and is otherwise the same.
    let change = ["dry-run", "yes"];
    let read_only: Vec<_> = reference
        .iter()
        .filter(|f| !change.contains(&f.0.as_str()))
        .cloned()
        .collect();
    for (name, cmd) in &commands {
        let expected = if *name == "mcp-verify" {
            &read_only
        } else {
            &reference
        };
        assert_eq!(&global_flags(cmd), expected, "{name} differs from mcp-rbac");
    }
}
