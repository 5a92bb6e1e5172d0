//! Where the Microsoft Graph token comes from: stdin (`--graph-token-stdin`), else
//! `az account get-access-token` when `az` is on PATH, else nowhere (the steps are printed).
//! The token is read from az's stdout, never passed as an argument to anything.

use std::path::PathBuf;

use oc_mcp_common::{
    Error, Result,
    kube_args::Secret,
    secret_input::{SecretSource, read_secret},
};

/// How the token will be obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Stdin,
    Az(PathBuf),
    None,
}

impl TokenSource {
    pub fn detect(from_stdin: bool) -> Self {
        if from_stdin {
            return Self::Stdin;
        }
        match which::which("az") {
            Ok(path) => Self::Az(path),
            Err(_) => Self::None,
        }
    }
}

/// The arguments given to az (public: tests compare them with what the wrapper recorded).
pub fn az_args(tenant: &str) -> Vec<String> {
    [
        "account",
        "get-access-token",
        "--resource-type",
        "ms-graph",
        "--tenant",
        tenant,
        "--query",
        "accessToken",
        "--output",
        "tsv",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Get the token, or `Ok(None)` when there is no way to.
pub async fn graph_token(source: &TokenSource, tenant: &str) -> Result<Option<Secret>> {
    match source {
        TokenSource::None => Ok(None),
        TokenSource::Stdin => read_secret(&SecretSource::Stdin, "Microsoft Graph token").map(Some),
        TokenSource::Az(az) => {
            tracing::info!("asking {} for a Microsoft Graph token", az.display());
            let output = tokio::process::Command::new(az)
                .args(az_args(tenant))
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| Error::failed(format!("cannot run {}: {e}", az.display())))?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let first: Vec<&str> = stderr
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(3)
                    .collect();
                return Err(Error::Failed {
                    message: format!(
                        "`az account get-access-token` failed ({}): {}",
                        output.status,
                        first.join(" / ")
                    ),
                    hint: Some(format!(
                        "sign in with an account that may register applications: `az login --tenant {tenant}`; \
                         or pipe a Graph token into --graph-token-stdin"
                    )),
                });
            }
            let token = String::from_utf8(output.stdout)
                .map_err(|_| Error::failed("az printed a token that is not UTF-8"))?;
            let token = token.trim();
            if token.is_empty() || token.chars().any(char::is_whitespace) {
                return Err(Error::failed(
                    "az printed no usable token (expected one line from `--query accessToken --output tsv`)",
                ));
            }
            Ok(Some(Secret::new(token)))
        }
    }
}
