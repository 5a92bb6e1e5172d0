//! Wall time and peak memory of a run, summarised over many runs, and the ratios between
//! the usual way and the plugins.

use std::{
    ffi::OsStr,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

pub(super) const TIME: &str = "/usr/bin/time";

/// Wall time and peak resident memory of one run of a process tree.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub(super) wall: Duration,
    /// Sum over the processes of the tree of each one's peak RSS (KiB): they run at once in a
    /// pipeline, so this bounds the tree's peak from above.
    pub(super) rss_kib: u64,
}

pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Median and spread of wall times; peak memory as the median of the runs' peaks.
pub(super) fn summary(samples: &[Sample]) -> Value {
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let mut rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
    rss.sort_unstable();
    // Nearest rank, rounded: with 3 runs p10 is the fastest and p90 the slowest.
    let at = |p: usize| walls[((walls.len() - 1) * p + 50) / 100];
    let mut v = json!({
        "runs": walls.len(),
        "medianMs": ms(at(50)),
        "p10Ms": ms(at(10)),
        "p90Ms": ms(at(90)),
        "minMs": ms(walls[0]),
    });
    if rss.iter().any(|r| *r > 0) {
        v["peakRssKiB"] = json!(rss[(rss.len() - 1) / 2]);
    }
    v
}

/// Run a shell pipeline `runs` times after one warm-up; every program in it that should be
/// measured for memory is written as `$T prog ...` (`$T` = /usr/bin/time writing its peak RSS).
pub(super) fn measure(
    work: &Path,
    script: &str,
    env: &[(&str, &OsStr)],
    runs: usize,
    check: impl Fn(&[u8]) -> Result<()>,
) -> Result<Vec<Sample>> {
    let rss_dir = work.join("rss");
    let mut samples = Vec::with_capacity(runs);
    for run in 0..=runs {
        if rss_dir.exists() {
            std::fs::remove_dir_all(&rss_dir)?;
        }
        std::fs::create_dir_all(&rss_dir)?;
        let mut cmd = Command::new("bash");
        // Each `$T` writes its own file: `time -a` is not safe for concurrent writers.
        cmd.arg("-c")
            .arg(format!(
                "set -o pipefail\nT() {{ {TIME} -f %M -o \"$(mktemp -p {rss})\" \"$@\"; }}\n{script}",
                rss = rss_dir.display()
            ))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .stdout(Stdio::piped());
        let started = Instant::now();
        let out = cmd.output().context("cannot run bash")?;
        let wall = started.elapsed();
        ensure!(
            out.status.success(),
            "{script} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        check(&out.stdout).with_context(|| format!("unexpected output of {script}"))?;
        let mut rss_kib = 0;
        for entry in std::fs::read_dir(&rss_dir)? {
            let text = std::fs::read_to_string(entry?.path())?;
            // The last line is %M; a failed child adds a "Command exited" line before it.
            rss_kib += text
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        // Run 0 warms the page cache and the server; it is not counted.
        if run > 0 {
            samples.push(Sample { wall, rss_kib });
        }
    }
    Ok(samples)
}

pub(super) fn ratio(usual: &Value, ours: &Value, field: &str) -> Value {
    match (usual[field].as_f64(), ours[field].as_f64()) {
        (Some(u), Some(o)) if o > 0.0 => json!((u / o * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape `measure` takes for its output check
pub(super) fn any_output(_: &[u8]) -> Result<()> {
    Ok(())
}

pub(super) fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

pub(super) fn ratio_u64(usual: u64, ours: u64) -> Value {
    ratio(&json!({"v": float(usual)}), &json!({"v": float(ours)}), "v")
}

/// Exact for every count and size measured here (all below 2^32).
pub(super) fn float(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}
