//! Continue (https://docs.continue.dev/customize/deep-dives/mcp,
//! https://docs.continue.dev/reference): a block file in the workspace's
//! `.continue/mcpServers/` with `name`, `version`, `schema: v1` and a list `mcpServers` of
//! `{name, type, url, requestOptions.headers}` (`streamable-http`) or `{name, type: stdio,
//! command, args}`. Secrets are `${{ secrets.NAME }}`, which the IDE extensions resolve from
//! `.env` files only (the CLI also from the environment), so a token from a command runs the
//! mcp-remote stdio entry unless `--token-env` asks for a secret. Continue documents no OAuth
//! client setting: OAuth mode runs mcp-remote too. The file is ours whole
//! (`crate::yamlfile`), and a file someone else wrote is never replaced.

use super::{
    ClientAuth, FileFormat, Rendered, Setup, TokenSource, auth_header, embedded_header, fragment,
    remote,
};
use crate::jsonfile::{Json, Object};

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let http = |headers: Option<Json>| {
        let entry = Object::new()
            .with("name", setup.name.clone())
            .with("type", "streamable-http")
            .with("url", setup.url.clone());
        match headers {
            Some(h) => entry.with("requestOptions", Object::new().with("headers", h)),
            None => entry,
        }
    };
    let entry = match &setup.auth {
        ClientAuth::None => http(None),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => http(Some(embedded_header(token))),
        ClientAuth::Bearer(TokenSource::Command(_)) => match &setup.token_env {
            Some(var) => {
                notes.push(format!(
                    "Continue resolves ${{{{ secrets.{var} }}}} from .env files in the IDE (the token would sit in that file) and from the environment in the `cn` CLI"
                ));
                http(Some(
                    auth_header(format!("Bearer ${{{{ secrets.{var} }}}}")).into(),
                ))
            }
            None => stdio(setup, &mut notes),
        },
        ClientAuth::OAuth(_) => stdio(setup, &mut notes),
    };
    notes.push("Continue uses MCP servers in agent mode only".into());
    Rendered {
        fragment: fragment("mcpServers", setup, entry),
        format: FileFormat::ContinueYaml,
        command: None,
        notes,
    }
}

fn stdio(setup: &Setup, notes: &mut Vec<String>) -> Object {
    let remote = remote::mcp_remote_entry(setup, notes);
    let mut entry = Object::new()
        .with("name", setup.name.clone())
        .with("type", "stdio");
    for key in ["command", "args", "env"] {
        if let Some(value) = remote.get(key) {
            entry.insert(key, value.clone());
        }
    }
    entry
}
