//! Checks of the repository's layout that neither rustc nor clippy make.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, ensure};

/// Each crate links its integration tests as one binary (`autotests = false`, `tests/main.rs`),
/// so a file under `tests/` that `main.rs` does not declare would never be compiled or run.
pub fn test_modules(root: &Path) -> Result<()> {
    let mut missing = Vec::new();
    for crate_dir in crate_dirs(root)? {
        let tests = crate_dir.join("tests");
        let files = test_files(&tests)?;
        if files.is_empty() {
            continue;
        }
        let main = tests.join("main.rs");
        let declared = fs::read_to_string(&main)
            .map(|text| declared_modules(&text))
            .unwrap_or_default();
        for name in files.difference(&declared) {
            missing.push(format!("{}: `mod {name};`", main.display()));
        }
    }
    ensure!(
        missing.is_empty(),
        "test files that no test binary compiles; declare them in their crate's tests/main.rs:\n  {}",
        missing.join("\n  ")
    );
    Ok(())
}

/// Directories holding a `Cargo.toml`, one or two levels below the root (`common`,
/// `plugins/rbac`, `tests/e2e`, ...); `target` and the fuzz workspace are not members.
fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in read_dir_sorted(root)? {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !entry.is_dir() || name.starts_with('.') || matches!(name, "target" | "fuzz") {
            continue;
        }
        if entry.join("Cargo.toml").is_file() {
            dirs.push(entry.clone());
        }
        for nested in read_dir_sorted(&entry)? {
            if nested.is_dir() && nested.join("Cargo.toml").is_file() {
                dirs.push(nested);
            }
        }
    }
    Ok(dirs)
}

/// Module names a test binary must declare: `tests/*.rs` but `main.rs`, and `tests/*/mod.rs`.
fn test_files(tests: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    if !tests.is_dir() {
        return Ok(names);
    }
    for path in read_dir_sorted(tests)? {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let is_module_file = path.extension().is_some_and(|e| e == "rs") && stem != "main";
        if is_module_file || path.join("mod.rs").is_file() {
            names.insert(stem.to_owned());
        }
    }
    Ok(names)
}

fn declared_modules(main_rs: &str) -> BTreeSet<String> {
    main_rs
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("pub ").unwrap_or(line);
            rest.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|name| name.trim().to_owned())
        })
        .collect()
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_declaration_is_found_with_or_without_pub_and_comments_are_not() {
        let main =
            "//! docs: mod nope;\nmod common;\npub mod support;\n\nmod help;\n// mod gone;\n";
        let names: Vec<_> = declared_modules(main).into_iter().collect();
        assert_eq!(names, ["common", "help", "support"]);
    }

    #[test]
    fn the_workspace_declares_every_test_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives below the root");
        test_modules(root).expect("every tests/*.rs is a module of its tests/main.rs");
    }

    #[test]
    fn an_undeclared_test_file_is_named_with_the_line_to_add() {
        let root = tempfile::tempdir().expect("temp dir");
        let tests = root.path().join("plugins/demo/tests");
        fs::create_dir_all(tests.join("support")).expect("mkdir");
        fs::write(root.path().join("plugins/demo/Cargo.toml"), "").expect("write");
        fs::write(tests.join("support/mod.rs"), "").expect("write");
        fs::write(tests.join("main.rs"), "mod support;\nmod help;\n").expect("write");
        fs::write(tests.join("help.rs"), "").expect("write");
        fs::write(tests.join("forgotten.rs"), "").expect("write");

        let error = test_modules(root.path()).expect_err("forgotten.rs is not declared");
        let message = format!("{error:#}");
        assert!(message.contains("mod forgotten;"), "{message}");
        assert!(!message.contains("mod help;"), "{message}");
    }
}
