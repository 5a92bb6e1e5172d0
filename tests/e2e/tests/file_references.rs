//! Every source or document file that a comment or a document of the repository names exists
//! in the repository, so a reader is never sent to a file that is not there.
//!
//! A reference is a word ending in `.rs` or `.md` in a Markdown file or in a Rust comment. It
//! holds when it names a tracked file relative to the repository root, to the naming file's
//! directory, or as the tail of a tracked path (`install/src/lib.rs`, `tests/main.rs`); a bare
//! file name holds when some tracked file has that name. URLs and globs are not references.
//! Configuration file names (`.toml`, `.yaml`, `.json`) are left out: most of them name the
//! server's or a client's files, not ours.

use std::{collections::BTreeSet, path::Path, process::Command};

use oc_mcp_e2e::workspace_root;

/// The files of the repository (tracked, or new and not ignored), as `/`-separated paths
/// relative to the root.
fn tracked(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git ls-files runs in the repository");
    assert!(out.status.success(), "git ls-files: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        // A file deleted in the work tree but still in the index is not in the repository.
        .filter(|p| root.join(p).exists())
        .map(str::to_owned)
        .collect()
}

/// Whether `name` ends in `.<extension>` (exactly: `.RS` is not Rust here).
fn has_extension(name: &str, extension: &str) -> bool {
    Path::new(name).extension().and_then(|e| e.to_str()) == Some(extension)
}

/// The text of a file that can name files: a Markdown file whole, a Rust file's comments.
fn prose(path: &str, text: &str) -> Vec<(usize, String)> {
    let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if has_extension(path, "md") {
        return lines.map(|(n, l)| (n, l.to_owned())).collect();
    }
    lines
        .filter_map(|(n, line)| {
            let comment = if line.trim_start().starts_with("//") {
                line
            } else {
                // A trailing comment; " // " with spaces is never the `//` of a URL.
                line.split_once(" // ").map(|(_, c)| c)?
            };
            Some((n, comment.to_owned()))
        })
        .collect()
}

/// The words of a line that look like a path to a `.rs` or `.md` file.
fn references(line: &str) -> Vec<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(is_path_char) {
        let before = &rest[..start];
        let tail = &rest[start..];
        let len = tail.find(|c: char| !is_path_char(c)).unwrap_or(tail.len());
        let word = tail[..len].trim_end_matches('.');
        let url = before.ends_with(':') && tail.starts_with("//");
        let glob = before.ends_with('*') || tail[len..].starts_with('*');
        let word = word.trim_start_matches("./");
        let named = word.len() > 3 && !word.starts_with('.');
        if named && !url && !glob && (has_extension(word, "rs") || has_extension(word, "md")) {
            found.push(word.to_owned());
        }
        rest = &tail[len..];
    }
    found
}

fn resolves(word: &str, from: &str, files: &BTreeSet<&str>, names: &BTreeSet<&str>) -> bool {
    if !word.contains('/') {
        return names.contains(word);
    }
    let word = word.trim_start_matches('/');
    let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
    let beside = if dir.is_empty() {
        word.to_owned()
    } else {
        format!("{dir}/{word}")
    };
    let suffix = format!("/{word}");
    files.contains(word)
        || files.contains(beside.as_str())
        || files.iter().any(|f| f.ends_with(&suffix))
}

#[test]
fn every_file_a_comment_or_document_names_exists() {
    let root = workspace_root();
    let all = tracked(&root);
    let files: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    let names: BTreeSet<&str> = all
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    let mut missing = Vec::new();
    for path in all
        .iter()
        .filter(|p| has_extension(p, "rs") || has_extension(p, "md"))
    {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            continue;
        };
        for (line, words) in prose(path, &text) {
            for word in references(&words) {
                if !resolves(&word, path, &files, &names) {
                    missing.push(format!("{path}:{line}: `{word}`"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these comments and documents name files the repository does not hold (name a file \
         that is here, or say what the text means without a file name):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn references_are_found_in_prose_but_not_in_urls_or_globs() {
    assert_eq!(
        references("see docs/threat-model.md and `plan.rs`."),
        ["docs/threat-model.md", "plan.rs"]
    );
    assert!(
        references("https://github.com/kube-rs/kube/blob/main/kube-client/src/error.rs").is_empty()
    );
    assert!(references("tests/*/mod.rs and tests/*.rs").is_empty());
    // Spelled in pieces so that this file's own comment scan does not see them.
    let source = [
        "let x = \"forgotten.rs\";\n",
        "/",
        "/ names b.rs\nf(); /",
        "/ and c.md",
    ]
    .concat();
    assert_eq!(
        prose("a.rs", &source),
        [(2, "// names b.rs".to_owned()), (3, "and c.md".to_owned())]
    );
    assert!(references("the extensions `.rs` and `.md`").is_empty());
}

#[test]
fn a_reference_resolves_from_the_root_beside_its_file_or_as_a_tail() {
    let files: BTreeSet<&str> = [
        "plugins/install/src/lib.rs",
        "docs/threat-model.md",
        "README.md",
    ]
    .into_iter()
    .collect();
    let names: BTreeSet<&str> = ["lib.rs", "threat-model.md", "README.md"]
        .into_iter()
        .collect();
    let ok = |word, from| resolves(word, from, &files, &names);
    assert!(ok("docs/threat-model.md", "README.md"));
    assert!(ok("threat-model.md", "plugins/install/src/lib.rs"));
    assert!(ok("install/src/lib.rs", "RELIABILITY.md"));
    assert!(ok("src/lib.rs", "plugins/install/README.md"));
    assert!(!ok("design.md", "common/src/lib.rs"));
    assert!(!ok("docs/design.md", "README.md"));
    assert!(!ok("other/src/lib.rs", "README.md"));
}
