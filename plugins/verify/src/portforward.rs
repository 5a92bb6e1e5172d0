//! `--port-forward`: a loopback listener whose every connection is a native port-forward
//! (kube-rs over WebSocket) to one pod of the server. The server sees a loopback `Host`, which
//! its DNS-rebinding protection accepts.

use std::net::SocketAddr;

use k8s_openapi::{
    api::core::v1::{Pod, Service},
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::{Api, Client, ResourceExt};
use oc_mcp_common::{Error, Result, error::describe_chain};
use tokio::{net::TcpListener, task::JoinHandle};

/// A running forward; dropping it stops listening.
#[derive(Debug)]
pub struct Forward {
    pub local: SocketAddr,
    pub pod: String,
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The container port the Service sends traffic to on `pod`.
pub fn target_port(service: Option<&Service>, pod: &Pod) -> Option<u16> {
    let containers = &pod.spec.as_ref()?.containers;
    let ports: Vec<_> = containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    let service_port = service
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first());
    if let Some(sp) = service_port {
        match &sp.target_port {
            Some(IntOrString::Int(n)) => return u16::try_from(*n).ok(),
            Some(IntOrString::String(name)) => {
                return ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .and_then(|p| u16::try_from(p.container_port).ok());
            }
            None => return u16::try_from(sp.port).ok(),
        }
    }
    ports
        .first()
        .and_then(|p| u16::try_from(p.container_port).ok())
}

/// Why the first forward failed, by the error's type: the API server answers the WebSocket
/// upgrade with 403 when RBAC refuses `pods/portforward`; anything else is the way there.
fn refused_forward(pod: &str, namespace: &str, err: kube::Error) -> Error {
    let forbidden = matches!(
        &err,
        kube::Error::UpgradeConnection(kube::client::UpgradeConnectionError::ProtocolSwitch(status))
            if *status == http::StatusCode::FORBIDDEN
    ) || matches!(&err, kube::Error::Api(status) if status.code == 403);
    if forbidden {
        Error::Forbidden {
            message: format!(
                "port-forward to pod/{pod} in {namespace}: {}",
                describe_chain(&err)
            ),
        }
    } else {
        Error::unreachable(format!("pod/{pod} through port-forward"), err)
    }
}

/// Listen on 127.0.0.1 (an ephemeral port) and forward each connection to `pod:port`.
pub async fn start(client: Client, namespace: &str, pod: &str, port: u16) -> Result<Forward> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    // One forward up front, so a refusal (RBAC, no such pod) is reported now.
    let mut check = pods
        .portforward(pod, &[port])
        .await
        .map_err(|e| refused_forward(pod, namespace, e))?;
    drop(check.take_stream(port));
    check.abort();
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Error::io("listening on 127.0.0.1 for --port-forward", e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the port-forward address", e))?;
    let name = pod.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let pods = pods.clone();
            let name = name.clone();
            tokio::spawn(async move {
                let mut forwarder = match pods.portforward(&name, &[port]).await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!("port-forward to pod/{name}: {}", describe_chain(&e));
                        return;
                    }
                };
                let Some(mut upstream) = forwarder.take_stream(port) else {
                    return;
                };
                if let Err(e) = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await {
                    tracing::debug!("port-forward connection ended: {e}");
                }
                drop(upstream);
                let _ = forwarder.join().await;
            });
        }
    });
    Ok(Forward {
        local,
        pod: pod.to_owned(),
        port,
        task,
    })
}

/// A ready pod (else any running one) to forward to.
pub fn pick_pod(pods: &[Pod]) -> Option<&Pod> {
    let ready = |p: &&Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    pods.iter().find(ready).or_else(|| {
        pods.iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
}

/// The name, for messages.
pub fn pod_name(pod: &Pod) -> String {
    pod.name_any()
}
