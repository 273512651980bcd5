//! Python metadata files (`METADATA`, `PKG-INFO`), package lists and names in;
//! [`Distribution`]s, versions and normalized names out: the pieces
//! [`super::python_env`] puts together into what the interpreter sees.

use serde::Serialize;

use super::{FactError, Package, Sourced, lossy, numbered_lines};

/// An installed distribution (what pip lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub name: String,
    /// `None` only for an egg-info whose name carries no version and whose
    /// content was not given.
    pub version: Option<String>,
    /// The metadata file read, or the `.dist-info`/`.egg-info` path when only its
    /// name was available.
    pub path: String,
}

/// Parses a `METADATA` or `PKG-INFO` file: RFC 822 style headers up to the
/// first blank line, of which `Name` and `Version` are kept.
pub fn parse_metadata(bytes: &[u8], path: &str) -> Result<Distribution, FactError> {
    let text = lossy(bytes);
    let mut name: Option<(String, usize)> = None;
    let mut version: Option<(String, usize)> = None;
    let mut seen_header = false;
    for (n, line) in numbered_lines(&text) {
        if line.trim().is_empty() {
            // The body (the long description) follows the first blank line.
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if !seen_header {
                return Err(FactError::syntax(path, n, "continuation line before any header"));
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(FactError::syntax(path, n, "expected `Header: value`"));
        };
        seen_header = true;
        let slot = if key.eq_ignore_ascii_case("Name") {
            &mut name
        } else if key.eq_ignore_ascii_case("Version") {
            &mut version
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(FactError::syntax(path, n, format!("duplicate {key} header")));
        }
        *slot = Some((value.trim().to_owned(), n));
    }
    let (name, version) = match (name, version) {
        (Some((name, n)), _) if name.is_empty() => {
            return Err(FactError::invalid(path, n, "Name", "", "empty"));
        }
        (_, Some((version, n))) if version.is_empty() => {
            return Err(FactError::invalid(path, n, "Version", "", "empty"));
        }
        (Some((name, _)), Some((version, _))) => (name, version),
        (None, _) => return Err(FactError::missing(path, 1, "Name")),
        (_, None) => return Err(FactError::missing(path, 1, "Version")),
    };
    Ok(Distribution { name, version: Some(version), path: path.to_owned() })
}

/// PEP 503 normalized project name: lower case, runs of `-_.` as one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !out.is_empty() {
                out.push('-');
            }
            in_separator = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `python3.9` → `3.9`; anything else (`python3`, `python3.9-config`) → `None`.
pub(crate) fn minor_of(component: &str) -> Option<&str> {
    let version = component.strip_prefix("python")?;
    let (major, minor) = version.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then_some(version)
}

fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap_or(0)
        })
        .collect()
}

/// The Python a package says is installed: `pythonX.Y`, `pythonX.Y-minimal`
/// (dpkg) or `python3` (apk, and Debian's default-version package), upstream
/// version only.
pub(crate) fn package_version(packages: &[Package], minor: &str) -> Option<Sourced<String>> {
    let exact = format!("python{minor}");
    let minimal = format!("python{minor}-minimal");
    let prefix = format!("{minor}.");
    let ranked = |p: &&Package| {
        if p.name == exact {
            Some(0)
        } else if p.name == minimal {
            Some(1)
        } else if p.name == "python3" {
            Some(2)
        } else {
            None
        }
    };
    let mut candidates: Vec<(u8, &Package)> = packages
        .iter()
        .filter_map(|p| ranked(&p).map(|r| (r, p)))
        .filter(|(_, p)| super::dpkg::upstream_version(&p.version).starts_with(&prefix))
        .collect();
    candidates.sort_by_key(|(rank, _)| *rank);
    let (_, package) = candidates.first()?;
    Some(Sourced::new(
        super::dpkg::upstream_version(&package.version).to_owned(),
        format!("package {} {}", package.name, package.version),
    ))
}

/// The highest Python any package shows, when no file does.
pub(crate) fn packaged_python(packages: &[Package]) -> Option<Sourced<String>> {
    packages
        .iter()
        .filter_map(|p| {
            let rank = if p.name == "python3" {
                0
            } else if minor_of(p.name.strip_suffix("-minimal").unwrap_or(&p.name)).is_some() {
                1
            } else {
                return None;
            };
            let upstream = super::dpkg::upstream_version(&p.version);
            Some((version_key(upstream), rank, p, upstream))
        })
        .max_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)))
        .map(|(_, _, p, upstream)| Sourced::new(upstream.to_owned(), format!("package {} {}", p.name, p.version)))
}

/// Whether two version strings can describe the same release: equal, or one a
/// dotted prefix of the other (`3.9` and `3.9.18`).
pub(crate) fn compatible(a: &str, b: &str) -> bool {
    a == b
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('.'))
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('.'))
}

/// `pip-23.0.1.dist-info` → (`pip`, `23.0.1`); `crit-3.17.1-py3.11.egg-info` →
/// (`crit`, `3.17.1`); `cryptography.egg-info` → (`cryptography`, none).
pub(crate) fn name_from_entry(entry: &str) -> (String, Option<String>) {
    let stem = entry.strip_suffix(".dist-info").or_else(|| entry.strip_suffix(".egg-info")).unwrap_or(entry);
    let mut parts = stem.split('-');
    let name = parts.next().unwrap_or(stem).to_owned();
    let version = parts.next().filter(|v| !v.is_empty()).map(str::to_owned);
    (name, version)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::mutations;
    use super::*;

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/images/python");

    /// The fixture's files as (image path, content), walked from disk.
    fn fixture_files() -> Vec<(String, Vec<u8>)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    let image_path = path.to_str().unwrap()[ROOT.len()..].to_owned();
                    out.push((image_path, std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(std::path::Path::new(ROOT), &mut out);
        out.sort();
        out
    }

    fn package(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            source: name.into(),
            installed_size_kib: None,
        }
    }

    #[test]
    fn packages_name_the_python() {
        let packages = [package("python3.11-minimal", "3.11.2-6+deb12u6"), package("python3.11", "3.11.2-6+deb12u6")];
        assert_eq!(
            package_version(&packages, "3.11"),
            Some(Sourced::new("3.11.2".into(), "package python3.11 3.11.2-6+deb12u6"))
        );
        assert_eq!(package_version(&packages, "3.9"), None);
        let apk = [package("python3", "3.11.6-r0")];
        assert_eq!(package_version(&apk, "3.11").map(|s| s.value), Some("3.11.6".into()));
        assert_eq!(
            packaged_python(&[package("python3.9-minimal", "3.9.2-1"), package("python3", "3.9.2-3")]),
            Some(Sourced::new("3.9.2".into(), "package python3.9-minimal 3.9.2-1"))
        );
    }

    #[test]
    fn metadata_headers() {
        let files = fixture_files();
        for (path, bytes) in &files {
            if path.ends_with("/METADATA") || path.ends_with("/PKG-INFO") || path.ends_with(".egg-info") {
                let d = parse_metadata(bytes, path).unwrap();
                assert!(d.version.is_some(), "{path}");
            }
        }
        let cases: &[(&[u8], usize)] = &[
            (b"Name: a\n  continued\nbad line\n", 3),
            (b" leading continuation\n", 1),
            (b"Name: a\n", 1),
            (b"Version: 1\n\nName: in-body\n", 1),
            (b"Name: a\nVersion: 1\nName: b\n", 3),
            (b"Name:\nVersion: 1\n", 1),
        ];
        for (bytes, line) in cases {
            let err = parse_metadata(bytes, "/m/METADATA").unwrap_err();
            assert_eq!(err.path(), "/m/METADATA");
            assert_eq!(err.line(), Some(*line), "{err}");
        }
    }

    #[test]
    fn names_and_versions() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
        assert_eq!(normalize_name("_x_"), "x");
        assert_eq!(minor_of("python3.9"), Some("3.9"));
        assert_eq!(minor_of("python3.9-config"), None);
        assert_eq!(minor_of("python3"), None);
        assert_eq!(minor_of("python3."), None);
        assert_eq!(name_from_entry("crit-3.17.1-py3.11.egg-info"), ("crit".into(), Some("3.17.1".into())));
        assert_eq!(name_from_entry("cryptography.egg-info"), ("cryptography".into(), None));
        assert!(compatible("3.9", "3.9.18"));
        assert!(!compatible("3.9.1", "3.9.18"));
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        let files = fixture_files();
        for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with("METADATA")) {
            for data in mutations(bytes, 150) {
                let _ = parse_metadata(&data, path);
            }
        }
    }
}
