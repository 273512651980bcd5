//! `AnalysisArgs` in, an `Analysis` out: scan → one representative image per variant (its
//! example connector's `dockerRepository:dockerImageTag`, or the `--images` map) → inspect
//! concurrently → compare → recommend. Shared by `recommend` and `report`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use crate::compare::{self, Compared};
use crate::group::describe::describe_differences;
use crate::inspect::{ImageRef, InspectOptions, Inspection};
use crate::recommend::{self, Evidence};
use crate::report::{Analysis, VariantImage};

use super::Printer;
use super::args::{AnalysisArgs, ScanArgs};
use super::inspect::inspect_all;
use super::scan::run_scan;

/// Reads a `connector=image` map: `#` comments and blank lines are skipped.
pub fn read_map(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, image)) = line.split_once('=') else {
            bail!("{}:{}: expected `connector=image`, found `{line}`", path.display(), n + 1);
        };
        let (key, image) = (key.trim(), image.trim());
        if key.is_empty() || image.is_empty() {
            bail!("{}:{}: expected `connector=image`, found `{line}`", path.display(), n + 1);
        }
        map.insert(key.to_string(), image.to_string());
    }
    Ok(map)
}

/// The filters, in words, for the report's first line.
pub fn describe_selection(scan: &ScanArgs) -> String {
    let f = &scan.filters;
    let mut parts = Vec::new();
    if !f.language.is_empty() {
        parts.push(format!("language {}", f.language.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if !f.support_level.is_empty() {
        parts.push(format!("support level {}", f.support_level.join(", ")));
    }
    if !f.connector_type.is_empty() {
        parts.push(format!("type {}", f.connector_type.join(", ")));
    }
    if !f.name.is_empty() {
        parts.push(format!("name {}", f.name.join(", ")));
    }
    if f.migrated {
        parts.push("migrated".into());
    }
    if f.not_migrated {
        parts.push("not migrated".into());
    }
    if !f.base_image.is_empty() {
        parts.push(format!("base image {}", f.base_image.join(", ")));
    }
    if let Some(q) = &f.query {
        parts.push(format!("query `{}`", q.text()));
    }
    if parts.is_empty() { "all connectors".into() } else { parts.join("; ") }
}

pub fn analyze(args: &AnalysisArgs, printer: &Printer) -> anyhow::Result<Analysis> {
    let options = args.image.inspect_options()?;
    let map = match &args.images {
        Some(path) => read_map(path)?,
        None => BTreeMap::new(),
    };
    let clock = std::time::Instant::now();
    let mut lap = {
        let mut last = clock;
        move |stage: &str, printer: &Printer| {
            let now = std::time::Instant::now();
            printer.detail(&format!("{stage}: {} ms", (now - last).as_millis()));
            last = now;
        }
    };
    let scan = run_scan(&args.scan, printer)?;
    lap("scan and group", printer);

    // One image per variant: the first connector (by name) with a mapped image, else the
    // example connector's image from its metadata.
    let mut chosen: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for v in &scan.variants {
        let mapped = v.connectors.iter().find_map(|c| map.get(c).map(|image| (c.clone(), image.clone())));
        match mapped {
            Some((connector, image)) => chosen.push((v.id.clone(), Some(connector), Some(image))),
            None => chosen.push((v.id.clone(), Some(v.example.connector.clone()), v.example.image.clone())),
        }
    }
    // Base images named in the Dockerfiles that the map points at an image.
    let bases: BTreeMap<String, String> = scan
        .variants
        .iter()
        .filter_map(|v| v.traits.final_base.clone())
        .filter_map(|b| map.get(&b).map(|image| (b, image.clone())))
        .collect();

    let mut references: Vec<String> = chosen.iter().filter_map(|(_, _, r)| r.clone()).collect();
    references.extend(bases.values().cloned());
    references.sort();
    references.dedup();
    let inspected: BTreeMap<String, Inspection> =
        references.iter().cloned().zip(inspect_all(&references, &options, printer)).collect();
    lap(&format!("inspect {} image(s)", references.len()), printer);
    for i in inspected.values() {
        if let Some(e) = &i.error {
            printer.warn(e);
        }
    }
    let images: Vec<VariantImage> = chosen
        .into_iter()
        .map(|(variant, connector, reference)| VariantImage {
            inspection: reference.as_ref().and_then(|r| inspected.get(r).cloned()),
            variant,
            connector,
            reference,
        })
        .collect();

    // Comparisons over the images that could be read.
    // An image that represents several variants is compared once.
    let mut seen = std::collections::BTreeSet::new();
    let readable: Vec<(&VariantImage, &crate::inspect::ImageFacts)> = images
        .iter()
        .filter_map(|i| i.facts().map(|f| (i, f)))
        .filter(|(i, _)| seen.insert(i.reference.clone()))
        .collect();
    let envs: Vec<(String, Vec<(String, String)>)> =
        readable.iter().map(|(i, f)| (i.reference.clone().unwrap_or_default(), f.env.clone())).collect();
    let base_facts: BTreeMap<&str, &crate::inspect::ImageFacts> = bases
        .iter()
        .filter_map(|(name, reference)| {
            inspected
                .get(reference)
                .filter(|i| i.error.is_none())
                .and_then(|i| i.facts.as_ref())
                .map(|f| (name.as_str(), f))
        })
        .collect();
    let base_envs: Vec<Vec<(String, String)>> = base_facts.values().map(|f| f.env.clone()).collect();
    let env = compare::env_diff(&envs, &base_envs);
    let variant_base = |id: &str| scan.variants.iter().find(|v| v.id == id).and_then(|v| v.traits.final_base.clone());
    let compared: Vec<Compared> = readable
        .iter()
        .map(|(i, f)| Compared {
            label: i.reference.clone().unwrap_or_default(),
            facts: f,
            base: variant_base(&i.variant)
                .and_then(|b| base_facts.get(b.as_str()).map(|bf| (bases.get(&b).cloned().unwrap_or(b), *bf))),
        })
        .collect();
    let packages = compare::package_diff(&compared);

    let evidence_images: Vec<recommend::VariantImage> = scan
        .variants
        .iter()
        .zip(&images)
        .map(|(v, i)| recommend::VariantImage { variant: v, label: i.reference.clone(), facts: i.facts() })
        .collect();
    let mut evidence = Evidence { images: evidence_images, env: &env, packages: &packages, digest: None };
    lap("compare", printer);
    let mut recommendation = recommend::recommend(&evidence);
    if args.resolve_digest {
        match resolve_digest(&recommendation.base_image, &options) {
            Ok(digest) => {
                evidence.digest = Some(digest);
                recommendation = recommend::recommend(&evidence);
            }
            Err(e) => printer.warn(&format!("cannot resolve the digest of {}: {e}", recommendation.base_image)),
        }
    }
    let differences = describe_differences(&scan.variants, 3);
    lap("recommend", printer);
    Ok(Analysis { selection: describe_selection(&args.scan), scan, images, env, packages, recommendation, differences })
}

/// The manifest (or index) digest of a tag, from its registry.
fn resolve_digest(tag: &str, options: &InspectOptions) -> anyhow::Result<String> {
    let image = ImageRef::parse(&format!("docker://{tag}"));
    let mut source = crate::inspect::source::open(&image, &options.source)?;
    let config = source.config()?;
    config.manifest_digest.context("the registry gave no digest")
}
