//! Results in, text or files out: one module per output format (table, JSON, CSV, Markdown,
//! Parquet). Nothing here decides what to say, only how to write it.

pub mod csv;
pub mod escape;
pub mod html;
pub mod json;
pub mod markdown;
pub mod parquet;
pub mod sarif;
pub mod svg;
pub mod table;

/// The version of every JSON document dockvar writes; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Output formats offered by commands that print tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
    Markdown,
}

/// A plain table: what table and Markdown output render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Frame {
        path: String,
        #[source]
        source: polars::prelude::PolarsError,
    },
    #[error("{path}: unknown output format: use a .parquet, .csv or .json file name")]
    UnknownExtension { path: String },
}

/// Writes text to a file through a temporary file and a rename, so that a failed run never
/// leaves a partial file.
pub fn write_text(text: &str, path: &std::path::Path) -> Result<(), ReportError> {
    let display = path.display().to_string();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|source| ReportError::Write { path: display.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| ReportError::Write { path: display, source })
}

/// Everything a report is made of: the scan, one representative image per variant with its
/// facts, the comparisons and the recommendation. Built by the CLI, rendered by this stage.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub scan: crate::group::Scan,
    /// How the connectors were selected, in words.
    pub selection: String,
    /// One per variant, in variant order.
    pub images: Vec<VariantImage>,
    pub env: crate::compare::EnvDiff,
    pub packages: crate::compare::PackageDiff,
    pub recommendation: crate::recommend::Recommendation,
    /// How the largest variants differ, in words.
    pub differences: Vec<String>,
}

/// The image that represents one variant.
#[derive(Debug, Clone)]
pub struct VariantImage {
    pub variant: String,
    pub connector: Option<String>,
    /// `None` when no image is known for the variant (no metadata image, no mapping).
    pub reference: Option<String>,
    pub inspection: Option<crate::inspect::Inspection>,
}

impl VariantImage {
    /// The facts, when the image was read without error.
    pub fn facts(&self) -> Option<&crate::inspect::ImageFacts> {
        self.inspection.as_ref().filter(|i| i.error.is_none()).and_then(|i| i.facts.as_ref())
    }

    pub fn error(&self) -> Option<String> {
        match (&self.reference, &self.inspection) {
            (None, _) => Some("no image is known for this variant (no dockerRepository, no --images entry)".into()),
            (Some(_), Some(i)) => i.error.clone(),
            (Some(r), None) => Some(format!("{r}: not inspected")),
        }
    }
}
