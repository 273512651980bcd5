//! `dockvar migration`: connectors in, their migration status, a summary per support level
//! and language, base image version counts and (with `--check`) the failed migration checks
//! out.

use anyhow::Context;
use serde_json::json;

use crate::check::git::Revision;
use crate::check::migration::{self, MigrationRow};
use crate::check::{Finding, Severity};
use crate::report::{self, Format, SCHEMA_VERSION, Table, json, markdown, table};

use super::Printer;
use super::args::MigrationArgs;
use super::findings::{findings_summary, findings_text};
use super::printer::Style;
use super::scan::{select, warn_problems};

pub fn run(args: &MigrationArgs, printer: &Printer) -> anyhow::Result<i32> {
    let mut selected = select(&args.scan, true, printer)?;
    warn_problems(&args.scan.root, &mut selected.problems, printer);
    let latest = migration::latest_versions(&selected.all, &args.latest);
    let rows = migration::rows(&selected.selected, &latest);
    let summary = migration::summary(&rows);
    let versions = migration::version_counts(&rows);
    let findings: Vec<Finding> = if args.check {
        let rev =
            args.against.as_deref().map(|rev| Revision::open(&args.scan.root, rev)).transpose().context("--against")?;
        migration::check(&args.scan.root, &selected.selected, &rows, &latest, rev.as_ref()).context("--against")?
    } else {
        Vec::new()
    };
    let text = match args.format {
        Format::Json => json::to_text(&json!({
            "schema_version": SCHEMA_VERSION,
            "root": args.scan.root.display().to_string(),
            "latest": latest,
            "connectors": rows,
            "summary": summary,
            "base_image_versions": versions,
            "findings": findings,
            "errors": json::problems(&selected.problems),
        })),
        Format::Csv => report::csv::render_table(&rows_table(&rows))?,
        Format::Markdown => {
            let mut text = markdown::render(&rows_table(&rows));
            text.push('\n');
            text.push_str(&markdown::render(&summary_table(&summary)));
            text.push('\n');
            text.push_str(&markdown::render(&versions_table(&versions)));
            text
        }
        Format::Table => {
            let mut text = table::render(&rows_table(&rows), printer.color());
            text.push('\n');
            for s in &summary {
                text.push_str(&format!("{} {}: {} of {} migrated\n", s.support_level, s.language, s.migrated, s.total));
            }
            if !versions.is_empty() {
                text.push('\n');
                for v in &versions {
                    text.push_str(&format!("{}:{}  {} connector(s)\n", v.base_image, v.version, v.connectors));
                }
            }
            if args.check {
                text.push('\n');
                text.push_str(&findings_text(&findings, &args.scan.root, printer));
                text.push_str(
                    &printer.paint(Style::Bold, &format!("migration check: {}", findings_summary(&findings))),
                );
                text.push('\n');
            }
            text
        }
    };
    printer.print(&text)?;
    let failed = findings.iter().any(|f| f.severity == Severity::Error);
    let strict = args.scan.strict && !selected.problems.is_empty();
    Ok(if failed || strict { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}

fn rows_table(rows: &[MigrationRow]) -> Table {
    let mut t = Table::new(&["NAME", "SUPPORT", "LANGUAGE", "STATUS", "BASE IMAGE", "VERSION", "PINNED", "LATEST"]);
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    for r in rows {
        t.push(vec![
            r.connector.clone(),
            r.support_level.clone().unwrap_or_else(|| "-".into()),
            r.language.clone(),
            r.status.as_str().into(),
            r.base_image.clone().unwrap_or_else(|| "-".into()),
            r.version.clone().unwrap_or_else(|| "-".into()),
            if r.base_image.is_some() { yes_no(r.pinned) } else { "-".into() },
            r.latest.map_or("-".into(), yes_no),
        ]);
    }
    t
}

fn summary_table(summary: &[migration::SummaryRow]) -> Table {
    let mut t = Table::new(&["SUPPORT", "LANGUAGE", "MIGRATED", "TOTAL"]);
    for s in summary {
        t.push(vec![s.support_level.clone(), s.language.clone(), s.migrated.to_string(), s.total.to_string()]);
    }
    t
}

fn versions_table(versions: &[migration::VersionCount]) -> Table {
    let mut t = Table::new(&["BASE IMAGE", "VERSION", "CONNECTORS"]);
    for v in versions {
        t.push(vec![v.base_image.clone(), v.version.clone(), v.connectors.to_string()]);
    }
    t
}
