//! Results in, text or files out: one module per output format (table, JSON, CSV, Markdown,
//! Parquet). Nothing here decides what to say, only how to write it.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod parquet;
pub mod sarif;
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
