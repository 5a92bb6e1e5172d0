//! The flags of `oc mcp-verify` and their syntax checks.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use clap::Args;
use oc_mcp_common::{
    Error, Result, defaults,
    kube_args::{RequestTimeout, parse_request_timeout},
    server_config::AuthMode,
};

/// How `oc mcp-verify` finds and talks to the deployment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Verify")]
pub struct VerifyArgs {
    /// Helm release name the deployment was installed as (names the Deployment, Service,
    /// ConfigMap and Ingress: the release itself, or <release>-kubernetes-mcp-server)
    #[arg(long, value_name = "NAME", default_value = defaults::RELEASE)]
    pub release: String,

    /// The MCP endpoint (https://host/mcp); skips finding the Route
    #[arg(long, value_name = "URL", conflicts_with = "port_forward")]
    pub url: Option<String>,

    /// Reach the server through a native port-forward to one of its pods (internal deployments)
    #[arg(long)]
    pub port_forward: bool,

    /// Use ADDR for HOST:PORT instead of DNS, as curl --resolve (repeatable)
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<Resolve>,

    /// Connect to HOST2:PORT2 for requests to HOST:PORT, as curl --connect-to (repeatable);
    /// TLS still checks the certificate against HOST
    #[arg(long, value_name = "HOST:PORT:HOST2:PORT2", value_parser = parse_connect_to)]
    pub connect_to: Vec<ConnectTo>,

    /// PEM file of certificate authorities for the MCP endpoint (the cluster's router CA).
    /// --certificate-authority is the API server's, as in kubectl
    #[arg(long, value_name = "PATH")]
    pub endpoint_ca: Option<PathBuf>,

    /// Do not verify the MCP endpoint's certificate (the TLS check then warns).
    /// --insecure-skip-tls-verify is the API server's, as in kubectl
    #[arg(long)]
    pub endpoint_insecure: bool,

    /// The auth mode to expect when the server's ConfigMap cannot be read (default: from the
    /// ConfigMap)
    #[arg(long, value_name = "MODE", value_parser = parse_auth_mode)]
    pub auth_mode: Option<AuthMode>,

    /// The OpenShift OAuthClient whose redirect URIs must contain the route's callback
    #[arg(long, value_name = "NAME", default_value = defaults::OAUTH_CLIENT)]
    pub oauth_client: String,

    /// The MCP ClusterRole: its bindings say who is a member (passthrough.user is proof only
    /// with a member's token)
    #[arg(long, value_name = "NAME", default_value = defaults::CLUSTER_ROLE)]
    pub role: String,

    #[command(flatten)]
    pub login: LoginFlags,

    /// Only these checks: ids or groups, comma separated (see the list below)
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Leave out these checks: ids or groups, comma separated
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub skip: Vec<String>,

    /// Also write the report as JUnit XML to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Warnings fail the run (exit 1)
    #[arg(long)]
    pub strict: bool,

    /// Time to wait for each request to the MCP endpoint
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_request_timeout)]
    pub timeout: RequestTimeout,

    /// Warn when the endpoint's certificate expires within this many days
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub cert_min_days: u32,

    #[command(flatten)]
    pub token: TokenArgs,

    #[command(flatten)]
    pub denied_token: DeniedTokenArgs,
}

/// `--login`: a login as MCP clients do it.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Client login (login.pkce)")]
pub struct LoginFlags {
    /// Also log in as an MCP client does (PKCE with the protected-resource metadata's
    /// resource, browser via $BROWSER or xdg-open, loopback redirect on 127.0.0.1), then
    /// initialize and call a tool with that token (entra and oidc modes)
    #[arg(long)]
    pub login: bool,

    /// The OAuth client id for --login (default: the server's oauth_audience, which install
    /// sets to the client id)
    #[arg(long, value_name = "ID", requires = "login")]
    pub login_client_id: Option<String>,

    /// A login_hint for --login (the user to log in as, where the issuer honours it)
    #[arg(long, value_name = "USER", requires = "login")]
    pub login_hint: Option<String>,
}

/// Where the token for the MCP endpoint comes from. Never a value on the command line.
#[derive(Debug, Clone, Default, Args)]
#[command(
    next_help_heading = "Token for the MCP endpoint (default: the kubeconfig user's, as `oc whoami -t`)"
)]
#[group(multiple = false)]
pub struct TokenArgs {
    /// Read the token from standard input
    #[arg(long)]
    pub token_stdin: bool,
    /// Read the token from this environment variable
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Read the token from this file
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// A token of a user outside the bound groups, for the passthrough denial check.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Token of a user outside the bound groups (passthrough.denied)")]
#[group(multiple = false)]
pub struct DeniedTokenArgs {
    /// Read it from standard input
    #[arg(long)]
    pub denied_token_stdin: bool,
    /// Read it from this environment variable
    #[arg(long, value_name = "VAR")]
    pub denied_token_env: Option<String>,
    /// Read it from this file
    #[arg(long, value_name = "FILE")]
    pub denied_token_file: Option<PathBuf>,
}

fn parse_auth_mode(text: &str) -> std::result::Result<AuthMode, String> {
    text.parse::<AuthMode>().map_err(|e| e.to_string())
}

/// `--resolve HOST:PORT:ADDR[,ADDR...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// `--connect-to HOST:PORT:HOST2:PORT2` (PORT may be empty: any port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: String,
    pub port: Option<u16>,
    pub target_host: String,
    pub target_port: u16,
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// Split `HOST:REST` where HOST may be a bracketed IPv6 literal.
fn split_host(text: &str) -> Option<(&str, &str)> {
    if text.starts_with('[') {
        let end = text.find(']')?;
        let rest = text[end + 1..].strip_prefix(':')?;
        Some((&text[..=end], rest))
    } else {
        text.split_once(':')
    }
}

pub fn parse_resolve(text: &str) -> std::result::Result<Resolve, String> {
    let bad = || format!("{text:?} is not HOST:PORT:ADDR (e.g. mcp.apps.example.com:443:10.0.0.5)");
    let text = text.strip_prefix('+').unwrap_or(text);
    let (host, rest) = text.split_once(':').ok_or_else(bad)?;
    let (port, addrs) = rest.split_once(':').ok_or_else(bad)?;
    if host.is_empty() || host == "*" {
        return Err(format!(
            "{text:?}: name the host (wildcards are not supported)"
        ));
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    let addrs = addrs
        .split(',')
        .map(|a| parse_ip(a.trim()).ok_or_else(bad))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Resolve {
        host: host.to_ascii_lowercase(),
        port,
        addrs,
    })
}

pub fn parse_connect_to(text: &str) -> std::result::Result<ConnectTo, String> {
    let bad = || {
        format!(
            "{text:?} is not HOST:PORT:HOST2:PORT2 (e.g. mcp.apps.example.com:443:127.0.0.1:8443)"
        )
    };
    let (host, rest) = split_host(text).ok_or_else(bad)?;
    let (port, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (target_host, target_port) = split_host(rest).ok_or_else(bad)?;
    if host.is_empty() || target_host.is_empty() {
        return Err(format!("{text:?}: both hosts must be given"));
    }
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse().map_err(|_| bad())?)
    };
    Ok(ConnectTo {
        host: host.to_ascii_lowercase(),
        port,
        target_host: target_host.to_owned(),
        target_port: target_port.parse().map_err(|_| bad())?,
    })
}

impl VerifyArgs {
    pub fn timeout(&self) -> Duration {
        self.timeout.0.unwrap_or(Duration::from_secs(3600))
    }

    /// Checks that need nothing but the flags.
    pub fn validate(&self) -> Result<()> {
        // Helm release names are DNS labels; anything else cannot name a release, so say so
        // instead of reporting "not installed".
        oc_mcp_common::names::validate_dns_label(&self.release, "--release")?;
        if self.token.token_stdin && self.denied_token.denied_token_stdin {
            return Err(Error::usage_with_hint(
                "--token-stdin and --denied-token-stdin cannot both read standard input",
                "pass one of the tokens with --*-env or --*-file",
            ));
        }
        if let Some(url) = &self.url {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                Error::usage_with_hint(
                    format!("--url {url:?} is not a URL: {e}"),
                    "pass the endpoint, e.g. https://mcp.apps.example.com/mcp",
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(Error::usage_with_hint(
                    format!("--url {url:?} must be an http(s) URL with a host"),
                    "pass the endpoint, e.g. https://mcp.apps.example.com/mcp",
                ));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(Error::usage(
                    "--url must not carry credentials: pass the token with --token-stdin, --token-env or --token-file",
                ));
            }
        }
        if self.endpoint_insecure && self.endpoint_ca.is_some() {
            return Err(Error::usage(
                "--endpoint-insecure and --endpoint-ca contradict each other: pick one",
            ));
        }
        Ok(())
    }
}

/// The MCP endpoint URL from a base URL: a URL without a path gets `/mcp`.
pub fn endpoint_url(url: &str) -> Result<reqwest::Url> {
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| Error::usage(format!("{url:?} is not a URL: {e}")))?;
    if parsed.path().is_empty() || parsed.path() == "/" {
        parsed.set_path("/mcp");
    }
    Ok(parsed)
}

/// DNS overrides for reqwest for `url`: `--resolve` entries for its host and port, then
/// `--connect-to` entries (the first match wins, as in curl).
pub async fn overrides_for(
    url: &reqwest::Url,
    resolve: &[Resolve],
    connect_to: &[ConnectTo],
) -> Result<Vec<(String, SocketAddr)>> {
    let Some(host) = url
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
    else {
        return Ok(Vec::new());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    if let Some(c) = connect_to
        .iter()
        .find(|c| c.host.trim_matches(['[', ']']) == host && c.port.is_none_or(|p| p == port))
    {
        if url.port().is_some_and(|p| p != c.target_port) {
            return Err(Error::usage_with_hint(
                format!("--connect-to cannot change the explicit port {port} of {url}"),
                "put the target port in --url and map the host with --resolve instead",
            ));
        }
        let ip = match parse_ip(&c.target_host) {
            Some(ip) => ip,
            None => tokio::net::lookup_host((c.target_host.as_str(), c.target_port))
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .map(|a| a.ip())
                .ok_or_else(|| {
                    Error::usage(format!("--connect-to: cannot resolve {}", c.target_host))
                })?,
        };
        return Ok(vec![(host, SocketAddr::new(ip, c.target_port))]);
    }
    Ok(resolve
        .iter()
        .filter(|r| r.host.trim_matches(['[', ']']) == host && r.port == port)
        .flat_map(|r| {
            r.addrs
                .iter()
                .map(|ip| (host.clone(), SocketAddr::new(*ip, r.port)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_follows_curl() {
        let r = parse_resolve("MCP.apps.example.com:443:127.0.0.1").expect("resolve");
        assert_eq!(r.host, "mcp.apps.example.com");
        assert_eq!(r.port, 443);
        assert_eq!(r.addrs, ["127.0.0.1".parse::<IpAddr>().expect("ip")]);
        let r = parse_resolve("+h.example:8443:[::1],10.0.0.1").expect("resolve");
        assert_eq!(r.addrs.len(), 2);
        for bad in [
            "h",
            "h:443",
            "h:x:1.2.3.4",
            "h:443:not-an-ip",
            "*:443:1.2.3.4",
            ":443:1.2.3.4",
        ] {
            assert!(parse_resolve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_to_follows_curl() {
        let c = parse_connect_to("h.example:443:127.0.0.1:8443").expect("connect-to");
        assert_eq!(c.port, Some(443));
        assert_eq!((c.target_host.as_str(), c.target_port), ("127.0.0.1", 8443));
        let c = parse_connect_to("h.example::[::1]:9").expect("connect-to");
        assert_eq!(c.port, None);
        assert_eq!(c.target_host, "[::1]");
        for bad in [
            "h:443:127.0.0.1",
            ":443:127.0.0.1:1",
            "h:443::1",
            "h:443:x:y",
        ] {
            assert!(parse_connect_to(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn overrides_apply_to_the_matching_host_and_port_only() {
        let url = endpoint_url("https://mcp.apps.example.com").expect("url");
        assert_eq!(url.as_str(), "https://mcp.apps.example.com/mcp");
        let resolve = vec![
            parse_resolve("mcp.apps.example.com:443:10.0.0.5").expect("r"),
            parse_resolve("mcp.apps.example.com:8443:10.0.0.6").expect("r"),
            parse_resolve("other.example.com:443:10.0.0.7").expect("r"),
        ];
        let got = overrides_for(&url, &resolve, &[]).await.expect("overrides");
        assert_eq!(
            got,
            [(
                "mcp.apps.example.com".to_owned(),
                "10.0.0.5:443".parse().expect("addr")
            )]
        );
        let connect =
            vec![parse_connect_to("mcp.apps.example.com:443:127.0.0.1:18443").expect("c")];
        let got = overrides_for(&url, &resolve, &connect)
            .await
            .expect("overrides");
        assert_eq!(got[0].1, "127.0.0.1:18443".parse().expect("addr"));
        let explicit = endpoint_url("https://mcp.apps.example.com:9443/mcp").expect("url");
        let connect = vec![parse_connect_to("mcp.apps.example.com::127.0.0.1:18443").expect("c")];
        assert!(overrides_for(&explicit, &[], &connect).await.is_err());
    }
}
