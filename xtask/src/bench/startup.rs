//! Start-up time of the plugins against kubectl's, and their size on disk.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::measure::{Sample, any_output, measure, ratio, ratio_u64, sh_quote, summary};
use crate::dist::PLUGINS;

/// Start-up is timed without a shell around it (a shell's own start-up would hide the
/// difference); peak memory comes from extra runs under /usr/bin/time.
pub(super) fn startup(bin: &Path, kubectl: &Path, runs: usize, work: &Path) -> Result<Value> {
    let rbac = bin.join("kubectl-mcp_rbac");
    // No kubeconfig: `version --client` must not read one, and neither must --help.
    let none = work.join("no-kubeconfig");
    let env = [("KUBECONFIG", none.as_os_str())];
    let mut out = json!({});
    for (name, program, args) in [
        ("help", rbac.as_path(), ["--help", ""]),
        ("version", rbac.as_path(), ["--version", ""]),
        ("kubectlVersionClient", kubectl, ["version", "--client"]),
    ] {
        eprintln!("xtask: bench start-up: {name} x{runs}");
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let mut samples = Vec::with_capacity(runs);
        for run in 0..=runs {
            let started = Instant::now();
            let status = Command::new(program)
                .args(&args)
                .envs(env)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("cannot run {}", program.display()))?;
            let wall = started.elapsed();
            ensure!(status.success(), "{} {args:?}: {status}", program.display());
            if run > 0 {
                samples.push(Sample { wall, rss_kib: 0 });
            }
        }
        let script = format!(
            "T {} {} >/dev/null",
            sh_quote(program.as_os_str()),
            args.join(" ")
        );
        let rss = measure(work, &script, &env, 3, any_output)?;
        for (sample, with_rss) in samples.iter_mut().zip(rss.iter().cycle()) {
            sample.rss_kib = with_rss.rss_kib;
        }
        out[name] = summary(&samples);
    }
    out["ratioHelp"] = ratio(&out["kubectlVersionClient"], &out["help"], "medianMs");
    out["ratioVersion"] = ratio(&out["kubectlVersionClient"], &out["version"], "medianMs");
    Ok(out)
}

pub(super) fn sizes(bin: &Path, kubectl: &Path) -> Result<Value> {
    let kubectl_bytes = std::fs::metadata(kubectl)
        .with_context(|| format!("cannot stat {}", kubectl.display()))?
        .len();
    let mut plugins = serde_json::Map::new();
    for plugin in &PLUGINS {
        let bytes = std::fs::metadata(bin.join(plugin.binary()))?.len();
        plugins.insert(
            plugin.binary(),
            json!({"bytes": bytes, "ratio": ratio_u64(kubectl_bytes, bytes)}),
        );
    }
    let largest = plugins
        .values()
        .filter_map(|p| p["bytes"].as_u64())
        .max()
        .unwrap_or(0);
    Ok(json!({
        "kubectlBytes": kubectl_bytes,
        "plugins": plugins,
        "smallestRatio": ratio_u64(kubectl_bytes, largest),
    }))
}
