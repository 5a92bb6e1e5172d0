//! What oc-mcp reads from server bodies: verify's evidence excerpts (HTML or text), rmcp error
//! tidying, tool result text, and rbac's rule derivation from a saved `tools/list` reply.
//!
//! The SSE framing and JSON-RPC decoding of live sessions happen inside rmcp (and its
//! sse-stream); this fuzzes our code on top of them, with rmcp's own types for the decoding.
//!
//! Input: a body. Invariants: excerpts are at most 160 characters; HTML text has no tag
//! bracket and no repeated or edge whitespace; tidying never grows a message; a tool list
//! always derives read-only rules (get, list, watch) or a usage error (exit 2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oc_mcp_rbac::profiles::{ToolsOptions, derive_from_tools};
use oc_mcp_verify::http::{Answer, html_text, shorten};
use oc_mcp_verify::session::tidy;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data).into_owned();

    for content_type in [
        "text/html; charset=utf-8",
        "application/json",
        "text/event-stream",
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", http::HeaderValue::from_static(content_type));
        let answer = Answer {
            status: 200,
            headers,
            body: body.clone(),
            peer_certificate: None,
        };
        let excerpt = answer.body_excerpt();
        assert!(excerpt.chars().count() <= 160, "{excerpt:?}");
    }

    let text = html_text(&body);
    assert!(!text.contains('<'), "{text:?}");
    assert_eq!(text.trim(), text);
    assert!(!text.contains("  "), "{text:?}");

    for max in [0, 1, 80] {
        assert!(shorten(&body, max).chars().count() <= max.max(1));
    }
    assert!(tidy(&body).len() <= body.len());

    if let Ok(result) = serde_json::from_str::<rmcp::model::CallToolResult>(&body) {
        let _ = oc_mcp_verify::session::result_text(&result);
    }
    let _ = serde_json::from_str::<rmcp::model::ServerJsonRpcMessage>(&body);

    for options in [
        ToolsOptions::default(),
        ToolsOptions {
            include_node_proxy: true,
            ..ToolsOptions::default()
        },
    ] {
        match derive_from_tools(&body, options) {
            Ok(derived) => {
                for rule in &derived.rules {
                    for verb in &rule.verbs {
                        assert!(
                            matches!(verb.as_str(), "get" | "list" | "watch"),
                            "a tool list derived the verb {verb:?}: {rule:?}"
                        );
                    }
                }
            }
            Err(e) => assert_eq!(e.exit_code().code(), 2, "{e}"),
        }
    }
});
