//! Goose (https://block.github.io/goose/docs/guides/config-files): `~/.config/goose/config.yaml`
//! (`%APPDATA%\Block\goose\config\config.yaml` on Windows), `extensions.<name>`: a
//! `streamable_http` extension has `uri` and `headers`, a `stdio` one `cmd`, `args` and
//! `envs`; both `name`, `enabled` and `timeout` (seconds). Goose documents no environment
//! interpolation in headers and no field for a pre-registered OAuth client, so a token from a
//! command, and OAuth mode, run the mcp-remote stdio entry. `crate::yamlfile` replaces only
//! our extension; it refuses a file with comments, which a rewrite would drop.

use super::{
    ClientAuth, FileFormat, Rendered, Setup, TokenSource, embedded_header, fragment, remote,
};
use crate::jsonfile::{Json, Object};

const TIMEOUT_SECONDS: u16 = 300;

pub(super) fn render(setup: &Setup) -> Rendered {
    let mut notes = Vec::new();
    let http = || {
        Object::new()
            .with("type", "streamable_http")
            .with("name", setup.name.clone())
            .with("enabled", true)
            .with("uri", setup.url.clone())
    };
    let entry = match &setup.auth {
        ClientAuth::None => http().with("headers", Object::new()),
        ClientAuth::Bearer(TokenSource::Embedded(token)) => {
            http().with("headers", embedded_header(token))
        }
        ClientAuth::Bearer(TokenSource::Command(_)) | ClientAuth::OAuth(_) => {
            notes.push(
                "Goose reads no header from the environment and takes no pre-registered OAuth client: the extension runs mcp-remote".into(),
            );
            stdio(setup, &remote::mcp_remote_entry(setup, &mut notes))
        }
    }
    .with("timeout", TIMEOUT_SECONDS);
    Rendered {
        fragment: fragment("extensions", setup, entry),
        format: FileFormat::GooseYaml,
        command: None,
        notes,
    }
}

/// The mcp-remote entry (`command`, `args`, `env`) in Goose's spelling.
fn stdio(setup: &Setup, remote: &Object) -> Object {
    let mut entry = Object::new()
        .with("type", "stdio")
        .with("name", setup.name.clone())
        .with("enabled", true);
    entry.insert("cmd", remote.get("command").cloned().unwrap_or(Json::Null));
    entry.insert(
        "args",
        remote
            .get("args")
            .cloned()
            .unwrap_or(Json::Array(Vec::new())),
    );
    entry.insert(
        "envs",
        remote
            .get("env")
            .cloned()
            .unwrap_or(Json::Object(Object::new())),
    );
    entry
}
