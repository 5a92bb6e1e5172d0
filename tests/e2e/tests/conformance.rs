//! The MCP conformance suite's client auth scenarios (`@modelcontextprotocol/conformance`,
//! pinned in `xtask/npm/package.json`) against our two OAuth logins: `kubectl-mcp_client
//! token` and `kubectl-mcp_verify --login`, each driven by `src/bin/conformance_client.rs`.
//!
//! Every scenario has an expectation below: it passes, or exactly the listed checks fail,
//! for the reason given (what we deliberately do not do). A scenario that starts to pass, or
//! fails differently, fails this test, so the list stays true.
//!
//! The suite's mock servers call `listen(0)`, which binds every interface; a preload makes
//! them bind 127.0.0.1 and logs each address, and the test checks that log.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use oc_mcp_e2e::workspace_root;
use serde_json::Value;

/// The suites that hold the client auth scenarios (`conformance list`).
const SUITES: [&str; 4] = ["auth", "backcompat", "draft", "extensions"];
/// Each suite run, all of its scenarios in parallel.
const SUITE_LIMIT: Duration = Duration::from_secs(150);
/// The suite's own limit per client run, in ms (the client stops itself after 40 s).
const CLIENT_LIMIT_MS: &str = "60000";
/// The mock authorization servers issue tokens with this prefix: never in our output.
const MOCK_TOKEN_PREFIX: &str = "test-token-";

/// Loads before the suite: every listening socket binds 127.0.0.1 (the suite reads the port
/// right after `listen(0)`, so the synchronous bind is kept), and its address is logged.
const LOOPBACK_PRELOAD: &str = r"'use strict';
const net = require('node:net');
const fs = require('node:fs');
const log = process.env.OC_MCP_LISTEN_LOG;
const setup = net.Server.prototype._listen2;
net.Server.prototype._listen2 = function (address, port, addressType, backlog, fd, flags) {
  if (fd === undefined || fd === null || fd < 0) { address = '127.0.0.1'; addressType = 4; }
  const result = setup.call(this, address, port, addressType, backlog, fd, flags);
  const bound = this.address();
  fs.appendFileSync(log, `${bound && typeof bound === 'object' ? bound.address : bound}\n`);
  return result;
};
";

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// No check fails or warns.
    Pass,
    /// No check fails or warns, and no login happens: refusing is the right answer.
    Refuses,
    /// Exactly these checks fail or warn, for this reason.
    Fails(&'static [&'static str], &'static str),
}

const NO_DCR: &str = "no dynamic client registration: the client is registered beforehand (oc mcp-oauth register) and its ID given";
const NO_CIMD: &str = "no client ID metadata documents: the client ID is a registered one";
const SCOPES_FROM_CONFIG: &str = "the scopes are the server's configured oauth_scopes (default openid profile email offline_access), not taken from the challenge or scopes_supported";
const NO_STEP_UP: &str = "no step-up: one login, no new authorization on a 403 insufficient_scope";
const NO_2025_03_26: &str = "servers of the 2025-03-26 spec without protected-resource metadata: the issuer must publish RFC 8414/OIDC metadata naming itself; default endpoints are not guessed";
const NO_CLIENT_CREDENTIALS: &str = "no client credentials grant: the logins act as a person, whose token the server passes through";
const NO_CROSS_APP: &str = "no enterprise cross-app access (token exchange, JWT bearer grant)";
const TOKEN_NO_PRM: &str = "token reads no protected-resource metadata: the issuer and audience come from the server's config, so there is no resource to compare";
const VERIFY_PUBLIC: &str =
    "verify logs in as a public client (PKCE, no secret), as the MCP clients it stands for";

/// The checks of the metadata scenarios that need the authorization server's metadata.
const AFTER_METADATA: &[&str] = &[
    "authorization-server-metadata",
    "client-registration",
    "authorization-request",
    "token-request",
];
const AFTER_REGISTRATION: &[&str] = &[
    "client-registration",
    "authorization-request",
    "token-request",
];

/// Every client auth scenario: what `token` and what `verify` get.
const EXPECTED: &[(&str, Expect, Expect)] = &[
    (
        "auth/metadata-default",
        Expect::Fails(&["client-registration"], NO_DCR),
        Expect::Fails(&["client-registration"], NO_DCR),
    ),
    (
        "auth/metadata-var1",
        Expect::Fails(&["client-registration"], NO_DCR),
        Expect::Fails(&["client-registration"], NO_DCR),
    ),
    (
        "auth/metadata-var2",
        Expect::Fails(&["client-registration"], NO_DCR),
        Expect::Fails(&["client-registration"], NO_DCR),
    ),
    (
        "auth/metadata-var3",
        Expect::Fails(&["client-registration"], NO_DCR),
        Expect::Fails(&["client-registration"], NO_DCR),
    ),
    (
        "auth/basic-cimd",
        Expect::Fails(&["cimd-client-id-used"], NO_CIMD),
        Expect::Fails(&["cimd-client-id-used"], NO_CIMD),
    ),
    (
        "auth/scope-from-www-authenticate",
        Expect::Fails(&["scope-from-www-authenticate"], SCOPES_FROM_CONFIG),
        Expect::Fails(&["scope-from-www-authenticate"], SCOPES_FROM_CONFIG),
    ),
    (
        "auth/scope-from-scopes-supported",
        Expect::Fails(&["scope-from-scopes-supported"], SCOPES_FROM_CONFIG),
        Expect::Fails(&["scope-from-scopes-supported"], SCOPES_FROM_CONFIG),
    ),
    (
        "auth/scope-omitted-when-undefined",
        Expect::Fails(&["scope-omitted-when-undefined"], SCOPES_FROM_CONFIG),
        Expect::Fails(&["scope-omitted-when-undefined"], SCOPES_FROM_CONFIG),
    ),
    (
        "auth/scope-step-up",
        Expect::Fails(
            &["scope-step-up-initial", "scope-step-up-escalation"],
            NO_STEP_UP,
        ),
        Expect::Fails(
            &["scope-step-up-initial", "scope-step-up-escalation"],
            NO_STEP_UP,
        ),
    ),
    ("auth/scope-retry-limit", Expect::Pass, Expect::Pass),
    (
        "auth/token-endpoint-auth-basic",
        Expect::Pass,
        Expect::Fails(&["token-endpoint-auth-method"], VERIFY_PUBLIC),
    ),
    (
        "auth/token-endpoint-auth-post",
        Expect::Pass,
        Expect::Fails(&["token-endpoint-auth-method"], VERIFY_PUBLIC),
    ),
    ("auth/token-endpoint-auth-none", Expect::Pass, Expect::Pass),
    (
        "auth/pre-registration",
        Expect::Pass,
        Expect::Fails(&["pre-registration-auth"], VERIFY_PUBLIC),
    ),
    (
        "auth/2025-03-26-oauth-metadata-backcompat",
        Expect::Fails(AFTER_REGISTRATION, NO_2025_03_26),
        Expect::Fails(AFTER_METADATA, NO_2025_03_26),
    ),
    (
        "auth/2025-03-26-oauth-endpoint-fallback",
        Expect::Fails(AFTER_REGISTRATION, NO_2025_03_26),
        Expect::Fails(AFTER_REGISTRATION, NO_2025_03_26),
    ),
    (
        "auth/resource-mismatch",
        Expect::Fails(&["resource-mismatch-rejected"], TOKEN_NO_PRM),
        Expect::Refuses,
    ),
    ("auth/offline-access-scope", Expect::Pass, Expect::Pass),
    (
        "auth/offline-access-not-supported",
        Expect::Pass,
        Expect::Pass,
    ),
    (
        "auth/client-credentials-jwt",
        Expect::Fails(
            &[
                "client-credentials-grant-type",
                "client-credentials-jwt-verified",
            ],
            NO_CLIENT_CREDENTIALS,
        ),
        Expect::Fails(
            &[
                "client-credentials-grant-type",
                "client-credentials-jwt-verified",
            ],
            NO_CLIENT_CREDENTIALS,
        ),
    ),
    (
        "auth/client-credentials-basic",
        Expect::Fails(
            &[
                "client-credentials-grant-type",
                "client-credentials-basic-auth",
            ],
            NO_CLIENT_CREDENTIALS,
        ),
        Expect::Fails(
            &[
                "client-credentials-grant-type",
                "client-credentials-basic-auth",
            ],
            NO_CLIENT_CREDENTIALS,
        ),
    ),
    (
        "auth/cross-app-access-complete-flow",
        Expect::Fails(
            &["complete-flow-token-exchange", "complete-flow-jwt-bearer"],
            NO_CROSS_APP,
        ),
        Expect::Fails(
            &["complete-flow-token-exchange", "complete-flow-jwt-bearer"],
            NO_CROSS_APP,
        ),
    ),
];

/// verify probes the endpoint with a made-up token on purpose (a wrong token must get 401):
/// the mock server records that as a failed check wherever it validates tokens.
const VERIFY_PROBES: &[&str] = &["invalid-bearer-token"];

/// A passing login shows these: PKCE S256 end to end.
const PKCE: [&str; 4] = [
    "pkce-code-challenge-sent",
    "pkce-s256-method-used",
    "pkce-code-verifier-sent",
    "pkce-verifier-matches-challenge",
];
/// Passing scenarios whose server never accepts a token (it answers every call 403).
const NO_ACCEPTED_TOKEN: [&str; 1] = ["auth/scope-retry-limit"];

/// One scenario's checks: id -> statuses (an id can repeat).
type Checks = BTreeMap<String, Vec<String>>;

struct Suite {
    node: PathBuf,
    script: PathBuf,
    work: tempfile::TempDir,
}

impl Suite {
    fn installed() -> Self {
        let tools = workspace_root().join("target/tools");
        let node = std::env::var_os("OC_MCP_NODE")
            .map_or_else(|| tools.join("node22/bin/node"), PathBuf::from);
        let npm =
            std::env::var_os("OC_MCP_NPM_CLIENTS").map_or_else(|| tools.join("npm"), PathBuf::from);
        let script = npm.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
        for needed in [&node, &script] {
            assert!(
                needed.exists(),
                "{} is missing: run `cargo xtask tools` (it installs Node 22 and the MCP conformance suite)",
                needed.display()
            );
        }
        let work = tempfile::tempdir().expect("tempdir");
        std::fs::write(work.path().join("loopback.cjs"), LOOPBACK_PRELOAD).expect("preload");
        Self { node, script, work }
    }

    fn listen_log(&self) -> PathBuf {
        self.work.path().join("listen.log")
    }

    fn results(&self, mode: &str, suite: &str) -> PathBuf {
        self.work.path().join("results").join(mode).join(suite)
    }

    /// Start `conformance client --suite <suite>` with our client in `mode`; its output goes
    /// to files, so the runs go on side by side without filling a pipe.
    fn start(&self, client: &Path, mode: &str, suite: &str) -> tokio::process::Child {
        let command = format!("{} {mode}", client.display());
        // The suite splits the command at spaces.
        assert!(!client.display().to_string().contains(' '), "{command}");
        let log = |stream: &str| {
            std::fs::File::create(self.work.path().join(format!("{mode}-{suite}.{stream}")))
                .expect("log file")
        };
        tokio::process::Command::new(&self.node)
            .arg("--require")
            .arg(self.work.path().join("loopback.cjs"))
            .arg(&self.script)
            .args(["client", "--command", &command, "--suite", suite])
            .args(["--timeout", CLIENT_LIMIT_MS, "-o"])
            .arg(self.results(mode, suite))
            .current_dir(self.work.path())
            .env("OC_MCP_LISTEN_LOG", self.listen_log())
            .env("HOME", self.work.path())
            .env_remove("NODE_OPTIONS")
            .stdin(std::process::Stdio::null())
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .kill_on_drop(true)
            .spawn()
            .expect("start the conformance suite")
    }

    /// Wait for a run started by [`Self::start`].
    async fn finish(&self, mut child: tokio::process::Child, mode: &str, suite: &str) {
        let status = tokio::time::timeout(SUITE_LIMIT, child.wait())
            .await
            .unwrap_or_else(|_| panic!("the {suite} suite ({mode}) did not finish"))
            .expect("wait for the conformance suite");
        let output =
            std::fs::read_to_string(self.work.path().join(format!("{mode}-{suite}.stderr")))
                .unwrap_or_default();
        // The suite exits 1 when any check fails: the checks themselves are judged below.
        assert!(
            status.code().is_some_and(|c| c == 0 || c == 1),
            "the {suite} suite ({mode}) crashed ({status}): {output}"
        );
    }
}

/// Every scenario's checks under `dir`, and its client's output, by scenario name.
fn read_results(dir: &Path) -> BTreeMap<String, (Checks, String)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().and_then(|n| n.to_str()) != Some("checks.json") {
                continue;
            }
            let scenario_dir = path.parent().expect("scenario dir");
            let relative = scenario_dir
                .strip_prefix(dir)
                .expect("under the results")
                .to_string_lossy()
                .into_owned();
            // `<scenario>-<ISO timestamp with : and . as ->`: 25 characters.
            let name = relative
                .get(..relative.len().saturating_sub(25))
                .expect("a timestamped directory")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("checks.json");
            let list: Vec<Value> = serde_json::from_str(&text).expect("checks.json is a list");
            let mut checks = Checks::new();
            for check in list {
                checks
                    .entry(check["id"].as_str().expect("id").to_owned())
                    .or_default()
                    .push(check["status"].as_str().expect("status").to_owned());
            }
            let mut output = String::new();
            for file in ["stdout.txt", "stderr.txt"] {
                output.push_str(
                    &std::fs::read_to_string(scenario_dir.join(file)).unwrap_or_default(),
                );
            }
            assert!(
                found.insert(name.clone(), (checks, output)).is_none(),
                "{name} ran twice"
            );
        }
    }
    found
}

fn failing(checks: &Checks) -> BTreeSet<&str> {
    checks
        .iter()
        .filter(|(_, statuses)| statuses.iter().any(|s| s == "FAILURE" || s == "WARNING"))
        .map(|(id, _)| id.as_str())
        .collect()
}

fn succeeded(checks: &Checks, id: &str) -> bool {
    checks
        .get(id)
        .is_some_and(|s| s.iter().any(|s| s == "SUCCESS"))
}

/// What went differently from the expectation, if anything.
fn judge(
    mode: &str,
    scenario: &str,
    expect: Expect,
    checks: &Checks,
    output: &str,
) -> Option<String> {
    let ignored: &[&str] = if mode == "verify" { VERIFY_PROBES } else { &[] };
    let got: BTreeSet<&str> = failing(checks)
        .into_iter()
        .filter(|id| !ignored.contains(id))
        .collect();
    let want: BTreeSet<&str> = match expect {
        Expect::Pass | Expect::Refuses => BTreeSet::new(),
        Expect::Fails(ids, _) => ids.iter().copied().collect(),
    };
    if got != want {
        return Some(format!(
            "{mode} {scenario}: failing checks {got:?}, expected {want:?}{}\n{output}",
            match expect {
                Expect::Pass | Expect::Refuses => String::new(),
                Expect::Fails(_, why) => format!(" ({why})"),
            }
        ));
    }
    if matches!(expect, Expect::Refuses) && checks.contains_key("authorization-request") {
        return Some(format!(
            "{mode} {scenario}: logged in where it should refuse\n{output}"
        ));
    }
    if matches!(expect, Expect::Pass) {
        let mut missing: Vec<&str> = PKCE
            .iter()
            .copied()
            .filter(|id| !succeeded(checks, id))
            .collect();
        if !NO_ACCEPTED_TOKEN.contains(&scenario) && !succeeded(checks, "valid-bearer-token") {
            missing.push("valid-bearer-token");
        }
        if !missing.is_empty() {
            return Some(format!(
                "{mode} {scenario}: passed without {missing:?}\n{output}"
            ));
        }
    }
    output
        .contains(MOCK_TOKEN_PREFIX)
        .then(|| format!("{mode} {scenario}: a token reached the client's output"))
}

#[tokio::test]
async fn the_client_auth_scenarios_of_the_mcp_conformance_suite() {
    let suite = Suite::installed();
    let client = PathBuf::from(env!("CARGO_BIN_EXE_conformance_client"));
    for plugin in ["kubectl-mcp_client", "kubectl-mcp_verify"] {
        let built = client.with_file_name(plugin);
        assert!(
            built.exists(),
            "{} is missing: cargo build --workspace --bins",
            built.display()
        );
    }
    let runs: Vec<_> = ["token", "verify"]
        .into_iter()
        .flat_map(|mode| SUITES.into_iter().map(move |s| (mode, s)))
        .collect();
    let children: Vec<_> = runs
        .iter()
        .map(|(mode, s)| suite.start(&client, mode, s))
        .collect();
    for ((mode, s), child) in runs.iter().zip(children) {
        suite.finish(child, mode, s).await;
    }

    let mut problems = Vec::new();
    for (column, mode) in ["token", "verify"].into_iter().enumerate() {
        let mut results = BTreeMap::new();
        for s in SUITES {
            results.extend(read_results(&suite.results(mode, s)));
        }
        for (scenario, token, verify) in EXPECTED {
            let expect = if column == 0 { *token } else { *verify };
            match results.remove(*scenario) {
                Some((checks, output)) => {
                    problems.extend(judge(mode, scenario, expect, &checks, &output));
                }
                None => problems.push(format!("{mode} {scenario}: the suite did not run it")),
            }
        }
        for scenario in results.keys() {
            problems.push(format!(
                "{mode} {scenario}: a scenario with no expectation here: add it"
            ));
        }
    }

    let log =
        std::fs::read_to_string(suite.listen_log()).expect("the preload logged the listeners");
    let addresses: Vec<&str> = log.lines().collect();
    assert!(
        addresses.len() >= 2 * EXPECTED.len(),
        "one listener per mock server at least: {addresses:?}"
    );
    assert!(
        addresses.iter().all(|a| *a == "127.0.0.1"),
        "a mock server bound beyond loopback: {addresses:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_expectations_fail_in_both_directions() {
    let checks = |failing: &[&str]| -> Checks {
        PKCE.iter()
            .chain(["valid-bearer-token", "authorization-request"].iter())
            .map(|id| ((*id).to_owned(), vec!["SUCCESS".to_owned()]))
            .chain(
                failing
                    .iter()
                    .map(|id| ((*id).to_owned(), vec!["FAILURE".to_owned()])),
            )
            .collect()
    };
    let listed = Expect::Fails(&["client-registration"], NO_DCR);
    assert!(judge("token", "s", Expect::Pass, &checks(&[]), "").is_none());
    assert!(judge("token", "s", Expect::Pass, &checks(&["x"]), "").is_some());
    assert!(judge("token", "s", listed, &checks(&["client-registration"]), "").is_none());
    // A listed failure that went away, or another one: the list is out of date.
    assert!(judge("token", "s", listed, &checks(&[]), "").is_some());
    assert!(
        judge(
            "token",
            "s",
            listed,
            &checks(&["client-registration", "x"]),
            ""
        )
        .is_some()
    );
    // verify's deliberate wrong-token probe is not a failure of its login.
    assert!(
        judge(
            "verify",
            "s",
            Expect::Pass,
            &checks(&["invalid-bearer-token"]),
            ""
        )
        .is_none()
    );
    assert!(
        judge(
            "token",
            "s",
            Expect::Pass,
            &checks(&["invalid-bearer-token"]),
            ""
        )
        .is_some()
    );
    // Refusing must mean no authorization request at all.
    assert!(judge("verify", "s", Expect::Refuses, &checks(&[]), "").is_some());
    // A passing scenario must show the login and the token in use.
    let mut no_token = checks(&[]);
    no_token.remove("valid-bearer-token");
    assert!(judge("token", "s", Expect::Pass, &no_token, "").is_some());
    assert!(
        judge(
            "token",
            "s",
            Expect::Pass,
            &checks(&[]),
            "Bearer test-token-1"
        )
        .is_some()
    );
}
