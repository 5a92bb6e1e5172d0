//! Report rows from the endpoint itself (issue 8 items 5-9): TLS and health, the negative
//! probes (raw reqwest, so the report shows exact codes and headers), OAuth discovery, and the
//! authenticated MCP session (rmcp) with passthrough proofs.

use std::fmt::Write as _;

use oc_mcp_common::{
    Result,
    kube_args::Secret,
    server_config::{AuthMode, ServerConfig},
};
use reqwest::Url;
use serde_json::Value;

use crate::{
    checks::{CheckId, Selection},
    http::{
        Answer, FailureKind, Http, initialize_request, is_loopback_host, join, origin, send,
        shorten,
    },
    report::{FailureClass, Row, Status},
    session::{ConnectError, Session, result_text},
    token::Token,
};

/// How the endpoint was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Route,
    Url,
    PortForward,
}

impl Via {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Url => "url",
            Self::PortForward => "port-forward",
        }
    }
}

/// Everything the probes need.
#[derive(Debug)]
pub struct Probe<'a> {
    pub http: &'a Http,
    pub url: Url,
    pub via: Via,
    /// The mode the server should be in (from its config or `--auth-mode`); `None` unknown.
    pub mode: Option<AuthMode>,
    pub config: Option<&'a ServerConfig>,
    /// The public host the metadata must name (the Route's), when known.
    pub public_host: Option<String>,
    /// The user's token, or why there is none.
    pub token: std::result::Result<Token, String>,
    pub denied: Option<Token>,
    pub cert_min_days: u32,
    pub selection: &'a Selection,
}

/// A random token no issuer signed and no cluster issued.
fn garbage_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("oc-mcp-verify-garbage-{nanos:x}")
}

/// The read tool used to prove passthrough.
const READ_TOOL: &str = "namespaces_list";

pub async fn run(p: &Probe<'_>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let verifying = p.http.client_for(&p.url).await?;
    let healthz = join(&p.url, "/healthz")?;
    let https = p.url.scheme() == "https";

    // 5. TLS and /healthz.
    let mut tls_trusted = true;
    let first = send(verifying.get(healthz.clone())).await;
    let health_answer = match first {
        Ok(answer) => {
            rows.push(tls_row(p, Some(&answer), None));
            answer
        }
        Err(failure) if failure.kind == FailureKind::Tls => {
            tls_trusted = false;
            let inspecting = p.http.inspecting_client_for(&p.url).await?;
            match send(inspecting.get(healthz.clone())).await {
                Ok(answer) => {
                    rows.push(tls_row(p, Some(&answer), Some(&failure.message)));
                    answer
                }
                Err(again) => {
                    rows.push(tls_row(p, None, Some(&failure.message)));
                    rows.push(unreachable_row(
                        CheckId::EndpointHealth,
                        &healthz,
                        &again.message,
                    ));
                    skip_after(
                        &mut rows,
                        CheckId::EndpointHealth,
                        "the endpoint could not be reached",
                    );
                    return Ok(rows);
                }
            }
        }
        Err(failure) => {
            rows.push(Row::skip(
                CheckId::EndpointTls,
                "the endpoint could not be reached",
            ));
            rows.push(unreachable_row(
                CheckId::EndpointHealth,
                &healthz,
                &failure.message,
            ));
            skip_after(
                &mut rows,
                CheckId::EndpointHealth,
                "the endpoint could not be reached",
            );
            return Ok(rows);
        }
    };
    rows.push(health_row(&healthz, &health_answer));

    // Negative probes may use an untrusted connection; the token never does.
    let probe_client = if tls_trusted {
        verifying.clone()
    } else {
        p.http.inspecting_client_for(&p.url).await?
    };

    let token_blocker = token_blocker(p, tls_trusted, https);
    // 6-9 are independent once the endpoint answers: run them at once (the MCP sessions are
    // most of verify's time), report them in order.
    let unauthenticated = async {
        // 6. Unauthenticated; 7. discovery follows the challenge it gets.
        let no_token = send(initialize_request(&probe_client, &p.url, None)).await;
        let challenge = no_token
            .as_ref()
            .ok()
            .and_then(|a| a.header("www-authenticate").map(str::to_owned));
        let row = no_token_row(p, &no_token);
        (
            row,
            discovery_rows(p, &probe_client, challenge.as_deref()).await,
        )
    };
    let garbage = garbage_row(p, &probe_client);
    // 8-9. Authenticated session and passthrough.
    let sessions = async {
        match &token_blocker {
            None => session_rows(p, &verifying).await,
            Some(why) => [
                CheckId::McpInitialize,
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ]
            .into_iter()
            .map(|id| Row::skip(id, why.clone()))
            .collect(),
        }
    };
    let ((no_token, discovery), garbage, sessions) =
        futures::join!(unauthenticated, garbage, sessions);
    rows.push(no_token);
    rows.push(garbage);
    rows.extend(discovery);
    rows.extend(sessions);
    Ok(rows)
}

/// Why the user's token must not be sent to this endpoint, if it must not.
fn token_blocker(p: &Probe<'_>, tls_trusted: bool, https: bool) -> Option<String> {
    if !tls_trusted && !p.http.insecure {
        Some("the endpoint's certificate is not trusted: the token is not sent (pass --endpoint-ca, or --endpoint-insecure to send it anyway)".into())
    } else if !https && !is_loopback_host(&p.url) {
        Some(format!(
            "{} is plain http: the token would cross the network in clear",
            p.url
        ))
    } else {
        None
    }
}

fn health_row(healthz: &Url, answer: &Answer) -> Row {
    if answer.status == 200 {
        Row::pass(CheckId::EndpointHealth)
            .evidence(format!("GET {healthz}: {}", answer.status_line()))
    } else {
        Row::fail(CheckId::EndpointHealth)
            .evidence(format!(
                "GET {healthz}: {} {}",
                answer.status_line(),
                answer.body_excerpt()
            ))
            .fix(match answer.status {
                503 => "the router has no ready backend: see cluster.pods and cluster.service",
                404 => "something other than the MCP server answers on this host: check the Route's host and target Service",
                _ => "check the Route, the Service port and the pod",
            })
    }
}

fn unreachable_row(id: CheckId, url: &Url, message: &str) -> Row {
    Row::fail(id)
        .evidence(format!("{url}: {message}"))
        .class(FailureClass::Unreachable)
        .fix("check the URL, DNS (--resolve/--connect-to when it does not resolve here), the router and your network; internal deployments: --port-forward")
}

/// Every check after `after` in report order, skipped.
fn skip_after(rows: &mut Vec<Row>, after: CheckId, why: &str) {
    for id in CheckId::ALL.iter().copied().filter(|c| {
        *c > after
            && matches!(
                c.group(),
                "endpoint" | "unauth" | "discovery" | "mcp" | "passthrough"
            )
    }) {
        rows.push(Row::skip(id, why));
    }
}

// ---- 5. TLS ----

/// Days since the Unix epoch to a calendar date (proleptic Gregorian).
fn civil_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// What a certificate says, for evidence and the manual checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub names: Vec<String>,
    pub issuer: String,
    pub not_after: i64,
}

pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(b) = <[u8; 4]>::try_from(*bytes) {
                        names.push(std::net::IpAddr::from(b).to_string());
                    } else if let Ok(b) = <[u8; 16]>::try_from(*bytes) {
                        names.push(std::net::IpAddr::from(b).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map_or_else(|| cert.issuer().to_string(), str::to_owned);
    Some(CertInfo {
        names,
        issuer,
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// RFC 6125 matching: exact, or a `*.` wildcard covering exactly one left-most label.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        host.split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
    } else {
        pattern == host
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn tls_row(p: &Probe<'_>, answer: Option<&Answer>, verify_error: Option<&str>) -> Row {
    let id = CheckId::EndpointTls;
    if p.url.scheme() != "https" {
        return if p.via == Via::PortForward || is_loopback_host(&p.url) {
            Row::skip(
                id,
                format!("{} is plain HTTP on loopback (no TLS in the path)", p.url),
            )
        } else {
            Row::fail(id)
                .evidence(format!("{} is plain http", p.url))
                .fix("use the https Route URL; plain http exposes every token")
        };
    }
    let host = p
        .url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let info = answer
        .and_then(|a| a.peer_certificate.as_deref())
        .and_then(cert_info);
    let mut evidence = Vec::new();
    if let Some(info) = &info {
        let days = (info.not_after - now_unix()).div_euclid(86_400);
        evidence.push(format!(
            "certificate for {} issued by {}, expires {} ({days} days)",
            info.names.join(", "),
            info.issuer,
            civil_date(info.not_after)
        ));
    }
    if let Some(error) = verify_error {
        let mut row = Row::fail(id)
            .evidence(format!("TLS verification failed: {error}"))
            .evidence_lines(evidence);
        row = row.fix(if error.to_lowercase().contains("unknownissuer") || error.contains("issuer") {
            "the certificate's CA is not trusted here: pass --endpoint-ca with the router's CA (oc get secret -n openshift-ingress-operator router-ca -o jsonpath='{.data.tls\\.crt}' | base64 -d)"
        } else if error.contains("NotValidForName") || error.to_lowercase().contains("name") {
            "the certificate does not cover the host: give the Route a certificate for it, or use the router's default wildcard domain"
        } else {
            "give the Route a valid certificate, or pass --endpoint-ca with its CA"
        });
        return row;
    }
    let Some(info) = info else {
        return Row::warn(id)
            .evidence("the TLS session carried no certificate to inspect")
            .fix(
                "check the endpoint with `openssl s_client -connect <host>:443 -servername <host>`",
            );
    };
    let days = (info.not_after - now_unix()).div_euclid(86_400);
    if days < 0 {
        return Row::fail(id)
            .evidence_lines(evidence)
            .fix("the certificate has expired: renew it");
    }
    if p.http.insecure {
        let matches = info.names.iter().any(|n| name_matches(n, &host));
        let mut row = Row::warn(id)
            .evidence(
                "verification is off (--endpoint-insecure): anyone in between could read the token",
            )
            .evidence_lines(evidence);
        if !matches {
            row.evidence
                .push(format!("the certificate does not name {host}"));
        }
        return row.fix("pass --endpoint-ca with the router's CA instead of --endpoint-insecure");
    }
    if days < i64::from(p.cert_min_days) {
        return Row::warn(id).evidence_lines(evidence).fix(format!(
            "the certificate expires in {days} days (under --cert-min-days {}): renew it",
            p.cert_min_days
        ));
    }
    Row::pass(id)
        .evidence(format!("verified for {host}"))
        .evidence_lines(evidence)
}

// ---- 6. Unauthenticated ----

fn describe(answer: &Answer) -> String {
    let mut text = answer.status_line();
    if let Some(challenge) = answer.header("www-authenticate") {
        let _ = write!(text, ", WWW-Authenticate: {challenge}");
    }
    let body = answer.body_excerpt();
    if !body.is_empty() {
        let _ = write!(text, ", body {:?}", shorten(&body, 80));
    }
    text
}

fn no_token_row(p: &Probe<'_>, answer: &std::result::Result<Answer, crate::http::Failure>) -> Row {
    let id = CheckId::UnauthNoToken;
    let answer = match answer {
        Ok(a) => a,
        Err(f) => {
            let row = Row::fail(id).evidence(format!("POST {} without a token: {f}", p.url));
            return if f.kind == FailureKind::Unreachable {
                row.class(FailureClass::Unreachable)
            } else {
                row
            };
        }
    };
    let line = format!(
        "POST {} initialize without a token: {}",
        p.url,
        describe(answer)
    );
    match answer.status {
        401 => {
            let row = Row::pass(id).evidence(line);
            match answer.header("www-authenticate") {
                Some(c) if c.trim_start().to_ascii_lowercase().starts_with("bearer") => row,
                _ => Row::warn(id)
                    .evidence_lines(row.evidence)
                    .fix("a 401 should carry a `WWW-Authenticate: Bearer` challenge so clients know to send a token"),
            }
        }
        s if (200..300).contains(&s) => Row::fail(id)
            .evidence(line)
            .fix("anyone who can reach this URL uses the server's cluster access: set require_oauth = true (auth mode openshift, entra or oidc) and re-run `oc mcp-install`"),
        403 if answer.body.contains("invalid Host header") => Row::fail(id)
            .evidence(line)
            .fix("the server refused the Host header (DNS-rebinding protection on a loopback listener): reach it through the Route, or by port-forward with a loopback Host"),
        502..=504 => Row::fail(id)
            .evidence(line)
            .fix("expected 401, but no server answered behind the router: see endpoint.health and cluster.pods"),
        _ => Row::fail(id)
            .evidence(line)
            .fix("expected 401 from the MCP server: check that the URL reaches the server's /mcp"),
    }
}

/// Is a tool result a refusal by the cluster, and which kind?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    Forbidden,
}

pub fn refusal(text: &str) -> Option<Refusal> {
    let lower = text.to_lowercase();
    if lower.contains("provide credentials")
        || lower.contains("unauthorized")
        || lower.contains("oauth token required")
        || lower.contains("401")
    {
        Some(Refusal::Unauthenticated)
    } else if lower.contains("forbidden")
        || lower.contains("cannot list")
        || lower.contains("cannot get")
    {
        Some(Refusal::Forbidden)
    } else {
        None
    }
}

async fn garbage_row(p: &Probe<'_>, client: &reqwest::Client) -> Row {
    let id = CheckId::UnauthGarbageToken;
    let garbage = garbage_token();
    let answer = match send(initialize_request(client, &p.url, Some(&garbage))).await {
        Ok(a) => a,
        Err(f) => {
            return Row::fail(id).evidence(format!("POST {} with a garbage token: {f}", p.url));
        }
    };
    let line = format!(
        "POST {} initialize with a garbage token: {}",
        p.url,
        describe(&answer)
    );
    if answer.status == 401 {
        return Row::pass(id).evidence(line);
    }
    if (502..=504).contains(&answer.status) {
        return Row::fail(id)
            .evidence(line)
            .fix("no server answered behind the router: see endpoint.health and cluster.pods");
    }
    if !answer.is_success() {
        return Row::fail(id)
            .evidence(line)
            .fix("expected 401 (or, in openshift mode, a refusal by the cluster)");
    }
    if matches!(p.mode, Some(AuthMode::Entra | AuthMode::Oidc)) {
        return Row::fail(id)
            .evidence(line)
            .fix("the server accepted a token its issuer never signed: check authorization_url, oauth_audience and skip_jwt_verification = false");
    }
    // openshift mode forwards tokens unvalidated; the cluster must refuse it.
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&Secret::new(garbage)),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return Row::fail(id)
                .evidence(line)
                .evidence(format!("MCP session with the garbage token: {e}"));
        }
    };
    let outcome = session.call(READ_TOOL, serde_json::Map::new()).await;
    session.close().await;
    match outcome {
        Ok(result) => {
            let text = shorten(&result_text(&result), 200);
            match (result.is_error == Some(true), refusal(&text)) {
                (true, Some(Refusal::Unauthenticated)) => Row::pass(id)
                    .evidence(line)
                    .evidence(format!("initialize is accepted (openshift mode forwards tokens; the cluster decides); {READ_TOOL} was refused by the cluster: {text}")),
                (true, _) => Row::warn(id)
                    .evidence(line)
                    .evidence(format!("{READ_TOOL} failed, but not as unauthenticated: {text}"))
                    .fix("expected the API server to reject the token (401); check cluster_auth_mode = \"passthrough\""),
                (false, _) => Row::fail(id)
                    .evidence(line)
                    .evidence(format!("{READ_TOOL} with a garbage token succeeded: {text}"))
                    .fix("the server answers with its own identity: set require_oauth = true and cluster_auth_mode = \"passthrough\""),
            }
        }
        Err(e) => Row::warn(id)
            .evidence(line)
            .evidence(format!("tools/call {READ_TOOL}: {e}"))
            .fix("could not complete the passthrough proof"),
    }
}

// ---- 7. Discovery ----

/// `resource_metadata="..."` from a challenge.
pub fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let lower = challenge.to_ascii_lowercase();
    let needle = format!("{name}=");
    let mut start = 0;
    while let Some(found) = lower[start..].find(&needle) {
        let at = start + found;
        let before_ok = at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b',');
        let rest = &challenge[at + needle.len()..];
        if before_ok {
            let value = if let Some(quoted) = rest.strip_prefix('"') {
                quoted.split('"').next().unwrap_or("")
            } else {
                rest.split([',', ' ']).next().unwrap_or("")
            };
            return Some(value.to_owned());
        }
        start = at + needle.len();
    }
    None
}

async fn get_json(
    client: &reqwest::Client,
    url: &Url,
) -> std::result::Result<(Answer, Option<Value>), String> {
    match send(client.get(url.clone()).header("accept", "application/json")).await {
        Ok(answer) => {
            let json = if answer.is_success() {
                serde_json::from_str(&answer.body).ok()
            } else {
                None
            };
            Ok((answer, json))
        }
        Err(f) => Err(f.message),
    }
}

/// The expected server origin for metadata: `https://<route host>`, else the URL's origin.
fn expected_origin(p: &Probe<'_>) -> String {
    p.public_host
        .as_ref()
        .map_or_else(|| origin(&p.url), |h| format!("https://{h}"))
}

/// openshift mode: no OAuth metadata is expected (404), which is worth saying.
async fn openshift_discovery_rows(p: &Probe<'_>, client: &reqwest::Client) -> Vec<Row> {
    let prm_id = CheckId::DiscoveryProtectedResource;
    let as_id = CheckId::DiscoveryAuthorizationServer;
    let mut rows = Vec::new();
    for (id, path) in [
        (prm_id, "/.well-known/oauth-protected-resource"),
        (as_id, "/.well-known/oauth-authorization-server"),
    ] {
        let Ok(url) = join(&p.url, path) else {
            continue;
        };
        rows.push(match get_json(client, &url).await {
            Ok((answer, _)) if answer.status == 404 => Row::info(id)
                .evidence(format!("GET {url}: {} {:?}", answer.status_line(), answer.body_excerpt()))
                .fix("as expected in openshift mode: MCP clients cannot discover OAuth here, so give them a token (`oc mcp-client config`)"),
            Ok((answer, _)) if answer.is_success() => Row::warn(id)
                .evidence(format!("GET {url}: {}", answer.status_line()))
                .fix("openshift mode serves no OAuth metadata; is the config what you think? (see config.auth-mode)"),
            Ok((answer, _)) => Row::skip(
                id,
                format!("GET {url}: {}: not the MCP server answering (see endpoint.health)", answer.status_line()),
            ),
            Err(e) => Row::warn(id).evidence(format!("GET {url}: {e}")),
        });
    }
    rows
}

/// GET each URL until one answers 200 with JSON; also whether every miss was a 404 from the
/// server (no metadata) rather than no answer.
async fn fetch_first_json(
    client: &reqwest::Client,
    candidates: Vec<Url>,
    tried: &mut Vec<String>,
) -> (Option<(Url, Value)>, bool) {
    let mut prm: Option<(Url, Value)> = None;
    let mut only_404 = true;
    for url in candidates {
        match get_json(client, &url).await {
            Ok((answer, Some(json))) if answer.status == 200 => {
                tried.push(format!("GET {url}: 200"));
                prm = Some((url, json));
                break;
            }
            Ok((answer, _)) => {
                only_404 &= answer.status == 404;
                tried.push(format!(
                    "GET {url}: {} {:?}",
                    answer.status_line(),
                    shorten(&answer.body_excerpt(), 60)
                ));
            }
            Err(e) => {
                only_404 = false;
                tried.push(format!("GET {url}: {e}"));
            }
        }
    }
    (prm, only_404)
}

async fn discovery_rows(
    p: &Probe<'_>,
    client: &reqwest::Client,
    challenge: Option<&str>,
) -> Vec<Row> {
    let prm_id = CheckId::DiscoveryProtectedResource;
    let as_id = CheckId::DiscoveryAuthorizationServer;
    if !p.selection.any(&[prm_id, as_id]) {
        return Vec::new();
    }
    let Ok(root) = join(&p.url, "/.well-known/oauth-protected-resource") else {
        return vec![Row::skip(prm_id, "bad URL"), Row::skip(as_id, "bad URL")];
    };
    match p.mode {
        Some(AuthMode::None) => {
            return vec![
                Row::skip(prm_id, "auth mode none: no OAuth"),
                Row::skip(as_id, "auth mode none: no OAuth"),
            ];
        }
        Some(AuthMode::OpenShift) => return openshift_discovery_rows(p, client).await,
        _ => {}
    }
    // entra / oidc / unknown: find the protected-resource metadata as a client does.
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    let header_url = challenge.and_then(|c| challenge_param(c, "resource_metadata"));
    if let Some(u) = header_url.as_deref().and_then(|u| Url::parse(u).ok()) {
        candidates.push(u);
    }
    let path = p.url.path().trim_end_matches('/');
    if !path.is_empty()
        && let Ok(u) = join(
            &p.url,
            &format!("/.well-known/oauth-protected-resource{path}"),
        )
    {
        candidates.push(u);
    }
    candidates.push(root);
    let (prm, only_404) = fetch_first_json(client, candidates, &mut tried).await;
    let note = if header_url.is_none() {
        Some("the 401 challenge has no resource_metadata (this server never sends it): clients fall back to the well-known URL".to_owned())
    } else {
        None
    };
    let Some((prm_url, json)) = prm else {
        if !only_404 {
            let why = "the metadata could not be fetched (see endpoint.health)";
            return vec![
                if p.mode.is_none() {
                    Row::skip(prm_id, why).evidence_lines(tried)
                } else {
                    Row::fail(prm_id).evidence_lines(tried).fix(why)
                },
                Row::skip(as_id, "no protected-resource metadata"),
            ];
        }
        if p.mode.is_none() {
            // Unknown mode and no metadata: what openshift mode looks like.
            return vec![
                Row::info(prm_id).evidence_lines(tried).fix("no OAuth metadata: the server is in openshift mode (or discovery is off); clients need a token given to them"),
                Row::skip(as_id, "no protected-resource metadata"),
            ];
        }
        return vec![
            Row::fail(prm_id)
                .evidence_lines(tried)
                .fix("in entra/oidc mode the server must serve /.well-known/oauth-protected-resource: check authorization_url and that the issuer was reachable when the server started"),
            Row::skip(as_id, "no protected-resource metadata"),
        ];
    };
    let mut prm_row = prm_row(p, &prm_url, &json, tried);
    if let Some(note) = note {
        prm_row.evidence.push(note);
    }
    let servers: Vec<String> = json
        .get("authorization_servers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let as_row = authorization_server_row(p, &servers).await;
    vec![prm_row, as_row]
}

fn prm_row(p: &Probe<'_>, url: &Url, json: &Value, tried: Vec<String>) -> Row {
    let id = CheckId::DiscoveryProtectedResource;
    let expected = expected_origin(p);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if url.scheme() != "https" {
        if p.via == Via::PortForward {
            warnings.push(
                "fetched over port-forward (http); clients fetch it over the Route".to_owned(),
            );
        } else {
            problems.push(format!("{url} is not https"));
        }
    }
    match json.get("resource").and_then(Value::as_str) {
        None => warnings.push("no \"resource\" field (servers before upstream PR #1427 omit it; MCP Inspector 2 rejects such metadata)".into()),
        Some(resource) => {
            let ok = Url::parse(resource)
                .is_ok_and(|r| origin(&r) == expected);
            if !ok {
                problems.push(format!(
                    "resource {resource:?} is not on {expected}: set server_url = {expected:?}"
                ));
            }
        }
    }
    let servers: Vec<&str> = json
        .get("authorization_servers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if servers.is_empty() {
        problems.push("no authorization_servers".into());
    }
    let issuer = p
        .config
        .and_then(|c| c.authorization_url.as_deref())
        .map(|s| s.trim_end_matches('/').to_owned());
    for server in &servers {
        let trimmed = server.trim_end_matches('/');
        let parsed = Url::parse(server).ok();
        let loopback = parsed.as_ref().is_some_and(is_loopback_host);
        if !server.starts_with("https://") {
            if loopback {
                warnings.push(format!(
                    "authorization server {server} is plain http (loopback)"
                ));
            } else {
                problems.push(format!("authorization server {server} is not https"));
            }
        }
        let known = issuer.as_deref().is_none_or(|i| i == trimmed)
            || trimmed == expected
            || parsed.as_ref().is_some_and(|u| origin(u) == origin(&p.url));
        if !known {
            problems.push(format!(
                "authorization server {server} is neither authorization_url {} nor this server",
                issuer.as_deref().unwrap_or("")
            ));
        }
    }
    let summary = format!(
        "resource {}, authorization_servers [{}]",
        json.get("resource")
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
        servers.join(", ")
    );
    let row = if !problems.is_empty() {
        Row::fail(id).fix(problems.join("; "))
    } else if !warnings.is_empty() {
        Row::warn(id).fix(warnings.join("; "))
    } else {
        Row::pass(id)
    };
    row.evidence_lines(tried).evidence(summary)
}

/// RFC 8414 / OIDC discovery URLs for an issuer, in the TS SDK's order.
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = origin(&url);
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

async fn authorization_server_row(p: &Probe<'_>, servers: &[String]) -> Row {
    let id = CheckId::DiscoveryAuthorizationServer;
    let configured = p
        .config
        .and_then(|c| c.authorization_url.as_deref())
        .map(|s| s.trim_end_matches('/').to_owned());
    let Some(server) = servers.first().cloned().or_else(|| configured.clone()) else {
        return Row::skip(id, "no authorization server named");
    };
    let mut tried = Vec::new();
    let mut found: Option<(String, Value)> = None;
    for candidate in metadata_urls(&server) {
        let Ok(url) = Url::parse(&candidate) else {
            continue;
        };
        let client = match p.http.client_for(&url).await {
            Ok(c) => c,
            Err(e) => {
                tried.push(format!("{candidate}: {e}"));
                continue;
            }
        };
        match get_json(&client, &url).await {
            Ok((answer, Some(json))) if answer.status == 200 && json.get("issuer").is_some() => {
                tried.push(format!("GET {candidate}: 200"));
                found = Some((candidate, json));
                break;
            }
            Ok((answer, _)) => tried.push(format!("GET {candidate}: {}", answer.status_line())),
            Err(e) => tried.push(format!("GET {candidate}: {e}")),
        }
    }
    let Some((_, json)) = found else {
        return Row::fail(id)
            .evidence_lines(tried)
            .fix("no authorization-server metadata: clients cannot log in; check that the issuer URL is right and reachable");
    };
    let issuer = json
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let expected = configured.unwrap_or_else(|| server.trim_end_matches('/').to_owned());
    let mut row = if issuer == expected {
        Row::pass(id)
    } else {
        Row::fail(id).fix(format!(
            "the metadata's issuer {issuer:?} is not authorization_url {expected:?}: tokens would fail validation; set authorization_url to the issuer exactly"
        ))
    };
    row = row.evidence_lines(tried).evidence(format!(
        "issuer {issuer}, authorization_endpoint {}, token_endpoint {}",
        json.get("authorization_endpoint")
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
        json.get("token_endpoint")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
    ));
    if row.status == Status::Pass && server.trim_end_matches('/') != issuer {
        row.evidence.push(format!(
            "the protected-resource metadata names {server}, whose metadata has issuer {issuer}: strict RFC 8414 clients may object"
        ));
    }
    row
}

// ---- 8-9. Authenticated ----

async fn session_rows(p: &Probe<'_>, client: &reqwest::Client) -> Vec<Row> {
    let mut rows = Vec::new();
    let token = match &p.token {
        Ok(t) => t,
        Err(why) => {
            for id in [
                CheckId::McpInitialize,
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ] {
                rows.push(Row::skip(id, why.clone()));
            }
            return rows;
        }
    };
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&token.secret),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            let row = Row::fail(CheckId::McpInitialize).evidence(format!(
                "initialize with the token from {}: {e}",
                token.source
            ));
            rows.push(match e {
                ConnectError::Rejected { .. } => row.class(FailureClass::Auth).fix(match p.mode {
                    Some(AuthMode::Entra | AuthMode::Oidc) => "the server rejected the token: it must be a JWT from authorization_url for oauth_audience, not expired (get one with `oc mcp-client token` or your IdP)",
                    _ => "the token was rejected: log in again (`oc login`) or pass a fresh token",
                }),
                ConnectError::Unreachable(_) => row.class(FailureClass::Unreachable),
                ConnectError::Other(ref m) if m.contains("HTTP 50") => row.fix("the server is not answering behind the router: see endpoint.health and cluster.pods"),
                ConnectError::Other(_) => row.fix("the endpoint does not speak MCP streamable HTTP here: check the URL path (/mcp)"),
            });
            for id in [
                CheckId::McpTools,
                CheckId::PassthroughUser,
                CheckId::PassthroughDenied,
            ] {
                rows.push(Row::skip(id, "initialize failed"));
            }
            return rows;
        }
    };
    rows.push(initialize_row(&session, token));
    let tools = session.tools().await;
    rows.push(tools_row(&tools));
    let has_read_tool = tools
        .as_ref()
        .is_ok_and(|t| t.iter().any(|tool| tool.name == READ_TOOL));
    rows.push(if has_read_tool {
        user_row(&session, token).await
    } else {
        Row::skip(
            CheckId::PassthroughUser,
            format!("the server does not offer {READ_TOOL}"),
        )
    });
    session.close().await;
    rows.push(if has_read_tool {
        denied_row(p, client).await
    } else {
        Row::skip(
            CheckId::PassthroughDenied,
            format!("the server does not offer {READ_TOOL}"),
        )
    });
    rows
}

fn initialize_row(session: &Session, token: &Token) -> Row {
    let id = CheckId::McpInitialize;
    let Some(peer) = session.peer() else {
        return Row::fail(id).evidence("initialize returned no server information");
    };
    let server = peer.server_info.as_ref().map_or_else(
        || "<no serverInfo>".to_owned(),
        |i| {
            format!(
                "{} {}",
                i.name,
                if i.version.is_empty() {
                    "<no version>"
                } else {
                    &i.version
                }
            )
        },
    );
    let session_line = session.session_id.as_ref().map_or_else(
        || "no Mcp-Session-Id (stateless server)".to_owned(),
        |s| format!("Mcp-Session-Id issued ({} chars)", s.len()),
    );
    Row::pass(id)
        .evidence(format!(
            "200 with the token from {}: protocol {}, server {server}",
            token.source, peer.protocol_version
        ))
        .evidence(format!("{session_line}; notifications/initialized sent"))
}

fn tools_row(tools: &std::result::Result<Vec<rmcp::model::Tool>, String>) -> Row {
    let id = CheckId::McpTools;
    let tools = match tools {
        Ok(t) => t,
        Err(e) => return Row::fail(id).evidence(format!("tools/list: {e}")),
    };
    if tools.is_empty() {
        return Row::fail(id)
            .evidence("tools/list returned no tools")
            .fix("check toolsets, enabled_tools and disabled_tools in the config");
    }
    let unsafe_tools: Vec<String> = tools
        .iter()
        .filter(|t| {
            let a = t.annotations.as_ref();
            a.and_then(|a| a.read_only_hint) != Some(true)
                || a.and_then(|a| a.destructive_hint) == Some(true)
        })
        .map(|t| {
            // MCP's defaults: readOnlyHint false, destructiveHint true unless said otherwise.
            let a = t.annotations.as_ref();
            let what = if a.and_then(|a| a.destructive_hint) == Some(true)
                || (a.and_then(|a| a.read_only_hint) != Some(true)
                    && a.and_then(|a| a.destructive_hint) != Some(false))
            {
                "destructive"
            } else {
                "writes"
            };
            format!("{} ({what})", t.name)
        })
        .collect();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    if unsafe_tools.is_empty() {
        Row::pass(id).evidence(format!(
            "{} tools, all read-only: {}",
            tools.len(),
            names.join(" ")
        ))
    } else {
        Row::fail(id)
            .evidence(format!(
                "{} of {} tools are not read-only: {}",
                unsafe_tools.len(),
                tools.len(),
                unsafe_tools.join(", ")
            ))
            .fix("set read_only = true and disable_destructive = true in config.toml (re-run `oc mcp-install`)")
    }
}

async fn user_row(session: &Session, token: &Token) -> Row {
    let id = CheckId::PassthroughUser;
    match session.call(READ_TOOL, serde_json::Map::new()).await {
        Err(e) => Row::fail(id).evidence(format!("tools/call {READ_TOOL}: {e}")),
        Ok(result) => {
            let text = result_text(&result);
            let excerpt = shorten(text.lines().next().unwrap_or(""), 120);
            if result.is_error != Some(true) {
                return Row::pass(id).evidence(format!(
                    "{READ_TOOL} with the token from {}: {} lines of output, e.g. {excerpt:?}",
                    token.source,
                    text.lines().count()
                ));
            }
            let row = Row::fail(id).evidence(format!(
                "{READ_TOOL} with the token from {}: {}",
                token.source,
                shorten(&text, 240)
            ));
            match refusal(&text) {
                Some(Refusal::Unauthenticated) => row
                    .class(FailureClass::Auth)
                    .fix("the API server rejected the token the server passed through: log in again, or (entra/oidc) make the cluster trust the issuer or configure token exchange"),
                Some(Refusal::Forbidden) => row.fix("the token's user may not list namespaces: bind its group with `oc mcp-rbac bind <group>`"),
                None => row.fix("the tool failed: see the server log"),
            }
        }
    }
}

async fn denied_row(p: &Probe<'_>, client: &reqwest::Client) -> Row {
    let id = CheckId::PassthroughDenied;
    let Some(denied) = &p.denied else {
        return Row::skip(
            id,
            "pass a token of a user outside the bound groups with --denied-token-stdin, --denied-token-env or --denied-token-file",
        );
    };
    let session = match Session::connect(
        client.clone(),
        p.url.as_str(),
        Some(&denied.secret),
        p.http.timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(ConnectError::Rejected { challenge }) => {
            return Row::warn(id)
                .evidence(format!("initialize with the denied token ({}) was rejected: {challenge}", denied.source))
                .fix("inconclusive: use a token the server accepts but the cluster does not authorize (an unbound user's, not an invalid one)");
        }
        Err(e) => return Row::fail(id).evidence(format!("initialize with the denied token: {e}")),
    };
    let outcome = session.call(READ_TOOL, serde_json::Map::new()).await;
    session.close().await;
    match outcome {
        Err(e) => {
            Row::fail(id).evidence(format!("tools/call {READ_TOOL} with the denied token: {e}"))
        }
        Ok(result) => {
            let text = shorten(&result_text(&result), 240);
            match (result.is_error == Some(true), refusal(&text)) {
                (true, Some(Refusal::Forbidden)) => Row::pass(id).evidence(format!(
                    "{READ_TOOL} with the denied token from {} was refused by the cluster: {text}",
                    denied.source
                )),
                (true, Some(Refusal::Unauthenticated)) => Row::warn(id)
                    .evidence(format!("{READ_TOOL} with the denied token: {text}"))
                    .fix("the cluster did not recognise the denied token at all; use a valid token of an unbound user to prove authorization"),
                (true, None) => Row::warn(id)
                    .evidence(format!("{READ_TOOL} with the denied token failed: {text}"))
                    .fix("expected a Forbidden from the API server"),
                (false, _) => Row::fail(id)
                    .evidence(format!("{READ_TOOL} with the denied token from {} succeeded", denied.source))
                    .fix("the server does not use the caller's identity (cluster_auth_mode must be \"passthrough\"), or that user is bound after all (`oc mcp-rbac status`)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_names() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(1_795_651_200), "2026-11-26");
        assert!(name_matches("*.apps.example.com", "mcp.apps.example.com"));
        assert!(!name_matches("*.apps.example.com", "a.b.apps.example.com"));
        assert!(!name_matches("*.apps.example.com", "apps.example.com"));
        assert!(name_matches("MCP.example.com", "mcp.example.com"));
    }

    #[test]
    fn challenge_parameters() {
        let c =
            r#"Bearer realm="Kubernetes MCP Server", audience="mcp-server", error="missing_token""#;
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
    fn metadata_urls_follow_the_sdk_order() {
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
    fn refusals_are_classified() {
        assert_eq!(
            refusal(
                "failed to list namespaces: the server has asked for the client to provide credentials"
            ),
            Some(Refusal::Unauthenticated)
        );
        assert_eq!(
            refusal(
                "namespaces is forbidden: User \"outsider\" cannot list resource \"namespaces\""
            ),
            Some(Refusal::Forbidden)
        );
        assert_eq!(refusal("NAME AGE\ndefault 1d"), None);
    }
}
