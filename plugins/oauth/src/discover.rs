//! `discover <issuer-url>`: what the MCP server's OIDC discovery at startup will see (it fails
//! to start when the issuer is unreachable or its `issuer` differs), checked beforehand.

use oc_mcp_common::{
    Error, ExitCode, GlobalArgs, Result, cli, error::describe_chain, mcp::McpTarget,
    names::InvalidValue, output::Tabular,
};
use reqwest::Url;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_long_help = "The issuer's TLS certificate is checked against the system roots; \
    pass the global --certificate-authority PATH to trust another CA (discover does not contact \
    the cluster, so the flag applies to the issuer here)."
)]
pub struct DiscoverArgs {
    /// The issuer URL, exactly as the server's authorization_url will hold it
    /// (e.g. https://login.microsoftonline.com/<tenant>/v2.0)
    #[arg(value_name = "ISSUER_URL")]
    pub issuer: Issuer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub result: Verdict,
    pub detail: String,
}

/// The report: every check, and what the discovery document says.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverReport {
    pub issuer: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub algorithms: Vec<String>,
    pub usable_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entra_tenant: Option<String>,
}

impl DiscoverReport {
    fn add(&mut self, check: &'static str, result: Verdict, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            result,
            detail: detail.into(),
        });
    }

    fn failures(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.result == Verdict::Fail)
            .collect()
    }
}

impl Tabular for DiscoverReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["CHECK", "RESULT", "DETAIL"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        self.checks
            .iter()
            .map(|c| {
                vec![
                    c.check.to_owned(),
                    c.result.as_str().to_owned(),
                    c.detail.clone(),
                ]
            })
            .collect()
    }
}

/// The discovery URL of an issuer (OIDC Discovery 1.0 section 4: drop one trailing slash, append).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.strip_suffix('/').unwrap_or(issuer)
    )
}

/// The issuer argument: an absolute http(s) URL without query or fragment (OIDC Discovery
/// section 3), kept exactly as given, since the server compares the issuer byte for byte. Not an
/// `HttpsUrl`: discover is a check, and an http issuer is a finding (a warning, as the server
/// only warns), not a usage error.
#[derive(Debug, Clone)]
pub struct Issuer {
    text: String,
    url: Url,
}

impl Issuer {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Issuer {
    type Err = InvalidValue;

    fn from_str(text: &str) -> std::result::Result<Self, InvalidValue> {
        let refuse = |reason: String| InvalidValue {
            reason,
            fix: "give the issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0",
        };
        let url =
            Url::parse(text).map_err(|e| refuse(format!("invalid issuer URL {text:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(refuse(format!("issuer URL {text:?} must use https")));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse(format!(
                "issuer URL {text:?} may not have a query or fragment (OIDC Discovery section 3)"
            )));
        }
        Ok(Self {
            text: text.to_owned(),
            url,
        })
    }
}

/// `oc mcp-oauth discover`
pub async fn run(global: &GlobalArgs, args: &DiscoverArgs) -> Result<ExitCode> {
    let ca = match &global.kube.certificate_authority {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            Error::usage_with_hint(
                format!(
                    "cannot read --certificate-authority {}: {e}",
                    path.display()
                ),
                "pass a readable PEM file",
            )
        })?),
        None => None,
    };
    let mut target = McpTarget::new(args.issuer.to_string());
    target.extra_ca_pem = ca;
    target.timeout = crate::target::request_timeout(global);
    let http = target.http_client()?;
    let (report, unreachable) = check(&http, args.issuer.as_str(), args.issuer.url()).await;
    cli::emit(&report, global.output.output)?;
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(ExitCode::Ok);
    }
    let summary = failures
        .iter()
        .map(|c| format!("{}: {}", c.check, c.detail))
        .collect::<Vec<_>>()
        .join("; ");
    if unreachable {
        return Err(Error::unreachable(
            format!("the issuer {}", args.issuer),
            summary,
        ));
    }
    Err(Error::Failed {
        message: format!("the issuer {} will not work: {summary}", args.issuer),
        hint: Some("fix the issuer (or the URL you give the server) and re-run discover".into()),
    })
}

/// Fetch a URL as JSON: `Err(message)` names the cause; the bool says "could not connect".
async fn fetch_json(http: &reqwest::Client, url: &str) -> Result<Value, (String, bool)> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| (format!("cannot reach {url}: {}", describe_chain(&e)), true))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned();
    let text = response.text().await.map_err(|e| {
        (
            format!("reading {url} failed: {}", describe_chain(&e)),
            true,
        )
    })?;
    if !status.is_success() {
        return Err((format!("{url} answered {status}"), false));
    }
    serde_json::from_str(&text)
        .map_err(|e| (format!("{url} is not JSON ({content_type}): {e}"), false))
}

/// Run every check; the bool is true when the discovery document could not be reached at all.
pub async fn check(http: &reqwest::Client, issuer: &str, url: &Url) -> (DiscoverReport, bool) {
    let mut report = DiscoverReport {
        issuer: issuer.to_owned(),
        ..DiscoverReport::default()
    };
    if url.scheme() == "https" {
        report.add("scheme", Verdict::Pass, "https");
    } else {
        report.add(
            "scheme",
            Verdict::Warn,
            "http: tokens and keys travel in clear text; the server only warns, and refuses it with require_tls",
        );
    }
    let doc_url = discovery_url(issuer);
    let doc = match fetch_json(http, &doc_url).await {
        Ok(doc) if doc.is_object() => doc,
        Ok(_) => {
            report.add(
                "discovery",
                Verdict::Fail,
                format!("{doc_url} is JSON but not an object"),
            );
            return (report, false);
        }
        Err((message, unreachable)) => {
            report.add("discovery", Verdict::Fail, message);
            return (report, unreachable);
        }
    };
    report.add("discovery", Verdict::Pass, doc_url);
    check_issuer(&mut report, issuer, &doc);
    check_endpoints(&mut report, &doc);
    let keys = check_jwks(&mut report, http, &doc).await;
    check_algorithms(&mut report, &doc, &keys);
    check_pkce(&mut report, &doc);
    check_entra(&mut report, url);
    report.passed = report.failures().is_empty();
    (report, false)
}

fn check_issuer(report: &mut DiscoverReport, issuer: &str, doc: &Value) {
    match doc["issuer"].as_str() {
        Some(said) if said == issuer => {
            report.add("issuer", Verdict::Pass, "matches the URL byte for byte");
        }
        Some(said) if said.trim_end_matches('/') == issuer.trim_end_matches('/') => report.add(
            "issuer",
            Verdict::Fail,
            format!(
                "issuer mismatch: the document says {said:?}, the URL is {issuer:?}: they differ in the trailing slash; use exactly {said:?}"
            ),
        ),
        Some(said) => report.add(
            "issuer",
            Verdict::Fail,
            format!("issuer mismatch: the document says {said:?}, the URL is {issuer:?}"),
        ),
        None => report.add("issuer", Verdict::Fail, "the document has no issuer"),
    }
}

fn check_endpoints(report: &mut DiscoverReport, doc: &Value) {
    report.authorization_endpoint = doc["authorization_endpoint"].as_str().map(str::to_owned);
    report.token_endpoint = doc["token_endpoint"].as_str().map(str::to_owned);
    match (&report.authorization_endpoint, &report.token_endpoint) {
        (Some(a), Some(t)) => {
            let detail = format!("authorization {a}, token {t}");
            report.add("endpoints", Verdict::Pass, detail);
        }
        (a, t) => {
            let missing: Vec<&str> = [
                a.is_none().then_some("authorization_endpoint"),
                t.is_none().then_some("token_endpoint"),
            ]
            .into_iter()
            .flatten()
            .collect();
            report.add(
                "endpoints",
                Verdict::Fail,
                format!(
                    "missing {}: MCP clients cannot log in",
                    missing.join(" and ")
                ),
            );
        }
    }
}

/// A usable signing key: its key type (`RSA`, `EC`, `OKP`) and `alg` when given.
#[derive(Debug, Clone)]
pub struct Key {
    pub kty: String,
    pub alg: Option<String>,
}

fn usable_key(key: &Value) -> Option<Key> {
    if key["use"].as_str().is_some_and(|u| u != "sig") {
        return None;
    }
    let kty = key["kty"].as_str()?;
    let has = |f: &str| key[f].as_str().is_some_and(|v| !v.is_empty());
    let complete = match kty {
        "RSA" => has("n") && has("e"),
        "EC" => has("crv") && has("x") && has("y"),
        "OKP" => has("crv") && has("x"),
        _ => false,
    };
    complete.then(|| Key {
        kty: kty.to_owned(),
        alg: key["alg"].as_str().map(str::to_owned),
    })
}

async fn check_jwks(report: &mut DiscoverReport, http: &reqwest::Client, doc: &Value) -> Vec<Key> {
    let Some(jwks_uri) = doc["jwks_uri"].as_str() else {
        report.add(
            "jwks",
            Verdict::Fail,
            "the document has no jwks_uri: tokens cannot be verified",
        );
        return Vec::new();
    };
    report.jwks_uri = Some(jwks_uri.to_owned());
    let jwks = match fetch_json(http, jwks_uri).await {
        Ok(jwks) => jwks,
        Err((message, true)) => {
            report.add(
                "jwks",
                Verdict::Fail,
                format!("JWKS unreachable: {message}"),
            );
            return Vec::new();
        }
        Err((message, false)) => {
            report.add("jwks", Verdict::Fail, format!("JWKS unusable: {message}"));
            return Vec::new();
        }
    };
    let Some(all) = jwks["keys"].as_array() else {
        report.add(
            "jwks",
            Verdict::Fail,
            format!("JWKS at {jwks_uri} has no \"keys\" array"),
        );
        return Vec::new();
    };
    let keys: Vec<Key> = all.iter().filter_map(usable_key).collect();
    report.usable_keys = keys.len();
    if all.is_empty() {
        report.add(
            "jwks",
            Verdict::Fail,
            format!("JWKS at {jwks_uri} is empty: no key can verify a token"),
        );
    } else if keys.is_empty() {
        report.add(
            "jwks",
            Verdict::Fail,
            format!(
                "JWKS at {jwks_uri} has {} keys, none usable for signatures",
                all.len()
            ),
        );
    } else {
        report.add(
            "jwks",
            Verdict::Pass,
            format!("{} usable signing keys at {jwks_uri}", keys.len()),
        );
    }
    if !jwks_uri.starts_with("https://")
        && report
            .checks
            .iter()
            .all(|c| c.check != "scheme" || c.result == Verdict::Pass)
    {
        report.add(
            "jwks scheme",
            Verdict::Warn,
            format!("{jwks_uri} is not https"),
        );
    }
    keys
}

fn kty_for(alg: &str) -> Option<&'static str> {
    match alg.get(..2)? {
        "RS" | "PS" => Some("RSA"),
        "ES" => Some("EC"),
        _ if alg == "EdDSA" => Some("OKP"),
        _ => None,
    }
}

fn check_algorithms(report: &mut DiscoverReport, doc: &Value, keys: &[Key]) {
    let algs: Vec<String> = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    report.algorithms.clone_from(&algs);
    if algs.is_empty() {
        report.add(
            "algorithms",
            Verdict::Warn,
            "id_token_signing_alg_values_supported is missing: verifiers assume RS256",
        );
        return;
    }
    let signing: Vec<&String> = algs.iter().filter(|a| a.as_str() != "none").collect();
    if signing.is_empty() {
        report.add(
            "algorithms",
            Verdict::Fail,
            "only \"none\": tokens would be unsigned",
        );
        return;
    }
    let matched = keys.is_empty()
        || signing.iter().any(|alg| {
            keys.iter().any(|k| {
                k.alg.as_deref().map_or_else(
                    || kty_for(alg) == Some(k.kty.as_str()),
                    |ka| ka == alg.as_str(),
                )
            })
        });
    let list = signing
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if matched {
        report.add("algorithms", Verdict::Pass, list);
    } else {
        report.add(
            "algorithms",
            Verdict::Warn,
            format!("{list}: no JWKS key is of a matching type"),
        );
    }
}

fn check_pkce(report: &mut DiscoverReport, doc: &Value) {
    match doc["code_challenge_methods_supported"].as_array() {
        Some(methods) if methods.iter().any(|m| m.as_str() == Some("S256")) => {
            report.add("pkce", Verdict::Pass, "S256");
        }
        Some(_) => report.add("pkce", Verdict::Warn, "S256 is not among code_challenge_methods_supported"),
        None => report.add(
            "pkce",
            Verdict::Warn,
            "code_challenge_methods_supported is not advertised (Entra supports S256 without saying so)",
        ),
    }
}

fn check_entra(report: &mut DiscoverReport, url: &Url) {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let entra_hosts = [
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    ];
    let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    if host == "sts.windows.net" {
        report.add(
            "entra",
            Verdict::Warn,
            "v1 issuer (sts.windows.net): use https://login.microsoftonline.com/<tenant>/v2.0 and access tokens version 2",
        );
        report.entra_tenant = segments.first().map(|s| (*s).to_owned());
        return;
    }
    if !entra_hosts.contains(&host.as_str()) {
        return;
    }
    let tenant = segments.first().copied().unwrap_or_default();
    report.entra_tenant = (!tenant.is_empty()).then(|| tenant.to_owned());
    if matches!(tenant, "common" | "organizations" | "consumers") {
        report.add(
            "entra",
            Verdict::Fail,
            format!("{tenant:?} is a multi-tenant alias: its document names no single issuer; use your tenant id"),
        );
    } else if segments.get(1) == Some(&"v2.0") && segments.len() == 2 {
        report.add(
            "entra",
            Verdict::Pass,
            format!("v2.0 issuer, tenant {tenant}"),
        );
    } else {
        report.add(
            "entra",
            Verdict::Warn,
            format!("not the v2.0 issuer: use https://{host}/{tenant}/v2.0 (with access tokens version 2)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_drops_one_trailing_slash() {
        assert_eq!(
            discovery_url("https://login.microsoftonline.com/t/v2.0"),
            "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://i/"),
            "https://i/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_arguments_are_checked() {
        let issuer: Issuer = "https://i/realms/x/".parse().expect("issuer");
        assert_eq!(issuer.as_str(), "https://i/realms/x/");
        assert!("http://i/realms/x".parse::<Issuer>().is_ok());
        for (bad, why) in [
            ("i", "invalid issuer URL"),
            ("ftp://i", "must use https"),
            ("https://i/?x=1", "query or fragment"),
            ("https://i/#f", "query or fragment"),
        ] {
            let err = bad.parse::<Issuer>().expect_err(bad);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn keys_need_their_parameters() {
        assert!(usable_key(&serde_json::json!({"kty": "RSA", "n": "x", "e": "AQAB"})).is_some());
        assert!(usable_key(&serde_json::json!({"kty": "RSA", "n": "x"})).is_none());
        assert!(
            usable_key(
                &serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "use": "enc"})
            )
            .is_none()
        );
    }

    #[test]
    fn entra_specifics() {
        let mut report = DiscoverReport::default();
        check_entra(
            &mut report,
            &Url::parse("https://login.microsoftonline.com/tid/v2.0").expect("url"),
        );
        assert_eq!(report.checks[0].result, Verdict::Pass);
        assert_eq!(report.entra_tenant.as_deref(), Some("tid"));
        let mut report = DiscoverReport::default();
        check_entra(
            &mut report,
            &Url::parse("https://login.microsoftonline.com/tid/").expect("url"),
        );
        assert_eq!(report.checks[0].result, Verdict::Warn);
        let mut report = DiscoverReport::default();
        check_entra(
            &mut report,
            &Url::parse("https://login.microsoftonline.com/common/v2.0").expect("url"),
        );
        assert_eq!(report.checks[0].result, Verdict::Fail);
    }
}
