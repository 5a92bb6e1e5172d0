//! OAuth 2.0 logins for `token`: discovery, PKCE, what to ask for, the loopback redirect, the
//! token cache.

pub mod browser;
pub mod cache;
pub mod discovery;
pub mod flow;
pub mod loopback;
pub mod pkce;
pub mod request;
