//! cluster.install and cluster.deployment: how the release was installed, and whether its
//! Deployment is available and runs a pinned image.

use kube::ResourceExt;

use crate::{
    checks::CheckId,
    cluster::{Facts, server_container},
    report::{Row, Status},
};

use super::{Context, read_failed};

pub(super) fn install_row(facts: &Facts, ctx: &Context<'_>) -> Row {
    let id = CheckId::ClusterInstall;
    if let (Some(name), Some(status)) = (&facts.helm_release, &facts.helm_status) {
        let row = Row::pass(id).evidence(format!("Helm release {name}: {status}"));
        return if status.ends_with("deployed") {
            row
        } else {
            Row {
                status: Status::Fail,
                ..row
            }
            .fix(format!(
                "see `helm history {name} -n {}`; re-run `oc mcp-install` to roll forward",
                facts.namespace
            ))
        };
    }
    if let Some(Err(e)) = &facts.deployment {
        return read_failed(id, e);
    }
    let Some(deployment) = facts.deployment() else {
        return Row::fail(id)
            .evidence(format!(
                "no Helm release {} and no Deployment for it in {}",
                ctx.release, facts.namespace
            ))
            .fix("install with `oc mcp-install` (or pass --release / -n of the deployment)");
    };
    let labels = deployment.labels();
    match labels
        .get("app.kubernetes.io/managed-by")
        .map(String::as_str)
    {
        Some("oc-mcp") => Row::pass(id).evidence(format!(
            "deployment/{} applied by oc-mcp (app.kubernetes.io/managed-by=oc-mcp)",
            deployment.name_any()
        )),
        Some("Helm") => Row::pass(id).evidence(format!(
            "deployment/{} managed by Helm release {} (release Secrets not readable)",
            deployment.name_any(),
            deployment
                .annotations()
                .get("meta.helm.sh/release-name")
                .map_or(ctx.release, String::as_str)
        )),
        other => Row::warn(id)
            .evidence(format!(
                "deployment/{} was not installed by Helm or oc-mcp (managed-by: {})",
                deployment.name_any(),
                other.unwrap_or("<none>")
            ))
            .fix("reinstall with `oc mcp-install` so upgrades and checks know its parts"),
    }
}

pub(super) fn deployment_row(facts: &Facts, ctx: &Context<'_>) -> Row {
    let id = CheckId::ClusterDeployment;
    let deployment = match &facts.deployment {
        Some(Ok(Some(d))) => d,
        Some(Ok(None)) | None => {
            return Row::fail(id)
                .evidence(format!(
                    "no Deployment {} (or labelled app.kubernetes.io/instance={}) in {}",
                    crate::cluster::candidate_names(ctx.release).join(" or "),
                    ctx.release,
                    facts.namespace
                ))
                .fix("install with `oc mcp-install`, or pass --release and -n of the deployment");
        }
        Some(Err(e)) => return read_failed(id, e),
    };
    let name = deployment.name_any();
    let desired = deployment.spec.replicas.unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let image = server_container(deployment)
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let condition = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Available"));
    let summary =
        format!("deployment/{name}: {available}/{desired} available, {ready} ready, image {image}");
    let messages: Vec<String> = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status.as_deref() != Some("True"))
        .map(|c| {
            format!(
                "{} {}: {} {}",
                c.type_.as_deref().unwrap_or("?"),
                c.status.as_deref().unwrap_or("?"),
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned()
        })
        .collect();
    let mut row = if desired == 0 {
        Row::fail(id).evidence(summary).fix(format!(
            "scale it up: oc scale deployment/{name} --replicas=1 -n {}",
            facts.namespace
        ))
    } else if available >= desired && condition.is_none_or(|c| c.status.as_deref() == Some("True"))
    {
        Row::pass(id).evidence(summary)
    } else if available > 0 {
        Row::warn(id)
            .evidence(summary)
            .fix("some replicas are not available: see cluster.pods and logs.startup")
    } else {
        Row::fail(id)
            .evidence(summary)
            .fix("no replica is available: see cluster.pods and logs.startup for why")
    };
    row.evidence.extend(messages);
    if !image_is_pinned(&image) {
        // A moving tag runs whatever upstream published last, not the release that was
        // checked: the report would prove a server nobody runs tomorrow.
        row.evidence.push(format!(
            "image {image} is not pinned: `latest` (or no tag) follows upstream main"
        ));
        row.status = Status::Fail;
        row.fix = Some("pin a tested release: re-run `oc mcp-install` (it pins the image), or --image quay.io/containers/kubernetes_mcp_server:v0.0.67".into());
    }
    row
}

/// A digest, or a tag other than `latest`.
fn image_is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    // The tag follows the last `:` after the last `/` (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':')
        .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest")
}
