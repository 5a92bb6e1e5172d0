//! Codex CLI (https://developers.openai.com/codex/mcp,
//! https://developers.openai.com/codex/config-reference/): `~/.codex/config.toml`
//! (`$CODEX_HOME`), one `[mcp_servers.<name>]` table: `url` for streamable HTTP,
//! `bearer_token_env_var` naming the variable that holds the token (Codex refuses an inline
//! `bearer_token`), `http_headers` for literal headers, and for a pre-registered OAuth client
//! `scopes` and `oauth.client_id` (`codex mcp login <name>`). `crate::tomlfile` edits the file
//! in place.

use super::{
    ClientAuth, FileFormat, Rendered, Setup, TokenSource, entra_note, fragment, http_entry,
    string_array,
};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let fields = Object::new().with("url", setup.url.clone());
    // A token from a command goes in `bearer_token_env_var`, not a header.
    let mut entry = http_entry(setup, fields, "http_headers", None);
    match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {}
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            entry.insert("bearer_token_env_var", setup.env_name().into());
            notes.push(setup.export_note("Codex"));
        }
        ClientAuth::OAuth(client) => {
            if !client.scopes.is_empty() {
                entry.insert("scopes", string_array(&client.scopes));
            }
            entry.insert(
                "oauth",
                Object::new()
                    .with("client_id", client.client_id.clone())
                    .into(),
            );
            notes.push(format!(
                "Codex logs in with client {} when you run `codex mcp login {}`; register the redirect URI it shows",
                client.client_id, setup.name
            ));
            notes.extend(entra_note(client, "Codex"));
        }
    }
    Rendered {
        fragment: fragment("mcp_servers", setup, entry),
        format: FileFormat::CodexToml,
        command: None,
        notes,
    }
}
