//! `dockvar check [ROOT] [IMAGE...]`: connectors' Dockerfiles and images in, the failed
//! contract checks out (table, JSON or SARIF), exit 1 at or above `--fail-on`.

use serde_json::json;

use crate::check::contract::{self, ContractOptions};
use crate::check::{Finding, Location, Severity, sort_findings};
use crate::discover::select::split_image;
use crate::dockerfile::read_dockerfile;
use crate::group::Problem;
use crate::report::{SCHEMA_VERSION, json, sarif};

use super::Printer;
use super::args::{CheckArgs, CheckFormat};
use super::findings::{findings_summary, findings_text};
use super::inspect::inspect_all;
use super::printer::Style;
use super::scan::{select, warn_problems};

pub fn run(args: &CheckArgs, printer: &Printer) -> anyhow::Result<i32> {
    let options = ContractOptions { require_airbyte_user: args.require_airbyte_user };
    let mut selected = select(&args.scan, true, printer)?;
    let mut findings: Vec<Finding> = Vec::new();
    let mut images_unchecked = 0;
    let real_root = crate::files::real_root(&args.scan.root);
    if !args.images_only {
        for c in &selected.selected {
            match &c.dockerfile {
                Some(path) => match read_dockerfile(&args.scan.root.join(path), Some(&real_root), path) {
                    Ok((_, df)) => findings.extend(contract::check_dockerfile(c, path, &df, options)),
                    Err(e) => selected.problems.push(Problem {
                        connector: Some(c.name.clone()),
                        path: path.clone(),
                        line: e.line(),
                        message: format!("not checked: {}", e.message()),
                    }),
                },
                // A migrated connector's base image is in its metadata.
                None => {
                    if let Some(image) = c.base_image.as_deref().filter(|b| !b.contains("@sha256:")) {
                        findings.push(Finding {
                            check_id: contract::BASE_PINNED,
                            severity: Severity::Warning,
                            subject: c.name.clone(),
                            location: c.metadata_path.clone().map(|path| Location { path, line: 0 }),
                            message: format!("baseImage `{image}` is not pinned by digest"),
                            fix: format!("pin it: {}@sha256:<digest>", split_image(image).0),
                        });
                    }
                }
            }
        }
    }
    if !args.images.is_empty() {
        let inspect_options = args.image.inspect_options()?;
        for result in inspect_all(&args.images, &inspect_options, printer) {
            match (&result.facts, &result.error) {
                (Some(facts), None) => {
                    let connector = contract::connector_for(&result.reference, facts, &selected.all);
                    findings.extend(contract::check_image(&result.reference, facts, connector, options));
                }
                (_, error) => {
                    images_unchecked += 1;
                    selected.problems.push(Problem {
                        connector: None,
                        path: result.reference.clone(),
                        line: 0,
                        message: format!("not checked: {}", error.as_deref().unwrap_or("no facts")),
                    })
                }
            }
        }
    }
    sort_findings(&mut findings);
    warn_problems(&args.scan.root, &mut selected.problems, printer);
    let rules: Vec<_> = contract::RULES.to_vec();
    let text = match args.format {
        CheckFormat::Sarif => json::to_text(&sarif::render(&findings, &rules, &args.scan.root.display().to_string())),
        CheckFormat::Json => json::to_text(&json!({
            "schema_version": SCHEMA_VERSION,
            "root": args.scan.root.display().to_string(),
            "rules": rules,
            "findings": findings,
            "errors": json::problems(&selected.problems),
        })),
        CheckFormat::Table => {
            let mut text = findings_text(&findings, &args.scan.root, printer);
            let checked = if args.images_only { 0 } else { selected.selected.len() };
            text.push_str(&printer.paint(
                Style::Bold,
                &format!(
                    "checked {checked} connector(s) and {} image(s): {}",
                    args.images.len(),
                    findings_summary(&findings)
                ),
            ));
            text.push('\n');
            text
        }
    };
    printer.print(&text)?;
    let failed = findings.iter().any(|f| f.severity >= args.fail_on);
    // An image that could not be read was not checked: that must not pass as success.
    let unchecked = images_unchecked > 0 || (args.scan.strict && !selected.problems.is_empty());
    Ok(if failed || unchecked { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}
