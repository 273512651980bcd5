//! `ScanArgs` in, a `Scan` out: discover → select → fingerprint (in parallel) → group, with
//! every problem collected and warned about on stderr.

use anyhow::Context;
use rayon::prelude::*;

use crate::discover::{self, Connector, Layout, Selection};
use crate::dockerfile::semantic::SemanticOptions;
use crate::dockerfile::{NameContext, fingerprint};
use crate::group::{self, Problem, Scan, ScannedConnector};

use super::Printer;
use super::args::ScanArgs;

/// Discovery and selection without reading Dockerfiles: for commands that only need
/// metadata.
pub struct Selected {
    /// Every discovered connector, selected or not (empty unless asked for).
    pub all: Vec<Connector>,
    pub selected: Vec<Connector>,
    pub layout: Layout,
    pub problems: Vec<Problem>,
    /// What discovery left out, by reason.
    pub skipped: discover::Skipped,
}

/// `keep_all`: also return every discovered connector (costs a copy of their metadata).
pub fn select(args: &ScanArgs, keep_all: bool, printer: &Printer) -> anyhow::Result<Selected> {
    let discovery = discover::discover(&args.root, args.layout, &args.walk_options())
        .with_context(|| format!("cannot scan {}", args.root.display()))?;
    let problems: Vec<Problem> = discovery
        .errors
        .iter()
        .map(|e| Problem {
            connector: e.connector().map(str::to_string),
            path: e.path().to_string(),
            line: e.line(),
            message: e.message().to_string(),
        })
        .collect();

    let selection = args.filters.selection();
    warn_about_empty_filters(&selection, &discovery.connectors, printer)?;
    let (all, connectors) = if keep_all {
        (discovery.connectors.clone(), discovery.connectors)
    } else {
        (Vec::new(), discovery.connectors)
    };
    let selected = selection.apply(connectors).context("invalid filter")?;
    warn_query_errors(&selected.query_errors, printer);
    if !selection.is_empty() && selected.connectors.is_empty() {
        printer.warn("no connector matches the filters; nothing is selected");
    }
    Ok(Selected { all, selected: selected.connectors, layout: discovery.layout, problems, skipped: discovery.skipped })
}

/// Says, per exception class, on how many connectors the query raised (which airbyte-ci
/// silently counts as no match), with an example and a hint; `-v` lists every connector.
fn warn_query_errors(errors: &[(String, crate::discover::query::EvalError)], printer: &Printer) {
    use crate::discover::query::{NOT_LOADED, UNSUPPORTED};
    let mut kinds: Vec<(&str, Vec<&(String, crate::discover::query::EvalError)>)> = Vec::new();
    for e in errors {
        match kinds.iter_mut().find(|(k, _)| *k == e.1.kind) {
            Some((_, list)) => list.push(e),
            None => kinds.push((e.1.kind, vec![e])),
        }
    }
    kinds.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    for (kind, list) in &kinds {
        let (name, first) = list[0];
        let hint = match *kind {
            "AttributeDoesNotExist" | "KeyError" => {
                let key = first.message.split('\'').nth(1).unwrap_or("key");
                format!(": for a key some connectors lack, use data.get('{key}')")
            }
            k if k == UNSUPPORTED => ": dockvar does not evaluate this, so airbyte-ci may select differently".into(),
            k if k == NOT_LOADED => ": see the metadata warnings".into(),
            _ => String::new(),
        };
        let what = if *kind == NOT_LOADED { "could not be evaluated" } else { "raised" };
        printer.warn(&format!(
            "--query {what} {} on {} connector(s), counted as no match as airbyte-ci does (e.g. {name}: {}){hint}",
            if *kind == NOT_LOADED { "(metadata.yaml not loaded)" } else { kind },
            list.len(),
            first
        ));
        for (name, e) in list {
            printer.detail(&format!("  {name}: {e}"));
        }
    }
}

/// Prints problems as warnings, sorted and without duplicates.
pub fn warn_problems(root: &std::path::Path, problems: &mut Vec<Problem>, printer: &Printer) {
    problems.sort();
    problems.dedup();
    for p in problems.iter() {
        printer.warn(&format_problem(root, p));
    }
}

pub fn run_scan(args: &ScanArgs, printer: &Printer) -> anyhow::Result<Scan> {
    let Selected { selected, layout, mut problems, skipped, .. } = select(args, false, printer)?;
    let options = SemanticOptions::with_extra_labels(&args.ignore_labels);
    let root = &args.root;
    let real_root = crate::files::real_root(root);
    let normalizer = args.normalizer;
    let scanned: Vec<ScannedConnector> = selected
        .into_par_iter()
        .map(|connector| {
            let fingerprint = connector.dockerfile.as_ref().map(|rel| {
                let names = match layout {
                    Layout::Airbyte => NameContext::technical(&connector.name),
                    Layout::Generic => NameContext::default(),
                };
                fingerprint(&root.join(rel), &real_root, rel, &names, normalizer, &options)
            });
            ScannedConnector { connector, fingerprint }
        })
        .collect();
    for s in &scanned {
        let Some(fp) = s.fingerprint.as_ref() else { continue };
        let path = s.connector.dockerfile.clone().unwrap_or_default();
        if let Some(e) = &fp.error {
            problems.push(Problem {
                connector: Some(s.connector.name.clone()),
                path: path.clone(),
                line: e.line(),
                message: e.message(),
            });
        }
        for (line, message) in &fp.warnings {
            problems.push(Problem {
                connector: Some(s.connector.name.clone()),
                path: path.clone(),
                line: *line,
                message: message.clone(),
            });
        }
    }
    warn_problems(&args.root, &mut problems, printer);
    let (variants, templates) = group::group(&scanned)?;
    Ok(Scan {
        root: args.root.display().to_string(),
        layout,
        normalizer,
        connectors: scanned,
        variants,
        templates,
        problems,
        skipped,
    })
}

/// `path:line: message`, the path relative to the working directory so it can be opened.
pub fn format_problem(root: &std::path::Path, p: &Problem) -> String {
    let path = root.join(&p.path);
    let path = path.display();
    if p.line > 0 { format!("{path}:{}: {}", p.line, p.message) } else { format!("{path}: {}", p.message) }
}

/// Says which filter matched nothing, since an empty result is otherwise a puzzle.
fn warn_about_empty_filters(selection: &Selection, all: &[Connector], printer: &Printer) -> anyhow::Result<()> {
    let alone = |s: Selection, label: String| -> anyhow::Result<()> {
        if s.count(all).context("invalid filter")? == 0 {
            printer.warn(&format!("{label} matches no connector"));
        }
        Ok(())
    };
    for l in &selection.languages {
        alone(Selection { languages: vec![*l], ..Default::default() }, format!("--language {}", l.as_str()))?;
    }
    for s in &selection.support_levels {
        alone(Selection { support_levels: vec![s.clone()], ..Default::default() }, format!("--support-level {s}"))?;
    }
    for t in &selection.types {
        alone(Selection { types: vec![t.clone()], ..Default::default() }, format!("--type {t}"))?;
    }
    for n in &selection.names {
        alone(Selection { names: vec![n.clone()], ..Default::default() }, format!("--name {n}"))?;
    }
    for b in &selection.base_images {
        alone(Selection { base_images: vec![b.clone()], ..Default::default() }, format!("--base-image {b}"))?;
    }
    if let Some(m) = selection.migrated {
        let flag = if m { "--migrated" } else { "--not-migrated" };
        alone(Selection { migrated: Some(m), ..Default::default() }, flag.to_string())?;
    }
    Ok(())
}

/// Exit code for a finished scan.
pub fn exit_code(scan: &Scan, strict: bool) -> i32 {
    if strict && !scan.problems.is_empty() { super::EXIT_PROBLEMS } else { super::EXIT_OK }
}
