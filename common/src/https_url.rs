//! An `https://` URL given on the command line (an issuer, a server, an endpoint): parsed once,
//! with the rules every plugin shares, so nothing downstream checks it again.
//!
//! Tokens and client secrets travel to these URLs, so plain `http` is refused; so are a user
//! name or password in the URL (they would be printed and logged with it) and a fragment (no
//! HTTP request carries it, so it can only be a mistake).

use std::{fmt, ops::Deref, str::FromStr};

use url::Url;

use crate::names::InvalidValue;

const FIX: &str =
    "pass an absolute https URL such as https://login.microsoftonline.com/<tenant>/v2.0";

/// An absolute `https` URL with a host, no credentials and no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl(Url);

impl HttpsUrl {
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL as given, without the one trailing `/` that `Url` adds to a bare origin, so
    /// `https://issuer` stays `https://issuer` (an issuer is compared byte for byte).
    pub fn as_given(&self) -> &str {
        let text = self.0.as_str();
        if self.0.path() == "/" && self.0.query().is_none() {
            text.strip_suffix('/').unwrap_or(text)
        } else {
            text
        }
    }

    /// Refuse a query too: OIDC issuers have none (OpenID Connect Discovery, section 3).
    pub fn without_query(self) -> Result<Self, InvalidValue> {
        if self.0.query().is_some() {
            return Err(InvalidValue {
                reason: format!("{:?} may not have a query", self.0.as_str()),
                fix: FIX,
            });
        }
        Ok(self)
    }
}

impl FromStr for HttpsUrl {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let refuse = |why: &str| InvalidValue {
            reason: format!("{text:?} {why}"),
            fix: FIX,
        };
        if text.chars().any(char::is_whitespace) {
            return Err(refuse("contains whitespace"));
        }
        let url = Url::parse(text).map_err(|e| refuse(&format!("is not a URL ({e})")))?;
        if url.scheme() != "https" {
            return Err(refuse(
                "must be an https:// URL: tokens are only safe over TLS",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("may not contain a user name or password"));
        }
        if url.fragment().is_some() {
            return Err(refuse("may not have a #fragment"));
        }
        Ok(Self(url))
    }
}

impl Deref for HttpsUrl {
    type Target = Url;

    fn deref(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_given())
    }
}

#[cfg(test)]
mod tests {
    use super::HttpsUrl;

    #[test]
    fn https_urls_are_parsed_once_with_one_set_of_rules() {
        let issuer: HttpsUrl = "https://login.microsoftonline.com/t/v2.0"
            .parse()
            .expect("issuer");
        assert_eq!(issuer.host_str(), Some("login.microsoftonline.com"));
        assert_eq!(
            issuer.to_string(),
            "https://login.microsoftonline.com/t/v2.0"
        );
        let bare: HttpsUrl = "https://issuer.example".parse().expect("origin");
        assert_eq!(bare.as_given(), "https://issuer.example");
        for (bad, why) in [
            ("http://issuer", "https://"),
            ("https://", "not a URL"),
            ("issuer.example", "not a URL"),
            ("https://user:pw@issuer", "user name or password"),
            ("https://issuer/#x", "fragment"),
            ("https://issuer/ a", "whitespace"),
        ] {
            let err = bad.parse::<HttpsUrl>().expect_err(bad);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
        let with_query: HttpsUrl = "https://issuer/?a=b".parse().expect("query");
        assert!(with_query.without_query().is_err());
    }
}
