//! The flags of `oc mcp-install` and `oc mcp-install render`, parsed into checked types.

use std::{fmt, ops::Deref, path::PathBuf, str::FromStr, time::Duration};

use oc_mcp_common::{
    Error, Result,
    https_url::HttpsUrl,
    kube_args::{RequestTimeout, parse_request_timeout},
    names::{InvalidValue, ObjectName},
    release::{self, ReleaseName},
    server_config::{AuthMode, KNOWN_TOOLSETS},
    tenant::Tenant,
};

pub use oc_mcp_common::release::{DEFAULT_CHART, DEFAULT_IMAGE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// `helm upgrade --install` of the chart with a checked values overlay
    Helm,
    /// The same resources rendered natively and applied with server-side apply
    Manifests,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// How clients authenticate (default: openshift, opaque OpenShift tokens passed through)
    #[arg(long, value_name = "MODE", value_parser = parse_auth_mode)]
    pub auth: Option<AuthMode>,

    /// The OIDC issuer URL (oidc mode), exactly as its tokens' `iss`
    #[arg(long, value_name = "URL")]
    pub issuer: Option<HttpsUrl>,

    /// The Entra ID tenant (entra mode; default: the `mcp-oauth-settings` ConfigMap)
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<Tenant>,

    /// The OAuth client ID (entra/oidc; default: the `mcp-oauth-settings` ConfigMap)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// PEM file with the CA of the issuer's TLS certificate, when it is not publicly trusted
    /// (entra/oidc); mounted from a ConfigMap and set as `certificate_authority`
    #[arg(long, value_name = "FILE")]
    pub issuer_ca: Option<PathBuf>,

    /// Exchange the user's token before calling the cluster (entra/oidc): `entra-obo`,
    /// `rfc8693` or `keycloak-v1`. The client secret comes from the Secret of
    /// `oc mcp-oauth secret set` and reaches the server as a Secret-mounted drop-in file
    #[arg(long, value_name = "STRATEGY", value_parser = ["entra-obo", "rfc8693", "keycloak-v1"])]
    pub token_exchange: Option<String>,

    /// The audience of the exchanged token (the cluster's API)
    #[arg(long, value_name = "AUDIENCE", requires = "token_exchange")]
    pub sts_audience: Option<String>,

    /// Scopes to ask for in the exchange, comma separated
    #[arg(
        long,
        value_name = "SCOPE,...",
        value_delimiter = ',',
        requires = "token_exchange"
    )]
    pub sts_scopes: Vec<String>,

    /// The Secret (key `sts_client_secret`) holding the exchange client's secret
    #[arg(long, value_name = "NAME", default_value = oc_mcp_common::defaults::OAUTH_SECRET)]
    pub sts_secret: ObjectName,

    /// The audience tokens must carry (default: the client ID)
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// OAuth scopes advertised to clients, comma separated
    #[arg(long, value_name = "SCOPE,...", value_delimiter = ',')]
    pub scopes: Vec<String>,

    /// Public host name of the route (default: kubernetes-mcp-server-<namespace>.<apps domain>)
    #[arg(long, value_name = "HOST", conflicts_with = "internal")]
    pub host: Option<RouteHost>,

    /// No route: reachable only inside the cluster or by port-forward
    #[arg(long)]
    pub internal: bool,

    /// TLS for the Ingress from this `kubernetes.io/tls` Secret (in the install's namespace,
    /// with a certificate for --host). Off OpenShift a public endpoint needs this or
    /// --cluster-issuer
    #[arg(long, value_name = "NAME", conflicts_with_all = ["internal", "cluster_issuer"])]
    pub tls_secret: Option<ObjectName>,

    /// TLS for the Ingress from cert-manager: the `cert-manager.io/cluster-issuer` annotation
    /// with this ClusterIssuer; the certificate goes into Secret <object name>-tls
    /// (kubernetes-mcp-server-tls for the default release)
    #[arg(long, value_name = "NAME", conflicts_with = "internal")]
    pub cluster_issuer: Option<ObjectName>,

    /// How to install
    #[arg(long, value_enum, default_value_t = Engine::Helm)]
    pub engine: Engine,

    /// The chart (helm engine): an OCI reference or a local directory
    #[arg(long, value_name = "REF", default_value = DEFAULT_CHART)]
    pub chart: String,

    /// The chart version (helm engine)
    #[arg(long, value_name = "VERSION")]
    pub chart_version: Option<String>,

    /// The server image, pinned by tag or digest
    #[arg(long, value_name = "REF", default_value = DEFAULT_IMAGE)]
    pub image: String,

    /// Server toolsets, comma separated
    #[arg(
        long,
        value_name = "SET,...",
        value_delimiter = ',',
        default_value = "core,config"
    )]
    pub toolsets: Vec<String>,

    /// Helm release name; also names the objects
    #[arg(long, value_name = "NAME", default_value = release::RELEASE)]
    pub release: ReleaseName,

    /// More server settings (TOML) merged over what the mode sets, e.g. `list_output`,
    /// `denied_resources`; every key is checked, typos and wrong types are refused
    #[arg(long, value_name = "FILE")]
    pub extra_config: Option<PathBuf>,

    /// Also write the values overlay (no secrets in it) to this file, for review or GitOps
    #[arg(long, value_name = "FILE")]
    pub values_out: Option<PathBuf>,

    /// Wait until the Deployment is available and the Route admitted
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_request_timeout)]
    pub timeout: RequestTimeout,
}

fn parse_auth_mode(text: &str) -> std::result::Result<AuthMode, String> {
    text.parse::<AuthMode>().map_err(|e| e.to_string())
}

impl InstallArgs {
    /// The `--extra-config` file's text (small files only).
    pub fn extra_config_text(&self) -> Result<Option<String>> {
        let Some(path) = &self.extra_config else {
            return Ok(None);
        };
        read_small_file(
            path,
            &SmallFile {
                flag: "--extra-config",
                what: "a server config",
                readable: "pass a readable TOML file",
                smaller: "pass only the TOML settings to add (e.g. `list_output = \"table\"`)",
            },
        )
        .map(Some)
    }

    /// The `--issuer-ca` PEM, checked to hold certificates (a CA is public, not a secret).
    pub fn issuer_ca_pem(&self) -> Result<Option<String>> {
        let Some(path) = &self.issuer_ca else {
            return Ok(None);
        };
        let text = read_small_file(
            path,
            &SmallFile {
                flag: "--issuer-ca",
                what: "a CA bundle",
                readable: "pass a readable PEM file with the issuer's CA certificate",
                smaller: "pass the PEM file with only the issuer's CA certificate(s)",
            },
        )?;
        if !text.contains("-----BEGIN CERTIFICATE-----") || text.contains("PRIVATE KEY") {
            return Err(Error::usage_with_hint(
                format!(
                    "--issuer-ca {} is not a PEM certificate bundle",
                    path.display()
                ),
                "pass the CA certificate (-----BEGIN CERTIFICATE-----), never a private key",
            ));
        }
        Ok(Some(text))
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.0.unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// Checks that need no cluster and are not in the flags' types: toolsets, IDs, image,
    /// chart.
    pub fn validate(&self) -> Result<()> {
        for toolset in &self.toolsets {
            if !KNOWN_TOOLSETS.contains(&toolset.as_str()) {
                return Err(Error::usage_with_hint(
                    format!("unknown toolset {toolset:?}"),
                    format!("use some of: {}", KNOWN_TOOLSETS.join(", ")),
                ));
            }
        }
        for (flag, value) in [
            ("--client-id", &self.client_id),
            ("--audience", &self.audience),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.contains(char::is_whitespace))
            {
                return Err(Error::usage(format!(
                    "{flag} must be a non-empty value without spaces"
                )));
            }
        }
        image_tag(&self.image)?;
        validate_chart(&self.chart)
    }
}

/// A file flag whose content is small text, and the hints for when it is not.
struct SmallFile {
    flag: &'static str,
    /// What the file holds, for the size refusal ("more than ... can need").
    what: &'static str,
    readable: &'static str,
    smaller: &'static str,
}

/// Read a file given on the command line. A size check first keeps a wrong path (a disk
/// image, a device) from being read into memory: these files are a few KiB.
fn read_small_file(path: &std::path::Path, file: &SmallFile) -> Result<String> {
    const LIMIT: u64 = 1024 * 1024;
    let unreadable = |e: std::io::Error| {
        Error::usage_with_hint(
            format!("cannot read {} {}: {e}", file.flag, path.display()),
            file.readable,
        )
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > LIMIT {
        return Err(Error::usage_with_hint(
            format!(
                "{} {} is {size} bytes, more than the {LIMIT} {} can need",
                file.flag,
                path.display(),
                file.what
            ),
            file.smaller,
        ));
    }
    std::fs::read_to_string(path).map_err(unreadable)
}

/// A chart reference helm can resolve: `oci://REGISTRY/PATH`, an http(s) URL of a packaged
/// chart, a local chart directory or `.tgz`, or `REPO/NAME` of an added helm repository.
/// Checked here so a typo fails before anything is written, with exit 2 instead of helm's
/// message after the project exists.
pub fn validate_chart(chart: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::usage_with_hint(
            format!("--chart {chart:?} is not a chart reference: {why}"),
            format!(
                "pass an OCI reference such as {DEFAULT_CHART} (the default), a local chart \
                 directory, or REPO/NAME of an added helm repository"
            ),
        )
    };
    if chart.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if chart.contains(char::is_whitespace) || chart.chars().any(char::is_control) {
        return Err(bad("it contains spaces"));
    }
    if let Some(rest) = chart.strip_prefix("oci://") {
        let (registry, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path_ok = !path.is_empty()
            && path.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:@".contains(c)
                    })
            });
        if registry.is_empty() || !path_ok {
            return Err(bad(
                "an OCI reference is oci://REGISTRY/REPOSITORY in lower case",
            ));
        }
        return Ok(());
    }
    if chart.starts_with("https://") || chart.starts_with("http://") {
        return Ok(());
    }
    if chart.contains("://") {
        return Err(bad("only oci://, https:// and local paths are supported"));
    }
    if std::path::Path::new(chart).exists() {
        return Ok(());
    }
    let repo_ref = chart.split_once('/').is_some_and(|(repo, name)| {
        [repo, name].iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
    });
    if repo_ref && !chart.starts_with('.') {
        return Ok(());
    }
    Err(bad("no such chart directory or file"))
}

/// The tag (or `sha256:` digest) of an image reference. A reference without either, or with
/// a tag that moves (`latest`), is refused: what runs must be what was tested and reviewed.
pub fn image_tag(image: &str) -> Result<&str> {
    let bad = |why: &str| {
        Error::usage_with_hint(
            format!("--image {image:?} is not pinned with a tag or digest: {why}"),
            format!(
                "pin a tested version by tag or digest, e.g. --image {DEFAULT_IMAGE} or \
                 --image REPOSITORY@sha256:<64 hex digits>"
            ),
        )
    };
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it is empty or contains spaces"));
    }
    if let Some((_, digest)) = image.split_once('@') {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        return if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(digest)
        } else {
            Err(bad("a digest is sha256: and 64 hex digits"))
        };
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((name, tag)) if !name.is_empty() && !tag.is_empty() => {
            if tag.eq_ignore_ascii_case("latest") {
                Err(bad("`latest` moves to whatever was pushed last"))
            } else {
                Ok(tag)
            }
        }
        _ => Err(bad(
            "it has no tag or digest, so the registry's `latest` would run",
        )),
    }
}

/// A host name a Route can carry: lower-case DNS labels, at least two, and not an IP address
/// (a Route's host is a DNS name; the router matches on SNI and the `Host` header, and no
/// certificate names an address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHost(String);

impl RouteHost {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RouteHost {
    type Err = InvalidValue;

    fn from_str(host: &str) -> std::result::Result<Self, InvalidValue> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return Err(InvalidValue {
                reason: format!("{host:?} is an IP address, which cannot be a Route host"),
                fix: "pass a DNS name that resolves to the cluster's router, such as \
                      mcp.apps.example.com, or leave --host out to use the apps domain",
            });
        }
        let labels: Vec<&str> = host.split('.').collect();
        // A DNS-1123 subdomain whose labels fit a host name, with a top-level domain.
        let ok = oc_mcp_common::names::is_dns1123_subdomain(host)
            && labels.len() >= 2
            && labels
                .iter()
                .all(|l| l.len() <= oc_mcp_common::names::MAX_LABEL)
            // A top-level label is never all digits (RFC 3696): `10.0.0` is no host name.
            && labels
                .last()
                .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Self(host.to_owned()))
        } else {
            Err(InvalidValue {
                reason: format!("{host:?} is not a valid host name"),
                fix: "pass a lower-case DNS name such as mcp.apps.example.com (no scheme, port or \
                      path)",
            })
        }
    }
}

impl Deref for RouteHost {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RouteHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A usage error (exit 2) whose message holds each of `said` and whose hint names `hint`.
    fn assert_usage(refused: Result<&str>, input: &str, said: &[&str], hint: &str) {
        let err = refused.map(|_| ()).expect_err(input);
        assert_eq!(err.exit_code().code(), 2, "{input}");
        for text in said {
            assert!(err.to_string().contains(text), "{input}: {err}");
        }
        assert!(err.hint().is_some_and(|h| h.contains(hint)), "{input}");
    }

    #[test]
    fn chart_references_are_what_helm_resolves_and_typos_are_refused() {
        let local = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-chart");
        for good in [
            DEFAULT_CHART,
            "oci://registry.example.com:5000/charts/kubernetes-mcp-server",
            "https://charts.example.com/kubernetes-mcp-server-0.1.0.tgz",
            local,
            "my-repo/kubernetes-mcp-server",
        ] {
            assert!(validate_chart(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("oci://ghcr.io/charts/mcp server", "it contains spaces"),
            ("oci://", "oci://REGISTRY/REPOSITORY"),
            ("oci://ghcr.io", "oci://REGISTRY/REPOSITORY"),
            ("oci://ghcr.io/Containers/Charts", "in lower case"),
            ("oci://ghcr.io//charts", "oci://REGISTRY/REPOSITORY"),
            ("ftp://example.com/c.tgz", "only oci://, https:// and local"),
            ("./no-such-chart", "no such chart directory or file"),
            ("/no/such/chart", "no such chart directory or file"),
        ] {
            assert_usage(
                validate_chart(bad).map(|()| bad),
                bad,
                &[why],
                DEFAULT_CHART,
            );
        }
    }

    #[test]
    fn image_references_need_a_tag_or_digest() {
        assert_eq!(image_tag(DEFAULT_IMAGE).expect("tag"), "v0.0.67");
        assert_eq!(image_tag("localhost:5000/mcp:v1").expect("tag"), "v1");
        let digest = format!("quay.io/x/y@sha256:{}", "a".repeat(64));
        assert!(image_tag(&digest).is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("quay.io/x/y", "no tag or digest"),
            ("localhost:5000/mcp", "no tag or digest"),
            ("x:", "no tag or digest"),
            ("a b:1", "spaces"),
            ("x@sha256:abc", "64 hex digits"),
            (
                "quay.io/containers/kubernetes_mcp_server:latest",
                "`latest` moves",
            ),
            ("quay.io/x/y:LATEST", "`latest` moves"),
        ] {
            assert_usage(image_tag(bad), bad, &["is not pinned", why], DEFAULT_IMAGE);
        }
    }

    #[test]
    fn route_hosts_are_dns_names_and_never_addresses() {
        assert_eq!(
            "mcp.apps.example.com".parse::<RouteHost>().ok().as_deref(),
            Some("mcp.apps.example.com")
        );
        for bad in [
            "localhost",
            "https://x.y",
            "x.y:443",
            "X.y",
            "x..y",
            "-x.y",
            "10.0.0",
        ] {
            let err = bad.parse::<RouteHost>().expect_err(bad);
            assert!(
                err.to_string().contains("is not a valid host name"),
                "{bad}: {err}"
            );
        }
        for ip in [
            "10.0.0.1",
            "192.168.1.10",
            "::1",
            "[2001:db8::1]",
            "2001:db8::1",
        ] {
            let err = ip.parse::<RouteHost>().expect_err(ip);
            assert!(err.to_string().contains("is an IP address"), "{ip}: {err}");
        }
    }
}
