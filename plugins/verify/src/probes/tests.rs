use super::{tls::civil_date, *};

#[test]
pub(super) fn dates_and_names() {
    assert_eq!(civil_date(0), "1970-01-01");
    assert_eq!(civil_date(1_795_651_200), "2026-11-26");
    assert!(name_matches("*.apps.example.com", "mcp.apps.example.com"));
    assert!(!name_matches("*.apps.example.com", "a.b.apps.example.com"));
    assert!(!name_matches("*.apps.example.com", "apps.example.com"));
    assert!(name_matches("MCP.example.com", "mcp.example.com"));
}

#[test]
pub(super) fn challenge_parameters() {
    let c = r#"Bearer realm="Kubernetes MCP Server", audience="mcp-server", error="missing_token""#;
    assert_eq!(
        challenge_param(c, "error").as_deref(),
        Some("missing_token")
    );
    assert_eq!(
        challenge_param(c, "audience").as_deref(),
        Some("mcp-server")
    );
    assert_eq!(challenge_param(c, "resource_metadata"), None);
    let c = r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp""#;
    assert_eq!(
        challenge_param(c, "resource_metadata").as_deref(),
        Some("https://h/.well-known/oauth-protected-resource/mcp")
    );
}

#[test]
pub(super) fn metadata_urls_follow_the_sdk_order() {
    assert_eq!(
        metadata_urls("https://issuer.example.com"),
        [
            "https://issuer.example.com/.well-known/oauth-authorization-server",
            "https://issuer.example.com/.well-known/openid-configuration"
        ]
    );
    assert_eq!(
        metadata_urls("https://login.microsoftonline.com/t/v2.0"),
        [
            "https://login.microsoftonline.com/.well-known/oauth-authorization-server/t/v2.0",
            "https://login.microsoftonline.com/.well-known/openid-configuration/t/v2.0",
            "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"
        ]
    );
}

#[test]
pub(super) fn refusals_are_classified() {
    assert_eq!(
        refusal(
            "failed to list namespaces: the server has asked for the client to provide credentials"
        ),
        Some(Refusal::Unauthenticated)
    );
    assert_eq!(
        refusal("namespaces is forbidden: User \"outsider\" cannot list resource \"namespaces\""),
        Some(Refusal::Forbidden)
    );
    assert_eq!(refusal("NAME AGE\ndefault 1d"), None);
}
