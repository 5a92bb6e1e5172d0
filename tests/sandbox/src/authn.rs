//! Authentication like kube-apiserver: a static token table (opaque OpenShift-style
//! `sha256~` tokens) and optional OIDC JWTs. Anonymous requests become `system:anonymous`.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";
/// The user's extra key where OpenShift's OAuth token authenticator puts a token's
/// scopes, and which its scope authorizer reads.
pub const SCOPES_KEY: &str = "scopes.authorization.openshift.io";

/// Who a request runs as (kube's `user.Info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn new(name: &str, groups: &[&str]) -> Self {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(ToString::to_string).collect(),
            ..Default::default()
        }
    }

    pub fn anonymous() -> Self {
        UserInfo::new(ANONYMOUS, &[UNAUTHENTICATED])
    }

    /// Add `system:authenticated` the way kube-apiserver's authenticator union does.
    #[must_use]
    pub fn authenticated(mut self) -> Self {
        if self.name != ANONYMOUS && !self.groups.iter().any(|g| g == AUTHENTICATED) {
            self.groups.push(AUTHENTICATED.into());
        }
        self
    }

    /// The token's OAuth scopes; empty for a static (unscoped) token.
    pub fn scopes(&self) -> &[String] {
        self.extra.get(SCOPES_KEY).map_or(&[], Vec::as_slice)
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({"username": self.name, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = self.uid.clone().into();
        }
        if !self.extra.is_empty() {
            v["extra"] = serde_json::to_value(&self.extra).unwrap_or_default();
        }
        v
    }
}

/// A new opaque token in OpenShift's format (`sha256~` + 43 url-safe characters).
pub fn new_token() -> String {
    let b: [u8; 32] = rand::random();
    format!(
        "sha256~{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// Static bearer tokens (kube's `--token-auth-file`).
#[derive(Debug, Default)]
pub struct TokenTable {
    tokens: RwLock<HashMap<String, UserInfo>>,
    /// When issued tokens stop working (OAuth `accessTokenMaxAgeSeconds`).
    expiry: RwLock<HashMap<String, std::time::Instant>>,
    /// Each user's first static token (what kubeconfigs carry), whatever else is issued later.
    primary: RwLock<HashMap<String, String>>,
}

impl TokenTable {
    /// A static token; the user's first one stays its primary token.
    pub fn insert(&self, token: &str, user: UserInfo) {
        if let Ok(mut p) = self.primary.write() {
            p.entry(user.name.clone())
                .or_insert_with(|| token.to_string());
        }
        if let Ok(mut t) = self.tokens.write() {
            t.insert(token.into(), user);
        }
    }

    /// A token issued later (OAuth logins, service account tokens): valid until
    /// `expires` (if any), never primary.
    pub fn insert_issued(&self, token: &str, user: UserInfo, expires: Option<std::time::Instant>) {
        if let (Some(at), Ok(mut e)) = (expires, self.expiry.write()) {
            e.insert(token.into(), at);
        }
        if let Ok(mut t) = self.tokens.write() {
            t.insert(token.into(), user);
        }
    }

    pub fn remove(&self, token: &str) {
        if let Ok(mut t) = self.tokens.write() {
            t.remove(token);
        }
    }

    pub fn lookup(&self, token: &str) -> Option<UserInfo> {
        let expired = self
            .expiry
            .read()
            .ok()
            .and_then(|e| e.get(token).copied())
            .is_some_and(|at| std::time::Instant::now() >= at);
        if expired {
            return None;
        }
        self.tokens.read().ok()?.get(token).cloned()
    }

    /// A known user by name (its groups as registered), without any token's scopes.
    pub fn user(&self, name: &str) -> Option<UserInfo> {
        let t = self.tokens.read().ok()?;
        let mut u = t.values().find(|u| u.name == name).cloned()?;
        u.extra.remove(SCOPES_KEY);
        Some(u)
    }

    /// The primary token of a user, for building kubeconfigs.
    pub fn token_of(&self, user: &str) -> Option<String> {
        let t = self.tokens.read().ok()?;
        if let Some(p) = self
            .primary
            .read()
            .ok()
            .and_then(|p| p.get(user).cloned())
            .filter(|p| t.contains_key(p))
        {
            return Some(p);
        }
        let mut found: Vec<&String> = t
            .iter()
            .filter(|(_, u)| u.name == user)
            .map(|(k, _)| k)
            .collect();
        found.sort();
        found.first().map(|s| (*s).clone())
    }
}

/// OIDC settings, the same knobs as kube-apiserver's `--oidc-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer_url: String,
    pub audience: String,
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
    /// PEM CA to trust for the issuer's https endpoints (none: plain http or system roots not used).
    pub ca_pem: Option<String>,
}

impl OidcConfig {
    pub fn new(issuer_url: &str, audience: &str) -> Self {
        OidcConfig {
            issuer_url: issuer_url.into(),
            audience: audience.into(),
            username_claim: "sub".into(),
            username_prefix: String::new(),
            groups_claim: "groups".into(),
            groups_prefix: String::new(),
            ca_pem: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("token is not a valid JWT for this issuer: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("no key with kid {0:?} in the issuer's JWKS")]
    UnknownKey(Option<String>),
    #[error("fetching the issuer's keys failed: {0}")]
    Fetch(String),
    #[error("signing algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("claim {0:?} is missing or not a string")]
    MissingClaim(String),
}

/// Verifies JWTs from one issuer; keys come from the issuer's JWKS (fetched lazily, and
/// again when a token names an unknown `kid`, which is how key rotation is picked up).
#[derive(Debug)]
pub struct OidcVerifier {
    pub config: OidcConfig,
    keys: RwLock<Option<JwkSet>>,
    fetch: bool,
}

impl OidcVerifier {
    pub fn new(config: OidcConfig) -> Self {
        OidcVerifier {
            config,
            keys: RwLock::new(None),
            fetch: true,
        }
    }

    /// A verifier with fixed keys (no network), for tests.
    pub fn with_jwks(config: OidcConfig, jwks: JwkSet) -> Self {
        OidcVerifier {
            config,
            keys: RwLock::new(Some(jwks)),
            fetch: false,
        }
    }

    fn find_key(&self, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
        let keys = self.keys.read().ok()?;
        let set = keys.as_ref()?;
        match kid {
            Some(k) => set.find(k).cloned(),
            None => set.keys.first().cloned(),
        }
    }

    async fn refresh(&self) -> Result<(), AuthnError> {
        let base = self.config.issuer_url.trim_end_matches('/');
        let disco = crate::httpc::get(
            &format!("{base}/.well-known/openid-configuration"),
            self.config.ca_pem.as_deref(),
        )
        .await
        .map_err(AuthnError::Fetch)?;
        let disco: Value =
            serde_json::from_slice(&disco).map_err(|e| AuthnError::Fetch(e.to_string()))?;
        let jwks_uri = disco
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthnError::Fetch("discovery document has no jwks_uri".into()))?;
        let body = crate::httpc::get(jwks_uri, self.config.ca_pem.as_deref())
            .await
            .map_err(AuthnError::Fetch)?;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| AuthnError::Fetch(e.to_string()))?;
        if let Ok(mut k) = self.keys.write() {
            *k = Some(set);
        }
        Ok(())
    }

    pub async fn verify(&self, token: &str) -> Result<UserInfo, AuthnError> {
        let header = jsonwebtoken::decode_header(token)?;
        let mut jwk = self.find_key(header.kid.as_deref());
        if jwk.is_none() && self.fetch {
            self.refresh().await?;
            jwk = self.find_key(header.kid.as_deref());
        }
        let jwk = jwk.ok_or_else(|| AuthnError::UnknownKey(header.kid.clone()))?;
        let key = DecodingKey::from_jwk(&jwk)?;
        let alg = match header.alg {
            a @ (Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::PS256) => a,
            other => return Err(AuthnError::Algorithm(format!("{other:?}"))),
        };
        let mut v = Validation::new(alg);
        v.set_issuer(&[self.config.issuer_url.as_str()]);
        v.set_audience(&[self.config.audience.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &v)?;
        let claims = data.claims;
        let name = claims
            .get(&self.config.username_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| AuthnError::MissingClaim(self.config.username_claim.clone()))?;
        let groups: Vec<String> = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(|g| format!("{}{g}", self.config.groups_prefix))
                .collect(),
            Some(Value::String(s)) => vec![format!("{}{s}", self.config.groups_prefix)],
            _ => Vec::new(),
        };
        Ok(UserInfo {
            name: format!("{}{name}", self.config.username_prefix),
            groups,
            ..Default::default()
        }
        .authenticated())
    }
}

/// Whether a bearer token looks like a JWT (three dot-separated parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    fn key() -> (EncodingKey, JwkSet) {
        let kp = rcgen::KeyPair::generate().expect("P-256 key");
        let raw = kp.public_key_raw();
        // Uncompressed point: 0x04 || x || y.
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks: JwkSet = serde_json::from_value(serde_json::json!({"keys":[{
            "kty":"EC","crv":"P-256","x":b64(&raw[1..33]),"y":b64(&raw[33..65]),"kid":"k1","alg":"ES256","use":"sig"}]}))
        .expect("jwks");
        (
            EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).expect("pem"),
            jwks,
        )
    }

    fn mint(k: &EncodingKey, claims: &Value, kid: &str) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, claims, k).expect("sign")
    }

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs(),
        )
        .expect("fits")
    }

    #[tokio::test]
    async fn oidc_accepts_good_and_rejects_bad_tokens() {
        let (k, jwks) = key();
        let mut cfg = OidcConfig::new("https://issuer.example", "sandbox");
        cfg.groups_prefix = "oidc:".into();
        let v = OidcVerifier::with_jwks(cfg, jwks);
        let good = serde_json::json!({"iss":"https://issuer.example","aud":"sandbox","sub":"alice","groups":["devs"],"exp":now()+600});
        let u = v.verify(&mint(&k, &good, "k1")).await.expect("valid token");
        assert_eq!(u.name, "alice");
        assert_eq!(
            u.groups,
            vec!["oidc:devs".to_string(), AUTHENTICATED.to_string()]
        );

        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = "other".into();
        assert!(
            v.verify(&mint(&k, &wrong_aud, "k1")).await.is_err(),
            "wrong audience"
        );
        let mut expired = good.clone();
        expired["exp"] = (now() - 3600).into();
        assert!(
            v.verify(&mint(&k, &expired, "k1")).await.is_err(),
            "expired"
        );
        let mut other_iss = good.clone();
        other_iss["iss"] = "https://evil.example".into();
        assert!(
            v.verify(&mint(&k, &other_iss, "k1")).await.is_err(),
            "other issuer"
        );
        assert!(
            v.verify(&mint(&k, &good, "k2")).await.is_err(),
            "unknown kid"
        );
        let (k2, _) = key();
        assert!(
            v.verify(&mint(&k2, &good, "k1")).await.is_err(),
            "key not in JWKS"
        );
        let mut no_sub = good.clone();
        no_sub.as_object_mut().expect("object").remove("sub");
        assert!(
            v.verify(&mint(&k, &no_sub, "k1")).await.is_err(),
            "no username claim"
        );
    }

    #[test]
    fn tokens_are_openshift_style() {
        let t = new_token();
        assert!(t.starts_with("sha256~") && t.len() == 50, "{t}");
        let table = TokenTable::default();
        table.insert(&t, UserInfo::new("member", &["mcp-users"]));
        assert_eq!(table.lookup(&t).map(|u| u.name), Some("member".to_string()));
        assert_eq!(table.token_of("member"), Some(t));
    }
}
