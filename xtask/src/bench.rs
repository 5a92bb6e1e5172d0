//! `cargo xtask bench`: the plugins against the usual way (kubectl, curl, jq) on one machine in
//! one run, each as a ratio: start-up, verification, scale (10,000 bindings), round trips and
//! size. Writes `BENCHMARKS.md` and `target/bench/results.json`. Never part of `cargo xtask
//! test`: wall times on a shared machine are noisy, so nothing here asserts on them.

use std::{
    ffi::OsStr,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use crate::{demo, dist::PLUGINS};

const HOST: &str = "kubernetes-mcp-server-mcp-server.apps.sandbox.example.com";
const ROLE: &str = "mcp-readonly";
/// The groups bound to the role in the scale sandbox: `check` asks about each of them.
const GROUPS: usize = 10;
/// Latency the scale sandbox adds to each SubjectAccessReview: a cluster a few milliseconds
/// away (same region). On loopback the client and the server share this machine's CPUs, and
/// concurrency measures the CPU count instead of the round trips it hides.
const REVIEW_LATENCY_MS: u64 = 5;

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

// ---------------------------------------------------------------------------------------
// Measuring

const TIME: &str = "/usr/bin/time";

/// Wall time and peak resident memory of one run of a process tree.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    /// Sum over the processes of the tree of each one's peak RSS (KiB): they run at once in a
    /// pipeline, so this bounds the tree's peak from above.
    rss_kib: u64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Median and spread of wall times; peak memory as the median of the runs' peaks.
fn summary(samples: &[Sample]) -> Value {
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
fn measure(
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

fn ratio(usual: &Value, ours: &Value, field: &str) -> Value {
    match (usual[field].as_f64(), ours[field].as_f64()) {
        (Some(u), Some(o)) if o > 0.0 => json!((u / o * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape `measure` takes for its output check
fn any_output(_: &[u8]) -> Result<()> {
    Ok(())
}

fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------
// Start-up and size

/// Start-up is timed without a shell around it (a shell's own start-up would hide the
/// difference); peak memory comes from extra runs under /usr/bin/time.
fn startup(bin: &Path, kubectl: &Path, runs: usize, work: &Path) -> Result<Value> {
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

fn sizes(bin: &Path, kubectl: &Path) -> Result<Value> {
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

fn ratio_u64(usual: u64, ours: u64) -> Value {
    ratio(&json!({"v": float(usual)}), &json!({"v": float(ours)}), "v")
}

// ---------------------------------------------------------------------------------------
// The guide's sandbox: round trips and verification

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

/// The API requests the kubeconfig's user (`admin`) made, as `VERB path` lines, from line
/// `from` of the audit log on.
fn admin_requests(env: &demo::Env, from: usize) -> Result<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(env.sandbox_dir.join("audit.jsonl"))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for line in lines.iter().skip(from) {
        let entry: Value = serde_json::from_str(line).context("audit.jsonl is not JSON lines")?;
        if entry["user"] == "admin" {
            let uri = entry["requestUri"].as_str().unwrap_or_default();
            out.push(format!(
                "{} {}",
                entry["method"].as_str().unwrap_or_default(),
                uri.split('?').next().unwrap_or_default()
            ));
        }
    }
    Ok((lines.len(), out))
}

/// The fewest API requests each command's task needs, and why.
const MINIMUMS: [(&str, usize, &str); 5] = [
    (
        "role",
        6,
        "4 permission reviews (get, create, patch clusterroles: one review per verb, since \
         SelfSubjectRulesReview is not authoritative; escalate on the role, which writing it \
         needs unless the caller holds every rule), the live role (to report what changes), \
         the apply",
    ),
    (
        "bind",
        9,
        "5 permission reviews (get clusterroles; get, create, patch clusterrolebindings; bind \
         the role), the role (warn when missing), the OpenShift Group (warn when missing; its \
         404 body says whether the API exists, so no discovery request), the live binding, \
         the apply",
    ),
    (
        "status",
        3,
        "the role, all ClusterRoleBindings, all RoleBindings (the API has no filter on roleRef); \
         one page each up to 500 objects, one more per 500",
    ),
    (
        "install",
        57,
        "34 permission reviews asked before anything is read (project; the 2 cluster facts; \
         5 objects x get, create, patch; list and delete for pruning x 6 kinds; the install \
         lock's Lease get, create, update, delete), the facts (apps domain, authentication \
         config, OAuth settings), the project (read, request), the lock (create, delete), \
         5 objects x (read, apply), 6 prune lists; API discovery is the one request a cache \
         (kubectl keeps one for 10 minutes) would save",
    ),
    (
        "verify",
        9,
        "Deployment, pods, one pod log, config ConfigMap, Secrets, Service, Routes, \
         OAuthClient, authentication config; the namespace (only needed when the Deployment \
         is missing), Endpoints (they follow from ready pods) and Ingresses (a Route's owner \
         reference names its Ingress) are the 3 it could skip",
    ),
];

fn round_trips(env: &demo::Env) -> Result<Value> {
    let (mut at, _) = admin_requests(env, 0)?;
    let mut counted = serde_json::Map::new();
    let tokens = [
        (
            "MCP_MEMBER_TOKEN",
            demo::kubeconfig_token(&env.kubeconfig, "member")?,
        ),
        (
            "MCP_OUTSIDER_TOKEN",
            demo::kubeconfig_token(&env.kubeconfig, "outsider")?,
        ),
    ];
    let ca = env.sandbox_dir.join("ca.crt").display().to_string();
    let steps: [(&str, Vec<&str>); 7] = [
        ("role", vec!["mcp-rbac", "role", "--profile", "full"]),
        ("bind", vec!["mcp-rbac", "bind", "mcp-users"]),
        ("status", vec!["mcp-rbac", "status"]),
        // Without --wait, as the round-trip test counts it; the rollout is awaited below.
        ("install", vec!["mcp-install", "--engine", "manifests"]),
        (
            "rollout",
            vec![
                "wait",
                "--for=condition=Available",
                "deployment/kubernetes-mcp-server",
                "-n",
                "mcp-server",
                "--timeout=120s",
            ],
        ),
        ("oauth register", vec!["mcp-oauth", "register", "openshift"]),
        ("verify", Vec::new()),
    ];
    for (name, args) in steps {
        let connect_to;
        let args = if name == "verify" {
            connect_to = connect_to_arg(env)?;
            verify_args(&connect_to, &ca)
        } else {
            args
        };
        env.run_with(&format!("bench: {name}"), &args, &tokens)?;
        let (next, requests) = admin_requests(env, at)?;
        at = next;
        if let Some((_, minimum, why)) = MINIMUMS.iter().find(|(n, _, _)| *n == name) {
            counted.insert(
                name.to_owned(),
                json!({"requests": requests.len(), "minimum": minimum, "why": why, "log": requests}),
            );
        }
    }
    Ok(json!({ "roundTrips": counted }))
}

/// `--connect-to HOST:443:127.0.0.1:PORT` for the route (no DNS serves the apps domain).
fn connect_to_arg(env: &demo::Env) -> Result<String> {
    let line = route_line(env)?;
    let port = line.split(':').nth(1).context("malformed resolve line")?;
    Ok(format!("{HOST}:443:127.0.0.1:{port}"))
}

/// `HOST:PORT:127.0.0.1` from the sandbox's resolve file (curl's `--resolve`), once the
/// router serves the route (the sandbox rewrites the file as Routes are admitted).
fn route_line(env: &demo::Env) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(env.sandbox_dir.join("resolve")).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with(&format!("{HOST}:"))) {
            return Ok(line.to_owned());
        }
        ensure!(
            Instant::now() < deadline,
            "the sandbox's resolve file has no line for {HOST} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verify_args<'a>(connect_to: &'a str, ca: &'a str) -> Vec<&'a str> {
    vec![
        "mcp-verify",
        "--connect-to",
        connect_to,
        "--endpoint-ca",
        ca,
        "--token-env",
        "MCP_MEMBER_TOKEN",
        "--denied-token-env",
        "MCP_OUTSIDER_TOKEN",
    ]
}

/// The guide's steps 12-14 by hand: 3 kubectl and 2 curl calls; the token reaches curl in a
/// header file, never in argv.
const HAND_SCRIPT: &str = r#"set -e
"$KUBECTL" get pods -n mcp-server
"$KUBECTL" logs deployment/kubernetes-mcp-server -n mcp-server >/dev/null
ROUTE_HOST=$("$KUBECTL" get route -n mcp-server -o jsonpath='{.items[0].spec.host}')
BODY='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"test-client","version":"1.0"}}}'
HDR=$(mktemp); chmod 600 "$HDR"; printf 'Authorization: Bearer %s\n' "$MCP_MEMBER_TOKEN" > "$HDR"
trap 'rm -f "$HDR"' EXIT
unauth=$(curl -s -o /dev/null -w '%{http_code}' --connect-to "$CONNECT_TO" --cacert "$CA" -X POST "https://${ROUTE_HOST}/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$BODY")
auth=$(curl -s -o /dev/null -w '%{http_code}' --connect-to "$CONNECT_TO" --cacert "$CA" -X POST "https://${ROUTE_HOST}/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H @"$HDR" -d "$BODY")
echo "unauthenticated=$unauth authenticated=$auth"
test "$unauth" = 401 && test "$auth" = 200
"#;

/// What the hand script lets a person check: pods running, the log read, the route's host,
/// 401 without a token, 200 with one.
const HAND_CHECKS: usize = 5;

fn verification(env: &demo::Env, runs: usize, work: &Path) -> Result<Value> {
    let connect_to = connect_to_arg(env)?;
    let ca = env.sandbox_dir.join("ca.crt");
    let member = demo::kubeconfig_token(&env.kubeconfig, "member")?;
    let outsider = demo::kubeconfig_token(&env.kubeconfig, "outsider")?;
    let vars: Vec<(&str, &OsStr)> = vec![
        ("PATH", env.path.as_os_str()),
        ("KUBECONFIG", env.kubeconfig.as_os_str()),
        ("MCP_MEMBER_TOKEN", OsStr::new(&member)),
        ("MCP_OUTSIDER_TOKEN", OsStr::new(&outsider)),
        ("KUBECTL", env.kubectl.as_os_str()),
        // No DNS serves the apps domain: curl connects to the router as verify does.
        ("CONNECT_TO", OsStr::new(&connect_to)),
        ("CA", ca.as_os_str()),
    ];
    let ca_text = ca.display().to_string();
    let verify = verify_args(&connect_to, &ca_text)
        .iter()
        .skip(1)
        .map(|a| sh_quote(OsStr::new(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let verify_script = format!("kubectl-mcp_verify -o json {verify}");
    let checks = std::cell::Cell::new(0usize);
    eprintln!("xtask: bench verification x{runs}");
    let ours = measure(work, &verify_script, &vars, runs, |stdout| {
        let report: Value = serde_json::from_slice(stdout)?;
        let rows = report["checks"].as_array().context("no checks")?;
        let bad: Vec<&Value> = rows
            .iter()
            .filter(|c| matches!(c["status"].as_str(), Some("fail" | "error")))
            .collect();
        ensure!(bad.is_empty(), "checks failed: {bad:?}");
        checks.set(rows.len());
        Ok(())
    })?;
    let hand = measure(work, HAND_SCRIPT, &vars, runs, any_output)?;
    let ours = summary(&ours);
    let hand = summary(&hand);
    Ok(json!({
        "verify": ours,
        "byHand": hand,
        "ratio": ratio(&hand, &ours, "medianMs"),
        "checksVerify": checks.get(),
        "checksByHand": HAND_CHECKS,
    }))
}

// ---------------------------------------------------------------------------------------
// Scale

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
fn review_latency() -> String {
    format!(
        "kind=latency,ms={REVIEW_LATENCY_MS},max=100000000,\
         path=/apis/authorization.k8s.io/v1/subjectaccessreviews"
    )
}

/// A sandbox preloaded with other teams' roles and bindings.
fn scale_sandbox(
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
fn check_bench(env: &demo::Env, runs: usize, work: &Path) -> Result<Value> {
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

// ---------------------------------------------------------------------------------------
// The machine

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "cpu": cpu,
        "nproc": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "memoryGiB": (float(mem_kib) / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": version_line(Path::new("uname"), &["-srm"]),
        "loadAverage": std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    })
}

fn version_line(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn utc_now() -> String {
    version_line(Path::new("date"), &["-u", "+%Y-%m-%d %H:%M UTC"])
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.exists())
}

// ---------------------------------------------------------------------------------------
// The report

fn time(v: &Value) -> String {
    format!(
        "{} ms ({}-{}, n={})",
        v["medianMs"], v["p10Ms"], v["p90Ms"], v["runs"]
    )
}

fn peak(v: &Value) -> String {
    v["peakRssKiB"]
        .as_u64()
        .map_or_else(|| "-".to_owned(), |k| format!("{:.1} MiB", mib(k)))
}

/// BENCHMARKS.md. Each target is what the best tool in the field would reach.
fn report(results: &Value) -> String {
    let mut md = String::new();
    let machine = &results["machine"];
    let _ = writeln!(
        md,
        "# Benchmarks\n\nThe plugins against the usual way (kubectl, jq, curl) on one machine, \
         in one run. Reproduce with `{}` (release builds; the local sandbox API server, also a \
         release build; the real kubernetes-mcp-server). Ratios are usual / ours: above 1 \
         means the plugin is faster or smaller. Machine-readable: `target/bench/results.json`.\n",
        results["command"].as_str().unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "- Date: {}\n- Machine: {}, {} CPUs (nproc), {} GiB memory, {}; load average at \
         start {}\n- kubectl: {}\n- Each timing: one warm-up run, then the median of N runs \
         with p10-p90 spread; the plugins are run directly (`kubectl mcp-...` adds kubectl's \
         own start-up, the `kubectl version --client` line below).\n",
        results["date"].as_str().unwrap_or_default(),
        machine["cpu"].as_str().unwrap_or_default(),
        machine["nproc"],
        machine["memoryGiB"],
        machine["kernel"].as_str().unwrap_or_default(),
        machine["loadAverage"].as_str().unwrap_or_default(),
        results["kubectl"].as_str().unwrap_or_default(),
    );
    report_targets(&mut md, results);
    report_startup(&mut md, &results["startup"]);
    report_verification(&mut md, &results["verification"]);
    report_scale(&mut md, &results["scale"]);
    report_round_trips(&mut md, &results["roundTrips"]);
    report_size(&mut md, &results["size"]);
    md
}

/// Ratio targets: what the best tool in the field would reach (see each section for why).
const TARGETS: [(&str, &str, f64); 7] = [
    (
        "start-up, `--help` vs `kubectl version --client`",
        "/startup/ratioHelp",
        10.0,
    ),
    (
        "start-up, `--version` vs `kubectl version --client`",
        "/startup/ratioVersion",
        10.0,
    ),
    (
        "verification wall time vs the steps by hand",
        "/verification/ratio",
        1.0,
    ),
    (
        "`status` wall time at scale vs kubectl \\| jq",
        "/scale/status/ratioWall",
        2.0,
    ),
    (
        "`status` peak memory at scale vs kubectl \\| jq",
        "/scale/status/ratioPeakRss",
        5.0,
    ),
    (
        "`check` 16 in flight vs one by one (5 ms per review)",
        "/scale/check/ratioWall",
        5.0,
    ),
    (
        "size, largest plugin vs kubectl",
        "/size/smallestRatio",
        3.0,
    ),
];

fn report_targets(md: &mut String, results: &Value) {
    let _ = writeln!(
        md,
        "## Where each stands\n\n| measurement (ratio usual / ours) | target | measured | |\n|---|---|---|---|"
    );
    for (what, pointer, target) in TARGETS {
        let measured = results.pointer(pointer).and_then(Value::as_f64);
        let verdict = match measured {
            Some(m) if m >= target => "met",
            Some(_) => "not met",
            None => "not measured",
        };
        let _ = writeln!(
            md,
            "| {what} | {target}x | {} | {verdict} |",
            measured.map_or_else(|| "-".to_owned(), |m| format!("{m}x"))
        );
    }
    let trips = &results["roundTrips"];
    let at_minimum: Vec<&str> = MINIMUMS
        .iter()
        .filter(|(name, _, _)| trips[name]["requests"].as_u64() <= trips[name]["minimum"].as_u64())
        .map(|(name, _, _)| *name)
        .collect();
    let _ = writeln!(
        md,
        "| commands whose API requests are at the fewest the task needs | all {} | {} | {} |\n",
        MINIMUMS.len(),
        if at_minimum.is_empty() {
            "none".to_owned()
        } else {
            at_minimum.join(", ")
        },
        if at_minimum.len() == MINIMUMS.len() {
            "met"
        } else {
            "not met"
        }
    );
}

fn report_startup(md: &mut String, s: &Value) {
    let _ = writeln!(
        md,
        "## Start-up\n\n| command | median (p10-p90) | peak RSS |\n|---|---|---|\n\
         | `kubectl-mcp_rbac --help` | {} | {} |\n| `kubectl-mcp_rbac --version` | {} | {} |\n\
         | `kubectl version --client` | {} | {} |\n\nRatio: --help {}x, --version {}x. \
         Target: 10x (a Rust CLI starts in a few milliseconds; kubectl's Go runtime and \
         command tree take tens).\n",
        time(&s["help"]),
        peak(&s["help"]),
        time(&s["version"]),
        peak(&s["version"]),
        time(&s["kubectlVersionClient"]),
        peak(&s["kubectlVersionClient"]),
        s["ratioHelp"],
        s["ratioVersion"],
    );
}

fn report_verification(md: &mut String, v: &Value) {
    let _ = writeln!(
        md,
        "## Verification (guide steps 12-14)\n\n| | wall time | checks |\n|---|---|---|\n\
         | `kubectl-mcp_verify` (every check) | {} | {} |\n| by hand: `kubectl get pods`, \
         `kubectl logs`, `kubectl get route`, two `curl` | {} | {} |\n\nRatio {}x, with {}x the \
         checks. Target: at least 1x (every check in less time than the five commands), \
         which needs the cluster facts read concurrently and one MCP session.\n",
        time(&v["verify"]),
        v["checksVerify"],
        time(&v["byHand"]),
        v["checksByHand"],
        v["ratio"],
        ratio_u64(
            v["checksVerify"].as_u64().unwrap_or(0),
            v["checksByHand"].as_u64().unwrap_or(1)
        ),
    );
}

fn report_scale(md: &mut String, sc: &Value) {
    let st = &sc["status"];
    let _ = writeln!(
        md,
        "## Scale: {} ClusterRoleBindings, {} ClusterRoles\n\nThe sandbox starts with them \
         preloaded (`oc-mcp-sandbox serve --preload`, ready in {} ms); {} groups are bound to \
         `{ROLE}`.\n\n| | wall time | peak RSS (process tree) |\n|---|---|---|\n\
         | `kubectl-mcp_rbac status -o json` (pages of 500) | {} | {} |\n\
         | `kubectl-mcp_rbac status -o json --chunk-size 0` (one list) | {} | {} |\n\
         | `kubectl get clusterrolebindings -o json \\| jq` (select {ROLE}) | {} | {} |\n\n\
         Ratio: wall {}x, peak memory {}x. Target: 2x on wall time and 5x on memory \
         (status keeps only the role's bindings of each page; kubectl holds and prints every \
         object and jq parses them all again). Status also reads the role and every \
         RoleBinding, which the pipeline does not.\n",
        sc["bindings"],
        sc["roles"],
        sc["sandboxReadyMs"],
        sc["groups"],
        time(&st["ours"]),
        peak(&st["ours"]),
        time(&st["oursUnpaged"]),
        peak(&st["oursUnpaged"]),
        time(&st["kubectlJq"]),
        peak(&st["kubectlJq"]),
        st["ratioWall"],
        st["ratioPeakRss"],
    );
    let c = &sc["check"];
    let _ = writeln!(
        md,
        "`check`, {} groups x the full profile ({} SubjectAccessReviews, each delayed {REVIEW_LATENCY_MS} ms \
         by the sandbox as a same-region round trip; on loopback client and server share \
         the CPUs, and concurrency would measure their number instead). It runs on the \
         guide's sandbox: at this scale the sandbox's own RBAC evaluation (JSON objects, \
         role aggregation at request time) costs more than the round trip on the same CPUs:\n\n| | wall time |\n\
         |---|---|\n| 16 in flight (default) | {} |\n| one by one (`--concurrency 1`) | {} |\n\n\
         Ratio {}x. Target: 5x or more (the reviews are independent; 16 in flight hide the \
         round trip without flooding API priority and fairness).\n",
        sc["groups"],
        c["reviews"],
        time(&c["concurrency16"]),
        time(&c["oneByOne"]),
        c["ratioWall"],
    );
}

fn report_round_trips(md: &mut String, trips: &Value) {
    let _ = writeln!(
        md,
        "## Round trips\n\nAPI requests each command made, from the sandbox's audit log (the \
         admin user's requests; the guide's order, on an empty cluster). \
         `tests/e2e/tests/round_trips.rs` fails when a change adds requests.\n\n\
         | command | requests | fewest the task needs | why that minimum |\n|---|---|---|---|"
    );
    for (name, _, _) in MINIMUMS {
        let e = &trips[name];
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} |",
            e["requests"],
            e["minimum"],
            e["why"].as_str().unwrap_or_default()
        );
    }
    md.push('\n');
}

fn report_size(md: &mut String, size: &Value) {
    let kubectl_mib = size["kubectlBytes"].as_u64().map_or(0.0, mib_bytes);
    let _ = writeln!(
        md,
        "## Size\n\n| binary | size | kubectl / it |\n|---|---|---|\n| kubectl | {kubectl_mib:.1} MiB | 1 |"
    );
    for plugin in &PLUGINS {
        let e = &size["plugins"][plugin.binary()];
        let _ = writeln!(
            md,
            "| {} | {:.1} MiB | {} |",
            plugin.binary(),
            e["bytes"].as_u64().map_or(0.0, mib_bytes),
            e["ratio"]
        );
    }
    let _ = writeln!(
        md,
        "\nTarget: each plugin under a third of kubectl (release profile: thin LTO, one codegen unit, stripped; \
         rustls and ring instead of OpenSSL)."
    );
}

/// Exact for every count and size measured here (all below 2^32).
fn float(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn mib(kib: u64) -> f64 {
    float(kib) / 1024.0
}

fn mib_bytes(bytes: u64) -> f64 {
    mib(bytes / 1024)
}
