//! The MCP Inspector: the `--cli` command line (`--client-id`), or a catalog file for
//! `--config FILE --server NAME`. It has no way to read a header from the environment, so
//! a bearer token reaches it as a `--config` document on its standard input
//! (`oc mcp-client token --format inspector-config | npx ... --config /dev/stdin`).

use std::path::Path;

use super::{
    ClientAuth, FileFormat, INSPECTOR, Rendered, Setup, TokenCommand, TokenSource, auth_header,
    fragment,
};
use crate::{
    jsonfile::Object,
    shell::{CommandLine, Stdin},
};

pub(super) fn inspector(setup: &Setup, written: Option<&Path>) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = Object::new()
        .with("type", "http")
        .with("url", setup.url.clone());
    let cli = CommandLine::new(["npx", INSPECTOR, "--cli"]);
    let from_file = |line: CommandLine, path: &Path| {
        line.arg("--config")
            .arg(path.display().to_string())
            .arg("--server")
            .arg(setup.name.clone())
    };
    let by_url = |line: CommandLine| line.arg(setup.url.clone()).arg("--transport").arg("http");
    let line = match &setup.auth {
        ClientAuth::None => match written {
            Some(path) => from_file(cli, path),
            None => by_url(cli),
        },
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert(
                "headers",
                auth_header(format!("Bearer {}", token.expose())).into(),
            );
            match written {
                Some(path) => from_file(cli, path),
                // The document (token included) on standard input, not in an argument.
                None => from_stdin(cli, setup).stdin(Stdin::HereDoc(
                    fragment("mcpServers", setup, entry.clone())
                        .document()
                        .to_pretty("  "),
                )),
            }
        }
        ClientAuth::Bearer(TokenSource::Command(command)) => {
            // The Inspector reads headers only from its arguments or its --config file: the
            // token command prints a whole --config document into a pipe.
            let producer = inspector_token_pipe(setup, command, &entry);
            if written.is_some() {
                notes.push(
                    "the written catalog has no token (for the web UI, which asks for one); the command line reads its configuration, token included, from the pipe".into(),
                );
            }
            notes.push("the token is fetched when the command runs; it is never stored and never an argument".into());
            from_stdin(cli, setup).stdin(producer)
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "oauth",
                Object::new()
                    .with("clientId", client.client_id.clone())
                    .with("scopes", client.scopes.join(" "))
                    .into(),
            );
            let mut line = match written {
                Some(path) => from_file(cli, path),
                None => by_url(cli).arg("--client-id").arg(client.client_id.clone()),
            };
            let callback = format!(
                "http://127.0.0.1:{}/oauth/callback",
                client.callback_port.unwrap_or(6276)
            );
            if client.callback_port.is_some() {
                line = line.arg("--callback-url").arg(callback.clone());
            }
            notes.push(format!(
                "the Inspector logs in with client {} on {callback}; register that redirect URI",
                client.client_id
            ));
            line
        }
    };
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: Some(line.arg("--method").arg("tools/list")),
        format: FileFormat::Json,
        notes,
    }
}

/// The Inspector's standard input in openshift mode: a `--config` document with the token,
/// printed by this plugin's `token` or wrapped around the output of the user's command.
fn inspector_token_pipe(setup: &Setup, command: &TokenCommand, entry: &Object) -> Stdin {
    if command.plugin {
        Stdin::Pipe(CommandLine::new(
            command.argv.iter().map(String::as_str).chain([
                "--format",
                "inspector-config",
                "--url",
                &setup.url,
                "--name",
                &setup.name,
            ]),
        ))
    } else {
        let document = serde_json::to_string(
            &fragment(
                "mcpServers",
                setup,
                entry
                    .clone()
                    .with("headers", auth_header(TOKEN_MARK.to_owned())),
            )
            .document(),
        )
        .unwrap_or_default();
        let (prefix, suffix) = document
            .split_once(TOKEN_MARK)
            .unwrap_or((document.as_str(), ""));
        Stdin::ShellPipe(setup.wrapped_token_command(&[], &format!("{prefix}Bearer "), suffix))
    }
}

/// Stands for the token in a document split around it.
const TOKEN_MARK: &str = "@@OC_MCP_TOKEN@@";

/// `--config /dev/stdin`: the Inspector reads its configuration from its standard input.
fn from_stdin(line: CommandLine, setup: &Setup) -> CommandLine {
    line.arg("--config")
        .arg("/dev/stdin")
        .arg("--server")
        .arg(setup.name.clone())
}
