//! OAuth 2.0 logins for `token`: discovery, what to ask for, the token cache; PKCE, the
//! loopback redirect and the browser are `oc_mcp_common::login`'s.

pub mod cache;
pub mod discovery;
pub mod flow;
pub mod request;
