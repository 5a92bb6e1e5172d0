use clap::Parser;
use oc_mcp_common::preflight::Permission;
use oc_mcp_common::server_config::entra_issuer;

use super::*;

#[derive(Debug, Parser)]
struct Wrapper {
    #[command(flatten)]
    args: InstallArgs,
}

fn args(extra: &[&str]) -> InstallArgs {
    let mut argv = vec!["install"];
    argv.extend_from_slice(extra);
    Wrapper::parse_from(argv).args
}

fn openshift() -> ClusterFacts {
    ClusterFacts {
        openshift: true,
        apps_domain: Some("apps.aro.example.com".into()),
        authentication: Some(AuthenticationConfig::default()),
        oauth_settings: BTreeMap::new(),
    }
}

/// The MCP endpoint on the default route, which oidc mode uses as `resource` and audience.
const RESOURCE: &str = "https://kubernetes-mcp-server-mcp-server.apps.aro.example.com/mcp";

/// OpenShift whose API server accepts https://idp.example.com's tokens for `audiences`.
fn trusting_idp_for(audiences: &[&str]) -> ClusterFacts {
    let mut facts = openshift();
    facts.authentication = Some(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cluster"},
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "idp",
                "issuer": {"issuerURL": "https://idp.example.com", "audiences": audiences}}]}
        }))
        .expect("auth"),
    );
    facts
}

/// OpenShift whose API server accepts https://idp.example.com's tokens for the endpoint.
fn trusting_idp() -> ClusterFacts {
    trusting_idp_for(&[RESOURCE])
}

#[test]
fn openshift_defaults_follow_the_guide_without_its_mistakes() {
    let plan = resolve(&args(&[]), "mcp-server", &openshift(), &Inputs::default()).expect("plan");
    assert_eq!(plan.mode, AuthMode::OpenShift);
    assert_eq!(plan.fullname, "kubernetes-mcp-server");
    assert_eq!(
        plan.host(),
        Some("kubernetes-mcp-server-mcp-server.apps.aro.example.com")
    );
    assert_eq!(plan.server_version, ServerVersion::release(0, 0, 67));
    assert_eq!(plan.config.read_only, Some(true));
    assert_eq!(plan.config.skip_jwt_verification, Some(true));
    assert_eq!(plan.config.authorization_url, None);
}

#[test]
fn guardrails_refuse_what_cannot_work() {
    let facts = openshift();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--auth", "none"], "--auth none on a public route"),
        (
            vec!["--auth", "entra"],
            "needs the tenant and the app's client ID",
        ),
        (
            vec![
                "--auth",
                "oidc",
                "--issuer",
                "https://idp.example.com",
                "--client-id",
                "mcp",
            ],
            "does not accept tokens from https://idp.example.com",
        ),
        (
            vec![
                "--image",
                "quay.io/containers/kubernetes_mcp_server:v0.0.60",
            ],
            "needs kubernetes-mcp-server v0.0.63",
        ),
        (
            vec!["--issuer", "https://idp.example.com"],
            "do not apply to --auth openshift",
        ),
        (
            vec!["--toolsets", "core,shell"],
            "unknown toolset \"shell\"",
        ),
        (
            vec!["--host", "https://x.example.com"],
            "is not a valid host name",
        ),
    ];
    for (extra, expected) in cases {
        let err =
            resolve(&args(&extra), "mcp-server", &facts, &Inputs::default()).expect_err(expected);
        assert_eq!(err.exit_code().code(), 2, "{extra:?}");
        assert!(err.to_string().contains(expected), "{extra:?}: {err}");
    }
    let plain = ClusterFacts::default();
    let err = resolve(&args(&[]), "mcp-server", &plain, &Inputs::default()).expect_err("no domain");
    assert!(err.to_string().contains("no route host"), "{err}");
    assert!(
        resolve(
            &args(&["--auth", "none", "--internal"]),
            "mcp-server",
            &plain,
            &Inputs::default()
        )
        .is_ok()
    );
}

#[test]
fn oidc_mode_when_the_cluster_trusts_the_issuer() {
    let facts = trusting_idp();
    let plan = resolve(
        &args(&[
            "--auth",
            "oidc",
            "--issuer",
            "https://idp.example.com",
            "--client-id",
            "mcp",
        ]),
        "mcp-server",
        &facts,
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(
        plan.config.authorization_url.as_deref(),
        Some("https://idp.example.com")
    );
    // A spec-following client takes `resource` from the metadata (server_url) and asks
    // for a token for it: that is the audience the server expects.
    assert_eq!(plan.config.oauth_audience.as_deref(), Some(RESOURCE));
    assert_eq!(plan.config.server_url.as_deref(), Some(RESOURCE));
}

#[test]
fn oidc_audience_is_the_resource_unless_given_and_the_cluster_must_accept_it() {
    let oidc = [
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
    ];
    // The cluster accepts only the client ID: MCP clients' tokens would be rejected.
    let err = resolve(
        &args(&oidc),
        "mcp-server",
        &trusting_idp_for(&["mcp"]),
        &Inputs::default(),
    )
    .expect_err("audience not accepted");
    assert_eq!(err.exit_code().code(), 2);
    let text = err.to_string();
    assert!(
        text.contains("only for audience \"mcp\"") && text.contains(RESOURCE),
        "{text}"
    );
    assert!(
        err.hint().is_some_and(|h| h.contains("--audience")),
        "{err:?}"
    );
    // --audience wins (an issuer that ignores `resource`).
    let plan = resolve(
        &args(&[&oidc[..], &["--audience", "mcp"]].concat()),
        "mcp-server",
        &trusting_idp_for(&["mcp"]),
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("mcp"));
    assert_eq!(plan.config.server_url.as_deref(), Some(RESOURCE));
    // Internal: no route, no resource URL a client could know; the client ID stays.
    let plan = resolve(
        &args(&[&oidc[..], &["--internal"]].concat()),
        "mcp-server",
        &trusting_idp_for(&["mcp"]),
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("mcp"));
    assert_eq!(plan.config.server_url, None);
}

#[test]
fn entra_clients_are_told_to_ask_for_the_apps_scope() {
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let mut facts = openshift();
    facts.authentication = Some(
        serde_json::from_value(serde_json::json!({
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "entra",
                "issuer": {"issuerURL": entra_issuer(tenant), "audiences": ["app-1"]}}]}
        }))
        .expect("auth"),
    );
    let entra = [
        "--auth",
        "entra",
        "--tenant",
        tenant,
        "--client-id",
        "app-1",
    ];
    let plan = resolve(&args(&entra), "mcp-server", &facts, &Inputs::default()).expect("plan");
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
    let scopes = plan.config.oauth_scopes.clone().unwrap_or_default();
    assert!(
        scopes.contains(&"api://app-1/access_as_user".to_owned()),
        "{scopes:?}"
    );
    // Only Graph scopes: a Graph token, which the server rejects.
    let err = resolve(
        &args(&[&entra[..], &["--scopes", "openid,profile"]].concat()),
        "mcp-server",
        &facts,
        &Inputs::default(),
    )
    .expect_err("graph scopes");
    assert_eq!(err.exit_code().code(), 2);
    assert!(
        err.to_string().contains("names no scope of the app"),
        "{err}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("api://app-1/access_as_user")),
        "{err:?}"
    );
    // What `oc mcp-oauth register entra` stored (its key names) is used as is.
    facts.oauth_settings = [
        ("tenant_id".to_owned(), tenant.to_owned()),
        ("client_id".to_owned(), "app-1".to_owned()),
        (
            "scopes".to_owned(),
            "openid offline_access api://app-1/access_as_user".to_owned(),
        ),
    ]
    .into();
    let plan = resolve(
        &args(&["--auth", "entra"]),
        "mcp-server",
        &facts,
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(
        plan.config.oauth_scopes.as_deref(),
        Some(
            &[
                "openid".to_owned(),
                "offline_access".to_owned(),
                "api://app-1/access_as_user".to_owned()
            ][..]
        )
    );
}

#[test]
fn off_openshift_a_public_endpoint_needs_tls_and_openshift_mode_is_refused() {
    let kubernetes = ClusterFacts::default();
    let oidc = [
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
        "--host",
        "mcp.example.com",
    ];
    let err =
        resolve(&args(&oidc), "mcp-server", &kubernetes, &Inputs::default()).expect_err("no TLS");
    assert_eq!(err.exit_code().code(), 2);
    assert!(
        err.to_string().contains("needs TLS on its Ingress"),
        "{err}"
    );
    let hint = err.hint().unwrap_or_default();
    for flag in ["--tls-secret", "--cluster-issuer", "--internal"] {
        assert!(hint.contains(flag), "{hint}");
    }
    let err = resolve(
        &args(&["--host", "mcp.example.com", "--tls-secret", "mcp-tls"]),
        "mcp-server",
        &kubernetes,
        &Inputs::default(),
    )
    .expect_err("openshift mode");
    assert!(
        err.to_string().contains("--auth openshift needs OpenShift"),
        "{err}"
    );
    let plan = resolve(
        &args(&[&oidc[..], &["--tls-secret", "mcp-tls"]].concat()),
        "mcp-server",
        &kubernetes,
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(plan.ingress_tls, IngressTls::Secret("mcp-tls".into()));
    let plan = resolve(
        &args(&[&oidc[..], &["--cluster-issuer", "letsencrypt"]].concat()),
        "mcp-server",
        &kubernetes,
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(
        plan.ingress_tls,
        IngressTls::ClusterIssuer {
            issuer: "letsencrypt".into(),
            secret: "kubernetes-mcp-server-tls".into()
        }
    );
    let err = resolve(
        &args(&[&oidc[..], &["--tls-secret", "Bad_Name"]].concat()),
        "mcp-server",
        &kubernetes,
        &Inputs::default(),
    )
    .expect_err("bad name");
    assert!(err.to_string().contains("--tls-secret"), "{err}");
}

#[test]
fn entra_settings_come_from_the_oauth_settings_configmap() {
    let mut facts = openshift();
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    facts.oauth_settings = [
        ("tenant".to_owned(), tenant.to_owned()),
        ("clientId".to_owned(), "app-1".to_owned()),
    ]
    .into();
    facts.authentication = Some(
        serde_json::from_value(serde_json::json!({
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "entra",
                "issuer": {"issuerURL": entra_issuer(tenant), "audiences": ["app-1"]}}]}
        }))
        .expect("auth"),
    );
    let plan = resolve(
        &args(&["--auth", "entra"]),
        "mcp-server",
        &facts,
        &Inputs::default(),
    )
    .expect("plan");
    assert_eq!(plan.config.authorization_url, Some(entra_issuer(tenant)));
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
}

#[test]
fn extra_config_is_merged_and_checked_key_by_key() {
    let facts = openshift();
    let plan = resolve(
        &args(&[]),
        "mcp-server",
        &facts,
        &Inputs {
            extra_config: Some("list_output = \"yaml\"\nlog_level = 3\n".into()),
            issuer_ca: None,
            sts_client_secret: None,
        },
    )
    .expect("plan");
    assert_eq!(plan.config.list_output.as_deref(), Some("yaml"));
    assert_eq!(plan.config.read_only, Some(true));
    for (text, expected) in [
        ("requre_oauth = true\n", "did you mean `require_oauth`"),
        ("port = 8080\n", "port"),
        ("require_oauth = false\n", "public"),
        ("read_only = [\n", "not valid TOML"),
    ] {
        let err = resolve(
            &args(&[]),
            "mcp-server",
            &facts,
            &Inputs {
                extra_config: Some(text.into()),
                ..Inputs::default()
            },
        )
        .expect_err(text);
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.to_string().contains(expected), "{text}: {err}");
    }
}

#[test]
fn an_issuer_ca_is_mounted_and_named_in_the_config_only_for_issuer_modes() {
    let facts = trusting_idp();
    let inputs = Inputs {
        extra_config: None,
        sts_client_secret: None,
        issuer_ca: Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
    };
    let oidc = args(&[
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
    ]);
    let plan = resolve(&oidc, "mcp-server", &facts, &inputs).expect("plan");
    assert_eq!(
        plan.config.certificate_authority.as_deref(),
        Some(ISSUER_CA_PATH)
    );
    assert!(plan.issuer_ca.is_some());
    let err = resolve(&args(&[]), "mcp-server", &facts, &inputs).expect_err("openshift mode");
    assert!(
        err.to_string()
            .contains("--issuer-ca does not apply to --auth openshift"),
        "{err}"
    );
}

#[test]
fn token_exchange_puts_the_secret_in_a_drop_in_and_nowhere_else() {
    // With an exchange the cluster gets the exchanged token, so the issuer trust check
    // does not apply (the default facts say the cluster trusts no issuer).
    let facts = openshift();
    let exchange = args(&[
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
        "--token-exchange",
        "rfc8693",
        "--sts-audience",
        "openshift-api",
    ]);
    let secret = "very-secret-client-secret";
    let inputs = Inputs {
        sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new(secret)),
        ..Inputs::default()
    };
    let plan = resolve(&exchange, "mcp-server", &facts, &inputs).expect("plan");
    let main = plan.config.to_toml_string();
    assert!(
        main.contains("[token_exchange]") && main.contains("strategy = \"rfc8693\""),
        "{main}"
    );
    assert!(!main.contains(secret), "the ConfigMap file holds no secret");
    // The exchange authenticates as the OAuth client, not as the tokens' audience.
    assert!(main.contains("client_id = \"mcp\""), "{main}");
    let drop_in = plan.secret_drop_in.as_ref().expect("drop-in");
    assert!(drop_in.expose().contains(secret));
    assert!(
        !format!("{plan:?}").contains(secret),
        "Debug output redacts it"
    );
    let err = resolve(&exchange, "mcp-server", &facts, &Inputs::default()).expect_err("no secret");
    assert!(
        err.to_string()
            .contains("needs the client secret in Secret mcp-oauth-credentials"),
        "{err}"
    );
    let err = resolve(
        &args(&["--token-exchange", "rfc8693"]),
        "mcp-server",
        &facts,
        &inputs,
    )
    .expect_err("openshift");
    assert!(
        err.to_string()
            .contains("--token-exchange does not apply to --auth openshift"),
        "{err}"
    );
}

#[test]
fn the_ingress_carries_tls_off_openshift_and_the_route_annotation_only_on_it() {
    let ingress_of = |flags: &[&str], facts: &ClusterFacts| {
        let mut all = vec!["--engine", "manifests"];
        all.extend_from_slice(flags);
        let plan = resolve(&args(&all), "mcp-server", facts, &Inputs::default()).expect("plan");
        let ingress = crate::render::manifests(&plan)
            .expect("render")
            .into_iter()
            .find(|o| o.kind() == "Ingress")
            .expect("an Ingress");
        let values = serde_json::to_value(crate::render::values(&plan)).expect("values");
        (serde_json::to_value(&ingress.object).expect("json"), values)
    };
    let oidc = [
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
        "--host",
        "mcp.example.com",
    ];
    let kubernetes = ClusterFacts::default();
    let (ingress, values) = ingress_of(
        &[&oidc[..], &["--tls-secret", "mcp-tls"]].concat(),
        &kubernetes,
    );
    assert_eq!(
        ingress["spec"]["tls"],
        serde_json::json!([{"hosts": ["mcp.example.com"], "secretName": "mcp-tls"}])
    );
    assert!(ingress["metadata"]["annotations"].is_null(), "{ingress}");
    assert_eq!(values["ingress"]["tls"]["secretName"], "mcp-tls");
    let (ingress, values) = ingress_of(
        &[&oidc[..], &["--cluster-issuer", "letsencrypt"]].concat(),
        &kubernetes,
    );
    assert_eq!(
        ingress["metadata"]["annotations"],
        serde_json::json!({"cert-manager.io/cluster-issuer": "letsencrypt"})
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "kubernetes-mcp-server-tls"
    );
    assert_eq!(
        values["ingress"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    // OpenShift: the router's certificate, from the edge annotation; no tls section.
    let (ingress, values) = ingress_of(&[], &openshift());
    assert_eq!(
        ingress["metadata"]["annotations"]["route.openshift.io/termination"],
        "edge"
    );
    assert!(ingress["spec"]["tls"].is_null(), "{ingress}");
    assert!(values["ingress"]["tls"].is_null());
}

#[test]
fn fullname_follows_the_chart_helper() {
    assert_eq!(fullname("kubernetes-mcp-server"), "kubernetes-mcp-server");
    assert_eq!(fullname("prod"), "prod-kubernetes-mcp-server");
}

/// The preflight is computed from flags before the cluster is read; whatever the plan
/// then renders must be inside it.
#[test]
fn the_preflight_covers_every_rendered_object() {
    use std::collections::BTreeSet;
    let flavor = ClusterFlavor {
        openshift: true,
        openshift_config: true,
        openshift_oauth: true,
    };
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let trusting = trusting_idp();
    let oidc = [
        "--engine",
        "manifests",
        "--auth",
        "oidc",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "mcp",
    ];
    let with = |extra: &[&'static str]| [&oidc[..], extra].concat();
    let cases: Vec<(Vec<&str>, Inputs, &ClusterFacts)> = vec![
        (vec!["--engine", "manifests"], Inputs::default(), &trusting),
        (
            vec!["--engine", "manifests", "--internal", "--auth", "none"],
            Inputs::default(),
            &trusting,
        ),
        (vec![], Inputs::default(), &trusting),
        (
            with(&["--issuer-ca", "ca.pem"]),
            Inputs {
                issuer_ca: Some(ca.into()),
                ..Inputs::default()
            },
            &trusting,
        ),
        (
            with(&[
                "--token-exchange",
                "rfc8693",
                "--sts-audience",
                "openshift-api",
            ]),
            Inputs {
                sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new("s")),
                ..Inputs::default()
            },
            &trusting,
        ),
    ];
    for (flags, inputs, facts) in cases {
        let args = args(&flags);
        let plan = resolve(&args, "mcp-server", facts, &inputs).expect("plan");
        let asked: BTreeSet<_> = crate::apply::permissions(&args, "mcp-server", flavor)
            .iter()
            .map(Permission::key)
            .collect();
        let objects = if args.engine == Engine::Manifests {
            crate::render::manifests(&plan).expect("render")
        } else {
            Vec::new()
        };
        for object in objects {
            for p in object.required_permissions() {
                assert!(asked.contains(&p.key()), "{flags:?}: {p:?} not asked");
            }
        }
        let ingress =
            Permission::new("create", "networking.k8s.io", "ingresses").in_namespace("mcp-server");
        assert_eq!(
            asked.contains(&ingress.key()),
            args.engine == Engine::Manifests && !args.internal,
            "{flags:?}: an internal or helm install creates no Ingress itself"
        );
    }
}

#[test]
fn a_namespace_that_is_no_dns_label_is_refused_by_the_plan_itself() {
    for bad in ["mcp\nserver", "MCP", "a.b", ""] {
        let err = resolve(&args(&[]), bad, &openshift(), &Inputs::default())
            .expect_err(&format!("{bad:?}"));
        assert_eq!(err.exit_code().code(), 2, "{bad:?}");
        assert!(err.to_string().contains("namespace"), "{err}");
    }
}
