//! Fingerprinted connectors in, `Vec<Variant>` and `Vec<Template>` out: connectors grouped by
//! variant hash in a polars frame, sorted by size, each with its traits, family, template and
//! nearest other variant; variants that differ only in values grouped into templates.

pub mod describe;
pub mod family;
pub mod frame;
pub mod template;
pub mod word_diff;

use polars::prelude::*;
use serde::Serialize;

use crate::discover::Connector;
use crate::dockerfile::{Fingerprint, VariantTraits};

pub use family::{DiffLine, Nearest};
pub use template::{Parameter, Template};

/// A connector with what its Dockerfile hashed to.
#[derive(Debug, Clone)]
pub struct ScannedConnector {
    pub connector: Connector,
    /// `None` for connectors without a Dockerfile.
    pub fingerprint: Option<Fingerprint>,
}

impl ScannedConnector {
    pub fn variant_id(&self) -> Option<&str> {
        self.fingerprint.as_ref().and_then(|f| f.hash.as_ref()).map(|h| h.id())
    }
}

/// Connectors whose Dockerfiles hash alike.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// First 7 hex digits of `hash`.
    pub id: String,
    /// SHA-256 of the canonical text.
    pub hash: String,
    pub count: usize,
    /// Sorted names.
    pub connectors: Vec<String>,
    pub example: Example,
    pub traits: VariantTraits,
    /// ID of the family's largest variant: variants whose instructions are the same
    /// multiset in another order share a family.
    pub family: String,
    /// ID of the template: variants equal once values are parameters share one.
    pub template: String,
    pub nearest: Option<Nearest>,
    /// The canonical text that was hashed.
    #[serde(skip)]
    pub canonical: String,
    /// Semantic canonical lines, for diffs.
    #[serde(skip)]
    pub lines: Vec<String>,
}

/// The connector shown for a variant: the first by name.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub connector: String,
    pub dockerfile: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("grouping connectors failed in polars: {0}")]
    Frame(#[from] PolarsError),
}

/// Groups connectors by variant hash, and variants into templates. Connectors without a hash
/// are left out (their problems are reported elsewhere).
pub fn group(scanned: &[ScannedConnector]) -> Result<(Vec<Variant>, Vec<Template>), GroupError> {
    let hashed: Vec<(usize, &str)> = scanned
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.fingerprint.as_ref().and_then(|f| f.hash.as_ref()).map(|h| (i, h.0.as_str())))
        .collect();
    if hashed.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let rows: Vec<u32> = hashed.iter().map(|(i, _)| *i as u32).collect();
    let hashes: Vec<&str> = hashed.iter().map(|(_, h)| *h).collect();
    let df = DataFrame::new_infer_height(vec![Column::new("row".into(), rows), Column::new("hash".into(), hashes)])?;
    let grouped = df.group_by_stable(["hash"])?;
    let row_column = df.column("row")?.u32()?;
    let mut variants = Vec::new();
    for indicator in grouped.get_groups().iter() {
        let positions: Vec<usize> = match indicator {
            GroupsIndicator::Idx((_, idx)) => idx.iter().map(|&i| i as usize).collect(),
            GroupsIndicator::Slice([start, len]) => (start as usize..(start + len) as usize).collect(),
        };
        let mut members: Vec<&ScannedConnector> =
            positions.iter().filter_map(|&p| row_column.get(p)).filter_map(|row| scanned.get(row as usize)).collect();
        members.sort_by(|a, b| a.connector.name.cmp(&b.connector.name));
        let Some(first) = members.first() else { continue };
        let Some(fp) = first.fingerprint.as_ref() else { continue };
        let Some(hash) = fp.hash.as_ref() else { continue };
        variants.push(Variant {
            id: hash.id().to_string(),
            hash: hash.0.clone(),
            count: members.len(),
            connectors: members.iter().map(|m| m.connector.name.clone()).collect(),
            example: Example {
                connector: first.connector.name.clone(),
                dockerfile: first.connector.dockerfile.clone(),
                image: first.connector.image.clone(),
            },
            traits: members
                .iter()
                .find_map(|m| m.fingerprint.as_ref().and_then(|f| f.traits.clone()))
                .unwrap_or_default(),
            family: String::new(),
            template: String::new(),
            nearest: None,
            canonical: fp.canonical.clone().unwrap_or_default(),
            lines: members
                .iter()
                .find_map(|m| m.fingerprint.as_ref().filter(|f| !f.lines.is_empty()).map(|f| f.lines.clone()))
                .unwrap_or_default(),
        });
    }
    variants.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)).then_with(|| a.hash.cmp(&b.hash)));
    family::assign_families(&mut variants);
    let templates = template::assign_templates(&mut variants);
    family::assign_nearest(&mut variants);
    Ok((variants, templates))
}

/// Finds a template by ID.
pub fn find_template<'a>(templates: &'a [Template], key: &str) -> Option<&'a Template> {
    templates.iter().find(|t| t.id == key)
}

/// Finds a variant by ID (or unique ID prefix), full hash, or connector name.
pub fn find_variant<'a>(variants: &'a [Variant], key: &str) -> Option<&'a Variant> {
    variants
        .iter()
        .find(|v| v.id == key || v.hash == key)
        .or_else(|| variants.iter().find(|v| v.connectors.iter().any(|c| c == key)))
        .or_else(|| {
            let matches: Vec<&Variant> =
                variants.iter().filter(|v| key.len() >= 4 && v.hash.starts_with(key)).collect();
            if matches.len() == 1 { matches.first().copied() } else { None }
        })
}

/// A problem with one input; the run goes on and the problem is reported with the results.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub connector: Option<String>,
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// The outcome of a scan: the selected connectors, their variants and the problems met.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The root as the user gave it.
    pub root: String,
    pub layout: crate::discover::Layout,
    pub normalizer: crate::dockerfile::Normalizer,
    /// Selected connectors, sorted by name.
    pub connectors: Vec<ScannedConnector>,
    pub variants: Vec<Variant>,
    /// Largest first.
    pub templates: Vec<Template>,
    /// Sorted by path, line.
    pub problems: Vec<Problem>,
    /// What discovery left out, by reason.
    pub skipped: crate::discover::Skipped,
}

impl Scan {
    /// Selected connectors that have no Dockerfile (migrated or manifest-only ones).
    pub fn without_dockerfile(&self) -> Vec<&str> {
        self.connectors.iter().filter(|s| s.connector.dockerfile.is_none()).map(|s| s.connector.name.as_str()).collect()
    }
}
