//! The crate's integration tests, one module per file, linked as one test binary.

mod common;

mod bad_input;
mod discover;
mod entra;
mod leak;
mod openshift;
mod props;
