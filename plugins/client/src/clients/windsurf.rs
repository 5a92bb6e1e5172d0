//! Windsurf (https://docs.windsurf.com/windsurf/cascade/mcp): `~/.codeium/windsurf/mcp_config.json`,
//! `mcpServers.<name>` with `serverUrl` (a Cursor-style `url` does not connect) and `headers`,
//! whose values interpolate `${env:VAR}`. It documents no field for a pre-registered OAuth
//! client, so OAuth mode runs mcp-remote with the client's ID.

use super::{
    ClientAuth, Rendered, Setup, TokenSource, auth_header, embedded_header, fragment, remote,
};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let http = || Object::new().with("serverUrl", setup.url.clone());
    let entry = match &setup.auth {
        ClientAuth::None => http(),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            http().with("headers", embedded_header(token))
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let var = setup.env_name();
            notes.push(setup.export_note("Windsurf"));
            http().with("headers", auth_header(format!("Bearer ${{env:{var}}}")))
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
