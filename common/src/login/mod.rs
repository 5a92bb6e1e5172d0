//! The native-app login both `oc mcp-client token` and `oc mcp-verify --login` perform:
//! PKCE S256 (RFC 7636), the authorize URL, the loopback redirect listener (RFC 8252
//! section 7.3), the user's browser, and reading the returned JWT's claims unverified.

pub mod authorize;
pub mod browser;
pub mod jwt;
pub mod loopback;
pub mod pkce;
