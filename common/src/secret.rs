//! [`Secret`]: a token or client secret as the plugins carry it. The value lives in a
//! `secrecy` box, so it is zeroed when dropped, `Debug` never shows it, and reading it is
//! always the visible call [`Secret::expose`].

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

/// A value that must never be printed: `Debug` shows only that it is set.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("sha256~very-secret");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "sha256~very-secret");
        assert_eq!(secret, "sha256~very-secret".parse().expect("infallible"));
    }
}
