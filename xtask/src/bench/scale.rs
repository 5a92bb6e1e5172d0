//! `status` among thousands of other teams' bindings, and `check`'s concurrent reviews.

use std::{ffi::OsStr, fmt::Write as _, path::Path, time::Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use super::{
    Size, environment,
    measure::{measure, ms, ratio, sh_quote, summary},
};
use crate::demo;

/// The role `mcp-rbac role` writes; the scale pipeline selects its bindings by it.
pub(super) const ROLE: &str = "mcp-readonly";
/// The groups bound to the role in the scale sandbox: `check` asks about each of them.
const GROUPS: usize = 10;
/// Latency the scale sandbox adds to each SubjectAccessReview: a cluster a few milliseconds
/// away (same region). On loopback the client and the server share this machine's CPUs, and
/// concurrency measures the CPU count instead of the round trips it hides.
pub(super) const REVIEW_LATENCY_MS: u64 = 5;

/// `roles` ClusterRoles and `bindings` ClusterRoleBindings of other teams, none of them ours.
fn write_preload(path: &Path, roles: usize, bindings: usize) -> Result<()> {
    let mut items = Vec::with_capacity(roles + bindings);
    for i in 0..roles {
        items.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": format!("team-{i:05}-reader"), "labels": {"team": format!("team-{i:05}")}},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", "services"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]}));
    }
    for i in 0..bindings {
        items.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("team-{i:05}-binding"), "labels": {"team": format!("team-{:05}", i % roles.max(1))}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("team-{:05}-reader", i % roles.max(1))},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("team-{i:05}")},
                         {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": format!("user-{i:05}@example.com")}]}));
    }
    std::fs::write(path, serde_json::to_vec(&items)?)?;
    Ok(())
}

/// The sandbox's fault rule that delays every SubjectAccessReview (only `check` makes them).
pub(super) fn review_latency() -> String {
    format!(
        "kind=latency,ms={REVIEW_LATENCY_MS},max=100000000,\
         path=/apis/authorization.k8s.io/v1/subjectaccessreviews"
    )
}

/// A sandbox preloaded with other teams' roles and bindings.
pub(super) fn scale_sandbox(
    sandbox_bin: &Path,
    tools: &Path,
    kubectl: &Path,
    bin: &Path,
    size: Size,
    work: &Path,
) -> Result<Value> {
    let sandbox_dir = work.join("scale");
    let preload = work.join("preload.json");
    write_preload(&preload, size.roles, size.bindings)?;
    let started = Instant::now();
    let _sandbox = demo::start_sandbox(
        sandbox_bin,
        tools,
        &sandbox_dir,
        &work.join("scale.log"),
        &[OsStr::new("--preload"), preload.as_os_str()],
    )?;
    let ready = started.elapsed();
    let env = environment(kubectl, bin, tools, &sandbox_dir)?;
    let mut scale = scale(&env, size, work)?;
    scale["sandboxReadyMs"] = json!(ms(ready));
    Ok(scale)
}

fn scale(env: &demo::Env, size: Size, work: &Path) -> Result<Value> {
    let groups: Vec<String> = (1..=GROUPS).map(|i| format!("mcp-users-{i:02}")).collect();
    env.run(
        "bench: the role",
        &["mcp-rbac", "role", "--profile", "full"],
    )?;
    let mut bind = vec!["mcp-rbac", "bind"];
    bind.extend(groups.iter().map(String::as_str));
    env.run("bench: bind 10 groups", &bind)?;
    let vars: Vec<(&str, &OsStr)> = vec![
        ("PATH", env.path.as_os_str()),
        ("KUBECONFIG", env.kubeconfig.as_os_str()),
    ];
    let kubectl = sh_quote(env.kubectl.as_os_str());
    let expect_groups = |stdout: &[u8]| -> Result<()> {
        let text = String::from_utf8_lossy(stdout);
        for g in &groups {
            ensure!(text.contains(g.as_str()), "{g} is missing");
        }
        Ok(())
    };
    let jq = format!(
        "[.items[] | select(.roleRef.kind == \"ClusterRole\" and .roleRef.name == \"{ROLE}\")]"
    );
    let mut out = json!({"bindings": size.bindings, "roles": size.roles, "groups": GROUPS});
    let runs = size.status_runs;
    eprintln!("xtask: bench status at {} bindings x{runs}", size.bindings);
    let ours = summary(&measure(
        work,
        "T kubectl-mcp_rbac status -o json",
        &vars,
        runs,
        expect_groups,
    )?);
    let unpaged = summary(&measure(
        work,
        "T kubectl-mcp_rbac status -o json --chunk-size 0",
        &vars,
        runs,
        expect_groups,
    )?);
    let usual = summary(&measure(
        work,
        &format!("T {kubectl} get clusterrolebindings -o json | T jq '{jq}'"),
        &vars,
        runs,
        expect_groups,
    )?);
    out["status"] = json!({
        "ours": ours,
        "oursUnpaged": unpaged,
        "kubectlJq": usual,
        "ratioWall": ratio(&usual, &ours, "medianMs"),
        "ratioPeakRss": ratio(&usual, &ours, "peakRssKiB"),
    });

    Ok(out)
}

/// `check` for 10 groups x the full profile, 16 reviews in flight against one by one. On the
/// guide's sandbox (few bindings): at 10,000 bindings the sandbox's own RBAC evaluation (JSON
/// objects, role aggregation at request time) costs more than the round trip, on the same
/// CPUs, and would hide what concurrency does.
pub(super) fn check_bench(env: &demo::Env, runs: usize, work: &Path) -> Result<Value> {
    let groups: Vec<String> = (1..=GROUPS).map(|i| format!("mcp-users-{i:02}")).collect();
    let mut bind = vec!["mcp-rbac", "bind"];
    bind.extend(groups.iter().map(String::as_str));
    env.run("bench: bind 10 groups", &bind)?;
    let mut script = "T kubectl-mcp_rbac check -o json".to_owned();
    for g in &groups {
        let _ = write!(script, " --group {g}");
    }
    let vars: Vec<(&str, &OsStr)> = vec![
        ("PATH", env.path.as_os_str()),
        ("KUBECONFIG", env.kubeconfig.as_os_str()),
    ];
    eprintln!("xtask: bench check, {GROUPS} groups x the full profile, x{runs}");
    let reviews = std::cell::Cell::new(0u64);
    let count = |stdout: &[u8]| -> Result<()> {
        let report: Value = serde_json::from_slice(stdout)?;
        ensure!(report["deviations"] == 0, "check found deviations");
        reviews.set(report["checked"].as_u64().unwrap_or(0));
        Ok(())
    };
    let concurrent = summary(&measure(work, &script, &vars, runs, count)?);
    let serial = summary(&measure(
        work,
        &format!("{script} --concurrency 1"),
        &vars,
        runs,
        count,
    )?);
    Ok(json!({
        "reviews": reviews.get(),
        "reviewLatencyMs": REVIEW_LATENCY_MS,
        "concurrency16": concurrent,
        "oneByOne": serial,
        "ratioWall": ratio(&serial, &concurrent, "medianMs"),
    }))
}
