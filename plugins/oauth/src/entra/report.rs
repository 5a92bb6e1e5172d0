//! What `register entra` did, or the steps a person carries out, for people and machines.

use std::{fmt::Write as _, io::Write as _};

use oc_mcp_common::{
    Error, OutputFormat, Plan, PlannedObject, Result, cli, kube_args::Secret, output::write_table,
    plan::ApplyReport,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    GRAPH_SCOPES, Tenant,
    bodies::{Desired, GraphScopes, application_body, expose_api_body, requests},
    client_scopes, issuer_for,
    register::end_after_days,
};
use crate::{
    apply, secret,
    settings::{EntraSettings, SETTINGS_CONFIGMAP},
    target::Target,
};

/// What the registration is, once known.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraReport {
    pub tenant_id: String,
    pub client_id: String,
    pub object_id: String,
    pub issuer_url: String,
    pub audience: String,
    pub scopes: String,
    pub web_redirect_uris: Vec<String>,
    pub public_client_redirect_uris: Vec<String>,
    pub steps: Vec<StepResult>,
    #[serde(flatten)]
    pub apply: ApplyReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: String,
    pub result: String,
}

pub(super) fn step(steps: &mut Vec<StepResult>, name: &str, result: impl Into<String>) {
    steps.push(StepResult {
        step: name.into(),
        result: result.into(),
    });
}

/// The whole registration as steps a person (or a script) can carry out: with
/// `--dry-run=client`, or when there is no Graph token.
pub(super) fn print_manual(
    desired: &Desired,
    base: &str,
    target: &Target,
    secret_name: &str,
    format: OutputFormat,
) -> Result<()> {
    let scopes = GraphScopes::placeholder();
    let object_id = "{application-object-id}";
    let app_id = "{application-client-id}";
    let sp_id = "{service-principal-id}";
    let end = end_after_days(desired.secret_days);
    let mut list = vec![
        requests::organization(),
        requests::graph_service_principal(),
        requests::upsert_application(
            &desired.unique_name,
            application_body(desired, &scopes, None),
        ),
        requests::expose_api(object_id, expose_api_body(desired, app_id, None)),
        requests::create_service_principal(app_id),
        requests::add_password(object_id, &desired.secret_label, &end),
    ];
    if desired.admin_consent {
        list.push(requests::create_grant(
            sp_id,
            &scopes.service_principal_id,
            &GRAPH_SCOPES.join(" "),
        ));
    }
    let tenant_id = match &desired.tenant {
        Tenant::Id(id) => id.clone(),
        Tenant::Domain(_) => "{tenant-id}".into(),
    };
    let settings = EntraSettings {
        tenant_id: tenant_id.clone(),
        client_id: app_id.into(),
        object_id: object_id.into(),
        unique_name: desired.unique_name.clone(),
        issuer_url: issuer_for(&tenant_id),
        audience: app_id.into(),
        scopes: client_scopes(app_id),
        secret_name: secret_name.into(),
        secret_key_id: Some("{keyId from addPassword}".into()),
        secret_expires: Some(end),
    };
    let mut plan = Plan::new();
    plan.push(secret::planned_secret(
        target,
        secret_name,
        &Secret::new(apply::REDACTED),
        Some(app_id),
    )?);
    plan.push(PlannedObject::from_typed(
        &settings.to_configmap(&target.namespace),
    )?);
    let plan = apply::redacted(&plan);
    if format.is_machine() {
        let manifests: Vec<Value> = plan
            .objects
            .iter()
            .map(|o| serde_json::to_value(&o.object).unwrap_or_default())
            .collect();
        let doc = json!({
            "tenant": desired.tenant.as_str(),
            "issuerUrl": settings.issuer_url,
            "graphUrl": base,
            "requests": list,
            "objects": manifests,
        });
        return cli::emit(&ManualDoc(doc), format);
    }
    let mut text = format!(
        "# Register the Entra ID application for the Kubernetes MCP Server (tenant {}).\n\
         # Every request needs `Authorization: Bearer <Microsoft Graph token>` (`az account get-access-token --resource-type ms-graph`)\n\
         # from an account with Application.ReadWrite.All; admin consent also needs DelegatedPermissionGrant.ReadWrite.All.\n\
         # {{...}} stands for a value an earlier answer gives; the scope ids below are Microsoft Graph's own\n\
         # (a real run reads them from step 2).\n",
        desired.tenant.as_str()
    );
    for (i, request) in list.iter().enumerate() {
        let _ = write!(text, "\n## {}. {}\n", i + 1, request.purpose);
        text.push_str(&request.to_http(base));
    }
    let _ = write!(
        text,
        "\n## {}. store the secret (secretText from step 6) in the cluster, without a command-line argument\n\
         printf %s \"$SECRET_TEXT\" | oc mcp-oauth secret set --from-stdin -n {} --secret-name {secret_name}\n\
         \n## {}. record the settings for `oc mcp-install --auth entra` (ConfigMap {SETTINGS_CONFIGMAP}, no secret)\n",
        list.len() + 1,
        target.namespace,
        list.len() + 2,
    );
    for (key, value) in settings.to_data() {
        let _ = writeln!(text, "{key}: {value}");
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing output", e))
}

/// A JSON document that prints as itself (for `cli::emit`).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(super) struct ManualDoc(Value);

impl oc_mcp_common::output::Tabular for ManualDoc {
    fn headers(_: bool) -> Vec<&'static str> {
        Vec::new()
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        Vec::new()
    }
}

impl oc_mcp_common::output::Tabular for EntraReport {
    fn headers(_: bool) -> Vec<&'static str> {
        vec!["STEP", "RESULT"]
    }
    fn rows(&self, _: bool) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .map(|s| vec![s.step.clone(), s.result.clone()])
            .collect()
    }
}

pub(super) fn print_report(report: &EntraReport, format: OutputFormat) -> Result<()> {
    if format.is_machine() {
        return cli::emit(report, format);
    }
    let mut out = std::io::stdout().lock();
    let pairs = [
        ("TENANT", report.tenant_id.clone()),
        ("CLIENT ID", report.client_id.clone()),
        ("ISSUER", report.issuer_url.clone()),
        ("AUDIENCE", report.audience.clone()),
        ("SCOPES", report.scopes.clone()),
    ];
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, v)| vec![(*k).to_owned(), v.clone()])
        .collect();
    write_table(&mut out, &["SETTING", "VALUE"], &rows)?;
    drop(out);
    let mut rows = oc_mcp_common::output::Tabular::rows(report, false);
    rows.extend(report.apply.summary_lines().into_iter().map(|line| {
        let (name, result) = line.split_once(' ').unwrap_or((&line, ""));
        vec![name.to_owned(), result.to_owned()]
    }));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    write_table(&mut out, &["STEP", "RESULT"], &rows)
}
