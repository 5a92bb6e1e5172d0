//! The router's serving certificates: a Route's own certificate when it has one, else the
//! `*.<apps domain>` one, else one minted for the SNI, chosen per TLS handshake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{admitted_routes, s};
use crate::server::State;
use crate::tls::Ca;

/// Chooses the serving certificate by SNI.
struct SniResolver {
    state: Arc<State>,
    ca: Arc<Ca>,
    default: Arc<rustls::sign::CertifiedKey>,
    /// What the Kubernetes flavour's ingress controller presents for hosts without a
    /// usable TLS Secret: a certificate no client trusts.
    fake: Arc<rustls::sign::CertifiedKey>,
    cache: Mutex<HashMap<String, Arc<rustls::sign::CertifiedKey>>>,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver").finish_non_exhaustive()
    }
}

fn route_key(route: &Value) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let cert = s(route, "/spec/tls/certificate");
    let key = s(route, "/spec/tls/key");
    if cert.is_empty() || key.is_empty() {
        return None;
    }
    key_from_pem(cert.as_bytes(), key.as_bytes())
}

/// A serving key from a PEM chain and key (a Route's or a TLS Secret's); `None` when
/// either does not parse.
pub fn key_from_pem(cert: &[u8], key: &[u8]) -> Option<Arc<rustls::sign::CertifiedKey>> {
    use rustls::pki_types::pem::PemObject as _;
    let chain: Vec<rustls::pki_types::CertificateDer<'static>> =
        rustls::pki_types::CertificateDer::pem_slice_iter(cert)
            .filter_map(Result::ok)
            .collect();
    if chain.is_empty() {
        return None;
    }
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key).ok()?;
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)
        .ok()?;
    Some(Arc::new(rustls::sign::CertifiedKey::new(chain, signing)))
}

impl rustls::server::ResolvesServerCert for SniResolver {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if !self.state.flavour.is_openshift() {
            let key = hello
                .server_name()
                .and_then(|sni| crate::ingress::certified_key(&self.state.store(), sni));
            return Some(key.unwrap_or_else(|| self.fake.clone()));
        }
        let Some(sni) = hello.server_name().map(str::to_ascii_lowercase) else {
            return Some(self.default.clone());
        };
        if let Some(k) = admitted_routes(&self.state)
            .iter()
            .find(|r| s(r, "/spec/host").eq_ignore_ascii_case(&sni))
            .and_then(route_key)
        {
            return Some(k);
        }
        let domain = self.state.apps_domain.to_ascii_lowercase();
        if sni
            .strip_suffix(&format!(".{domain}"))
            .is_some_and(|label| !label.contains('.'))
        {
            return Some(self.default.clone());
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = cache.get(&sni) {
            return Some(k.clone());
        }
        let k = self.ca.certified_key(std::slice::from_ref(&sni)).ok()?;
        cache.insert(sni, k.clone());
        Some(k)
    }
}

/// The router's TLS configuration.
pub fn tls_config(
    state: Arc<State>,
    ca: Arc<Ca>,
) -> Result<Arc<rustls::ServerConfig>, crate::tls::TlsError> {
    let domain = state.apps_domain.clone();
    let default = ca.certified_key(&[
        format!("*.{domain}"),
        domain,
        "localhost".into(),
        "127.0.0.1".into(),
    ])?;
    let fake = crate::tls::self_signed_key("Kubernetes Ingress Controller Fake Certificate")?;
    let resolver = SniResolver {
        state,
        ca,
        default,
        fake,
        cache: Mutex::new(HashMap::new()),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
