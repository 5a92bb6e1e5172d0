//! Property tests of the names oc mcp-oauth accepts: `--release` (it becomes part of the Route
//! host, so a DNS label) and `--secret-name` / `--name` (object names, DNS subdomains). A bad
//! name is refused before any request, as a usage error (exit 2) that names the flag.

use clap::Parser;
use oc_mcp_common::names::{is_dns1123_label, is_dns1123_subdomain};
use oc_mcp_oauth::names::{DeploymentArgs, validate_dns_label, validate_object_name};
use proptest::prelude::*;

/// The shared flags as a command parses them (clap checks them before any request).
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    deployment: DeploymentArgs,
}

fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,70}",
        "[a-zA-Z0-9._ :-]{0,20}",
        "[a-z0-9]{60,70}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn deployment_names_are_checked_before_any_request(
        release in name_like(),
        secret_name in name_like(),
    ) {
        let expected = is_dns1123_label(&release) && is_dns1123_subdomain(&secret_name);
        let parsed = Flags::try_parse_from([
            "mcp-oauth".to_owned(),
            format!("--release={release}"),
            format!("--secret-name={secret_name}"),
        ]);
        match parsed {
            Ok(flags) => {
                prop_assert!(expected);
                prop_assert_eq!(flags.deployment.release.as_str(), release.as_str());
                prop_assert_eq!(flags.deployment.secret_name.as_str(), secret_name.as_str());
            }
            Err(e) => {
                prop_assert!(!expected, "{e}");
                prop_assert_eq!(e.exit_code(), 2);
                let text = e.to_string();
                prop_assert!(
                    text.contains("for '--release <NAME>'")
                        || text.contains("for '--secret-name <NAME>'"),
                    "{}", text
                );
            }
        }
    }

    #[test]
    fn oauth_object_names_and_labels_follow_kubernetes(name in name_like()) {
        prop_assert_eq!(validate_object_name(&name, "--name").is_ok(), is_dns1123_subdomain(&name));
        prop_assert_eq!(validate_dns_label(&name, "--release").is_ok(), is_dns1123_label(&name));
    }
}
