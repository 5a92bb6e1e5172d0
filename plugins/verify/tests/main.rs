//! The crate's integration tests, one module per file, linked as one test binary.

mod support;

mod as_whom;
mod broken;
mod client_login;
mod exposure;
mod oidc_mode;
mod openshift_mode;
mod rbac;
mod scoped_token;
