//! The release contract: what the upstream chart, `oc mcp-install`, `oc mcp-verify` and the
//! test sandbox agree a release of the server is called, labelled and run from. One place, so
//! an install and the checks of it cannot drift apart.

use std::{fmt, ops::Deref, str::FromStr};

use crate::names::{InvalidValue, is_dns1123_label};

pub use crate::defaults::{NAMESPACE, RELEASE, SERVICE_PORT};

/// The chart's name; object names derive from it as the chart's `fullname` helper does, and
/// it names the server's container.
pub const CHART_NAME: &str = "kubernetes-mcp-server";
/// The chart the guide installs, as published by upstream.
pub const DEFAULT_CHART: &str = "oci://ghcr.io/containers/charts/kubernetes-mcp-server";
/// The image tag every test of this project runs against (an unpinned tag is refused).
pub const DEFAULT_IMAGE: &str = "quay.io/containers/kubernetes_mcp_server:v0.0.67";

/// The chart's selector labels: every object of a release carries both.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Who wrote the object: `Helm` for the chart, `oc-mcp` for the manifests engine.
pub use crate::plan::MANAGED_BY_LABEL;
/// The label the chart sets to the server's version.
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// The chart's `fullname`: the release name if it contains the chart name, else both, cut to
/// a DNS label.
pub fn fullname(release: &str) -> String {
    let name = if release.contains(CHART_NAME) {
        release.to_owned()
    } else {
        format!("{release}-{CHART_NAME}")
    };
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The selector labels of a release's objects and pods.
pub fn selector_labels(release: &str) -> std::collections::BTreeMap<String, String> {
    [
        (NAME_LABEL.to_owned(), CHART_NAME.to_owned()),
        (INSTANCE_LABEL.to_owned(), release.to_owned()),
    ]
    .into()
}

/// The same labels as a label selector (`instance=...,name=...`).
pub fn selector(release: &str) -> String {
    format!("{INSTANCE_LABEL}={release},{NAME_LABEL}={CHART_NAME}")
}

/// Longest release name: Helm's limit, which leaves room in the 63 characters of a Service
/// name for the chart's suffixes.
pub const MAX_RELEASE: usize = 53;

const RELEASE_FIX: &str =
    "use at most 53 lower-case letters, digits and '-', starting with a letter";

/// An RFC 1035 label (a DNS-1123 label starting with a letter) of at most 53 characters.
fn is_release_name(text: &str) -> bool {
    text.len() <= MAX_RELEASE
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && is_dns1123_label(text)
}

crate::names::validated_name!(
    /// A Helm release name, which Helm and Kubernetes accept for release and Service names.
    ReleaseName,
    is_release_name,
    "release name",
    RELEASE_FIX
);

impl Default for ReleaseName {
    fn default() -> Self {
        Self(RELEASE.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullname_follows_the_chart_helper() {
        assert_eq!(fullname(RELEASE), "kubernetes-mcp-server");
        assert_eq!(fullname("prod"), "prod-kubernetes-mcp-server");
        assert_eq!(fullname(&"a".repeat(60)).len(), 63);
    }

    #[test]
    fn release_names_are_rfc1035_labels_of_at_most_53() {
        assert_eq!(ReleaseName::default().as_str(), RELEASE);
        assert!("a".repeat(53).parse::<ReleaseName>().is_ok());
        for bad in ["", "Kube", "1abc", "a_b", "abc-", "a.b", &"a".repeat(54)] {
            let err = bad.parse::<ReleaseName>().expect_err(bad);
            assert!(
                err.to_string().contains("is not a valid release name"),
                "{err}"
            );
            assert!(err.to_string().contains("at most 53"), "{err}");
        }
    }

    #[test]
    fn selector_labels_and_selector_agree() {
        let labels = selector_labels("prod");
        let joined: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(joined.join(","), selector("prod"));
    }
}
