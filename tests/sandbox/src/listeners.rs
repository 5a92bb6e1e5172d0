//! The sandbox's listeners: binding them, and the API server's accept loop. All are on
//! loopback: the API server and the OIDC issuer on 127.0.0.1, the router on
//! `SandboxConfig::router_addr` (127.0.0.1 unless a demo gives it an address of its own, so
//! an editor can reach `https://<route host>/mcp` on port 443). A failed bind names the
//! address and what usually fixes it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use crate::sandbox::SandboxError;

/// The non-blocking listeners of one sandbox and their bound addresses.
pub(crate) struct Listeners {
    pub api: (TcpListener, SocketAddr),
    pub router_https: (TcpListener, SocketAddr),
    pub router_http: (TcpListener, SocketAddr),
    pub issuer: (TcpListener, SocketAddr),
}

/// Bind them all: the API server on `api_port`, the router's HTTPS listener on
/// `router_addr:router_https_port` and its HTTP listener on an ephemeral port of the same
/// address (port 0: ephemeral). Refuses a router address off loopback before binding.
pub(crate) fn bind_all(
    api_port: u16,
    router_addr: IpAddr,
    router_https_port: u16,
) -> Result<Listeners, SandboxError> {
    check_loopback("router_addr", router_addr)?;
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    Ok(Listeners {
        api: bind(SocketAddr::new(localhost, api_port), "API server")?,
        router_https: bind(
            SocketAddr::new(router_addr, router_https_port),
            "router HTTPS",
        )?,
        router_http: bind(SocketAddr::new(router_addr, 0), "router HTTP")?,
        issuer: bind(SocketAddr::new(localhost, 0), "OIDC issuer")?,
    })
}

/// `Config` error unless `ip` is loopback (127.0.0.0/8 or ::1): the sandbox listens
/// nowhere else.
pub(crate) fn check_loopback(field: &str, ip: IpAddr) -> Result<(), SandboxError> {
    if ip.is_loopback() {
        Ok(())
    } else {
        Err(SandboxError::Config(format!(
            "{field} {ip} is not a loopback address (use one of 127.0.0.0/8 or ::1)"
        )))
    }
}

fn bind(addr: SocketAddr, what: &'static str) -> Result<(TcpListener, SocketAddr), SandboxError> {
    let listen_error = |source: std::io::Error| SandboxError::Listen {
        what,
        addr,
        hint: hint(&source, addr),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    Ok((listener, bound))
}

/// What to do about a failed bind. The leading words are stable: `cargo xtask demo` matches
/// them to name its own flags.
fn hint(e: &std::io::Error, addr: SocketAddr) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
            "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE; grant the \
             capability or use a port of 1024 or above"
                .into()
        }
        std::io::ErrorKind::AddrInUse => {
            "address in use: another process listens there; stop it or pick another port".into()
        }
        std::io::ErrorKind::AddrNotAvailable => format!(
            "address not available: {} is not configured on this machine (macOS has only \
             127.0.0.1 unless aliased: sudo ifconfig lo0 alias {})",
            addr.ip(),
            addr.ip()
        ),
        _ => "cannot bind".into(),
    }
}

/// The API server's accept loop: TLS, then HTTP/1.1 with upgrades (exec, port-forward,
/// watch), until `stop` fires.
pub(crate) async fn serve_api(
    listener: tokio::net::TcpListener,
    tls: std::sync::Arc<rustls::ServerConfig>,
    state: std::sync::Arc<crate::server::State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stop => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc =
                hyper::service::service_fn(move |req| crate::server::handle(state.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .with_upgrades()
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_router_address_off_loopback() {
        for ip in ["0.0.0.0", "192.0.2.1", "::", "10.0.0.1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            let err = bind_all(0, ip, 0).err().expect("refused");
            assert!(
                err.to_string().contains("not a loopback address"),
                "{ip}: {err}"
            );
        }
    }

    #[test]
    fn hints_name_the_fix() {
        let addr: SocketAddr = "127.77.0.1:443".parse().expect("addr");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(hint(&denied, addr).contains("CAP_NET_BIND_SERVICE"));
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert!(hint(&in_use, addr).starts_with("address in use"));
        let missing = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
        assert!(hint(&missing, addr).contains("ifconfig lo0 alias 127.77.0.1"));
    }

    // Only Linux routes all of 127.0.0.0/8 to loopback without configuration.
    #[cfg(target_os = "linux")]
    #[test]
    fn binds_the_router_on_the_address_given() {
        let ip: IpAddr = "127.77.0.3".parse().expect("ip");
        let l = bind_all(0, ip, 0).expect("bound");
        assert_eq!(l.router_https.1.ip(), ip);
        assert_eq!(l.router_http.1.ip(), ip);
        assert_eq!(l.api.1.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(l.router_https.1.port(), 0);
    }
}
