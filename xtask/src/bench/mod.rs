//! `cargo xtask bench`: the plugins against the usual way (kubectl, curl, jq) on one machine in
//! one run, each as a ratio: start-up, verification, scale (10,000 bindings), round trips and
//! size. Writes `BENCHMARKS.md` and `target/bench/results.json`. Never part of `cargo xtask
//! test`: wall times on a shared machine are noisy, so nothing here asserts on them.

mod machine;
mod measure;
mod report;
mod round_trips;
mod scale;
mod startup;
mod verification;

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, ensure};
use serde_json::json;

use self::{
    machine::{machine, utc_now, version_line, which},
    measure::TIME,
    report::report,
    round_trips::round_trips,
    scale::{check_bench, review_latency, scale_sandbox},
    startup::{sizes, startup},
    verification::verification,
};
use crate::{demo, dist::PLUGINS};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct BenchArgs {
    /// A smoke run: few runs, 1,000 bindings; writes target/bench/quick/ and leaves
    /// BENCHMARKS.md alone (its numbers are too few to publish)
    #[arg(long)]
    pub quick: bool,
    /// Use the release binaries already in target/release instead of building them
    #[arg(long)]
    pub no_build: bool,
}

/// How much each measurement runs.
#[derive(Debug, Clone, Copy)]
struct Size {
    startup_runs: usize,
    verify_runs: usize,
    status_runs: usize,
    check_runs: usize,
    bindings: usize,
    roles: usize,
}

impl Size {
    fn of(args: &BenchArgs) -> Self {
        if args.quick {
            Size {
                startup_runs: 5,
                verify_runs: 1,
                status_runs: 2,
                check_runs: 1,
                bindings: 1_000,
                roles: 200,
            }
        } else {
            Size {
                startup_runs: 50,
                verify_runs: 10,
                status_runs: 10,
                check_runs: 3,
                bindings: 10_000,
                roles: 2_000,
            }
        }
    }
}

pub fn bench(root: &Path, tools: &Path, args: &BenchArgs) -> Result<()> {
    let size = Size::of(args);
    let out_dir = if args.quick {
        root.join("target/bench/quick")
    } else {
        root.join("target/bench")
    };
    let work = out_dir.join("run");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot clean {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    ensure!(
        Path::new(TIME).exists(),
        "{TIME} is missing: it measures peak memory (Debian: apt-get install time)"
    );
    for tool in ["jq", "curl", "bash"] {
        ensure!(
            which(tool).is_some(),
            "{tool} is missing: the usual way needs it (Debian: apt-get install {tool})"
        );
    }
    let release = if args.no_build {
        root.join("target/release")
    } else {
        build_release(root)?
    };
    // The plugins alone in one directory, as `~/.krew/bin` holds them.
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin)?;
    for plugin in &PLUGINS {
        std::fs::copy(release.join(plugin.binary()), bin.join(plugin.binary()))
            .with_context(|| format!("cannot copy {}", plugin.binary()))?;
    }
    let kubectl = demo::kubectl(root);
    let mut results = json!({
        "command": command_line(args),
        "date": utc_now(),
        "machine": machine(),
        "kubectl": version_line(&kubectl, &["version", "--client"]),
        "quick": args.quick,
    });

    results["size"] = sizes(&bin, &kubectl)?;
    results["startup"] = startup(&bin, &kubectl, size.startup_runs, &work)?;

    let sandbox_bin = release.join("oc-mcp-sandbox");
    let guide = {
        let sandbox_dir = work.join("guide");
        let _sandbox = demo::start_sandbox(
            &sandbox_bin,
            tools,
            &sandbox_dir,
            &work.join("guide.log"),
            &[OsStr::new("--faults"), OsStr::new(&review_latency())],
        )?;
        let env = environment(&kubectl, &bin, tools, &sandbox_dir)?;
        let mut guide = round_trips(&env)?;
        guide["verification"] = verification(&env, size.verify_runs, &work)?;
        guide["check"] = check_bench(&env, size.check_runs, &work)?;
        guide
    };
    results["roundTrips"] = guide["roundTrips"].clone();
    results["verification"] = guide["verification"].clone();

    results["scale"] = scale_sandbox(&sandbox_bin, tools, &kubectl, &bin, size, &work)?;
    results["scale"]["check"] = guide["check"].clone();

    std::fs::create_dir_all(&out_dir)?;
    let json_path = out_dir.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")?;
    let markdown = report(&results);
    let md_path = if args.quick {
        out_dir.join("BENCHMARKS.md")
    } else {
        root.join("BENCHMARKS.md")
    };
    std::fs::write(&md_path, &markdown)?;
    std::fs::remove_dir_all(&work).ok();
    println!("{markdown}");
    eprintln!(
        "xtask: wrote {} and {}",
        md_path.display(),
        json_path.display()
    );
    Ok(())
}

/// Release builds of the plugins and the sandbox (the sandbox too: a debug API server would
/// make every ratio look better than it is).
fn build_release(root: &Path) -> Result<PathBuf> {
    let mut build = crate::cargo(root);
    build.args([
        "build",
        "--release",
        "--locked",
        "--package",
        "oc-mcp-sandbox",
    ]);
    for plugin in &PLUGINS {
        build.args(["--package", plugin.package]);
    }
    eprintln!("xtask: building the release binaries");
    ensure!(
        build.status().context("cannot run cargo build")?.success(),
        "release build failed"
    );
    Ok(root.join("target/release"))
}

fn command_line(args: &BenchArgs) -> String {
    if args.quick {
        "cargo xtask bench --quick".into()
    } else {
        "cargo xtask bench".into()
    }
}

/// The plugins first on PATH, then the installed tools: both sandboxes run commands this way.
fn environment(kubectl: &Path, bin: &Path, tools: &Path, sandbox_dir: &Path) -> Result<demo::Env> {
    Ok(demo::Env {
        kubectl: kubectl.to_path_buf(),
        path: std::env::join_paths([bin.to_path_buf(), tools.to_path_buf()].into_iter().chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))?,
        kubeconfig: sandbox_dir.join("kubeconfig"),
        sandbox_dir: sandbox_dir.to_path_buf(),
        bin: bin.to_path_buf(),
    })
}
