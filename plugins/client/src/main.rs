fn main() -> std::process::ExitCode {
    oc_mcp_common::cli::run::<oc_mcp_client::Cli>()
}
