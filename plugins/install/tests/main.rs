//! The crate's integration tests, one module per file, linked as one test binary.

mod safe_state;
mod sandbox;
mod support;
