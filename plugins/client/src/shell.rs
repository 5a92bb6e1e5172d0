//! Command lines for people to paste into a POSIX shell: literal words are quoted, and the
//! few words that must be expanded by the shell (`"Bearer $(oc mcp-client token)"` in an
//! environment assignment) are kept as written. A command's input may come from another
//! command (`token ... | npx ...`) or a here-document: that is how a secret reaches a program
//! without being one of its arguments, which every user of the machine can read.

use serde::Serialize;

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Word {
    /// Passed as is: quoted when printed.
    Literal(String),
    /// Shell syntax, printed verbatim (already quoted by whoever built it).
    Shell(String),
}

impl Word {
    pub fn lit(text: impl Into<String>) -> Self {
        Self::Literal(text.into())
    }

    pub fn render(&self) -> String {
        match self {
            Self::Literal(text) => quote(text),
            Self::Shell(text) => text.clone(),
        }
    }
}

/// A command with environment assignments in front, and where its standard input comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, Word)>,
    pub argv: Vec<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Box<Stdin>>,
}

/// The standard input of a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Stdin {
    /// The output of this command: `producer | command`.
    Pipe(CommandLine),
    /// Shell syntax that writes the input (a `{ ...; }` group), printed verbatim before `|`.
    ShellPipe(String),
    /// These lines, as a quoted here-document (nothing in them is expanded).
    HereDoc(String),
}

/// Ends a here-document; never a line of the JSON documents put in one.
const HEREDOC_END: &str = "END_OF_MCP_CONFIG";

impl CommandLine {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            env: Vec::new(),
            argv: argv.into_iter().map(|a| Word::Literal(a.into())).collect(),
            stdin: None,
        }
    }

    #[must_use]
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = Some(Box::new(stdin));
        self
    }

    #[must_use]
    pub fn arg(mut self, word: impl Into<String>) -> Self {
        self.argv.push(Word::Literal(word.into()));
        self
    }

    #[must_use]
    pub fn shell_arg(mut self, word: impl Into<String>) -> Self {
        self.argv.push(Word::Shell(word.into()));
        self
    }

    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: Word) -> Self {
        self.env.push((name.into(), value));
        self
    }

    /// The line as a POSIX shell would take it (a here-document adds its lines).
    pub fn render(&self) -> String {
        let own = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.render()))
            .chain(self.argv.iter().map(Word::render))
            .collect::<Vec<_>>()
            .join(" ");
        match self.stdin.as_deref() {
            None => own,
            Some(Stdin::Pipe(producer)) => format!("{} | {own}", producer.render()),
            Some(Stdin::ShellPipe(producer)) => format!("{producer} | {own}"),
            Some(Stdin::HereDoc(text)) => {
                format!(
                    "{own} <<'{HEREDOC_END}'\n{}\n{HEREDOC_END}",
                    text.trim_end()
                )
            }
        }
    }
}

/// Quote a word for a POSIX shell: unchanged when it holds only safe characters, otherwise in
/// single quotes (a single quote inside becomes `'\''`).
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '%' | '+' | ',' | '=')
        });
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Split a command line the way a POSIX shell does for quoting (no expansion): for tests and
/// for reading `--token-command`.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => current.push(ch),
                            Some(ch) => {
                                current.push('\\');
                                current.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    current.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        for word in [
            "plain",
            "https://h/mcp",
            "two words",
            "it's",
            "${AUTH_HEADER}",
            "{\"client_id\":\"x\"}",
            "",
        ] {
            let line = CommandLine::new(["cmd", word]).render();
            assert_eq!(split(&line).expect("split"), ["cmd", word], "{line}");
        }
        assert_eq!(
            quote("Authorization:${AUTH_HEADER}"),
            "'Authorization:${AUTH_HEADER}'"
        );
    }

    #[test]
    fn shell_words_are_kept_verbatim() {
        let line = CommandLine::new(["npx", "x"])
            .shell_arg("\"Authorization: Bearer $(oc mcp-client token)\"")
            .env("A", Word::lit("b c"))
            .render();
        assert_eq!(
            line,
            "A='b c' npx x \"Authorization: Bearer $(oc mcp-client token)\""
        );
        assert_eq!(
            split(&line).expect("split"),
            [
                "A=b c",
                "npx",
                "x",
                "Authorization: Bearer $(oc mcp-client token)"
            ]
        );
    }
}
