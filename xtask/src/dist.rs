//! `cargo xtask dist`: release binaries, one archive per plugin and platform, sha256 sums, and
//! the krew manifests rewritten for the archives that were built.

use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail, ensure};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The plugins: krew name, cargo package, one-line description, and the guide step.
pub const PLUGINS: [Plugin; 5] = [
    Plugin {
        name: "mcp-rbac",
        package: "oc-mcp-rbac",
        short: "Read-only RBAC for the MCP Server (ARO guide 3-5)",
        description: "Creates the read-only ClusterRole that users of the Kubernetes MCP Server need (the guide's\n\
            option A or B, or a role derived from the server's own tool metadata), binds it to groups,\n\
            users or service accounts with one deterministic binding per subject, reports every binding\n\
            that references it, and proves with SubjectAccessReviews that access is read-only.\n\
            Steps 3-5 of \"OpenShift MCP Server Deployment on ARO\".\n",
    },
    Plugin {
        name: "mcp-oauth",
        package: "oc-mcp-oauth",
        short: "OAuth client for the MCP Server (ARO guide 6-7)",
        description: "Registers the OAuth client of the Kubernetes MCP Server: an OpenShift OAuthClient, or an Entra ID\n\
            app registration through Microsoft Graph. Generates and rotates the client secret and stores\n\
            it only in a Secret, never on a command line or in a ConfigMap; checks an issuer's discovery\n\
            document and keys. Steps 6-7 of \"OpenShift MCP Server Deployment on ARO\".\n",
    },
    Plugin {
        name: "mcp-install",
        package: "oc-mcp-install",
        short: "Install the MCP Server safely (ARO guide 2, 8-11)",
        description: "Installs the Kubernetes MCP Server with Helm or plain manifests: creates the project, renders a\n\
            values overlay whose config.toml is checked key by key, derives the route host from the\n\
            cluster's apps domain, keeps secrets out of ConfigMaps and helm's command line, and refuses\n\
            combinations that cannot work. Steps 2 and 8-11 of \"OpenShift MCP Server Deployment on ARO\".\n",
    },
    Plugin {
        name: "mcp-verify",
        package: "oc-mcp-verify",
        short: "Prove an MCP Server is safe (ARO guide 12-14)",
        description: "Checks a Kubernetes MCP Server deployment end to end: pods, config, route and TLS, 401 without a\n\
            token, 200 with one, only read-only tools, and that tool calls run with the caller's identity.\n\
            One report row per check, with evidence and a fix; JSON and JUnit output.\n\
            Steps 12-14 of \"OpenShift MCP Server Deployment on ARO\".\n",
    },
    Plugin {
        name: "mcp-client",
        package: "oc-mcp-client",
        short: "Connect MCP clients to the server (ARO guide 15)",
        description: "Writes the configuration VS Code, Cursor, Claude Code, Claude Desktop and the MCP Inspector need\n\
            for the deployed server, without tokens in files, and gets bearer tokens with a real login\n\
            (kubeconfig user, or OAuth authorization code with PKCE and a token cache).\n\
            Step 15 of \"OpenShift MCP Server Deployment on ARO\".\n",
    },
];

#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    pub name: &'static str,
    pub package: &'static str,
    pub short: &'static str,
    pub description: &'static str,
}

impl Plugin {
    /// `mcp-rbac` -> `kubectl-mcp_rbac`, the file krew links and kubectl runs.
    pub fn binary(&self) -> String {
        format!("kubectl-{}", self.name.replace('-', "_"))
    }

    /// `kubectl_complete-mcp_rbac`, which kubectl 1.26+ runs to complete the plugin's arguments.
    pub fn completion_shim(&self) -> String {
        format!("kubectl_complete-{}", self.name.replace('-', "_"))
    }
}

/// A platform krew knows, and the Rust target that builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
    pub target: &'static str,
}

pub const PLATFORMS: [Platform; 6] = [
    Platform {
        os: "linux",
        arch: "amd64",
        target: "x86_64-unknown-linux-gnu",
    },
    Platform {
        os: "linux",
        arch: "arm64",
        target: "aarch64-unknown-linux-gnu",
    },
    Platform {
        os: "darwin",
        arch: "amd64",
        target: "x86_64-apple-darwin",
    },
    Platform {
        os: "darwin",
        arch: "arm64",
        target: "aarch64-apple-darwin",
    },
    Platform {
        os: "windows",
        arch: "amd64",
        target: "x86_64-pc-windows-msvc",
    },
    Platform {
        os: "windows",
        arch: "arm64",
        target: "aarch64-pc-windows-msvc",
    },
];

impl Platform {
    fn windows(&self) -> bool {
        self.os == "windows"
    }

    fn exe(&self, name: &str) -> String {
        if self.windows() {
            format!("{name}.exe")
        } else {
            name.to_owned()
        }
    }

    /// `mcp-rbac_v0.1.0_linux_amd64.tar.gz` (`.zip` on Windows).
    pub fn archive_name(&self, plugin: &Plugin, version: &str) -> String {
        let ext = if self.windows() { "zip" } else { "tar.gz" };
        format!("{}_v{version}_{}_{}.{ext}", plugin.name, self.os, self.arch)
    }

    fn host() -> Result<Self> {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        PLATFORMS
            .into_iter()
            .find(|p| p.os == os && p.arch == arch)
            .with_context(|| format!("no release platform for this host ({os}/{arch})"))
    }

    fn from_target(target: &str) -> Result<Self> {
        PLATFORMS
            .into_iter()
            .find(|p| p.target == target)
            .with_context(|| format!("unknown release target {target}"))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct DistArgs {
    /// Rust target to build (default: this machine's)
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Where the archives will be published (the manifests' `uri` prefix)
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Output directory for archives, sums and manifests
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also rewrite the committed manifests in krew-manifests/
    #[arg(long)]
    pub update_manifests: bool,
    /// Build nothing: write the manifests from the SHA256SUMS already in the output directory
    /// (the release workflow merges every platform's sums, then runs this)
    #[arg(long)]
    pub manifests_only: bool,
    /// Cargo profile of the packed binaries; `release` is what ships
    #[arg(long, value_name = "NAME", default_value = "release")]
    pub profile: String,
    /// Build nothing: pack the binaries already in target/<profile> (`cargo xtask test` built
    /// them with the tests; building the plugins alone unifies features differently and
    /// compiles the TLS and kube stack again)
    #[arg(long, conflicts_with = "target")]
    pub prebuilt: bool,
}

impl Default for DistArgs {
    fn default() -> Self {
        Self {
            target: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            out: None,
            update_manifests: false,
            manifests_only: false,
            profile: "release".to_owned(),
            prebuilt: false,
        }
    }
}

/// Where release archives are published.
pub const DEFAULT_BASE_URL: &str = "https://github.com/oc-mcp/oc-mcp/releases/download";

pub fn dist(root: &Path, args: &DistArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target").join("dist"));
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut sums = read_sums(&out.join("SHA256SUMS"))?;
    if !args.manifests_only {
        let platform = match &args.target {
            Some(target) => Platform::from_target(target)?,
            None => Platform::host()?,
        };
        let bin_dir = if args.prebuilt {
            profile_dir(&root.join("target"), &args.profile)
        } else {
            build(root, args.target.as_deref(), &args.profile)?
        };
        pack_all(root, &bin_dir, &platform, &out, &mut sums)?;
        write_sums(&out.join("SHA256SUMS"), &sums)?;
    }
    write_manifests(root, args, &out, &sums)
}

/// Pack one archive per plugin from the binaries in `bin_dir`.
fn pack_all(
    root: &Path,
    bin_dir: &Path,
    platform: &Platform,
    out: &Path,
    sums: &mut BTreeMap<String, String>,
) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    for plugin in &PLUGINS {
        let archive = out.join(platform.archive_name(plugin, version));
        pack(root, bin_dir, plugin, platform, &archive)?;
        let sum = sha256_file(&archive)?;
        let size = fs::metadata(bin_dir.join(platform.exe(&plugin.binary())))?.len();
        eprintln!(
            "xtask: {} ({} KiB binary) sha256 {sum}",
            archive.display(),
            size / 1024
        );
        sums.insert(platform.archive_name(plugin, version), sum);
    }
    Ok(())
}

/// One krew manifest per plugin for the sums known (built here, merged, or committed before).
fn write_manifests(
    root: &Path,
    args: &DistArgs,
    out: &Path,
    sums: &BTreeMap<String, String>,
) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let manifests_out = out.join("krew-manifests");
    fs::create_dir_all(&manifests_out)?;
    for plugin in &PLUGINS {
        let committed = root
            .join("krew-manifests")
            .join(format!("{}.yaml", plugin.name));
        let previous = previous_sums(&committed, plugin, version)?;
        let text = manifest(plugin, version, &args.base_url, sums, &previous)?;
        fs::write(manifests_out.join(format!("{}.yaml", plugin.name)), &text)?;
        if args.update_manifests {
            fs::write(&committed, &text)?;
        }
    }
    Ok(())
}

/// Build the plugins with `profile` for one platform; the directory holding the binaries.
fn build(root: &Path, target: Option<&str>, profile: &str) -> Result<PathBuf> {
    let mut cmd = crate::cargo(root);
    cmd.args(["build", "--profile", profile, "--locked"]);
    for plugin in &PLUGINS {
        cmd.args(["--package", plugin.package]);
    }
    if let Some(target) = target {
        cmd.args(["--target", target]);
    }
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().context("cannot run cargo build")?;
    ensure!(status.success(), "{profile} build failed");
    let mut dir = root.join("target");
    if let Some(target) = target {
        dir = dir.join(target);
    }
    Ok(profile_dir(&dir, profile))
}

/// Where cargo puts a profile's binaries under `target_dir`: it keeps `dev` in `debug`.
fn profile_dir(target_dir: &Path, profile: &str) -> PathBuf {
    target_dir.join(if profile == "dev" { "debug" } else { profile })
}

/// The shim kubectl runs to complete `kubectl mcp-rbac <TAB>`: it asks the plugin.
fn completion_shim(plugin: &Plugin) -> String {
    format!(
        "#!/bin/sh\n# kubectl 1.26+ runs this to complete `kubectl {name} ...`.\nexec {bin} __complete \"$@\"\n",
        name = plugin.name,
        bin = plugin.binary()
    )
}

fn pack(
    root: &Path,
    bin_dir: &Path,
    plugin: &Plugin,
    platform: &Platform,
    archive: &Path,
) -> Result<()> {
    let binary_name = platform.exe(&plugin.binary());
    let binary = fs::read(bin_dir.join(&binary_name))
        .with_context(|| format!("{} was not built", bin_dir.join(&binary_name).display()))?;
    let license = fs::read(root.join("LICENSE")).context("LICENSE is missing")?;
    let mut entries: Vec<(String, Vec<u8>, u32)> = vec![
        (binary_name, binary, 0o755),
        ("LICENSE".into(), license, 0o644),
    ];
    if !platform.windows() {
        entries.push((
            plugin.completion_shim(),
            completion_shim(plugin).into_bytes(),
            0o755,
        ));
    }
    let file = fs::File::create(archive)
        .with_context(|| format!("cannot create {}", archive.display()))?;
    if platform.windows() {
        let mut zip = zip::ZipWriter::new(file);
        for (name, bytes, mode) in &entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            zip.start_file(name.as_str(), options)?;
            zip.write_all(bytes)?;
        }
        zip.finish()?;
    } else {
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, bytes, mode) in &entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(*mode);
            // A fixed timestamp keeps archives of identical binaries identical.
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes.as_slice())?;
        }
        tar.into_inner()?.finish()?;
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// `SHA256SUMS` in the `sha256sum` format: `<hex>  <file>`.
fn read_sums(path: &Path) -> Result<BTreeMap<String, String>> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = fs::read_to_string(path)?;
    let mut sums = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((sum, name)) = line.split_once("  ") else {
            bail!("{}: malformed line {line:?}", path.display());
        };
        sums.insert(name.to_owned(), sum.to_owned());
    }
    Ok(sums)
}

fn write_sums(path: &Path, sums: &BTreeMap<String, String>) -> Result<()> {
    let lines: Vec<String> = sums
        .iter()
        .map(|(name, sum)| format!("{sum}  {name}"))
        .collect();
    let text = lines.join("\n") + "\n";
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The sha256 of each platform's archive in the committed manifest, for platforms this run
/// did not build (the release workflow builds each platform on its own runner).
fn previous_sums(
    committed: &Path,
    plugin: &Plugin,
    version: &str,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !committed.exists() {
        return Ok(out);
    }
    let manifest: serde_json::Value = serde_saphyr::from_str(&fs::read_to_string(committed)?)
        .with_context(|| format!("{} is not YAML", committed.display()))?;
    for platform in manifest["spec"]["platforms"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let os = platform["selector"]["matchLabels"]["os"]
            .as_str()
            .unwrap_or_default();
        let arch = platform["selector"]["matchLabels"]["arch"]
            .as_str()
            .unwrap_or_default();
        let uri = platform["uri"].as_str().unwrap_or_default();
        if let (Some(p), Some(sum)) = (
            PLATFORMS.iter().find(|p| p.os == os && p.arch == arch),
            platform["sha256"].as_str(),
        ) && uri.ends_with(&p.archive_name(plugin, version))
        {
            out.insert(p.archive_name(plugin, version), sum.to_owned());
        }
    }
    Ok(out)
}

/// Not yet built for this version: the release workflow writes the real sum.
const UNBUILT_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    api_version: &'static str,
    kind: &'static str,
    metadata: BTreeMap<&'static str, String>,
    spec: Spec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    version: String,
    homepage: &'static str,
    short_description: &'static str,
    description: &'static str,
    caveats: String,
    platforms: Vec<PlatformEntry>,
}

#[derive(Serialize)]
struct PlatformEntry {
    selector: Selector,
    uri: String,
    sha256: String,
    files: Vec<FileOp>,
    bin: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct FileOp {
    from: String,
    to: &'static str,
}

fn manifest(
    plugin: &Plugin,
    version: &str,
    base_url: &str,
    built: &BTreeMap<String, String>,
    previous: &BTreeMap<String, String>,
) -> Result<String> {
    let platforms = PLATFORMS
        .iter()
        .map(|p| {
            let archive = p.archive_name(plugin, version);
            let sha256 = built
                .get(&archive)
                .or_else(|| previous.get(&archive))
                .cloned()
                .unwrap_or_else(|| UNBUILT_SHA256.to_owned());
            let mut files = vec![
                FileOp {
                    from: p.exe(&plugin.binary()),
                    to: ".",
                },
                FileOp {
                    from: "LICENSE".into(),
                    to: ".",
                },
            ];
            if !p.windows() {
                files.push(FileOp {
                    from: plugin.completion_shim(),
                    to: ".",
                });
            }
            PlatformEntry {
                selector: Selector {
                    match_labels: [("os", p.os), ("arch", p.arch)].into(),
                },
                uri: format!("{}/v{version}/{archive}", base_url.trim_end_matches('/')),
                sha256,
                files,
                bin: p.exe(&plugin.binary()),
            }
        })
        .collect();
    let manifest = Manifest {
        api_version: "krew.googlecontainertools.github.com/v1alpha2",
        kind: "Plugin",
        metadata: [("name", plugin.name.to_owned())].into(),
        spec: Spec {
            version: format!("v{version}"),
            homepage: "https://github.com/oc-mcp/oc-mcp",
            short_description: plugin.short,
            description: plugin.description,
            caveats: format!(
                "Run it as `oc {name}` (oc 4.x) or `kubectl {name}` (kubectl 1.26 or later); flags go after\n\
                 the plugin name. Shell completion: kubectl 1.26+ completes `kubectl {name}` through the\n\
                 installed {shim} once ~/.krew/bin is on PATH; for the binary itself run\n\
                 `{bin} completion bash|zsh|fish`.\n",
                name = plugin.name,
                shim = plugin.completion_shim(),
                bin = plugin.binary()
            ),
            platforms,
        },
    };
    let body = serde_saphyr::to_string(&manifest).context("cannot encode the manifest")?;
    Ok(format!(
        "# krew plugin manifest, written by `cargo xtask dist`. A sha256 of all zeros means the archive\n\
         # for that platform has not been built for this version yet (the release workflow builds it).\n{body}"
    ))
}
