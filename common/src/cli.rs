//! The binary edge shared by every plugin: invocation name, argument parsing, logging,
//! completion, the tokio runtime, and the one place errors are printed.

use std::{ffi::OsString, io::Write};

use clap::{Args, Parser};
use clap_complete::Shell;

use crate::{
    error::{Error, ErrorReport, ExitCode},
    kube_args::KubeArgs,
    output::{ChangeArgs, OutputArgs, OutputFormat},
};

/// The global flags of a plugin that changes something: the connection, the output and the
/// run mode (`--dry-run`, `--yes`), in one place so they cannot drift apart.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// The global flags of a read-only plugin: the connection and the output, no run mode.
#[derive(Debug, Clone, Default, Args)]
pub struct ReadOnlyGlobalArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `completion <shell>`: print a completion script for standalone use of the binary.
#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// The shell to generate the script for
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// What a plugin provides to [`run`].
pub trait Plugin: Parser {
    /// The krew plugin name, e.g. `mcp-rbac`.
    const NAME: &'static str;

    /// The output flags, whichever global set the plugin flattens: [`run`] needs only the
    /// format (to print an error) and the verbosity (for logging).
    fn output(&self) -> &OutputArgs;

    /// Run the command; the returned code is the process exit code.
    fn run(self) -> impl std::future::Future<Output = Result<ExitCode, Error>>;
}

/// The binary file name for a plugin: `mcp-rbac` -> `kubectl-mcp_rbac`.
pub fn binary_name(plugin: &str) -> String {
    format!("kubectl-{}", plugin.replace('-', "_"))
}

/// The command the user typed, for help and usage text.
///
/// kubectl and oc `exec` the plugin, so the parent process is the user's shell. The shell
/// exports `_` as the path of the command it ran: `/usr/bin/oc` or `/usr/bin/kubectl` when the
/// plugin came through them, the plugin itself when run directly.
pub fn invocation_name(
    plugin: &str,
    shell_command: Option<&OsString>,
    parent: Option<&str>,
) -> String {
    let host_of = |name: &str| -> Option<&'static str> {
        // Split on both separators: Windows shells hand us backslashes.
        let base = name.rsplit(['/', '\\']).next()?;
        let base = base.strip_suffix(".exe").unwrap_or(base);
        if base == "oc" || base.starts_with("oc.") {
            Some("oc")
        } else if base == "kubectl" || base.starts_with("kubectl.") {
            Some("kubectl")
        } else {
            None
        }
    };
    let host = shell_command
        .and_then(|s| s.to_str())
        .and_then(host_of)
        .or_else(|| parent.and_then(host_of));
    match host {
        Some(host) => format!("{host} {plugin}"),
        None => binary_name(plugin),
    }
}

#[cfg(unix)]
fn parent_process_name() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    std::fs::read_to_string(format!("/proc/{ppid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

#[cfg(not(unix))]
fn parent_process_name() -> Option<String> {
    None
}

/// The clap command with the invocation name filled in.
pub fn command_for<P: Plugin>(display_name: &str) -> clap::Command {
    P::command()
        .name(display_name.to_owned())
        .bin_name(display_name.to_owned())
        .display_name(display_name.to_owned())
}

/// Initialise logging on stderr. `RUST_LOG` wins over `-v`.
pub fn init_logging(verbose: u8) {
    // rmcp logs a transport's expected failures (a 401 probe) as errors, and kube's client
    // logs every failed request before returning it (reported once, with a fix, by
    // `print_error`): show them only when asked for detail.
    let default = match verbose {
        0 => "warn,rmcp=off,kube_client::client::builder=off",
        1 => "info,rmcp=warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::output::use_color(std::io::IsTerminal::is_terminal(
            &std::io::stderr(),
        )))
        .with_target(verbose >= 2)
        .without_time()
        .try_init();
}

/// Print an error once, as text or (with `-o json`) as one JSON object on stderr.
pub fn print_error(err: &Error, format: OutputFormat) {
    let mut stderr = std::io::stderr().lock();
    if format == OutputFormat::Json {
        let report = ErrorReport::from(err);
        let line = serde_json::to_string(&report)
            .unwrap_or_else(|_| format!("{{\"error\":{:?}}}", err.to_string()));
        let _ = writeln!(stderr, "{line}");
        return;
    }
    let _ = writeln!(stderr, "error: {err}");
    if let Error::MissingPermissions { missing, .. } = err {
        for permission in missing {
            let _ = writeln!(stderr, "  - {permission}");
        }
    }
    if let Some(hint) = err.hint() {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}

/// Print a result to stdout in the chosen format.
pub fn emit<T: serde::Serialize + crate::output::Tabular>(
    value: &T,
    format: OutputFormat,
) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    crate::output::render(value, format, &mut stdout)
}

/// Print a warning on stderr (not a log line: the user should always see it).
pub fn warn(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "warning: {message}");
}

/// Write a completion script for the plugin's binary (completion works on the file name).
pub fn print_completion<P: Plugin>(shell: CompletionShell, out: &mut dyn Write) -> ExitCode {
    let name = binary_name(P::NAME);
    let mut cmd = P::command().name(name.clone()).bin_name(name.clone());
    clap_complete::generate(Shell::from(shell), &mut cmd, name, out);
    ExitCode::Ok
}

/// Cobra's shell-completion protocol, which kubectl 1.26+ speaks with plugins through their
/// `kubectl_complete-<plugin>` shim: `plugin __complete <words...> <partial>` prints one
/// candidate per line, then `:<directive>` (4 = no file completion, 0 = files allowed).
pub fn complete(cmd: &clap::Command, words: &[String]) -> String {
    let (partial, done) = words
        .split_last()
        .map_or(("", &[][..]), |(p, d)| (p.as_str(), d));
    let mut current = cmd.clone();
    current.build();
    let mut pending_flag: Option<clap::Arg> = None;
    for word in done {
        if pending_flag.take().is_some() {
            continue;
        }
        if let Some(name) = word.strip_prefix("--") {
            let name = name.split('=').next().unwrap_or_default();
            if !word.contains('=') {
                pending_flag = current
                    .get_arguments()
                    .find(|a| a.get_long() == Some(name) && a.get_action().takes_values())
                    .cloned();
            }
        } else if let Some(short) = word.strip_prefix('-').and_then(|s| {
            let mut chars = s.chars();
            chars.next().filter(|_| chars.next().is_none())
        }) {
            pending_flag = current
                .get_arguments()
                .find(|a| a.get_short() == Some(short) && a.get_action().takes_values())
                .cloned();
        } else if let Some(sub) = current.find_subcommand(word) {
            current = sub.clone();
        }
    }
    let mut directive = 4;
    let mut candidates: Vec<String> = Vec::new();
    if let Some(flag) = pending_flag {
        candidates = flag
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        if candidates.is_empty() {
            // A free value (a path, a name): let the shell offer files.
            directive = 0;
        }
    } else if partial.starts_with('-') {
        candidates = current
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
    } else {
        candidates.extend(
            current
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .map(|s| s.get_name().to_owned()),
        );
        for arg in current.get_positionals() {
            candidates.extend(
                arg.get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_owned()),
            );
        }
    }
    let mut lines: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    lines.push(format!(":{directive}"));
    lines.join("\n") + "\n"
}

/// Parse, run and report: the whole `main` of a plugin.
pub fn run<P: Plugin>() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__complete") {
        let text = complete(&P::command(), &argv[2..]);
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return ExitCode::Ok.into();
    }
    let display = invocation_name(
        P::NAME,
        std::env::var_os("_").as_ref(),
        parent_process_name().as_deref(),
    );
    let matches = match command_for::<P>(&display).try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            // --help and --version land here too, with exit code 0.
            let _ = e.print();
            return std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let plugin = match P::from_arg_matches(&matches) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::Usage.into();
        }
    };
    let format = plugin.output().output;
    init_logging(plugin.output().verbose);
    crate::install_crypto_provider();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&Error::io("starting the async runtime", e), format);
            return ExitCode::Failed.into();
        }
    };
    match runtime.block_on(plugin.run()) {
        Ok(code) => code.into(),
        Err(err) => {
            print_error(&err, format);
            err.exit_code().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(shell: Option<&str>, parent: Option<&str>) -> String {
        invocation_name("mcp-rbac", shell.map(OsString::from).as_ref(), parent)
    }

    #[derive(Debug, clap::Parser)]
    struct Demo {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(subcommand)]
        command: DemoCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum DemoCommand {
        Bind { groups: Vec<String> },
        Role,
        Completion(CompletionArgs),
    }

    fn complete_words(words: &[&str]) -> Vec<String> {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        complete(&<Demo as clap::CommandFactory>::command(), &words)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn cobra_completion_protocol() {
        assert_eq!(complete_words(&[""]), ["bind", "role", "completion", ":4"]);
        assert_eq!(complete_words(&["ro"]), ["role", ":4"]);
        assert_eq!(
            complete_words(&["completion", ""]),
            ["bash", "zsh", "fish", ":4"]
        );
        assert_eq!(complete_words(&["role", "-o", "y"]), ["yaml", ":4"]);
        assert_eq!(
            complete_words(&["role", "--output", ""]),
            ["table", "wide", "json", "yaml", ":4"]
        );
        assert_eq!(complete_words(&["role", "--kubeconfig", ""]), [":0"]);
        assert!(complete_words(&["bind", "--as-"]).contains(&"--as-group".to_owned()));
    }

    #[test]
    fn help_names_the_host_cli() {
        assert_eq!(name(Some("/usr/bin/oc"), Some("bash")), "oc mcp-rbac");
        assert_eq!(
            name(Some("/usr/bin/kubectl"), Some("bash")),
            "kubectl mcp-rbac"
        );
        assert_eq!(
            name(Some("/usr/lib/google-cloud-sdk/bin/kubectl.1.33"), None),
            "kubectl mcp-rbac"
        );
        assert_eq!(name(Some("C:\\bin\\oc.exe"), None), "oc mcp-rbac");
    }

    #[test]
    fn direct_runs_use_the_binary_name() {
        assert_eq!(
            name(Some("/home/u/.krew/bin/kubectl-mcp_rbac"), Some("bash")),
            "kubectl-mcp_rbac"
        );
        assert_eq!(name(None, Some("cargo")), "kubectl-mcp_rbac");
        // Started by a wrapper that does not exec (Windows, some shells).
        assert_eq!(name(None, Some("oc")), "oc mcp-rbac");
        assert_eq!(
            name(Some("/usr/bin/kubectl-other"), None),
            "kubectl-mcp_rbac"
        );
    }
}
