use serde_json::{Value, json};

use super::{register::in_future, *};

#[test]
fn tenants_are_guids_or_domains() {
    assert_eq!(
        Tenant::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").expect("guid"),
        Tenant::Id("72f988bf-86f1-41af-91ab-2d7cd011db47".into())
    );
    assert_eq!(
        Tenant::parse("contoso.onmicrosoft.com").expect("domain"),
        Tenant::Domain("contoso.onmicrosoft.com".into())
    );
    for bad in [
        "",
        "contoso",
        "72f988bf-86f1-41af-91ab",
        "a b.com",
        "x.123",
        "https://login.microsoftonline.com/t",
    ] {
        let err = Tenant::parse(bad).expect_err(bad);
        assert_eq!(err.exit_code().code(), 2);
        assert!(
            err.to_string().contains("unknown tenant format"),
            "{bad}: {err}"
        );
    }
    assert!(
        Tenant::parse("common")
            .expect_err("alias")
            .to_string()
            .contains("multi-tenant")
    );
}

#[test]
fn dates_are_rfc3339_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    assert!(in_future("2999-01-01T00:00:00.000Z"));
    assert!(!in_future("2001-01-01T00:00:00Z"));
}

#[test]
fn containment_ignores_extra_fields_and_order() {
    let want = json!({"web": {"redirectUris": ["b", "a"]}, "x": [{"id": 1}]});
    let have = json!({"web": {"redirectUris": ["a", "b"], "homePageUrl": null}, "x": [{"id": 1, "more": true}], "y": 2});
    assert!(contained(&want, &have));
    assert!(!contained(&json!({"web": {"redirectUris": ["a"]}}), &have));
}

#[test]
fn the_scope_id_is_stable_and_kept_when_present() {
    let desired = Desired {
        tenant: Tenant::Id("t".into()),
        unique_name: "kubernetes-mcp-server".into(),
        display_name: "kubernetes-mcp-server".into(),
        web: vec![],
        public: vec![],
        admin_consent: false,
        secret_days: 1,
        secret_label: "l".into(),
    };
    let a = expose_api_body(&desired, "app", None);
    let b = expose_api_body(&desired, "app", None);
    assert_eq!(a, b);
    let id = a
        .pointer("/api/oauth2PermissionScopes/0/id")
        .and_then(Value::as_str)
        .expect("id");
    assert_eq!(
        uuid::Uuid::try_parse(id).map(|u| u.get_version_num()).ok(),
        Some(4),
        "{id}"
    );
    let existing = json!({"identifierUris": ["api://other"], "api": {"oauth2PermissionScopes": [
        {"id": "11111111-1111-4111-8111-111111111111", "value": API_SCOPE},
        {"id": "22222222-2222-4222-8222-222222222222", "value": "theirs"}]}});
    let body = expose_api_body(&desired, "app", Some(&existing));
    assert_eq!(body["identifierUris"], json!(["api://other", "api://app"]));
    let scopes = body
        .pointer("/api/oauth2PermissionScopes")
        .and_then(Value::as_array)
        .expect("scopes");
    assert_eq!(scopes.len(), 2);
    assert_eq!(scopes[1]["id"], "11111111-1111-4111-8111-111111111111");
}
