//! The krew manifests follow krew's validation rules, and a release archive installs the way
//! krew installs it: unpacked per `files`, `bin` linked as `kubectl-mcp_rbac` on a fresh PATH,
//! then run by the real kubectl (help and shell completion through the shim).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use oc_mcp_e2e::{PLUGINS, binary_name, kubectl, text, workspace_root};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Platforms krew supports (krew's `validation.go`).
const KREW_PLATFORMS: [(&str, &str); 11] = [
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

/// `kubectl krew search` shows the short description in a column; krew asks for "a few words".
const SHORT_DESCRIPTION_LIMIT: usize = 60;

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// krew's validation rules; returns every violation.
fn violations(path: &Path) -> Vec<String> {
    let manifest = load(path);
    let mut out = Vec::new();
    let mut fail = |m: String| out.push(m);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
        fail("extension is not .yaml".into());
    }
    if name != stem {
        fail(format!(
            "metadata.name {name:?} differs from the file name {stem:?}"
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        fail(format!("name {name:?} does not match ^[\\w-]+$"));
    }
    if manifest["apiVersion"] != "krew.googlecontainertools.github.com/v1alpha2" {
        fail("apiVersion".into());
    }
    if manifest["kind"] != "Plugin" {
        fail("kind".into());
    }
    let spec = &manifest["spec"];
    let short = spec["shortDescription"].as_str().unwrap_or_default();
    if short.is_empty()
        || short.contains(['\r', '\n'])
        || short.chars().count() > SHORT_DESCRIPTION_LIMIT
    {
        fail(format!(
            "shortDescription {short:?} must be one non-empty line of at most {SHORT_DESCRIPTION_LIMIT} characters"
        ));
    }
    if !is_semver_with_v(spec["version"].as_str().unwrap_or_default()) {
        fail(format!(
            "version {} is not semver with a v prefix",
            spec["version"]
        ));
    }
    if spec["homepage"]
        .as_str()
        .is_none_or(|h| !h.starts_with("https://"))
    {
        fail("homepage".into());
    }
    let platforms = spec["platforms"].as_array().cloned().unwrap_or_default();
    if platforms.is_empty() {
        fail("no platforms".into());
    }
    let mut covered = BTreeSet::new();
    for platform in &platforms {
        for violation in platform_violations(platform, name, &mut covered) {
            fail(violation);
        }
    }
    for required in [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
        ("windows", "amd64"),
        ("windows", "arm64"),
    ] {
        if !covered.contains(&required) {
            fail(format!("no platform for {}/{}", required.0, required.1));
        }
    }
    out
}

/// krew's rules for one platform entry; `covered` collects the os/arch pairs matched so far.
fn platform_violations(
    platform: &Value,
    name: &str,
    covered: &mut BTreeSet<(&'static str, &'static str)>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut fail = |m: String| out.push(m);
    let labels = platform["selector"]["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let keys: Vec<&String> = labels.keys().collect();
    if keys.is_empty()
        || keys.iter().any(|k| *k != "os" && *k != "arch")
        || platform["selector"].get("matchExpressions").is_some()
    {
        fail(format!(
            "selector {} must use only os/arch matchLabels",
            platform["selector"]
        ));
    }
    let os = labels
        .get("os")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let arch = labels
        .get("arch")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let matched: Vec<_> = KREW_PLATFORMS
        .iter()
        .filter(|(o, a)| *o == os && (arch.is_empty() || *a == arch))
        .collect();
    if matched.is_empty() {
        fail(format!("{os}/{arch} is not a krew platform"));
    }
    for pair in matched {
        if !covered.insert(*pair) {
            fail(format!("{}/{} is matched by two platforms", pair.0, pair.1));
        }
    }
    let sha = platform["sha256"].as_str().unwrap_or_default();
    if sha.len() != 64
        || !sha
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        fail(format!("sha256 {sha:?} is not 64 lower-case hex digits"));
    }
    if platform["uri"]
        .as_str()
        .is_none_or(|u| !u.starts_with("https://"))
    {
        fail("uri".into());
    }
    let bin = platform["bin"].as_str().unwrap_or_default();
    let expected_bin = binary_name(name);
    let expected_bin = if os == "windows" {
        format!("{expected_bin}.exe")
    } else {
        expected_bin
    };
    if bin != expected_bin {
        fail(format!(
            "{os}/{arch}: bin {bin:?}, expected {expected_bin:?}"
        ));
    }
    let files = platform["files"].as_array().cloned().unwrap_or_default();
    if files.iter().any(|f| {
        f["from"].as_str().unwrap_or_default().is_empty()
            || f["to"].as_str().unwrap_or_default().is_empty()
    }) {
        fail("a files entry lacks from/to".into());
    }
    let froms: Vec<&str> = files.iter().filter_map(|f| f["from"].as_str()).collect();
    if !froms.iter().any(|f| f.eq_ignore_ascii_case("license")) {
        fail(format!("{os}/{arch}: LICENSE is not among the files"));
    }
    if !froms.contains(&bin) {
        fail(format!("{os}/{arch}: the bin is not among the files"));
    }
    out
}

#[test]
fn committed_manifests_follow_krews_rules() {
    let dir = workspace_root().join("krew-manifests");
    for plugin in PLUGINS {
        let path = dir.join(format!("{plugin}.yaml"));
        assert_eq!(
            violations(&path),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
    let count = std::fs::read_dir(&dir).expect("krew-manifests").count();
    assert_eq!(
        count,
        PLUGINS.len(),
        "one manifest per plugin and nothing else"
    );
}

#[test]
fn the_validator_rejects_what_krew_rejects() {
    let good = std::fs::read_to_string(workspace_root().join("krew-manifests/mcp-rbac.yaml"))
        .expect("manifest");
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        (
            "version: v0.1.0",
            "version: 0.1.0",
            "not semver with a v prefix",
        ),
        ("arch: arm64", "cpu: arm64", "only os/arch"),
        (
            "bin: kubectl-mcp_rbac.exe",
            "bin: kubectl-mcp_rbac",
            "expected \"kubectl-mcp_rbac.exe\"",
        ),
        (
            "- from: LICENSE",
            "- from: README",
            "LICENSE is not among the files",
        ),
        (
            "name: mcp-rbac",
            "name: mcp-rback",
            "differs from the file name",
        ),
    ];
    for (from, to, expected) in cases {
        let path = dir.path().join("mcp-rbac.yaml");
        std::fs::write(&path, good.replacen(from, to, 1)).expect("write");
        let found = violations(&path).join("\n");
        assert!(found.contains(expected), "{to}: {found}");
    }
    let path = dir.path().join("mcp-rbac.yaml");
    let upper = good.replacen("sha256: ", "sha256: A", 1);
    std::fs::write(&path, upper).expect("write");
    assert!(violations(&path).join("\n").contains("lower-case hex"));
}

fn dist_dir() -> PathBuf {
    let dir = workspace_root().join("target/dist");
    assert!(
        dir.join("SHA256SUMS").exists(),
        "{} has no release archives: run `cargo xtask dist` (`cargo xtask test` does)",
        dir.display()
    );
    dir
}

/// Install one plugin from its archive as krew does: unpack, copy `files`, link `bin`.
fn krew_install(manifest: &Value, archive: &Path, root: &Path) -> PathBuf {
    let platform = manifest["spec"]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .find(|p| {
            p["selector"]["matchLabels"]["os"] == "linux"
                && p["selector"]["matchLabels"]["arch"] == "amd64"
        })
        .expect("linux/amd64 platform")
        .clone();
    let bytes = std::fs::read(archive).expect("archive");
    assert_eq!(
        platform["sha256"].as_str(),
        Some(format!("{:x}", Sha256::digest(&bytes)).as_str()),
        "the manifest's sha256 is the archive's"
    );
    let unpacked = root.join("download");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let status = Command::new("tar")
        .arg("xzf")
        .arg(archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("tar");
    assert!(status.success());
    let name = manifest["metadata"]["name"].as_str().expect("name");
    let install = root.join("store").join(name).join("v");
    std::fs::create_dir_all(&install).expect("mkdir");
    for file in platform["files"].as_array().expect("files") {
        let from = file["from"].as_str().expect("from");
        std::fs::copy(unpacked.join(from), install.join(from)).expect("copy file");
    }
    let bin_dir = root.join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    let bin = platform["bin"].as_str().expect("bin");
    std::os::unix::fs::symlink(install.join(bin), bin_dir.join(binary_name(name)))
        .expect("link bin");
    // The completion shim is linked too, as krew's caveats tell users to put it on PATH.
    let shim = format!("kubectl_complete-{}", name.replace('-', "_"));
    std::os::unix::fs::symlink(install.join(&shim), bin_dir.join(&shim)).expect("link shim");
    bin_dir
}

#[test]
fn a_release_archive_installs_like_krew_and_kubectl_runs_it() {
    let dist = dist_dir();
    let version = env!("CARGO_PKG_VERSION");
    let root = tempfile::tempdir().expect("tmp");
    for plugin in PLUGINS {
        let manifest = load(&dist.join("krew-manifests").join(format!("{plugin}.yaml")));
        assert_eq!(
            violations(&dist.join("krew-manifests").join(format!("{plugin}.yaml"))),
            Vec::<String>::new()
        );
        let archive = dist.join(format!("{plugin}_v{version}_linux_amd64.tar.gz"));
        let bin_dir = krew_install(&manifest, &archive, &root.path().join(plugin));
        let path = std::env::join_paths([
            bin_dir.clone(),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
        .expect("PATH");
        let kubectl = kubectl();
        let out = Command::new(&kubectl)
            .args([plugin, "--help"])
            .env("PATH", &path)
            .env("_", &kubectl)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "{plugin}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("Usage: kubectl {plugin}")),
            "{}",
            text(&out.stdout)
        );
        // kubectl 1.26+ completes plugin arguments through the shim.
        let out = Command::new(&kubectl)
            .args(["__complete", plugin, ""])
            .env("PATH", &path)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl __complete");
        let completions = text(&out.stdout);
        assert!(
            completions.contains("completion\n"),
            "{plugin}: {completions:?} {}",
            text(&out.stderr)
        );
        assert!(
            completions
                .lines()
                .last()
                .is_some_and(|l| l.starts_with(':')),
            "{completions:?}"
        );
    }
}

#[test]
fn the_release_workflow_builds_every_krew_platform_with_xtask_dist() {
    let workflow = load(&workspace_root().join(".github/workflows/release.yaml"));
    assert_eq!(workflow["on"]["push"]["tags"][0], "v*.*.*");
    let include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("build matrix");
    let targets: BTreeSet<&str> = include
        .iter()
        .filter_map(|e| e["target"].as_str())
        .collect();
    let expected: BTreeSet<&str> = [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "aarch64-pc-windows-msvc",
    ]
    .into();
    assert_eq!(targets, expected, "one build per platform of the manifests");
    assert!(
        include
            .iter()
            .all(|e| e["runner"].as_str().is_some_and(|r| !r.is_empty()))
    );
    let runs = |job: &str| -> Vec<String> {
        workflow["jobs"][job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        runs("build")
            .iter()
            .any(|r| r.contains("cargo xtask dist --target ${{ matrix.target }}"))
    );
    assert_eq!(workflow["jobs"]["publish"]["needs"], "build");
    let publish = runs("publish").join("\n");
    assert!(
        publish.contains("sha256sum --check SHA256SUMS"),
        "{publish}"
    );
    assert!(
        publish.contains("cargo xtask dist --manifests-only"),
        "{publish}"
    );
    assert_eq!(
        workflow["permissions"]["contents"], "read",
        "least privilege by default"
    );
}
