//! The merged state in, answers out: `MergedView` resolves queried paths through the final
//! symlinks (`get`, `lookup`, `lstat`, `read_link`, `matches`, `exists`) and explains misses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::index::{PathIndex, Tag};
use super::path::{Comp, Pattern, display, join};
use super::plan::under;
use super::resolve::{Nodes, ResolveError, resolve};
use super::{Entry, EntryKind};

/// Why `lookup` found nothing. Paths are absolute (`/usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Nothing at that path in the merged image.
    NotFound { path: String },
    /// The last link of the chain points at nothing.
    DeadLink { link: String, target: String },
    /// More than `max_symlink_hops` links (a cycle, or a silly chain).
    SymlinkLoop { path: String },
    /// A component before the last is a file.
    NotADirectory { path: String },
    /// The path exists in the image but was not asked for (or, rarely, was streamed before
    /// the symlink that made it wanted; a warning says so).
    NotCaptured { path: String },
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::NotFound { path } => write!(f, "{path}: no such file"),
            Miss::DeadLink { link, target } => write!(f, "{link}: dangling symlink to `{target}`"),
            Miss::SymlinkLoop { path } => write!(f, "{path}: too many levels of symlinks"),
            Miss::NotADirectory { path } => write!(f, "{path}: not a directory"),
            Miss::NotCaptured { path } => write!(f, "{path}: exists but was not captured"),
        }
    }
}

/// Counters about one merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub layers: usize,
    /// Fewer than `layers` when top-down reading stopped early.
    pub layers_read: usize,
    pub stopped_early: bool,
    pub entries_seen: u64,
    pub indexed_paths: usize,
    pub captured_bytes: u64,
}

/// Bounds `matches` on link farms: at least this many steps, and four per kept path, so that
/// a wide directory (100,000 `*.dist-info` folders) is matched whole while a farm of links
/// that multiply paths stays bounded.
const MAX_MATCH_STEPS: usize = 200_000;

/// The merged image restricted to the queried paths (plus every symlink, which resolution
/// needs). Paths given to its methods may start with `/` or not. After a top-down early stop
/// (`stats.stopped_early`), answers about paths outside the query ignore the unread layers.
pub struct MergedView {
    nodes: Nodes,
    index: PathIndex,
    max_hops: usize,
    pub warnings: Vec<String>,
    pub stats: MergeStats,
}

impl fmt::Debug for MergedView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergedView")
            .field("entries", &self.nodes.len())
            .field("warnings", &self.warnings)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl MergedView {
    pub(crate) fn new(nodes: Nodes, index: PathIndex, max_hops: usize, stats: MergeStats) -> MergedView {
        MergedView { nodes, index, max_hops, warnings: Vec::new(), stats }
    }

    /// The entry at `path` with every symlink followed, including the last one.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.lookup(path).ok().map(|(_, e)| e)
    }

    /// Like `get`, but says where the file physically is, or why there is nothing.
    pub fn lookup(&self, path: &str) -> Result<(String, &Entry), Miss> {
        let r = match resolve(&self.nodes, path, true, self.max_hops, &mut |_| {}) {
            Ok(r) => r,
            Err(ResolveError::Loop(p)) => return Err(Miss::SymlinkLoop { path: display(&p) }),
            Err(ResolveError::NotDir(p)) => {
                return Err(Miss::NotADirectory { path: display(&p) });
            }
            Err(ResolveError::EmptyTarget(p)) => {
                return Err(Miss::DeadLink { link: display(&p), target: String::new() });
            }
        };
        if let Some(n) = self.nodes.get(&r.path) {
            return Ok((display(&r.path), &n.entry));
        }
        if self.index.alive(&r.path).is_some() {
            return Err(Miss::NotCaptured { path: display(&r.path) });
        }
        match r.final_link {
            Some((link, target)) => Err(Miss::DeadLink { link: display(&link), target }),
            None => Err(Miss::NotFound { path: display(&r.path) }),
        }
    }

    /// The entry at `path` without following a final symlink (ancestors are followed).
    pub fn lstat(&self, path: &str) -> Option<&Entry> {
        let r = resolve(&self.nodes, path, false, self.max_hops, &mut |_| {}).ok()?;
        self.nodes.get(&r.path).map(|n| &n.entry)
    }

    /// The raw target of the symlink at `path` (ancestors followed).
    pub fn read_link(&self, path: &str) -> Option<&str> {
        match &self.lstat(path)?.kind {
            EntryKind::Symlink(t) => Some(t),
            _ => None,
        }
    }

    /// Whether `path` exists in the merged image (links followed), captured or not. After a
    /// top-down early stop this is authoritative only for the queried paths.
    pub fn exists(&self, path: &str) -> bool {
        match resolve(&self.nodes, path, true, self.max_hops, &mut |_| {}) {
            Ok(r) => self.nodes.contains_key(&r.path) || self.index.alive(&r.path).is_some(),
            Err(_) => false,
        }
    }

    /// What `path` is (links followed), from the captured entry or else from the path index.
    pub fn kind(&self, path: &str) -> Option<EntryKind> {
        match self.lookup(path) {
            Ok((_, entry)) => Some(entry.kind.clone()),
            Err(Miss::NotCaptured { path }) => match self.index.alive(path.trim_start_matches('/'))? {
                Tag::Dir | Tag::ImplicitDir => Some(EntryKind::Dir),
                Tag::File => Some(EntryKind::File),
                Tag::Other => Some(EntryKind::Other),
                Tag::Symlink => None,
            },
            Err(_) => None,
        }
    }

    pub(crate) fn exists_physical_file(&self, path: &str) -> bool {
        matches!(self.index.alive(path.trim_start_matches('/')), Some(Tag::File | Tag::Other))
    }

    /// Every captured path matching `pattern` (`*` within one component), reached through
    /// symlinks like `get` does, as (logical absolute path, entry), sorted by path. Dead links
    /// and uncaptured paths are left out; an invalid pattern matches nothing.
    pub fn matches(&self, pattern: &str) -> Vec<(String, &Entry)> {
        let Ok(pattern) = Pattern::parse(pattern) else {
            return Vec::new();
        };
        let comps = pattern.comps();
        let mut found: BTreeMap<String, &Entry> = BTreeMap::new();
        // (logical path, physical path, next component)
        let mut stack: Vec<(String, String, usize)> = vec![(String::new(), String::new(), 0)];
        let mut steps = 0usize;
        let budget = MAX_MATCH_STEPS.max(self.nodes.len().saturating_mul(4));
        while let Some((logical, physical, i)) = stack.pop() {
            steps += 1;
            if steps > budget {
                break;
            }
            if i == comps.len() {
                if let Some(n) = self.nodes.get(&physical) {
                    found.insert(display(&logical), &n.entry);
                }
                continue;
            }
            let names: Vec<String> = match &comps[i] {
                Comp::Literal(name) => vec![name.clone()],
                Comp::Glob(_) => self.children(&physical).into_iter().filter(|n| comps[i].matches(n)).collect(),
            };
            for name in names {
                let next = join(&physical, &name);
                let next = match resolve(&self.nodes, &next, true, self.max_hops, &mut |_| {}) {
                    Ok(r) => r.path,
                    Err(_) => continue,
                };
                stack.push((join(&logical, &name), next, i + 1));
            }
        }
        found.into_iter().collect()
    }

    /// Names directly below canonical `dir` among the kept paths.
    fn children(&self, dir: &str) -> BTreeSet<String> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        under(&self.nodes, dir).filter_map(|(k, _)| k[skip..].split('/').next()).map(str::to_owned).collect()
    }

    /// Every kept path (physical, absolute) with its entry, sorted: the wanted entries plus
    /// all symlinks of the image.
    pub fn entries(&self) -> impl Iterator<Item = (String, &Entry)> {
        self.nodes.iter().map(|(k, n)| (display(k), &n.entry))
    }
}
