//! Windsurf (https://docs.windsurf.com/windsurf/cascade/mcp): `~/.codeium/windsurf/mcp_config.json`,
//! `mcpServers.<name>` with `serverUrl` (a Cursor-style `url` does not connect) and `headers`,
//! whose values interpolate `${env:VAR}`. It documents no field for a pre-registered OAuth
//! client, so OAuth mode runs mcp-remote with the client's ID.

use super::{ClientAuth, EnvRef, Rendered, Setup, TokenSource, fragment, http_entry, remote};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(_) => {
            if let ClientAuth::Bearer(TokenSource::Command(_)) = &setup.auth {
                notes.push(setup.export_note("Windsurf"));
            }
            let fields = Object::new().with("serverUrl", setup.url.clone());
            http_entry(setup, fields, "headers", Some(EnvRef::Editor))
        }
        ClientAuth::OAuth(_) => {
            notes.push(
                "Windsurf has no setting for a pre-registered OAuth client: the entry runs mcp-remote, which logs in with it".into(),
            );
            remote::mcp_remote_entry(setup, &mut notes)
        }
    };
    notes.push("refresh the MCP servers in Windsurf's Cascade panel to load it".into());
    Rendered::json(fragment("mcpServers", setup, entry), notes)
}
