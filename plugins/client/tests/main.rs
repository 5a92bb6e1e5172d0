//! The crate's integration tests, one module per file, linked as one test binary.

mod common;

mod client_files;
mod config;
mod more_clients;
mod props;
mod sandbox_server;
mod token;
