//! What went wrong on the way to a server, read from the error's typed sources: a TLS
//! certificate the trust store refused (and why), a timeout, or the connection itself.
//!
//! The kind is decided once, when the error is made, by walking its `source()` chain and
//! downcasting; the hint follows from the kind, never from the error's text.

use std::error::Error as StdError;

use rustls::CertificateError;

/// Why a server could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The TLS handshake refused the server's certificate.
    Certificate(CertificateProblem),
    /// The TLS handshake failed otherwise (no TLS on the other end, no common protocol).
    Handshake,
    /// No answer in time.
    Timeout,
    /// Anything else: refused, reset, no route, a DNS failure, a proxy.
    Connection,
}

/// Which rule the server's certificate broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a CA in the trust store (the usual wrong or missing CA): no trusted
    /// issuer of that name, or one of that name whose key did not make the signature.
    UnknownIssuer,
    /// Issued for another host name.
    WrongName,
    /// Expired or not valid yet.
    OutsideValidity,
    /// The server presents a CA certificate as its own (a self-signed API server
    /// certificate with the CA flag set, configured as its own CA).
    CaAsServerCertificate,
    /// Any other refusal.
    Other,
}

impl Transport {
    /// A TLS failure of either kind.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Certificate(_) | Self::Handshake)
    }

    /// Classify an error by its typed sources.
    pub fn of(err: &(dyn StdError + 'static)) -> Self {
        let (mut timeout, mut handshake) = (false, false);
        for node in chain(err) {
            if let Some(problem) = certificate_problem(node) {
                return Self::Certificate(problem);
            }
            timeout |= is_timeout(node);
            handshake |= node.is::<rustls::Error>();
        }
        if handshake {
            Self::Handshake
        } else if timeout {
            Self::Timeout
        } else {
            Self::Connection
        }
    }

    /// What the user should do next.
    pub fn hint(self) -> &'static str {
        match self {
            Self::Certificate(CertificateProblem::UnknownIssuer) => {
                "the server's TLS certificate is not signed by the CA you trust: check \
                 certificate-authority in the kubeconfig (or --certificate-authority), \
                 or log in again to refresh it"
            }
            Self::Certificate(CertificateProblem::WrongName) => {
                "the server's TLS certificate is for another host name: check the server \
                 address (a load balancer or proxy in between presents its own certificate)"
            }
            Self::Certificate(CertificateProblem::OutsideValidity) => {
                "the server's TLS certificate has expired or is not valid yet: check this \
                 machine's clock, then ask the cluster's administrator to renew it"
            }
            Self::Certificate(CertificateProblem::CaAsServerCertificate) => {
                "the server presents a CA certificate as its own: the configured CA must be \
                 the CA that signed the server's certificate, not that certificate itself; \
                 ask the cluster's administrator for the signing CA"
            }
            Self::Certificate(CertificateProblem::Other) => {
                "the server's TLS certificate was refused: check certificate-authority in \
                 the kubeconfig (or --certificate-authority)"
            }
            Self::Handshake => {
                "the TLS handshake failed: check that the address is an https endpoint \
                 (not plain HTTP) and that no proxy in between ends TLS"
            }
            Self::Timeout | Self::Connection => {
                "check the server address, your network and VPN, and `--request-timeout`"
            }
        }
    }
}

/// The error and its sources, including what an `io::Error` wraps: `io::Error::source`
/// skips the wrapped error itself (it returns that error's source), and TLS failures travel
/// through hyper as exactly such a wrapped `rustls::Error`.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    let mut wrapped: Option<&'a (dyn StdError + 'static)> = None;
    std::iter::from_fn(move || {
        let current = wrapped.take().or_else(|| next.take())?;
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn StdError + 'static) = inner;
            wrapped = Some(inner);
            next = inner.source();
        } else {
            next = current.source();
        }
        Some(current)
    })
    .take(64)
}

fn certificate_problem(node: &(dyn StdError + 'static)) -> Option<CertificateProblem> {
    let rustls::Error::InvalidCertificate(cert) = node.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    Some(match cert {
        // A bad signature is a CA of the same name but another key: a CA that is not the
        // one that signed, so the same advice.
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            CertificateProblem::UnknownIssuer
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateProblem::WrongName
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => CertificateProblem::OutsideValidity,
        CertificateError::Other(other)
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            CertificateProblem::CaAsServerCertificate
        }
        _ => CertificateProblem::Other,
    })
}

fn is_timeout(node: &(dyn StdError + 'static)) -> bool {
    node.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        || node
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        || node.is::<tokio::time::error::Elapsed>()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{CertificateError, OtherError};

    use super::{CertificateProblem, Transport};

    /// How hyper hands over a TLS failure: a `rustls::Error` inside an `io::Error` inside
    /// the client's own error.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] std::io::Error);

    fn through_hyper(cert: CertificateError) -> Outer {
        Outer(std::io::Error::other(rustls::Error::InvalidCertificate(
            cert,
        )))
    }

    #[test]
    fn certificate_refusals_are_told_apart_by_type() {
        let cases = [
            (
                CertificateError::UnknownIssuer,
                CertificateProblem::UnknownIssuer,
            ),
            (
                CertificateError::NotValidForName,
                CertificateProblem::WrongName,
            ),
            (
                CertificateError::Expired,
                CertificateProblem::OutsideValidity,
            ),
            (
                CertificateError::Other(OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity))),
                CertificateProblem::CaAsServerCertificate,
            ),
            (
                CertificateError::BadSignature,
                CertificateProblem::UnknownIssuer,
            ),
            (CertificateError::Revoked, CertificateProblem::Other),
        ];
        for (cert, problem) in cases {
            let err = through_hyper(cert);
            assert_eq!(
                Transport::of(&err),
                Transport::Certificate(problem),
                "{err:?}"
            );
        }
        let ca = Transport::Certificate(CertificateProblem::CaAsServerCertificate).hint();
        assert!(!ca.contains("not signed by the CA"), "{ca}");
    }

    #[test]
    fn timeouts_and_other_failures_are_not_certificate_problems() {
        let timeout = Outer(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(Transport::of(&timeout), Transport::Timeout);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(Transport::of(&refused), Transport::Connection);
        let plain_http = Outer(std::io::Error::other(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        )));
        assert_eq!(Transport::of(&plain_http), Transport::Handshake);
    }
}
