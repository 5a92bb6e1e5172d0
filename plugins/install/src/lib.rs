//! `oc mcp-install`: install the Kubernetes MCP Server (guide steps 2 and 8-11).
//!
//! The binary is `kubectl-mcp_install`; `oc` and `kubectl` find it as `mcp-install`.
//! flags + cluster facts -> a checked [`plan::InstallPlan`] -> render (values overlay or
//! manifests) or apply (project, helm or server-side apply) -> wait -> report.

pub mod apply;
pub mod args;
pub mod helm;
pub mod plan;
pub mod render;
pub mod wait;

use std::io::Write;

use clap::{Parser, Subcommand};
use oc_mcp_common::{
    CompletionArgs, Error, ExitCode, GlobalArgs, Plan, Plugin, Result, cli, defaults,
    lock::{self, ApplyLock, Interrupts},
    openshift::{self, ClusterFlavor},
    output::OutputFormat,
    plan::{ApplyReport, Outcome},
    preflight::require_permissions,
    release::{self, ReleaseName},
};

use crate::{
    args::{Engine, InstallArgs},
    plan::{ClusterFacts, InstallPlan},
};

/// How long an install's lock outlives a run that died holding it.
const LOCK_DURATION: std::time::Duration = std::time::Duration::from_secs(120);

const LONG_ABOUT: &str =
    "Install the Kubernetes MCP Server: project, values overlay, Helm or manifests, TLS route.

Guide steps 2 and 8-11 of \"OpenShift MCP Server Deployment on ARO\", without the guide's mistakes:
the route host is derived from the cluster's apps domain, the service account token stays mounted,
no secret goes into the ConfigMap or onto helm's command line, the image is pinned, and every
config key is checked before anything is written.

Examples:
  oc mcp-install --wait                          # openshift mode, helm, public TLS route
  oc mcp-install --engine manifests --wait       # the same resources without helm
  oc mcp-install render --values-out values-aro-mcp.yaml
  oc mcp-install --auth none --internal          # no route; oc mcp-verify --port-forward
  oc mcp-install uninstall";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Install the Kubernetes MCP Server: project, values overlay, Helm or manifests, TLS route",
    long_about = LONG_ABOUT,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub install: InstallArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the values overlay (helm engine) or the manifests (manifests engine); change nothing
    Render(Box<InstallArgs>),
    /// Remove what the install made (the release's objects); RBAC and OAuth objects stay
    Uninstall(UninstallArgs),
    /// Print a shell completion script for this plugin's binary
    Completion(CompletionArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct UninstallArgs {
    /// The release to remove
    #[arg(long, value_name = "NAME", default_value = release::RELEASE)]
    pub release: ReleaseName,
}

impl Plugin for Cli {
    const NAME: &'static str = "mcp-install";

    fn output(&self) -> &oc_mcp_common::OutputArgs {
        &self.global.output
    }

    async fn run(self) -> Result<ExitCode> {
        match &self.command {
            None => install(&self.global, &self.install).await,
            Some(Command::Render(args)) => render(&self.global, args).await,
            Some(Command::Uninstall(args)) => uninstall(&self.global, args).await,
            Some(Command::Completion(args)) => Ok(cli::print_completion::<Self>(
                args.shell,
                &mut std::io::stdout(),
            )),
        }
    }
}

/// Check the flags, then connect: the client and the namespace planning starts from.
async fn connect(global: &GlobalArgs, args: &InstallArgs) -> Result<(kube::Client, String)> {
    args.validate()?;
    let connection = global.kube.connect(release::NAMESPACE).await?;
    // Checked before the route host is derived from it, so the message names the namespace.
    oc_mcp_common::names::validate_dns_label(&connection.namespace, "namespace")?;
    Ok((connection.client, connection.namespace))
}

/// Resolve the plan from flags and what the cluster says; print lint warnings.
async fn plan(global: &GlobalArgs, args: &InstallArgs) -> Result<(kube::Client, InstallPlan)> {
    let (client, namespace) = connect(global, args).await?;
    let flavor = openshift::detect(&client).await?;
    let plan = plan_with(&client, &namespace, flavor, args).await?;
    Ok((client, plan))
}

async fn plan_with(
    client: &kube::Client,
    namespace: &str,
    flavor: ClusterFlavor,
    args: &InstallArgs,
) -> Result<InstallPlan> {
    let facts = ClusterFacts::gather(client, namespace, flavor).await?;
    let sts_client_secret = match &args.token_exchange {
        Some(_) => read_client_secret(client, namespace, &args.sts_secret).await?,
        None => None,
    };
    let inputs = plan::Inputs {
        extra_config: args.extra_config_text()?,
        issuer_ca: args.issuer_ca_pem()?,
        sts_client_secret,
    };
    let plan = plan::resolve(args, namespace, &facts, &inputs)?;
    for warning in &plan.warnings {
        cli::warn(warning);
    }
    Ok(plan)
}

/// The token-exchange client secret from the Secret `oc mcp-oauth secret set` writes.
async fn read_client_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<oc_mcp_common::kube_args::Secret>> {
    use k8s_openapi::api::core::v1::Secret;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    let value = secrets
        .get_opt(name)
        .await?
        .and_then(|s| s.data)
        .and_then(|d| d.get(defaults::OAUTH_SECRET_KEY).cloned())
        .and_then(|b| String::from_utf8(b.0).ok())
        .filter(|v| !v.trim().is_empty());
    Ok(value.map(|v| oc_mcp_common::kube_args::Secret::new(v.trim())))
}

fn write_values_out(args: &InstallArgs, plan: &InstallPlan) -> Result<()> {
    if let Some(path) = &args.values_out {
        let text = render::values_yaml(plan)?;
        // Written before anything is applied, so a bad path is a usage error: nothing changed.
        std::fs::write(path, text).map_err(|e| {
            Error::usage_with_hint(
                format!("cannot write --values-out {}: {e}", path.display()),
                "pass a file in an existing directory you can write to; nothing was changed",
            )
        })?;
        cli::warn(&format!(
            "wrote the values overlay to {} (it holds no secret)",
            path.display()
        ));
    }
    Ok(())
}

/// `oc mcp-install render`
async fn render(global: &GlobalArgs, args: &InstallArgs) -> Result<ExitCode> {
    let (_, plan) = plan(global, args).await?;
    write_values_out(args, &plan)?;
    print_rendered(&plan, global.output.output)
}

/// The values overlay (helm) or the manifests, with the Secret drop-in redacted.
fn print_rendered(plan: &InstallPlan, format: OutputFormat) -> Result<ExitCode> {
    let text = match (plan.engine, format) {
        (Engine::Helm, OutputFormat::Json) => serde_json::to_string_pretty(&render::values(plan))
            .map(|t| t + "\n")
            .map_err(|e| Error::failed(format!("cannot encode the overlay: {e}")))?,
        (Engine::Helm, _) => render::values_yaml(plan)?,
        (Engine::Manifests, format) => {
            let mut manifests = Plan::new();
            for object in render::manifests(plan)? {
                manifests.push(render::redacted(object));
            }
            let format = if format == OutputFormat::Json {
                format
            } else {
                OutputFormat::Yaml
            };
            manifests.render(format)?
        }
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing output", e))?;
    Ok(ExitCode::Ok)
}

/// `oc mcp-install`. SIGINT and SIGTERM stop the run wherever it is (in-flight requests are
/// dropped), give the Lease back and exit 130 or 143; re-running finishes the job, since every
/// step converges.
async fn install(global: &GlobalArgs, args: &InstallArgs) -> Result<ExitCode> {
    let mut interrupts = Interrupts::listen()?;
    let interrupted = tokio::select! {
        result = install_run(global, args) => return result,
        signal = interrupts.recv() => signal,
    };
    // The run's future is gone: nothing more is sent, and its lock, if any, is still held.
    let released = lock::release_held().await;
    cli::warn(&format!(
        "{}: stopped before the install finished{}; re-run the same command to finish it",
        interrupted.name(),
        if released > 0 {
            " (its lock was released)"
        } else {
            ""
        }
    ));
    std::process::exit(i32::from(interrupted.exit_code()));
}

async fn install_run(global: &GlobalArgs, args: &InstallArgs) -> Result<ExitCode> {
    if args.engine == Engine::Helm && global.change.dry_run.sends() {
        // Refuse flags helm cannot take safely before talking to the cluster.
        helm::connection_args(&global.kube, release::NAMESPACE)?;
    }
    let output = &global.output;
    let (client, namespace) = connect(global, args).await?;
    let flavor = openshift::detect(&client).await?;
    if global.change.dry_run.sends() {
        // Every read planning makes and every write applying makes, asked at once, before
        // anything is read: a user short of one learns the whole list in one go.
        let mut wanted = apply::permissions(args, &namespace, flavor)?;
        if global.change.dry_run.writes() {
            wanted.extend(ApplyLock::permissions(&namespace));
        }
        require_permissions(&client, &wanted).await?;
    }
    let plan = plan_with(&client, &namespace, flavor, args).await?;
    write_values_out(args, &plan)?;
    if global.change.dry_run.prints_only() {
        // The rendering redacts the Secret drop-in; nothing is sent.
        return print_rendered(&plan, output.output);
    }
    let helm = match plan.engine {
        Engine::Helm => {
            helm::connection_args(&global.kube, &plan.namespace)?;
            Some(helm::find_helm().await?)
        }
        Engine::Manifests => None,
    };
    let mut objects = render::applied_objects(&plan)?;
    let project = apply::ensure_project(&client, &plan, global.change.dry_run).await?;
    // The server cannot dry-run objects into a namespace that does not exist yet (it answers
    // 404); they are reported as what applying would do, not as failures.
    let unsent_namespace =
        global.change.dry_run.server_side() && project.outcome == Outcome::Created;
    let mut report = ApplyReport {
        dry_run: global.change.dry_run.server_side(),
        objects: vec![project],
    };
    let mut restorations = apply::Restorations::new();
    let mut unsent = 0;
    if unsent_namespace {
        let mut results = apply::not_sent(&objects);
        if plan.engine == Engine::Helm {
            results.push(helm_release_result(&plan, Outcome::Created));
        }
        unsent = results.len();
        report.objects.extend(results);
    } else {
        // Two installs of one release must not interleave their writes (both apply as
        // `oc-mcp`, so the API would not tell them apart): the second one stops and says so.
        let lock = if global.change.dry_run.locks() {
            let name = format!("oc-mcp-install-{}", plan.release);
            Some(ApplyLock::acquire(&client, &plan.namespace, &name, LOCK_DURATION).await?)
        } else {
            None
        };
        let applied = apply_release(global, &client, &plan, &mut objects, helm.as_ref()).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        let (results, restored) = applied?;
        restorations = restored;
        report.objects.extend(results);
    }
    print_report(&report, &restorations, unsent, output.output)?;
    if unsent > 0 {
        cli::warn(&format!(
            "server dry run: namespace {ns} does not exist yet, so the server could dry-run only \
             its creation; the other {unsent} objects were checked by oc-mcp alone. Create the \
             namespace first for a server-side check of every object",
            ns = plan.namespace
        ));
    }
    if !report.succeeded() {
        return Err(report.failure());
    }
    if !report.changed() && output.output == OutputFormat::Table {
        cli::warn("nothing to change: the cluster already matches");
    }
    if args.wait && global.change.dry_run.writes() {
        wait::wait_ready(&client, &plan, args.timeout()).await?;
    }
    if !output.output.is_machine() && global.change.dry_run.writes() {
        next_steps(&plan);
    }
    Ok(ExitCode::Ok)
}

/// The report, one line per object, with what a re-run took back from other field managers
/// and which objects a server dry run could not send. Machine formats get the report itself,
/// and the same notes on stderr.
fn print_report(
    report: &ApplyReport,
    restorations: &apply::Restorations,
    unsent: usize,
    format: OutputFormat,
) -> Result<()> {
    let notes: Vec<Option<String>> = report
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if unsent > 0 && i > 0 {
                return Some("not sent: its namespace does not exist yet".to_owned());
            }
            restorations
                .get(&(o.kind.clone(), o.name.clone()))
                .map(|r| apply::describe_restored(r))
        })
        .collect();
    if format.is_machine() {
        report.print(format)?;
        for (o, note) in report.objects.iter().zip(&notes) {
            if let Some(note) = note {
                cli::warn(&format!(
                    "{}: {note}",
                    oc_mcp_common::plan::qualified_name(&o.api_version, &o.kind, &o.name)
                ));
            }
        }
        return Ok(());
    }
    let mut text = String::new();
    for (line, note) in report.summary_lines().into_iter().zip(&notes) {
        text.push_str(&line);
        if let Some(note) = note {
            text.push_str(if line.contains(": ") { "; " } else { ": " });
            text.push_str(note);
        }
        text.push('\n');
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing output", e))
}

fn helm_release_result(plan: &InstallPlan, outcome: Outcome) -> oc_mcp_common::plan::ObjectResult {
    oc_mcp_common::plan::ObjectResult::new(
        "helm.sh/v3",
        "Release",
        plan.release.clone(),
        Some(plan.namespace.clone()),
        outcome,
    )
}

/// The install's own objects, then helm (helm engine) or the manifests with pruning.
async fn apply_release(
    global: &GlobalArgs,
    client: &kube::Client,
    plan: &InstallPlan,
    objects: &mut Plan,
    helm: Option<&(std::path::PathBuf, String)>,
) -> Result<(Vec<oc_mcp_common::plan::ObjectResult>, apply::Restorations)> {
    let Some((helm, version)) = helm else {
        return apply::apply_manifests(client, plan, objects, global.change.dry_run).await;
    };
    tracing::info!("using {} ({version})", helm.display());
    let mode = global.change.dry_run.apply_mode();
    let restorations = apply::take_ownership(client, objects).await?;
    let mut results = objects.apply_preflighted(client, mode).await?.objects;
    let values = render::values_yaml(plan)?;
    helm::upgrade_install(
        helm,
        plan,
        &values,
        &global.kube,
        global.change.dry_run.server_side(),
    )
    .await?;
    results.push(helm_release_result(plan, Outcome::Configured));
    Ok((results, restorations))
}

fn next_steps(plan: &InstallPlan) {
    let mut stderr = std::io::stderr().lock();
    match plan.url() {
        Some(url) => {
            let _ = writeln!(stderr, "MCP endpoint: {url}");
            let _ = writeln!(stderr, "next: oc mcp-verify -n {}", plan.namespace);
        }
        None => {
            let _ = writeln!(
                stderr,
                "no route (--internal): reach it with `oc mcp-verify -n {} --port-forward`",
                plan.namespace
            );
        }
    }
}

/// `oc mcp-install uninstall`
async fn uninstall(global: &GlobalArgs, args: &UninstallArgs) -> Result<ExitCode> {
    let oc_mcp_common::kube_args::Connection {
        client, namespace, ..
    } = global.kube.connect(release::NAMESPACE).await?;
    oc_mcp_common::names::validate_dns_label(&namespace, "namespace")?;
    let output = &global.output;
    if global.change.dry_run.writes() && !global.change.yes {
        confirm_uninstall(&args.release, &namespace)?;
    }
    if global.change.dry_run.sends() {
        // Listing the release's secrets (is it helm's?) is one of these; ask before reading.
        require_permissions(&client, &apply::release_permissions(&namespace)).await?;
    }
    let helm_release = helm_release_exists(&client, &namespace, &args.release).await?;
    let objects = if helm_release {
        let (helm, _) = helm::find_helm().await?;
        if global.change.dry_run.sends() {
            helm::uninstall(
                &helm,
                &args.release,
                &namespace,
                &global.kube,
                global.change.dry_run.server_side(),
            )
            .await?;
        }
        vec![oc_mcp_common::plan::ObjectResult::new(
            "helm.sh/v3",
            "Release",
            args.release.to_string(),
            Some(namespace.clone()),
            Outcome::Deleted,
        )]
    } else {
        apply::delete_release_objects(&client, &namespace, &args.release, global.change.dry_run)
            .await?
    };
    let report = ApplyReport {
        dry_run: !global.change.dry_run.writes(),
        objects,
    };
    report.print(output.output)?;
    if report.succeeded() {
        Ok(ExitCode::Ok)
    } else {
        Err(report.failure())
    }
}

/// Deleting a release is the one change that cannot be re-run into the same state, so it is
/// confirmed: on a terminal by asking, in scripts (stdin not a terminal) only with `--yes`.
fn confirm_uninstall(release: &str, namespace: &str) -> Result<()> {
    use std::io::IsTerminal as _;
    let what = format!("uninstall would delete release {release} in namespace {namespace}");
    let yes_hint = "pass --yes to confirm (or --dry-run=client to see what would be deleted)";
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage_with_hint(
            format!("{what}, and stdin is not a terminal to confirm it"),
            yes_hint,
        ));
    }
    let confirmed = dialoguer::Confirm::new()
        .with_prompt(format!("{what}. Continue?"))
        .default(false)
        .interact()
        .map_err(|e| Error::usage_with_hint(format!("cannot ask to confirm: {e}"), yes_hint))?;
    if confirmed {
        Ok(())
    } else {
        Err(Error::usage_with_hint(
            "uninstall was not confirmed; nothing was deleted",
            "answer y, or pass --yes",
        ))
    }
}

/// Helm keeps each release revision in a Secret labelled `owner=helm,name=<release>`.
async fn helm_release_exists(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<bool> {
    use k8s_openapi::api::core::v1::Secret;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    let selector = format!("owner=helm,name={release}");
    Ok(!secrets
        .list_metadata(&kube::api::ListParams::default().labels(&selector))
        .await?
        .items
        .is_empty())
}
