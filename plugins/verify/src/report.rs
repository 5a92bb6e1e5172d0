//! The report: one row per check, rendered as a table (with fixes under failures), JSON/YAML
//! with a versioned schema, or JUnit XML; and the exit code it implies.

use std::{fmt::Write as _, io::Write};

use oc_mcp_common::{
    Error, ExitCode, OutputFormat, Result,
    output::{Tabular, render},
};
use serde::Serialize;

use crate::checks::CheckId;

/// The schema version of `-o json|yaml`. Adding fields is compatible; renaming or removing one
/// is a new version.
pub const API_VERSION: &str = "oc-mcp.io/verify/v1";
pub const KIND: &str = "VerifyReport";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Info,
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Info => "info",
            Self::Skip => "skip",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// Why a failed check should change the exit code class (the README's exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailureClass {
    /// An ordinary failed check: exit 1.
    #[default]
    Check,
    /// The token was rejected, or a read was forbidden: exit 3.
    Auth,
    /// The cluster or the endpoint could not be reached: exit 4.
    Unreachable,
}

/// One report row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    /// What was observed: status codes, headers, object names, log lines.
    pub evidence: Vec<String>,
    /// What to change, for `warn` and `fail`; the reason for `skip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "is_default_class")]
    pub failure_class: FailureClass,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_default_class(class: &FailureClass) -> bool {
    *class == FailureClass::Check
}

impl Row {
    pub fn new(id: CheckId, status: Status) -> Self {
        Self {
            id: id.id(),
            title: id.title(),
            status,
            evidence: Vec::new(),
            fix: None,
            failure_class: FailureClass::Check,
        }
    }

    pub fn pass(id: CheckId) -> Self {
        Self::new(id, Status::Pass)
    }
    pub fn info(id: CheckId) -> Self {
        Self::new(id, Status::Info)
    }
    pub fn warn(id: CheckId) -> Self {
        Self::new(id, Status::Warn)
    }
    pub fn fail(id: CheckId) -> Self {
        Self::new(id, Status::Fail)
    }

    /// A check that did not run, and why.
    pub fn skip(id: CheckId, reason: impl Into<String>) -> Self {
        Self::new(id, Status::Skip).fix(reason)
    }

    #[must_use]
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    #[must_use]
    pub fn evidence_lines<I: IntoIterator<Item = S>, S: Into<String>>(mut self, lines: I) -> Self {
        self.evidence.extend(lines.into_iter().map(Into::into));
        self
    }

    #[must_use]
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    #[must_use]
    pub fn class(mut self, class: FailureClass) -> Self {
        self.failure_class = class;
        self
    }
}

/// What was verified.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub release: String,
    /// The MCP endpoint, e.g. `https://host/mcp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How the endpoint was reached: `route`, `url` or `port-forward`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// `openshift`, `entra`, `oidc`, `none`, or absent when it could not be determined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<String>,
    /// Where the token for the endpoint came from (never the token itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_source: Option<String>,
    /// As whom the MCP checks ran: the API server's view of that token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::identity::Identity>,
    /// As whom `passthrough.denied` ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_identity: Option<crate::identity::Identity>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub info: usize,
    pub skip: usize,
    pub warn: usize,
    pub fail: usize,
    /// `pass` or `fail`, after `--strict`.
    pub result: &'static str,
    #[serde(rename = "exitCode")]
    pub exit_code: u8,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub target: Target,
    pub summary: Summary,
    pub checks: Vec<Row>,
    #[serde(skip)]
    pub strict: bool,
}

impl Report {
    pub fn new(target: Target, checks: Vec<Row>, strict: bool) -> Self {
        let mut report = Self {
            api_version: API_VERSION,
            kind: KIND,
            target,
            summary: Summary::default(),
            checks,
            strict,
        };
        report.summarize();
        report
    }

    fn summarize(&mut self) {
        let count = |s: Status| self.checks.iter().filter(|r| r.status == s).count();
        let code = self.exit_code();
        self.summary = Summary {
            pass: count(Status::Pass),
            info: count(Status::Info),
            skip: count(Status::Skip),
            warn: count(Status::Warn),
            fail: count(Status::Fail),
            result: if code == ExitCode::Ok { "pass" } else { "fail" },
            exit_code: code.code(),
        };
    }

    /// 4 when something could not be reached, else 3 when the token was rejected, else 1 when a
    /// check failed (or warned, with `--strict`), else 0.
    pub fn exit_code(&self) -> ExitCode {
        let failed = |class: FailureClass| {
            self.checks
                .iter()
                .any(|r| r.status == Status::Fail && r.failure_class == class)
        };
        if failed(FailureClass::Unreachable) {
            ExitCode::Unreachable
        } else if failed(FailureClass::Auth) {
            ExitCode::Auth
        } else if failed(FailureClass::Check)
            || (self.strict && self.checks.iter().any(|r| r.status == Status::Warn))
        {
            ExitCode::Failed
        } else {
            ExitCode::Ok
        }
    }

    /// Replace every occurrence of a secret in the report's text. The checks never put a
    /// token in a row; this is the second line of defence.
    pub fn redact(&mut self, secrets: &[&str]) {
        let scrub = |text: &mut String| {
            for secret in secrets.iter().filter(|s| s.len() >= 4) {
                if text.contains(*secret) {
                    *text = text.replace(*secret, "<redacted>");
                }
            }
        };
        for row in &mut self.checks {
            row.evidence.iter_mut().for_each(scrub);
            if let Some(fix) = row.fix.as_mut() {
                scrub(fix);
            }
        }
    }

    /// Print in the chosen format.
    pub fn write(&self, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
        match format {
            OutputFormat::Json | OutputFormat::Yaml => render(self, format, out),
            OutputFormat::Table | OutputFormat::Wide => self.write_table(format, out),
        }
    }

    /// One line per check; under a failure or warning, its fix; under a skip, why. `wide`
    /// shows every evidence line instead of the first.
    fn write_table(&self, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
        let wide = format == OutputFormat::Wide;
        let headers = Self::headers(wide);
        let rows = self.rows(wide);
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[&str]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                text.push_str(cell);
                if i + 1 < cells.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count()) + 3;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            text.trim_end().to_owned()
        };
        let indent = widths[0] + widths[1] + 6;
        let mut text = line(&headers);
        text.push('\n');
        for (row, cells) in self.checks.iter().zip(&rows) {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            text.push_str(&line(&cells));
            text.push('\n');
            if wide {
                for extra in row.evidence.iter().skip(1) {
                    text.push_str(&" ".repeat(indent));
                    text.push_str(extra);
                    text.push('\n');
                }
            }
            if let Some(fix) = &row.fix {
                let label = match row.status {
                    Status::Fail | Status::Warn => "fix: ",
                    Status::Skip => "why: ",
                    Status::Pass | Status::Info => "note: ",
                };
                text.push_str(&" ".repeat(indent));
                text.push_str(label);
                text.push_str(fix);
                text.push('\n');
            }
        }
        let s = &self.summary;
        for (whose, identity) in [
            ("the MCP checks", &self.target.identity),
            ("passthrough.denied", &self.target.denied_identity),
        ] {
            if let Some(identity) = identity {
                let _ = write!(
                    text,
                    "\n{whose} ran as {} ({})",
                    identity.describe(),
                    identity.source
                );
            }
        }
        let _ = write!(
            text,
            "\n{} passed, {} warnings, {} failed, {} skipped, {} info: {}\n",
            s.pass,
            s.warn,
            s.fail,
            s.skip,
            s.info,
            match self.exit_code() {
                ExitCode::Ok => "the deployment is verified".to_owned(),
                ExitCode::Unreachable => "something could not be reached (exit 4)".to_owned(),
                ExitCode::Auth => {
                    "the token was rejected or a read was forbidden (exit 3)".to_owned()
                }
                _ if s.fail == 0 => "warnings count as failures with --strict (exit 1)".to_owned(),
                _ => "verification FAILED (exit 1)".to_owned(),
            }
        );
        out.write_all(text.as_bytes())
            .map_err(|e| Error::io("writing output", e))
    }

    /// JUnit XML: one testsuite, one testcase per check (`fail` is a failure, `skip` skipped,
    /// `warn` a failure with `--strict`), evidence in `system-out`.
    pub fn junit(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failures = self
            .checks
            .iter()
            .filter(|r| r.status == Status::Fail || (self.strict && r.status == Status::Warn))
            .count();
        let skipped = self
            .checks
            .iter()
            .filter(|r| r.status == Status::Skip)
            .count();
        let _ = write!(
            xml,
            "<testsuites name=\"oc-mcp-verify\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
             <testsuite name=\"oc-mcp-verify\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
            n = self.checks.len()
        );
        for row in &self.checks {
            let group = row.id.split('.').next().unwrap_or(row.id);
            let _ = writeln!(
                xml,
                "  <testcase classname=\"oc-mcp-verify.{}\" name=\"{} ({})\">",
                xml_escape(group),
                xml_escape(row.id),
                xml_escape(row.title)
            );
            let fix = row.fix.as_deref().unwrap_or("");
            let _ = match row.status {
                Status::Fail => writeln!(
                    xml,
                    "    <failure message=\"{}\" type=\"fail\"/>",
                    xml_escape(fix)
                ),
                Status::Warn if self.strict => writeln!(
                    xml,
                    "    <failure message=\"{}\" type=\"warn\"/>",
                    xml_escape(fix)
                ),
                Status::Skip => writeln!(xml, "    <skipped message=\"{}\"/>", xml_escape(fix)),
                _ => Ok(()),
            };
            let mut out = format!("status: {}\n", row.status.as_str());
            for line in &row.evidence {
                out.push_str(line);
                out.push('\n');
            }
            if !fix.is_empty() && !matches!(row.status, Status::Fail | Status::Skip) {
                let _ = writeln!(out, "note: {fix}");
            }
            let _ = writeln!(
                xml,
                "    <system-out>{}</system-out>\n  </testcase>",
                xml_escape(&out)
            );
        }
        xml.push_str("</testsuite>\n</testsuites>\n");
        xml
    }
}

impl Tabular for Report {
    fn headers(wide: bool) -> Vec<&'static str> {
        if wide {
            vec!["CHECK", "STATUS", "TITLE", "EVIDENCE"]
        } else {
            vec!["CHECK", "STATUS", "EVIDENCE"]
        }
    }

    fn rows(&self, wide: bool) -> Vec<Vec<String>> {
        self.checks
            .iter()
            .map(|r| {
                let evidence = r.evidence.first().cloned().unwrap_or_default();
                let status = r.status.as_str().to_uppercase();
                if wide {
                    vec![r.id.to_owned(), status, r.title.to_owned(), evidence]
                } else {
                    vec![r.id.to_owned(), status, evidence]
                }
            })
            .collect()
    }
}

/// Escape text for XML attributes and element content; drop characters XML 1.0 forbids.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rows: Vec<Row>, strict: bool) -> Report {
        Report::new(Target::default(), rows, strict)
    }

    #[test]
    fn exit_code_classes_follow_the_issue() {
        let pass = Row::pass(CheckId::EndpointHealth);
        let warn = Row::warn(CheckId::RouteServerUrl);
        assert_eq!(
            report(vec![pass.clone(), warn.clone()], false).exit_code(),
            ExitCode::Ok
        );
        assert_eq!(
            report(vec![pass.clone(), warn], true).exit_code(),
            ExitCode::Failed
        );
        let fail = Row::fail(CheckId::UnauthNoToken);
        let auth = Row::fail(CheckId::McpInitialize).class(FailureClass::Auth);
        let down = Row::fail(CheckId::EndpointHealth).class(FailureClass::Unreachable);
        assert_eq!(
            report(vec![fail.clone()], false).exit_code(),
            ExitCode::Failed
        );
        assert_eq!(
            report(vec![fail.clone(), auth.clone()], false).exit_code(),
            ExitCode::Auth
        );
        assert_eq!(
            report(vec![fail, auth, down], false).exit_code(),
            ExitCode::Unreachable
        );
        // A skipped or info row never fails a run.
        let r = report(
            vec![
                pass,
                Row::skip(CheckId::PassthroughDenied, "no token"),
                Row::info(CheckId::DiscoveryProtectedResource),
            ],
            true,
        );
        assert_eq!(r.exit_code(), ExitCode::Ok);
        assert_eq!(r.summary.result, "pass");
        assert_eq!((r.summary.pass, r.summary.skip, r.summary.info), (1, 1, 1));
    }

    #[test]
    fn table_puts_fixes_under_failures() {
        let r = report(
            vec![
                Row::pass(CheckId::EndpointHealth).evidence("GET /healthz: 200"),
                Row::fail(CheckId::UnauthNoToken)
                    .evidence("POST /mcp without a token: 200")
                    .fix("set require_oauth = true"),
            ],
            false,
        );
        let mut out = Vec::new();
        r.write(OutputFormat::Table, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CHECK             STATUS   EVIDENCE");
        assert_eq!(lines[1], "endpoint.health   PASS     GET /healthz: 200");
        assert_eq!(
            lines[2],
            "unauth.no-token   FAIL     POST /mcp without a token: 200"
        );
        assert_eq!(
            lines[3],
            "                           fix: set require_oauth = true"
        );
        assert!(lines[5].contains("verification FAILED (exit 1)"), "{text}");
    }

    #[test]
    fn redaction_removes_secrets_everywhere() {
        let mut r = report(
            vec![
                Row::fail(CheckId::LogsStartup)
                    .evidence("Authorization: Bearer sha256~topsecret")
                    .fix("rotate sha256~topsecret"),
            ],
            false,
        );
        r.redact(&["sha256~topsecret"]);
        let json = serde_json::to_string(&r).expect("json");
        assert!(!json.contains("topsecret"), "{json}");
        assert!(json.contains("<redacted>"));
    }

    #[test]
    fn junit_escapes_and_classifies() {
        let r = report(
            vec![
                Row::fail(CheckId::McpTools)
                    .evidence("write tools: <pods_delete> & \"pods_exec\"")
                    .fix("set read_only = true"),
                Row::skip(CheckId::PassthroughDenied, "no --denied-token"),
                Row::warn(CheckId::RouteServerUrl).fix("set server_url"),
            ],
            true,
        );
        let xml = r.junit();
        assert!(xml.contains("tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("&lt;pods_delete&gt; &amp; &quot;pods_exec&quot;"));
        assert!(xml.contains("<skipped message=\"no --denied-token\"/>"));
        assert!(xml.contains("type=\"warn\""));
        assert!(!xml.contains("<pods_delete>"));
    }
}
