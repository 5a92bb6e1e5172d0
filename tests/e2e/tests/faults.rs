//! The fault matrix: every command that changes the cluster, under each fault profile of the
//! sandbox (latency, 503, 429 with Retry-After, dropped connections, a concurrent writer's 409).
//!
//! Each cell runs the command with the fault active, then without it (twice when the faulted
//! run failed: once to finish the work, once to show nothing is left to do). The faulted run
//! either succeeds through the bounded retries, or stops with exit 4 (retries ran out) or 1
//! (the fault is not retryable, e.g. a create whose answer was lost) and names the fault; an
//! apply that stopped half-way prints what was applied and what was not. The clean re-run then
//! converges: `unchanged` for applies, success for the commands that always act (rotate,
//! unbind, uninstall). No run may outlast the retry budget (the child is killed, failing the
//! test). One sandbox per profile; profiles run in parallel.
//!
//! `cargo test -p oc-mcp-e2e --test it faults:: -- --nocapture` prints the matrix.

use std::{fmt::Write as _, process::Output, time::Duration};

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use oc_mcp_common::retry::RetryPolicy;
use oc_mcp_e2e::{admin::AdminBench, text};
use oc_mcp_sandbox::faults::{FaultKind, FaultRule};

/// Each attempt of a request waits at most this long (`--request-timeout`).
const REQUEST_TIMEOUT_SECS: u64 = 5;

/// The most one run may take: the retry budget's waiting, every attempt of one request timing
/// out, and a minute for the command's own work in a debug build on a busy machine. Generous on
/// purpose: it catches a hang (kube's default policy could sleep 1000 s), not slowness.
fn run_bound() -> Duration {
    let p = RetryPolicy::DEFAULT;
    p.wait_budget
        + Duration::from_secs(REQUEST_TIMEOUT_SECS) * p.max_attempts
        + Duration::from_secs(60)
}

/// What a clean re-run must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rerun {
    /// Every object `unchanged` (or, for redirect URIs, `kept`): nothing created or changed.
    Unchanged,
    /// The command acts every time (a new secret; a binding already removed): exit 0.
    Succeeds,
    /// Nothing is left to delete: uninstall says so (exit 1, "no objects").
    Gone,
}

struct Cmd {
    name: &'static str,
    plugin: &'static str,
    args: &'static [&'static str],
    rerun: Rerun,
}

/// In an order where each command finds what it needs (the install before the OAuth client,
/// the binding before the unbinding, the uninstall last).
const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "install (manifests)",
        plugin: "kubectl-mcp_install",
        args: &["--engine", "manifests", "--yes"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "oauth register openshift",
        plugin: "kubectl-mcp_oauth",
        args: &["register", "openshift"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "oauth rotate",
        plugin: "kubectl-mcp_oauth",
        args: &["rotate"],
        rerun: Rerun::Succeeds,
    },
    Cmd {
        name: "oauth redirect sync",
        plugin: "kubectl-mcp_oauth",
        args: &["redirect", "sync"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "oauth secret set",
        plugin: "kubectl-mcp_oauth",
        args: &["secret", "set", "--from-env", "FAULTS_CLIENT_SECRET"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "rbac role",
        plugin: "kubectl-mcp_rbac",
        args: &["role"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "rbac bind",
        plugin: "kubectl-mcp_rbac",
        args: &["bind", "mcp-users"],
        rerun: Rerun::Unchanged,
    },
    Cmd {
        name: "rbac unbind",
        plugin: "kubectl-mcp_rbac",
        args: &["unbind", "mcp-users"],
        rerun: Rerun::Succeeds,
    },
    Cmd {
        name: "install uninstall",
        plugin: "kubectl-mcp_install",
        args: &["uninstall", "--yes"],
        rerun: Rerun::Gone,
    },
];

/// How one cell went.
struct Cell {
    command: &'static str,
    /// `ok (3 retries)`, `exit 4`, ...
    faulted: String,
    injected: u64,
    problems: Vec<String>,
}

/// The shared administrator's bench, plus the matrix's runs.
struct Matrix(AdminBench);

impl std::ops::Deref for Matrix {
    type Target = AdminBench;
    fn deref(&self) -> &AdminBench {
        &self.0
    }
}

impl Matrix {
    async fn start() -> Self {
        Self(AdminBench::start().await)
    }

    /// Run a command as admin; `None` when it outlived [`run_bound`] (it is killed).
    async fn run(&self, cmd: &Cmd, verbose: bool) -> Option<Output> {
        let mut command = self.command(cmd.plugin, cmd.args);
        command
            .arg("--request-timeout")
            .arg(format!("{REQUEST_TIMEOUT_SECS}s"))
            .env(
                "FAULTS_CLIENT_SECRET",
                "faults-matrix-client-secret-0123456789",
            );
        if verbose {
            command.arg("-v");
        }
        tokio::time::timeout(run_bound(), command.output())
            .await
            .ok()
            .map(|out| out.expect("run plugin"))
    }

    /// One cell: the command under `rule`, then without faults.
    async fn cell(&self, cmd: &Cmd, rule: &FaultRule) -> Cell {
        let mut cell = Cell {
            command: cmd.name,
            faulted: String::new(),
            injected: 0,
            problems: Vec::new(),
        };
        let before = self.sandbox.faults_injected();
        self.sandbox.clear_faults();
        self.sandbox.add_fault(rule.clone());
        let faulted = self.run(cmd, true).await;
        self.sandbox.clear_faults();
        cell.injected = self.sandbox.faults_injected() - before;
        let Some(out) = faulted else {
            cell.faulted = "killed".into();
            cell.problems.push(format!(
                "ran longer than {} s under faults",
                run_bound().as_secs()
            ));
            return cell;
        };
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let retries = stderr.lines().filter(|l| l.contains("; retry ")).count();
        match out.status.code() {
            Some(0) => cell.faulted = format!("ok ({retries} retries)"),
            Some(code @ (1 | 4)) => {
                cell.faulted = format!("exit {code} ({retries} retries)");
                let names_fault = [
                    "gave up",
                    "503",
                    "429",
                    "Retry-After",
                    "retry after",
                    "has been modified",
                    "connection",
                    "dropped",
                    "timed out",
                ]
                .iter()
                .any(|f| stderr.contains(f));
                if !names_fault {
                    cell.problems
                        .push(format!("exit {code} without naming the fault:\n{stderr}"));
                }
                // A half-done apply says what was and was not applied.
                if stdout.contains(" failed") && !stderr.contains("re-run") {
                    cell.problems
                        .push(format!("partial apply without a way forward:\n{stderr}"));
                }
            }
            other => cell.problems.push(format!(
                "exit {other:?} under faults (want 0, 1 or 4):\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )),
        }
        if out.status.code() != Some(0) {
            // The work the faulted run left undone is finished by the first clean run ...
            match self.run(cmd, false).await {
                Some(fix) if fix.status.success() || cmd.rerun == Rerun::Gone => {}
                Some(fix) => cell.problems.push(format!(
                    "the clean run after a failure exited {:?}:\n{}",
                    fix.status.code(),
                    text(&fix.stderr)
                )),
                None => cell.problems.push("the clean run was killed".into()),
            }
        }
        // ... and then the state is the command's: running it again changes nothing.
        let Some(clean) = self.run(cmd, false).await else {
            cell.problems.push("the clean re-run was killed".into());
            return cell;
        };
        let (stdout, stderr) = (text(&clean.stdout), text(&clean.stderr));
        let code = clean.status.code();
        let converged = match cmd.rerun {
            Rerun::Gone => code == Some(0) || (code == Some(1) && stderr.contains("no objects")),
            Rerun::Succeeds => code == Some(0),
            Rerun::Unchanged => {
                let changed = ["created", "configured", "added", "removed", "deleted"]
                    .iter()
                    .any(|word| stdout.contains(word));
                code == Some(0)
                    && (stdout.contains("unchanged") || stdout.contains("kept"))
                    && !changed
            }
        };
        if !converged {
            cell.problems.push(format!(
                "clean re-run did not converge (exit {code:?}):\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ));
        }
        cell
    }

    /// Every command under one profile; prints the row and fails on any problem.
    async fn profile(name: &str, rule: FaultRule) {
        let m = Self::start().await;
        let mut cells = Vec::new();
        for cmd in COMMANDS {
            cells.push(m.cell(cmd, &rule).await);
        }
        let passed = cells.iter().filter(|c| c.problems.is_empty()).count();
        let mut report = format!("profile {name}: {passed}/{} cells pass\n", cells.len());
        for c in &cells {
            let _ = writeln!(
                report,
                "  {:<26} {:<20} faults injected {:>2}  {}",
                c.command,
                c.faulted,
                c.injected,
                if c.problems.is_empty() {
                    "pass"
                } else {
                    "FAIL"
                }
            );
            for p in &c.problems {
                let _ = writeln!(report, "    {}", p.replace('\n', "\n    "));
            }
        }
        eprintln!("{report}");
        assert_eq!(passed, cells.len(), "{report}");
        assert!(
            cells.iter().map(|c| c.injected).sum::<u64>() > 0,
            "no fault was injected: the profile tests nothing\n{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_of_2s() {
    Matrix::profile(
        "latency 2s",
        FaultRule::new(FaultKind::Latency(Duration::from_secs(2))).max(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_503() {
    Matrix::profile(
        "503 30%",
        FaultRule::new(FaultKind::Status(503)).share(0.3).max(20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_requests_with_retry_after_1() {
    Matrix::profile(
        "429 Retry-After 1",
        FaultRule::new(FaultKind::TooManyRequests { retry_after: 1 })
            .share(0.3)
            .max(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections() {
    Matrix::profile(
        "drop 30%",
        FaultRule::new(FaultKind::Drop).share(0.3).max(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_from_a_concurrent_writer() {
    // What a write that raced another writer gets: 409 "the object has been modified", on
    // each command's first two writes (applies retry a stale write; other writes stop).
    Matrix::profile(
        "409 concurrent writer",
        FaultRule::new(FaultKind::Status(409))
            .verbs(&["patch", "update", "delete"])
            .max(2),
    )
    .await;
}

/// An API server that keeps failing one write: the install stops after its retries with exit
/// 4, says what was applied and what was not (table and `-o json`), and a clean run converges.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_that_runs_out_of_retries_reports_what_was_applied() {
    let m = Matrix::start().await;
    let install = &COMMANDS[0];
    m.sandbox.add_fault(
        FaultRule::new(FaultKind::Status(503))
            .path("/apis/apps/v1/namespaces/*/deployments/*")
            .verbs(&["patch"]),
    );
    let json_install = Cmd {
        args: &["--engine", "manifests", "--yes", "-o", "json"],
        ..*install
    };
    for cmd in [install, &json_install] {
        let out = m.run(cmd, false).await.expect("within the retry budget");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
        if cmd.args.contains(&"json") {
            let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
            let outcome = |kind: &str| {
                report["objects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|o| o["kind"] == kind)
                    .map(|o| o["outcome"].clone())
            };
            // Created by the table run just before: this run finds it in place.
            assert_eq!(outcome("ConfigMap"), Some("unchanged".into()), "{stdout}");
            assert_eq!(outcome("Deployment"), Some("failed".into()), "{stdout}");
            assert_eq!(outcome("Service"), Some("not-applied".into()), "{stdout}");
            let error: serde_json::Value = serde_json::from_str(&stderr).expect("json error");
            assert_eq!(error["exit_code"], 4, "{stderr}");
            let message = error["error"].as_str().unwrap_or_default();
            assert!(message.contains("503 Service Unavailable"), "{message}");
            assert!(message.contains("not applied"), "{message}");
        } else {
            assert!(
                stdout.contains("configmap/kubernetes-mcp-server created"),
                "{stdout}"
            );
            assert!(
                stdout.contains("deployment.apps/kubernetes-mcp-server failed"),
                "{stdout}"
            );
            assert!(
                stdout.contains("service/kubernetes-mcp-server not applied"),
                "{stdout}"
            );
            assert!(stderr.contains("gave up after 8 attempts"), "{stderr}");
            assert!(stderr.contains("re-run"), "{stderr}");
        }
    }
    m.sandbox.clear_faults();
    let finish = m.run(install, false).await.expect("clean run");
    assert!(finish.status.success(), "{}", text(&finish.stderr));
    let again = m.run(install, false).await.expect("clean re-run");
    let stdout = text(&again.stdout);
    assert!(
        again.status.success() && !stdout.contains("created") && !stdout.contains("configured"),
        "{stdout}"
    );
}

/// `unbind` and `uninstall` stop at the first delete the server fails: the report names what
/// was deleted, what failed and what was not done, and running them again finishes the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_that_fails_midway_is_reported_and_a_rerun_finishes() {
    let m = Matrix::start().await;
    let install = &COMMANDS[0];
    let ok = |out: Option<Output>| {
        let out = out.expect("within the retry budget");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let cmd = |plugin: &'static str, args: &'static [&'static str]| Cmd {
        name: "",
        plugin,
        args,
        rerun: Rerun::Succeeds,
    };
    ok(m.run(install, false).await);
    ok(m.run(&cmd("kubectl-mcp_rbac", &["role"]), false).await);
    ok(
        m.run(&cmd("kubectl-mcp_rbac", &["bind", "mcp-a", "mcp-b"]), false)
            .await,
    );

    // The second group's binding cannot be deleted (a 500 is not retried: the test stays quick).
    let client = m.sandbox.client_for("admin").await.expect("admin client");
    let bindings: kube::Api<ClusterRoleBinding> = kube::Api::all(client);
    let of_b = bindings
        .list(&kube::api::ListParams::default())
        .await
        .expect("list bindings")
        .items
        .into_iter()
        .find(|b| b.subjects.iter().flatten().any(|s| s.name == "mcp-b"))
        .map(|b| b.metadata.name.unwrap_or_default())
        .expect("mcp-b is bound");
    m.sandbox.add_fault(
        FaultRule::new(FaultKind::Status(500))
            .path(&format!(
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{of_b}"
            ))
            .verbs(&["delete"]),
    );
    let unbind = cmd(
        "kubectl-mcp_rbac",
        &["unbind", "mcp-a", "mcp-b", "-o", "json"],
    );
    let out = m
        .run(&unbind, false)
        .await
        .expect("within the retry budget");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    let result = |group: &str| {
        report["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["subject"].as_str().is_some_and(|s| s.contains(group)))
            .map(|a| (a["result"].clone(), a.get("error").is_some()))
    };
    assert_eq!(result("mcp-a"), Some(("deleted".into(), false)), "{stdout}");
    assert_eq!(result("mcp-b"), Some(("failed".into(), true)), "{stdout}");
    let error: serde_json::Value = serde_json::from_str(&stderr).expect("json error");
    let message = error["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 of 2 bindings handled, 1 failed, 0 not done"),
        "{message}"
    );
    let hint = error["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("run the command again"), "{stderr}");
    m.sandbox.clear_faults();
    let rerun = ok(m.run(&unbind, false).await);
    assert!(
        rerun.contains("not bound") && rerun.contains("deleted"),
        "{rerun}"
    );

    // Uninstall lists everything first, so a failed delete leaves a complete report.
    m.sandbox.add_fault(
        FaultRule::new(FaultKind::Status(500))
            .path("/apis/apps/v1/namespaces/*/deployments/*")
            .verbs(&["delete"]),
    );
    let uninstall = &COMMANDS[8];
    let out = m
        .run(uninstall, false)
        .await
        .expect("within the retry budget");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for line in [
        "service/kubernetes-mcp-server deleted",
        "deployment.apps/kubernetes-mcp-server failed",
        "configmap/kubernetes-mcp-server not applied",
        "serviceaccount/kubernetes-mcp-server not applied",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert!(stderr.contains("not applied"), "{stderr}");
    m.sandbox.clear_faults();
    let finish = ok(m.run(uninstall, false).await);
    assert!(
        finish.contains("deployment.apps/kubernetes-mcp-server deleted")
            && !finish.contains("service/kubernetes-mcp-server"),
        "{finish}"
    );
    let gone = m
        .run(uninstall, false)
        .await
        .expect("within the retry budget");
    assert_eq!(gone.status.code(), Some(1), "{}", text(&gone.stderr));
    assert!(
        text(&gone.stderr).contains("no objects"),
        "{}",
        text(&gone.stderr)
    );
}
