//! The merged image tree, its environment, OS packages and user in; [`PythonEnv`] out: the
//! interpreters on `PATH` and the one `python3` (then `python`) selects, its version, the
//! site directories in `sys.path` order, and the distributions `python3 -m pip list` would
//! show (the first of a name wins; the ones it shadows are kept as evidence).
//!
//! The version comes, in order of trust, from `include/pythonX.Y/patchlevel.h` of the
//! interpreter's prefix, from the version string compiled into the interpreter (a
//! NUL-delimited `X.Y.Z` literal, the way syft's binary classifier finds it), from the dpkg
//! or apk package of a `/usr` interpreter, then from the `pythonX.Y` name alone. A
//! `PYTHON_VERSION` or `PYTHON_PIP_VERSION` variable is a claim that is checked, never a
//! source. Unlike the other readers this one walks the [`FileTree`], because `PATH` lookup
//! and `sys.path` need symlinks resolved in the merged view.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::python::{
    Distribution, compatible, minor_of, name_from_entry, normalize_name, package_version, parse_metadata,
};
use super::{Package, Sourced};
use crate::inspect::image::FileTree;
use crate::inspect::layers::EntryKind;
use crate::inspect::warning::{Warning, WarningCode};

/// The engine's `PATH` when the config sets none (Docker's and containerd's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One interpreter found on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// Where `PATH` finds it (`/usr/bin/python3`).
    pub path: String,
    /// With every symlink resolved (`/usr/bin/python3.11`).
    pub real_path: String,
    pub version: Option<String>,
    /// Where the version was read.
    pub version_source: Option<String>,
    /// The one `python3` (or, without one, `python`) runs.
    pub selected: bool,
    /// The virtual environment it belongs to (the directory holding `pyvenv.cfg`).
    pub venv: Option<String>,
}

/// Everything about the image's Python.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonEnv {
    pub interpreters: Vec<Interpreter>,
    pub version: Option<Sourced<String>>,
    pub pip: Option<Sourced<String>>,
    /// Site directories of the selected interpreter, in `sys.path` order.
    pub site_dirs: Vec<String>,
    /// What `pip list` shows, sorted by normalized name.
    pub distributions: Vec<Distribution>,
    /// Distributions hidden by an earlier one of the same name.
    pub shadowed: Vec<Distribution>,
    pub warnings: Vec<Warning>,
}

/// What the reader needs besides the tree.
pub struct Context<'a> {
    pub env: &'a [(String, String)],
    pub packages: &'a [Package],
    /// Debian or a derivative: a `/usr` Python uses `dist-packages`.
    pub debian: bool,
    /// The image user's home directory from passwd, when known.
    pub home: Option<&'a str>,
}

fn last_env<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn clean_dir(dir: &str) -> Option<String> {
    let trimmed = dir.trim_end_matches('/');
    (dir.starts_with('/')).then(|| if trimmed.is_empty() { "/".to_owned() } else { trimmed.to_owned() })
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") }
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

fn path_dirs(env: &[(String, String)]) -> Vec<String> {
    let path = last_env(env, "PATH").unwrap_or(DEFAULT_PATH);
    let mut seen = BTreeSet::new();
    path.split(':').filter_map(clean_dir).filter(|d| seen.insert(d.clone())).collect()
}

/// The metadata files of the distributions in site directory `site`.
fn site_patterns(site: &str, out: &mut Vec<String>) {
    for tail in ["*.dist-info/METADATA", "*.dist-info/WHEEL", "*.egg-info", "*.egg-info/PKG-INFO"] {
        out.push(join(site, tail));
    }
}

/// The image paths this reader needs, given the config's environment (for `PATH`, `HOME`,
/// `PYTHONPATH` and `PYTHONUSERBASE`). User sites are looked for in `/root`, `/home/*`,
/// every top-level directory (`/airbyte`) and `$HOME`.
pub fn wanted_paths(env: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefixes: Vec<String> = vec!["/usr".into(), "/usr/local".into()];
    for dir in path_dirs(env) {
        out.push(join(&dir, "python*"));
        out.push(join(&dir, "pyvenv.cfg"));
        prefixes.push(parent(&dir));
    }
    for prefix in &prefixes {
        out.push(join(prefix, "pyvenv.cfg"));
        out.push(join(prefix, "include/python*/patchlevel.h"));
        site_patterns(&join(prefix, "lib/python*/site-packages"), &mut out);
        site_patterns(&join(prefix, "lib/python*/dist-packages"), &mut out);
    }
    let mut homes: Vec<String> = vec!["/root".into(), "/home/*".into(), "/*".into()];
    homes.extend(last_env(env, "HOME").and_then(clean_dir));
    let mut bases: Vec<String> = homes.iter().map(|h| join(h, ".local")).collect();
    bases.extend(last_env(env, "PYTHONUSERBASE").and_then(clean_dir));
    for base in bases {
        site_patterns(&join(&base, "lib/python*/site-packages"), &mut out);
    }
    for dir in last_env(env, "PYTHONPATH").unwrap_or("").split(':').filter_map(clean_dir) {
        site_patterns(&dir, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn executable(tree: &dyn FileTree, path: &str) -> bool {
    tree.get(path).is_some_and(|e| e.kind == EntryKind::File && e.mode & 0o111 != 0)
}

/// `pyvenv.cfg` of the environment an executable at `path` belongs to: beside it or one
/// level up, as CPython's `getpath` looks. Returns (venv dir, home, include system site,
/// version).
fn venv_of(tree: &dyn FileTree, path: &str) -> Option<(String, Option<String>, bool, Option<String>)> {
    let bin = parent(path);
    for dir in [bin.clone(), parent(&bin)] {
        let Some(bytes) = tree.get(&join(&dir, "pyvenv.cfg")).and_then(|e| e.content.as_deref()) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let mut home = None;
        let mut system = false;
        let mut version = None;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else { continue };
            match k.trim() {
                "home" => home = Some(v.trim().to_owned()),
                "include-system-site-packages" => system = v.trim().eq_ignore_ascii_case("true"),
                "version" | "version_info" => version = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        return Some((dir, home, system, version));
    }
    None
}

/// `#define PY_VERSION "3.12.4"` in a `patchlevel.h`.
pub fn patchlevel_version(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("#define")?.trim_start();
        let rest = rest.strip_prefix("PY_VERSION")?.trim();
        let value = rest.strip_prefix('"')?.split('"').next()?;
        (!value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+'))
            .then(|| value.to_owned())
    })
}

/// The `X.Y.Z` literal CPython compiles into the interpreter (`PY_VERSION`), NUL-delimited,
/// for a known `X.Y`. Reads at most the first 64 MiB.
pub fn binary_version(bytes: &[u8], minor: &str) -> Option<String> {
    let bytes = &bytes[..bytes.len().min(64 << 20)];
    let needle: Vec<u8> = [b"\0".as_slice(), minor.as_bytes(), b"."].concat();
    let mut from = 0;
    while from + needle.len() <= bytes.len() {
        let at = bytes[from..].windows(needle.len()).position(|w| w == needle.as_slice())? + from;
        let start = at + 1;
        let rest = &bytes[at + needle.len()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let suffix = rest[digits..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'+').count();
        if digits > 0 && digits <= 3 && suffix <= 8 && rest.get(digits + suffix) == Some(&0) {
            let end = at + needle.len() + digits + suffix;
            return std::str::from_utf8(&bytes[start..end]).ok().map(str::to_owned);
        }
        from = at + 1;
    }
    None
}

/// The `X.Y` of an interpreter file name (`python3.11`), or of the single `lib/pythonX.Y`
/// directory with a standard library under `prefix`.
fn minor_for(tree: &dyn FileTree, real_path: &str, prefix: &str) -> Option<String> {
    let name = real_path.rsplit('/').next().unwrap_or("");
    if let Some(minor) = minor_of(name) {
        return Some(minor.to_owned());
    }
    let mut found: Vec<String> = tree
        .matches(&join(prefix, "include/python*/patchlevel.h"))
        .into_iter()
        .filter_map(|(p, _)| p.split('/').rev().nth(1).and_then(minor_of).map(str::to_owned))
        .collect();
    found.dedup();
    if found.len() == 1 {
        return found.pop();
    }
    None
}

/// Reads the Python facts of an image.
pub fn read(tree: &dyn FileTree, cx: &Context<'_>) -> PythonEnv {
    let mut out = PythonEnv::default();
    let dirs = path_dirs(cx.env);
    // PATH order, python3 first: what `python3`/`python` in a shell or an exec form run.
    let mut found: Vec<(String, String)> = Vec::new();
    let mut selected: Option<(String, String)> = None;
    for name in ["python3", "python"] {
        for dir in &dirs {
            let path = join(dir, name);
            if executable(tree, &path) {
                let real = tree.real_path(&path).unwrap_or_else(|| path.clone());
                if selected.is_none() {
                    selected = Some((path.clone(), real.clone()));
                }
                found.push((path, real));
            }
        }
        if selected.is_some() && name == "python3" {
            // `python` is listed too when it is another interpreter.
        }
    }
    for dir in &dirs {
        for (path, _) in tree.matches(&join(dir, "python*")) {
            let file = path.rsplit('/').next().unwrap_or("");
            if minor_of(file).is_some() && executable(tree, &path) {
                let real = tree.real_path(&path).unwrap_or_else(|| path.clone());
                found.push((path, real));
            }
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|(path, real)| {
        let venv = venv_of(tree, path).map(|v| v.0);
        seen.insert((real.clone(), venv))
    });

    let Some((path, real)) = selected else {
        return without_interpreter(tree, cx, out);
    };
    for (p, r) in &found {
        let (version, source) = interpreter_version(tree, cx, p, r, &mut Vec::new());
        out.interpreters.push(Interpreter {
            path: p.clone(),
            real_path: r.clone(),
            version: version.clone(),
            version_source: source,
            selected: *p == path,
            venv: venv_of(tree, p).map(|v| v.0),
        });
    }
    let mut conflicts = Vec::new();
    let (version, source) = interpreter_version(tree, cx, &path, &real, &mut conflicts);
    out.warnings.extend(conflicts);
    let base_prefix = parent(&parent(&real));
    let minor = version
        .as_deref()
        .map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."))
        .or_else(|| minor_for(tree, &real, &base_prefix));
    if let (Some(v), Some(s)) = (&version, &source) {
        out.version = Some(Sourced::new(v.clone(), format!("{path}: {s}")));
    }
    if let Some(claim) = last_env(cx.env, "PYTHON_VERSION").map(str::trim).filter(|v| !v.is_empty())
        && let Some(v) = &version
        && !compatible(claim, v)
    {
        out.warnings.push(Warning::new(
            WarningCode::PythonEnvMismatch,
            format!("PYTHON_VERSION={claim} (env) but {path} is Python {v} ({})", source.as_deref().unwrap_or("-")),
        ));
    }
    let Some(minor) = minor else {
        return out;
    };
    out.site_dirs = site_dirs(tree, cx, &path, &base_prefix, &minor);
    list_distributions(tree, &mut out);
    check_pip(cx, &mut out);
    out
}

/// The version of one interpreter and where it came from; disagreeing sources go to
/// `conflicts`.
fn interpreter_version(
    tree: &dyn FileTree,
    cx: &Context<'_>,
    path: &str,
    real: &str,
    conflicts: &mut Vec<Warning>,
) -> (Option<String>, Option<String>) {
    let base_prefix = parent(&parent(real));
    let Some(minor) = minor_for(tree, real, &base_prefix) else {
        return (None, None);
    };
    let mut sources: Vec<(String, String)> = Vec::new();
    let header = join(&base_prefix, &format!("include/python{minor}/patchlevel.h"));
    if let Some(v) = tree.get(&header).and_then(|e| e.content.as_deref()).and_then(patchlevel_version) {
        sources.push((v, header));
    }
    if let Some(v) = tree.get(real).and_then(|e| e.content.as_deref()).and_then(|b| binary_version(b, &minor)) {
        sources.push((v, format!("version string in {real}")));
    }
    if (base_prefix == "/usr" || base_prefix == "/")
        && let Some(p) = package_version(cx.packages, &minor)
    {
        sources.push((p.value, p.source));
    }
    if let Some((_, _, _, Some(claim))) = venv_of(tree, path) {
        // pyvenv.cfg records the version the venv was made with: evidence, not a source.
        if let Some((v, s)) = sources.first()
            && !compatible(&claim, v)
        {
            conflicts.push(Warning::new(
                WarningCode::PythonVersionConflict,
                format!("{}/pyvenv.cfg says version {claim} but {s} says {v}", parent(&parent(path))),
            ));
        }
    }
    let Some((value, source)) = sources.first().cloned() else {
        return (Some(minor), Some(format!("the name {}", real.rsplit('/').next().unwrap_or(real))));
    };
    for (v, s) in &sources[1..] {
        if !compatible(v, &value) {
            conflicts.push(Warning::new(
                WarningCode::PythonVersionConflict,
                format!("{source} says Python {value} but {s} says {v}"),
            ));
        }
    }
    (Some(value), Some(source))
}

/// The site directories of the interpreter at `path` (prefix `base_prefix`), in `sys.path`
/// order: `PYTHONPATH`, the user site, then the venv's or the installation's own.
fn site_dirs(tree: &dyn FileTree, cx: &Context<'_>, path: &str, base_prefix: &str, minor: &str) -> Vec<String> {
    let mut dirs: Vec<String> = last_env(cx.env, "PYTHONPATH").unwrap_or("").split(':').filter_map(clean_dir).collect();
    let venv = venv_of(tree, path);
    let user_site_enabled = last_env(cx.env, "PYTHONNOUSERSITE").is_none_or(str::is_empty)
        && venv.as_ref().is_none_or(|(_, _, system, _)| *system);
    if user_site_enabled {
        let home = last_env(cx.env, "HOME").map(str::to_owned).or_else(|| cx.home.map(str::to_owned));
        let base = last_env(cx.env, "PYTHONUSERBASE")
            .and_then(clean_dir)
            .or_else(|| home.and_then(|h| clean_dir(&h)).map(|h| join(&h, ".local")));
        if let Some(base) = base {
            dirs.push(join(&base, &format!("lib/python{minor}/site-packages")));
        }
    }
    if let Some((dir, _, system, _)) = &venv {
        dirs.push(join(dir, &format!("lib/python{minor}/site-packages")));
        if !system {
            return dirs;
        }
    }
    let debian_layout = base_prefix == "/usr" && (cx.debian || tree.get("/usr/lib/python3/dist-packages").is_some());
    if debian_layout {
        dirs.push(format!("/usr/local/lib/python{minor}/dist-packages"));
        dirs.push("/usr/lib/python3/dist-packages".to_owned());
        dirs.push(format!("/usr/lib/python{minor}/dist-packages"));
    } else {
        dirs.push(join(base_prefix, &format!("lib/python{minor}/site-packages")));
    }
    let mut seen = BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Every distribution in the site directories, the first of a name listed and the later
/// ones kept as shadowed.
fn list_distributions(tree: &dyn FileTree, out: &mut PythonEnv) {
    let mut listed: Vec<Distribution> = Vec::new();
    let mut names = BTreeSet::new();
    for site in out.site_dirs.clone() {
        let mut entries: BTreeSet<String> = BTreeSet::new();
        for pattern in ["*.dist-info/METADATA", "*.egg-info", "*.egg-info/PKG-INFO"] {
            for (p, _) in tree.matches(&join(&site, pattern)) {
                let rel = &p[site.len().min(p.len())..];
                if let Some(entry) = rel.trim_start_matches('/').split('/').next() {
                    entries.insert(entry.to_owned());
                }
            }
        }
        for entry in entries {
            let dist_path = join(&site, &entry);
            let dist = distribution(tree, &dist_path, &entry, &mut out.warnings);
            if names.insert(normalize_name(&dist.name)) {
                listed.push(dist);
            } else {
                out.shadowed.push(dist);
            }
        }
    }
    listed.sort_by(|a, b| normalize_name(&a.name).cmp(&normalize_name(&b.name)).then_with(|| a.path.cmp(&b.path)));
    out.pip = listed
        .iter()
        .find(|d| normalize_name(&d.name) == "pip")
        .and_then(|d| d.version.clone().map(|v| Sourced::new(v, d.path.clone())));
    out.distributions = listed;
}

fn distribution(tree: &dyn FileTree, dist_path: &str, entry: &str, warnings: &mut Vec<Warning>) -> Distribution {
    let content = |p: &str| tree.get(p).filter(|e| e.kind == EntryKind::File).and_then(|e| e.content.as_deref());
    let from_name = name_from_entry(entry);
    let metadata = if entry.ends_with(".dist-info") {
        let file = join(dist_path, "METADATA");
        content(&file).map(|b| (file, b))
    } else {
        let file = join(dist_path, "PKG-INFO");
        content(&file).map(|b| (file, b)).or_else(|| content(dist_path).map(|b| (dist_path.to_owned(), b)))
    };
    match metadata.map(|(file, bytes)| parse_metadata(bytes, &file)) {
        Some(Ok(parsed)) => {
            if let (Some(dir_version), Some(meta_version)) = (&from_name.1, &parsed.version)
                && dir_version.replace('_', "-") != meta_version.replace('_', "-")
            {
                warnings.push(Warning::new(
                    WarningCode::PythonMetadata,
                    format!(
                        "{} says {} {meta_version} but its directory name says {dir_version}",
                        parsed.path, parsed.name
                    ),
                ));
            }
            parsed
        }
        Some(Err(e)) => {
            warnings.push(Warning::new(WarningCode::UnreadableFile, e.to_string()));
            Distribution { name: from_name.0, version: from_name.1, path: dist_path.to_owned() }
        }
        None => Distribution { name: from_name.0, version: from_name.1, path: dist_path.to_owned() },
    }
}

fn check_pip(cx: &Context<'_>, out: &mut PythonEnv) {
    let Some(claim) = last_env(cx.env, "PYTHON_PIP_VERSION").map(str::trim).filter(|v| !v.is_empty()) else {
        return;
    };
    match &out.pip {
        Some(pip) if !compatible(claim, &pip.value) => out.warnings.push(Warning::new(
            WarningCode::PipEnvMismatch,
            format!("PYTHON_PIP_VERSION={claim} (env) but `python3 -m pip` runs pip {} ({})", pip.value, pip.source),
        )),
        Some(_) => {}
        None => out.warnings.push(Warning::new(
            WarningCode::PipEnvMismatch,
            format!("PYTHON_PIP_VERSION={claim} (env) but the interpreter has no pip"),
        )),
    }
}

/// No `python3` or `python` on `PATH`: a standard library directory (`lib/pythonX.Y` with a
/// `site-packages`) or a package still says which Python the image carries, with a warning.
fn without_interpreter(tree: &dyn FileTree, cx: &Context<'_>, mut out: PythonEnv) -> PythonEnv {
    let mut libs: Vec<(String, String)> = Vec::new();
    for prefix in ["/usr/local", "/usr"] {
        for (p, _) in tree.matches(&join(prefix, "lib/python*/site-packages")) {
            if let Some(minor) = p.split('/').rev().nth(1).and_then(minor_of) {
                libs.push((prefix.to_owned(), minor.to_owned()));
            }
        }
    }
    let claim = last_env(cx.env, "PYTHON_VERSION").map(str::trim).filter(|v| !v.is_empty());
    let packaged = (!cx.packages.is_empty()).then(|| super::python::packaged_python(cx.packages)).flatten();
    if let Some((prefix, minor)) = libs.first().cloned() {
        let lib = join(&prefix, &format!("lib/python{minor}"));
        let header = join(&prefix, &format!("include/python{minor}/patchlevel.h"));
        let version = match tree.get(&header).and_then(|e| e.content.as_deref()).and_then(patchlevel_version) {
            Some(v) => Sourced::new(v, header),
            None => Sourced::new(minor.clone(), lib.clone()),
        };
        out.warnings.push(Warning::new(
            WarningCode::PythonNotOnPath,
            format!("Python {} is installed at {lib} but no python3 or python is on PATH", version.value),
        ));
        if let Some(claim) = claim
            && !compatible(claim, &version.value)
        {
            out.warnings.push(Warning::new(
                WarningCode::PythonEnvMismatch,
                format!("PYTHON_VERSION={claim} (env) but {} says {}", version.source, version.value),
            ));
        }
        out.version = Some(version);
        let fake_path = join(&prefix, &format!("bin/python{minor}"));
        out.site_dirs = site_dirs(tree, cx, &fake_path, &prefix, &minor);
        list_distributions(tree, &mut out);
        check_pip(cx, &mut out);
    } else if let Some(found) = packaged {
        out.warnings.push(Warning::new(
            WarningCode::PythonNotOnPath,
            format!("{} is installed but no python3 or python is on PATH", found.source),
        ));
        out.version = Some(found);
    } else if let Some(claim) = claim {
        out.warnings.push(Warning::new(
            WarningCode::PythonNotOnPath,
            format!("PYTHON_VERSION={claim} (env) but the image has no Python interpreter"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_literals() {
        assert_eq!(patchlevel_version(b"/* x */\n#define PY_VERSION      \"3.12.4\"\n").as_deref(), Some("3.12.4"));
        assert_eq!(patchlevel_version(b"#define PY_MINOR_VERSION 12\n"), None);
        let mut binary = vec![0u8; 100];
        binary.extend_from_slice(b"\x003.11\x00x3.11.2 (main)\x003.11.2\x00tail");
        assert_eq!(binary_version(&binary, "3.11").as_deref(), Some("3.11.2"));
        assert_eq!(binary_version(b"\x003.9.18rc1\x00", "3.9").as_deref(), Some("3.9.18rc1"));
        assert_eq!(binary_version(b"\x003.9.\x00 \x003.9", "3.9"), None);
        assert_eq!(binary_version(b"", "3.9"), None);
    }

    #[test]
    fn queries_follow_the_environment() {
        let env = vec![
            ("PATH".to_owned(), "/opt/venv/bin:/usr/bin".to_owned()),
            ("HOME".to_owned(), "/var/lib/app".to_owned()),
            ("PYTHONPATH".to_owned(), "/app/lib:relative".to_owned()),
        ];
        let paths = wanted_paths(&env);
        for want in [
            "/opt/venv/bin/python*",
            "/opt/venv/pyvenv.cfg",
            "/opt/venv/lib/python*/site-packages/*.dist-info/METADATA",
            "/usr/include/python*/patchlevel.h",
            "/var/lib/app/.local/lib/python*/site-packages/*.dist-info/METADATA",
            "/home/*/.local/lib/python*/site-packages/*.dist-info/METADATA",
            "/app/lib/*.dist-info/METADATA",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} not in {paths:#?}");
        }
        assert!(!paths.iter().any(|p| p.contains("relative")));
        assert_eq!(path_dirs(&[]).len(), 6);
    }
}
