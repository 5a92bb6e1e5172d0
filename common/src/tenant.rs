//! An Entra ID tenant as an administrator gives it (`--tenant`): the directory ID, a GUID, or a
//! verified domain. One grammar for every plugin that takes one.

use std::fmt;

use crate::{
    error::{Error, Result},
    names::is_dns1123_subdomain,
};

/// A tenant: a GUID (kept lower-case) or a verified domain name (lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    Id(String),
    Domain(String),
}

/// Why a `--tenant` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `common`, `organizations`, `consumers`: Entra's multi-tenant aliases.
    Alias,
    /// Neither a hyphenated GUID nor a verified domain.
    Unknown,
}

impl Refusal {
    fn reason(self, text: &str) -> String {
        match self {
            Self::Alias => format!("{text:?} is a multi-tenant alias, not a tenant"),
            Self::Unknown => format!("unknown tenant format {text:?}"),
        }
    }

    const fn fix(self) -> &'static str {
        match self {
            Self::Alias => {
                "give your directory (tenant) ID: `az account show --query tenantId -o tsv`"
            }
            Self::Unknown => {
                "give the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, \
                 or a verified domain such as contoso.onmicrosoft.com"
            }
        }
    }
}

impl Tenant {
    /// Parse `--tenant`. The multi-tenant aliases (`common`, `organizations`, `consumers`) are
    /// refused: the MCP server needs one issuer.
    pub fn parse(text: &str) -> Result<Self> {
        Self::classify(text).map_err(|refusal| {
            let reason = refusal.reason(text);
            let message = match refusal {
                // Outside clap, which names the flag itself.
                Refusal::Alias => format!("--tenant {reason}"),
                Refusal::Unknown => reason,
            };
            Error::usage_with_hint(message, refusal.fix())
        })
    }

    fn classify(text: &str) -> std::result::Result<Self, Refusal> {
        let lower = text.to_ascii_lowercase();
        if let Ok(id) = uuid::Uuid::try_parse(&lower) {
            // The hyphenated form only: that is how Entra writes a tenant into its issuer.
            if id.hyphenated().to_string() == lower {
                return Ok(Self::Id(lower));
            }
        }
        if matches!(lower.as_str(), "common" | "organizations" | "consumers") {
            return Err(Refusal::Alias);
        }
        if is_domain(&lower) {
            return Ok(Self::Domain(lower));
        }
        Err(Refusal::Unknown)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(s) | Self::Domain(s) => s,
        }
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--tenant` parsed by clap: the same grammar, with the reason and the fix in clap's message.
impl std::str::FromStr for Tenant {
    type Err = crate::names::InvalidValue;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Self::classify(text).map_err(|refusal| crate::names::InvalidValue {
            reason: refusal.reason(text),
            fix: refusal.fix(),
        })
    }
}

/// A DNS name of at least two labels whose last label is a top-level domain (letters only).
fn is_domain(name: &str) -> bool {
    is_dns1123_subdomain(name)
        && name.contains('.')
        && name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_is_a_guid_or_a_verified_domain() {
        assert_eq!(
            Tenant::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").ok(),
            Some(Tenant::Id("72f988bf-86f1-41af-91ab-2d7cd011db47".into()))
        );
        assert_eq!(
            Tenant::parse("Contoso.onmicrosoft.com").ok(),
            Some(Tenant::Domain("contoso.onmicrosoft.com".into()))
        );
        for bad in [
            "contoso",
            "common",
            "organizations",
            "72f988bf86f141af91ab2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "contoso.123",
            "-contoso.com",
            "contoso..com",
            "",
        ] {
            let err = Tenant::parse(bad).expect_err(bad);
            assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{bad}");
        }
        assert!(
            Tenant::parse("common")
                .expect_err("alias")
                .to_string()
                .contains("multi-tenant alias")
        );
        let from_flag = "common".parse::<Tenant>().expect_err("alias");
        assert!(
            from_flag.to_string().contains("az account show"),
            "{from_flag}"
        );
        assert_eq!(
            "contoso.com".parse::<Tenant>().ok(),
            Tenant::parse("contoso.com").ok()
        );
    }
}
