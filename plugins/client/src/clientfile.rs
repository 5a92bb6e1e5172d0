//! Reading and replacing an MCP client's configuration file safely, whatever its format
//! (JSON, TOML, YAML): text in, text out. The format modules work on the text; this module
//! decides what may be read and how it is written.
//!
//! - [`read`]`(path)`: `Ok(None)` when nothing is at `path`; `Ok(Some(Existing))` with the text
//!   of a regular file of at most [`MAX_BYTES`]. A symlink is followed to its file
//!   ([`Existing::followed`] names it, and that file is what [`replace`] edits, the link kept).
//!   Anything else is a usage error (exit 2) naming the path, what it is and what to do: a
//!   device (`/dev/null`), FIFO, socket or directory, a dangling symlink or one to such a thing,
//!   a file over the cap or not UTF-8. It never blocks (a FIFO is never opened for reading; the
//!   open is non-blocking besides) and never reads more than `MAX_BYTES + 1` bytes.
//! - [`replace`]`(path, existing, text, private)`: the new `text` goes to a temporary file beside
//!   the file and is renamed over it, so a crash leaves the old file or the new one, never half.
//!   The previous text is first saved to a backup beside it ([`backup_path`], never overwriting
//!   one). Permissions are kept; `private` (the text holds a secret) makes the file `0600`, and a
//!   new file is `0644` otherwise. It refuses, changing nothing, when the file changed or
//!   appeared since [`read`].
//! - [`Action`]: what a merge did to the file, for reports.

use std::{
    fmt,
    fs::{self, File, FileType, Metadata, Permissions},
    io::{self, Read as _, Write as _},
    path::{Path, PathBuf},
};

use oc_mcp_common::{Error, Result};
use serde::Serialize;

/// Largest client file read: they hold a few KB; anything this big is not one.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// How a merge changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The server was not in the file (or there was no file).
    Added,
    /// The server was there with other settings.
    Replaced,
    /// The file already says exactly this.
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Added => "added",
            Self::Replaced => "replaced",
            Self::Unchanged => "unchanged",
        })
    }
}

/// A client file that is there, as [`read`] found it.
#[derive(Clone)]
pub struct Existing {
    /// The path given.
    pub path: PathBuf,
    /// The file that holds the text: `path`, or the file a symlink at `path` leads to.
    pub target: PathBuf,
    /// The file's text.
    pub text: String,
    symlink: bool,
    permissions: Permissions,
}

// By hand: the text may hold a token, and a debug print must not show it.
impl fmt::Debug for Existing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Existing")
            .field("path", &self.path)
            .field("target", &self.target)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("symlink", &self.symlink)
            .finish_non_exhaustive()
    }
}

impl Existing {
    /// The file a symlink at `path` leads to (what is read and replaced), if `path` is one.
    pub fn followed(&self) -> Option<&Path> {
        self.symlink.then_some(self.target.as_path())
    }
}

/// What [`replace`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The path given.
    pub path: PathBuf,
    /// The file written: `path`, or the file its symlink leads to.
    pub target: PathBuf,
    /// Where the previous text was saved.
    pub backup: Option<PathBuf>,
}

/// The client file at `path`, if there is one (see the module documentation).
pub fn read(path: &Path) -> Result<Option<Existing>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let symlink = meta.file_type().is_symlink();
    let (target, meta) = if symlink {
        follow(path)?
    } else {
        (path.to_owned(), meta)
    };
    if !meta.file_type().is_file() {
        return Err(not_regular(
            path,
            symlink.then_some(&target),
            meta.file_type(),
        ));
    }
    let text = read_regular(&target, path)?;
    Ok(Some(Existing {
        path: path.to_owned(),
        target,
        text,
        symlink,
        permissions: meta.permissions(),
    }))
}

/// Where the symlink at `path` leads, and what is there.
fn follow(path: &Path) -> Result<(PathBuf, Metadata)> {
    let link = fs::read_link(path)
        .map_err(|e| Error::io(format!("reading the symlink {}", path.display()), e))?;
    let target = fs::canonicalize(path).map_err(|e| {
        let problem = if e.kind() == io::ErrorKind::NotFound {
            format!(
                "{} is a symlink to {}, which does not exist",
                path.display(),
                link.display()
            )
        } else {
            format!(
                "{} is a symlink to {} that cannot be followed: {e}",
                path.display(),
                link.display()
            )
        };
        Error::usage_with_hint(
            problem,
            "create the file it points to, remove the link, or write to another file with --write PATH",
        )
    })?;
    // The resolved path has no symlink left in it: this is the file itself.
    let meta = fs::symlink_metadata(&target)
        .map_err(|e| Error::io(format!("reading {}", target.display()), e))?;
    Ok((target, meta))
}

fn not_regular(path: &Path, target: Option<&PathBuf>, kind: FileType) -> Error {
    let what = match target {
        Some(target) => format!(
            "{} is a symlink to {}, which is {}",
            path.display(),
            target.display(),
            kind_name(kind)
        ),
        None => format!("{} is {}", path.display(), kind_name(kind)),
    };
    Error::usage_with_hint(
        format!("{what}, not a regular file: a client configuration must be a file"),
        "give the client's configuration file with --write PATH (a new path is created), \
         or leave out --write to print the configuration",
    )
}

/// What a file type is, for messages.
fn kind_name(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symlink"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// The text of the regular file at `target` (`shown` is the path the user gave), checked
/// again on the open file: it may have been swapped since it was looked at.
fn read_regular(target: &Path, shown: &Path) -> Result<String> {
    check_size(shown, fs::symlink_metadata(target).map_or(0, |m| m.len()))?;
    let reading = |e| Error::io(format!("reading {}", shown.display()), e);
    let file = open_no_wait(target).map_err(reading)?;
    let meta = file.metadata().map_err(reading)?;
    if !meta.file_type().is_file() {
        return Err(not_regular(shown, None, meta.file_type()));
    }
    check_size(shown, meta.len())?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(reading)?;
    check_size(shown, u64::try_from(bytes.len()).unwrap_or(u64::MAX))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::usage_with_hint(
            format!(
                "{} is not UTF-8 text (invalid byte at offset {}): it is not a client configuration",
                shown.display(),
                e.utf8_error().valid_up_to()
            ),
            "check the path, or write to another file with --write PATH",
        )
    })
}

fn check_size(path: &Path, len: u64) -> Result<()> {
    if len <= MAX_BYTES {
        return Ok(());
    }
    Err(Error::usage_with_hint(
        format!(
            "{} is {len} bytes: larger than any client configuration (at most {} MiB are read)",
            path.display(),
            MAX_BYTES / 1024 / 1024
        ),
        "check that it is the client's configuration file, or write to another file with --write PATH",
    ))
}

/// Open for reading without blocking (a FIFO would wait for a writer) and without following
/// a symlink put in the file's place after it was checked.
#[cfg(unix)]
fn open_no_wait(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty())?;
    Ok(File::from(fd))
}

#[cfg(not(unix))]
fn open_no_wait(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Write `text` in place of the file [`read`] found (`existing`), or as a new file at `path`
/// (see the module documentation).
pub fn replace(
    path: &Path,
    existing: Option<&Existing>,
    text: &str,
    private: bool,
) -> Result<Written> {
    let target = existing.map_or_else(|| path.to_owned(), |e| e.target.clone());
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    still_as_read(path, existing)?;
    let backup = match existing {
        Some(existing) => Some(save_backup(existing)?),
        None => None,
    };
    let permissions = existing.map(|e| e.permissions.clone());
    let temp = write_temp(&parent, &target, text, private, permissions).map_err(|e| {
        Error::io(
            format!("writing a temporary file beside {}", target.display()),
            e,
        )
    })?;
    // The last look before the rename: what is there must still be what was read.
    let renamed = still_as_read(path, existing).and_then(|()| {
        fs::rename(&temp, &target)
            .map_err(|e| Error::io(format!("writing {}", target.display()), e))
    });
    if let Err(e) = renamed {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(Written {
        path: path.to_owned(),
        target,
        backup,
    })
}

/// Refuse when the file changed, or a file appeared, since [`read`]: another program is
/// writing it, and replacing its text would lose that program's change.
fn still_as_read(path: &Path, existing: Option<&Existing>) -> Result<()> {
    let changed = || {
        Error::usage_with_hint(
            format!(
                "{} changed while the new configuration was being written; nothing was written",
                path.display()
            ),
            "close the program that edits it (the client itself?) and run the command again",
        )
    };
    match existing {
        None => match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            _ => Err(changed()),
        },
        Some(existing) => match read(path)? {
            Some(now) if now.target == existing.target && now.text == existing.text => Ok(()),
            _ => Err(changed()),
        },
    }
}

/// Save the text that is about to be replaced, with the file's permissions.
fn save_backup(existing: &Existing) -> Result<PathBuf> {
    let backup = backup_path(&existing.target);
    let result = (|| -> io::Result<()> {
        let mut file = create_private(&backup)?;
        file.write_all(existing.text.as_bytes())?;
        file.sync_all()?;
        fs::set_permissions(&backup, existing.permissions.clone())
    })();
    result.map_err(|e| {
        Error::io(
            format!(
                "backing up {} to {}",
                existing.target.display(),
                backup.display()
            ),
            e,
        )
    })?;
    Ok(backup)
}

/// `text` in a new file beside `target`, with the final permissions, flushed to disk.
fn write_temp(
    parent: &Path,
    target: &Path,
    text: &str,
    private: bool,
    permissions: Option<Permissions>,
) -> io::Result<PathBuf> {
    let name = target
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    // A temporary file left by a run that was killed is never reused; the next name is tried.
    let (temp, mut file) = (0..100)
        .find_map(|n| {
            let temp = parent.join(format!(".{name}.oc-mcp-{pid}-{n}.tmp"));
            match create_private(&temp) {
                Ok(file) => Some(Ok((temp, file))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
                Err(e) => Some(Err(e)),
            }
        })
        .unwrap_or_else(|| {
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "100 temporary files of earlier runs are in the way",
            ))
        })?;
    let written = (|| -> io::Result<()> {
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        match permissions {
            _ if private => Ok(()),
            Some(permissions) => fs::set_permissions(&temp, permissions),
            None => set_default_mode(&temp),
        }
    })();
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// A new file only the owner can read (it may hold a secret until its mode is set).
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn set_default_mode(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_default_mode(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// `<file>.bak`, or `<file>.bak.1`, `.bak.2`, ... when taken: no backup is ever overwritten.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    let first = PathBuf::from(&name);
    if fs::symlink_metadata(&first).is_err() {
        return first;
    }
    (1..10_000)
        .map(|n| {
            let mut candidate = name.clone();
            candidate.push(format!(".{n}"));
            PathBuf::from(candidate)
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit_code(result: Result<Option<Existing>>) -> (u8, String) {
        let err = result.expect_err("refused");
        (err.exit_code().code(), err.to_string())
    }

    #[test]
    fn replace_keeps_a_backup_and_never_overwrites_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub").join("mcp.json");
        assert!(read(&path).expect("read").is_none());
        let first = replace(&path, None, "{}\n", false).expect("write");
        assert_eq!(first.backup, None);
        let existing = read(&path).expect("read").expect("a file");
        assert_eq!(existing.text, "{}\n");
        assert_eq!(existing.followed(), None);
        assert!(!format!("{existing:?}").contains("{}"), "{existing:?}");
        let second = replace(&path, Some(&existing), "{\"a\": 1}\n", false).expect("write");
        let backup = second.backup.expect("backup");
        assert_eq!(fs::read_to_string(&backup).expect("read"), "{}\n");
        let existing = read(&path).expect("read").expect("a file");
        let third = replace(&path, Some(&existing), "{\"a\": 2}\n", false).expect("write");
        let backup2 = third.backup.expect("backup");
        assert_ne!(backup, backup2);
        assert_eq!(fs::read_to_string(&backup2).expect("read"), "{\"a\": 1}\n");
        assert_eq!(fs::read_to_string(&path).expect("read"), "{\"a\": 2}\n");
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("mcp.json");
        fs::write(&path, "{}").expect("seed");
        let existing = read(&path).expect("read").expect("a file");
        fs::write(&path, "{\"theirs\": 1}").expect("edit");
        let err = replace(&path, Some(&existing), "{\"ours\": 1}", false).expect_err("refused");
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.to_string().contains("changed"), "{err}");
        assert_eq!(fs::read_to_string(&path).expect("read"), "{\"theirs\": 1}");
        // A file that appeared where there was none is not replaced either.
        let new = dir.path().join("new.json");
        assert!(read(&new).expect("read").is_none());
        fs::write(&new, "theirs").expect("appear");
        assert!(replace(&new, None, "ours", false).is_err());
        assert_eq!(fs::read_to_string(&new).expect("read"), "theirs");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 2);
    }

    #[test]
    fn oversize_and_non_utf8_files_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let big = dir.path().join("big.json");
        File::create(&big)
            .and_then(|f| f.set_len(MAX_BYTES + 1))
            .expect("sparse file");
        let (code, message) = exit_code(read(&big));
        assert_eq!(code, 2);
        assert!(message.contains("4194305 bytes"), "{message}");
        let at_cap = dir.path().join("cap.json");
        File::create(&at_cap)
            .and_then(|f| f.set_len(MAX_BYTES))
            .expect("sparse file");
        assert_eq!(
            read(&at_cap).expect("read").map(|e| e.text.len()),
            Some(4 * 1024 * 1024)
        );
        let binary = dir.path().join("bin.json");
        fs::write(&binary, b"{\"a\": \"\xff\"}").expect("seed");
        let (code, message) = exit_code(read(&binary));
        assert_eq!(code, 2);
        assert!(message.contains("not UTF-8"), "{message}");
    }

    #[test]
    fn a_directory_is_named_as_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let (code, message) = exit_code(read(dir.path()));
        assert_eq!(code, 2);
        assert!(
            message.contains("is a directory, not a regular file"),
            "{message}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_kept() {
        use std::os::unix::fs::{PermissionsExt as _, symlink};
        let dir = tempfile::tempdir().expect("tmp");
        let real = dir.path().join("dotfiles").join("mcp.json");
        fs::create_dir_all(real.parent().expect("parent")).expect("dir");
        fs::write(&real, "{}").expect("seed");
        fs::set_permissions(&real, Permissions::from_mode(0o640)).expect("chmod");
        let link = dir.path().join("mcp.json");
        symlink(&real, &link).expect("link");
        let existing = read(&link).expect("read").expect("a file");
        let canonical = fs::canonicalize(&real).expect("canonical");
        assert_eq!(existing.followed(), Some(canonical.as_path()));
        let written = replace(&link, Some(&existing), "{\"a\": 1}", false).expect("write");
        assert_eq!(written.target, canonical);
        assert!(fs::symlink_metadata(&link).expect("meta").is_symlink());
        assert_eq!(fs::read_to_string(&real).expect("read"), "{\"a\": 1}");
        let mode = fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let backup = written.backup.expect("backup");
        assert_eq!(backup.parent(), canonical.parent());
        assert_eq!(fs::read_to_string(&backup).expect("read"), "{}");

        let dangling = dir.path().join("dangling.json");
        symlink(dir.path().join("gone.json"), &dangling).expect("link");
        let (code, message) = exit_code(read(&dangling));
        assert_eq!(code, 2);
        assert!(message.contains("which does not exist"), "{message}");
        let to_dir = dir.path().join("to-dir.json");
        symlink(dir.path().join("dotfiles"), &to_dir).expect("link");
        let (code, message) = exit_code(read(&to_dir));
        assert_eq!(code, 2);
        assert!(message.contains("which is a directory"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_opening_them() {
        let (code, message) = exit_code(read(Path::new("/dev/null")));
        assert_eq!(code, 2);
        assert!(
            message.contains("/dev/null is a character device"),
            "{message}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_found_on_the_open_file_is_refused_without_blocking() {
        // The path check is skipped here: the open itself must not wait for a writer.
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let err = read_regular(&fifo, &fifo).expect_err("refused");
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("mcp.json");
        replace(&path, None, "{}\n", true).expect("write");
        let public = dir.path().join("public.json");
        replace(&public, None, "{}\n", false).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&public), 0o644);
            // An existing file that now gets a secret becomes owner-only too.
            let existing = read(&public).expect("read").expect("a file");
            replace(&public, Some(&existing), "{\"secret\": 1}\n", true).expect("write");
            assert_eq!(mode(&public), 0o600);
        }
    }
}
