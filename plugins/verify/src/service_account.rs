//! The server's own ServiceAccount must hold no role. Tool calls run with each caller's token;
//! the pod's token is only for the server's start-up. A role bound to it is reachable by
//! anyone who gets that token (a debug pod, a mounted volume, `cluster_auth_mode` flipped to
//! `kubeconfig`), so the deployment's safety would rest on nobody ever doing so.

use k8s_openapi::api::{
    apps::v1::Deployment,
    rbac::v1::{RoleRef, Subject},
};
use kube::ResourceExt;

use crate::{
    checks::CheckId,
    cluster::{Bindings, Facts},
    report::Row,
};

/// The ServiceAccount the server's pods run as.
pub fn of(deployment: &Deployment) -> String {
    deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.service_account_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into())
}

fn names(subject: &Subject, namespace: &str, name: &str) -> bool {
    match subject.kind.as_str() {
        "ServiceAccount" => subject.name == name && subject.namespace.as_deref() == Some(namespace),
        "User" => subject.name == format!("system:serviceaccount:{namespace}:{name}"),
        _ => false,
    }
}

fn describe(kind: &str, binding: &str, role: &RoleRef) -> String {
    format!("{kind}/{binding} ({} {})", role.kind, role.name)
}

/// Every binding, in any namespace, that names the ServiceAccount itself. Bindings of the
/// `system:serviceaccounts*` groups are left out: the platform makes those for every account.
fn bindings_of(bindings: &Bindings, namespace: &str, account: &str) -> Vec<String> {
    let held = |subjects: &Option<Vec<Subject>>| {
        subjects
            .iter()
            .flatten()
            .any(|s| names(s, namespace, account))
    };
    let mut found: Vec<String> = bindings
        .cluster
        .iter()
        .filter(|b| held(&b.subjects))
        .map(|b| describe("clusterrolebinding", &b.name_any(), &b.role_ref))
        .collect();
    found.extend(
        bindings
            .namespaced
            .iter()
            .filter(|b| held(&b.subjects))
            .map(|b| {
                describe(
                    "rolebinding",
                    &format!("{}/{}", b.namespace().unwrap_or_default(), b.name_any()),
                    &b.role_ref,
                )
            }),
    );
    found
}

pub fn row(facts: &Facts) -> Row {
    let id = CheckId::ClusterServiceAccount;
    let Some(deployment) = facts.deployment() else {
        return Row::skip(id, crate::cluster_rows::no_deployment(facts));
    };
    let account = of(deployment);
    let found = match &facts.bindings {
        None => return Row::skip(id, "the bindings were not read"),
        Some(Err(e)) => return crate::cluster_rows::read_failed(id, e),
        Some(Ok(bindings)) => bindings_of(bindings, &facts.namespace, &account),
    };
    if found.is_empty() {
        Row::pass(id).evidence(format!(
            "serviceaccount/{account} is named in no RoleBinding or ClusterRoleBinding"
        ))
    } else {
        Row::fail(id)
            .evidence(format!(
                "serviceaccount/{account} holds {}",
                found.join(", ")
            ))
            .fix(format!(
                "the server needs no role (tool calls use each caller's token): delete the binding \
                 or remove serviceaccount {}:{account} from its subjects",
                facts.namespace
            ))
    }
}
