//! OpenCode (https://opencode.ai/docs/mcp-servers/): `opencode.json` in the project (or
//! `~/.config/opencode/opencode.json`), `mcp.<name>` with `type: "remote"`, `url`,
//! `enabled`, `headers` (values substitute `{env:VAR}`), and `oauth`: a pre-registered client
//! as `{clientId, scope}`, or `false` where a header carries the token.

use super::{
    ClientAuth, Rendered, Setup, TokenSource, auth_header, embedded_header, entra_note, fragment,
};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let mut entry = Object::new()
        .with("type", "remote")
        .with("url", setup.url.clone())
        .with("enabled", true);
    match &setup.auth {
        ClientAuth::None => {
            entry.insert("oauth", false.into());
        }
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            entry.insert("oauth", false.into());
            entry.insert("headers", embedded_header(token));
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            let var = setup.env_name();
            entry.insert("oauth", false.into());
            entry.insert(
                "headers",
                auth_header(format!("Bearer {{env:{var}}}")).into(),
            );
            notes.push(setup.export_note("OpenCode"));
        }
        ClientAuth::OAuth(client) => {
            entry.insert(
                "oauth",
                Object::new()
                    .with("clientId", client.client_id.clone())
                    .with("scope", client.scopes.join(" "))
                    .into(),
            );
            notes.push(format!(
                "OpenCode logs in with client {} (`opencode mcp auth {}`); `opencode mcp debug {}` shows the redirect URI to register",
                client.client_id, setup.name, setup.name
            ));
            notes.extend(entra_note(client, "OpenCode"));
        }
    }
    notes.push(format!(
        "OpenCode asks before it connects a project's server: run `opencode mcp approve {}`",
        setup.name
    ));
    Rendered::json(fragment("mcp", setup, entry), notes)
}
