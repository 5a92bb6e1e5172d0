//! Cline (https://docs.cline.bot/mcp/mcp-overview, https://docs.cline.bot/getting-started/config):
//! `~/.cline/data/settings/cline_mcp_settings.json`, shared by the VS Code extension, the CLI
//! and JetBrains; `mcpServers.<name>` with `type: "streamableHttp"` (without it Cline falls
//! back to legacy SSE), `url`, `headers`. The VS Code extension expands `${env:VAR}` in an
//! entry. Cline documents no field for a pre-registered OAuth client, so OAuth mode runs
//! mcp-remote with the client's ID.

use super::{
    ClientAuth, Rendered, Setup, TokenSource, auth_header, embedded_header, fragment, remote,
};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let http = || {
        Object::new()
            .with("type", "streamableHttp")
            .with("url", setup.url.clone())
    };
    let mut entry = match &setup.auth {
        ClientAuth::None => http(),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            http().with("headers", embedded_header(token))
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let var = setup.env_name();
            notes.push(setup.export_note("VS Code"));
            notes.push(format!(
                "the Cline extension expands ${{env:{var}}}; for the Cline CLI use --embed-token or --for mcp-remote"
            ));
            http().with("headers", auth_header(format!("Bearer ${{env:{var}}}")))
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
