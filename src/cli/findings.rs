//! `Finding`s in, the lines people read out: one per failed check, with its fix.

use crate::check::{Finding, Severity};

use super::Printer;
use super::printer::Style;

/// Paths are shown joined to `root`, so that they can be opened from where dockvar ran.
pub fn findings_text(findings: &[Finding], root: &std::path::Path, printer: &Printer) -> String {
    let mut out = String::new();
    for f in findings {
        let style = match f.severity {
            Severity::Error => Style::Red,
            Severity::Warning => Style::Yellow,
            Severity::Note => Style::Dim,
        };
        let head = printer.paint(style, &format!("{}[{}]", f.severity.as_str(), f.check_id));
        let location = match &f.location {
            Some(l) if l.line > 0 => format!("{}:{}: ", root.join(&l.path).display(), l.line),
            Some(l) => format!("{}: ", root.join(&l.path).display()),
            None => String::new(),
        };
        out.push_str(&format!("{head} {}: {location}{}\n    fix: {}\n", f.subject, f.message, f.fix));
    }
    out
}

/// Counts by severity, e.g. `2 errors, 1 warning`.
pub fn findings_summary(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    format!(
        "{}, {}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note")
    )
}
