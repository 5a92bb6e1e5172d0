//! Image matching, back-off and path rewriting.

use super::*;

#[test]
fn images_and_globs() {
    assert_eq!(
        repository("quay.io/containers/kubernetes_mcp_server:v0.0.67"),
        "quay.io/containers/kubernetes_mcp_server"
    );
    assert_eq!(
        repository("localhost:5000/x@sha256:abc"),
        "localhost:5000/x"
    );
    assert_eq!(repository("localhost:5000/x"), "localhost:5000/x");
    assert!(glob(
        "*/openshift-mcp-server*",
        "registry.redhat.io/openshift-mcp-tech-preview/openshift-mcp-server-rhel9"
    ));
    assert!(!glob(
        "*/openshift-mcp-server*",
        "docker.io/library/busybox"
    ));
    assert!(glob("a*c", "abc") && !glob("a*c", "abd"));
    assert_eq!(backoff(Duration::from_secs(10), 1), Duration::ZERO);
    assert_eq!(backoff(Duration::from_secs(10), 2), Duration::from_secs(10));
    assert_eq!(backoff(Duration::from_secs(10), 4), Duration::from_secs(40));
    assert_eq!(backoff(Duration::from_secs(10), 30), MAX_BACKOFF);
    let mounts = vec![
        (
            "/etc/mcp-ca".to_string(),
            PathBuf::from("/tmp/x/volumes/ca"),
        ),
        ("/tmp".to_string(), PathBuf::from("/tmp/x/volumes/tmp")),
    ];
    assert_eq!(
        rewrite_paths(
            "certificate_authority = \"/etc/mcp-ca/ca.crt\"\nlog = \"/tmp\"\nx = \"/var/tmp/a\"",
            &mounts
        ),
        "certificate_authority = \"/tmp/x/volumes/ca/ca.crt\"\nlog = \"/tmp/x/volumes/tmp\"\nx = \"/var/tmp/a\""
    );
}
