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

/// Makes the output directory `--out` names. A path that is a symlink is refused: a repository
/// can ship `reports -> /somewhere`, and the files must land where the user said.
pub fn make_out_dir(out: &std::path::Path) -> Result<(), ReportError> {
    let display = out.display().to_string();
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        let source = std::io::Error::other("is a symbolic link; name the directory it points to instead");
        return Err(ReportError::Write { path: display, source });
    }
    std::fs::create_dir_all(out).map_err(|source| ReportError::Write { path: display, source })
}

/// Writes text to a file through a temporary file and a rename (`write_file`).
pub fn write_text(text: &str, path: &std::path::Path) -> Result<(), ReportError> {
    write_file(path, |file| {
        use std::io::Write;
        file.write_all(text.as_bytes())
            .map_err(|source| ReportError::Write { path: path.display().to_string(), source })
    })
}

/// Writes a file of the output directory safely: a failed run never leaves a partial file, and
/// nothing already in the directory can redirect the write. The content goes to a new file
/// with a random name created with `O_CREAT | O_EXCL | O_NOFOLLOW` (the `tempfile` crate) beside
/// `path`, then is renamed over it; a `path` that exists and is not a regular file (a symlink
/// a repository shipped, a FIFO, a directory) is refused instead of replaced.
pub fn write_file(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let display = path.display().to_string();
    let err = |source: std::io::Error| ReportError::Write { path: display.clone(), source };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(err(std::io::Error::other("exists and is not a regular file (a symlink?); not replaced")));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".dockvar-").suffix(".tmp").tempfile_in(dir).map_err(err)?;
    write(tmp.as_file_mut())?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
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

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn writes_replace_regular_files_and_refuse_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("report.md")).unwrap();
        // The old fixed temporary name, planted as a link: no longer used.
        std::os::unix::fs::symlink(&victim, out.join("report.tmp")).unwrap();
        let e = write_text("new", &out.join("report.md")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        write_text("one", &out.join("report.json")).unwrap();
        write_text("two", &out.join("report.json")).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("report.json")).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        // Nothing else is left behind.
        let mut names: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["report.json", "report.md", "report.tmp"]);
    }
}
