//! The image's path list, the contents of its Python metadata files, its
//! environment and its OS packages in; [`PythonFacts`] out: the Python version,
//! the pip version, the installed distributions, and the places where those
//! sources disagree.
//!
//! Only `/usr/local` (where the official `python` images build CPython) and
//! `/usr` (the distribution's Python) are looked at. Under `/usr/local/lib/pythonX.Y`
//! a `dist-packages` folder alone is Debian's Python's home for pip installs, not
//! a Python of its own, so it counts as evidence for the system Python.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{FactError, Package, Sourced, lossy, numbered_lines};

/// Metadata files whose contents [`facts`] reads; every other input is the path
/// list alone.
pub const PATHS: &[&str] = &[
    "/usr/local/lib/*/site-packages/*.dist-info/METADATA",
    "/usr/local/lib/*/site-packages/*.egg-info/PKG-INFO",
    "/usr/local/lib/*/site-packages/*.egg-info",
    "/usr/local/lib/*/dist-packages/*.dist-info/METADATA",
    "/usr/local/lib/*/dist-packages/*.egg-info/PKG-INFO",
    "/usr/local/lib/*/dist-packages/*.egg-info",
    "/usr/lib/*/site-packages/*.dist-info/METADATA",
    "/usr/lib/*/site-packages/*.egg-info/PKG-INFO",
    "/usr/lib/*/site-packages/*.egg-info",
    "/usr/lib/*/dist-packages/*.dist-info/METADATA",
    "/usr/lib/*/dist-packages/*.egg-info/PKG-INFO",
    "/usr/lib/*/dist-packages/*.egg-info",
];

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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PythonFacts {
    pub version: Option<Sourced<String>>,
    pub pip: Option<Sourced<String>>,
    pub distributions: Vec<Distribution>,
    pub disagreements: Vec<String>,
}

/// Reads the Python facts of an image.
///
/// `paths` lists the image's files (absolute paths; directories may be listed
/// too). `files` holds the contents of the files at [`PATHS`] that exist; a path
/// in `files` counts as present even if `paths` lacks it. `env` is the image's
/// environment in order. `packages` are its dpkg or apk packages.
pub fn facts(
    paths: &[&str],
    files: &[(&str, &[u8])],
    env: &[(String, String)],
    packages: &[Package],
) -> Result<PythonFacts, FactError> {
    let all_paths: Vec<&str> = paths.iter().copied().chain(files.iter().map(|(p, _)| *p)).collect();
    let mut disagreements = Vec::new();
    let installs = installs(&all_paths);
    let version = choose_version(&installs, env, packages, &mut disagreements);
    let located = locate_distributions(&all_paths, files, &mut disagreements)?;
    let pip = choose_pip(&located, version.as_ref(), &installs, env, &mut disagreements);
    let distributions = located.into_iter().map(|d| d.distribution).collect();
    Ok(PythonFacts { version, pip, distributions, disagreements })
}

/// Every distribution found under the site directories, sorted by normalized
/// name then path.
pub fn distributions(paths: &[&str], files: &[(&str, &[u8])]) -> Result<Vec<Distribution>, FactError> {
    let mut ignored = Vec::new();
    let all_paths: Vec<&str> = paths.iter().copied().chain(files.iter().map(|(p, _)| *p)).collect();
    Ok(locate_distributions(&all_paths, files, &mut ignored)?.into_iter().map(|d| d.distribution).collect())
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

/// A Python found on disk: `X.Y`, whether it lives in `/usr/local`, and the
/// path that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Install {
    minor: String,
    local: bool,
    evidence: String,
    rank: u8,
}

/// `python3.9` → `3.9`; anything else (`python3`, `python3.9-config`) → `None`.
fn minor_of(component: &str) -> Option<&str> {
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

fn installs(paths: &[&str]) -> Vec<Install> {
    // One entry per (prefix, X.Y), keeping the most telling evidence:
    // an interpreter beats a standard library directory beats a pip folder.
    let mut found: BTreeMap<(bool, String), Install> = BTreeMap::new();
    for path in paths {
        let Some(install) = install_evidence(path) else {
            continue;
        };
        let key = (install.local, install.minor.clone());
        match found.get(&key) {
            Some(existing) if existing.rank <= install.rank => {}
            _ => {
                found.insert(key, install);
            }
        }
    }
    let mut installs: Vec<Install> = found.into_values().collect();
    installs.sort_by(|a, b| b.local.cmp(&a.local).then_with(|| version_key(&b.minor).cmp(&version_key(&a.minor))));
    installs
}

fn install_evidence(path: &str) -> Option<Install> {
    let trimmed = path.trim_start_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    let install = |minor: &str, local: bool, evidence: String, rank: u8| {
        Some(Install { minor: minor.to_owned(), local, evidence, rank })
    };
    match parts.as_slice() {
        ["usr", "local", "bin", name] => install(minor_of(name)?, true, format!("/{trimmed}"), 0),
        ["usr", "bin", name] => install(minor_of(name)?, false, format!("/{trimmed}"), 0),
        ["usr", "local", "lib", dir, rest @ ..] => {
            let minor = minor_of(dir)?;
            let evidence = format!("/usr/local/lib/{dir}");
            match rest.first() {
                Some(&"dist-packages") => install(minor, false, evidence, 2),
                _ => install(minor, true, evidence, 1),
            }
        }
        ["usr", "lib", dir, ..] => install(minor_of(dir)?, false, format!("/usr/lib/{dir}"), 1),
        _ => None,
    }
}

/// The Python a package says is installed: `pythonX.Y`, `pythonX.Y-minimal`
/// (dpkg) or `python3` (apk, and Debian's default-version package), upstream
/// version only.
fn package_version(packages: &[Package], minor: &str) -> Option<Sourced<String>> {
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
fn packaged_python(packages: &[Package]) -> Option<Sourced<String>> {
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

fn last_env<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// Whether two version strings can describe the same release: equal, or one a
/// dotted prefix of the other (`3.9` and `3.9.18`).
fn compatible(a: &str, b: &str) -> bool {
    a == b
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('.'))
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('.'))
}

fn choose_version(
    installs: &[Install],
    env: &[(String, String)],
    packages: &[Package],
    disagreements: &mut Vec<String>,
) -> Option<Sourced<String>> {
    let env_version = last_env(env, "PYTHON_VERSION");
    let Some(top) = installs.first() else {
        // No files say anything; a package or the environment is all there is.
        let from_package = packaged_python(packages);
        return match (from_package, env_version) {
            (Some(found), Some(env)) => {
                if !compatible(env, &found.value) {
                    disagreements.push(format!("PYTHON_VERSION={env} (env) but {} says {}", found.source, found.value));
                }
                Some(found)
            }
            (Some(found), None) => Some(found),
            (None, Some(env)) => {
                disagreements.push(format!(
                    "PYTHON_VERSION={env} (env) but no Python interpreter or library directory is in the image"
                ));
                Some(Sourced::new(env.to_owned(), "env PYTHON_VERSION"))
            }
            (None, None) => None,
        };
    };
    let same_prefix: Vec<&Install> = installs.iter().filter(|i| i.local == top.local).collect();
    if same_prefix.len() > 1 {
        let listed: Vec<String> = same_prefix.iter().map(|i| format!("{} ({})", i.minor, i.evidence)).collect();
        disagreements.push(format!(
            "several Python versions under {}: {}",
            if top.local { "/usr/local" } else { "/usr" },
            listed.join(", ")
        ));
    }
    let package = package_version(packages, &top.minor);
    let chosen = match (env_version, &package) {
        (Some(env), _) if top.local && compatible(env, &top.minor) => {
            Sourced::new(env.to_owned(), format!("env PYTHON_VERSION, {}", top.evidence))
        }
        (_, Some(package)) if !top.local => {
            Sourced::new(package.value.clone(), format!("{}, {}", package.source, top.evidence))
        }
        _ => Sourced::new(top.minor.clone(), top.evidence.clone()),
    };
    if let Some(env) = env_version
        && !compatible(env, &chosen.value)
    {
        disagreements.push(format!("PYTHON_VERSION={env} (env) but {} says {}", chosen.source, chosen.value));
    }
    // A package for the same X.Y that the chosen value did not come from must
    // agree with it, unless the package has its own interpreter under /usr:
    // that one is a second Python, reported below, not a contradiction.
    let package_has_own_install = installs.iter().any(|i| !i.local && top.local && i.minor == top.minor);
    if let Some(package) = &package
        && !package_has_own_install
        && !chosen.source.contains(&package.source)
        && !compatible(&package.value, &chosen.value)
    {
        disagreements
            .push(format!("{} says {} but {} says {}", chosen.source, chosen.value, package.source, package.value));
    }
    for other in installs.iter().filter(|i| i.local != top.local) {
        let package = package_version(packages, &other.minor).map(|p| format!(" ({})", p.source)).unwrap_or_default();
        disagreements.push(format!("Python {} is also installed at {}{package}", other.minor, other.evidence));
    }
    Some(chosen)
}

/// A distribution and the site directory it sits in.
struct Located {
    distribution: Distribution,
    site: String,
}

/// Splits `/usr/local/lib/python3.9/site-packages/pip-23.0.1.dist-info/METADATA`
/// into the site directory, the entry in it, and what follows.
fn site_entry(path: &str) -> Option<(String, &str, Option<&str>)> {
    let trimmed = path.trim_start_matches('/');
    let (prefix, rest) = if let Some(rest) = trimmed.strip_prefix("usr/local/lib/") {
        ("/usr/local/lib", rest)
    } else {
        ("/usr/lib", trimmed.strip_prefix("usr/lib/")?)
    };
    let mut parts = rest.splitn(4, '/');
    let python = parts.next()?;
    let site = parts.next()?;
    let entry = parts.next()?;
    let after = parts.next();
    let python_ok = python == "python3" || python == "python2" || minor_of(python).is_some();
    if !python_ok || !matches!(site, "site-packages" | "dist-packages") || entry.is_empty() {
        return None;
    }
    Some((format!("{prefix}/{python}/{site}"), entry, after))
}

fn locate_distributions(
    paths: &[&str],
    files: &[(&str, &[u8])],
    disagreements: &mut Vec<String>,
) -> Result<Vec<Located>, FactError> {
    let content = |path: &str| {
        files.iter().find(|(p, _)| p.trim_start_matches('/') == path.trim_start_matches('/')).map(|(_, bytes)| *bytes)
    };
    // Keyed by the .dist-info/.egg-info path so that its files collapse into one.
    let mut entries: BTreeMap<String, (String, String)> = BTreeMap::new();
    for path in paths {
        let Some((site, entry, _)) = site_entry(path) else {
            continue;
        };
        if entry.ends_with(".dist-info") || entry.ends_with(".egg-info") {
            entries.insert(format!("{site}/{entry}"), (site, entry.to_owned()));
        }
    }
    let mut located = Vec::new();
    for (dist_path, (site, entry)) in entries {
        let from_name = name_from_entry(&entry);
        let metadata = if entry.ends_with(".dist-info") {
            let file = format!("{dist_path}/METADATA");
            content(&file).map(|bytes| (file, bytes))
        } else {
            let file = format!("{dist_path}/PKG-INFO");
            content(&file)
                .map(|bytes| (file, bytes))
                .or_else(|| content(&dist_path).map(|bytes| (dist_path.clone(), bytes)))
        };
        let distribution = match metadata {
            Some((file, bytes)) => {
                let parsed = parse_metadata(bytes, &file)?;
                if let (Some(dir_version), Some(meta_version)) = (&from_name.1, &parsed.version)
                    && dir_version.replace('_', "-") != meta_version.replace('_', "-")
                {
                    disagreements.push(format!(
                        "{file} says {} {meta_version} but its directory name says {dir_version}",
                        parsed.name
                    ));
                }
                parsed
            }
            None => Distribution { name: from_name.0, version: from_name.1, path: dist_path },
        };
        located.push(Located { distribution, site });
    }
    located.sort_by(|a, b| {
        normalize_name(&a.distribution.name)
            .cmp(&normalize_name(&b.distribution.name))
            .then_with(|| a.distribution.path.cmp(&b.distribution.path))
    });
    Ok(located)
}

/// `pip-23.0.1.dist-info` → (`pip`, `23.0.1`); `crit-3.17.1-py3.11.egg-info` →
/// (`crit`, `3.17.1`); `cryptography.egg-info` → (`cryptography`, none).
fn name_from_entry(entry: &str) -> (String, Option<String>) {
    let stem = entry.strip_suffix(".dist-info").or_else(|| entry.strip_suffix(".egg-info")).unwrap_or(entry);
    let mut parts = stem.split('-');
    let name = parts.next().unwrap_or(stem).to_owned();
    let version = parts.next().filter(|v| !v.is_empty()).map(str::to_owned);
    (name, version)
}

fn choose_pip(
    located: &[Located],
    version: Option<&Sourced<String>>,
    installs: &[Install],
    env: &[(String, String)],
    disagreements: &mut Vec<String>,
) -> Option<Sourced<String>> {
    let pips: Vec<&Located> = located
        .iter()
        .filter(|l| normalize_name(&l.distribution.name) == "pip")
        .filter(|l| l.distribution.version.is_some())
        .collect();
    // The site directories of the chosen Python, in its sys.path order.
    let mut preferred: Vec<String> = Vec::new();
    if let (Some(_), Some(top)) = (version, installs.first()) {
        let minor = &top.minor;
        if top.local {
            preferred.push(format!("/usr/local/lib/python{minor}/site-packages"));
        } else {
            preferred.push(format!("/usr/local/lib/python{minor}/dist-packages"));
            preferred.push("/usr/lib/python3/dist-packages".to_owned());
            preferred.push(format!("/usr/lib/python{minor}/site-packages"));
            preferred.push(format!("/usr/lib/python{minor}/dist-packages"));
        }
    }
    let chosen = preferred.iter().find_map(|site| pips.iter().find(|l| &l.site == site)).or_else(|| pips.first())?;
    let chosen_version = chosen.distribution.version.clone()?;
    let same_site: Vec<&&Located> = pips.iter().filter(|l| l.site == chosen.site).collect();
    if same_site.len() > 1 {
        let listed: Vec<&str> = same_site.iter().map(|l| l.distribution.path.as_str()).collect();
        disagreements.push(format!("several pip installs in {}: {}", chosen.site, listed.join(", ")));
    }
    for other in pips.iter().filter(|l| l.site != chosen.site) {
        if let Some(v) = &other.distribution.version
            && v != &chosen_version
        {
            disagreements.push(format!(
                "pip {chosen_version} at {} but pip {v} at {}",
                chosen.distribution.path, other.distribution.path
            ));
        }
    }
    if let Some(env) = last_env(env, "PYTHON_PIP_VERSION")
        && !compatible(env, &chosen_version)
    {
        disagreements
            .push(format!("PYTHON_PIP_VERSION={env} (env) but {} says {chosen_version}", chosen.distribution.path));
    }
    Some(Sourced::new(chosen_version, chosen.distribution.path.clone()))
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

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
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

    /// Runs [`facts`] over the fixture, handing in contents only for [`PATHS`]
    /// matches, as the caller would.
    fn fixture_facts(extra_paths: &[&str], env: &[(String, String)], packages: &[Package]) -> PythonFacts {
        let files = fixture_files();
        let mut paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        paths.extend_from_slice(extra_paths);
        let contents: Vec<(&str, &[u8])> = files
            .iter()
            .filter(|(p, _)| PATHS.iter().any(|pat| super::super::path_matches(pat, p)))
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        facts(&paths, &contents, env, packages).unwrap()
    }

    #[test]
    fn official_python_image_fixture() {
        // python:3.9 (bookworm) builds CPython into /usr/local and also carries
        // Debian's python3.11 from buildpack-deps.
        let got = fixture_facts(
            &[
                "/usr/local/bin/python3",
                "/usr/local/bin/python3.9",
                "/usr/local/bin/python3.9-config",
                "/usr/local/lib/python3.9/os.py",
                "/usr/bin/python3.11",
            ],
            &env(&[
                ("PATH", "/usr/local/bin:/usr/bin"),
                ("PYTHON_VERSION", "3.9.18"),
                ("PYTHON_PIP_VERSION", "23.0.1"),
            ]),
            &[package("python3.11", "3.11.2-6+deb12u6")],
        );
        assert_eq!(got.version, Some(Sourced::new("3.9.18".into(), "env PYTHON_VERSION, /usr/local/bin/python3.9")));
        assert_eq!(
            got.pip,
            Some(Sourced::new("23.0.1".into(), "/usr/local/lib/python3.9/site-packages/pip-23.0.1.dist-info/METADATA"))
        );
        let listed: Vec<(&str, Option<&str>)> =
            got.distributions.iter().map(|d| (d.name.as_str(), d.version.as_deref())).collect();
        assert_eq!(
            listed,
            [
                ("crit", Some("3.17.1")),
                ("numpy", Some("1.25.2")),
                ("pip", Some("23.0.1")),
                ("setuptools", Some("58.1.0")),
                ("six", Some("1.16.0")),
                ("wheel", Some("0.41.2")),
            ]
        );
        assert_eq!(got.distributions[0].path, "/usr/lib/python3/dist-packages/crit-3.17.1-py3.11.egg-info");
        assert_eq!(got.distributions[4].path, "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO");
        assert_eq!(
            got.disagreements,
            ["Python 3.11 is also installed at /usr/bin/python3.11 (package python3.11 3.11.2-6+deb12u6)"]
        );
    }

    #[test]
    fn stale_python_version_env_on_debian_python() {
        // Debian bullseye's python3.9 with pip installs in /usr/local, and a
        // PYTHON_VERSION left over from another base image.
        let paths = [
            "/usr/bin/python3.9",
            "/usr/lib/python3.9/os.py",
            "/usr/local/lib/python3.9/dist-packages/requests-2.31.0.dist-info/RECORD",
        ];
        let got = facts(
            &paths,
            &[],
            &env(&[("PYTHON_VERSION", "3.9.11")]),
            &[package("python3.9", "3.9.2-1"), package("python3.9-minimal", "3.9.2-1")],
        )
        .unwrap();
        assert_eq!(got.version, Some(Sourced::new("3.9.2".into(), "package python3.9 3.9.2-1, /usr/bin/python3.9")));
        assert_eq!(
            got.disagreements,
            ["PYTHON_VERSION=3.9.11 (env) but package python3.9 3.9.2-1, /usr/bin/python3.9 says 3.9.2"]
        );
        assert_eq!(
            got.distributions,
            [Distribution {
                name: "requests".into(),
                version: Some("2.31.0".into()),
                path: "/usr/local/lib/python3.9/dist-packages/requests-2.31.0.dist-info".into(),
            }]
        );
        assert_eq!(got.pip, None);
    }

    #[test]
    fn same_minor_in_usr_local_and_usr() {
        // python:3.9-bullseye: CPython 3.9.18 in /usr/local beside Debian's 3.9.2.
        let paths = ["/usr/local/bin/python3.9", "/usr/bin/python3.9", "/usr/lib/python3.9/os.py"];
        let packages = [package("python3.9", "3.9.2-1")];
        let env = env(&[("PYTHON_VERSION", "3.9.18")]);
        let got = facts(&paths, &[], &env, &packages).unwrap();
        assert_eq!(got.version.map(|v| v.value), Some("3.9.18".into()));
        assert_eq!(
            got.disagreements,
            ["Python 3.9 is also installed at /usr/bin/python3.9 (package python3.9 3.9.2-1)"]
        );
        // Without the /usr interpreter the package contradicts PYTHON_VERSION.
        let got = facts(&["/usr/local/lib/python3.9/os.py"], &[], &env, &packages).unwrap();
        assert_eq!(
            got.disagreements,
            ["env PYTHON_VERSION, /usr/local/lib/python3.9 says 3.9.18 but package python3.9 3.9.2-1 says 3.9.2"]
        );
    }

    #[test]
    fn env_minor_mismatch_and_upgraded_pip() {
        let metadata = b"Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n\nbody\n";
        let got = facts(
            &["/usr/local/bin/python3.11", "/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/RECORD"],
            &[("/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA", metadata)],
            &env(&[("PYTHON_VERSION", "3.10.4"), ("PYTHON_PIP_VERSION", "22.0.4")]),
            &[],
        )
        .unwrap();
        assert_eq!(got.version, Some(Sourced::new("3.11".into(), "/usr/local/bin/python3.11")));
        assert_eq!(got.pip.as_ref().map(|p| p.value.as_str()), Some("24.0"));
        assert_eq!(
            got.disagreements,
            [
                "PYTHON_VERSION=3.10.4 (env) but /usr/local/bin/python3.11 says 3.11",
                "PYTHON_PIP_VERSION=22.0.4 (env) but /usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA says 24.0",
            ]
        );
    }

    #[test]
    fn alpine_python_from_apk() {
        let got = facts(
            &["/usr/bin/python3.11", "/usr/lib/python3.11/site-packages/pip-23.1.2.dist-info/METADATA"],
            &[],
            &[],
            &[package("python3", "3.11.6-r0")],
        )
        .unwrap();
        assert_eq!(got.version, Some(Sourced::new("3.11.6".into(), "package python3 3.11.6-r0, /usr/bin/python3.11")));
        assert_eq!(got.pip.map(|p| p.value), Some("23.1.2".into()));
        assert!(got.disagreements.is_empty());
    }

    #[test]
    fn nothing_but_env() {
        let got = facts(&["/bin/sh"], &[], &env(&[("PYTHON_VERSION", "3.12.1")]), &[]).unwrap();
        assert_eq!(got.version, Some(Sourced::new("3.12.1".into(), "env PYTHON_VERSION")));
        assert_eq!(got.disagreements.len(), 1);
        assert_eq!(facts(&[], &[], &[], &[]).unwrap(), PythonFacts::default());
        // Packages alone, as when only the dpkg database was read.
        let got =
            facts(&[], &[], &[], &[package("python3.9-minimal", "3.9.2-1"), package("python3", "3.9.2-3")]).unwrap();
        assert_eq!(got.version, Some(Sourced::new("3.9.2".into(), "package python3.9-minimal 3.9.2-1")));
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
        // A broken metadata file fails the whole read, naming the file.
        let err =
            facts(&[], &[("/usr/lib/python3/dist-packages/x-1.dist-info/METADATA", b"garbage")], &[], &[]).unwrap_err();
        assert_eq!(err.path(), "/usr/lib/python3/dist-packages/x-1.dist-info/METADATA");
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
        assert_eq!(normalize_name("_x_"), "x");
        assert_eq!(minor_of("python3.9"), Some("3.9"));
        assert_eq!(minor_of("python3.9-config"), None);
        assert_eq!(minor_of("python3"), None);
        assert_eq!(minor_of("python3."), None);
        assert_eq!(name_from_entry("crit-3.17.1-py3.11.egg-info"), ("crit".into(), Some("3.17.1".into())));
        assert_eq!(name_from_entry("cryptography.egg-info"), ("cryptography".into(), None));
        assert!(site_entry("/opt/venv/lib/python3.9/site-packages/x-1.dist-info").is_none());
        assert!(site_entry("/usr/lib/python3.9/lib-dynload/x.so").is_none());
        assert!(compatible("3.9", "3.9.18"));
        assert!(!compatible("3.9.1", "3.9.18"));
    }

    #[test]
    fn dist_info_name_and_metadata_must_agree() {
        let got = facts(
            &[],
            &[("/usr/local/lib/python3.9/site-packages/pip-22.0.dist-info/METADATA", b"Name: pip\nVersion: 23.0.1\n")],
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(got.disagreements.len(), 1, "{:?}", got.disagreements);
        assert!(got.disagreements[0].contains("its directory name says 22.0"));
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        let files = fixture_files();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with("METADATA")) {
            for data in mutations(bytes, 150) {
                let _ = parse_metadata(&data, path);
                let _ = facts(&paths, &[(path.as_str(), data.as_slice())], &[], &[]);
            }
        }
        // Mangled path strings and env values go through the path logic too.
        let joined = paths.join("\n");
        for data in mutations(joined.as_bytes(), 300) {
            let text = String::from_utf8_lossy(&data).into_owned();
            let mangled: Vec<&str> = text.lines().collect();
            let env = vec![("PYTHON_VERSION".to_owned(), text.chars().take(12).collect())];
            let version: String = text.chars().rev().take(9).collect();
            let packages = [package(mangled.first().copied().unwrap_or(""), &version)];
            let _ = facts(&mangled, &[], &env, &packages);
        }
    }
}
