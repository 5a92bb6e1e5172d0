//! `config --write` on the files users really have, run as the real binary: a VS Code
//! `mcp.json` with comments and trailing commas is edited in place (only our entry's text is
//! new; a second run changes no byte); what is not a regular file (a device, a FIFO, a
//! directory, a dangling symlink), or is far too big to be a client file, is refused with
//! exit 2 and left as it was, without blocking; a symlink is followed and kept.

use crate::common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use common::{LIMIT, NAME, URL, bin, ok, openshift_config, run, stderr};
use oc_mcp_client::jsonfile;
use serde_json::Value;

fn write_to(home: &Path, client: &str, path: &Path) -> Command {
    let mut cmd = bin(home);
    cmd.args(openshift_config(client))
        .arg("--write")
        .arg(path)
        .args(["-o", "json"]);
    cmd
}

fn report(out: &Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The names in `dir`, sorted: a refused write must leave no backup or temporary file.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A VS Code `mcp.json` as people keep it: a header comment, line and block comments beside
/// values, trailing commas, tabs, another server and another input.
const VSCODE: &str = "// Servers for this workspace. See https://code.visualstudio.com/docs/copilot/chat/mcp-servers\n\
{\n\
\t\"inputs\": [\n\
\t\t/* the GitHub token, asked once */\n\
\t\t{\"type\": \"promptString\", \"id\": \"gh\", \"password\": true},\n\
\t],\n\
\t\"servers\": {\n\
\t\t// local files\n\
\t\t\"fs\": {\n\
\t\t\t\"command\": \"npx\",\n\
\t\t\t\"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/tmp\",], // read-only\n\
\t\t},\n\
\t},\n\
}\n";

#[test]
fn a_vscode_file_keeps_its_comments_commas_and_layout() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let dir = h.join(".vscode");
    fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("mcp.json");
    fs::write(&path, VSCODE).expect("seed");

    let out = run(write_to(h, "vscode", &path), LIMIT);
    let first = report(&out);
    assert_eq!(first["action"], "added");
    assert_eq!(
        first["backup"]
            .as_str()
            .map(fs::read_to_string)
            .map(Result::ok),
        Some(Some(VSCODE.to_owned()))
    );
    let written = fs::read_to_string(&path).expect("read");
    assert!(
        !stderr(&out).contains("comments"),
        "no warning about comments: {}",
        stderr(&out)
    );

    // Every line of the old file is still there, unchanged and in order; the new lines are
    // our input and our server, in the file's tabs, with its trailing commas.
    let mut old = VSCODE.lines().peekable();
    let mut new_lines = Vec::new();
    for line in written.lines() {
        if old.peek() == Some(&line) {
            old.next();
        } else {
            new_lines.push(line);
        }
    }
    assert_eq!(old.next(), None, "an old line is gone:\n{written}");
    assert!(!new_lines.is_empty());
    for line in &new_lines {
        assert!(
            line.starts_with("\t\t"),
            "new line {line:?} is not indented with the file's tabs"
        );
    }
    let ours = new_lines.join("\n");
    assert!(ours.contains(&format!("\"{NAME}\": {{")), "{ours}");
    assert!(ours.contains(URL), "{ours}");
    // The file's trailing-comma style: our server's object ends with one, as `fs` does.
    let server_end = written
        .find(&format!("\"{NAME}\""))
        .and_then(|at| written[at..].find("\n\t\t},").map(|end| at + end))
        .unwrap_or_else(|| panic!("our server does not end with `}},`:\n{written}"));
    assert!(server_end > written.find("\"fs\"").unwrap_or(usize::MAX));

    // What VS Code reads from it: the old server and input as they were, and ours.
    let value = jsonfile::parse(&written, &path).expect("JSONC").to_value();
    assert_eq!(
        value["servers"]["fs"]["args"],
        serde_json::json!(["-y", "@modelcontextprotocol/server-filesystem", "/tmp"])
    );
    assert_eq!(value["servers"][NAME]["url"], URL);
    assert_eq!(value["inputs"][0]["id"], "gh");

    // The same again: unchanged, the same bytes, no second backup.
    let bytes = fs::read(&path).expect("read");
    let again = report(&run(write_to(h, "vscode", &path), LIMIT));
    assert_eq!(again["action"], "unchanged");
    assert_eq!(fs::read(&path).expect("read"), bytes);
    assert_eq!(names(&dir), ["mcp.json", "mcp.json.bak"]);
}

#[test]
fn a_plain_json_file_changes_only_where_our_entry_goes() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let path = h.join("mcp.json");
    // Compact, on one line, keys not in sorted order, no final newline.
    let original =
        r#"{"zz": 1, "mcpServers": {"web": {"url": "https://example.com/mcp"}}, "aa": [1, 2]}"#;
    fs::write(&path, original).expect("seed");
    assert_eq!(
        report(&run(write_to(h, "cursor", &path), LIMIT))["action"],
        "added"
    );
    let written = fs::read_to_string(&path).expect("read");
    assert!(
        written.starts_with(r#"{"zz": 1, "mcpServers": {"#),
        "{written}"
    );
    assert!(written.ends_with(r#"}, "aa": [1, 2]}"#), "{written}");
    assert!(written.contains(r#""web": {"url": "https://example.com/mcp"}"#));
    let value: Value = serde_json::from_str(&written).expect("still plain JSON");
    assert_eq!(value["mcpServers"][NAME]["url"], URL);
    assert_eq!(value["mcpServers"]["web"]["url"], "https://example.com/mcp");
}

/// Run `config --write` onto `path`, expect a refusal that names it and `kind`.
fn refused(home: &Path, path: &Path, kind: &str) -> String {
    let out = run(write_to(home, "cursor", path), LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
    assert!(
        err.contains(&path.display().to_string()) && err.contains(kind),
        "{} / {kind}: {err}",
        path.display()
    );
    assert!(err.contains("--write PATH"), "names the fix: {err}");
    err
}

#[cfg(unix)]
#[test]
fn dev_null_is_refused_and_stays_a_device() {
    use std::os::unix::fs::FileTypeExt as _;
    let home = tempfile::tempdir().expect("home");
    let null = Path::new("/dev/null");
    refused(
        home.path(),
        null,
        "is a character device, not a regular file",
    );
    let meta = fs::symlink_metadata(null).expect("meta");
    assert!(meta.file_type().is_char_device());
    // No backup or temporary file beside it either.
    assert!(
        !names(Path::new("/dev"))
            .iter()
            .any(|n| n.starts_with("null.") || n.starts_with(".null.")),
    );
    // A dry run reads the file too, and is refused the same way.
    let mut cmd = write_to(home.path(), "cursor", null);
    cmd.arg("--dry-run");
    assert_eq!(run(cmd, LIMIT).status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    use std::os::unix::fs::FileTypeExt as _;
    let home = tempfile::tempdir().expect("home");
    let dir = home.path().join("pipes");
    fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("mcp.json");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());
    refused(
        home.path(),
        &fifo,
        "is a FIFO (named pipe), not a regular file",
    );
    assert!(
        fs::symlink_metadata(&fifo)
            .expect("meta")
            .file_type()
            .is_fifo()
    );
    assert_eq!(names(&dir), ["mcp.json"]);

    // Behind a symlink too.
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&fifo, &link).expect("link");
    refused(home.path(), &link, "which is a FIFO (named pipe)");
    assert_eq!(names(&dir), ["link.json", "mcp.json"]);
}

#[test]
fn a_directory_is_refused() {
    let home = tempfile::tempdir().expect("home");
    let dir = home.path().join("mcp.json");
    fs::create_dir_all(dir.join("inside")).expect("dir");
    refused(home.path(), &dir, "is a directory, not a regular file");
    assert_eq!(names(&dir), ["inside"]);
    assert_eq!(names(home.path()), ["mcp.json"]);
}

#[test]
fn a_huge_file_is_refused_without_being_read() {
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("mcp.json");
    // 200 MiB, sparse: reading it whole is what must not happen.
    let size = 200 * 1024 * 1024;
    fs::File::create(&path)
        .and_then(|f| f.set_len(size))
        .expect("sparse file");
    let err = refused(home.path(), &path, &format!("is {size} bytes"));
    assert!(err.contains("at most 4 MiB"), "{err}");
    assert_eq!(fs::metadata(&path).expect("meta").len(), size);
    assert_eq!(names(home.path()), ["mcp.json"]);
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_refused_and_kept() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let link = h.join("mcp.json");
    let gone = h.join("dotfiles").join("mcp.json");
    std::os::unix::fs::symlink(&gone, &link).expect("link");
    refused(h, &link, "which does not exist");
    assert_eq!(fs::read_link(&link).expect("still a link"), gone);
    assert!(!h.join("dotfiles").exists(), "the target was not created");
    assert_eq!(names(h), ["mcp.json"]);
}

#[cfg(unix)]
#[test]
fn a_symlink_is_followed_and_the_link_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let dotfiles = h.join("dotfiles");
    let cursor = h.join(".cursor");
    fs::create_dir_all(&dotfiles).expect("dir");
    fs::create_dir_all(&cursor).expect("dir");
    let target = dotfiles.join("cursor-mcp.json");
    let original = "{\n  \"mcpServers\": {}\n}\n";
    fs::write(&target, original).expect("seed");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = cursor.join("mcp.json");
    // A relative link, as dotfile managers make them.
    std::os::unix::fs::symlink("../dotfiles/cursor-mcp.json", &link).expect("link");

    let out = run(write_to(h, "cursor", &link), LIMIT);
    let first = report(&out);
    let real: PathBuf = fs::canonicalize(&target).expect("canonical");
    assert!(
        stderr(&out).contains(&format!(
            "following symlink {} -> {}",
            link.display(),
            real.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(first["action"], "added");
    assert_eq!(first["file"], link.display().to_string());
    assert_eq!(
        fs::read_link(&link).expect("still a link"),
        Path::new("../dotfiles/cursor-mcp.json")
    );
    let value: Value =
        serde_json::from_str(&fs::read_to_string(&target).expect("read")).expect("JSON");
    assert_eq!(value["mcpServers"][NAME]["url"], URL);
    assert_eq!(common::mode(&target), 0o640, "permissions kept");
    // The backup is beside the file that was edited, with what it held.
    let backup = first["backup"].as_str().expect("a backup");
    assert_eq!(Path::new(backup).parent(), real.parent());
    assert_eq!(fs::read_to_string(backup).expect("backup"), original);
    assert_eq!(names(&cursor), ["mcp.json"]);

    let again = report(&run(write_to(h, "cursor", &link), LIMIT));
    assert_eq!(again["action"], "unchanged");
    assert!(
        fs::symlink_metadata(&link)
            .expect("meta")
            .file_type()
            .is_symlink()
    );
}
