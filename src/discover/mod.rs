//! A repository root in, `Vec<Connector>` out: every connector (Airbyte layout) or every
//! Dockerfile (generic layout), with its metadata and the problems met on the way.

mod airbyte;
mod generic;
pub mod query;
pub mod select;
pub mod walk;

pub use select::{Selection, SelectionError};
pub use walk::{Skipped, WalkOptions};

use std::path::{Path, PathBuf};

use serde::Serialize;

/// How the repository is organized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `airbyte-integrations/connectors/**/metadata.yaml`.
    Airbyte,
    /// Any `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`, `*.dockerfile`, `Containerfile` or
    /// `Containerfile.*`, dot-directories included.
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
    #[error("{path}: {message}")]
    Walk { path: String, message: String },
    #[error("{0}")]
    Options(String),
    #[error("{path}:{line}: {message}")]
    Metadata { connector: String, path: String, line: usize, message: String },
}

impl DiscoverError {
    pub fn connector(&self) -> Option<&str> {
        match self {
            DiscoverError::Walk { .. } | DiscoverError::Options(_) => None,
            DiscoverError::Metadata { connector, .. } => Some(connector),
        }
    }
    pub fn path(&self) -> &str {
        match self {
            DiscoverError::Walk { path, .. } | DiscoverError::Metadata { path, .. } => path,
            DiscoverError::Options(_) => "",
        }
    }
    pub fn line(&self) -> usize {
        match self {
            DiscoverError::Walk { .. } | DiscoverError::Options(_) => 0,
            DiscoverError::Metadata { line, .. } => *line,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            DiscoverError::Walk { message, .. } | DiscoverError::Metadata { message, .. } => message,
            DiscoverError::Options(message) => message,
        }
    }
}

/// Everything discovery found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The root as given.
    pub root: PathBuf,
    pub layout: Layout,
    /// Sorted by name, then path.
    pub connectors: Vec<Connector>,
    pub errors: Vec<DiscoverError>,
    /// What the walk left out, by reason.
    pub skipped: Skipped,
}

/// Discovers the connectors (or Dockerfiles) under `root`. Paths in the result are relative to
/// the root; the walk stays inside it (a root that is a symlink is resolved once).
pub fn discover(root: &Path, choice: LayoutChoice, options: &WalkOptions) -> Result<Discovery, DiscoverError> {
    let not_dir = |message: String| DiscoverError::Walk { path: root.display().to_string(), message };
    let real_root = walk::resolve_root(root).map_err(|e| not_dir(format!("cannot read directory: {e}")))?;
    if !real_root.is_dir() {
        return Err(not_dir("not a directory".into()));
    }
    let layout = match choice {
        LayoutChoice::Airbyte => Layout::Airbyte,
        LayoutChoice::Generic => Layout::Generic,
        LayoutChoice::Auto if real_root.join(airbyte::CONNECTORS_DIR).is_dir() => Layout::Airbyte,
        LayoutChoice::Auto => Layout::Generic,
    };
    let found = match layout {
        Layout::Airbyte => airbyte::discover(&real_root, options),
        Layout::Generic => generic::discover(&real_root, options),
    };
    let (mut connectors, mut errors, skipped) = found.map_err(|e| DiscoverError::Options(e.to_string()))?;
    connectors.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
    errors.sort_by(|a, b| a.path().cmp(b.path()).then(a.line().cmp(&b.line())));
    Ok(Discovery { root: root.to_path_buf(), layout, connectors, errors, skipped })
}

/// `path` relative to `root`, `/`-separated, for output that does not depend on where the
/// repository is checked out.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}
