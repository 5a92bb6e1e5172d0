//! A CA generated at start plus a leaf for 127.0.0.1/localhost. A CA + leaf pair (not a
//! self-signed leaf) is required: rustls (kube-rs) rejects a CA used as an end-entity cert.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating the sandbox certificates failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("building the TLS server configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The sandbox's PKI: PEMs to hand to clients and the server-side rustls config.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_pem: String,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
    /// The CA, to sign more serving certificates (router, OIDC issuer).
    pub ca: Arc<Ca>,
}

/// The sandbox CA's signing half.
pub struct Ca {
    issuer: rcgen::Issuer<'static, KeyPair>,
    der: Vec<u8>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A serving certificate (chain: leaf, CA) for DNS names and IP addresses.
    pub fn certified_key(
        &self,
        names: &[String],
    ) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
        let (chain, key) = self.leaf(names)?;
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(TlsError::Rustls)?;
        Ok(Arc::new(rustls::sign::CertifiedKey::new(chain, signing)))
    }

    /// A serving certificate as PEM: `(leaf then CA, PKCS#8 key)`, the `tls.crt` and
    /// `tls.key` of a `kubernetes.io/tls` Secret.
    pub fn issue_pem(&self, names: &[String]) -> Result<(String, String), TlsError> {
        let (chain, key) = self.leaf(names)?;
        let pem = |label: &str, der: &[u8]| {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let mut out = format!("-----BEGIN {label}-----\n");
            for line in b64.as_bytes().chunks(64) {
                out.push_str(&String::from_utf8_lossy(line));
                out.push('\n');
            }
            out + &format!("-----END {label}-----\n")
        };
        let certs: String = chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
        Ok((certs, pem("PRIVATE KEY", key.secret_der())))
    }

    fn leaf(
        &self,
        names: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        let mut dns = Vec::new();
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for n in names {
            match n.parse::<std::net::IpAddr>() {
                Ok(ip) => params.subject_alt_names.push(SanType::IpAddress(ip)),
                Err(_) => dns.push(n.clone()),
            }
        }
        for d in &dns {
            params
                .subject_alt_names
                .push(SanType::DnsName(d.clone().try_into()?));
        }
        params.distinguished_name = dn(names.first().map_or("oc-mcp-sandbox", String::as_str));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            vec![
                CertificateDer::from(cert.der().to_vec()),
                CertificateDer::from(self.der.clone()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        ))
    }

    /// A rustls server configuration for `names` (HTTP/1.1).
    pub fn server_config(&self, names: &[String]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (chain, key) = self.leaf(names)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// A self-signed serving certificate no client trusts: what an ingress controller presents
/// for a host it has no certificate for (ingress-nginx's "Fake Certificate").
pub fn self_signed_key(cn: &str) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
    let mut params = CertificateParams::new(vec!["ingress.local".to_string()])?;
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)
        .map_err(TlsError::Rustls)?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(
        vec![CertificateDer::from(cert.der().to_vec())],
        signing,
    )))
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d
}

pub fn generate() -> Result<Pki, TlsError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = dn("oc-mcp-sandbox-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params.clone(), ca_key)?;

    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()])?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf_params.distinguished_name = dn("127.0.0.1");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

    let chain = vec![
        CertificateDer::from(leaf.der().to_vec()),
        CertificateDer::from(ca.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // HTTP/1.1 only: every client here speaks it, and it keeps watch streaming simple.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let signer = Ca {
        issuer: rcgen::Issuer::new(ca_params, KeyPair::from_pem(&ca_key_pem)?),
        der: ca.der().to_vec(),
    };
    Ok(Pki {
        ca_pem: ca.pem(),
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
        server_config: Arc::new(cfg),
        ca: Arc::new(signer),
    })
}
