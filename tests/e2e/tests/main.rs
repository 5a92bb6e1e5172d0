//! The crate's integration tests, one module per file, linked as one test binary.

mod attack_matrix;
mod bad_input;
mod cmd_docs;
mod concurrency;
mod conformance;
mod faults;
mod file_references;
mod guide;
mod krew;
mod leaks;
mod least_privilege;
mod members;
mod oauth_login;
mod plugins;
mod readme;
mod real_clients;
mod round_trips;
mod scoped_tokens;
