use super::*;

#[test]
fn an_error_after_a_partial_change_leads_with_what_was_done_and_keeps_its_exit_code() {
    let done = "1 of 2 changes done, 1 failed";
    let cases = [
        Error::unreachable("the Kubernetes API server", "gave up after 8 attempts"),
        Error::Forbidden {
            message: "cannot delete".into(),
        },
        Error::failed("boom"),
        Error::Api(Box::new(
            kube::core::Status::failure("conflict", "Conflict").with_code(409),
        )),
        Error::Api(Box::new(
            kube::core::Status::failure("etcd", "InternalError").with_code(500),
        )),
    ];
    for error in cases {
        let (code, hinted) = (error.exit_code(), error.hint().is_some());
        let after = error.after_partial_change(done);
        assert_eq!(after.exit_code(), code, "{after}");
        assert!(after.to_string().contains(done), "{after}");
        assert!(after.hint().is_some() || !hinted, "{after}");
    }
    // A server error says to run the command again, which finishes what is left.
    let internal = Error::Api(Box::new(
        kube::core::Status::failure("etcd", "InternalError").with_code(500),
    ));
    let hint = internal
        .after_partial_change(done)
        .hint()
        .unwrap_or_default();
    assert!(hint.contains("run the command again"), "{hint}");
}

#[test]
fn exit_codes_follow_the_documented_table() {
    assert_eq!(Error::usage("x").exit_code().code(), 2);
    assert_eq!(Error::failed("x").exit_code().code(), 1);
    let forbidden = Error::MissingPermissions {
        user: "u".into(),
        missing: vec![],
    };
    assert_eq!(forbidden.exit_code().code(), 3);
    let unreachable = Error::unreachable("x", "y");
    assert_eq!(unreachable.exit_code().code(), 4);
}

#[test]
fn missing_permissions_are_listed_together() {
    let err = Error::MissingPermissions {
        user: "alice".into(),
        missing: vec![
            MissingPermission {
                verb: "create".into(),
                resource: "clusterroles".into(),
                group: "rbac.authorization.k8s.io".into(),
                namespace: None,
                name: None,
            },
            MissingPermission {
                verb: "patch".into(),
                resource: "configmaps".into(),
                group: String::new(),
                namespace: Some("mcp-server".into()),
                name: None,
            },
            MissingPermission {
                verb: "bind".into(),
                resource: "clusterroles".into(),
                group: "rbac.authorization.k8s.io".into(),
                namespace: None,
                name: Some("mcp-readonly".into()),
            },
        ],
    };
    assert_eq!(
        err.to_string(),
        "missing permissions: create clusterroles.rbac.authorization.k8s.io (cluster-wide), \
         patch configmaps in namespace mcp-server, \
         bind clusterroles.rbac.authorization.k8s.io named mcp-readonly (cluster-wide)"
    );
    let report = ErrorReport::from(&err);
    assert_eq!(report.exit_code, 3);
    assert_eq!(report.missing_permissions.len(), 3);
}

#[test]
fn an_unreachable_server_keeps_its_kind_through_redaction_and_a_partial_change() {
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Connect(#[source] std::io::Error);
    let tls = || {
        Error::unreachable(
            "https://api.example:6443",
            Connect(std::io::Error::other(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))),
        )
    };
    let signed_by = |err: &Error| {
        err.hint()
            .is_some_and(|hint| hint.contains("not signed by the CA you trust"))
    };
    assert!(signed_by(&tls()), "{:?}", tls().hint());
    assert!(
        tls().to_string().contains("invalid peer certificate"),
        "{}",
        tls()
    );
    let scrubbed = tls().redacted(&|text| text.replace("api.example", "***"));
    assert!(signed_by(&scrubbed));
    assert!(!scrubbed.to_string().contains("api.example"), "{scrubbed}");
    assert!(signed_by(&tls().after_partial_change("1 of 2 done")));
    assert_eq!(tls().exit_code(), ExitCode::Unreachable);
}
