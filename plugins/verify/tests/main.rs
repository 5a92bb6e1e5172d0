//! The crate's integration tests, one module per file, linked as one test binary.

mod support;

mod broken;
mod help;
mod oidc_mode;
mod openshift_mode;
