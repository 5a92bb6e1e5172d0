//! `docs/cmd/*.md`, run as they read: every `$ kubectl mcp-...` line through the real kubectl,
//! which finds the plugins on `PATH` as a user's kubectl does, with no cluster. A change to a
//! flag, a help text or an offline command's output shows up in review in those documents.
//! (`TRYCMD=overwrite` rewrites them from what the commands print.)

use oc_mcp_e2e::{built_binaries_dir, kubectl, workspace_root};

#[test]
fn the_command_documents_hold() {
    let kubectl = kubectl();
    let path = std::env::join_paths([built_binaries_dir(), "/usr/bin".into(), "/bin".into()])
        .expect("PATH");
    let home = tempfile::tempdir().expect("home");
    trycmd::TestCases::new()
        .register_bin("kubectl", &kubectl)
        .env("PATH", path.to_string_lossy())
        .env("HOME", home.path().to_string_lossy())
        // What a shell sets for the command it runs; the plugins name themselves after it.
        .env("_", kubectl.to_string_lossy())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("NO_COLOR", "1")
        .case(workspace_root().join("docs/cmd/*.md"));
}
