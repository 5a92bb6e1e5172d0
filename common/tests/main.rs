//! The crate's integration tests, one module per file, linked as one test binary.

mod kube_args;
mod plan_apply;
mod props;
mod retry;
mod server_config_real_server;
