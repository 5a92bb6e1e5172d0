//! Reading a secret value the safe way: from stdin, an environment variable, a file, or a hidden
//! prompt on a terminal. Never from a command-line argument: the process list shows those.
//!
//! Error messages name where the value came from, never the value.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
};

use crate::{
    error::{Error, Result},
    kube_args::Secret,
};

/// The most a secret may be; anything longer is a mistake (a whole file piped by accident).
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Everything on standard input (one trailing line break is dropped).
    Stdin,
    /// The value of an environment variable.
    Env(String),
    /// The content of a file (one trailing line break is dropped).
    File(PathBuf),
    /// A hidden prompt, asked twice; only on a terminal.
    Prompt,
}

impl SecretSource {
    /// The source named by the usual flags, or a prompt when none is given.
    ///
    /// At most one of the three may be set (clap enforces it with an argument group); a prompt
    /// without a terminal is refused by [`read_secret`].
    pub fn from_flags(stdin: bool, env: Option<&str>, file: Option<&std::path::Path>) -> Self {
        match (stdin, env, file) {
            (true, _, _) => Self::Stdin,
            (false, Some(var), _) => Self::Env(var.to_owned()),
            (false, None, Some(path)) => Self::File(path.to_owned()),
            (false, None, None) => Self::Prompt,
        }
    }

    /// For messages: `stdin`, `environment variable X`, `file P`, `the prompt`.
    pub fn describe(&self) -> String {
        match self {
            Self::Stdin => "stdin".into(),
            Self::Env(var) => format!("environment variable {var}"),
            Self::File(path) => format!("file {}", path.display()),
            Self::Prompt => "the prompt".into(),
        }
    }
}

/// Read a secret from `source`; `what` names it in prompts and errors ("client secret").
pub fn read_secret(source: &SecretSource, what: &str) -> Result<Secret> {
    match source {
        SecretSource::Stdin => read_secret_from(source, what, &mut std::io::stdin().lock()),
        SecretSource::Prompt => {
            if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
                return Err(Error::usage_with_hint(
                    format!("no {what} given and there is no terminal to ask for it"),
                    "pass --from-stdin, --from-env VAR or --from-file PATH",
                ));
            }
            let value = dialoguer::Password::new()
                .with_prompt(format!("Enter the {what}"))
                .with_confirmation(
                    format!("Repeat the {what}"),
                    "the two entries differ; try again",
                )
                .interact()
                .map_err(|e| {
                    Error::failed(format!("cannot read the {what} from the prompt: {e}"))
                })?;
            normalize(value, source, what)
        }
        SecretSource::Env(_) | SecretSource::File(_) => {
            read_secret_from(source, what, &mut std::io::empty())
        }
    }
}

/// [`read_secret`] with an explicit stdin, for tests and callers that hold stdin already.
/// A [`SecretSource::Prompt`] reads `stdin` like [`SecretSource::Stdin`] here (no terminal).
pub fn read_secret_from(source: &SecretSource, what: &str, stdin: &mut dyn Read) -> Result<Secret> {
    let raw = match source {
        SecretSource::Stdin | SecretSource::Prompt => read_bounded(stdin, source, what)?,
        SecretSource::Env(var) => {
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                return Err(Error::usage_with_hint(
                    format!("{var:?} is not a valid environment variable name"),
                    "pass the name of the variable, not its value: --from-env MY_SECRET",
                ));
            }
            match std::env::var(var) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(Error::usage_with_hint(
                        format!("environment variable {var} is not set"),
                        format!("export {var} first, or use --from-stdin or --from-file"),
                    ));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Error::usage(format!(
                        "environment variable {var} is not valid UTF-8"
                    )));
                }
            }
        }
        SecretSource::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                Error::usage_with_hint(
                    format!("cannot read {what} file {}: {e}", path.display()),
                    "check the path and its permissions",
                )
            })?;
            read_bounded(&mut std::io::BufReader::new(file), source, what)?
        }
    };
    normalize(raw, source, what)
}

/// At most `limit` bytes of `input`; `None` when it holds more. A wrong path or pipe (an image,
/// a device, `/dev/zero`) is never read whole.
pub fn read_at_most(input: &mut dyn Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    input.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn read_bounded(input: &mut dyn Read, source: &SecretSource, what: &str) -> Result<String> {
    let read = read_at_most(input, MAX_SECRET_BYTES)
        .map_err(|e| Error::io(format!("reading the {what} from {}", source.describe()), e))?;
    let Some(bytes) = read else {
        return Err(Error::usage_with_hint(
            format!(
                "the {what} from {} is longer than {MAX_SECRET_BYTES} bytes",
                source.describe()
            ),
            format!(
                "give only the {what} itself: check that the right file, variable or pipe is used"
            ),
        ));
    };
    String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!(
            "the {what} from {} is not valid UTF-8",
            source.describe()
        ))
    })
}

/// Drop one trailing line break; refuse empty values and control characters.
fn normalize(mut raw: String, source: &SecretSource, what: &str) -> Result<Secret> {
    if raw.ends_with('\n') {
        raw.pop();
        if raw.ends_with('\r') {
            raw.pop();
        }
    }
    if raw.is_empty() {
        return Err(Error::usage_with_hint(
            format!("the {what} from {} is empty", source.describe()),
            "give the value itself, e.g. `printf %s \"$SECRET\" | ... --from-stdin`",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "the {what} from {} contains a line break or another control character",
            source.describe()
        )));
    }
    if raw.trim() != raw {
        return Err(Error::usage(format!(
            "the {what} from {} starts or ends with whitespace; remove it",
            source.describe()
        )));
    }
    Ok(Secret::new(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_stdin(input: &str) -> Result<Secret> {
        read_secret_from(&SecretSource::Stdin, "client secret", &mut input.as_bytes())
    }

    #[test]
    fn one_trailing_line_break_is_dropped() {
        assert_eq!(from_stdin("abc\n").expect("ok").expose(), "abc");
        assert_eq!(from_stdin("abc\r\n").expect("ok").expose(), "abc");
        assert_eq!(from_stdin("abc").expect("ok").expose(), "abc");
    }

    #[test]
    fn empty_multiline_and_padded_values_are_refused_without_echoing_them() {
        for (input, expected) in [
            ("", "is empty"),
            ("\n", "is empty"),
            ("a\nb", "line break"),
            ("abc\n\n", "line break"),
            (" abc", "whitespace"),
        ] {
            let err = from_stdin(input).expect_err(input);
            assert_eq!(err.exit_code().code(), 2, "{input:?}");
            assert!(err.to_string().contains(expected), "{err}");
            assert!(err.to_string().contains("from stdin"), "{err}");
        }
        let err = from_stdin("s3cr3t-value\tx").expect_err("tab");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = "x".repeat(usize::try_from(MAX_SECRET_BYTES).expect("fits") + 1);
        assert!(from_stdin(&big).is_err());
    }

    #[test]
    fn files_and_missing_variables() {
        let dir = std::env::temp_dir().join(format!("oc-mcp-secret-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret");
        std::fs::write(&path, "from-a-file\n").expect("write");
        let secret = read_secret_from(
            &SecretSource::File(path.clone()),
            "client secret",
            &mut std::io::empty(),
        )
        .expect("file");
        assert_eq!(secret.expose(), "from-a-file");
        let _ = std::fs::remove_dir_all(&dir);
        let err = read_secret_from(
            &SecretSource::File(path),
            "client secret",
            &mut std::io::empty(),
        )
        .expect_err("gone");
        assert_eq!(err.exit_code().code(), 2);
        let err = read_secret_from(
            &SecretSource::Env("OC_MCP_SURELY_UNSET_VARIABLE_4711".into()),
            "client secret",
            &mut std::io::empty(),
        )
        .expect_err("unset");
        assert!(err.to_string().contains("is not set"), "{err}");
        let err = read_secret_from(
            &SecretSource::Env("A=b".into()),
            "client secret",
            &mut std::io::empty(),
        )
        .expect_err("value given");
        assert!(
            err.to_string().contains("not a valid environment variable"),
            "{err}"
        );
    }

    #[test]
    fn flags_pick_the_source() {
        assert_eq!(
            SecretSource::from_flags(true, None, None),
            SecretSource::Stdin
        );
        assert_eq!(
            SecretSource::from_flags(false, Some("V"), None),
            SecretSource::Env("V".into())
        );
        assert_eq!(
            SecretSource::from_flags(false, None, None),
            SecretSource::Prompt
        );
    }
}
