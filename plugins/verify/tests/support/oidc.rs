//! A small OIDC issuer over HTTPS on loopback (discovery + JWKS, ES256), with its own CA, and
//! a way to mint tokens for test users. The real server and the sandbox API server both
//! validate its tokens.

use std::{net::SocketAddr, sync::Arc};

use base64::Engine as _;
use http_body_util::Full;
use hyper::{Request, Response, body::Bytes};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    SanType,
};
use serde_json::{Value, json};

/// A running issuer; dropping it stops serving.
pub struct Issuer {
    pub url: String,
    /// The CA that signed the issuer's serving certificate.
    pub ca_pem: String,
    key: EncodingKey,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

impl Issuer {
    pub async fn start() -> Self {
        oc_mcp_common::install_crypto_provider();
        // PKI: a CA and a serving certificate for 127.0.0.1.
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "verify-test-issuer-ca");
        ca_params.distinguished_name = dn;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
        let mut leaf = CertificateParams::new(Vec::<String>::new()).expect("params");
        leaf.subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        leaf.is_ca = IsCa::ExplicitNoCa;
        let leaf_key = KeyPair::generate().expect("key");
        let cert = leaf.signed_by(&leaf_key, &ca).expect("leaf");
        let chain = vec![
            rustls::pki_types::CertificateDer::from(cert.der().to_vec()),
            rustls::pki_types::CertificateDer::from(ca.der().to_vec()),
        ];
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        );
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("tls");
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        // Signing key and its JWKS.
        let signing = KeyPair::generate().expect("P-256 key");
        let raw = signing.public_key_raw();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]),
            "y": b64(&raw[33..65]), "kid": "k1", "alg": "ES256", "use": "sig"}]});

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let url = format!("https://{addr}");
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "scopes_supported": ["openid", "profile", "groups"],
            "code_challenge_methods_supported": ["S256"],
        });
        let docs = Arc::new((discovery, jwks));
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let docs = docs.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let docs = docs.clone();
                            async move {
                                Ok::<_, std::convert::Infallible>(answer(req.uri().path(), &docs))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Issuer {
            url,
            ca_pem: ca.pem(),
            key: EncodingKey::from_ec_pem(signing.serialize_pem().as_bytes()).expect("key"),
            task,
        }
    }

    /// A token for `sub` in `groups`, for `aud`, expiring `ttl` seconds from now (negative:
    /// already expired).
    pub fn mint(&self, sub: &str, groups: &[&str], aud: &str, ttl: i64) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        let claims = json!({"iss": self.url, "sub": sub, "aud": aud, "groups": groups,
            "iat": now() - 60, "nbf": now() - 60, "exp": now() + ttl});
        jsonwebtoken::encode(&header, &claims, &self.key).expect("sign")
    }
}

fn answer(path: &str, docs: &(Value, Value)) -> Response<Full<Bytes>> {
    let json = |v: &Value| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())))
            .expect("response")
    };
    match path {
        "/.well-known/openid-configuration" => json(&docs.0),
        "/jwks" => json(&docs.1),
        _ => Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"404 page not found\n")))
            .expect("response"),
    }
}
