//! Any repository root in, one unit per Dockerfile out (`Dockerfile`, `Dockerfile.*`,
//! `*.Dockerfile`), each named by its path relative to the root.

use std::path::Path;

use super::{Connector, DiscoverError, Language, Layout, relative, walk_files};

pub fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name.starts_with("Dockerfile.")
        || (name.ends_with(".Dockerfile") && name.len() > ".Dockerfile".len())
}

pub fn discover(root: &Path) -> (Vec<Connector>, Vec<DiscoverError>) {
    let (files, errors) = walk_files(root, root, &is_dockerfile_name);
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
    (connectors, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for yes in ["Dockerfile", "Dockerfile.dev", "api.Dockerfile"] {
            assert!(is_dockerfile_name(yes), "{yes}");
        }
        for no in ["Dockerfiles", ".Dockerfile", "dockerfile.txt", "README.md"] {
            assert!(!is_dockerfile_name(no), "{no}");
        }
    }
}
