//! Tokens for the MCP endpoint: from stdin, an environment variable, a file, or the kubeconfig
//! user (what `oc whoami -t` prints, including tokens from exec plugins and token files).
//! A token is never taken from the command line and never printed.

use std::{io::IsTerminal, io::Read, path::Path};

use oc_mcp_common::{Error, Result, kube_args::Secret};

use crate::args::{DeniedTokenArgs, TokenArgs};

/// A token and where it came from (the description is safe to print).
#[derive(Debug, Clone)]
pub struct Token {
    pub secret: Secret,
    pub source: String,
}

/// Where to read a token from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Stdin,
    Env(String),
    File(std::path::PathBuf),
}

impl TokenArgs {
    pub fn source(&self) -> Option<TokenSource> {
        source(
            self.token_stdin,
            self.token_env.as_ref(),
            self.token_file.as_ref(),
        )
    }
}

impl DeniedTokenArgs {
    pub fn source(&self) -> Option<TokenSource> {
        source(
            self.denied_token_stdin,
            self.denied_token_env.as_ref(),
            self.denied_token_file.as_ref(),
        )
    }
}

fn source(
    stdin: bool,
    env: Option<&String>,
    file: Option<&std::path::PathBuf>,
) -> Option<TokenSource> {
    if stdin {
        Some(TokenSource::Stdin)
    } else if let Some(var) = env {
        Some(TokenSource::Env(var.clone()))
    } else {
        file.map(|f| TokenSource::File(f.clone()))
    }
}

/// Read a token. `what` names it in messages ("the token", "the denied token").
pub fn read(source: &TokenSource, what: &str) -> Result<Token> {
    let (text, description) = match source {
        TokenSource::Stdin => (read_stdin(what)?, "stdin".to_owned()),
        TokenSource::Env(var) => {
            let value = std::env::var(var).map_err(|_| {
                Error::usage_with_hint(
                    format!("environment variable {var} (for {what}) is not set or not UTF-8"),
                    format!("export {var}=... before running, or use another --*token-* option"),
                )
            })?;
            (value, format!("env {var}"))
        }
        TokenSource::File(path) => (read_file(path, what)?, format!("file {}", path.display())),
    };
    let token = text.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    if token.is_empty() {
        return Err(Error::usage(format!("{what} from {description} is empty")));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::usage(format!(
            "{what} from {description} contains whitespace: pass exactly one token"
        )));
    }
    Ok(Token {
        secret: Secret::new(token),
        source: description,
    })
}

fn read_stdin(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        // Prompt (hidden) only on a terminal; a pipe is read as is.
        return dialoguer::Password::new()
            .with_prompt(format!("Paste {what}"))
            .interact()
            .map_err(|e| Error::usage(format!("cannot read {what} from the terminal: {e}")));
    }
    bounded(stdin.lock(), what, "stdin")
}

fn read_file(path: &Path, what: &str) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::usage_with_hint(
            format!("cannot read {what} from {}: {e}", path.display()),
            "pass a readable file that holds only the token",
        )
    })?;
    bounded(file, what, &path.display().to_string())
}

/// A token is at most a few KiB: read a little more than the limit and refuse the rest, so a
/// wrong path (an image, a device) is neither read whole nor sent as a header.
fn bounded(mut input: impl Read, what: &str, from: &str) -> Result<String> {
    use oc_mcp_common::secret_input::{MAX_SECRET_BYTES, read_at_most};
    let limit = MAX_SECRET_BYTES;
    let read = read_at_most(&mut input, limit)
        .map_err(|e| Error::io(format!("reading {what} from {from}"), e))?;
    let Some(bytes) = read else {
        return Err(Error::usage_with_hint(
            format!("{what} from {from} is longer than {limit} bytes"),
            "pass a file (or stdin) that holds only the token",
        ));
    };
    String::from_utf8(bytes).map_err(|_| {
        Error::usage_with_hint(
            format!("{what} from {from} is not UTF-8 text"),
            "pass a file (or stdin) that holds only the token",
        )
    })
}

/// What `oc whoami -t` prints (common's `kube_token::bearer_token`), labelled as coming from
/// the kubeconfig. `Ok(None)` when the user authenticates without a bearer token.
pub async fn from_kubeconfig(config: &kube::Config) -> Result<Option<Token>> {
    let token = oc_mcp_common::kube_token::bearer_token(config).await.map_err(|e| match e {
        Error::Kubeconfig { message, .. } => Error::Kubeconfig {
            message,
            hint: Some(
                "log in again (`oc login`), or pass the MCP token with --token-stdin, --token-env or --token-file"
                    .into(),
            ),
        },
        other => other,
    })?;
    Ok(token.map(|secret| Token {
        secret,
        source: "kubeconfig".to_owned(),
    }))
}

/// Whether a token has the shape of a JWT (three base64url parts), as OIDC issuers mint.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_and_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t");
        std::fs::write(&path, "sha256~abc\n").expect("write");
        let t = read(&TokenSource::File(path.clone()), "the token").expect("token");
        assert_eq!(t.secret.expose(), "sha256~abc");
        assert_eq!(t.source, format!("file {}", path.display()));
        std::fs::write(&path, "Bearer xyz").expect("write");
        let t = read(&TokenSource::File(path.clone()), "the token").expect("token");
        assert_eq!(t.secret.expose(), "xyz");
        std::fs::write(&path, "two words").expect("write");
        assert!(read(&TokenSource::File(path.clone()), "the token").is_err());
        std::fs::write(&path, "  \n").expect("write");
        let err = read(&TokenSource::File(path), "the token").expect_err("empty");
        assert_eq!(err.exit_code().code(), 2);
        assert!(!err.to_string().contains("abc"));
        let err = read(
            &TokenSource::Env("OC_MCP_VERIFY_SURELY_UNSET".into()),
            "the token",
        )
        .expect_err("unset");
        assert!(err.to_string().contains("OC_MCP_VERIFY_SURELY_UNSET"));
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOi.eyJzdWIiOi.c2ln"));
        assert!(!looks_like_jwt("sha256~abcdef"));
        assert!(!looks_like_jwt("a..b"));
    }

    #[tokio::test]
    async fn kubeconfig_token_comes_from_kubes_own_auth() {
        let yaml = r#"
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users:
- {name: plain, user: {token: sha256~plain-token}}
- {name: exec, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: sh, interactiveMode: Never,
   args: ["-c", "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-token\"}}'"]}}}
- {name: none, user: {}}
contexts:
- {name: plain, context: {cluster: c, user: plain}}
- {name: exec, context: {cluster: c, user: exec}}
- {name: none, context: {cluster: c, user: none}}
current-context: plain
"#;
        let kc = kube::config::Kubeconfig::from_yaml(yaml).expect("kubeconfig");
        let token_for = |context: &str| {
            let kc = kc.clone();
            let options = kube::config::KubeConfigOptions {
                context: Some(context.into()),
                ..Default::default()
            };
            async move {
                let config = kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .expect("config");
                from_kubeconfig(&config).await.expect("token")
            }
        };
        assert_eq!(
            token_for("plain").await.expect("plain").secret.expose(),
            "sha256~plain-token"
        );
        assert_eq!(
            token_for("exec").await.expect("exec").secret.expose(),
            "exec-token"
        );
        assert!(token_for("none").await.is_none());
    }
}
