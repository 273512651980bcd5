//! An Airbyte monorepo root in, its connectors out: `metadata.yaml` files below
//! `airbyte-integrations/connectors/`, their `data:` mapping, and the language read from files.

use std::path::Path;

use crate::metadata::Value;
use rayon::prelude::*;

use super::walk::{self, GlobError, Skipped, WalkOptions};
use super::{Connector, DiscoverError, Language, Layout, relative};

pub const CONNECTORS_DIR: &str = "airbyte-integrations/connectors";

/// Largest metadata.yaml read; real ones are about 2 KiB.
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// `root` is resolved (not a symlink); the connectors directory must resolve inside it.
pub fn discover(
    root: &Path,
    options: &WalkOptions,
) -> Result<(Vec<Connector>, Vec<DiscoverError>, Skipped), GlobError> {
    let dir = root.join(CONNECTORS_DIR);
    match std::fs::canonicalize(&dir) {
        Ok(real) if real.starts_with(root) && real.is_dir() => {}
        _ => {
            let error = DiscoverError::Walk {
                path: CONNECTORS_DIR.into(),
                message: "links outside the repository (or is not a directory), not walked".into(),
            };
            return Ok((Vec::new(), vec![error], Skipped { symlinks: 1, ..Skipped::default() }));
        }
    }
    let walked = walk::walk(root, &dir, &|name| name == "metadata.yaml", true, options)?;
    let (files, mut errors, mut skipped) = (walked.files, walked.errors, walked.skipped);
    let is_scaffold = |path: &std::path::PathBuf| relative(root, path).contains("-scaffold-");
    skipped.scaffolds = files.iter().filter(|p| is_scaffold(p)).count();
    let results: Vec<(Connector, Option<DiscoverError>)> = files
        .par_iter()
        .filter(|path| !is_scaffold(path))
        .filter_map(|path| {
            let dir = path.parent()?;
            Some(read_connector(root, dir, path))
        })
        .collect();
    let mut connectors = Vec::with_capacity(results.len());
    for (connector, error) in results {
        connectors.push(connector);
        errors.extend(error);
    }
    Ok((connectors, errors, skipped))
}

fn read_connector(root: &Path, dir: &Path, metadata_path: &Path) -> (Connector, Option<DiscoverError>) {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // One directory listing answers most of the questions below without a stat each.
    let entries = Entries::read(dir);
    let dockerfile_path = dir.join("Dockerfile");
    let has_dockerfile = entries.has_file("Dockerfile");
    let dockerfile = has_dockerfile.then(|| relative(root, &dockerfile_path));
    let metadata_rel = relative(root, metadata_path);
    let (data, error) = match read_metadata(metadata_path, root) {
        Ok(data) => (Some(data), None),
        Err((line, message)) => {
            (None, Some(DiscoverError::Metadata { connector: name.clone(), path: metadata_rel.clone(), line, message }))
        }
    };
    let get = |key: &str| data.as_ref().and_then(|d| d.get(key)).and_then(scalar);
    let connector_type = if name.starts_with("source-") {
        Some("source".to_string())
    } else if name.starts_with("destination-") {
        Some("destination".to_string())
    } else {
        get("connectorType")
    };
    let image = match (get("dockerRepository"), get("dockerImageTag")) {
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
        (Some(repo), None) => Some(repo),
        _ => None,
    };
    let tags = data
        .as_ref()
        .and_then(|d| d.get("tags"))
        .and_then(Value::as_sequence)
        .map(|seq| seq.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    let base_image =
        data.as_ref().and_then(|d| d.get("connectorBuildOptions")).and_then(|o| o.get("baseImage")).and_then(scalar);
    let connector = Connector {
        language: detect_language(root, dir, &entries, &name, has_dockerfile.then_some(&dockerfile_path)),
        path: relative(root, dir),
        layout: Layout::Airbyte,
        connector_type,
        support_level: get("supportLevel"),
        release_stage: get("releaseStage"),
        tags,
        image,
        dockerfile,
        base_image,
        metadata_path: Some(metadata_rel),
        metadata: data,
        name,
    };
    (connector, error)
}

/// The `data:` value as PyYAML loads it, or the line and reason it could not be read.
fn read_metadata(path: &Path, root: &Path) -> Result<Value, (usize, String)> {
    let bytes = crate::files::read_file(path, Some(root), MAX_METADATA_BYTES).map_err(|e| (0, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        (line, "not valid UTF-8".to_string())
    })?;
    crate::metadata::load_data(&text).map_err(|e| (e.line, e.message))
}

/// Strings, numbers, booleans and dates as text (`dockerImageTag: 1.0` is a float in YAML).
fn scalar(value: &Value) -> Option<String> {
    value.scalar_text()
}

/// The names in a connector directory, and whether each is a directory.
struct Entries(Vec<(String, bool)>);

impl Entries {
    fn read(dir: &Path) -> Entries {
        let names = std::fs::read_dir(dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .map(|e| {
                        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                        (e.file_name().to_string_lossy().into_owned(), is_dir)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Entries(names)
    }

    fn has(&self, name: &str, dir: bool) -> bool {
        self.0.iter().any(|(n, d)| n == name && *d == dir)
    }

    fn has_file(&self, name: &str) -> bool {
        self.has(name, false)
    }

    fn has_dir(&self, name: &str) -> bool {
        self.has(name, true)
    }
}

/// The order Airbyte's `connector_ops` uses: a manifest inside the Python package means
/// low-code even though setup.py exists too.
fn detect_language(
    root: &Path,
    dir: &Path,
    entries: &Entries,
    name: &str,
    dockerfile: Option<&std::path::PathBuf>,
) -> Language {
    let snake = name.replace('-', "_");
    if entries.has_dir(&snake) && dir.join(&snake).join("manifest.yaml").is_file() {
        return Language::LowCode;
    }
    if entries.has_file("setup.py") || entries.has_file("pyproject.toml") {
        return Language::Python;
    }
    let java_base = dockerfile
        .and_then(|p| crate::files::read_file(p, Some(root), crate::dockerfile::MAX_DOCKERFILE_BYTES).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|text| {
            text.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
                    && words.any(|w| w.starts_with("airbyte/integration-base-java"))
            })
        });
    let jvm_sources =
        entries.has_dir("src") && (dir.join("src/main/java").is_dir() || dir.join("src/main/kotlin").is_dir());
    if java_base || jvm_sources {
        return Language::Java;
    }
    if dockerfile.is_none() && entries.has_file("manifest.yaml") {
        return Language::ManifestOnly;
    }
    Language::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_numbers_as_text() {
        assert_eq!(scalar(&Value::Float(1.5)).as_deref(), Some("1.5"));
        assert_eq!(scalar(&Value::Float(1.0)).as_deref(), Some("1.0"));
        assert_eq!(scalar(&Value::Str("x".into())).as_deref(), Some("x"));
        assert_eq!(scalar(&Value::Null), None);
    }

    #[test]
    fn metadata_errors_carry_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.yaml");
        std::fs::write(&path, "data:\n  name: x\n  bad: [unclosed\n").unwrap();
        let (line, message) = read_metadata(&path, dir.path()).unwrap_err();
        assert!(line >= 3, "{line} {message}");
        std::fs::write(&path, "other: 1\n").unwrap();
        assert_eq!(read_metadata(&path, dir.path()).unwrap_err().0, 1);
        std::fs::write(&path, "data:\n  dockerRepository: airbyte/source-x\n").unwrap();
        assert!(read_metadata(&path, dir.path()).is_ok());
    }
}
