//! oc mcp-install: from arbitrary flags, cluster facts and inputs to a plan, then the values
//! overlay and the native manifests.
//!
//! Invariants: planning returns a plan or an error (never panics); every plan renders; the
//! values overlay is YAML that reads back to the values; the manifests as YAML and as a JSON
//! List read back to the same objects, each with the managed-by label; the token-exchange
//! client secret appears in no rendered values, config, warning or redacted manifest, only in
//! its own Secret.
#![no_main]

use arbitrary::Arbitrary;
use clap::Parser;
use libfuzzer_sys::fuzz_target;
use oc_mcp_common::{
    OutputFormat, Plan,
    kube_args::Secret,
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
};
use oc_mcp_install::{
    args::InstallArgs,
    plan::{ClusterFacts, Inputs, resolve},
    render,
};

/// A flag value: one of a few realistic values, or anything.
#[derive(Debug, Arbitrary)]
enum Text {
    Known(u8),
    Raw(String),
}

impl Text {
    fn pick(&self, known: &[&str]) -> String {
        match self {
            Self::Known(i) => known[usize::from(*i) % known.len()].to_owned(),
            Self::Raw(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    auth: Option<Text>,
    issuer: Option<Text>,
    tenant: Option<Text>,
    client_id: Option<Text>,
    token_exchange: Option<Text>,
    sts_audience: Option<Text>,
    sts_scopes: Option<Text>,
    audience: Option<Text>,
    scopes: Option<Text>,
    host: Option<Text>,
    internal: bool,
    manifests: bool,
    image: Option<Text>,
    toolsets: Option<Text>,
    release: Option<Text>,
    chart: Option<Text>,
    chart_version: Option<Text>,
    namespace: Text,
    extra_config: Option<Text>,
    issuer_ca: bool,
    sts_secret: bool,
    openshift: bool,
    apps_domain: Option<Text>,
    oauth_settings: Vec<(Text, Text)>,
}

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    install: InstallArgs,
}

/// Unique enough never to occur in a rendering by chance.
const STS_SECRET: &str = "fz-sts-client-secret-7c1d9e0b4a";
const CA: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBfzCCASWgAwIBAgIUfuzz\n-----END CERTIFICATE-----\n";
const URLS: &[&str] = &[
    "https://login.microsoftonline.com/0f0e0d0c-0b0a-0908-0706-050403020100/v2.0",
    "https://keycloak.example.com/realms/mcp",
    "http://issuer.example.com",
    "",
];
const IDS: &[&str] = &["0f0e0d0c-0b0a-0908-0706-050403020100", "mcp-server", ""];
const HOSTS: &[&str] = &[
    "mcp.apps.example.com",
    "apps.example.com",
    "a",
    "MCP.example.com",
];
const EXTRA: &[&str] = &[
    "list_output = \"table\"",
    "read_only = false",
    "port = 8080",
    "[[denied_resources]]\ngroup = \"\"\nversion = \"v1\"\nkind = \"Secret\"",
    "sts_client_secret = \"fz-sts-client-secret-7c1d9e0b4a\"",
    "require_oauth = false",
];

/// Multi-document YAML split at its `---` lines.
fn split_documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs
}

fn argv(input: &Input) -> Vec<String> {
    let mut argv = vec!["render".to_owned()];
    let mut flag = |name: &str, value: Option<&Text>, known: &[&str]| {
        if let Some(value) = value {
            argv.push(format!("--{name}={}", value.pick(known)));
        }
    };
    flag(
        "auth",
        input.auth.as_ref(),
        &["openshift", "entra", "oidc", "none"],
    );
    flag("issuer", input.issuer.as_ref(), URLS);
    flag("tenant", input.tenant.as_ref(), IDS);
    flag("client-id", input.client_id.as_ref(), IDS);
    flag(
        "token-exchange",
        input.token_exchange.as_ref(),
        &["entra-obo", "rfc8693", "keycloak-v1"],
    );
    flag("sts-audience", input.sts_audience.as_ref(), IDS);
    flag(
        "sts-scopes",
        input.sts_scopes.as_ref(),
        &["api://x/.default", "openid,profile"],
    );
    flag("audience", input.audience.as_ref(), IDS);
    flag(
        "scopes",
        input.scopes.as_ref(),
        &["openid,profile", "mcp:tools"],
    );
    flag("host", input.host.as_ref(), HOSTS);
    flag(
        "image",
        input.image.as_ref(),
        &[
            "quay.io/containers/kubernetes_mcp_server:v0.0.67",
            "quay.io/containers/kubernetes_mcp_server:latest",
            "quay.io/containers/kubernetes_mcp_server:v0.0.50",
            "registry:5000/mcp@sha256:abc",
        ],
    );
    flag(
        "toolsets",
        input.toolsets.as_ref(),
        &["core,config", "core,helm", "nope"],
    );
    flag(
        "release",
        input.release.as_ref(),
        &["kubernetes-mcp-server", "mcp", "x"],
    );
    flag(
        "chart",
        input.chart.as_ref(),
        &[
            "oci://ghcr.io/containers/charts/kubernetes-mcp-server",
            "./chart",
            "repo/kubernetes-mcp-server",
        ],
    );
    flag(
        "chart-version",
        input.chart_version.as_ref(),
        &["0.0.67", "1.2.3"],
    );
    if input.internal {
        argv.push("--internal".into());
    }
    if input.manifests {
        argv.push("--engine=manifests".into());
    }
    argv
}

fuzz_target!(|input: Input| {
    let Ok(flags) = Flags::try_parse_from(argv(&input)) else {
        return;
    };
    let namespace = input.namespace.pick(&["mcp-server", "default", "Bad_NS"]);
    // The plugin checks the namespace (from -n or the kubeconfig) when it connects, before
    // planning; `resolve` is only ever given a valid one.
    if oc_mcp_common::names::validate_dns_label(&namespace, "namespace").is_err() {
        return;
    }
    let facts = ClusterFacts {
        openshift: input.openshift,
        apps_domain: input
            .apps_domain
            .as_ref()
            .map(|d| d.pick(&["apps.example.com", "apps.cluster.local", ""])),
        authentication: None,
        oauth_settings: input
            .oauth_settings
            .iter()
            .map(|(k, v)| {
                (
                    k.pick(&["issuer", "client_id", "tenant_id", "audience", "scopes"]),
                    v.pick(URLS),
                )
            })
            .collect(),
    };
    let inputs = Inputs {
        extra_config: input.extra_config.as_ref().map(|e| e.pick(EXTRA)),
        issuer_ca: input.issuer_ca.then(|| CA.to_owned()),
        sts_client_secret: input.sts_secret.then(|| Secret::new(STS_SECRET)),
    };
    let Ok(plan) = resolve(&flags.install, &namespace, &facts, &inputs) else {
        return;
    };

    // The helm overlay.
    let values = render::values(&plan);
    let yaml = render::values_yaml(&plan).expect("a plan's values render");
    assert!(
        !yaml.contains(STS_SECRET),
        "the values overlay holds the secret"
    );
    let body: String = yaml
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let reread: serde_json::Value =
        serde_saphyr::from_str(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert_eq!(
        reread,
        serde_json::to_value(&values).expect("values are JSON")
    );
    assert!(!render::config_toml(&plan).contains(STS_SECRET));
    for warning in &plan.warnings {
        assert!(!warning.contains(STS_SECRET), "{warning}");
    }

    // The native manifests.
    let objects = render::manifests(&plan).expect("a plan's manifests render");
    let mut printable = Plan::new();
    for object in objects {
        assert_eq!(
            object
                .object
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(MANAGED_BY_LABEL))
                .map(String::as_str),
            Some(MANAGED_BY_VALUE)
        );
        if object.kind() == "Secret" {
            let data = serde_json::to_string(&object.object.data).expect("JSON");
            // Secret data is base64 in JSON; the drop-in is the only place it may be.
            assert!(plan.secret_drop_in.is_some(), "{data}");
        }
        printable.push(render::redacted(object));
    }
    let json = printable
        .render(OutputFormat::Json)
        .expect("manifests render as JSON");
    let yaml = printable
        .render(OutputFormat::Yaml)
        .expect("manifests render as YAML");
    for text in [&json, &yaml] {
        assert!(
            !text.contains(STS_SECRET),
            "a printed manifest holds the secret"
        );
    }
    let list: serde_json::Value = serde_json::from_str(&json).expect("the JSON List parses");
    let items = list["items"].as_array().expect("items").clone();
    let docs: Vec<serde_json::Value> = split_documents(&yaml)
        .iter()
        .map(|doc| serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{e}\n{doc}")))
        .collect();
    assert_eq!(docs, items, "YAML and JSON renderings disagree");
    assert_eq!(items.len(), printable.objects.len());
});
