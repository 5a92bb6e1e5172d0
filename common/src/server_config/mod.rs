//! The kubernetes-mcp-server `config.toml`: a typed model and a linter.
