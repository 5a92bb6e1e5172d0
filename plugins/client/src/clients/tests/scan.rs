//! The argv scan: no token, and no token command, on any program's command line that any
//! client's configuration makes, in any mode.

use super::{command, custom_command, oauth, setup};
use crate::{
    clients::{ClientAuth, ClientKind, Rendered, TokenSource, render},
    shell::quote,
};
use clap::ValueEnum as _;
use oc_mcp_common::kube_args::Secret;
use std::path::Path;

/// One simple command of a shell script: its assignments (`VAR=...`, `export VAR=...`)
/// and the words that become a program's argv, each as written (quotes kept).
#[derive(Debug, Default)]
struct Simple {
    assignments: Vec<String>,
    words: Vec<String>,
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Split a script into simple commands at unquoted `|`, `;`, `&` and newlines; the
/// commands inside `$(...)` are returned too. A quoted here-document's body is input, not
/// words: it is skipped.
fn simple_commands(script: &str) -> Vec<Simple> {
    let script = without_heredoc_bodies(script);
    let chars: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut current = Simple::default();
    let mut word = String::new();
    let mut i = 0;
    let finish_word = |word: &mut String, current: &mut Simple| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        let exported = current.words.first().is_some_and(|f| f == "export");
        if (current.words.is_empty() || exported) && is_assignment(&w) {
            current.assignments.push(w);
        } else {
            current.words.push(w);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&ch| ch == '\'')
                    .map_or(chars.len() - 1, |p| i + 1 + p);
                word.extend(&chars[i..=end]);
                i = end + 1;
            }
            '"' | '`' | '$' => {
                // Keep the text up to the closing quote or parenthesis; what a
                // substitution runs is scanned as commands of its own.
                let (start, close) = match c {
                    '"' => (i + 1, '"'),
                    '`' => (i + 1, '`'),
                    _ if chars.get(i + 1) == Some(&'(') => (i + 2, ')'),
                    _ => {
                        word.push(c);
                        i += 1;
                        continue;
                    }
                };
                let mut depth = 1;
                let mut j = start;
                while j < chars.len() {
                    if close == ')' && chars[j] == '(' {
                        depth += 1;
                    } else if chars[j] == close {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                let j = j.min(chars.len() - 1);
                let inner: String = chars[start..j].iter().collect();
                if c == '"' {
                    if let Some(p) = inner.find("$(") {
                        out.extend(simple_commands(inner[p + 2..].trim_end_matches(')')));
                    }
                } else {
                    out.extend(simple_commands(&inner));
                }
                word.extend(&chars[i..=j]);
                i = j + 1;
            }
            '|' | ';' | '&' | '\n' => {
                finish_word(&mut word, &mut current);
                out.push(std::mem::take(&mut current));
                i += 1;
            }
            c if c.is_whitespace() => {
                finish_word(&mut word, &mut current);
                i += 1;
            }
            c => {
                word.push(c);
                i += 1;
            }
        }
    }
    finish_word(&mut word, &mut current);
    out.push(current);
    out.retain(|s| !s.words.is_empty() || !s.assignments.is_empty());
    out
}

/// The script with each `<<'END'` redirection and its body removed: the body is input.
fn without_heredoc_bodies(script: &str) -> String {
    let mut out = String::new();
    let mut end: Option<String> = None;
    for line in script.split_inclusive('\n') {
        if let Some(delimiter) = &end {
            if line.trim_end() == delimiter {
                end = None;
            }
            continue;
        }
        match line.split_once("<<") {
            Some((before, after)) => {
                let delimiter: String = after
                    .trim_start()
                    .chars()
                    .take_while(|ch| !ch.is_whitespace())
                    .collect();
                end = Some(delimiter.trim_matches('\'').to_owned());
                out.push_str(before);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    out
}

/// What a scan found: a word of some program's argv with a token or a substitution.
pub(super) fn argv_leaks(script: &str, token: &str) -> Vec<String> {
    simple_commands(script)
        .into_iter()
        .flat_map(|s| s.words)
        .filter(|w| w.contains(token) || w.contains("$(") || w.contains('`'))
        .collect()
}

#[test]
fn the_scanner_sees_through_quotes_pipes_and_substitutions() {
    let token = "sha256~secret";
    assert!(argv_leaks(r#"X="Bearer $(tok)" npx a --h 'A:${X}'"#, token).is_empty());
    assert!(
        argv_leaks(
            "token=$(tok) || exit 1; export A=\"Bearer $token\"; exec npx a",
            token
        )
        .is_empty()
    );
    assert!(!argv_leaks(r#"npx a --header "Authorization: Bearer $(tok)""#, token).is_empty());
    assert!(
        !argv_leaks(
            "npx a --header 'Authorization: Bearer sha256~secret'",
            token
        )
        .is_empty()
    );
    assert!(!argv_leaks("tok | npx a `tok`", token).is_empty());
    assert!(!argv_leaks("x $(echo sha256~secret)", token).is_empty());
    assert!(argv_leaks("tok | npx a --config /dev/stdin", token).is_empty());
    assert!(
        argv_leaks("npx a <<'END'\n{\"t\":\"sha256~secret\"}\nEND", token).is_empty(),
        "a here-document is input"
    );
    assert!(!argv_leaks("npx a <<'END'\nx\nEND\nnpx sha256~secret", token).is_empty());
}

/// Every place a client configuration turns into a program's argv: the printed command
/// line, each entry's `command`/`args` (Goose: `cmd`/`args`; through `/bin/sh -c` scripts),
/// a `headersHelper`, and the `claude mcp add-json` line of the notes.
pub(super) fn argv_texts(rendered: &Rendered) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(line) = &rendered.command {
        texts.push(line.render());
    }
    let doc = rendered.document().to_value();
    // A map of servers by name, or Continue's list of servers.
    let entries: Vec<serde_json::Value> = match doc.get(rendered.fragment.servers_key) {
        Some(serde_json::Value::Object(servers)) => servers.values().cloned().collect(),
        Some(serde_json::Value::Array(servers)) => servers.clone(),
        other => panic!("no servers in {other:?}"),
    };
    for entry in &entries {
        let args: Vec<String> = entry["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let program = entry["command"].as_str().or_else(|| entry["cmd"].as_str());
        if let Some(command) = program {
            if command == "/bin/sh" && args.first().is_some_and(|a| a == "-c") {
                texts.push(args[1..].join(" "));
            } else {
                texts.push(
                    std::iter::once(command.to_owned())
                        .chain(args.iter().map(|a| quote(a)))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
        }
        if let Some(helper) = entry["headersHelper"].as_str() {
            texts.push(helper.to_owned());
        }
    }
    for note in &rendered.notes {
        if let Some(line) = note.strip_prefix("or let Claude Code add it: ") {
            texts.push(line.to_owned());
        }
    }
    texts
}

#[test]
fn no_token_and_no_token_command_on_any_argv_of_any_client_and_mode() {
    let token = "sha256~EMBEDDEDtokenVALUE";
    let embedded = ClientAuth::Bearer(TokenSource::Embedded(Secret::new(token)));
    let mut oauth_no_port = oauth();
    if let ClientAuth::OAuth(client) = &mut oauth_no_port {
        client.callback_port = None;
        client.entra = false;
    }
    let catalog = Path::new("/home/u/.mcp-inspector/mcp.json");
    let mut scanned = 0;
    for kind in ClientKind::value_variants() {
        for auth in [
            ClientAuth::None,
            command(),
            custom_command(),
            oauth(),
            oauth_no_port.clone(),
            embedded.clone(),
        ] {
            for token_env in [None, Some("KUBE_MCP".to_owned())] {
                for written in [None, Some(catalog)] {
                    let mut s = setup(auth.clone());
                    s.token_env = token_env.clone();
                    let rendered = render(*kind, &s, written);
                    let texts = argv_texts(&rendered);
                    for text in &texts {
                        let leaks = argv_leaks(text, token);
                        assert!(
                            leaks.is_empty(),
                            "{kind:?} {auth:?} written={written:?}: {leaks:?} in\n{text}"
                        );
                        scanned += 1;
                    }
                    // The scan must see the programs: each client has a command or file.
                    if matches!(kind, ClientKind::Inspector | ClientKind::McpRemote) {
                        assert!(rendered.command.is_some(), "{kind:?}");
                    }
                    // The clients that run mcp-remote for a token from a command: the scan
                    // saw the script that fetches it.
                    let via_mcp_remote = matches!(
                        kind,
                        ClientKind::ClaudeDesktop
                            | ClientKind::Jetbrains
                            | ClientKind::Zed
                            | ClientKind::Goose
                    ) || (*kind == ClientKind::Continue
                        && token_env.is_none());
                    if via_mcp_remote && matches!(auth, ClientAuth::Bearer(TokenSource::Command(_)))
                    {
                        assert!(!texts.is_empty(), "{kind:?} {auth:?}: no program found");
                    }
                }
            }
        }
    }
    assert!(scanned > 200, "scanned {scanned} command lines");
}
