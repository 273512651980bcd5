//! Any repository root (resolved) in, one unit per Dockerfile out (`Dockerfile`,
//! `Dockerfile.*`, `*.Dockerfile`, `*.dockerfile`, `Containerfile`, `Containerfile.*`,
//! dot-directories included), each named by its path relative to the root.

use std::path::Path;

use super::walk::{self, GlobError, Skipped, WalkOptions};
use super::{Connector, DiscoverError, Language, Layout, relative};

pub fn is_dockerfile_name(name: &str) -> bool {
    let suffixed = |suffix: &str| name.len() > suffix.len() && name.ends_with(suffix);
    name == "Dockerfile"
        || name == "Containerfile"
        || (name.starts_with("Dockerfile.") && name.len() > "Dockerfile.".len())
        || (name.starts_with("Containerfile.") && name.len() > "Containerfile.".len())
        || suffixed(".Dockerfile")
        || suffixed(".dockerfile")
}

pub fn discover(
    root: &Path,
    options: &WalkOptions,
) -> Result<(Vec<Connector>, Vec<DiscoverError>, Skipped), GlobError> {
    let walked = walk::walk(root, root, &is_dockerfile_name, false, options)?;
    let files = walked.files;
    let errors = walked.errors;
    let connectors = files
        .iter()
        .map(|path| {
            let rel = relative(root, path);
            let dir = path.parent().map(|d| relative(root, d)).unwrap_or_default();
            Connector {
                name: rel.clone(),
                path: dir,
                layout: Layout::Generic,
                connector_type: None,
                language: Language::Unknown,
                support_level: None,
                release_stage: None,
                tags: Vec::new(),
                image: None,
                dockerfile: Some(rel),
                base_image: None,
                metadata_path: None,
                metadata: None,
            }
        })
        .collect();
    Ok((connectors, errors, walked.skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for yes in
            ["Dockerfile", "Dockerfile.dev", "api.Dockerfile", "cuda.dockerfile", "Containerfile", "Containerfile.arm"]
        {
            assert!(is_dockerfile_name(yes), "{yes}");
        }
        for no in [
            "Dockerfiles",
            ".Dockerfile",
            ".dockerfile",
            "Dockerfile.",
            "dockerfile.txt",
            "README.md",
            "Containerfiles",
        ] {
            assert!(!is_dockerfile_name(no), "{no}");
        }
    }
}
