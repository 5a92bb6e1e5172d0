//! `cargo xtask fuzz`: build the cargo-fuzz targets of `fuzz/` once, run each for a bounded
//! time on a scratch corpus seeded from `fuzz/corpus/<target>/`, and fail on the first crash
//! with the path of its reproducer.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};

/// Every target in `fuzz/Cargo.toml`, in the order they run.
pub const TARGETS: [&str; 5] = [
    "server_config",
    "www_authenticate",
    "server_body",
    "install_render",
    "kubeconfig",
];

/// The per-target budget of `cargo xtask test`: enough to replay the seeds and explore a
/// little; the one build of all targets is most of the step (a cold build several minutes).
pub const CI_SECONDS: u64 = 20;

#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// Seconds to fuzz each target (libFuzzer -max_total_time)
    #[arg(long, default_value_t = CI_SECONDS)]
    pub seconds: u64,
    /// Targets to run (default: all)
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub targets: Vec<String>,
}

impl Default for FuzzArgs {
    fn default() -> Self {
        Self {
            seconds: CI_SECONDS,
            targets: Vec::new(),
        }
    }
}

/// Whether this machine has the nightly toolchain cargo-fuzz needs (`rustup toolchain list`).
pub fn nightly_available() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `cargo +nightly fuzz` in `fuzz/`.
fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    // The root workspace's `cargo` (from `cargo xtask`) must not pin its toolchain here.
    cmd.env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .current_dir(fuzz_dir)
        .args(["+nightly", "fuzz"]);
    cmd
}

/// Build flags shared by `build` and `run`, so `run` reuses the build: no sanitizer (the code
/// is safe Rust; libFuzzer's coverage guidance stays) and debug assertions on (overflow checks
/// find arithmetic bugs).
const BUILD_FLAGS: [&str; 4] = ["--sanitizer", "none", "--debug-assertions", "--release"];

pub fn fuzz(root: &Path, args: &FuzzArgs) -> Result<()> {
    let started = Instant::now();
    ensure!(
        nightly_available(),
        "cargo fuzz needs the nightly toolchain: rustup toolchain install nightly"
    );
    ensure_cargo_fuzz()?;
    let fuzz_dir = root.join("fuzz");
    let targets: Vec<&str> = if args.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    eprintln!(
        "xtask: fuzzing {} for {} s each",
        targets.join(", "),
        args.seconds
    );
    // One build of every target: `run` then finds them built.
    crate::run(cargo_fuzz(&fuzz_dir).arg("build").args(BUILD_FLAGS))?;
    let built = started.elapsed();
    let scratch = root.join("target").join("fuzz-corpus");
    // libFuzzer runs one process on one core: run as many targets at once as there are
    // cores, each for its full time, so the step's wall time shrinks and the coverage of
    // each target does not.
    let at_once = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for batch in targets.chunks(at_once) {
        std::thread::scope(|scope| {
            let runs: Vec<_> = batch
                .iter()
                .map(|target| {
                    let (fuzz_dir, scratch) = (&fuzz_dir, &scratch);
                    scope.spawn(move || run_target(fuzz_dir, scratch, target, args.seconds))
                })
                .collect();
            runs.into_iter().try_for_each(|run| {
                run.join()
                    .unwrap_or_else(|_| bail!("a fuzz target's runner panicked"))
            })
        })?;
    }
    eprintln!(
        "xtask: fuzz step done in {:.0} s (build {:.0} s); no crash",
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    Ok(())
}

fn run_target(fuzz_dir: &Path, scratch: &Path, target: &str, seconds: u64) -> Result<()> {
    // New inputs go to a scratch corpus under target/: the committed seeds stay as they are.
    let work = scratch.join(target);
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let seeds = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    fs::create_dir_all(&artifacts)
        .with_context(|| format!("cannot create {}", artifacts.display()))?;
    let before = newest_artifact(&artifacts);
    let mut cmd = cargo_fuzz(fuzz_dir);
    cmd.arg("run")
        .args(BUILD_FLAGS)
        .arg(target)
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // A slow input (10 s) or a large allocation (2 GiB) is a finding too.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1");
    let started = Instant::now();
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let took = started.elapsed();
    if status.success() {
        eprintln!("xtask: fuzz target {target}: no crash in {}", human(took));
        return Ok(());
    }
    match newest_artifact(&artifacts).filter(|a| Some(a) != before.as_ref()) {
        Some(reproducer) => bail!(
            "fuzz target {target} crashed; reproducer: {}\n  reproduce: cd fuzz && cargo +nightly fuzz run {} {target} {}",
            reproducer.display(),
            BUILD_FLAGS.join(" "),
            reproducer.display()
        ),
        None => bail!("fuzz target {target} failed with {status} and left no reproducer"),
    }
}

fn newest_artifact(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(std::result::Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
}

fn human(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The cargo-fuzz release this project was fuzzed with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Install cargo-fuzz once, from crates.io, as the `tools` step installs the test programs.
fn ensure_cargo_fuzz() -> Result<()> {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz from crates.io");
    let status = Command::new("cargo")
        .args([
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
        ])
        .status()
        .context("cannot run cargo install")?;
    ensure!(status.success(), "cargo install cargo-fuzz failed");
    Ok(())
}
