//! Output flags and rendering: tables for people, JSON and YAML for machines.
//!
//! stdout carries only the result; everything else (logs, progress, warnings) goes to stderr.

use std::io::Write;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned columns for people
    #[default]
    Table,
    /// Table with extra columns
    Wide,
    /// One JSON document
    Json,
    /// One YAML document
    Yaml,
}

impl OutputFormat {
    pub fn is_machine(self) -> bool {
        matches!(self, Self::Json | Self::Yaml)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DryRun {
    /// Change the cluster
    #[default]
    None,
    /// Print what would be sent; contact the cluster only to read
    Client,
    /// Send every change with dryRun=All: the API server validates, nothing is stored
    Server,
}

/// The run mode, asked one way everywhere: what a command may do follows from these, never
/// from comparing the flag's value again.
impl DryRun {
    /// Changes are stored (no `--dry-run`).
    pub fn writes(self) -> bool {
        self == Self::None
    }

    /// Changes are sent to the API server, for real or with `dryRun=All`; so the caller's
    /// permissions are checked first (the preflight).
    pub fn sends(self) -> bool {
        self != Self::Client
    }

    /// Changes are only printed (`--dry-run=client`).
    pub fn prints_only(self) -> bool {
        self == Self::Client
    }

    /// Changes are sent with `dryRun=All` (`--dry-run=server`).
    pub fn server_side(self) -> bool {
        self == Self::Server
    }

    /// Another run must be kept out while this one writes (the install Lease).
    pub fn locks(self) -> bool {
        self.writes()
    }

    /// How a plan is applied in this mode; `--dry-run=client` never reaches an apply.
    pub fn apply_mode(self) -> crate::plan::ApplyMode {
        if self.server_side() {
            crate::plan::ApplyMode::ServerDryRun
        } else {
            crate::plan::ApplyMode::Apply
        }
    }
}

/// Output flags shared by every plugin. Explicit display orders keep them and [`ChangeArgs`]
/// first under "Output", in one order, before any plugin flag that lands under that heading.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Table, display_order = 1)]
    pub output: OutputFormat,

    /// More detail on stderr; repeat for more (-v info, -vv debug, -vvv trace). RUST_LOG overrides
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count, display_order = 3)]
    pub verbose: u8,
}

/// The run-mode flags, only for plugins that change something: a read-only plugin does not
/// accept them, so `--dry-run` there is a usage error rather than a flag that does nothing.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct ChangeArgs {
    /// Only show what would change: `client` prints it, `server` asks the API server to validate it
    #[arg(
        long = "dry-run",
        global = true,
        value_enum,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = DryRun::None,
        default_missing_value = "client",
        display_order = 2
    )]
    pub dry_run: DryRun,

    /// Answer yes to every confirmation (required to change things when stdin is not a terminal)
    #[arg(short = 'y', long, global = true, display_order = 4)]
    pub yes: bool,
}

/// Whether to colour output on the given stream: only on a terminal and never with `NO_COLOR`.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Something that can be shown as a table.
pub trait Tabular {
    /// Column headers; `wide` adds columns.
    fn headers(wide: bool) -> Vec<&'static str>;
    /// One row per item, in header order.
    fn rows(&self, wide: bool) -> Vec<Vec<String>>;
}

/// Render a value in the chosen format to a writer.
pub fn render<T: Serialize + Tabular>(
    value: &T,
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| Error::failed(format!("cannot encode output as JSON: {e}")))?;
            writeln!(out, "{text}").map_err(|e| Error::io("writing output", e))
        }
        OutputFormat::Yaml => {
            let text = to_yaml(value)?;
            out.write_all(text.as_bytes())
                .map_err(|e| Error::io("writing output", e))
        }
        OutputFormat::Table | OutputFormat::Wide => {
            let wide = format == OutputFormat::Wide;
            write_table(out, &T::headers(wide), &value.rows(wide))
        }
    }
}

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String> {
    serde_saphyr::to_string(value)
        .map_err(|e| Error::failed(format!("cannot encode output as YAML: {e}")))
}

/// kubectl-style table: upper-case headers, columns separated by three spaces.
pub fn write_table(out: &mut dyn Write, headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            text.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 3;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.trim_end().to_owned()
    };
    let mut text = line(headers.to_vec());
    text.push('\n');
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
        text.push('\n');
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("writing output", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rows(Vec<(String, String)>);

    impl Tabular for Rows {
        fn headers(wide: bool) -> Vec<&'static str> {
            if wide {
                vec!["NAME", "VALUE", "EXTRA"]
            } else {
                vec!["NAME", "VALUE"]
            }
        }
        fn rows(&self, wide: bool) -> Vec<Vec<String>> {
            self.0
                .iter()
                .map(|(a, b)| {
                    let mut row = vec![a.clone(), b.clone()];
                    if wide {
                        row.push("x".into());
                    }
                    row
                })
                .collect()
        }
    }

    fn rendered(format: OutputFormat) -> String {
        let rows = Rows(vec![
            ("alpha".into(), "1".into()),
            ("be".into(), "22".into()),
        ]);
        let mut out = Vec::new();
        render(&rows, format, &mut out).expect("render");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn tables_align_like_kubectl() {
        assert_eq!(
            rendered(OutputFormat::Table),
            "NAME    VALUE\nalpha   1\nbe      22\n"
        );
        assert_eq!(
            rendered(OutputFormat::Wide),
            "NAME    VALUE   EXTRA\nalpha   1       x\nbe      22      x\n"
        );
    }

    #[test]
    fn machine_formats_are_parseable() {
        let json: serde_json::Value =
            serde_json::from_str(&rendered(OutputFormat::Json)).expect("json");
        assert_eq!(json[0][0], "alpha");
        let yaml = rendered(OutputFormat::Yaml);
        let back: Vec<(String, String)> = serde_saphyr::from_str(&yaml).expect("yaml");
        assert_eq!(back[1].1, "22");
    }

    #[test]
    fn no_color_disables_color() {
        assert!(!use_color(false));
    }
}
