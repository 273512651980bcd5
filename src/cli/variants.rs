//! `dockvar variants [show|diff]`: a scan in, the variant table, one variant's detail, or an
//! instruction-level diff of two variants out.

use std::path::Path;

use anyhow::bail;

use crate::discover::Layout;
use crate::group::word_diff::{self, Word};
use crate::group::{self, DiffLine, Scan, Template, Variant, frame};
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
            if let Some(template) = group::find_template(&result.templates, key) {
                let text = match format {
                    Format::Json => json::to_text(&json::template_detail(template)),
                    _ => template_text(template, &result, printer),
                };
                printer.print(&text)?;
                return Ok(exit_code(&result, scan.strict));
            }
            let variant = find(&result, key)?;
            let text = match format {
                Format::Json => json::to_text(&json::variant_detail(variant)),
                _ => show_text(variant, result.layout, printer),
            };
            printer.print(&text)?;
            Ok(exit_code(&result, scan.strict))
        }
        Some(VariantsAction::Diff { a, b, scan }) => {
            let result = run_scan(scan, printer)?;
            let (va, vb) = (find(&result, a)?, find(&result, b)?);
            printer.print(&diff_text(va, vb, result.layout, printer))?;
            Ok(exit_code(&result, scan.strict))
        }
    }
}

fn find<'a>(scan: &'a Scan, key: &str) -> anyhow::Result<&'a Variant> {
    match group::find_variant(&scan.variants, key) {
        Some(v) => Ok(v),
        None => {
            let what = match scan.layout {
                Layout::Airbyte => "connector",
                Layout::Generic => "Dockerfile",
            };
            bail!(
                "no variant or {what} named `{key}` in {}; `dockvar variants {}` lists them and their templates",
                scan.root,
                scan.root
            )
        }
    }
}

fn list(args: &VariantsArgs, printer: &Printer) -> anyhow::Result<i32> {
    let scan = run_scan(&args.scan, printer)?;
    let text = match args.format {
        Format::Json => json::to_text(&json::variants(&scan)),
        Format::Csv => report::csv::render(&mut frame::variants_frame(&scan.variants)?)?,
        Format::Markdown => {
            let mut text = format!("{}\n\n{}", summary(&scan), markdown::render(&variants_table(&scan)));
            if let Some(t) = templates_table(&scan) {
                text.push_str(&format!("\n{}\n\n{}", templates_summary(&scan), markdown::render(&t)));
            }
            text
        }
        Format::Table => {
            let mut text = format!("{}\n\n", printer.paint(Style::Bold, &summary(&scan)));
            text.push_str(&table::render(&variants_table(&scan), printer.color()));
            if let Some(t) = templates_table(&scan) {
                text.push_str(&format!("\n{}\n\n", printer.paint(Style::Bold, &templates_summary(&scan))));
                text.push_str(&table::render(&t, printer.color()));
            }
            text
        }
    };
    printer.print(&text)?;
    let without = scan.without_dockerfile();
    if !without.is_empty() && scan.layout == Layout::Airbyte {
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
    let mut text = match scan.layout {
        Layout::Airbyte => format!(
            "{} connectors selected, {} Dockerfile variants (normalizer: {})",
            scan.connectors.len(),
            scan.variants.len(),
            scan.normalizer.as_str()
        ),
        Layout::Generic => format!(
            "{} Dockerfiles selected, {} variants in {} templates (normalizer: {})",
            scan.connectors.len(),
            scan.variants.len(),
            scan.templates.len(),
            scan.normalizer.as_str()
        ),
    };
    if without > 0 {
        text.push_str(&format!("; {without} without a Dockerfile"));
    }
    if unhashed > 0 {
        text.push_str(&format!("; {unhashed} with an unreadable Dockerfile"));
    }
    if !scan.problems.is_empty() {
        text.push_str(&format!("; {} problem(s)", scan.problems.len()));
    }
    let noun = match scan.layout {
        Layout::Airbyte => "metadata.yaml",
        Layout::Generic => "Dockerfile",
    };
    let skipped = scan.skipped.describe(noun);
    if !skipped.is_empty() {
        text.push_str(&format!("; skipped: {skipped}"));
    }
    text
}

/// Templates that group more than one variant; the rest are one variant each.
fn shared_templates(scan: &Scan) -> Vec<&Template> {
    scan.templates.iter().filter(|t| t.variants.len() > 1).collect()
}

fn templates_summary(scan: &Scan) -> String {
    let shared = shared_templates(scan);
    let grouped: usize = shared.iter().map(|t| t.variants.len()).sum();
    format!(
        "{} templates; {} group {} variants that differ only in values (`dockvar variants show TEMPLATE`)",
        scan.templates.len(),
        shared.len(),
        grouped
    )
}

/// Most templates shown in the table; the rest are counted.
const TEMPLATE_ROWS: usize = 30;

fn templates_table(scan: &Scan) -> Option<Table> {
    let shared = shared_templates(scan);
    if shared.is_empty() {
        return None;
    }
    let mut t = Table::new(&["TEMPLATE", "COUNT", "VARIANTS", "PARAMETERS"]);
    for tpl in shared.iter().take(TEMPLATE_ROWS) {
        let params: Vec<String> = tpl
            .parameters
            .iter()
            .map(|p| {
                let mut distinct: Vec<&String> = p.values.values().collect();
                distinct.sort();
                distinct.dedup();
                format!("{} {} {} ({} values)", p.name, p.instruction, p.key, distinct.len())
            })
            .collect();
        let params = if params.len() > 4 {
            format!("{}, … ({} in all)", params[..4].join(", "), params.len())
        } else {
            params.join(", ")
        };
        t.push(vec![tpl.id.clone(), tpl.count.to_string(), tpl.variants.len().to_string(), params]);
    }
    if shared.len() > TEMPLATE_ROWS {
        t.push(vec![format!("… {} more", shared.len() - TEMPLATE_ROWS), String::new(), String::new(), String::new()]);
    }
    Some(t)
}

fn template_text(t: &Template, scan: &Scan, printer: &Printer) -> String {
    let mut out = String::new();
    out.push_str(&printer.paint(Style::Bold, &format!("template {}", t.id)));
    let noun = if scan.layout == Layout::Airbyte { "connectors" } else { "Dockerfiles" };
    out.push_str(&format!(" ({} variants, {})\n", t.variants.len(), count_of(t.count, scan.layout)));
    out.push_str("\ntemplate Dockerfile:\n");
    for line in t.text.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\nparameters:\n");
    if t.parameters.is_empty() {
        out.push_str("  (none: one variant)\n");
    }
    let mut table = Table::new(&["PARAMETER", "INSTRUCTION", "LINE", "KEY", "PLACES", "VARIANT", "VALUE"]);
    for p in &t.parameters {
        for (i, variant) in t.variants.iter().enumerate() {
            let value = p.values.get(variant).cloned().unwrap_or_default();
            if i == 0 {
                table.push(vec![
                    p.name.clone(),
                    p.instruction.clone(),
                    p.line.to_string(),
                    p.key.clone(),
                    p.occurrences.to_string(),
                    variant.clone(),
                    value,
                ]);
            } else {
                let blank = String::new;
                table.push(vec![blank(), blank(), blank(), blank(), blank(), variant.clone(), value]);
            }
        }
    }
    if !t.parameters.is_empty() {
        out.push_str(&table::render(&table, printer.color()));
    }
    out.push_str(&format!("\n{noun}:\n"));
    for c in &t.connectors {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

fn variants_table(scan: &Scan) -> Table {
    let mut t = Table::new(&[
        "ID",
        "COUNT",
        "TEMPLATE",
        "BASE IMAGE",
        "STAGES",
        "PKG",
        "PYTHON",
        "FAMILY",
        "NEAREST",
        "EXAMPLE",
    ]);
    for v in &scan.variants {
        t.push(vec![
            v.id.clone(),
            v.count.to_string(),
            v.template.clone(),
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

fn show_text(v: &Variant, layout: Layout, printer: &Printer) -> String {
    let t = &v.traits;
    let airbyte = layout == Layout::Airbyte;
    let noun = if airbyte { "connectors" } else { "Dockerfiles" };
    let mut out = String::new();
    out.push_str(&printer.paint(Style::Bold, &format!("variant {}", v.id)));
    out.push_str(&format!(" ({}, family {}, template {})\n", count_of(v.count, layout), v.family, v.template));
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
    // The generic layout shows only the traits a Dockerfile there has.
    let python_label = if airbyte { "python (from tag)" } else { "python" };
    let rows: Vec<(&str, String, bool)> = vec![
        ("final base image", opt(&t.final_base), true),
        ("stage base images", t.base_images.join(", "), true),
        ("stages", t.stages.to_string(), true),
        ("package manager", t.package_manager.clone(), true),
        (python_label, opt(&t.python_version), airbyte || t.python_version.is_some()),
        ("base pinned by digest", yes_no(t.pins_digest).into(), true),
        ("installs bash", yes_no(t.installs_bash).into(), airbyte || t.installs_bash),
        ("upgrades pip", yes_no(t.upgrades_pip).into(), airbyte || t.upgrades_pip),
        ("sets timezone UTC", yes_no(t.sets_utc).into(), airbyte || t.sets_utc),
        ("caches dependencies", yes_no(t.caches_dependencies).into(), airbyte || t.caches_dependencies),
        ("user", t.user.clone().unwrap_or_else(|| "- (root)".into()), true),
        ("entrypoint", opt(&t.entrypoint), true),
        ("AIRBYTE_ENTRYPOINT", opt(&t.airbyte_entrypoint), airbyte || t.airbyte_entrypoint.is_some()),
        (
            "AIRBYTE_ENTRYPOINT = ENTRYPOINT",
            t.airbyte_entrypoint_matches.map_or("-", yes_no).into(),
            airbyte || t.airbyte_entrypoint.is_some(),
        ),
    ];
    for (k, value, shown) in rows {
        if shown {
            out.push_str(&format!("  {k:<32}{value}\n"));
        }
    }
    if let Some(n) = &v.nearest {
        out.push_str(&format!("\nnearest variant {} (distance {}):\n", n.id, n.distance));
        out.push_str(&render_diff(&n.diff, printer));
    }
    out.push_str(&format!("\n{noun}:\n"));
    for c in &v.connectors {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

fn lines_of(v: &Variant) -> Vec<String> {
    if v.lines.is_empty() { v.canonical.lines().map(str::to_string).collect() } else { v.lines.clone() }
}

/// `1 connector`, `3 Dockerfiles`: a count with the layout's noun.
fn count_of(n: usize, layout: Layout) -> String {
    let noun = if layout == Layout::Airbyte { "connector" } else { "Dockerfile" };
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn diff_text(a: &Variant, b: &Variant, layout: Layout, printer: &Printer) -> String {
    let (la, lb) = (lines_of(a), lines_of(b));
    let diff = group::family::diff_lines(&la, &lb);
    let mut out = String::new();
    out.push_str(
        &printer
            .paint(Style::Red, &format!("--- {} ({}, e.g. {})", a.id, count_of(a.count, layout), a.example.connector)),
    );
    out.push('\n');
    out.push_str(
        &printer.paint(
            Style::Green,
            &format!("+++ {} ({}, e.g. {})", b.id, count_of(b.count, layout), b.example.connector),
        ),
    );
    out.push('\n');
    out.push_str(&render_diff(&diff, printer));
    let distance = group::family::edit_distance(&la, &lb);
    let family = if a.family == b.family { ", same family (same instructions, other order)" } else { "" };
    let family = if a.template == b.template && a.id != b.id {
        format!("{family}, same template {} (they differ only in values)", a.template)
    } else {
        family.to_string()
    };
    out.push_str(&format!("distance: {distance} instruction(s){family}\n"));
    out
}

fn render_diff(diff: &[DiffLine], printer: &Printer) -> String {
    let mut out = String::new();
    let mut k = 0;
    while k < diff.len() {
        // A long line replaced by another: show the words that differ.
        if let (DiffLine::Removed(a), Some(DiffLine::Added(b))) = (&diff[k], diff.get(k + 1))
            && (a.len() > word_diff::LONG_LINE || b.len() > word_diff::LONG_LINE)
            && !a.contains('\n')
            && !b.contains('\n')
            && let Some(words) = word_diff::word_diff(a, b)
        {
            let text =
                word_diff::render(&words, &|w| printer.paint(Style::Red, w), &|w| printer.paint(Style::Green, w));
            let changed = words.iter().filter(|w| !matches!(w, Word::Same(_))).count();
            out.push_str(&format!("~ {text}\n"));
            out.push_str(&format!("  ({changed} word(s) differ in this instruction)\n"));
            k += 2;
            continue;
        }
        let (mark, text, style) = match &diff[k] {
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
        k += 1;
    }
    out
}
