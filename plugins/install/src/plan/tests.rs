use std::collections::BTreeSet;

use clap::Parser;
use oc_mcp_common::preflight::Permission;
use oc_mcp_common::server_config::entra_issuer;

use super::*;

#[derive(Debug, Parser)]
struct Wrapper {
    #[command(flatten)]
    args: InstallArgs,
}

fn try_args(extra: &[&str]) -> std::result::Result<InstallArgs, clap::Error> {
    let mut argv = vec!["install"];
    argv.extend_from_slice(extra);
    Wrapper::try_parse_from(argv).map(|w| w.args)
}

fn args(extra: &[&str]) -> InstallArgs {
    try_args(extra).expect("flags")
}

/// `base` followed by `more`.
fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    [base, more].concat()
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
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
/// oidc mode with the test issuer and client ID.
const OIDC: &[&str] = &[
    "--auth",
    "oidc",
    "--issuer",
    "https://idp.example.com",
    "--client-id",
    "mcp",
];
/// oidc mode on a public host (off OpenShift).
fn oidc_host() -> Vec<&'static str> {
    with(OIDC, &["--host", "mcp.example.com"])
}

/// OpenShift whose API server accepts `issuer`'s tokens for `audiences`.
fn trusting(issuer: &str, audiences: &[&str]) -> ClusterFacts {
    let mut facts = openshift();
    facts.authentication = Some(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cluster"},
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "idp",
                "issuer": {"issuerURL": issuer, "audiences": audiences}}]}
        }))
        .expect("auth"),
    );
    facts
}

/// OpenShift whose API server accepts https://idp.example.com's tokens for `audiences`.
fn trusting_idp_for(audiences: &[&str]) -> ClusterFacts {
    trusting("https://idp.example.com", audiences)
}

/// OpenShift whose API server accepts https://idp.example.com's tokens for the endpoint.
fn trusting_idp() -> ClusterFacts {
    trusting_idp_for(&[RESOURCE])
}

/// OpenShift whose API server accepts the test tenant's Entra tokens for app-1.
fn trusting_entra() -> ClusterFacts {
    trusting(&entra_issuer(TENANT), &["app-1"])
}

fn plan_with(flags: &[&str], facts: &ClusterFacts, inputs: &Inputs) -> Result<InstallPlan> {
    resolve(&args(flags), "mcp-server", facts, inputs)
}

fn plan_for(flags: &[&str], facts: &ClusterFacts) -> InstallPlan {
    plan_with(flags, facts, &Inputs::default())
        .unwrap_or_else(|e| panic!("{flags:?}: no plan: {e}"))
}

/// How a refusal reads, whether clap refused a flag's value or the plan refused the flags.
struct Refusal {
    code: i32,
    text: String,
    hint: String,
}

fn refusal_with(flags: &[&str], facts: &ClusterFacts, inputs: &Inputs) -> Refusal {
    let err = match try_args(flags) {
        Err(usage) => {
            return Refusal {
                code: usage.exit_code(),
                text: usage.to_string(),
                hint: String::new(),
            };
        }
        Ok(args) => resolve(&args, "mcp-server", facts, inputs)
            .map(|_| ())
            .expect_err(&format!("{flags:?} is refused")),
    };
    Refusal {
        code: i32::from(err.exit_code().code()),
        text: err.to_string(),
        hint: err.hint().unwrap_or_default(),
    }
}

fn refusal(flags: &[&str], facts: &ClusterFacts) -> Refusal {
    refusal_with(flags, facts, &Inputs::default())
}

/// Refused with exit 2, the message holding `expected` and the hint each of `hinted`.
fn assert_refused(flags: &[&str], facts: &ClusterFacts, expected: &str, hinted: &[&str]) {
    let refused = refusal(flags, facts);
    assert_eq!(refused.code, 2, "{flags:?}: {}", refused.text);
    assert!(
        refused.text.contains(expected),
        "{flags:?}: {}",
        refused.text
    );
    for hint in hinted {
        assert!(refused.hint.contains(hint), "{flags:?}: {}", refused.hint);
    }
}

#[test]
fn openshift_defaults_follow_the_guide_without_its_mistakes() {
    let plan = plan_for(&[], &openshift());
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
    let on_openshift: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--auth", "none"], "--auth none on a public route"),
        (
            vec!["--auth", "entra"],
            "needs the tenant and the app's client ID",
        ),
        (
            OIDC.to_vec(),
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
        (
            vec!["--token-exchange", "rfc8693"],
            "--token-exchange does not apply to --auth openshift",
        ),
        (
            with(OIDC, &["--token-exchange", "rfc8693"]),
            "needs the client secret in Secret mcp-oauth-credentials",
        ),
    ];
    for (flags, expected) in on_openshift {
        assert_refused(&flags, &openshift(), expected, &[]);
    }
    let plain = ClusterFacts::default();
    let off_openshift: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "no route host"),
        (
            vec!["--host", "mcp.example.com", "--tls-secret", "mcp-tls"],
            "--auth openshift needs OpenShift",
        ),
        (
            with(&oidc_host(), &["--tls-secret", "Bad_Name"]),
            "--tls-secret",
        ),
        (
            with(&oidc_host(), &["--cluster-issuer", "Bad_Name"]),
            "--cluster-issuer",
        ),
    ];
    for (flags, expected) in off_openshift {
        assert_refused(&flags, &plain, expected, &[]);
    }
    assert_refused(
        &oidc_host(),
        &plain,
        "needs TLS on its Ingress",
        &["--tls-secret", "--cluster-issuer", "--internal"],
    );
    plan_for(&["--auth", "none", "--internal"], &plain);
}

#[test]
fn oidc_mode_when_the_cluster_trusts_the_issuer() {
    let plan = plan_for(OIDC, &trusting_idp());
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
    let accepts_client_id = trusting_idp_for(&["mcp"]);
    // The cluster accepts only the client ID: MCP clients' tokens would be rejected.
    let refused = refusal(OIDC, &accepts_client_id);
    assert_eq!(refused.code, 2);
    assert!(
        refused.text.contains("only for audience \"mcp\"") && refused.text.contains(RESOURCE),
        "{}",
        refused.text
    );
    assert!(refused.hint.contains("--audience"), "{}", refused.hint);
    // --audience wins (an issuer that ignores `resource`); internal: no route, no resource
    // URL a client could know, so the client ID stays.
    for (more, server_url) in [
        (&["--audience", "mcp"][..], Some(RESOURCE)),
        (&["--internal"][..], None),
    ] {
        let plan = plan_for(&with(OIDC, more), &accepts_client_id);
        assert_eq!(
            plan.config.oauth_audience.as_deref(),
            Some("mcp"),
            "{more:?}"
        );
        assert_eq!(plan.config.server_url.as_deref(), server_url, "{more:?}");
    }
}

#[test]
fn entra_clients_are_told_to_ask_for_the_apps_scope() {
    let mut facts = trusting_entra();
    let entra = [
        "--auth",
        "entra",
        "--tenant",
        TENANT,
        "--client-id",
        "app-1",
    ];
    let plan = plan_for(&entra, &facts);
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
    let scopes = plan.config.oauth_scopes.clone().unwrap_or_default();
    assert!(
        scopes.contains(&"api://app-1/access_as_user".to_owned()),
        "{scopes:?}"
    );
    // Only Graph scopes: a Graph token, which the server rejects.
    assert_refused(
        &[&entra[..], &["--scopes", "openid,profile"]].concat(),
        &facts,
        "names no scope of the app",
        &["api://app-1/access_as_user"],
    );
    // What `oc mcp-oauth register entra` stored (its key names) is used as is.
    facts.oauth_settings = [
        ("tenant_id".to_owned(), TENANT.to_owned()),
        ("client_id".to_owned(), "app-1".to_owned()),
        (
            "scopes".to_owned(),
            "openid offline_access api://app-1/access_as_user".to_owned(),
        ),
    ]
    .into();
    let plan = plan_for(&["--auth", "entra"], &facts);
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
fn off_openshift_a_public_endpoint_gets_tls_from_a_secret_or_cert_manager() {
    let kubernetes = ClusterFacts::default();
    for (more, tls) in [
        (
            ["--tls-secret", "mcp-tls"],
            IngressTls::Secret("mcp-tls".into()),
        ),
        (
            ["--cluster-issuer", "letsencrypt"],
            IngressTls::ClusterIssuer {
                issuer: "letsencrypt".into(),
                secret: "kubernetes-mcp-server-tls".into(),
            },
        ),
    ] {
        let plan = plan_for(&with(&oidc_host(), &more), &kubernetes);
        assert_eq!(plan.ingress_tls, tls, "{more:?}");
    }
}

#[test]
fn entra_settings_come_from_the_oauth_settings_configmap() {
    let mut facts = trusting_entra();
    facts.oauth_settings = [
        ("tenant".to_owned(), TENANT.to_owned()),
        ("clientId".to_owned(), "app-1".to_owned()),
    ]
    .into();
    let plan = plan_for(&["--auth", "entra"], &facts);
    assert_eq!(plan.config.authorization_url, Some(entra_issuer(TENANT)));
    assert_eq!(plan.config.oauth_audience.as_deref(), Some("app-1"));
    // The ConfigMap's values have the grammar of the flags they stand in for.
    facts
        .oauth_settings
        .insert("tenant".to_owned(), "common".to_owned());
    assert_refused(
        &["--auth", "entra"],
        &facts,
        "mcp-oauth-settings: \"common\" is a multi-tenant alias",
        &["az account show"],
    );
}

#[test]
fn extra_config_is_merged_and_checked_key_by_key() {
    let facts = openshift();
    let extra = |text: &str| Inputs {
        extra_config: Some(text.into()),
        ..Inputs::default()
    };
    let plan = plan_with(
        &[],
        &facts,
        &extra("list_output = \"yaml\"\nlog_level = 3\n"),
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
        let refused = refusal_with(&[], &facts, &extra(text));
        assert_eq!(refused.code, 2);
        assert!(refused.text.contains(expected), "{text}: {}", refused.text);
    }
}

#[test]
fn an_issuer_ca_is_mounted_and_named_in_the_config_only_for_issuer_modes() {
    let facts = trusting_idp();
    let inputs = Inputs {
        issuer_ca: Some(CA.into()),
        ..Inputs::default()
    };
    let plan = plan_with(OIDC, &facts, &inputs).expect("plan");
    assert_eq!(
        plan.config.certificate_authority.as_deref(),
        Some(ISSUER_CA_PATH)
    );
    assert!(plan.issuer_ca.is_some());
    let refused = refusal_with(&[], &facts, &inputs);
    assert!(
        refused
            .text
            .contains("--issuer-ca does not apply to --auth openshift"),
        "{}",
        refused.text
    );
}

#[test]
fn token_exchange_puts_the_secret_in_a_drop_in_and_nowhere_else() {
    // With an exchange the cluster gets the exchanged token, so the issuer trust check
    // does not apply (the default facts say the cluster trusts no issuer).
    let exchange = with(
        OIDC,
        &[
            "--token-exchange",
            "rfc8693",
            "--sts-audience",
            "openshift-api",
        ],
    );
    let secret = "very-secret-client-secret";
    let inputs = Inputs {
        sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new(secret)),
        ..Inputs::default()
    };
    let plan = plan_with(&exchange, &openshift(), &inputs).expect("plan");
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
}

#[test]
fn the_ingress_carries_tls_off_openshift_and_the_route_annotation_only_on_it() {
    let ingress_of = |flags: &[&str], facts: &ClusterFacts| {
        let plan = plan_for(&with(&["--engine", "manifests"], flags), facts);
        let ingress = crate::render::manifests(&plan)
            .expect("render")
            .into_iter()
            .find(|o| o.kind() == "Ingress")
            .expect("an Ingress");
        let values = serde_json::to_value(crate::render::values(&plan)).expect("values");
        (serde_json::to_value(&ingress.object).expect("json"), values)
    };
    let kubernetes = ClusterFacts::default();
    let (ingress, values) = ingress_of(
        &with(&oidc_host(), &["--tls-secret", "mcp-tls"]),
        &kubernetes,
    );
    assert_eq!(
        ingress["spec"]["tls"],
        serde_json::json!([{"hosts": ["mcp.example.com"], "secretName": "mcp-tls"}])
    );
    assert!(ingress["metadata"]["annotations"].is_null(), "{ingress}");
    assert_eq!(values["ingress"]["tls"]["secretName"], "mcp-tls");
    let (ingress, values) = ingress_of(
        &with(&oidc_host(), &["--cluster-issuer", "letsencrypt"]),
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

const FLAVOR: ClusterFlavor = ClusterFlavor {
    openshift: true,
    openshift_config: true,
    openshift_oauth: true,
};

fn asked(args: &InstallArgs) -> BTreeSet<(String, String, String, String, String)> {
    crate::apply::permissions(args, "mcp-server", FLAVOR)
        .expect("permissions")
        .iter()
        .map(Permission::key)
        .collect()
}

/// The preflight is computed from flags before the cluster is read, from the plan's preview;
/// every object the real plan then applies must be inside it.
#[test]
fn the_preflight_covers_every_object_the_plan_applies() {
    let trusting = trusting_idp();
    let manifests = with(&["--engine", "manifests"], OIDC);
    let issuer_ca = Inputs {
        issuer_ca: Some(CA.into()),
        ..Inputs::default()
    };
    let client_secret = Inputs {
        sts_client_secret: Some(oc_mcp_common::kube_args::Secret::new("s")),
        ..Inputs::default()
    };
    let exchange = [
        "--token-exchange",
        "rfc8693",
        "--sts-audience",
        "openshift-api",
    ];
    let none = Inputs::default();
    let cases: Vec<(Vec<&str>, &Inputs)> = vec![
        (vec!["--engine", "manifests"], &none),
        (
            vec!["--engine", "manifests", "--internal", "--auth", "none"],
            &none,
        ),
        (vec![], &none),
        (with(&manifests, &["--issuer-ca", "ca.pem"]), &issuer_ca),
        (with(OIDC, &["--issuer-ca", "ca.pem"]), &issuer_ca),
        (with(&manifests, &exchange), &client_secret),
        (with(OIDC, &exchange), &client_secret),
    ];
    for (flags, inputs) in cases {
        let args = args(&flags);
        let plan = resolve(&args, "mcp-server", &trusting, inputs).expect("plan");
        let asked = asked(&args);
        let applied = crate::render::applied_objects(&plan).expect("render");
        assert!(!applied.objects.is_empty() || args.engine == Engine::Helm);
        for p in applied.required_permissions() {
            assert!(asked.contains(&p.key()), "{flags:?}: {p:?} not asked");
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

/// What the default manifests install asks, spelled out: the five objects' get/create/patch,
/// list/delete of the six kinds it prunes, the project, and the cluster facts.
#[test]
fn the_manifests_preflight_is_the_objects_the_prune_the_project_and_the_facts() {
    let mut expected: BTreeSet<_> = BTreeSet::new();
    let in_ns = |verb: &str, group: &str, resource: &str| {
        Permission::new(verb, group, resource)
            .in_namespace("mcp-server")
            .key()
    };
    for (group, resource) in [
        ("", "serviceaccounts"),
        ("", "configmaps"),
        ("apps", "deployments"),
        ("", "services"),
        ("networking.k8s.io", "ingresses"),
    ] {
        for verb in ["get", "create", "patch"] {
            expected.insert(in_ns(verb, group, resource));
        }
    }
    for (group, resource) in [
        ("networking.k8s.io", "ingresses"),
        ("", "services"),
        ("apps", "deployments"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
    ] {
        for verb in ["list", "delete"] {
            expected.insert(in_ns(verb, group, resource));
        }
    }
    expected.insert(Permission::new("create", "project.openshift.io", "projectrequests").key());
    for resource in ["ingresses", "authentications"] {
        expected.insert(
            Permission::new("get", "config.openshift.io", resource)
                .named("cluster")
                .key(),
        );
    }
    assert_eq!(asked(&args(&["--engine", "manifests"])), expected);
    // helm applies the chart's objects itself: of them only the settings read stays.
    let mut helm: BTreeSet<_> = expected
        .into_iter()
        .filter(|(_, _, namespace, verb, _)| {
            namespace.is_empty() || !["get", "create", "patch"].contains(&verb.as_str())
        })
        .collect();
    helm.insert(in_ns("get", "", "configmaps"));
    assert_eq!(asked(&args(&[])), helm);
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
