//! TLS: the certificate the endpoint serves, its names and its expiry.

use oc_mcp_common::error::{CertificateProblem, Transport};

use super::{Probe, Via};
use crate::{
    checks::CheckId,
    http::{Answer, Failure, is_loopback_host},
    report::Row,
};

/// A Unix time as a calendar date (UTC), as the report shows a certificate's expiry.
pub(super) fn civil_date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(
        |_| format!("{unix} s after the epoch"),
        |t| t.strftime("%Y-%m-%d").to_string(),
    )
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

pub(super) fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub(super) fn tls_row(
    p: &Probe<'_>,
    answer: Option<&Answer>,
    verify_error: Option<&Failure>,
) -> Row {
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
    if let Some(failure) = verify_error {
        let mut row = Row::fail(id)
            .evidence(format!("TLS verification failed: {}", failure.message))
            .evidence_lines(evidence);
        row = row.fix(match failure.transport {
            Transport::Certificate(CertificateProblem::UnknownIssuer) => {
                "the certificate's CA is not trusted here: pass --endpoint-ca with the router's CA (oc get secret -n openshift-ingress-operator router-ca -o jsonpath='{.data.tls\\.crt}' | base64 -d)"
            }
            Transport::Certificate(CertificateProblem::WrongName) => {
                "the certificate does not cover the host: give the Route a certificate for it, or use the router's default wildcard domain"
            }
            _ => "give the Route a valid certificate, or pass --endpoint-ca with its CA",
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
