//! `dockvar variants [show|diff]`: a scan in, the variant table, one variant's detail, or an
//! instruction-level diff of two variants out.

use std::path::Path;

use anyhow::bail;

use crate::group::{self, DiffLine, Scan, Variant, frame};
use crate::report::{self, Format, Table, json, markdown, table};

use super::Printer;
use super::args::{VariantsAction, VariantsArgs};
use super::printer::Style;
use super::scan::{exit_code, run_scan};

pub fn run(args: &VariantsArgs, printer: &Printer) -> anyhow::Result<i32> {
    match &args.action {
        None => list(args, printer),
        Some(VariantsAction::Show { key, scan, format }) => {
            let result = run_scan(scan, printer)?;
            let variant = find(&result, key)?;
            let text = match format {
                Format::Json => json::to_text(&json::variant_detail(variant)),
                _ => show_text(variant, printer),
            };
            printer.print(&text)?;
            Ok(exit_code(&result, scan.strict))
        }
        Some(VariantsAction::Diff { a, b, scan }) => {
            let result = run_scan(scan, printer)?;
            let (va, vb) = (find(&result, a)?, find(&result, b)?);
            printer.print(&diff_text(va, vb, printer))?;
            Ok(exit_code(&result, scan.strict))
        }
    }
}

fn find<'a>(scan: &'a Scan, key: &str) -> anyhow::Result<&'a Variant> {
    match group::find_variant(&scan.variants, key) {
        Some(v) => Ok(v),
        None => {
            bail!("no variant or connector named `{key}` in {}; `dockvar variants {}` lists them", scan.root, scan.root)
        }
    }
}

fn list(args: &VariantsArgs, printer: &Printer) -> anyhow::Result<i32> {
    let scan = run_scan(&args.scan, printer)?;
    let text = match args.format {
        Format::Json => json::to_text(&json::variants(&scan)),
        Format::Csv => report::csv::render(&mut frame::variants_frame(&scan.variants)?)?,
        Format::Markdown => format!("{}\n\n{}", summary(&scan), markdown::render(&variants_table(&scan))),
        Format::Table => {
            let mut text = format!("{}\n\n", printer.paint(Style::Bold, &summary(&scan)));
            text.push_str(&table::render(&variants_table(&scan), printer.color()));
            text
        }
    };
    printer.print(&text)?;
    let without = scan.without_dockerfile();
    if !without.is_empty() {
        printer.note(&format!("{} selected connector(s) have no Dockerfile: {}", without.len(), without.join(", ")));
    }
    if let Some(path) = &args.output {
        write_output(path, &mut frame::variants_frame(&scan.variants)?, &json::to_text(&json::variants(&scan)))?;
        printer.note(&format!("wrote {} variants to {}", scan.variants.len(), path.display()));
    }
    Ok(exit_code(&scan, args.scan.strict))
}

/// Writes a table to a file chosen by extension.
pub fn write_output(path: &Path, frame: &mut polars::prelude::DataFrame, json_text: &str) -> anyhow::Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => report::parquet::write(frame, path)?,
        Some("csv") => report::write_text(&report::csv::render(frame)?, path)?,
        Some("json") => report::write_text(json_text, path)?,
        _ => return Err(report::ReportError::UnknownExtension { path: path.display().to_string() }.into()),
    }
    Ok(())
}

fn summary(scan: &Scan) -> String {
    let hashed: usize = scan.variants.iter().map(|v| v.count).sum();
    let without = scan.without_dockerfile().len();
    let unhashed = scan.connectors.len() - hashed - without;
    let mut text = format!(
        "{} connectors selected, {} Dockerfile variants (normalizer: {})",
        scan.connectors.len(),
        scan.variants.len(),
        scan.normalizer.as_str()
    );
    if without > 0 {
        text.push_str(&format!("; {without} without a Dockerfile"));
    }
    if unhashed > 0 {
        text.push_str(&format!("; {unhashed} with an unreadable Dockerfile"));
    }
    if !scan.problems.is_empty() {
        text.push_str(&format!("; {} problem(s)", scan.problems.len()));
    }
    text
}

fn variants_table(scan: &Scan) -> Table {
    let mut t = Table::new(&["ID", "COUNT", "BASE IMAGE", "STAGES", "PKG", "PYTHON", "FAMILY", "NEAREST", "EXAMPLE"]);
    for v in &scan.variants {
        t.push(vec![
            v.id.clone(),
            v.count.to_string(),
            v.traits.final_base.clone().unwrap_or_else(|| "-".into()),
            v.traits.stages.to_string(),
            v.traits.package_manager.clone(),
            v.traits.python_version.clone().unwrap_or_else(|| "-".into()),
            v.family.clone(),
            v.nearest.as_ref().map_or_else(|| "-".into(), |n| format!("{} ({})", n.id, n.distance)),
            v.example.connector.clone(),
        ]);
    }
    t
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn show_text(v: &Variant, printer: &Printer) -> String {
    let t = &v.traits;
    let mut out = String::new();
    out.push_str(&printer.paint(Style::Bold, &format!("variant {}", v.id)));
    out.push_str(&format!(" ({} connectors, family {})\n", v.count, v.family));
    out.push_str(&format!("hash     {}\n", v.hash));
    out.push_str(&format!(
        "example  {}  {}  {}\n",
        v.example.connector,
        v.example.dockerfile.as_deref().unwrap_or("-"),
        v.example.image.as_deref().unwrap_or("-")
    ));
    out.push_str("\ncanonical Dockerfile:\n");
    for line in v.canonical.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\ntraits:\n");
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<(&str, String)> = vec![
        ("final base image", opt(&t.final_base)),
        ("stage base images", t.base_images.join(", ")),
        ("stages", t.stages.to_string()),
        ("package manager", t.package_manager.clone()),
        ("python (from tag)", opt(&t.python_version)),
        ("base pinned by digest", yes_no(t.pins_digest).into()),
        ("installs bash", yes_no(t.installs_bash).into()),
        ("upgrades pip", yes_no(t.upgrades_pip).into()),
        ("sets timezone UTC", yes_no(t.sets_utc).into()),
        ("caches dependencies", yes_no(t.caches_dependencies).into()),
        ("user", t.user.clone().unwrap_or_else(|| "- (root)".into())),
        ("entrypoint", opt(&t.entrypoint)),
        ("AIRBYTE_ENTRYPOINT", opt(&t.airbyte_entrypoint)),
        ("AIRBYTE_ENTRYPOINT = ENTRYPOINT", t.airbyte_entrypoint_matches.map_or("-", yes_no).into()),
    ];
    for (k, value) in rows {
        out.push_str(&format!("  {k:<32}{value}\n"));
    }
    if let Some(n) = &v.nearest {
        out.push_str(&format!("\nnearest variant {} (distance {}):\n", n.id, n.distance));
        out.push_str(&render_diff(&n.diff, printer));
    }
    out.push_str("\nconnectors:\n");
    for c in &v.connectors {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

fn lines_of(v: &Variant) -> Vec<String> {
    if v.lines.is_empty() { v.canonical.lines().map(str::to_string).collect() } else { v.lines.clone() }
}

fn diff_text(a: &Variant, b: &Variant, printer: &Printer) -> String {
    let (la, lb) = (lines_of(a), lines_of(b));
    let diff = group::family::diff_lines(&la, &lb);
    let mut out = String::new();
    out.push_str(
        &printer.paint(Style::Red, &format!("--- {} ({} connectors, e.g. {})", a.id, a.count, a.example.connector)),
    );
    out.push('\n');
    out.push_str(
        &printer.paint(Style::Green, &format!("+++ {} ({} connectors, e.g. {})", b.id, b.count, b.example.connector)),
    );
    out.push('\n');
    out.push_str(&render_diff(&diff, printer));
    let distance = group::family::edit_distance(&la, &lb);
    let family = if a.family == b.family { ", same family (same instructions, other order)" } else { "" };
    out.push_str(&format!("distance: {distance} instruction(s){family}\n"));
    out
}

fn render_diff(diff: &[DiffLine], printer: &Printer) -> String {
    let mut out = String::new();
    for line in diff {
        let (mark, text, style) = match line {
            DiffLine::Same(t) => (' ', t, None),
            DiffLine::Removed(t) => ('-', t, Some(Style::Red)),
            DiffLine::Added(t) => ('+', t, Some(Style::Green)),
        };
        for (i, l) in text.lines().enumerate() {
            let m = if i == 0 { mark } else { ' ' };
            let rendered = format!("{m} {l}");
            match style {
                Some(s) => out.push_str(&printer.paint(s, &rendered)),
                None => out.push_str(&rendered),
            }
            out.push('\n');
        }
    }
    out
}
