//! OAuth discovery: the protected-resource metadata and the authorization server it names,
//! as the auth mode expects.

use oc_mcp_common::server_config::AuthMode;
use reqwest::Url;
use serde_json::Value;

use super::{Probe, Via};
use crate::{
    checks::CheckId,
    http::{Answer, is_loopback_host, join, origin, send, shorten},
    report::{Row, Status},
};

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

pub(super) async fn get_json(
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
pub(super) fn expected_origin(p: &Probe<'_>) -> String {
    p.public_host
        .as_ref()
        .map_or_else(|| origin(&p.url), |h| format!("https://{h}"))
}

/// openshift mode: no OAuth metadata is expected (404), which is worth saying.
pub(super) async fn openshift_discovery_rows(p: &Probe<'_>, client: &reqwest::Client) -> Vec<Row> {
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
pub(super) async fn fetch_first_json(
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

pub(super) async fn discovery_rows(
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
    let header_url = crate::audience::challenge_metadata_url(&p.url, challenge);
    match &header_url {
        Some(Ok(u)) => candidates.push(u.clone()),
        Some(Err(why)) => tried.push(why.clone()),
        None => {}
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

pub(super) fn prm_row(p: &Probe<'_>, url: &Url, json: &Value, tried: Vec<String>) -> Row {
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

pub(super) async fn authorization_server_row(p: &Probe<'_>, servers: &[String]) -> Row {
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
