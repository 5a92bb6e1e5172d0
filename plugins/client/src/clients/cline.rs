//! Cline (https://docs.cline.bot/mcp/mcp-overview, https://docs.cline.bot/getting-started/config):
//! `~/.cline/data/settings/cline_mcp_settings.json`, shared by the VS Code extension, the CLI
//! and JetBrains; `mcpServers.<name>` with `type: "streamableHttp"` (without it Cline falls
//! back to legacy SSE), `url`, `headers`. The VS Code extension expands `${env:VAR}` in an
//! entry. Cline documents no field for a pre-registered OAuth client, so OAuth mode runs
//! mcp-remote with the client's ID.

use super::{ClientAuth, EnvRef, Rendered, Setup, TokenSource, fragment, http_entry, remote};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(_) => {
            if let ClientAuth::Bearer(TokenSource::Command(_)) = &setup.auth {
                let var = setup.env_name();
                notes.push(setup.export_note("VS Code"));
                notes.push(format!(
                    "the Cline extension expands ${{env:{var}}}; for the Cline CLI use --embed-token or --for mcp-remote"
                ));
            }
            let fields = Object::new()
                .with("type", "streamableHttp")
                .with("url", setup.url.clone());
            http_entry(setup, fields, "headers", Some(EnvRef::Editor))
        }
        ClientAuth::OAuth(_) => {
            notes.push(
                "Cline has no documented setting for a pre-registered OAuth client: the entry runs mcp-remote, which logs in with it".into(),
            );
            remote::mcp_remote_entry(setup, &mut notes)
        }
    };
    entry.insert("disabled", false.into());
    Rendered::json(fragment("mcpServers", setup, entry), notes)
}
