//! `dockvar inspect IMAGE...`: image references in, their facts out (table or JSON), read
//! concurrently with a progress bar per image.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::inspect::{self, ImageFacts, InspectOptions, Inspection, Step};
use crate::report::escape::escape_value;
use crate::report::{Format, SCHEMA_VERSION, json};

use super::Printer;
use super::args::InspectArgs;
use super::printer::Style;

pub fn run(args: &InspectArgs, printer: &Printer) -> anyhow::Result<i32> {
    let options = args.image.inspect_options()?;
    let results = inspect_all(&args.images, &options, printer);
    for r in &results {
        if let Some(e) = &r.error {
            printer.warn(e);
        }
    }
    let text = match args.format {
        Format::Json => json::to_text(&json!({
            "schema_version": SCHEMA_VERSION,
            "images": results.iter().map(inspection_json).collect::<Vec<_>>(),
        })),
        _ => results.iter().map(|r| inspection_text(r, printer)).collect::<Vec<_>>().join("\n"),
    };
    printer.print(&text)?;
    Ok(if results.iter().any(|r| r.error.is_some()) { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}

/// Inspects images concurrently, in input order, with one progress bar each.
pub fn inspect_all(images: &[String], options: &InspectOptions, printer: &Printer) -> Vec<Inspection> {
    let bars = printer.progress();
    let style =
        ProgressStyle::with_template("{spinner} {prefix} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    images
        .par_iter()
        .map(|image| {
            let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(image.clone()));
            bar.enable_steady_tick(Duration::from_millis(120));
            let report = |step: Step| {
                bar.set_message(match step {
                    Step::Config => "reading config",
                    Step::Layers => "reading layers",
                    Step::Facts => "reading facts",
                })
            };
            let result = inspect::inspect(image, options, &report);
            bar.finish_and_clear();
            result
        })
        .collect()
}

fn inspection_json(r: &Inspection) -> serde_json::Value {
    let mut value = match &r.facts {
        Some(f) => facts_json(f),
        None => json!({ "reference": r.reference }),
    };
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("error".into(), json!(r.error));
    }
    value
}

/// The documented JSON shape: the fields the issue names first, then the rest.
pub fn facts_json(f: &ImageFacts) -> serde_json::Value {
    json!({
        "reference": f.reference,
        "source": f.source,
        "digest": f.digest,
        "image_id": f.image_id,
        "repo_tags": f.repo_tags,
        "created": f.created,
        "os": f.os,
        "architecture": f.architecture,
        "variant": f.variant,
        "platforms": f.platforms,
        "env": f.env,
        "entrypoint": f.entrypoint,
        "cmd": f.cmd,
        "user": f.user,
        "workdir": f.workdir,
        "labels": f.labels,
        "exposed_ports": f.exposed_ports,
        "python": f.python,
        "python_interpreters": f.python_interpreters,
        "python_site_dirs": f.python_site_dirs,
        "pip": f.pip,
        "packages": f.packages,
        "python_packages": f.python_packages,
        "python_packages_shadowed": f.python_packages_shadowed,
        "timezone": f.timezone,
        "airbyte_dir": f.airbyte_dir,
        "layers": f.layers,
        "history": f.history,
        "warnings": f.warnings,
    })
}

fn inspection_text(r: &Inspection, printer: &Printer) -> String {
    let mut out = printer.paint(Style::Bold, &r.reference);
    let Some(f) = &r.facts else {
        out.push_str(&format!("\n  error  {}\n", escape_value(r.error.as_deref().unwrap_or("unknown"))));
        return out;
    };
    out.push_str(&format!(" ({})\n", f.source));
    let dash = |o: Option<&str>| o.unwrap_or("-").to_string();
    let os = match (&f.os.pretty_name, &f.os.release) {
        (Some(p), Some(r)) => format!("{p} [{r}]"),
        (Some(p), None) => p.clone(),
        (None, Some(r)) => format!("{} {r}", f.os.id.as_deref().unwrap_or("?")),
        (None, None) => "-".into(),
    };
    let gid = f.user.gid.map(|g| format!(", gid {g}")).unwrap_or_default();
    let user = match (&f.user.name, f.user.uid) {
        (Some(n), Some(u)) => format!("{n} (uid {u}{gid}{})", if f.user.root { ", root" } else { "" }),
        (None, Some(u)) => format!("uid {u}{gid}{}", if f.user.root { " (root)" } else { "" }),
        _ if f.user.spec.is_empty() => "root (no USER)".into(),
        _ => format!("{} (not in /etc/passwd)", f.user.spec),
    };
    let sourced = |s: &Option<inspect::read::SourcedValue>| match s {
        Some(v) => format!("{} ({})", v.version, v.source),
        None => "-".into(),
    };
    let link = f.airbyte_dir.target.as_ref().map(|t| format!("symlink to {t}, ")).unwrap_or_default();
    let airbyte = if f.airbyte_dir.exists {
        format!(
            "{link}owner {}, mode {}, {}",
            f.airbyte_dir.owner.clone().or(f.airbyte_dir.owner_uid.map(|u| u.to_string())).unwrap_or_default(),
            f.airbyte_dir.mode.as_deref().unwrap_or("?"),
            if f.airbyte_dir.writable_by_airbyte { "writable by airbyte" } else { "not writable by airbyte" }
        )
    } else {
        format!("{link}missing")
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("image id", f.image_id.clone()),
        ("digest", dash(f.digest.as_deref())),
        ("os", os),
        ("architecture", dash(f.architecture.as_deref())),
        ("platforms", if f.platforms.is_empty() { "-".into() } else { f.platforms.join(", ") }),
        ("user", user),
        ("entrypoint", f.entrypoint.as_ref().map_or("-".into(), |e| e.join(" "))),
        ("cmd", f.cmd.as_ref().map_or("-".into(), |e| e.join(" "))),
        ("workdir", dash(f.workdir.as_deref())),
        ("python", sourced(&f.python)),
        (
            "interpreters",
            if f.python_interpreters.is_empty() {
                "-".into()
            } else {
                f.python_interpreters
                    .iter()
                    .map(|i| {
                        let version = i.version.as_deref().unwrap_or("?");
                        let chosen = if i.selected { ", on PATH first" } else { "" };
                        format!("{} -> {} ({version}{chosen})", i.path, i.real_path)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        ("pip", sourced(&f.pip)),
        ("packages", format!("{} ({})", f.packages.items.len(), f.packages.manager)),
        (
            "python packages",
            match f.python_packages_shadowed.len() {
                0 => f.python_packages.len().to_string(),
                n => format!("{} ({n} shadowed)", f.python_packages.len()),
            },
        ),
        ("timezone", sourced(&f.timezone)),
        ("/airbyte", airbyte),
        ("layers", f.layers.len().to_string()),
    ];
    rows.push(("env", format!("{} variables", f.env.len())));
    // Every value below comes from the image: escaped so that none forges a line.
    for (k, v) in rows {
        out.push_str(&format!("  {k:<16} {}\n", escape_value(&v)));
    }
    for (k, v) in &f.env {
        out.push_str(&format!("    {}={}\n", escape_value(k), escape_value(v)));
    }
    for w in &f.warnings {
        out.push_str(&format!("  {} {}\n", printer.paint(Style::Yellow, "warning"), escape_value(&w.to_string())));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("  {} {}\n", printer.paint(Style::Red, "error"), escape_value(e)));
    }
    out
}
