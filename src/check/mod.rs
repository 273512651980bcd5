//! Connectors (and, for the image contract, image facts) in, `Finding`s out: the seed's
//! definition of a successful migration and the connector image contract, each check with a
//! stable ID, a severity, a location and a one-line fix.

pub mod contract;
pub mod git;
pub mod migration;

use serde::Serialize;

/// How bad a failed check is; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Where a finding points: a file and line, or an image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Relative to the scanned root (files) or the image reference (images).
    pub path: String,
    /// 1-based; 0 when the finding is about the whole file or image.
    pub line: usize,
}

/// One failed (or noteworthy) check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Stable ID, e.g. `contract/airbyte-entrypoint`.
    pub check_id: &'static str,
    pub severity: Severity,
    /// The connector or image the finding is about.
    pub subject: String,
    pub location: Option<Location>,
    pub message: String,
    /// One line saying how to fix it.
    pub fix: String,
}

/// A check's ID, what it verifies and its default severity; what SARIF calls a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
}

/// Sorts findings by subject, location, check, so that output is deterministic.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.subject
            .cmp(&b.subject)
            .then_with(|| a.location.cmp(&b.location))
            .then_with(|| a.check_id.cmp(b.check_id))
            .then_with(|| a.message.cmp(&b.message))
    });
}
