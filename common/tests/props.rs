//! Property tests of two things every plugin relies on:
//!
//! - name checks (`common::names`): a name passes exactly when it is a DNS-1123 subdomain or
//!   label as the API server defines it (checked against an independent reading of the
//!   grammar), and a refusal is a usage error (exit 2) naming the flag;
//! - plan rendering (`Plan::render`, `--dry-run=client -o yaml|json`): whatever the strings in
//!   the objects (YAML keywords, numbers, `#`, `: `, newlines, Unicode), both renderings read
//!   back to exactly the planned objects, each with the managed-by label.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{ConfigMap, ServiceAccount},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use oc_mcp_common::{
    OutputFormat, Plan, PlannedObject,
    names::{is_dns1123_label, is_dns1123_subdomain, validate_dns_label, validate_object_name},
    plan::{MANAGED_BY_LABEL, MANAGED_BY_VALUE},
};
use proptest::prelude::*;

/// The grammar as the Kubernetes docs write it, read character by character.
fn reference_label(label: &str) -> bool {
    let chars: Vec<char> = label.chars().collect();
    let inner_ok = |c: &char| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-';
    let edge_ok = |c: &char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !chars.is_empty()
        && chars.first().is_some_and(edge_ok)
        && chars.last().is_some_and(edge_ok)
        && chars.iter().all(inner_ok)
}

fn reference_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(reference_label)
}

/// Strings near the grammar: its alphabet plus the usual mistakes.
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,70}",
        "[a-zA-Z0-9._ /-]{0,20}",
        "[a-z0-9]{60,70}",
        prop::collection::vec("[a-z0-9]{50,63}", 4..6).prop_map(|l| l.join(".")),
        any::<String>(),
    ]
}

/// Words and shapes YAML reads as booleans, nulls, numbers, lists, maps or comments.
const YAML_LOOKALIKES: [&str; 19] = [
    "yes",
    "no",
    "true",
    "null",
    "~",
    "0x1F",
    "1e3",
    "010",
    ".inf",
    "- item",
    "key: value",
    "# comment",
    "---",
    "",
    " leading and trailing ",
    "line one\nline two\n",
    "[a, b]",
    "{a: b}",
    "'quoted' \"twice\"",
];

/// Text that YAML would read as something else if it were written unquoted.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        19 => prop::sample::select(&YAML_LOOKALIKES[..]).prop_map(str::to_owned),
        1 => "\\PC{0,40}",
        1 => any::<String>(),
    ]
}

fn dns_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?"
}

fn object() -> impl Strategy<Value = PlannedObject> {
    (
        dns_name(),
        dns_name(),
        prop::collection::btree_map("[a-z0-9./_-]{1,30}", tricky_text(), 0..6),
        prop::collection::btree_map("[a-z]{1,10}", tricky_text(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(name, namespace, data, annotations, config_map)| {
            let metadata = ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                annotations: (!annotations.is_empty()).then_some(annotations),
                ..ObjectMeta::default()
            };
            if config_map {
                PlannedObject::from_typed(&ConfigMap {
                    metadata,
                    data: Some(data),
                    ..ConfigMap::default()
                })
            } else {
                PlannedObject::from_typed(&ServiceAccount {
                    metadata,
                    automount_service_account_token: Some(data.is_empty()),
                    ..ServiceAccount::default()
                })
            }
            .expect("typed objects encode")
        })
}

/// Multi-document YAML split at its `---` lines (a `---` inside an indented block scalar is
/// text, not a separator).
fn split_documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs
}

fn labels(value: &serde_json::Value) -> BTreeMap<String, String> {
    serde_json::from_value(value["metadata"]["labels"].clone()).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn object_names_are_exactly_dns_subdomains(name in name_like()) {
        prop_assert_eq!(is_dns1123_subdomain(&name), reference_subdomain(&name), "{:?}", name);
        match validate_object_name(&name, "--name") {
            Ok(()) => prop_assert!(reference_subdomain(&name)),
            Err(e) => {
                prop_assert_eq!(e.exit_code().code(), 2);
                prop_assert!(e.to_string().starts_with("--name "), "{}", e);
            }
        }
    }

    #[test]
    fn dns_labels_are_exactly_one_short_label(name in name_like()) {
        let expected = name.len() <= 63 && reference_label(&name);
        prop_assert_eq!(is_dns1123_label(&name), expected, "{:?}", name);
        prop_assert_eq!(validate_dns_label(&name, "namespace").is_ok(), expected);
        // Every label is also a valid object name.
        if expected {
            prop_assert!(is_dns1123_subdomain(&name));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_plans_read_back_to_the_planned_objects(
        objects in prop::collection::vec(object(), 1..5),
    ) {
        let mut plan = Plan::new();
        for object in &objects {
            plan.push(object.clone());
        }
        let planned: Vec<serde_json::Value> = objects
            .iter()
            .map(|o| serde_json::to_value(&o.object).expect("JSON"))
            .collect();
        for object in &planned {
            let labels = labels(object);
            prop_assert_eq!(
                labels.get(MANAGED_BY_LABEL).map(String::as_str),
                Some(MANAGED_BY_VALUE)
            );
        }

        let json = plan.render(OutputFormat::Json).expect("JSON renders");
        let list: serde_json::Value = serde_json::from_str(&json).expect("JSON parses");
        prop_assert_eq!(&list["kind"], "List");
        prop_assert_eq!(list["items"].as_array().expect("items"), &planned);

        let yaml = plan.render(OutputFormat::Yaml).expect("YAML renders");
        let docs: Vec<serde_json::Value> = split_documents(&yaml)
            .iter()
            .map(|doc| serde_saphyr::from_str(doc))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(docs, planned, "{}", yaml);
    }
}
