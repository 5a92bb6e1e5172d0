//! Server versions and what each one supports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kubernetes-mcp-server release (`v0.0.67`, `0.0.63`) or `latest` (unknown, taken as newest).
///
/// Ordering follows releases; `Latest` sorts after every release because the `latest` image
/// follows upstream main.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ServerVersion {
    /// A tagged release.
    Release { major: u32, minor: u32, patch: u32 },
    /// `latest`, or a version we could not determine: assumed to be the newest.
    #[default]
    Latest,
}

impl ServerVersion {
    /// The release every test of this project runs against.
    pub const TESTED: Self = Self::release(0, 0, 67);

    /// A tagged release.
    pub const fn release(major: u32, minor: u32, patch: u32) -> Self {
        Self::Release {
            major,
            minor,
            patch,
        }
    }

    /// Whether this version supports `feature`. `Latest` supports everything.
    pub fn supports(self, feature: Feature) -> bool {
        self >= feature.since()
    }

    /// Whether this version is `Latest` or newer than [`ServerVersion::TESTED`], so facts learnt
    /// from the tested release (the toolset list, for one) may be out of date.
    pub fn is_newer_than_tested(self) -> bool {
        self > Self::TESTED
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Release {
                major,
                minor,
                patch,
            } => write!(f, "v{major}.{minor}.{patch}"),
            Self::Latest => f.write_str("latest"),
        }
    }
}

/// A version string that is neither `[v]MAJOR.MINOR.PATCH` nor `latest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server version {input:?}: expected vMAJOR.MINOR.PATCH (e.g. v0.0.67) or latest")]
pub struct VersionParseError {
    pub input: String,
}

impl FromStr for ServerVersion {
    type Err = VersionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionParseError {
            input: s.to_owned(),
        };
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("latest") {
            return Ok(Self::Latest);
        }
        let digits = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let mut parts = digits.split('.');
        let mut next = || -> Result<u32, VersionParseError> {
            let part = parts.next().ok_or_else(err)?;
            // `+` and leading signs are accepted by u32::from_str; a version has plain digits.
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let version = Self::release(next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(version)
    }
}

impl Serialize for ServerVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ServerVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Behaviour that changed between releases and that a deployment depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `cluster_auth_mode`, `skip_jwt_verification`, `token_exchange_strategy` (incl. `entra-obo`)
    /// exist (v0.0.61). Older servers ignore these keys silently.
    AuthModeKeys,
    /// `cluster_auth_mode="kubeconfig"` with `require_oauth=true` is refused at startup (v0.0.62).
    RefusesKubeconfigWithOAuth,
    /// `skip_jwt_verification=true` without `authorization_url` forwards the token without
    /// parsing it, so opaque OpenShift `sha256~` tokens work (v0.0.63).
    OpaqueTokenPassthrough,
    /// An empty `oauth_audience` with `authorization_url` skips the client-ID check instead of
    /// rejecting every token (after v0.0.66, #1360).
    EmptyAudienceAccepted,
    /// The SSE transport and `sse_base_url` are gone (after v0.0.66, #1376).
    SseRemoved,
    /// `[token_exchange]` replaces the flat `sts_*` / `token_exchange_strategy` keys, and the
    /// server refuses to start when it finds the old keys anywhere (measured on v0.0.67).
    TokenExchangeTable,
    /// `metrics_port` exists (measured on v0.0.67).
    MetricsPort,
}

impl Feature {
    /// The first release with this behaviour.
    pub const fn since(self) -> ServerVersion {
        match self {
            Self::AuthModeKeys => ServerVersion::release(0, 0, 61),
            Self::RefusesKubeconfigWithOAuth => ServerVersion::release(0, 0, 62),
            Self::OpaqueTokenPassthrough => ServerVersion::release(0, 0, 63),
            // Both landed on main after the v0.0.66 tag; v0.0.67 has them (its --help has no
            // --sse-base-url).
            Self::EmptyAudienceAccepted
            | Self::SseRemoved
            | Self::TokenExchangeTable
            | Self::MetricsPort => ServerVersion::release(0, 0, 67),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_releases_and_latest() {
        let cases = [
            ("v0.0.67", Some(ServerVersion::release(0, 0, 67))),
            ("0.0.63", Some(ServerVersion::release(0, 0, 63))),
            (" v1.2.3 ", Some(ServerVersion::release(1, 2, 3))),
            ("latest", Some(ServerVersion::Latest)),
            ("LATEST", Some(ServerVersion::Latest)),
            ("v0.0", None),
            ("v0.0.67.1", None),
            ("v0.0.x", None),
            ("v0.0.+1", None),
            ("", None),
            ("vv0.0.1", None),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<ServerVersion>().ok(), expected, "{input:?}");
        }
    }

    #[test]
    fn orders_releases_numerically_and_latest_last() {
        let v = |s: &str| s.parse::<ServerVersion>().expect("valid version");
        assert!(v("v0.0.9") < v("v0.0.10"));
        assert!(v("v0.0.66") < v("v0.0.67"));
        assert!(v("v0.1.0") > v("v0.0.99"));
        assert!(v("v9.9.9") < ServerVersion::Latest);
        assert_eq!(v("0.0.67"), ServerVersion::TESTED);
        assert_eq!(ServerVersion::default(), ServerVersion::Latest);
    }

    #[test]
    fn displays_with_v_prefix() {
        assert_eq!(ServerVersion::release(0, 0, 63).to_string(), "v0.0.63");
        assert_eq!(ServerVersion::Latest.to_string(), "latest");
    }

    #[test]
    fn feature_support_follows_the_changelog() {
        let v = |s: &str| s.parse::<ServerVersion>().expect("valid version");
        assert!(!v("v0.0.62").supports(Feature::OpaqueTokenPassthrough));
        assert!(v("v0.0.63").supports(Feature::OpaqueTokenPassthrough));
        assert!(!v("v0.0.66").supports(Feature::EmptyAudienceAccepted));
        assert!(v("v0.0.67").supports(Feature::EmptyAudienceAccepted));
        assert!(!v("v0.0.61").supports(Feature::RefusesKubeconfigWithOAuth));
        assert!(ServerVersion::Latest.supports(Feature::SseRemoved));
        assert!(!ServerVersion::TESTED.is_newer_than_tested());
        assert!(ServerVersion::Latest.is_newer_than_tested());
    }
}
