//! Gemini CLI (https://geminicli.com/docs/tools/mcp-server/,
//! https://geminicli.com/docs/reference/configuration/): `~/.gemini/settings.json` (or a
//! project's `.gemini/settings.json`), `mcpServers.<name>` with `httpUrl` (streamable HTTP;
//! `url` means SSE) and `headers`. String values in settings.json expand `$VAR` and
//! `${VAR}` from the environment. A pre-registered OAuth client goes in
//! `oauth: {enabled, clientId, scopes, redirectUri}`.

use super::{
    ClientAuth, EnvRef, Rendered, Setup, TokenSource, entra_note, fragment, http_entry,
    string_array,
};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let fields = Object::new().with("httpUrl", setup.url.clone());
    let mut entry = http_entry(setup, fields, "headers", Some(EnvRef::Shell));
    match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {}
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            notes.push(setup.export_note("Gemini CLI"));
        }
        ClientAuth::OAuth(client) => {
            let mut oauth = Object::new()
                .with("enabled", true)
                .with("clientId", client.client_id.clone())
                .with("scopes", string_array(&client.scopes));
            let redirect = client.callback_port.map_or_else(
                || "http://localhost:<random port>/oauth/callback".to_owned(),
                |port| format!("http://localhost:{port}/oauth/callback"),
            );
            if client.callback_port.is_some() {
                oauth.insert("redirectUri", redirect.clone().into());
            }
            entry.insert("oauth", oauth.into());
            let fixed = if client.callback_port.is_some() {
                ""
            } else {
                " (give --callback-port for a fixed one)"
            };
            notes.push(format!(
                "Gemini CLI logs in with client {} (`/mcp auth {}`); register its redirect URI {redirect}{fixed}",
                client.client_id, setup.name
            ));
            notes.extend(entra_note(client, "Gemini CLI"));
        }
    }
    if setup.name.contains('_') {
        notes.push(format!(
            "Gemini CLI's policy engine splits tool names at the first underscore: rename the server without one (--name {})",
            setup.name.replace('_', "-")
        ));
    }
    Rendered::json(fragment("mcpServers", setup, entry), notes)
}
