//! `dockvar report`, `dockvar recommend` and `dockvar check-image`: the analysis in, the report
//! files, the recommendation, or the images' failed checks out.

use anyhow::Context;
use serde_json::json;

use crate::recommend::{Checks, check_facts};
use crate::report::{self, Format, SCHEMA_VERSION, json, markdown};

use super::Printer;
use super::analysis::analyze;
use super::args::{CheckImageArgs, RecommendArgs, ReportArgs};
use super::inspect::inspect_all;
use super::printer::Style;

pub fn report(args: &ReportArgs, printer: &Printer) -> anyhow::Result<i32> {
    let out = &args.out;
    report::make_out_dir(out)?;
    let analysis = analyze(&args.analysis, printer)?;
    let writing = std::time::Instant::now();
    let doc = json::report(&analysis);
    report::write_text(&json::to_text(&doc), &out.join("report.json"))?;
    report::write_text(&markdown::report(&analysis), &out.join("report.md"))?;
    report::write_text(&report::html::render(&doc), &out.join("report.html"))?;
    report::parquet::write_report(&analysis, out)?;
    printer.detail(&format!("write report files: {} ms", writing.elapsed().as_millis()));
    let failed = analysis.images.iter().filter(|i| i.error().is_some()).count();
    printer.print(&format!(
        "wrote {} (report.md, report.html, report.json, 5 parquet tables): {} connectors, {} variants, {} images inspected, {} failed\n",
        out.display(),
        analysis.scan.connectors.len(),
        analysis.scan.variants.len(),
        analysis.images.len() - failed,
        failed
    ))?;
    Ok(if args.analysis.scan.strict && !analysis.scan.problems.is_empty() {
        super::EXIT_PROBLEMS
    } else {
        super::EXIT_OK
    })
}

pub fn recommend(args: &RecommendArgs, printer: &Printer) -> anyhow::Result<i32> {
    if let Some(out) = &args.out {
        report::make_out_dir(out)?;
    }
    let analysis = analyze(&args.analysis, printer)?;
    let r = &analysis.recommendation;
    if let Some(out) = &args.out {
        report::write_text(&r.dockerfile, &out.join("Dockerfile"))?;
        report::write_text(&r.checks_yaml, &out.join("checks.yaml"))?;
        report::write_text(&r.reasoning, &out.join("recommendation.md"))?;
        printer.note(&format!("wrote Dockerfile, checks.yaml and recommendation.md to {}", out.display()));
    }
    let text = match args.format {
        Format::Json => json::to_text(&json!({ "schema_version": SCHEMA_VERSION, "recommendation": r })),
        _ => r.reasoning.clone(),
    };
    printer.print(&text)?;
    Ok(super::EXIT_OK)
}

pub fn check_image(args: &CheckImageArgs, printer: &Printer) -> anyhow::Result<i32> {
    let text =
        std::fs::read_to_string(&args.checks).with_context(|| format!("cannot read {}", args.checks.display()))?;
    let checks =
        Checks::from_yaml(&text).with_context(|| format!("{}: not a dockvar checks file", args.checks.display()))?;
    let options = args.image.inspect_options()?;
    let mut out = String::new();
    let mut failed = 0;
    for result in inspect_all(&args.images, &options, printer) {
        match (&result.facts, &result.error) {
            (Some(facts), None) => {
                let failures = check_facts(facts, &checks);
                if failures.is_empty() {
                    out.push_str(&format!("{}: {}\n", result.reference, printer.paint(Style::Green, "ok")));
                } else {
                    failed += 1;
                }
                for f in failures {
                    out.push_str(&format!(
                        "{}: {}: {}\n",
                        result.reference,
                        printer.paint(Style::Red, &f.check),
                        f.message
                    ));
                }
            }
            (_, error) => {
                failed += 1;
                out.push_str(&format!(
                    "{}: {}: {}\n",
                    result.reference,
                    printer.paint(Style::Red, "inspect"),
                    error.as_deref().unwrap_or("no facts")
                ));
            }
        }
    }
    printer.print(&out)?;
    Ok(if failed > 0 { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}
