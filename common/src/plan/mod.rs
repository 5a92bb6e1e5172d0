//! The Plan: every object a command will create or patch, decided before the cluster is touched.
//!
//! flags -> [`Plan`] -> [`Plan::render`] (`--dry-run=client`, `-o yaml|json`)
//!                   or [`Plan::apply_preflighted`] (server-side apply, or `dryRun=All`)
//!                   -> [`ApplyReport`].
//!
//! [`object`] is what is planned, [`apply`] the one executor, [`report`] what it did.

mod apply;
mod object;
mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use kube::Client;

pub use object::{PlannedObject, Scope};
pub use report::{ApplyReport, ObjectError, ObjectResult, Outcome};

use crate::{
    error::{Error, Result},
    output::{OutputFormat, to_yaml},
    preflight::Permission,
};

/// The field manager for every write.
pub const FIELD_MANAGER: &str = "oc-mcp";
/// Label put on everything the plugins create.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "oc-mcp";

/// How a plan is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Server-side apply for real.
    Apply,
    /// Server-side apply with `dryRun=All`: validated by the API server, nothing stored.
    ServerDryRun,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub objects: Vec<PlannedObject>,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, object: PlannedObject) {
        self.objects.push(object);
    }

    /// The manifests as a kubectl-style `List` (JSON) or multi-document YAML.
    pub fn render(&self, format: OutputFormat) -> Result<String> {
        let items: Vec<serde_json::Value> = self
            .objects
            .iter()
            .map(|o| serde_json::to_value(&o.object))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::failed(format!("cannot encode manifests: {e}")))?;
        if format == OutputFormat::Json {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            return serde_json::to_string_pretty(&list)
                .map(|text| text + "\n")
                .map_err(|e| Error::failed(format!("cannot encode manifests: {e}")));
        }
        let docs = items.iter().map(to_yaml).collect::<Result<Vec<_>>>()?;
        Ok(docs.join("---\n"))
    }

    /// Every permission the plan needs, without duplicates.
    pub fn required_permissions(&self) -> Vec<Permission> {
        let mut seen = BTreeMap::new();
        for object in &self.objects {
            for p in object.required_permissions() {
                seen.entry(p.key()).or_insert(p);
            }
        }
        seen.into_values().collect()
    }

    /// Carry the plan out as the output flags say: `--dry-run=client` prints the manifests and
    /// touches nothing; otherwise apply (or server dry run) and print the report. The caller
    /// has checked [`Self::required_permissions`] (together with the reads it made while
    /// planning), so nothing is asked twice.
    pub async fn execute_preflighted(
        &self,
        client: &Client,
        global: &crate::GlobalArgs,
    ) -> Result<crate::ExitCode> {
        let (format, dry_run) = (global.output.output, global.change.dry_run);
        if dry_run.prints_only() {
            self.print_client_dry_run(format)?;
            return Ok(crate::ExitCode::Ok);
        }
        let report = self.apply_preflighted(client, dry_run.apply_mode()).await?;
        report.print(format)?;
        if report.succeeded() {
            Ok(crate::ExitCode::Ok)
        } else {
            Err(report.failure())
        }
    }

    /// `--dry-run=client`: the manifests for `-o yaml|json`, kubectl-style lines otherwise.
    pub fn print_client_dry_run(&self, format: OutputFormat) -> Result<()> {
        use std::io::Write;
        let text = if format.is_machine() {
            self.render(format)?
        } else {
            let lines: Vec<String> = self
                .objects
                .iter()
                .map(|o| {
                    let name = qualified_name(&o.resource.api_version, &o.resource.kind, &o.name());
                    format!("{name} (dry run)")
                })
                .collect();
            lines.join("\n") + "\n"
        };
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    }
}

/// `clusterrole.rbac.authorization.k8s.io/mcp-readonly`, as kubectl names objects.
pub fn qualified_name(api_version: &str, kind: &str, name: &str) -> String {
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    let kind = kind.to_lowercase();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}
