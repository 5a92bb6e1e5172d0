//! Running the built plugin binaries as a script would (no terminal), and searching what they
//! left behind: the pieces the bad-input and leak suites share.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::{PLUGINS, binary_name, built_binaries_dir};

/// No command of these suites needs more; one that does is hanging, and is killed so the
/// suite reports it instead of waiting forever.
pub const HANG_LIMIT: Duration = Duration::from_secs(180);

/// One run of one plugin binary.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// krew name, `mcp-rbac` ... `mcp-client`.
    pub plugin: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

impl Invocation {
    pub fn new(plugin: &str, args: &[&str]) -> Self {
        assert!(PLUGINS.contains(&plugin), "unknown plugin {plugin}");
        Self {
            plugin: plugin.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    #[must_use]
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// `mcp-rbac role --profile full` as it reads in a report.
    pub fn display(&self) -> String {
        format!("{} {}", self.plugin, self.args.join(" "))
    }

    /// The command with a clean environment: only `PATH`, `HOME` (TMPDIR and the XDG dirs
    /// inside it) and what the case sets; stdin empty (not a terminal) unless the case gives
    /// bytes; stdout and stderr piped.
    pub fn command(&self, path: &str, home: &Path) -> Command {
        let bin = built_binaries_dir().join(binary_name(&self.plugin));
        let mut cmd = Command::new(&bin);
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", home)
            .env("TMPDIR", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .current_dir(self.cwd.as_deref().unwrap_or(home))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run it (see [`Invocation::command`]) to the end. Panics on a hang.
    pub fn run(&self, path: &str, home: &Path) -> Output {
        let mut child = self
            .command(path, home)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", self.display()));
        if let Some(bytes) = &self.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A command may refuse before reading all of it (a size limit): not an error here.
            let _ = stdin.write_all(bytes);
        }
        // Read the pipes on threads so a chatty command cannot block on a full pipe.
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            buf
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > HANG_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{}` hung: killed after {HANG_LIMIT:?}", self.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: out_reader.join().expect("stdout reader"),
            stderr: err_reader.join().expect("stderr reader"),
        }
    }
}

/// Where an authorize answer redirects the browser (the client's loopback callback); panics
/// when it does not redirect.
pub fn redirect_location(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("authorize answered {} without a redirect", answer.status()))
        .to_owned()
}

/// `PATH` for the plugins: `first` (shims), then the tools `cargo xtask` fetched (helm),
/// then the system.
pub fn search_path(first: &[&Path]) -> String {
    let tools = crate::workspace_root().join("target/tools");
    let dirs: Vec<PathBuf> = first
        .iter()
        .map(|p| p.to_path_buf())
        .chain([tools, PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .collect();
    std::env::join_paths(dirs)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

/// A kubeconfig with one cluster, one user (bearer token) and one current context.
/// `ca_line` is the cluster's CA setting, e.g. `certificate-authority: /path/ca.crt`.
pub fn kubeconfig_yaml(server: &str, ca_line: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    \
         {ca_line}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  \
         context:\n    cluster: c\n    user: u\n    namespace: mcp-server\ncurrent-context: x\n"
    )
}

/// Write `content` to `dir/name` (mode 0600: these files hold tokens) and return the path.
pub fn write_private(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    file.write_all(content).expect("write");
    path
}

/// A file of `len` zero bytes that takes no disk space (sparse): an oversized input.
pub fn sparse_file(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(len).expect("set_len");
    path
}

/// Every regular file under `dir`, with its content.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(content) = std::fs::read(&path) {
            out.push((path, content));
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// A value that must not appear anywhere, and the forms it could appear in: as is, and
/// base64 (standard and URL-safe, as Secret data and JWT parts are encoded).
#[derive(Debug, Clone)]
pub struct Needle {
    pub what: String,
    pub forms: Vec<(String, String)>,
}

impl Needle {
    pub fn new(what: &str, value: &str) -> Self {
        let mut forms = vec![(what.to_owned(), value.to_owned())];
        for (name, encoded) in base64_forms(value.as_bytes()) {
            // Both encodings agree for most values; search each distinct form once.
            if forms.iter().all(|(_, f)| f != &encoded) {
                forms.push((format!("{what} ({name})"), encoded));
            }
        }
        Self {
            what: what.to_owned(),
            forms,
        }
    }

    /// The name of the first form found in `haystack`.
    pub fn found_in(&self, haystack: &[u8]) -> Option<&str> {
        self.forms
            .iter()
            .find(|(_, form)| contains(haystack, form))
            .map(|(what, _)| what.as_str())
    }
}

/// Base64 without padding, standard and URL-safe: a padded encoding starts with the same
/// characters, so searching for these finds both.
fn base64_forms(bytes: &[u8]) -> [(&'static str, String); 2] {
    use base64::{
        Engine as _,
        engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
    };
    [
        ("base64", STANDARD_NO_PAD.encode(bytes)),
        ("base64url", URL_SAFE_NO_PAD.encode(bytes)),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_4648_examples_without_padding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64_forms(plain.as_bytes())[0].1, encoded);
        }
        assert_eq!(super::base64_forms(&[0xfb, 0xff])[1].1, "-_8");
    }
}
