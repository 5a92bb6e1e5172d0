//! The crate's integration tests, one module per file, linked as one test binary.

mod common;

mod config;
mod help;
mod sandbox_server;
mod token;
