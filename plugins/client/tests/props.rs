//! Properties of the JSON merge on files made up of random pieces: it never panics on what a
//! user's file may hold; what it accepts keeps every comment and every other key; merging
//! again changes no byte; what it refuses is a usage error (exit 2).

use std::path::Path;

use oc_mcp_client::jsonfile::{self, Action, Fragment, Json, Object};
use proptest::prelude::*;

fn fragment(servers_key: &'static str, with_input: bool) -> Fragment {
    Fragment {
        servers_key,
        name: "kube".into(),
        entry: Object::new()
            .with("type", "http")
            .with("url", "https://h.example.com/mcp"),
        inputs: if with_input {
            vec![Object::new().with("id", "tok").with("password", true)]
        } else {
            Vec::new()
        },
    }
}

/// The members a client file may have, each as its tokens; trivia goes between tokens.
const MEMBERS: [&[&str]; 5] = [
    &["\"inputs\"", ":", "[", "{\"id\": \"other\"}", "]"],
    &[
        "\"servers\"",
        ":",
        "{",
        "\"fs\"",
        ":",
        "{\"command\": \"npx\", \"args\": [\"-y\", 1.5e3, null, true]}",
        "}",
    ],
    &["\"servers\"", ":", "{", "}"],
    &[
        "\"mcpServers\"",
        ":",
        "{",
        "\"kube\"",
        ":",
        "{\"url\": \"old\"}",
        "}",
    ],
    &["\"extra\"", ":", "\"a // not a comment\""],
];

fn trivia(commas: u32) -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just(""),
        4 => Just(" "),
        4 => Just("\n"),
        2 => Just("\t\t"),
        1 => Just("\r\n"),
        2 => Just("// c1\n"),
        2 => Just("/* c2 */"),
        1 => Just("/* c3\n */"),
        // A stray comma: a trailing one is JSONC, any other is an error.
        commas => Just(","),
    ]
}

/// A file of some of the members, in some order, commas between them, trivia everywhere.
/// A `valid` one has no stray comma and no member twice.
fn jsonc_file(valid: bool) -> impl Strategy<Value = String> {
    let members: Vec<usize> = if valid {
        vec![0, 1, 3, 4]
    } else {
        (0..MEMBERS.len()).collect()
    };
    let most = members.len();
    (
        proptest::sample::subsequence(members, 0..=most).prop_shuffle(),
        proptest::collection::vec(trivia(u32::from(!valid)), 40),
    )
        .prop_map(|(members, trivia)| {
            let mut tokens = vec!["{"];
            for (n, member) in members.iter().enumerate() {
                if n > 0 {
                    tokens.push(",");
                }
                tokens.extend_from_slice(MEMBERS[*member]);
            }
            tokens.push("}");
            let mut trivia = trivia.into_iter().cycle();
            let mut text = String::new();
            for token in tokens {
                text.push_str(trivia.next().unwrap_or_default());
                text.push_str(token);
            }
            text.push_str(trivia.next().unwrap_or_default());
            text
        })
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Merge into `text` and check what came out; whether the merge accepted the file.
fn check(text: &str, vscode: bool) -> Result<bool, TestCaseError> {
    let path = Path::new("mcp.json");
    let fragment = fragment(if vscode { "servers" } else { "mcpServers" }, vscode);
    let merged = match jsonfile::merge(Some(text), &fragment, path) {
        Err(e) => {
            prop_assert_eq!(e.exit_code().code(), 2, "{}", e);
            return Ok(false);
        }
        Ok(merged) => merged,
    };
    for comment in ["// c1", "/* c2 */", "/* c3\n */", "a // not a comment"] {
        prop_assert!(
            count(&merged.text, comment) >= count(text, comment),
            "{comment:?} lost:\n{text}\n=>\n{}",
            merged.text
        );
    }
    if merged.action == Action::Unchanged {
        prop_assert_eq!(&merged.text, text);
    }
    let value = jsonfile::parse(&merged.text, path)
        .map_err(|e| TestCaseError::fail(format!("{e}:\n{}", merged.text)))?
        .to_value();
    prop_assert_eq!(
        &value[fragment.servers_key]["kube"],
        &Json::Object(fragment.entry.clone()).to_value()
    );
    if text.contains("\"npx\"") && value[fragment.servers_key].get("fs").is_some() {
        prop_assert_eq!(&value[fragment.servers_key]["fs"]["command"], "npx");
    }
    if text.contains("\"extra\"") {
        prop_assert_eq!(&value["extra"], "a // not a comment");
    }
    let again = jsonfile::merge(Some(&merged.text), &fragment, path)
        .map_err(|e| TestCaseError::fail(format!("merging again: {e}")))?;
    prop_assert_eq!(again.action, Action::Unchanged);
    prop_assert_eq!(again.text, merged.text);
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_jsonc_file_is_merged_keeping_everything_else(
        text in jsonc_file(true),
        vscode in any::<bool>(),
    ) {
        prop_assert!(check(&text, vscode)?, "refused:\n{text}");
    }

    #[test]
    fn any_text_is_merged_or_refused_never_mangled(
        text in prop_oneof![jsonc_file(false), "[{}\\[\\]\",:/* \\n\\ta-z0-9]{0,60}", any::<String>()],
        vscode in any::<bool>(),
    ) {
        check(&text, vscode)?;
    }
}
