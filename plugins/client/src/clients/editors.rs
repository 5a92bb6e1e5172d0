//! Cursor, VS Code and Claude Code: JSON files with HTTP entries.
//!
//! - Cursor: `.cursor/mcp.json`, `mcpServers.<name>` with `url`, `headers` (`${env:VAR}`
//!   interpolation) or the static OAuth client `auth: {CLIENT_ID, scopes}`.
//! - VS Code: `.vscode/mcp.json`, `servers.<name>` with `type: "http"`, `url`, `headers`, and
//!   `inputs` (`promptString` with `password: true`) for secrets. VS Code has no field for a
//!   pre-registered OAuth client: it asks for the client ID when it logs in.
//! - Claude Code: `.mcp.json`, `mcpServers.<name>` with `type: "http"`, `url`, and either
//!   `headersHelper` (a command printing a JSON object of headers, run on every connection)
//!   or `oauth: {clientId, scopes, callbackPort}`.

use super::{
    ClientAuth, EnvRef, FileFormat, Rendered, Setup, TokenSource, auth_header, fragment,
    http_entry, string_array,
};
use crate::{
    jsonfile::{Json, Object},
    shell::quote,
};

/// VS Code's and Claude Code's entry: `type: "http"`, `url`, and the embedded token's header,
/// or with `--token-env` the variable's in `env` syntax (without it each has its own way).
fn typed_http_entry(setup: &Setup, env: EnvRef) -> Object {
    let fields = Object::new()
        .with("type", "http")
        .with("url", setup.url.clone());
    let env = setup.token_env.is_some().then_some(env);
    http_entry(setup, fields, "headers", env)
}

pub(super) fn cursor(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let fields = Object::new().with("url", setup.url.clone());
    let mut entry = http_entry(setup, fields, "headers", Some(EnvRef::Editor));
    match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {}
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let var = setup.env_name();
            notes.push(format!(
                "Cursor reads the token from ${var}: run `export {var}=\"$({})\"` and start Cursor from that shell (again when the token expires)",
                setup.token_command_text(&[]).unwrap_or_default()
            ));
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "auth",
                Object::new()
                    .with("CLIENT_ID", client.client_id.clone())
                    .with("scopes", string_array(&client.scopes))
                    .into(),
            );
            notes.push(format!(
                "Cursor logs in with client {} itself; the app registration needs Cursor's redirect URI (http://localhost:8787/callback on current desktop builds)",
                client.client_id
            ));
        }
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        format: FileFormat::Json,
        notes,
    }
}

pub(super) fn vscode(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut inputs = Vec::new();
    let mut entry = typed_http_entry(setup, EnvRef::Editor);
    match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {}
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let command = setup.token_command_text(&[]).unwrap_or_default();
            if let Some(var) = &setup.token_env {
                notes.push(format!(
                    "VS Code reads the token from ${var}: run `export {var}=\"$({command})\"` and start VS Code from that shell; some VS Code releases send ${{env:...}} in headers unexpanded (microsoft/vscode#336232): without --token-env VS Code prompts instead"
                ));
            } else {
                let id = format!("{}-token", setup.name);
                inputs.push(
                    Object::new()
                        .with("type", "promptString")
                        .with("id", id.clone())
                        .with(
                            "description",
                            format!("Bearer token for {} (print one with: {command})", setup.url),
                        )
                        .with("password", true),
                );
                entry.insert(
                    "headers",
                    auth_header(format!("Bearer ${{input:{id}}}")).into(),
                );
                notes.push(format!(
                    "VS Code asks for the token when it starts the server and keeps it in its secret storage: paste the output of `{command}`"
                ));
            }
        }
        ClientAuth::OAuth(client) => {
            notes.push(format!(
                "VS Code has no setting for a pre-registered OAuth client: when it asks, enter client ID {} (scopes: {})",
                client.client_id,
                client.scopes.join(" ")
            ));
        }
    }
    let mut fragment = fragment("servers", setup, entry);
    fragment.inputs = inputs;
    Rendered {
        fragment,
        command: None,
        format: FileFormat::Json,
        notes,
    }
}

pub(super) fn claude_code(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = typed_http_entry(setup, EnvRef::Shell);
    match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {}
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            if let Some(var) = &setup.token_env {
                notes.push(format!(
                    "Claude Code expands ${{{var}}} from its environment: export {var} before starting it"
                ));
            } else {
                let helper = setup.wrapped_token_command(
                    &["--format", "headers-json"],
                    "{\"Authorization\":\"Bearer ",
                    "\"}",
                );
                entry.insert("headersHelper", helper.into());
                notes.push(
                    "Claude Code runs the headersHelper on every connection, so the token stays fresh".into(),
                );
            }
        }
        ClientAuth::OAuth(client) => {
            let mut oauth = Object::new()
                .with("clientId", client.client_id.clone())
                .with("scopes", client.scopes.join(" "));
            if let Some(port) = client.callback_port {
                oauth.insert("callbackPort", port.into());
            }
            entry.insert("oauth", oauth.into());
            let port = client
                .callback_port
                .map_or_else(|| "PORT".to_owned(), |p| p.to_string());
            notes.push(format!(
                "Claude Code logs in with client {} itself (`/mcp` in a session); its redirect URI is http://localhost:{port}/callback",
                client.client_id
            ));
        }
    }
    // The same through Claude Code's own CLI (it writes ~/.claude.json, or .mcp.json with
    // --scope project); not with an embedded token, which would be on that command's argv.
    if setup.embedded().is_none() {
        let compact = serde_json::to_string(&Json::Object(entry.clone())).unwrap_or_default();
        notes.push(format!(
            "or let Claude Code add it: claude mcp add-json {} {}",
            quote(&setup.name),
            quote(&compact)
        ));
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        format: FileFormat::Json,
        notes,
    }
}
