//! The intent of a read-only MCP role, judged from the profile it records, never from what the
//! live object says.
//!
//! - [`full_rules`] and [`minimal_rules`] are the guide's options A and B; a role made by
//!   `oc mcp-rbac role` records its profile ([`PROFILE_ANNOTATION`]) and the fingerprint of the
//!   rules as applied ([`FINGERPRINT_ANNOTATION`]).
//! - [`virtual_subject`]: subjects that are not a real group of people (everyone, anonymous,
//!   the administrators); no MCP role is ever bound to them.
//! - [`risky_grants`]: every grant of a rule list that is not a plain read, or is a read that
//!   exposes credentials, command execution or the whole API, with RBAC's wildcard semantics.
//! - [`profile_drift`]: how a live ClusterRole differs from the profile it records.
//! - [`effective_rules`]: a ClusterRole's rules with its `aggregationRule` followed.

mod drift;
mod profiles;
mod risk;
mod subjects;

pub use drift::*;
pub use profiles::*;
pub use risk::*;
pub use subjects::*;

#[cfg(test)]
mod tests;
