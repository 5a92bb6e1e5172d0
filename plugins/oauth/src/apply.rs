//! Applying plans that carry secrets: the common [`Plan`], with the secret values redacted in
//! client dry-run output and scrubbed from any error text the API server sends back.

use kube::api::ObjectMeta;
use oc_mcp_common::{
    DryRun, Error, ExitCode, GlobalArgs, OutputArgs, Plan, Result,
    kube_args::Secret,
    plan::{ApplyReport, MANAGED_BY_LABEL, MANAGED_BY_VALUE},
};

/// What stands in for a secret value in anything shown.
pub const REDACTED: &str = "<redacted>";

/// Whether oc-mcp made the object (the managed-by label).
pub fn is_ours(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY_VALUE)
}

/// A copy of the plan with every secret value replaced: the OAuthClient's `secret` and
/// `additionalSecrets`, and each value of a Secret's `data`/`stringData`.
pub fn redacted(plan: &Plan) -> Plan {
    let mut copy = plan.clone();
    for object in &mut copy.objects {
        let data = &mut object.object.data;
        match object.resource.kind.as_str() {
            "OAuthClient" => {
                if let Some(secret) = data.get_mut("secret") {
                    *secret = REDACTED.into();
                }
                if let Some(serde_json::Value::Array(list)) = data.get_mut("additionalSecrets") {
                    for item in list.iter_mut() {
                        *item = REDACTED.into();
                    }
                }
            }
            "Secret" => {
                for field in ["data", "stringData"] {
                    if let Some(serde_json::Value::Object(map)) = data.get_mut(field) {
                        for value in map.values_mut() {
                            *value = REDACTED.into();
                        }
                    }
                }
            }
            _ => {}
        }
    }
    copy
}

/// Replace every occurrence of a secret in `text`.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let value = secret.expose();
        if !value.is_empty() {
            out = out.replace(value, REDACTED);
            // The API server shows `data` values base64-encoded.
            let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, value);
            out = out.replace(&encoded, REDACTED);
        }
    }
    out
}

/// `--dry-run=client`: print the redacted manifests (`-o yaml|json`) or kubectl-style lines.
pub fn print_client_dry_run(plan: &Plan, output: &OutputArgs) -> Result<()> {
    redacted(plan).print_client_dry_run(output.output)?;
    if output.output.is_machine() && contains_secrets(plan) {
        crate::note("note: secret values are shown as <redacted>; they are never printed");
    }
    Ok(())
}

fn contains_secrets(plan: &Plan) -> bool {
    plan.objects
        .iter()
        .any(|o| matches!(o.resource.kind.as_str(), "OAuthClient" | "Secret"))
}

/// Server-side apply (or `dryRun=All`) without the permission check (the caller made it),
/// with secret values scrubbed from the per-object errors.
pub async fn apply_scrubbed(
    client: &kube::Client,
    plan: &Plan,
    dry_run: DryRun,
    secrets: &[&Secret],
) -> Result<ApplyReport> {
    let mut report = plan
        .apply_preflighted(client, dry_run.apply_mode())
        .await
        .map_err(|e| scrub_error(&e, secrets))?;
    for object in &mut report.objects {
        if let Some(error) = object.error.take() {
            object.error = Some(scrub_error(error.error(), secrets).into());
        }
    }
    Ok(report)
}

/// An error whose text may echo a request body, made safe to print.
pub fn scrub_error(err: &Error, secrets: &[&Secret]) -> Error {
    err.redacted(&|text| scrub(text, secrets))
}

/// Print an apply report and turn a partial failure into an error (exit 1).
pub fn finish(report: &ApplyReport, output: &OutputArgs) -> Result<ExitCode> {
    report.print(output.output)?;
    if report.succeeded() {
        Ok(ExitCode::Ok)
    } else {
        Err(report.failure())
    }
}

/// The whole road for a plan whose permissions were checked: render, or apply and report.
pub async fn execute(
    client: &kube::Client,
    plan: &Plan,
    global: &GlobalArgs,
    secrets: &[&Secret],
) -> Result<ExitCode> {
    let dry_run = global.change.dry_run;
    if dry_run.prints_only() {
        print_client_dry_run(plan, &global.output)?;
        return Ok(ExitCode::Ok);
    }
    let report = apply_scrubbed(client, plan, dry_run, secrets).await?;
    finish(&report, &global.output)
}

#[cfg(test)]
mod tests {
    use oc_mcp_common::{OutputFormat, PlannedObject, openshift::OAuthClient};

    use super::*;

    #[test]
    fn redaction_covers_oauth_client_and_secret_values() {
        let mut client = OAuthClient::named("c");
        client.secret = Some("top-secret-1".into());
        client.additional_secrets = vec!["top-secret-0".into()];
        let secret = crate::secret::secret_object("ns", "s", &Secret::new("top-secret-1"), None);
        let mut plan = Plan::new();
        plan.push(PlannedObject::from_typed(&client).expect("client"));
        plan.push(PlannedObject::from_typed(&secret).expect("secret"));
        for format in [OutputFormat::Yaml, OutputFormat::Json] {
            let text = redacted(&plan).render(format).expect("render");
            assert!(!text.contains("top-secret"), "{text}");
            assert!(!text.contains("dG9wLXNlY3JldC0x"), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
        // The original is untouched: it is what gets applied.
        assert!(
            plan.render(OutputFormat::Json)
                .expect("json")
                .contains("top-secret-1")
        );
    }

    #[test]
    fn scrub_hides_plain_and_base64_forms() {
        let s = Secret::new("abc123");
        assert_eq!(
            scrub("value abc123 and YWJjMTIz", &[&s]),
            "value <redacted> and <redacted>"
        );
    }
}
