//! Reading a JWT's claims without verifying them: the server verifies; a client only needs
//! `aud`, `exp` and `nonce` to pick a token and to say what it got.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

pub type Claims = serde_json::Map<String, serde_json::Value>;

/// The claims of a JWT, unverified; `None` for anything that is not a JWT (an opaque token).
pub fn jwt_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The JWT's `aud`, a string or a list, as a list (empty when it has none).
pub fn audiences(claims: &Claims) -> Vec<&str> {
    match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => vec![aud.as_str()],
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether the JWT's `aud` names `audience`.
pub fn has_audience(claims: &Claims, audience: &str) -> bool {
    audiences(claims).contains(&audience)
}

/// The JWT's `exp`, in seconds since the epoch.
pub fn expiry(claims: &Claims) -> Option<u64> {
    claims.get("exp").and_then(serde_json::Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_read_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"aud":["x","api"],"exp":42}"#);
        let token = format!("e30.{payload}.sig");
        let claims = jwt_claims(&token).expect("claims");
        assert!(has_audience(&claims, "api"));
        assert!(!has_audience(&claims, "other"));
        assert_eq!(audiences(&claims), ["x", "api"]);
        assert_eq!(expiry(&claims), Some(42));
        let single = URL_SAFE_NO_PAD.encode(br#"{"aud":"https://h/mcp"}"#);
        let claims = jwt_claims(&format!("e30.{single}.sig")).expect("claims");
        assert_eq!(audiences(&claims), ["https://h/mcp"]);
        assert!(jwt_claims("sha256~opaque").is_none());
        assert!(jwt_claims("a.b.c.d").is_none());
    }
}
