//! Zed (https://zed.dev/docs/ai/mcp): `context_servers.<name>` in its settings file (JSON
//! with comments; `~/.config/zed/settings.json`, `%APPDATA%\Zed\settings.json` on Windows),
//! a remote server as `url` + `headers`, a local one as `command` + `args` + `env`. Zed
//! documents no environment interpolation in headers and no field for a pre-registered OAuth
//! client, so a token from a command, and OAuth mode, go through the mcp-remote stdio entry.

use super::{ClientAuth, Rendered, Setup, TokenSource, fragment, http_entry, remote};
use crate::jsonfile::Object;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let entry = match &setup.auth {
        ClientAuth::None | ClientAuth::Bearer(TokenSource::Embedded(_)) => {
            let fields = Object::new().with("url", setup.url.clone());
            http_entry(setup, fields, "headers", None)
        }
        ClientAuth::Bearer(TokenSource::Command(_)) => {
            notes.push(
                "Zed reads no header from the environment: the entry runs mcp-remote with a fresh token".into(),
            );
            remote::mcp_remote_entry(setup, &mut notes)
        }
        ClientAuth::OAuth(_) => {
            notes.push(
                "Zed has no setting for a pre-registered OAuth client: the entry runs mcp-remote, which logs in with it".into(),
            );
            remote::mcp_remote_entry(setup, &mut notes)
        }
    };
    Rendered::json(fragment("context_servers", setup, entry), notes)
}
