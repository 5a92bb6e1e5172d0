//! What the linter reports.

use std::fmt;

use serde::Serialize;

/// How bad a finding is. `Error` means the config must not be deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// Which check produced a finding; a stable identifier for tests and `-o json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The file is not valid TOML; the server exits.
    InvalidToml,
    /// A key the server does not know; the server ignores it silently.
    UnknownKey,
    /// A value of the wrong TOML type; the server exits at startup.
    TypeMismatch,
    /// A combination or value the server's own validation refuses at startup.
    StartupRefused,
    /// A value the server accepts but that cannot work (bad port, log level out of range, ...).
    InvalidValue,
    /// The configured server version lacks what the config relies on, or misbehaves with it.
    VersionSupport,
    /// A secret in the main file, which is stored in a ConfigMap.
    SecretInConfigMap,
    /// Token-exchange (`sts_*`) settings that are incomplete and so do nothing or the wrong thing.
    TokenExchangeIncomplete,
    /// A setting the server accepts but ignores in this combination.
    NoEffect,
    /// `read_only` or `disable_destructive` is not true.
    ToolsNotRestricted,
    /// A public route to a server that does not require a token.
    PublicWithoutOAuth,
    /// `oauth_audience` empty with an issuer: tokens for any audience are accepted.
    AudienceMissing,
    /// `server_url` does not match the route, or is missing where OAuth discovery needs it.
    ServerUrl,
    /// `authorization_url` that will not match the issuer, or uses plain HTTP.
    IssuerUrl,
    /// No `port`: stdio mode unless `--port` is on the command line.
    NoPort,
    /// A drop-in file the server does not read (not `*.toml`, or a dotfile).
    IgnoredDropIn,
    /// A `log_level` at which the pod's log holds cluster data, headers or API bodies.
    SensitiveLogging,
    /// Settings that let users act as another identity than their own (all share one).
    SharedIdentity,
}

impl Rule {
    /// The kebab-case identifier (`unknown-key`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToml => "invalid-toml",
            Self::UnknownKey => "unknown-key",
            Self::TypeMismatch => "type-mismatch",
            Self::StartupRefused => "startup-refused",
            Self::InvalidValue => "invalid-value",
            Self::VersionSupport => "version-support",
            Self::SecretInConfigMap => "secret-in-configmap",
            Self::TokenExchangeIncomplete => "token-exchange-incomplete",
            Self::NoEffect => "no-effect",
            Self::ToolsNotRestricted => "tools-not-restricted",
            Self::PublicWithoutOAuth => "public-without-oauth",
            Self::AudienceMissing => "audience-missing",
            Self::ServerUrl => "server-url",
            Self::IssuerUrl => "issuer-url",
            Self::NoPort => "no-port",
            Self::IgnoredDropIn => "ignored-drop-in",
            Self::SensitiveLogging => "sensitive-logging",
            Self::SharedIdentity => "shared-identity",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a config. Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    /// The key concerned, as a dotted path (`http.rate_limit_rps`, `denied_resources[0].kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What is wrong and what the server does with it.
    pub message: String,
    /// What to change.
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        severity: Severity,
        rule: Rule,
        key: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            rule,
            key: key.map(str::to_owned),
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn error(
        rule: Rule,
        key: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, rule, key, message, fix)
    }

    pub(crate) fn warning(
        rule: Rule,
        key: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, rule, key, message, fix)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.severity, self.rule)?;
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        write!(f, ": {} (fix: {})", self.message, self.fix)
    }
}

/// Whether any finding is an error, i.e. the config must not be rendered or deployed.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}
