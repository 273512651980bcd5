//! A repository root in, `Vec<Connector>` out: every connector (Airbyte layout) or every
//! Dockerfile (generic layout), with its metadata and the problems met on the way.

mod airbyte;
mod generic;
pub mod query;
pub mod select;

pub use select::{Selection, SelectionError};

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use walkdir::WalkDir;

/// How the repository is organized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `airbyte-integrations/connectors/**/metadata.yaml`.
    Airbyte,
    /// Any file named `Dockerfile`, `Dockerfile.*` or `*.Dockerfile`.
    Generic,
}

/// Which layout to use; `Auto` picks Airbyte when `airbyte-integrations/connectors/` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LayoutChoice {
    #[default]
    Auto,
    Airbyte,
    Generic,
}

/// The implementation language, detected from files as Airbyte's tooling does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Language {
    LowCode,
    Python,
    Java,
    ManifestOnly,
    Unknown,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::LowCode => "low-code",
            Language::Python => "python",
            Language::Java => "java",
            Language::ManifestOnly => "manifest-only",
            Language::Unknown => "unknown",
        }
    }
}

/// One connector (or, in a generic repository, one Dockerfile).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connector {
    /// Technical name (directory name), or the Dockerfile's relative path in a generic repo.
    pub name: String,
    /// Directory relative to the root, `/`-separated.
    pub path: String,
    pub layout: Layout,
    /// `source` or `destination`.
    pub connector_type: Option<String>,
    pub language: Language,
    pub support_level: Option<String>,
    pub release_stage: Option<String>,
    pub tags: Vec<String>,
    /// `dockerRepository:dockerImageTag`.
    pub image: Option<String>,
    /// Dockerfile relative to the root.
    pub dockerfile: Option<String>,
    /// `connectorBuildOptions.baseImage`.
    pub base_image: Option<String>,
    /// `metadata.yaml` relative to the root.
    pub metadata_path: Option<String>,
    /// The whole `data:` mapping, for queries.
    #[serde(skip)]
    pub metadata: Option<crate::metadata::Value>,
}

impl Connector {
    /// Migrated to the common base image: `connectorBuildOptions.baseImage` is set.
    pub fn is_migrated(&self) -> bool {
        self.base_image.is_some()
    }
}

/// A problem met while discovering; the connector, if known, is still listed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoverError {
    #[error("{path}: cannot read directory: {message}")]
    Walk { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Metadata { connector: String, path: String, line: usize, message: String },
}

impl DiscoverError {
    pub fn connector(&self) -> Option<&str> {
        match self {
            DiscoverError::Walk { .. } => None,
            DiscoverError::Metadata { connector, .. } => Some(connector),
        }
    }
    pub fn path(&self) -> &str {
        match self {
            DiscoverError::Walk { path, .. } | DiscoverError::Metadata { path, .. } => path,
        }
    }
    pub fn line(&self) -> usize {
        match self {
            DiscoverError::Walk { .. } => 0,
            DiscoverError::Metadata { line, .. } => *line,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            DiscoverError::Walk { message, .. } | DiscoverError::Metadata { message, .. } => message,
        }
    }
}

/// Everything discovery found.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub root: PathBuf,
    pub layout: Layout,
    /// Sorted by name, then path.
    pub connectors: Vec<Connector>,
    pub errors: Vec<DiscoverError>,
}

/// Discovers the connectors under `root`.
pub fn discover(root: &Path, choice: LayoutChoice) -> Result<Discovery, DiscoverError> {
    if !root.is_dir() {
        return Err(DiscoverError::Walk { path: root.display().to_string(), message: "not a directory".into() });
    }
    let layout = match choice {
        LayoutChoice::Airbyte => Layout::Airbyte,
        LayoutChoice::Generic => Layout::Generic,
        LayoutChoice::Auto if root.join(airbyte::CONNECTORS_DIR).is_dir() => Layout::Airbyte,
        LayoutChoice::Auto => Layout::Generic,
    };
    let (mut connectors, mut errors) = match layout {
        Layout::Airbyte => airbyte::discover(root),
        Layout::Generic => generic::discover(root),
    };
    connectors.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
    errors.sort_by(|a, b| a.path().cmp(b.path()).then(a.line().cmp(&b.line())));
    Ok(Discovery { root: root.to_path_buf(), layout, connectors, errors })
}

/// Directories never worth descending into.
fn is_skipped_dir(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules"
}

/// Walks `dir` in parallel over its top-level entries and keeps the files `want` accepts.
/// Returns paths sorted, and unreadable directories as errors.
fn walk_files(root: &Path, dir: &Path, want: &(dyn Fn(&str) -> bool + Sync)) -> (Vec<PathBuf>, Vec<DiscoverError>) {
    let top: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            return (Vec::new(), vec![DiscoverError::Walk { path: relative(root, dir), message: e.to_string() }]);
        }
    };
    let results: Vec<(Vec<PathBuf>, Vec<DiscoverError>)> = top
        .par_iter()
        .map(|entry| {
            let mut files = Vec::new();
            let mut errors = Vec::new();
            let walker = WalkDir::new(entry)
                .follow_links(false)
                .into_iter()
                .filter_entry(|e| !(e.file_type().is_dir() && e.file_name().to_str().is_some_and(is_skipped_dir)));
            for item in walker {
                match item {
                    Ok(e) if e.file_type().is_file() => {
                        if e.file_name().to_str().is_some_and(want) {
                            files.push(e.into_path());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(DiscoverError::Walk {
                        path: e.path().map(|p| relative(root, p)).unwrap_or_default(),
                        message: e.io_error().map(|io| io.to_string()).unwrap_or_else(|| e.to_string()),
                    }),
                }
            }
            (files, errors)
        })
        .collect();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (f, e) in results {
        files.extend(f);
        errors.extend(e);
    }
    files.sort();
    (files, errors)
}

/// `path` relative to `root`, `/`-separated, for output that does not depend on where the
/// repository is checked out.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}
