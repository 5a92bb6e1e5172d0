//! Kubernetes name grammar (RFC 1123), checked before anything reaches the API server so a bad
//! flag fails fast with exit code 2 and names the flag.
//!
//! - DNS-1123 subdomain: object names (ClusterRole, OAuthClient, Secret, ConfigMap): at most
//!   253 characters, dot-separated labels of `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
//! - DNS-1123 label: namespaces and names that become host name parts: one such label, at
//!   most 63 characters.

use std::{fmt, ops::Deref, str::FromStr};

use crate::error::{Error, Result};

/// Longest object name the API server accepts.
pub const MAX_SUBDOMAIN: usize = 253;
/// Longest DNS label (namespaces, Service names).
pub const MAX_LABEL: usize = 63;

/// One label of `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, without a length limit.
fn is_label_text(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        _ => false,
    }
}

/// Whether `name` is a DNS-1123 subdomain (what the API server requires of most object names).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= MAX_SUBDOMAIN && name.split('.').all(is_label_text)
}

/// Whether `name` is a DNS-1123 label (namespaces and names used in host names).
pub fn is_dns1123_label(name: &str) -> bool {
    name.len() <= MAX_LABEL && is_label_text(name)
}

/// An object name given with `flag`: a DNS-1123 subdomain, else a usage error (exit 2).
pub fn validate_object_name(name: &str, flag: &str) -> Result<()> {
    usage_unless(
        is_dns1123_subdomain(name),
        name,
        flag,
        "object name",
        SUBDOMAIN_FIX,
    )
}

/// A namespace or host-name part given with `flag`: a DNS-1123 label, else a usage error
/// (exit 2).
pub fn validate_dns_label(name: &str, flag: &str) -> Result<()> {
    usage_unless(is_dns1123_label(name), name, flag, "DNS label", LABEL_FIX)
}

/// `Ok` when `valid`, else the usage error (exit 2) that `flag`'s value is not a valid `what`.
fn usage_unless(valid: bool, name: &str, flag: &str, what: &str, fix: &str) -> Result<()> {
    if valid {
        Ok(())
    } else {
        Err(Error::usage_with_hint(
            format!("{flag} {name:?} is not a valid {what}"),
            fix,
        ))
    }
}

/// Why a flag's value was refused, phrased for clap: it prints `invalid value 'X' for '--flag'`
/// and then this, so the flag is named once and the fix follows the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    pub reason: String,
    pub fix: &'static str,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.fix)
    }
}

impl std::error::Error for InvalidValue {}

const SUBDOMAIN_FIX: &str =
    "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit";
const LABEL_FIX: &str =
    "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";

/// Declares a string newtype that can only hold text of one grammar: parsed once, from a flag
/// (`value_parser!` finds `FromStr`) or from code, and trusted everywhere after.
macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $check:path, $what:literal, $fix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(text: &str) -> std::result::Result<Self, InvalidValue> {
                if $check(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(InvalidValue {
                        reason: format!("{text:?} is not a valid {}", $what),
                        fix: $fix,
                    })
                }
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

pub(crate) use validated_name;

validated_name!(
    /// An object name the API server accepts (a DNS-1123 subdomain): ClusterRoles, OAuthClients,
    /// Secrets, ConfigMaps, releases.
    ObjectName,
    is_dns1123_subdomain,
    "object name",
    SUBDOMAIN_FIX
);

validated_name!(
    /// A DNS-1123 label: namespaces and names that become part of a host name.
    DnsLabel,
    is_dns1123_label,
    "DNS label",
    LABEL_FIX
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_dns_subdomains() {
        for good in [
            "kubernetes-mcp-server",
            "a.b",
            "a",
            "0",
            "a--b",
            "mcp.example-1.com",
        ] {
            assert!(validate_object_name(good, "--name").is_ok(), "{good}");
        }
        let longest = format!("{}.{}", "a".repeat(126), "b".repeat(126));
        assert!(validate_object_name(&longest, "--name").is_ok());
        // Empty labels and labels that start or end with '-' are refused by the API server
        // too; catching them here gives exit 2 with the flag's name instead of a 422.
        for bad in [
            "", "Upper", "-x", "x-", "a b", "a/b", "a..b", "a.-b", "a-.b", ".a", "a.", "é",
        ] {
            let err = validate_object_name(bad, "--name").expect_err(bad);
            assert_eq!(err.exit_code().code(), 2, "{bad}");
            assert!(err.to_string().contains("--name"), "{err}");
        }
        assert!(validate_object_name(&format!("{longest}c"), "--name").is_err());
    }

    #[test]
    fn dns_labels_have_no_dots_and_at_most_63_characters() {
        assert!(validate_dns_label("mcp-server", "namespace").is_ok());
        assert!(validate_dns_label(&"a".repeat(63), "namespace").is_ok());
        for bad in ["a.b", "", "-a", "a-", "A"] {
            let err = validate_dns_label(bad, "namespace").expect_err(bad);
            assert_eq!(err.exit_code().code(), 2);
        }
        assert!(validate_dns_label(&"a".repeat(64), "namespace").is_err());
    }

    #[test]
    fn validated_names_parse_once_and_say_why_not() {
        let name: ObjectName = "mcp.example-1.com".parse().expect("subdomain");
        assert_eq!(name.as_str(), "mcp.example-1.com");
        let label: DnsLabel = "team-mcp".parse().expect("label");
        assert_eq!(&*label, "team-mcp");
        let err = "a.b".parse::<DnsLabel>().expect_err("dot");
        assert_eq!(
            err.to_string(),
            format!("\"a.b\" is not a valid DNS label; {LABEL_FIX}")
        );
        assert!("Upper".parse::<ObjectName>().is_err());
        assert!("".parse::<ObjectName>().is_err());
        assert_eq!(serde_json::to_string(&label).expect("json"), "\"team-mcp\"");
    }
}
