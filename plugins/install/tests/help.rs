//! `--help` of every command, as users see it under kubectl: a change shows up in review.

#[test]
fn help_pages_match_snapshots() {
    for (command, help) in
        oc_mcp_common::cli::help_pages::<oc_mcp_install::Cli>("kubectl mcp-install")
    {
        insta::assert_snapshot!(command.replace(' ', "_"), help, &command);
    }
}
