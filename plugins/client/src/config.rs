//! `config --for <client>`: the server's URL and auth mode from the cluster (or flags), the
//! client's configuration in its own format, printed or merged into its file.

use std::{io::Write as _, path::PathBuf};

use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, Plugin as _, Result, cli, output::OutputFormat,
    server_config::AuthMode,
};
use serde::Serialize;

use crate::{
    args::{ConfigArgs, LoginVia},
    clientfile,
    clients::{self, ClientAuth, ClientKind, OAuthClient, Setup, TokenCommand, TokenSource},
    jsonfile::Action,
    shell,
    target::IssuerSettings,
    token::{self, LazyCluster},
};

/// `oc mcp-client config`
pub async fn run(global: &GlobalArgs, args: &ConfigArgs) -> Result<ExitCode> {
    let mut cluster = LazyCluster::new(global);
    let url = if let Some(url) = &args.url {
        check_url(url)?
    } else {
        let c = cluster.get().await?;
        crate::target::server_url(c, &args.server.release).await?
    };
    cluster.set_url(&url);
    let mode = token::mode(&args.server, &args.login_args, &mut cluster).await?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.server.release.clone());
    let auth = client_auth(global, args, mode, &mut cluster).await?;
    let embedded = matches!(auth, ClientAuth::Bearer(TokenSource::Embedded(_)));
    let setup = Setup {
        name,
        url,
        auth,
        token_env: args.token_env.clone(),
    };

    output(global, args, &setup, embedded)
}

/// Print the configuration, or merge it into the client's file.
fn output(
    global: &GlobalArgs,
    args: &ConfigArgs,
    setup: &Setup,
    embedded: bool,
) -> Result<ExitCode> {
    let target = match &args.write {
        None => None,
        Some(Some(path)) => Some(path.clone()),
        Some(None) => Some(
            args.client
                .default_path(home().as_deref(), &setup.name)
                .ok_or_else(|| {
                    Error::usage_with_hint(
                        format!("{} has no usual file to write to", args.client.as_str()),
                        "give the file: --write PATH (any client's file with an mcpServers object)",
                    )
                })?,
        ),
    };
    let rendered = clients::render(args.client, setup, target.as_deref());
    for line in &rendered.notes {
        note(line);
    }
    let format = global.output.output;
    let mut stdout = std::io::stdout().lock();
    let out = |stdout: &mut std::io::StdoutLock<'_>, text: &str| {
        stdout
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    };

    let Some(path) = target else {
        let text = match (&rendered.command, format) {
            (Some(line), OutputFormat::Table | OutputFormat::Wide) => line.render() + "\n",
            (_, OutputFormat::Yaml) => {
                oc_mcp_common::output::to_yaml(&rendered.document().to_value())?
            }
            (_, OutputFormat::Json) => rendered.document().to_pretty("  "),
            // The client's own file format (JSON, TOML or YAML).
            _ => rendered.file_text()?,
        };
        if embedded {
            cli::warn(
                "the output holds your token: anyone who sees it can act as you until it expires",
            );
        }
        return out(&mut stdout, &text).map(|()| ExitCode::Ok);
    };

    let existing = clientfile::read(&path)?;
    if let Some(target) = existing.as_ref().and_then(clientfile::Existing::followed) {
        note(&format!(
            "following symlink {} -> {}",
            path.display(),
            target.display()
        ));
    }
    let text = existing.as_ref().map(|e| e.text.as_str());
    let merged = rendered.merge(text, &path)?;
    if global.change.dry_run != DryRun::None {
        note(&format!(
            "dry run: {} would be {} in {} (nothing written); the new file:",
            setup.name,
            merged.action,
            path.display()
        ));
        if embedded {
            cli::warn(
                "the output holds your token: anyone who sees it can act as you until it expires",
            );
        }
        return out(&mut stdout, &merged.text).map(|()| ExitCode::Ok);
    }
    let backup = if merged.action == Action::Unchanged {
        None
    } else {
        clientfile::replace(&path, existing.as_ref(), &merged.text, embedded)?.backup
    };
    if embedded {
        cli::warn(&format!(
            "{} now holds your token (file mode 0600): anyone who can read it can act as you until the token expires",
            path.display()
        ));
    }
    let report = WriteReport {
        client: args.client,
        file: path.clone(),
        server: setup.name.clone(),
        action: merged.action,
        backup,
    };
    if let (Some(line), OutputFormat::Table | OutputFormat::Wide) = (&rendered.command, format) {
        note(&report.sentence());
        out(&mut stdout, &(line.render() + "\n"))?;
    } else {
        drop(stdout);
        cli::emit(&report, format)?;
    }
    Ok(ExitCode::Ok)
}

/// Something the user should know or do next (stderr; not a warning).
fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "note: {text}");
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

pub(crate) fn check_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::usage_with_hint(
            format!("--url {url:?} is not a URL: {e}"),
            "give the full endpoint, e.g. https://kubernetes-mcp-server-mcp-server.apps.example.com/mcp",
        )
    })?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(url.to_owned()),
        "http" if loopback => Ok(url.to_owned()),
        _ => Err(Error::usage_with_hint(
            format!(
                "--url {url} does not use https: the client would send its token in clear text"
            ),
            "use the route's https:// address (http only for a port-forward on localhost)",
        )),
    }
}

/// How the client authenticates, for the server's mode.
async fn client_auth(
    global: &GlobalArgs,
    args: &ConfigArgs,
    mode: AuthMode,
    cluster: &mut LazyCluster<'_>,
) -> Result<ClientAuth> {
    if args.embed_token {
        let plan = token::plan(&args.server, &args.login_args, cluster).await?;
        let secret = token::obtain(&plan, &args.login_args, cluster, false, false).await?;
        return Ok(ClientAuth::Bearer(TokenSource::Embedded(secret)));
    }
    match mode {
        AuthMode::None => {
            cli::warn(
                "the server is in auth mode none: it takes requests without a token (internal use only)",
            );
            Ok(ClientAuth::None)
        }
        AuthMode::OpenShift => {
            let mut command = token_command(global, args, None)?;
            // The mode came from the server's published documents because the ConfigMap was
            // not readable: the token run could not read it either, so it is told.
            if command.plugin
                && cluster.mode_from_published()
                && let Some(at) = command.argv.iter().position(|w| w == "token")
            {
                command.argv.insert(at + 1, "--auth".to_owned());
                command.argv.insert(at + 2, "openshift".to_owned());
            }
            Ok(ClientAuth::Bearer(TokenSource::Command(command)))
        }
        AuthMode::Entra | AuthMode::Oidc => {
            if args.login_args.oauth_client.is_some() {
                return Ok(ClientAuth::Bearer(TokenSource::Command(token_command(
                    global, args, None,
                )?)));
            }
            let settings = token::issuer_settings(&args.server, &args.login_args, cluster).await?;
            if args.login == LoginVia::Token {
                return Ok(ClientAuth::Bearer(TokenSource::Command(token_command(
                    global,
                    args,
                    Some(&settings),
                )?)));
            }
            let client_id = settings.client_id.ok_or_else(token::unknown_client_id)?;
            let entra = mode == AuthMode::Entra
                || settings
                    .issuer
                    .as_deref()
                    .is_some_and(|i| i.starts_with("https://login.microsoftonline.com/"));
            Ok(ClientAuth::OAuth(OAuthClient {
                client_id,
                scopes: settings.scopes,
                entra,
                callback_port: args.callback_port,
            }))
        }
    }
}

/// The command a client runs for a token: `--token-command`, or this plugin's `token` with
/// the flags that select the same cluster and login. An issuer login is written out in
/// full (issuer, client, scopes, audience), so `token` needs no cluster read to repeat it:
/// the users of the server usually may not read its ConfigMap.
fn token_command(
    global: &GlobalArgs,
    args: &ConfigArgs,
    issuer: Option<&IssuerSettings>,
) -> Result<TokenCommand> {
    if let Some(line) = &args.token_command {
        let words = shell::split(line)
            .map_err(|e| Error::usage(format!("--token-command {line:?}: {e}")))?;
        if words.is_empty() {
            return Err(Error::usage("--token-command is empty"));
        }
        return Ok(TokenCommand {
            argv: words,
            plugin: false,
        });
    }
    let mut words = invocation(args.client);
    words.push("token".to_owned());
    let kube = &global.kube;
    if let Some(path) = &kube.kubeconfig {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        words.extend(["--kubeconfig".to_owned(), absolute.display().to_string()]);
    }
    if let Some(context) = &kube.context {
        words.extend(["--context".to_owned(), context.clone()]);
    }
    if let Some(user) = &kube.user {
        words.extend(["--user".to_owned(), user.clone()]);
    }
    if let Some(namespace) = &kube.namespace {
        words.extend(["-n".to_owned(), namespace.clone()]);
    }
    if !args.server.is_default_release() {
        words.extend(["--release".to_owned(), args.server.release.clone()]);
    }
    let login = &args.login_args;
    if let Some(client) = &login.oauth_client {
        words.extend(["--oauth-client".to_owned(), client.clone()]);
    } else if let Some(settings) = issuer {
        if let Some(issuer) = &settings.issuer {
            words.extend(["--issuer".to_owned(), issuer.clone()]);
        }
        if let Some(client_id) = &settings.client_id {
            words.extend(["--client-id".to_owned(), client_id.clone()]);
        }
        if !settings.scopes.is_empty() {
            words.extend(["--scope".to_owned(), settings.scopes.join(",")]);
        }
        if let Some(audience) = &settings.audience {
            words.extend(["--audience".to_owned(), audience.clone()]);
        }
    }
    if let Some(dir) = &login.cache_dir {
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        words.extend(["--cache-dir".to_owned(), absolute.display().to_string()]);
    }
    Ok(TokenCommand::plugin(words))
}

/// How to call this plugin from a client's configuration. Claude Desktop, JetBrains IDEs and
/// Zed start servers from the desktop, with little of the shell's PATH: they get this
/// binary's absolute path. The
/// others run from a shell (or are files shared in a project): the name the user typed.
fn invocation(client: ClientKind) -> Vec<String> {
    let binary = cli::binary_name(crate::Cli::NAME);
    if client.starts_from_desktop()
        && let Ok(exe) = std::env::current_exe()
    {
        return vec![exe.display().to_string()];
    }
    let parent = parent_process_name();
    let name = cli::invocation_name(
        crate::Cli::NAME,
        std::env::var_os("_").as_ref(),
        parent.as_deref(),
    );
    if name == binary {
        vec![binary]
    } else {
        name.split(' ').map(str::to_owned).collect()
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

/// What `--write` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteReport {
    pub client: ClientKind,
    pub file: PathBuf,
    pub server: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
}

impl WriteReport {
    fn sentence(&self) -> String {
        let backup = self
            .backup
            .as_ref()
            .map(|b| format!("; the previous file is in {}", b.display()))
            .unwrap_or_default();
        format!(
            "{}: server {} {} in {}{backup}",
            self.client.as_str(),
            self.server,
            self.action,
            self.file.display()
        )
    }
}

impl oc_mcp_common::output::Tabular for WriteReport {
    fn headers(_wide: bool) -> Vec<&'static str> {
        vec!["CLIENT", "FILE", "SERVER", "ACTION", "BACKUP"]
    }

    fn rows(&self, _wide: bool) -> Vec<Vec<String>> {
        vec![vec![
            self.client.as_str().to_owned(),
            self.file.display().to_string(),
            self.server.clone(),
            self.action.to_string(),
            self.backup
                .as_ref()
                .map_or_else(|| "-".to_owned(), |b| b.display().to_string()),
        ]]
    }
}
