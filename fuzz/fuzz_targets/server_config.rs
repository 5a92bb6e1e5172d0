//! config.toml parser and linter, with drop-ins.
//!
//! Input: the main file's text; each line `#--- NAME` starts a drop-in named NAME (so a real
//! config.toml is a seed as it is).
//! Invariants: reading and linting never panic; a parsed config re-rendered by
//! `to_toml_string` parses again to the same rendering; a drop-in identical to the main file
//! changes nothing; no finding repeats the value of a secret-looking key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oc_mcp_common::server_config::{
    ConfigText, LintContext, ParsedConfig, ServerVersion, has_errors,
};

fn files(text: &str) -> (ConfigText, Vec<ConfigText>) {
    let mut parts = text.split("\n#--- ");
    let main = ConfigText::new("config.toml", parts.next().unwrap_or_default());
    let drop_ins = parts
        .map(|part| {
            let (name, body) = part.split_once('\n').unwrap_or((part, ""));
            ConfigText::new(name.trim(), body)
        })
        .collect();
    (main, drop_ins)
}

/// String values under keys that name a secret (the linter's own notion is private; this is
/// the plain reading of it), long enough not to occur in a message by chance.
fn secret_values(table: &toml::Table, out: &mut Vec<String>) {
    for (key, value) in table {
        let key = key.to_ascii_lowercase();
        match value {
            toml::Value::String(text)
                if text.len() >= 12
                    && !key.ends_with("_file")
                    && !key.ends_with("_path")
                    && key != "token_exchange_strategy"
                    && ["secret", "password", "private_key", "api_key"]
                        .iter()
                        .any(|k| key.contains(k)) =>
            {
                out.push(text.clone());
            }
            toml::Value::Table(inner) => secret_values(inner, out),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (main, drop_ins) = files(text);
    let Ok(parsed) = ParsedConfig::parse_files(&main, &drop_ins) else {
        return;
    };
    let contexts = [
        LintContext::new(ServerVersion::TESTED)
            .in_configmap()
            .internal(),
        LintContext::new(ServerVersion::Latest)
            .in_configmap()
            .public_route("mcp.apps.example.com"),
        LintContext::new(ServerVersion::release(0, 0, 50)),
    ];
    let mut secrets = Vec::new();
    secret_values(&parsed.merged, &mut secrets);
    for context in &contexts {
        let findings = parsed.lint(context);
        assert_eq!(has_errors(&findings), findings.iter().any(|f| f.is_error()));
        for finding in &findings {
            let shown = finding.to_string();
            for secret in &secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "a finding repeats a secret value: {shown}"
                );
            }
        }
    }

    // The typed model renders to TOML that reads back to the same model.
    let rendered = parsed.config.to_toml_string();
    let reparsed = ParsedConfig::parse(&rendered)
        .unwrap_or_else(|e| panic!("rendered config does not parse: {e}\n{rendered}"));
    assert_eq!(
        reparsed.config.to_toml_string(),
        rendered,
        "render -> parse -> render changed the config"
    );

    // Merging a file over itself is a no-op (tables merge key by key, values replace).
    let twice =
        ParsedConfig::parse_files(&main, &[ConfigText::new("00-same.toml", main.text.clone())])
            .expect("the main file parsed once, so it parses as a drop-in");
    assert_eq!(twice.merged, parsed.layers[0].table);
});
