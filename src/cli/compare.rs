//! `dockvar envdiff` and `dockvar packages`: images in (inspected concurrently), the
//! notebook's env tables or the packages beyond the base image out.

use anyhow::bail;
use serde_json::json;

use crate::compare::{self, EnvDiff, PackageDiff};
use crate::inspect::ImageFacts;
use crate::report::{self, Format, SCHEMA_VERSION, Table, json, markdown, table};

use super::Printer;
use super::args::CompareArgs;
use super::inspect::inspect_all;
use super::printer::Style;

/// The inspected images (those that failed are warned about and left out) and the base.
struct Inspected {
    images: Vec<(String, ImageFacts)>,
    base: Option<(String, ImageFacts)>,
    failed: usize,
}

fn inspect_images(args: &CompareArgs, printer: &Printer) -> anyhow::Result<Inspected> {
    let options = args.image.inspect_options()?;
    let mut references = args.images.clone();
    references.extend(args.base.iter().cloned());
    let mut results = inspect_all(&references, &options, printer);
    let base = match args.base {
        Some(_) => results.pop(),
        None => None,
    };
    let mut failed = 0;
    let mut images = Vec::new();
    for r in results {
        match (r.facts, r.error) {
            (Some(f), None) => images.push((r.reference, f)),
            (_, e) => {
                failed += 1;
                printer.warn(e.as_deref().unwrap_or("no facts"));
            }
        }
    }
    let base = match base {
        Some(r) => match (r.facts, r.error) {
            (Some(f), None) => Some((r.reference, f)),
            (_, e) => bail!("cannot read the base image: {}", e.unwrap_or_default()),
        },
        None => None,
    };
    if images.is_empty() {
        bail!("no image could be read");
    }
    Ok(Inspected { images, base, failed })
}

pub fn envdiff(args: &CompareArgs, printer: &Printer) -> anyhow::Result<i32> {
    let inspected = inspect_images(args, printer)?;
    let envs: Vec<(String, Vec<(String, String)>)> =
        inspected.images.iter().map(|(l, f)| (l.clone(), f.env.clone())).collect();
    let base: Vec<Vec<(String, String)>> = inspected.base.iter().map(|(_, f)| f.env.clone()).collect();
    let diff = compare::env_diff(&envs, &base);
    let text = match args.format {
        Format::Json => json::to_text(&env_json(&diff)),
        Format::Csv => report::csv::render_table(&env_long_table(&diff))?,
        Format::Markdown => markdown::env_tables(&diff)
            .iter()
            .map(|(title, t)| format!("### {title}\n\n{}", markdown::render(t)))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Table => markdown::env_tables(&diff)
            .iter()
            .map(|(title, t)| format!("{}\n{}", printer.paint(Style::Bold, title), table::render(t, printer.color())))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    printer.print(&text)?;
    let differs = args.fail_on_difference && diff.has_differences();
    Ok(if differs || inspected.failed > 0 { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}

/// The documented JSON: `same`, `different` (values by image) and `partial` (images).
pub fn env_json(diff: &EnvDiff) -> serde_json::Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "images": diff.images,
        "same": diff.same,
        "different": diff.different.iter().map(|d| json!({"name": d.name, "values": d.values})).collect::<Vec<_>>(),
        "partial": diff.partial.iter().map(|p| json!({"name": p.name, "images": p.images, "values": p.values})).collect::<Vec<_>>(),
    })
}

fn env_long_table(diff: &EnvDiff) -> Table {
    let mut t = Table::new(&["name", "kind", "image", "value"]);
    for v in &diff.same {
        t.push(vec![v.name.clone(), "same".into(), String::new(), v.value.clone()]);
    }
    for v in &diff.different {
        for (image, value) in &v.values {
            t.push(vec![v.name.clone(), "different".into(), image.clone(), value.clone()]);
        }
    }
    for v in &diff.partial {
        for (image, value) in &v.values {
            t.push(vec![v.name.clone(), "partial".into(), image.clone(), value.clone()]);
        }
    }
    t
}

pub fn packages(args: &CompareArgs, printer: &Printer) -> anyhow::Result<i32> {
    let inspected = inspect_images(args, printer)?;
    let base = inspected.base.as_ref().map(|(l, f)| (l.clone(), f));
    let rows: Vec<compare::Compared> = inspected
        .images
        .iter()
        .map(|(l, f)| compare::Compared { label: l.clone(), facts: f, base: base.clone() })
        .collect();
    let diff = compare::package_diff(&rows);
    let text = match args.format {
        Format::Json => json::to_text(&json!({
            "schema_version": SCHEMA_VERSION,
            "images": diff.images,
            "union": diff.union,
            "python": diff.python,
            "pip": diff.pip,
        })),
        Format::Csv => report::csv::render_table(&packages_long_table(&diff))?,
        Format::Markdown => packages_tables(&diff)
            .iter()
            .map(|(title, t)| format!("### {title}\n\n{}", markdown::render(t)))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Table => packages_tables(&diff)
            .iter()
            .map(|(title, t)| format!("{}\n{}", printer.paint(Style::Bold, title), table::render(t, printer.color())))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    printer.print(&text)?;
    let differs = args.fail_on_difference && diff.images.iter().any(|i| !i.added.is_empty() || !i.changed.is_empty());
    Ok(if differs || inspected.failed > 0 { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}

pub fn packages_tables(diff: &PackageDiff) -> Vec<(String, Table)> {
    let mut images = Table::new(&["IMAGE", "MANAGER", "PACKAGES", "BASE", "ADDED", "CHANGED"]);
    for i in &diff.images {
        images.push(vec![
            i.image.clone(),
            i.manager.clone(),
            i.total.to_string(),
            i.base.clone().unwrap_or_else(|| "-".into()),
            if i.base.is_some() { i.added.len().to_string() } else { "-".into() },
            if i.base.is_some() { i.changed.len().to_string() } else { "-".into() },
        ]);
    }
    let mut union = Table::new(&["PACKAGE", "ARCH", "IMAGES NEEDING IT", "WHICH"]);
    for u in &diff.union {
        union.push(vec![u.name.clone(), u.architecture.clone(), u.count.to_string(), u.images.join(", ")]);
    }
    let mut changed = Table::new(&["IMAGE", "PACKAGE", "BASE VERSION", "VERSION"]);
    for i in &diff.images {
        for c in &i.changed {
            changed.push(vec![i.image.clone(), c.name.clone(), c.base_version.clone(), c.version.clone()]);
        }
    }
    let versions = |groups: &[compare::VersionGroup]| {
        let mut t = Table::new(&["VERSION", "IMAGES"]);
        for g in groups {
            t.push(vec![g.version.clone(), g.images.join(", ")]);
        }
        t
    };
    vec![
        ("Images".to_string(), images),
        (format!("Packages beyond the base image ({})", diff.union.len()), union),
        ("Versions that differ from the base image".to_string(), changed),
        ("Python versions".to_string(), versions(&diff.python)),
        ("pip versions".to_string(), versions(&diff.pip)),
    ]
}

fn packages_long_table(diff: &PackageDiff) -> Table {
    let mut t = Table::new(&["image", "package", "architecture", "version", "base_version", "status"]);
    for i in &diff.images {
        for p in &i.added {
            t.push(vec![
                i.image.clone(),
                p.name.clone(),
                p.architecture.clone(),
                p.version.clone(),
                String::new(),
                "added".into(),
            ]);
        }
        for c in &i.changed {
            t.push(vec![
                i.image.clone(),
                c.name.clone(),
                c.architecture.clone(),
                c.version.clone(),
                c.base_version.clone(),
                "changed".into(),
            ]);
        }
    }
    t
}
