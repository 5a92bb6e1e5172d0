//! OpenCode (https://opencode.ai/docs/mcp-servers/): `opencode.json` in the project (or
//! `~/.config/opencode/opencode.json`), `mcp.<name>` with `type: "remote"`, `url`,
//! `enabled`, `headers` (values substitute `{env:VAR}`), and `oauth`: a pre-registered client
//! as `{clientId, scope}`, or `false` where a header carries the token.

use super::{ClientAuth, EnvRef, Rendered, Setup, TokenSource, entra_note, fragment, http_entry};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let fields = Object::new()
        .with("type", "remote")
        .with("url", setup.url.clone())
        .with("enabled", true);
    let entry = match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(_) => {
            if let ClientAuth::Bearer(TokenSource::Command(_)) = &setup.auth {
                notes.push(setup.export_note("OpenCode"));
            }
            // A header carries the token: OpenCode must not start a login of its own.
            let fields = fields.with("oauth", false);
            http_entry(setup, fields, "headers", Some(EnvRef::OpenCode))
        }
        ClientAuth::OAuth(client) => {
            let oauth = Object::new()
                .with("clientId", client.client_id.clone())
                .with("scope", client.scopes.join(" "));
            notes.push(format!(
                "OpenCode logs in with client {} (`opencode mcp auth {}`); `opencode mcp debug {}` shows the redirect URI to register",
                client.client_id, setup.name, setup.name
            ));
            notes.extend(entra_note(client, "OpenCode"));
            fields.with("oauth", oauth)
        }
    };
    notes.push(format!(
        "OpenCode asks before it connects a project's server: run `opencode mcp approve {}`",
        setup.name
    ));
    Rendered::json(fragment("mcp", setup, entry), notes)
}
