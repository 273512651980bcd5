//! A directory and a file-name test in, the matching files out (sorted), with what was
//! skipped and why counted: the `ignore` crate walks in parallel without following links,
//! its gitignore matchers decide what `.gitignore` hides (only inside a git work tree), and
//! `--include` / `--exclude` globs narrow the result. The walk never leaves the root: a root
//! that is a symlink is resolved once, and symlinks below it are never entered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{Match, WalkBuilder, WalkState};
use serde::Serialize;

use super::{DiscoverError, relative};

/// Directories holding build outputs, never worth entering.
pub const BUILD_DIRS: &[&str] = &["node_modules", "target", "__pycache__"];

/// What the user asked the walk to keep.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// `--no-ignore`: `.gitignore` files are not read.
    pub no_ignore: bool,
    /// `--include GLOB`: keep only matching files (relative paths).
    pub include: Vec<String>,
    /// `--exclude GLOB`: skip matching files and directories.
    pub exclude: Vec<String>,
}

/// How many entries the walk left out, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Wanted files hidden by `.gitignore`.
    pub ignored_files: usize,
    /// Directories hidden by `.gitignore`.
    pub ignored_dirs: usize,
    /// Wanted files and directories matched by `--exclude` (or not by `--include`).
    pub excluded: usize,
    /// Symbolic links (never followed).
    pub symlinks: usize,
    /// Build-output directories (`node_modules`, `target`, `__pycache__`); `.git` is not counted.
    pub build_dirs: usize,
    /// Hidden directories, where the layout skips them (Airbyte's `.archive`).
    pub hidden_dirs: usize,
    /// Wanted names that are not regular files (FIFOs, devices).
    pub not_regular: usize,
    /// Scaffold connectors (Airbyte layout).
    pub scaffolds: usize,
}

impl Skipped {
    /// `2 ignored by .gitignore, 1 symlink not followed`, or empty when nothing was skipped.
    pub fn describe(&self, noun: &str) -> String {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        if self.ignored_files > 0 {
            parts.push(format!("{} ignored by .gitignore", plural(self.ignored_files, noun, &format!("{noun}s"))));
        }
        if self.ignored_dirs > 0 {
            parts.push(format!("{} ignored by .gitignore", plural(self.ignored_dirs, "directory", "directories")));
        }
        if self.excluded > 0 {
            parts.push(format!("{} excluded by --include/--exclude", self.excluded));
        }
        if self.symlinks > 0 {
            parts.push(format!("{} not followed", plural(self.symlinks, "symlink", "symlinks")));
        }
        if self.build_dirs > 0 {
            parts.push(plural(self.build_dirs, "build-output directory", "build-output directories"));
        }
        if self.hidden_dirs > 0 {
            parts.push(plural(self.hidden_dirs, "hidden directory", "hidden directories"));
        }
        if self.not_regular > 0 {
            parts.push(format!("{} not a regular file", self.not_regular));
        }
        if self.scaffolds > 0 {
            parts.push(plural(self.scaffolds, "scaffold connector", "scaffold connectors"));
        }
        parts.join(", ")
    }

    pub fn add(&mut self, other: &Skipped) {
        self.ignored_files += other.ignored_files;
        self.ignored_dirs += other.ignored_dirs;
        self.excluded += other.excluded;
        self.symlinks += other.symlinks;
        self.build_dirs += other.build_dirs;
        self.hidden_dirs += other.hidden_dirs;
        self.not_regular += other.not_regular;
        self.scaffolds += other.scaffolds;
    }
}

/// The files found, sorted, with what was skipped and the problems met.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<PathBuf>,
    pub skipped: Skipped,
    pub errors: Vec<DiscoverError>,
}

#[derive(Debug, thiserror::Error)]
#[error("{flag} {pattern}: {message}")]
pub struct GlobError {
    pub flag: &'static str,
    pub pattern: String,
    pub message: String,
}

fn glob_set(flag: &'static str, patterns: &[String]) -> Result<Option<GlobSet>, GlobError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| GlobError { flag, pattern: p.clone(), message: e.kind().to_string() })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| GlobError { flag, pattern: patterns.join(","), message: e.to_string() })
}

/// The real directory a root names: a symlink given as the root is resolved once.
pub fn resolve_root(root: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(root)
}

/// The git work tree `dir` is in, if any.
fn git_top(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

/// Per-directory `.gitignore` matchers, innermost last, shared by the walker's threads.
struct Ignores {
    chains: Mutex<HashMap<PathBuf, Arc<Vec<Gitignore>>>>,
    exclude: Option<Gitignore>,
    global: Option<Gitignore>,
}

impl Ignores {
    fn new(real_root: &Path) -> Option<Ignores> {
        let top = git_top(real_root)?;
        // The .gitignore files from the work tree's top down to the root apply too.
        let mut chain = Vec::new();
        let above: Vec<&Path> = real_root.ancestors().take_while(|d| d.starts_with(&top)).collect();
        for dir in above.into_iter().rev() {
            chain.extend(matcher(dir));
        }
        let mut chains = HashMap::new();
        chains.insert(real_root.to_path_buf(), Arc::new(chain));
        let exclude = {
            let path = top.join(".git/info/exclude");
            path.is_file().then(|| {
                let mut b = GitignoreBuilder::new(&top);
                b.add(&path);
                b.build().ok()
            })
        }
        .flatten();
        let (global, _) = Gitignore::global();
        Some(Ignores { chains: Mutex::new(chains), exclude, global: (!global.is_empty()).then_some(global) })
    }

    /// The matchers that apply to entries of `dir` (whose parent's chain is known).
    fn chain(&self, dir: &Path) -> Arc<Vec<Gitignore>> {
        if let Some(chain) = self.chains.lock().ok().and_then(|c| c.get(dir).cloned()) {
            return chain;
        }
        let parent = dir.parent().map(|p| self.chain(p)).unwrap_or_default();
        let mut chain: Vec<Gitignore> = parent.as_ref().clone();
        chain.extend(matcher(dir));
        let chain = Arc::new(chain);
        if let Ok(mut c) = self.chains.lock() {
            c.insert(dir.to_path_buf(), chain.clone());
        }
        chain
    }

    fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Some(dir) = path.parent() else { return false };
        let chain = self.chain(dir);
        for gi in chain.iter().rev().chain(self.exclude.iter()).chain(self.global.iter()) {
            match gi.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

fn matcher(dir: &Path) -> Option<Gitignore> {
    let path = dir.join(".gitignore");
    if !path.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(dir);
    builder.add(&path);
    builder.build().ok().filter(|g| !g.is_empty())
}

#[derive(Default)]
struct Counters {
    ignored_files: AtomicUsize,
    ignored_dirs: AtomicUsize,
    excluded: AtomicUsize,
    symlinks: AtomicUsize,
    build_dirs: AtomicUsize,
    hidden_dirs: AtomicUsize,
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Walks `dir` (inside `real_root`, which must be resolved) and keeps the regular files whose
/// name `want` accepts. `skip_hidden`: do not enter directories whose name starts with `.`.
pub fn walk(
    real_root: &Path,
    dir: &Path,
    want: &(dyn Fn(&str) -> bool + Sync),
    skip_hidden: bool,
    options: &WalkOptions,
) -> Result<Walked, GlobError> {
    let include = glob_set("--include", &options.include)?;
    let exclude = glob_set("--exclude", &options.exclude)?;
    let ignores = if options.no_ignore { None } else { Ignores::new(real_root) };
    let counters = Counters::default();
    let found: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let odd: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<DiscoverError>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let walker = WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(threads)
        .build_parallel();
    walker.run(|| {
        let (include, exclude, ignores, counters, found, odd, errors) =
            (&include, &exclude, &ignores, &counters, &found, &odd, &errors);
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = match &e {
                        ignore::Error::WithPath { path, .. } => relative(real_root, path),
                        _ => String::new(),
                    };
                    if let Ok(mut errs) = errors.lock() {
                        errs.push(DiscoverError::Walk { path, message: io_message(&e) });
                    }
                    return WalkState::Continue;
                }
            };
            if entry.depth() == 0 {
                return WalkState::Continue;
            }
            let Some(file_type) = entry.file_type() else { return WalkState::Continue };
            let name = entry.file_name().to_string_lossy();
            let path = entry.path();
            if file_type.is_symlink() {
                if want(&name) || std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
                    bump(&counters.symlinks);
                    if want(&name)
                        && let Ok(target) = std::fs::canonicalize(path)
                        && !target.starts_with(real_root)
                        && let Ok(mut o) = odd.lock()
                    {
                        o.push((path.to_path_buf(), "links outside the repository, not read".into()));
                    }
                }
                return WalkState::Continue;
            }
            let rel = || relative(real_root, path);
            if file_type.is_dir() {
                if name == ".git" {
                    return WalkState::Skip;
                }
                if BUILD_DIRS.contains(&name.as_ref()) {
                    bump(&counters.build_dirs);
                    return WalkState::Skip;
                }
                if skip_hidden && name.starts_with('.') {
                    bump(&counters.hidden_dirs);
                    return WalkState::Skip;
                }
                if exclude.as_ref().is_some_and(|g| g.is_match(rel())) {
                    bump(&counters.excluded);
                    return WalkState::Skip;
                }
                if ignores.as_ref().is_some_and(|i| i.is_ignored(path, true)) {
                    bump(&counters.ignored_dirs);
                    return WalkState::Skip;
                }
                return WalkState::Continue;
            }
            if !want(&name) {
                return WalkState::Continue;
            }
            if ignores.as_ref().is_some_and(|i| i.is_ignored(path, false)) {
                bump(&counters.ignored_files);
                return WalkState::Continue;
            }
            let rel = rel();
            if exclude.as_ref().is_some_and(|g| g.is_match(&rel)) || include.as_ref().is_some_and(|g| !g.is_match(&rel))
            {
                bump(&counters.excluded);
                return WalkState::Continue;
            }
            if !file_type.is_file() {
                if let Ok(mut o) = odd.lock() {
                    o.push((path.to_path_buf(), "not a regular file, not read".into()));
                }
                return WalkState::Continue;
            }
            if let Ok(mut f) = found.lock() {
                f.push(path.to_path_buf());
            }
            WalkState::Continue
        })
    });
    let mut files = found.into_inner().unwrap_or_default();
    files.sort();
    let mut errors = errors.into_inner().unwrap_or_default();
    let odd = odd.into_inner().unwrap_or_default();
    let not_regular = odd.iter().filter(|(_, m)| m.starts_with("not a regular")).count();
    for (path, message) in odd {
        errors.push(DiscoverError::Walk { path: relative(real_root, &path), message });
    }
    let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    let skipped = Skipped {
        ignored_files: get(&counters.ignored_files),
        ignored_dirs: get(&counters.ignored_dirs),
        excluded: get(&counters.excluded),
        symlinks: get(&counters.symlinks),
        build_dirs: get(&counters.build_dirs),
        hidden_dirs: get(&counters.hidden_dirs),
        not_regular,
        scaffolds: 0,
    };
    Ok(Walked { files, skipped, errors })
}

fn io_message(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => io_message(err),
        ignore::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(w: &Walked, root: &Path) -> Vec<String> {
        w.files.iter().map(|p| relative(root, p)).collect()
    }

    #[test]
    fn gitignore_only_in_a_work_tree_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = resolve_root(tmp.path()).unwrap();
        std::fs::create_dir_all(root.join("a/.devcontainer")).unwrap();
        std::fs::create_dir_all(root.join("gen/x")).unwrap();
        std::fs::write(root.join("a/.devcontainer/Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(root.join("gen/x/Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(root.join("Dockerfile.tmp"), "FROM x\n").unwrap();
        std::fs::write(root.join(".gitignore"), "gen/\n*.tmp\n").unwrap();
        let want = |n: &str| n.starts_with("Dockerfile");
        let opts = WalkOptions::default();
        // Not a git work tree: .gitignore is not read.
        let w = walk(&root, &root, &want, false, &opts).unwrap();
        assert_eq!(names(&w, &root).len(), 3);
        std::fs::create_dir(root.join(".git")).unwrap();
        let w = walk(&root, &root, &want, false, &opts).unwrap();
        assert_eq!(names(&w, &root), vec!["a/.devcontainer/Dockerfile"]);
        assert_eq!((w.skipped.ignored_files, w.skipped.ignored_dirs, w.skipped.build_dirs), (1, 1, 0));
        let w = walk(&root, &root, &want, false, &WalkOptions { no_ignore: true, ..opts.clone() }).unwrap();
        assert_eq!(names(&w, &root).len(), 3);
        let w =
            walk(&root, &root, &want, false, &WalkOptions { exclude: vec!["a/**".into()], ..opts.clone() }).unwrap();
        assert!(w.files.is_empty());
        assert_eq!(w.skipped.excluded, 1);
    }

    #[test]
    fn never_leaves_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("Dockerfile"), "FROM secret\n").unwrap();
        let real = resolve_root(tmp.path()).unwrap();
        std::fs::create_dir(real.join("repo")).unwrap();
        let repo = real.join("repo");
        std::fs::write(repo.join("Dockerfile"), "FROM x\n").unwrap();
        symlink("/", repo.join("rootlink")).unwrap();
        symlink(outside.path(), repo.join("outdir")).unwrap();
        symlink(outside.path().join("Dockerfile"), repo.join("Dockerfile.leak")).unwrap();
        // A root that is itself a symlink is resolved once.
        symlink(&repo, real.join("link-to-repo")).unwrap();
        let root = resolve_root(&real.join("link-to-repo")).unwrap();
        assert_eq!(root, repo);
        let w = walk(&root, &root, &|n: &str| n.starts_with("Dockerfile"), false, &WalkOptions::default()).unwrap();
        assert_eq!(names(&w, &root), vec!["Dockerfile"]);
        assert_eq!(w.skipped.symlinks, 3);
        assert!(w.errors.iter().any(|e| e.message() == "links outside the repository, not read"), "{:?}", w.errors);
    }
}
