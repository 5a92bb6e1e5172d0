//! Two writers at once against one sandbox. Every write is a server-side apply with the one
//! field manager `oc-mcp`, so "consistent" means:
//!
//! - same inputs at once: one state, the one either command alone makes (a re-run changes
//!   nothing), whatever the interleaving; a race on a create is reported, never hidden;
//! - different inputs that touch different objects (two groups): both land, nothing is lost;
//! - a field another manager took from an object oc-mcp made: a re-run takes it back (the
//!   safe state is restored) and names the other writer; an object another tool made or
//!   relabelled as its own is left alone (exit 1, `--force` named).
//!
//! `cargo test -p oc-mcp-e2e --test it concurrency:: -- --nocapture` prints what each pair did.

use std::{process::Output, time::Duration};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use oc_mcp_e2e::{admin::AdminBench, text};
use oc_mcp_sandbox::faults::{FaultKind, FaultRule};

/// The shared administrator's bench, plus the race helpers.
struct Bench(AdminBench);

impl std::ops::Deref for Bench {
    type Target = AdminBench;
    fn deref(&self) -> &AdminBench {
        &self.0
    }
}

impl Bench {
    async fn start() -> Self {
        Self(AdminBench::start().await)
    }

    /// Start both commands before waiting for either.
    async fn race(&self, a: (&str, &[&str]), b: (&str, &[&str])) -> (Output, Output) {
        let first = self.command(a.0, a.1).output();
        let second = self.command(b.0, b.1).output();
        let (first, second) = tokio::join!(first, second);
        (first.expect("first"), second.expect("second"))
    }

    async fn client(&self) -> kube::Client {
        self.sandbox.client_for("admin").await.expect("client")
    }
}

fn describe(label: &str, out: &Output) -> String {
    format!(
        "{label}: exit {:?}\n  stdout: {}\n  stderr: {}",
        out.status.code(),
        text(&out.stdout).trim().replace('\n', "\n          "),
        text(&out.stderr).trim().replace('\n', "\n          ")
    )
}

/// A command that lost a race must say so: exit 1 and a message naming the conflict.
#[track_caller]
fn ok_or_told(label: &str, out: &Output) {
    let stderr = text(&out.stderr);
    let told = out.status.code() == Some(1)
        && [
            "already exists",
            "conflict",
            "Conflict",
            "has been modified",
            "another oc-mcp run",
        ]
        .iter()
        .any(|w| stderr.contains(w));
    assert!(out.status.success() || told, "{}", describe(label, out));
}

/// Every line of a re-run's report says `unchanged`.
#[track_caller]
fn converged(label: &str, out: &Output) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", describe(label, out));
    assert!(
        stdout.contains("unchanged")
            && !["created", "configured"].iter().any(|w| stdout.contains(w)),
        "{label} did not converge:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_installs_with_the_same_inputs_end_in_the_state_of_one() {
    let b = Bench::start().await;
    let install: &[&str] = &["--engine", "manifests", "--yes"];
    // Slow writes so that the two write phases overlap rather than run one after the other.
    b.sandbox.add_fault(
        FaultRule::new(FaultKind::Latency(Duration::from_millis(400))).verbs(&["patch", "create"]),
    );
    let from = b.sandbox.audit().len();
    let (first, second) = b
        .race(
            ("kubectl-mcp_install", install),
            ("kubectl-mcp_install", install),
        )
        .await;
    eprintln!(
        "{}\n{}",
        describe("install #1", &first),
        describe("install #2", &second)
    );
    ok_or_told("install #1", &first);
    ok_or_told("install #2", &second);
    assert!(
        first.status.success() || second.status.success(),
        "at least one install completes"
    );
    b.sandbox.clear_faults();
    let writes = b.writes_since("admin", from);
    eprintln!(
        "{} writes by the two installs:\n  {}",
        writes.len(),
        writes.join("\n  ")
    );
    // One state: a third install has nothing left to do.
    converged(
        "install after the race",
        &b.run("kubectl-mcp_install", install).await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_binds_of_the_same_group_make_one_binding() {
    let b = Bench::start().await;
    let bind: &[&str] = &["bind", "mcp-users"];
    b.sandbox.add_fault(
        FaultRule::new(FaultKind::Latency(Duration::from_millis(400))).verbs(&["patch"]),
    );
    let (first, second) = b
        .race(("kubectl-mcp_rbac", bind), ("kubectl-mcp_rbac", bind))
        .await;
    eprintln!(
        "{}\n{}",
        describe("bind #1", &first),
        describe("bind #2", &second)
    );
    b.sandbox.clear_faults();
    ok_or_told("bind #1", &first);
    ok_or_told("bind #2", &second);
    let bindings: Api<ClusterRoleBinding> = Api::all(b.client().await);
    let ours: Vec<ClusterRoleBinding> = bindings
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=oc-mcp"))
        .await
        .expect("list")
        .items;
    let for_group: Vec<_> = ours
        .iter()
        .filter(|crb| {
            crb.subjects
                .iter()
                .flatten()
                .any(|s| s.kind == "Group" && s.name == "mcp-users")
        })
        .collect();
    assert_eq!(for_group.len(), 1, "one binding for the group: {ours:?}");
    assert_eq!(for_group[0].subjects.as_ref().map(Vec::len), Some(1));
    converged(
        "bind after the race",
        &b.run("kubectl-mcp_rbac", bind).await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_binds_of_different_groups_both_land() {
    let b = Bench::start().await;
    let (first, second) = b
        .race(
            ("kubectl-mcp_rbac", &["bind", "mcp-users"]),
            ("kubectl-mcp_rbac", &["bind", "mcp-admins"]),
        )
        .await;
    eprintln!(
        "{}\n{}",
        describe("bind mcp-users", &first),
        describe("bind mcp-admins", &second)
    );
    assert!(
        first.status.success(),
        "{}",
        describe("bind mcp-users", &first)
    );
    assert!(
        second.status.success(),
        "{}",
        describe("bind mcp-admins", &second)
    );
    let bindings: Api<ClusterRoleBinding> = Api::all(b.client().await);
    for group in ["mcp-users", "mcp-admins"] {
        let name = format!("mcp-readonly-group-{group}");
        let crb = bindings.get(&name).await.expect("binding exists");
        let subjects: Vec<_> = crb
            .subjects
            .iter()
            .flatten()
            .map(|s| (s.kind.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            subjects,
            [("Group", group)],
            "{name}: nothing lost or mixed"
        );
    }
    for group in ["mcp-users", "mcp-admins"] {
        converged(
            &format!("bind {group} after the race"),
            &b.run("kubectl-mcp_rbac", &["bind", group]).await,
        );
    }
}

/// Apply `body` to the ClusterRole as another tool would, taking the fields it names.
async fn apply_as_someone_else(roles: &Api<ClusterRole>, body: &serde_json::Value) {
    roles
        .patch(
            "mcp-readonly",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(body),
        )
        .await
        .expect("the other manager's apply");
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_another_manager_took_are_restored_and_a_foreign_object_is_left_alone() {
    let b = Bench::start().await;
    let created = b.run("kubectl-mcp_rbac", &["role"]).await;
    assert!(created.status.success(), "{}", describe("role", &created));
    let roles: Api<ClusterRole> = Api::all(b.client().await);
    let ours = roles.get("mcp-readonly").await.expect("role").rules;

    // Another tool takes the rules: a re-run of `role` takes them back and says so.
    let their_rules =
        serde_json::json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]);
    apply_as_someone_else(
        &roles,
        &serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "mcp-readonly"},
            "rules": their_rules,
        }),
    )
    .await;
    let out = b.run("kubectl-mcp_rbac", &["role"]).await;
    eprintln!("{}", describe("role against another manager's rules", &out));
    assert!(out.status.success(), "{}", describe("role", &out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("restoring profile"), "{stderr}");
    let live = roles.get("mcp-readonly").await.expect("role");
    assert_eq!(live.rules, ours, "the profile's rules are back");

    // Another tool takes the object itself (its managed-by label): the role is left alone.
    apply_as_someone_else(
        &roles,
        &serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "mcp-readonly",
                "labels": {"app.kubernetes.io/managed-by": "someone-else"},
            },
        }),
    )
    .await;
    let out = b.run("kubectl-mcp_rbac", &["role"]).await;
    eprintln!(
        "{}",
        describe("role against another manager's object", &out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe("role", &out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--force"), "the way out is named: {stderr}");
    let live = roles.get("mcp-readonly").await.expect("role");
    assert_eq!(
        live.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("someone-else"),
        "the other writer's value stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_another_manager_took_is_restored_by_a_rerun_and_named() {
    let b = Bench::start().await;
    let install: &[&str] = &["--engine", "manifests", "--yes"];
    let first = b.run("kubectl-mcp_install", install).await;
    assert!(first.status.success(), "{}", describe("install", &first));
    // Another tool takes one key of the server's ConfigMap with its own apply.
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(b.client().await, "mcp-server");
    let live = config_maps
        .get("kubernetes-mcp-server")
        .await
        .expect("configmap");
    let (key, ours) = live
        .data
        .unwrap_or_default()
        .into_iter()
        .next()
        .expect("the ConfigMap has data");
    let theirs = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kubernetes-mcp-server", "namespace": "mcp-server"},
        "data": {key.clone(): "# written by someone else\n"},
    });
    config_maps
        .patch(
            "kubernetes-mcp-server",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&theirs),
        )
        .await
        .expect("the other manager's apply");

    // The objects are the release's: a re-run restores them and names who had changed what.
    let out = b.run("kubectl-mcp_install", install).await;
    eprintln!(
        "{}",
        describe("install against another manager's field", &out)
    );
    assert!(out.status.success(), "{}", describe("install", &out));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        said.contains("configmap/kubernetes-mcp-server configured")
            && said.contains("someone-else"),
        "the report names the object and the other writer: {said}"
    );
    let live = config_maps
        .get("kubernetes-mcp-server")
        .await
        .expect("configmap");
    assert_eq!(
        live.data.unwrap_or_default().get(&key),
        Some(&ours),
        "the release's value is back"
    );
}

/// The ConfigMap data an install with these arguments would write (`--dry-run=client -o json`).
async fn rendered_config(b: &Bench, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--dry-run=client", "-o", "json"]);
    let out = b.run("kubectl-mcp_install", &all).await;
    assert!(out.status.success(), "{}", describe("render", &out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json list");
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "ConfigMap")
        .map(|o| o["data"].clone())
        .expect("a ConfigMap in the plan")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_installs_with_different_inputs_the_loser_is_told() {
    // Both write as field manager oc-mcp, so server-side apply alone would see no conflict
    // (the last writer would win object by object); the install's Lease tells the loser.
    let b = Bench::start().await;
    let core: &[&str] = &["--engine", "manifests", "--yes", "--toolsets", "core"];
    let both: &[&str] = &[
        "--engine",
        "manifests",
        "--yes",
        "--toolsets",
        "core,config",
    ];
    let (want_core, want_both) = (
        rendered_config(&b, core).await,
        rendered_config(&b, both).await,
    );
    assert_ne!(want_core, want_both, "the inputs differ in the ConfigMap");
    b.sandbox.add_fault(
        FaultRule::new(FaultKind::Latency(Duration::from_millis(400))).verbs(&["patch", "create"]),
    );
    let (first, second) = b
        .race(("kubectl-mcp_install", core), ("kubectl-mcp_install", both))
        .await;
    b.sandbox.clear_faults();
    eprintln!(
        "{}\n{}",
        describe("install --toolsets core", &first),
        describe("install --toolsets core,config", &second)
    );
    ok_or_told("install --toolsets core", &first);
    ok_or_told("install --toolsets core,config", &second);
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(b.client().await, "mcp-server");
    let live = config_maps
        .get("kubernetes-mcp-server")
        .await
        .expect("configmap");
    let live = serde_json::to_value(live.data.unwrap_or_default()).expect("json");
    assert!(
        live == want_core || live == want_both,
        "the ConfigMap is one input's, whole: {live}"
    );
    // The install lock: when the runs overlap, the one without it is told and writes
    // nothing, so the state is the other run's; runs that did not overlap both succeed.
    let told = |out: &Output| text(&out.stderr).contains("another oc-mcp run");
    match (first.status.success(), second.status.success()) {
        (true, false) => {
            assert!(told(&second), "{}", describe("loser", &second));
            assert_eq!(live, want_core, "the state is the winner's");
        }
        (false, true) => {
            assert!(told(&first), "{}", describe("loser", &first));
            assert_eq!(live, want_both, "the state is the winner's");
        }
        (true, true) => eprintln!("the two installs did not overlap"),
        (false, false) => panic!("one install must win"),
    }
    eprintln!(
        "the ConfigMap after the race is the {} install's",
        if live == want_core {
            "core"
        } else {
            "core,config"
        }
    );
    // Whoever won, running the other input again makes the state that input's.
    let again = if live == want_core { both } else { core };
    let rerun = b.run("kubectl-mcp_install", again).await;
    assert!(rerun.status.success(), "{}", describe("re-run", &rerun));
    converged(
        "the same input once more",
        &b.run("kubectl-mcp_install", again).await,
    );
}

/// A Lease as another run leaves it: held by someone else, last renewed `ago` before now.
fn foreign_lease(ago: Duration) -> k8s_openapi::api::coordination::v1::Lease {
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::MicroTime, jiff};
    let renewed = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).expect("duration");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "oc-mcp-install-kubernetes-mcp-server", "namespace": "mcp-server"},
        "spec": {"holderIdentity": "oc-mcp@elsewhere/pid-1/0", "leaseDurationSeconds": 120,
                 "acquireTime": MicroTime(renewed), "renewTime": MicroTime(renewed)}
    }))
    .expect("lease")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_install_lock_stops_a_second_run_and_a_dead_runs_lock_expires() {
    use k8s_openapi::api::coordination::v1::Lease;
    let b = Bench::start().await;
    let install: &[&str] = &["--engine", "manifests", "--yes"];
    let first = b.run("kubectl-mcp_install", install).await;
    assert!(first.status.success(), "{}", describe("install", &first));
    let leases: Api<Lease> = Api::namespaced(b.client().await, "mcp-server");
    assert!(
        leases
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty(),
        "a finished install gives its lock back"
    );
    let apply = PatchParams::apply("someone-else").force();
    let name = "oc-mcp-install-kubernetes-mcp-server";

    // Held by a live run: told, and no object is written.
    leases
        .patch(
            name,
            &apply,
            &Patch::Apply(foreign_lease(Duration::from_secs(5))),
        )
        .await
        .expect("hold the lock");
    let from = b.sandbox.audit().len();
    let blocked = b
        .run(
            "kubectl-mcp_install",
            &["--engine", "manifests", "--yes", "--toolsets", "core"],
        )
        .await;
    assert_eq!(
        blocked.status.code(),
        Some(1),
        "{}",
        describe("blocked", &blocked)
    );
    assert!(text(&blocked.stderr).contains("oc-mcp@elsewhere/pid-1/0"));
    let writes: Vec<String> = b
        .writes_since("admin", from)
        .into_iter()
        .filter(|w| !w.contains("/leases"))
        .collect();
    assert!(writes.is_empty(), "the blocked run wrote: {writes:?}");

    // Left by a run that died 5 minutes ago (the lock lasts 2): taken over, used, given back.
    leases
        .patch(
            name,
            &apply,
            &Patch::Apply(foreign_lease(Duration::from_secs(300))),
        )
        .await
        .expect("a stale lock");
    let taken = b
        .run(
            "kubectl-mcp_install",
            &["--engine", "manifests", "--yes", "--toolsets", "core"],
        )
        .await;
    assert!(taken.status.success(), "{}", describe("takeover", &taken));
    assert!(leases.get_opt(name).await.expect("get").is_none());
}
