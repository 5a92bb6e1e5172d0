//! Unit tests: the linter table, parsing (unknown keys, types, drop-ins), modes, rendering.

use std::collections::BTreeMap;

use super::*;

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.example.com";
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

fn v(s: &str) -> ServerVersion {
    s.parse().expect("valid version")
}

fn openshift() -> ServerConfig {
    ServerConfig::openshift(DEFAULT_TOOLSETS)
}

fn entra() -> ServerConfig {
    ServerConfig::entra(TENANT, CLIENT, Some(HOST), DEFAULT_TOOLSETS)
}

/// The strictest context: tested version, ConfigMap, public route.
fn strict() -> LintContext {
    LintContext::new(ServerVersion::TESTED)
        .in_configmap()
        .public_route(HOST)
}

/// The first finding of `rule` in `parsed`.
fn first_finding(parsed: &ParsedConfig, rule: Rule) -> &Finding {
    parsed
        .findings()
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {:#?}", parsed.findings()))
}

fn parse(text: &str) -> ParsedConfig {
    ParsedConfig::parse(text).expect("valid TOML")
}

#[test]
fn good_configs_have_no_findings() {
    for (name, config) in [
        ("openshift", openshift()),
        ("entra", entra()),
        (
            "oidc",
            ServerConfig::oidc(
                &OidcSettings::new(
                    "https://keycloak.example.com/realms/openshift",
                    "mcp-server",
                )
                .with_scopes(&["openid", "mcp-server"])
                .with_route_host(HOST),
                &["core", "config", "helm"],
            ),
        ),
    ] {
        let findings = lint(&config, &strict());
        assert!(findings.is_empty(), "{name}: {findings:#?}");
    }
    // With the secret merged in from its drop-in, linted as the effective config.
    let findings = lint(&entra_obo(), &not_configmap());
    assert!(findings.is_empty(), "entra-obo: {findings:#?}");
    let none = ServerConfig::without_auth(DEFAULT_TOOLSETS);
    let findings = lint(&none, &LintContext::new(ServerVersion::TESTED).internal());
    assert!(findings.is_empty(), "none: {findings:#?}");
}

struct Case {
    name: &'static str,
    base: fn() -> ServerConfig,
    change: fn(&mut ServerConfig),
    context: fn() -> LintContext,
    rule: Rule,
    key: &'static str,
    severity: Severity,
}

/// v0.0.66: the flat `sts_*` keys, before `[token_exchange]`.
fn legacy() -> LintContext {
    LintContext::new(v("v0.0.66"))
        .in_configmap()
        .public_route(HOST)
}

fn legacy_internal() -> LintContext {
    LintContext::new(v("v0.0.66")).internal()
}

fn exchange() -> TokenExchange {
    TokenExchange {
        strategy: s("entra-obo"),
        scopes: Some(vec!["api://downstream/.default".into()]),
        client_auth: Some(TokenExchangeClientAuth {
            method: s("client_secret_post"),
            client_id: s(CLIENT),
            client_secret: s("s3cr3t-value"),
            ..TokenExchangeClientAuth::default()
        }),
        ..TokenExchange::default()
    }
}

/// Entra with on-behalf-of exchange, secret included (lint it without the ConfigMap flag).
fn entra_obo() -> ServerConfig {
    ServerConfig {
        token_exchange: Some(exchange()),
        ..entra()
    }
}

fn not_configmap() -> LintContext {
    LintContext::new(ServerVersion::TESTED).public_route(HOST)
}

fn auth_mut(c: &mut ServerConfig) -> &mut TokenExchangeClientAuth {
    c.token_exchange
        .get_or_insert_with(TokenExchange::default)
        .client_auth
        .get_or_insert_with(TokenExchangeClientAuth::default)
}

fn internal() -> LintContext {
    LintContext::new(ServerVersion::TESTED).internal()
}

fn unknown_exposure() -> LintContext {
    LintContext::new(ServerVersion::TESTED)
}

fn no_auth() -> ServerConfig {
    ServerConfig::without_auth(DEFAULT_TOOLSETS)
}

#[allow(clippy::unnecessary_wraps)] // every optional key of the model is an Option<String>
fn s(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// One case per rule: `name => severity rule key; base, context, change;` — `change` turns
/// `base()` into a config that must give that finding in `context()`.
macro_rules! cases {
    ($($name:literal => $severity:ident $rule:ident $key:literal;
       $base:expr, $context:expr, $change:expr;)*) => {
        &[$(Case {
            name: $name,
            base: $base,
            change: $change,
            context: $context,
            rule: Rule::$rule,
            key: $key,
            severity: Severity::$severity,
        },)*]
    };
}

const CASES: &[Case] = cases! {
    "list_output not table/yaml" => Error StartupRefused "list_output";
        openshift, strict, |c| c.list_output = s("json");
    "unknown toolset" => Error StartupRefused "toolsets";
        openshift, strict, |c| c.toolsets = Some(vec!["core".into(), "nope".into()]);
    "unknown toolset on latest is only a warning" => Warning StartupRefused "toolsets";
        openshift, || LintContext::new(ServerVersion::Latest).public_route(HOST),
        |c| c.toolsets = Some(vec!["core".into(), "nope".into()]);
    "unknown cluster provider" => Error StartupRefused "cluster_provider_strategy";
        openshift, strict, |c| c.cluster_provider_strategy = s("acm");
    "oauth keys without require_oauth" => Error StartupRefused "server_url";
        no_auth, internal, |c| c.server_url = s("https://x.example.com");
    "authorization_url not http(s)" => Error StartupRefused "authorization_url";
        entra, strict, |c| c.authorization_url = s("ftp://issuer.example.com");
    "require_oauth without issuer or skip_jwt_verification" => Error StartupRefused "require_oauth";
        openshift, strict, |c| c.skip_jwt_verification = None;
    "tls_cert without tls_key" => Error StartupRefused "tls_key";
        openshift, strict, |c| c.tls_cert = s("/tls/tls.crt");
    "tls_cert without port" => Error StartupRefused "tls_cert";
        openshift, strict, |c| {
            c.tls_cert = s("/tls/tls.crt");
            c.tls_key = s("/tls/tls.key");
            c.port = None;
        };
    "require_tls without certificates" => Error StartupRefused "require_tls";
        openshift, strict, |c| c.require_tls = Some(true);
    "require_tls with an http issuer" => Error StartupRefused "authorization_url";
        entra, strict, |c| {
            c.require_tls = Some(true);
            c.authorization_url = s("http://issuer.example.com");
        };
    "tls_min_version unknown" => Error StartupRefused "tls_min_version";
        openshift, strict, |c| c.tls_min_version = s("1.4");
    "cluster_auth_mode unknown" => Error StartupRefused "cluster_auth_mode";
        openshift, strict, |c| c.cluster_auth_mode = s("impersonate");
    "kubeconfig with require_oauth" => Error StartupRefused "cluster_auth_mode";
        openshift, strict, |c| c.cluster_auth_mode = s("kubeconfig");
    "kubeconfig with require_oauth before v0.0.62 still an error"
        => Error StartupRefused "cluster_auth_mode";
        entra, || LintContext::new(v("v0.0.61")), |c| c.cluster_auth_mode = s("kubeconfig");
    "kubeconfig with token exchange (v0.0.66)" => Error StartupRefused "cluster_auth_mode";
        no_auth, legacy_internal, |c| {
            c.cluster_auth_mode = s("kubeconfig");
            c.sts_audience = s("openshift");
        };
    "token exchange without require_oauth (v0.0.66)"
        => Error StartupRefused "token_exchange_strategy";
        no_auth, legacy_internal, |c| c.token_exchange_strategy = s("rfc8693");
    "unknown token exchange strategy (v0.0.66)" => Error StartupRefused "token_exchange_strategy";
        entra, legacy, |c| {
            c.token_exchange_strategy = s("magic");
            c.sts_client_id = s(CLIENT);
            c.sts_audience = s("api://x");
        };
    "assertion without certificate (v0.0.66)" => Error StartupRefused "sts_client_cert_file";
        entra, legacy, |c| c.sts_auth_style = s("assertion");
    "federated without token file (v0.0.66)" => Error StartupRefused "sts_federated_token_file";
        entra, legacy, |c| c.sts_auth_style = s("federated");
    "unknown sts_auth_style (v0.0.66)" => Error StartupRefused "sts_auth_style";
        entra, legacy, |c| c.sts_auth_style = s("basic");
    "confirmation_fallback unknown" => Error StartupRefused "confirmation_fallback";
        openshift, strict, |c| c.confirmation_fallback = s("ask");
    "confirmation rule mixing levels" => Error StartupRefused "confirmation_rules[0]";
        openshift, strict, |c| {
            c.confirmation_rules = Some(vec![ConfirmationRule {
                tool: s("pods_delete"),
                verb: s("delete"),
                message: s("sure?"),
                ..ConfirmationRule::default()
            }]);
        };
    "confirmation rule with no target" => Error StartupRefused "confirmation_rules[0]";
        openshift, strict, |c| {
            c.confirmation_rules = Some(vec![ConfirmationRule {
                message: s("sure?"),
                ..ConfirmationRule::default()
            }]);
        };
    "negative rate limit" => Error StartupRefused "http.rate_limit_rps";
        openshift, strict, |c| {
            c.http = Some(HttpSettings {
                rate_limit_rps: Some(-1.0),
                ..HttpSettings::default()
            });
        };
    "no port" => Warning NoPort "port";
        openshift, strict, |c| c.port = None;
    "port not a number" => Error InvalidValue "port";
        openshift, strict, |c| c.port = s("http");
    "log level above klog's range logs everything" => Error SensitiveLogging "log_level";
        openshift, strict, |c| c.log_level = Some(12);
    "log level below klog's range" => Warning InvalidValue "log_level";
        openshift, strict, |c| c.log_level = Some(-1);
    "log level 6 logs tool results and request URLs" => Error SensitiveLogging "log_level";
        openshift, internal, |c| c.log_level = Some(6);
    "log level 9 logs API response bodies" => Error SensitiveLogging "log_level";
        openshift, unknown_exposure, |c| c.log_level = Some(9);
    "kubeconfig cluster auth without OAuth: one shared identity"
        => Error SharedIdentity "cluster_auth_mode";
        no_auth, internal, |c| c.cluster_auth_mode = s("kubeconfig");
    "openshift passthrough needs v0.0.63" => Error VersionSupport "skip_jwt_verification";
        openshift, || LintContext::new(v("v0.0.62")), |_| {};
    "auth keys unknown before v0.0.61" => Error VersionSupport "cluster_auth_mode";
        openshift, || LintContext::new(v("v0.0.60")), |_| {};
    "empty audience with issuer rejects every token up to v0.0.66"
        => Error VersionSupport "oauth_audience";
        entra, || LintContext::new(v("v0.0.66")), |c| c.oauth_audience = None;
    "empty audience with issuer accepts any audience from v0.0.67"
        => Warning AudienceMissing "oauth_audience";
        entra, strict, |c| c.oauth_audience = s("");
    "sse_base_url is gone in v0.0.67" => Warning NoEffect "sse_base_url";
        openshift, strict, |c| c.sse_base_url = s("https://x.example.com");
    "client secret in the ConfigMap" => Error SecretInConfigMap "sts_client_secret";
        entra, strict, |c| c.sts_client_secret = s("s3cr3t-value");
    "sts_* without audience or strategy (v0.0.66)"
        => Warning TokenExchangeIncomplete "sts_client_id";
        entra, legacy, |c| c.sts_client_id = s(CLIENT);
    "sts_audience without strategy (v0.0.66)" => Warning TokenExchangeIncomplete "sts_audience";
        entra, legacy, |c| {
            c.sts_client_id = s(CLIENT);
            c.sts_audience = s("openshift");
        };
    "strategy without client (v0.0.66)" => Warning TokenExchangeIncomplete "sts_client_id";
        entra, legacy, |c| {
            c.token_exchange_strategy = s("entra-obo");
            c.sts_scopes = Some(vec!["api://downstream/.default".into()]);
        };
    "flat sts key refused from v0.0.67" => Error StartupRefused "sts_client_id";
        entra, strict, |c| c.sts_client_id = s(CLIENT);
    "token_exchange table ignored before v0.0.67" => Error VersionSupport "token_exchange";
        entra, legacy_internal, |c| c.token_exchange = Some(exchange());
    "token_exchange without authorization_url" => Error StartupRefused "token_exchange";
        openshift, not_configmap, |c| c.token_exchange = Some(exchange());
    "token_exchange with kubeconfig" => Error StartupRefused "cluster_auth_mode";
        no_auth, internal, |c| {
            c.cluster_auth_mode = s("kubeconfig");
            c.token_exchange = Some(exchange());
        };
    "token_exchange without require_oauth" => Error StartupRefused "token_exchange";
        no_auth, internal, |c| c.token_exchange = Some(exchange());
    "token_exchange strategy missing" => Error StartupRefused "token_exchange.strategy";
        entra_obo, not_configmap, |c| {
            if let Some(e) = c.token_exchange.as_mut() {
                e.strategy = None;
            }
        };
    "client credentials without method" => Error StartupRefused "token_exchange.client_auth.method";
        entra_obo, not_configmap, |c| auth_mut(c).method = None;
    "unknown client auth method" => Error StartupRefused "token_exchange.client_auth.method";
        entra_obo, not_configmap, |c| auth_mut(c).method = s("mtls");
    "client auth method without client_id"
        => Error StartupRefused "token_exchange.client_auth.client_id";
        entra_obo, not_configmap, |c| auth_mut(c).client_id = None;
    "client_secret_post without the secret"
        => Error StartupRefused "token_exchange.client_auth.client_secret";
        entra_obo, not_configmap, |c| auth_mut(c).client_secret = None;
    "private_key_jwt without key file"
        => Error StartupRefused "token_exchange.client_auth.private_key_file";
        entra_obo, not_configmap, |c| {
            let auth = auth_mut(c);
            auth.method = s("private_key_jwt");
            auth.client_secret = None;
            auth.certificate_file = s("/certs/tls.crt");
        };
    "jwt_file without token file" => Error StartupRefused "token_exchange.client_auth.token_file";
        entra_obo, not_configmap, |c| {
            let auth = auth_mut(c);
            auth.method = s("jwt_file");
            auth.client_secret = None;
        };
    "token_exchange without audience or scopes" => Warning TokenExchangeIncomplete "token_exchange";
        entra_obo, not_configmap, |c| {
            if let Some(e) = c.token_exchange.as_mut() {
                e.scopes = None;
            }
        };
    "token_exchange without client"
        => Warning TokenExchangeIncomplete "token_exchange.client_auth.client_id";
        entra_obo, not_configmap, |c| {
            if let Some(e) = c.token_exchange.as_mut() {
                e.client_auth = None;
            }
        };
    "token_exchange client secret in the ConfigMap"
        => Error SecretInConfigMap "token_exchange.client_auth.client_secret";
        entra, strict, |c| c.token_exchange = Some(exchange());
    "metrics_port equal to port" => Error StartupRefused "metrics_port";
        openshift, strict, |c| c.metrics_port = s("8080");
    "metrics_port without port" => Error StartupRefused "metrics_port";
        openshift, strict, |c| {
            c.metrics_port = s("9090");
            c.port = None;
        };
    "metrics_port not a number" => Error StartupRefused "metrics_port";
        openshift, strict, |c| c.metrics_port = s("metrics");
    "metrics_port before v0.0.67" => Error VersionSupport "metrics_port";
        openshift, legacy, |c| c.metrics_port = s("9090");
    "read_only false, internal" => Error ToolsNotRestricted "read_only";
        openshift, internal, |c| c.read_only = Some(false);
    "read_only false on a public route" => Error ToolsNotRestricted "read_only";
        openshift, strict, |c| c.read_only = Some(false);
    "disable_destructive absent" => Error ToolsNotRestricted "disable_destructive";
        openshift, unknown_exposure, |c| c.disable_destructive = None;
    "no OAuth on a public route" => Error PublicWithoutOAuth "require_oauth";
        no_auth, strict, |_| {};
    "server_url not https" => Warning ServerUrl "server_url";
        entra, strict, |c| c.server_url = Some(format!("http://{HOST}"));
    "server_url another host" => Warning ServerUrl "server_url";
        entra, strict, |c| c.server_url = s("https://other.example.com");
    "server_url missing behind the route" => Warning ServerUrl "server_url";
        entra, strict, |c| c.server_url = None;
    "authorization_url with trailing slash" => Warning IssuerUrl "authorization_url";
        entra, strict, |c| c.authorization_url = Some(format!("{}/", entra_issuer(TENANT)));
    "Entra issuer without v2.0" => Warning IssuerUrl "authorization_url";
        entra, strict, |c| {
            c.authorization_url = Some(format!("https://login.microsoftonline.com/{TENANT}"));
        };
    "http issuer" => Warning IssuerUrl "authorization_url";
        entra, strict, |c| c.authorization_url = s("http://keycloak.example.com/realms/x");
    "skip_jwt_verification with an issuer" => Warning NoEffect "skip_jwt_verification";
        entra, strict, |c| c.skip_jwt_verification = Some(true);
    "oauth_scopes without issuer" => Warning NoEffect "oauth_scopes";
        openshift, strict, |c| c.oauth_scopes = Some(vec!["openid".into()]);
    "toolset_configs for an unknown toolset" => Warning NoEffect "toolset_configs.helmm";
        openshift, strict, |c| {
            c.toolset_configs = Some(BTreeMap::from([("helmm".into(), toml::Table::new())]));
        };
    "loopback bind address behind a route" => Warning InvalidValue "bind_address";
        openshift, strict, |c| c.bind_address = s("127.0.0.1");
};

#[test]
fn each_rule_fires_on_its_bad_input() {
    for case in CASES {
        let good = (case.base)();
        let context = (case.context)();
        let mut bad = good.clone();
        (case.change)(&mut bad);
        let findings = lint(&bad, &context);
        let hit = findings
            .iter()
            .find(|f| f.rule == case.rule && f.key.as_deref() == Some(case.key));
        let Some(hit) = hit else {
            panic!(
                "{}: expected {} on {}, got {findings:#?}",
                case.name, case.rule, case.key
            );
        };
        assert_eq!(hit.severity, case.severity, "{}: {hit}", case.name);
        assert!(
            !hit.message.is_empty() && !hit.fix.is_empty(),
            "{}",
            case.name
        );
        // Secrets never reach a message.
        assert!(
            findings.iter().all(|f| !f.to_string().contains("s3cr3t")),
            "{}: {findings:#?}",
            case.name
        );
    }
}

#[test]
fn each_rule_is_quiet_on_the_good_config_in_the_same_context() {
    for case in CASES {
        let good = (case.base)();
        let context = (case.context)();
        let findings = lint(&good, &context);
        let same = findings
            .iter()
            .find(|f| f.rule == case.rule && f.key.as_deref() == Some(case.key))
            .filter(|f| f.severity == case.severity);
        // Version cases change the context, not the config: those must differ from TESTED.
        if case.rule == Rule::VersionSupport {
            assert!(
                lint(&good, &strict()).is_empty(),
                "{}: good config fails on the tested version",
                case.name
            );
            continue;
        }
        if case.rule == Rule::PublicWithoutOAuth {
            assert!(lint(&good, &internal()).is_empty(), "{}", case.name);
            continue;
        }
        assert!(
            same.is_none(),
            "{}: fired on the good config: {same:?}",
            case.name
        );
    }
}

#[test]
fn secrets_are_errors_only_for_a_configmap() {
    let config = entra_obo();
    assert!(
        lint(&config, &not_configmap())
            .iter()
            .all(|f| f.rule != Rule::SecretInConfigMap)
    );
    let findings = lint(&config, &strict());
    assert!(findings.iter().any(|f| f.rule == Rule::SecretInConfigMap));
}

#[test]
fn secret_values_are_found_under_any_key() {
    let parsed = parse(
        "port = \"8080\"\n\
         [toolset_configs.kiali]\n\
         url = \"https://kiali\"\n\
         bearer = \"sha256~abcdefabcdef\"\n\
         [cluster_provider_configs.kcp]\n\
         password = \"hunter2\"\n",
    );
    let findings = parsed.lint(&LintContext::new(ServerVersion::TESTED).in_configmap());
    let keys: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == Rule::SecretInConfigMap)
        .filter_map(|f| f.key.as_deref())
        .collect();
    assert_eq!(
        keys,
        [
            "cluster_provider_configs.kcp.password",
            "toolset_configs.kiali.bearer"
        ]
    );
    assert!(findings.iter().all(|f| !f.message.contains("hunter2")));
}

#[test]
fn unknown_key_gets_a_suggestion() {
    let parsed = parse("port = \"8080\"\nrequre_oauth = true\n");
    let finding = first_finding(&parsed, Rule::UnknownKey);
    assert_eq!(finding.key.as_deref(), Some("requre_oauth"));
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.message.contains("ignores it silently"), "{finding}");
    assert!(
        finding.message.contains("did you mean `require_oauth`?"),
        "{finding}"
    );
    assert_eq!(finding.fix, "rename `requre_oauth` to `require_oauth`");
    // The typo does not turn OAuth on.
    assert_eq!(parsed.config.require_oauth, None);
    assert!(parsed.merged.contains_key("requre_oauth"));
}

#[test]
fn unknown_nested_and_retired_keys() {
    let parsed = parse(
        "validate_token = false\n\
         sse_base_url = \"http://x\"\n\
         [http]\n\
         rate_limit = 5\n\
         [tool_overrides.pods_list]\n\
         descriptio = \"List pods\"\n\
         [[denied_resources]]\n\
         group = \"\"\n\
         version = \"v1\"\n\
         knd = \"Secret\"\n",
    );
    let unknown: BTreeMap<_, _> = parsed
        .findings()
        .iter()
        .filter(|f| f.rule == Rule::UnknownKey)
        .map(|f| (f.key.clone().unwrap_or_default(), f.message.clone()))
        .collect();
    assert_eq!(
        unknown.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "denied_resources[0].knd",
            "http.rate_limit",
            "tool_overrides.pods_list.descriptio",
            "validate_token"
        ]
    );
    assert!(unknown["validate_token"].contains("removed in v0.0.56"));
    assert!(unknown["tool_overrides.pods_list.descriptio"].contains("did you mean `description`"));
    assert!(unknown["denied_resources[0].knd"].contains("did you mean `kind`"));
    // sse_base_url is a known key (version-dependent), not an unknown one.
    assert_eq!(parsed.config.sse_base_url.as_deref(), Some("http://x"));
    let denied = parsed
        .config
        .denied_resources
        .as_deref()
        .unwrap_or_default();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].version, "v1");
}

#[test]
fn type_mismatches_are_findings_not_panics() {
    let parsed = parse(
        "port = 8080\n\
         read_only = \"true\"\n\
         toolsets = \"core,config\"\n\
         require_oauth = true\n\
         sts_client_secret = 12345\n\
         log_level = 1.5\n\
         denied_resources = \"Secret\"\n\
         [http]\n\
         read_header_timeout = \"10\"\n\
         rate_limit_rps = 2\n",
    );
    let by_key: BTreeMap<_, _> = parsed
        .findings()
        .iter()
        .filter(|f| f.rule == Rule::TypeMismatch)
        .map(|f| (f.key.clone().unwrap_or_default(), f.clone()))
        .collect();
    assert_eq!(
        by_key.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "denied_resources",
            "http.read_header_timeout",
            "log_level",
            "port",
            "read_only",
            "sts_client_secret",
            "toolsets"
        ]
    );
    let port = &by_key["port"];
    assert_eq!(port.severity, Severity::Error);
    assert!(port.message.contains("is an integer 8080"), "{port}");
    assert!(port.message.contains("expects a string"), "{port}");
    assert!(port.message.contains("refuses to start"), "{port}");
    assert_eq!(port.fix, "write `port = \"8080\"`");
    assert_eq!(by_key["read_only"].fix, "write `read_only = true`");
    assert_eq!(
        by_key["toolsets"].fix,
        "write `toolsets = [\"core\", \"config\"]`"
    );
    assert!(
        by_key["http.read_header_timeout"]
            .message
            .contains("not a Go duration")
    );
    assert!(!by_key["sts_client_secret"].to_string().contains("12345"));
    // The keys with good types are still read; integers are fine where a float is expected.
    assert_eq!(parsed.config.require_oauth, Some(true));
    assert_eq!(parsed.config.port, None);
    assert_eq!(
        parsed.config.http.as_ref().and_then(|h| h.rate_limit_rps),
        Some(2.0)
    );
}

#[test]
fn invalid_toml_is_a_syntax_error() {
    let err = ParsedConfig::parse("port = \"8080\nread_only = true\n").expect_err("bad TOML");
    assert_eq!(err.file, "config.toml");
    assert_eq!(err.to_finding().rule, Rule::InvalidToml);
}

#[test]
fn drop_ins_merge_like_the_server() {
    let main = ConfigText::new(
        "config.toml",
        "toolsets = [\"core\"]\nlog_level = 0\n[http]\nread_header_timeout = \"10s\"\n",
    );
    let drop_ins = [
        ConfigText::new(
            "20-b.toml",
            "toolsets = [\"config\"]\n[http]\nmax_body_bytes = 1024\n",
        ),
        ConfigText::new(
            "10-a.toml",
            "toolsets = [\"helm\"]\nlog_level = 2\nrequre_oauth = true\n",
        ),
        ConfigText::new(".hidden.toml", "read_only = false\n"),
        ConfigText::new("notes.txt", "this is not toml ["),
    ];
    let parsed = ParsedConfig::parse_files(&main, &drop_ins).expect("valid TOML");
    let names: Vec<_> = parsed.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["config.toml", "10-a.toml", "20-b.toml"]);
    let c = &parsed.config;
    // Arrays are replaced by the later file, tables merge key by key.
    assert_eq!(c.toolsets.as_deref(), Some(&["config".to_owned()][..]));
    assert_eq!(c.log_level, Some(2));
    let http = c.http.clone().unwrap_or_default();
    assert_eq!(http.read_header_timeout.as_deref(), Some("10s"));
    assert_eq!(http.max_body_bytes, Some(1024));
    assert_eq!(c.read_only, None, "dotfiles are skipped");
    let ignored: Vec<_> = parsed
        .findings()
        .iter()
        .filter(|f| f.rule == Rule::IgnoredDropIn)
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    let unknown = first_finding(&parsed, Rule::UnknownKey);
    assert!(unknown.message.contains("in 10-a.toml"), "{unknown}");
}

#[test]
fn a_wrong_type_in_any_file_is_reported_even_when_overridden() {
    // The server decodes each file alone before merging, so the later string does not save it.
    let main = ConfigText::new("config.toml", "port = 8080\n");
    let fix = ConfigText::new("90-port.toml", "port = \"8080\"\n");
    let parsed = ParsedConfig::parse_files(&main, &[fix]).expect("valid TOML");
    assert_eq!(parsed.config.port.as_deref(), Some("8080"));
    let mismatch = first_finding(&parsed, Rule::TypeMismatch);
    assert!(mismatch.message.contains("in config.toml"), "{mismatch}");
}

#[test]
fn secret_in_drop_in_is_fine_secret_in_main_is_not() {
    // Both layouts: [token_exchange] from v0.0.67, the flat sts_* keys on v0.0.66.
    for version in [ServerVersion::TESTED, v("v0.0.66")] {
        let context = LintContext::new(version).in_configmap().public_route(HOST);
        let settings = TokenExchangeSettings::entra_obo(CLIENT, &["api://downstream/.default"]);
        let main_config = entra().with_token_exchange(&settings, version);
        let drop_in = ServerConfig::client_secret_drop_in("s3cr3t-value", version);
        let main = ConfigText::new("config.toml", main_config.to_toml_string());
        let secret = ConfigText::new("oauth.toml", drop_in.to_toml_string());
        let parsed = ParsedConfig::parse_files(&main, &[secret]).expect("valid TOML");
        let merged_secret = parsed.config.sts_client_secret.clone().or_else(|| {
            parsed
                .config
                .token_exchange
                .as_ref()
                .and_then(|e| e.client_auth.as_ref())
                .and_then(|a| a.client_secret.clone())
        });
        assert_eq!(merged_secret.as_deref(), Some("s3cr3t-value"), "{version}");
        let findings = parsed.lint(&context);
        assert!(findings.is_empty(), "{version}: {findings:#?}");

        // The same secret written into the main file is caught, without echoing it.
        let mut merged = main_config.to_table();
        merge_into(&mut merged, drop_in.to_table());
        let leaked = toml::to_string(&merged).expect("serialises");
        let parsed = ParsedConfig::parse(&leaked).expect("valid TOML");
        let findings = parsed.lint(&context);
        assert_eq!(findings.len(), 1, "{version}: {findings:#?}");
        assert_eq!(findings[0].rule, Rule::SecretInConfigMap);
        assert!(findings[0].message.contains("config.toml"));
        assert!(!findings[0].to_string().contains("s3cr3t"));
    }
}

#[test]
fn token_exchange_renders_per_version_and_migrates() {
    let settings = TokenExchangeSettings::entra_obo(CLIENT, &["api://downstream/.default"]);
    let new = ServerConfig::default().with_token_exchange(&settings, ServerVersion::TESTED);
    assert_eq!(
        new.to_toml_string(),
        format!(
            "[token_exchange]\n\
             strategy = \"entra-obo\"\n\
             scopes = [\"api://downstream/.default\"]\n\
             \n\
             [token_exchange.client_auth]\n\
             method = \"client_secret_post\"\n\
             client_id = \"{CLIENT}\"\n"
        )
    );
    let mut old = ServerConfig::default().with_token_exchange(&settings, v("v0.0.66"));
    assert_eq!(old.sts_auth_style.as_deref(), Some("params"));
    assert_eq!(old.token_exchange, None);
    old.sts_client_secret = s("x");
    assert_eq!(old.legacy_token_exchange_keys().len(), 5);
    old.migrate_legacy_token_exchange();
    assert!(old.legacy_token_exchange_keys().is_empty());
    let mut expected = new.clone();
    auth_mut(&mut expected).client_secret = s("x");
    assert_eq!(old, expected);
}

#[test]
fn removed_keys_are_refused_at_any_depth_from_v0_0_67() {
    let parsed = parse(
        "port = \"8080\"\n\
         sts_audience = \"openshift\"\n\
         [toolset_configs.helm]\n\
         sts_audience = \"x\"\n\
         [token_exchange]\n\
         strategy = \"rfc8693\"\n\
         grant = \"x\"\n",
    );
    let findings = parsed.lint(&LintContext::new(ServerVersion::TESTED));
    let refused: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == Rule::StartupRefused)
        .filter_map(|f| f.key.as_deref())
        .collect();
    assert!(refused.contains(&"sts_audience"), "{findings:#?}");
    assert!(
        refused.contains(&"toolset_configs.helm.sts_audience"),
        "{findings:#?}"
    );
    let unknown = findings
        .iter()
        .find(|f| f.key.as_deref() == Some("token_exchange.grant"))
        .expect("unknown key under token_exchange");
    assert!(unknown.message.contains("refuses to start"), "{unknown}");
    // v0.0.66 knows nothing of these rules.
    let old = parsed.lint(&LintContext::new(v("v0.0.66")));
    assert!(
        old.iter()
            .all(|f| f.key.as_deref() != Some("toolset_configs.helm.sts_audience")),
        "{old:#?}"
    );
}

#[test]
fn drop_in_order_and_directory() {
    assert_eq!(
        drop_in_order(["b.toml", "a.toml", ".a.toml", "c.yaml", "10.toml", "B.toml"]),
        ["10.toml", "B.toml", "a.toml", "b.toml"]
    );
    let main = std::path::Path::new("/etc/mcp/config.toml");
    assert_eq!(
        resolve_config_dir(main, None),
        std::path::Path::new("/etc/mcp/conf.d")
    );
    assert_eq!(
        resolve_config_dir(main, Some(std::path::Path::new("extra"))),
        std::path::Path::new("/etc/mcp/extra")
    );
    assert_eq!(
        resolve_config_dir(main, Some(std::path::Path::new("/secrets"))),
        std::path::Path::new("/secrets")
    );
}

#[test]
fn load_reads_main_and_default_conf_d() {
    let dir = tempfile::tempdir().expect("temp dir");
    let main = dir.path().join("config.toml");
    std::fs::write(&main, openshift().to_toml_string()).expect("write main");
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).expect("mkdir conf.d");
    std::fs::write(conf_d.join("50-log.toml"), "log_level = 3\n").expect("write drop-in");
    std::fs::create_dir(conf_d.join("sub.toml")).expect("mkdir");
    let parsed = ParsedConfig::load(&main, None).expect("load");
    assert_eq!(parsed.config.log_level, Some(3));
    assert_eq!(parsed.config.require_oauth, Some(true));
    assert_eq!(parsed.layers.len(), 2);

    let missing_dir = ParsedConfig::load(&main, Some(std::path::Path::new("nope"))).expect("load");
    assert_eq!(missing_dir.layers.len(), 1);
    assert!(matches!(
        ParsedConfig::load(&dir.path().join("absent.toml"), None),
        Err(LoadError::Io { .. })
    ));
}

/// Every field set, so the schema and the model can be compared key by key.
fn full_config() -> ServerConfig {
    let mut table = toml::Table::new();
    table.insert("x".into(), toml::Value::Integer(1));
    ServerConfig {
        log_level: Some(2),
        log_file: s("stderr"),
        port: s("8080"),
        bind_address: s("0.0.0.0"),
        metrics_port: s("9090"),
        sse_base_url: s("https://x"),
        kubeconfig: s("/kube/config"),
        list_output: s("yaml"),
        stateless: Some(true),
        read_only: Some(true),
        disable_destructive: Some(true),
        toolsets: Some(vec!["core".into()]),
        enabled_tools: Some(vec!["pods_list".into()]),
        disabled_tools: Some(vec!["configuration_view".into()]),
        require_oauth: Some(true),
        oauth_audience: s("aud"),
        authorization_url: s("https://issuer"),
        skip_jwt_verification: Some(false),
        disable_dynamic_client_registration: Some(true),
        oauth_scopes: Some(vec!["openid".into()]),
        sts_client_id: s("id"),
        sts_client_secret: s("secret"),
        sts_audience: s("aud2"),
        sts_scopes: Some(vec!["s".into()]),
        token_exchange_strategy: s("rfc8693"),
        sts_auth_style: s("params"),
        sts_client_cert_file: s("/c"),
        sts_client_key_file: s("/k"),
        sts_federated_token_file: s("/t"),
        cluster_auth_mode: s("passthrough"),
        certificate_authority: s("/ca"),
        server_url: s("https://server"),
        trust_proxy_headers: Some(true),
        tls_cert: s("/tls.crt"),
        tls_key: s("/tls.key"),
        require_tls: Some(false),
        tls_min_version: s("1.3"),
        tls_cipher_suites: Some(vec!["TLS_AES_128_GCM_SHA256".into()]),
        cluster_provider_strategy: s("in-cluster"),
        server_instructions: s("be careful"),
        validation_enabled: Some(true),
        experimental_enable_target_compatibility_tool_filters: Some(true),
        confirmation_fallback: s("deny"),
        denied_resources: Some(vec![DeniedResource {
            group: "rbac.authorization.k8s.io".into(),
            version: "v1".into(),
            kind: String::new(),
        }]),
        prompts: Some(vec![Prompt {
            name: "p".into(),
            title: s("P"),
            description: s("d"),
            arguments: Some(vec![PromptArgument {
                name: "ns".into(),
                description: s("namespace"),
                required: Some(true),
            }]),
            messages: Some(vec![PromptMessage {
                role: "user".into(),
                content: "list {{ns}}".into(),
            }]),
        }]),
        confirmation_rules: Some(vec![ConfirmationRule {
            destructive: Some(true),
            message: s("sure?"),
            ..ConfirmationRule::default()
        }]),
        tool_overrides: Some(BTreeMap::from([(
            "pods_list".into(),
            ToolOverride {
                description: s("List pods"),
            },
        )])),
        http: Some(HttpSettings {
            read_header_timeout: s("10s"),
            max_body_bytes: Some(1024),
            rate_limit_rps: Some(1.5),
            rate_limit_burst: Some(10),
        }),
        telemetry: Some(TelemetrySettings {
            enabled: Some(true),
            endpoint: s("http://otel:4317"),
            protocol: s("grpc"),
            traces_sampler: s("always_on"),
            traces_sampler_arg: Some(0.5),
        }),
        token_exchange: Some(TokenExchange {
            subject_token_type: s("urn:ietf:params:oauth:token-type:access_token"),
            requested_token_type: s("urn:ietf:params:oauth:token-type:access_token"),
            audience: s("openshift"),
            ..exchange()
        }),
        cluster_provider_configs: Some(BTreeMap::from([("kcp".into(), table.clone())])),
        toolset_configs: Some(BTreeMap::from([("helm".into(), table)])),
    }
}

#[test]
fn schema_and_model_agree_on_every_key() {
    let config = full_config();
    let rendered: Vec<String> = config.to_table().keys().cloned().collect();
    let mut schema: Vec<String> = schema::TOP_LEVEL
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    schema.sort();
    assert_eq!(rendered, schema);
    // Rendering and parsing again gives the same config with no finding from the reader.
    let parsed = parse(&config.to_toml_string());
    assert!(parsed.findings().is_empty(), "{:#?}", parsed.findings());
    assert_eq!(parsed.config, config);
}

#[test]
fn render_emits_only_what_is_set_in_a_stable_order() {
    assert_eq!(
        openshift().to_toml_string(),
        "port = \"8080\"\n\
         read_only = true\n\
         disable_destructive = true\n\
         toolsets = [\"core\", \"config\"]\n\
         require_oauth = true\n\
         skip_jwt_verification = true\n\
         cluster_auth_mode = \"passthrough\"\n"
    );
    assert_eq!(
        entra().to_toml_string(),
        format!(
            "port = \"8080\"\n\
             read_only = true\n\
             disable_destructive = true\n\
             toolsets = [\"core\", \"config\"]\n\
             require_oauth = true\n\
             oauth_audience = \"{CLIENT}\"\n\
             authorization_url = \"https://login.microsoftonline.com/{TENANT}/v2.0\"\n\
             oauth_scopes = [\"openid\", \"profile\", \"email\"]\n\
             cluster_auth_mode = \"passthrough\"\n\
             server_url = \"https://{HOST}\"\n"
        )
    );
    assert_eq!(
        ServerConfig::without_auth(&["core"]).to_toml_string(),
        "port = \"8080\"\n\
         read_only = true\n\
         disable_destructive = true\n\
         toolsets = [\"core\"]\n\
         require_oauth = false\n"
    );
    assert_eq!(ServerConfig::default().to_toml_string(), "");
}

#[test]
fn mode_constructors_build_the_documented_configs() {
    let o = openshift();
    assert_eq!(o.require_oauth, Some(true));
    assert_eq!(o.skip_jwt_verification, Some(true));
    assert_eq!(o.authorization_url, None);
    assert_eq!(o.cluster_auth_mode.as_deref(), Some("passthrough"));

    let e = entra();
    assert_eq!(
        e.authorization_url.as_deref(),
        Some("https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0")
    );
    assert_eq!(e.oauth_audience.as_deref(), Some(CLIENT));
    assert_eq!(e.server_url.as_deref(), Some(&*format!("https://{HOST}")));
    assert_eq!(e.skip_jwt_verification, None);

    let internal_entra = ServerConfig::entra(TENANT, CLIENT, None, &["core"]);
    assert_eq!(internal_entra.server_url, None);

    let n = ServerConfig::without_auth(DEFAULT_TOOLSETS);
    assert_eq!(n.require_oauth, Some(false));
    assert_eq!(n.authorization_url, None);

    let empty: &[&str] = &[];
    for c in [
        o,
        e,
        n,
        ServerConfig::openshift(empty),
        ServerConfig::openshift(&["core".to_owned(), "helm".to_owned()]),
    ] {
        assert_eq!(c.read_only, Some(true));
        assert_eq!(c.disable_destructive, Some(true));
        assert_eq!(c.port.as_deref(), Some("8080"));
        assert!(c.toolsets.as_ref().is_some_and(|t| !t.is_empty()));
    }
    assert_eq!(
        ServerConfig::openshift(empty).toolsets,
        Some(vec!["core".to_owned(), "config".to_owned()])
    );
}

#[test]
fn auth_modes_parse_and_round_trip() {
    for mode in AuthMode::ALL {
        assert_eq!(mode.as_str().parse::<AuthMode>(), Ok(mode));
        assert_eq!(
            serde_json::to_value(mode).expect("serialises"),
            serde_json::Value::String(mode.to_string())
        );
    }
    assert_eq!("OpenShift".parse::<AuthMode>(), Ok(AuthMode::OpenShift));
    assert!("kerberos".parse::<AuthMode>().is_err());

    let oidc = OidcSettings::new("https://dex.example.com", "mcp");
    let toolsets = DEFAULT_TOOLSETS;
    for mode in AuthMode::ALL {
        let config = ServerConfig::for_mode(mode, Some(&oidc), toolsets).expect("settings given");
        let expected = if mode == AuthMode::Entra {
            AuthMode::Oidc // the issuer decides: dex is not Entra
        } else {
            mode
        };
        assert_eq!(config.auth_mode(), expected, "{mode}");
    }
    assert_eq!(entra().auth_mode(), AuthMode::Entra);
    assert_eq!(
        ServerConfig::for_mode(AuthMode::Entra, None, toolsets),
        Err(MissingOidcSettings(AuthMode::Entra))
    );
    assert_eq!(
        AuthMode::OpenShift.minimum_server_version(),
        Some(v("v0.0.63"))
    );
    assert_eq!(AuthMode::None.minimum_server_version(), None);
}

#[test]
fn findings_display_and_serialise() {
    let parsed = parse("port = \"8080\"\nrequre_oauth = true\n");
    let finding = &parsed.findings()[0];
    assert!(
        finding
            .to_string()
            .starts_with("error[unknown-key] requre_oauth: unknown key"),
        "{finding}"
    );
    let json = serde_json::to_value(finding).expect("serialises");
    assert_eq!(json["severity"], "error");
    assert_eq!(json["rule"], "unknown-key");
    assert_eq!(json["key"], "requre_oauth");
    assert!(has_errors(parsed.findings()));
}

#[test]
fn log_levels_up_to_five_log_no_cluster_data_and_above_are_refused() {
    for level in 0..=MAX_SAFE_LOG_LEVEL {
        let config = ServerConfig {
            log_level: Some(level),
            ..openshift()
        };
        assert!(lint(&config, &strict()).is_empty(), "log_level {level}");
    }
    for level in [6, 7, 8, 9, 10] {
        let config = ServerConfig {
            log_level: Some(level),
            ..openshift()
        };
        for context in [strict(), internal(), unknown_exposure()] {
            let findings = lint(&config, &context);
            let hit = findings
                .iter()
                .find(|f| f.rule == Rule::SensitiveLogging)
                .unwrap_or_else(|| panic!("log_level {level}: {findings:#?}"));
            assert!(hit.is_error(), "{hit}");
            assert!(hit.fix.contains("at most 5"), "{hit}");
        }
    }
    // The same through a file, as verify reads a live ConfigMap.
    let parsed = parse(&format!("{}log_level = 9\n", openshift().to_toml_string()));
    let findings = parsed.lint(&LintContext::new(ServerVersion::TESTED).in_configmap());
    assert!(
        findings
            .iter()
            .any(|f| f.rule == Rule::SensitiveLogging && f.is_error()),
        "{findings:#?}"
    );
}
