//! Opening the login page in the user's browser: `$BROWSER`, else the desktop's opener.
//!
//! The opener's own output is discarded: a plugin's stdout carries only its result.

use std::process::{Command, Stdio};

/// Try to open `url`; `false` when no opener could be started (the URL is printed anyway).
pub fn open(url: &str) -> bool {
    let mut candidates: Vec<Command> = Vec::new();
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        let mut cmd = Command::new(browser);
        cmd.arg(url);
        candidates.push(cmd);
    }
    if cfg!(target_os = "macos") {
        let mut cmd = Command::new("open");
        cmd.arg(url);
        candidates.push(cmd);
    } else if cfg!(windows) {
        // `start` is a cmd.exe builtin; the empty title keeps a quoted URL from being taken as one.
        let mut cmd = Command::new("cmd");
        cmd.args(["/C", "start", ""]).arg(url);
        candidates.push(cmd);
    } else {
        for opener in ["xdg-open", "gio", "wslview"] {
            let mut cmd = Command::new(opener);
            if opener == "gio" {
                cmd.arg("open");
            }
            cmd.arg(url);
            candidates.push(cmd);
        }
    }
    candidates.into_iter().any(|mut cmd| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .is_ok()
    })
}
