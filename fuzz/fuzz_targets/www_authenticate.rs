//! The `WWW-Authenticate` challenge parser and the refusal classifier of oc mcp-verify.
//!
//! Input: a challenge header value (or a tool result text).
//! Invariants: a parameter value is a piece of the header and ends at its separator (a quote
//! for a quoted value, ',' or ' ' for a token); a value put in a well-formed challenge is read back unchanged; the refusal
//! classification ignores ASCII case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oc_mcp_verify::probes::{challenge_param, refusal};

const PARAMS: [&str; 6] = [
    "resource_metadata",
    "error",
    "error_description",
    "realm",
    "scope",
    "audience",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for name in PARAMS {
        if let Some(value) = challenge_param(&text, name) {
            assert!(
                text.contains(value.as_str()),
                "{value:?} is not in {text:?}"
            );
            // A token value ends at ',' or ' '; a quoted one at the closing quote (or, left
            // open, at the end of the header).
            let quoted = text.contains(&format!("=\"{value}"));
            assert!(
                quoted || !value.contains([',', ' ']),
                "{value:?} runs past its end in {text:?}"
            );
        }
    }
    assert_eq!(refusal(&text), refusal(&text.to_ascii_uppercase()));

    // What the probe relies on: a quoted value is read back exactly.
    if !text.contains('"') {
        let challenge =
            format!("Bearer realm=\"mcp\", error=\"invalid_token\", resource_metadata=\"{text}\"");
        assert_eq!(
            challenge_param(&challenge, "resource_metadata").as_deref(),
            Some(text.as_ref())
        );
        assert_eq!(
            challenge_param(&challenge, "error").as_deref(),
            Some("invalid_token")
        );
    }
});
