//! The crate's integration tests, one module per file, linked as one test binary.

mod guide_manifests;
mod intent;
mod props;
mod sandbox;
mod tools_profile;
