//! mcp-remote, and the clients that reach the server through it as a stdio server.
//!
//! - mcp-remote: its command line (`--header 'Authorization:${AUTH_HEADER}'` with the value in
//!   the environment, `--static-oauth-client-info`), or the same stdio entry for any client's
//!   `mcpServers` file.
//! - Claude Desktop: `claude_desktop_config.json`, a stdio server that runs `mcp-remote`.
//! - JetBrains AI Assistant (https://www.jetbrains.com/help/ai-assistant/mcp.html): no file
//!   of its own; Settings | Tools | AI Assistant | Model Context Protocol (MCP) takes an
//!   `mcpServers` JSON object of stdio entries, so it gets the same mcp-remote entry.

use super::{
    ClientAuth, FileFormat, MCP_REMOTE, OAuthClient, Rendered, Setup, TokenSource, fragment,
};
use crate::{
    jsonfile::{Json, Object},
    shell::{CommandLine, Word, quote},
};

/// mcp-remote's arguments after `npx -y mcp-remote <url>` for an OAuth client.
pub(super) fn mcp_remote_oauth_args(client: &OAuthClient) -> Vec<String> {
    let info = serde_json::json!({ "client_id": client.client_id }).to_string();
    let mut args = Vec::new();
    // mcp-remote takes its callback port as the argument after the URL.
    if let Some(port) = client.callback_port {
        args.push(port.to_string());
    }
    args.extend(["--static-oauth-client-info".to_owned(), info]);
    if !client.scopes.is_empty() {
        let metadata = serde_json::json!({ "scope": client.scopes.join(" ") }).to_string();
        args.extend(["--static-oauth-client-metadata".to_owned(), metadata]);
    }
    if client.entra {
        args.push("--disable-resource-parameter".to_owned());
    }
    args
}

/// The stdio entry that runs mcp-remote (Claude Desktop, or any `mcpServers` file).
pub(super) fn mcp_remote_entry(setup: &Setup, notes: &mut Vec<String>) -> Object {
    let header_arg = "Authorization:${AUTH_HEADER}";
    let base = || {
        MCP_REMOTE
            .iter()
            .map(|s| Json::from(*s))
            .chain([Json::from(setup.url.clone())])
            .collect::<Vec<_>>()
    };
    match &setup.auth {
        ClientAuth::None => Object::new().with("command", "npx").with("args", base()),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            let mut args = base();
            args.extend(["--header".into(), header_arg.into()]);
            Object::new()
                .with("command", "npx")
                .with("args", args)
                .with(
                    "env",
                    Object::new().with("AUTH_HEADER", format!("Bearer {}", token.expose())),
                )
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            // The client cannot run a command for a header, so a shell does: the token goes
            // into mcp-remote's environment (not its arguments), and mcp-remote expands
            // ${AUTH_HEADER} itself.
            let command = setup.token_command_text(&[]).unwrap_or_default();
            let script = format!(
                "token=$({command}) || exit 1; export AUTH_HEADER=\"Bearer $token\"; exec npx -y mcp-remote {} --header {}",
                quote(&setup.url),
                quote(header_arg)
            );
            notes.push(
                "the entry runs /bin/sh, which gets a fresh token each time the client starts the server (macOS and Linux; on Windows use --embed-token or a client with HTTP support)".into(),
            );
            Object::new()
                .with("command", "/bin/sh")
                .with("args", vec![Json::from("-c"), Json::from(script)])
        }
        ClientAuth::OAuth(client) => {
            let mut args = base();
            args.extend(mcp_remote_oauth_args(client).into_iter().map(Json::from));
            let port = client
                .callback_port
                .map_or_else(|| "<port>".to_owned(), |p| p.to_string());
            notes.push(format!(
                "mcp-remote logs in with client {} itself; register its redirect URI http://localhost:{port}/oauth/callback",
                client.client_id
            ));
            Object::new().with("command", "npx").with("args", args)
        }
    }
}

pub(super) fn claude_desktop(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = mcp_remote_entry(setup, &mut notes);
    notes.push("restart Claude Desktop to load the server".into());
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: None,
        format: FileFormat::Json,
        notes,
    }
}

pub(super) fn mcp_remote(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = mcp_remote_entry(setup, &mut notes);
    let mut line = CommandLine::new(["npx"].into_iter().chain(MCP_REMOTE)).arg(setup.url.clone());
    match &setup.auth {
        ClientAuth::None => {}
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            line = line
                .env(
                    "AUTH_HEADER",
                    Word::lit(format!("Bearer {}", token.expose())),
                )
                .arg("--header")
                .arg("Authorization:${AUTH_HEADER}");
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let command = setup.token_command_text(&[]).unwrap_or_default();
            line = line
                .env(
                    "AUTH_HEADER",
                    Word::Shell(format!("\"Bearer $({command})\"")),
                )
                .arg("--header")
                .arg("Authorization:${AUTH_HEADER}");
        }
        ClientAuth::OAuth(client) => {
            for arg in mcp_remote_oauth_args(client) {
                line = line.arg(arg);
            }
        }
    }
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        command: Some(line),
        format: FileFormat::Json,
        notes,
    }
}

pub(super) fn jetbrains(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = mcp_remote_entry(setup, &mut notes);
    notes.push(
        "JetBrains AI Assistant keeps servers in the IDE: paste this under Settings | Tools | AI Assistant | Model Context Protocol (MCP) > Add > As JSON (--write needs a PATH)".into(),
    );
    Rendered::json(fragment("mcpServers", setup, entry), notes)
}
