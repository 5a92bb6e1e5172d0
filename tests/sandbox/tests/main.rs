//! The crate's integration tests, one module per file, linked as one test binary.

mod common;

mod bad_requests;
mod faults;
mod helm;
mod kube_rs;
mod kubectl;
mod kubernetes_flavour;
// Reads /proc/net and /proc/<pid>/fd.
#[cfg(target_os = "linux")]
mod loopback;
mod mcp_server;
mod oauth_server;
mod oidc;
mod oidc_issuer;
mod portforward;
mod rbac_table;
mod router_address;
mod routes;
mod serve_bin;
mod workloads;
