//! A `PathQuery` plus a way to look at an image's *merged* file system (a `Backend`: the
//! overlay2 layer directories of a Docker engine here, the container archive API in
//! `engine.rs`) in, a `WalkedTree` out: the queried paths and every symlink met on the way,
//! resolved with the same rules as the tar merger's `MergedView`.
//!
//! # Walking instead of streaming
//! A backend that can look at single paths needs no streaming: the walk stats only the
//! components the queries pass through (following symlinks as it meets them, ancestor links
//! such as `/lib -> usr/lib` included), lists only the directories a `*` component has to
//! match in, and reads content only for the wanted regular files no larger than
//! `MergeOptions::max_file_bytes`. Nothing else of the image is touched.
//!
//! # Answers
//! The tree keeps the wanted entries (exact queries after following every link, and every
//! pattern match) plus the symlinks the walk met, keyed by physical path. `get`, `lstat`,
//! `read_link` and `matches` resolve through those links exactly as `MergedView` does
//! (absolute targets restart at the image root, `..` at the root stays there, a hop limit
//! instead of cycle detection), so a tree read from overlay2, from the archive API or from
//! tar layers gives the same answers for the queried paths. As with `MergedView`, paths that
//! were not asked for answer `None`. Sizes follow the merger (0 for directories and devices,
//! the target length for symlinks) so that the backends agree.
//!
//! # overlay2
//! `OverlayBackend` reads Docker's layer `diff` directories, top layer first, with overlayfs
//! lookup rules: the topmost layer holding a name decides; a character device 0:0 is a
//! whiteout; a directory merges with the directories of the same name below it until a layer
//! where the name is a non-directory or a whiteout, or until a directory marked opaque
//! (`trusted.overlay.opaque` = `y`, or `user.overlay.opaque` for rootless engines mounted
//! with `userxattr`). Docker never writes redirect or metacopy xattrs into image layers (each
//! layer is applied from its tar), so those are not interpreted. Nothing on the host is
//! followed: a layer path is only looked at below directories that `lstat` showed to be real
//! directories, and files are opened with `O_NOFOLLOW`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::inspect::image::FileTree;
use crate::inspect::layers::resolve::{ResolveError, Resolved, Step, resolve_by};
use crate::inspect::layers::{Entry, EntryKind, MergeOptions, PathQuery, Pattern};

/// Bounds pattern expansion on link farms. Each step is a directory entry read or a link
/// followed, so this is as large as the merger's entry cap: a wide directory (100,000
/// `*.dist-info` folders) is expanded whole, a farm of links stays bounded.
const MAX_MATCH_STEPS: usize = 4_000_000;

/// Hostile or broken images could produce unbounded warnings; keep the first ones.
const MAX_WARNINGS: usize = 500;

/// Why a walk failed. The whole image fails; no partial tree is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkError {
    /// The backend could not read `path` (absolute image path, or a host path for setup).
    Io { path: String, message: String },
    /// Captured content would exceed `MergeOptions::max_total_bytes`.
    Budget { path: String, limit: u64 },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::Io { path, message } => write!(f, "{path}: {message}"),
            WalkError::Budget { path, limit } => {
                write!(f, "{path}: captured content would exceed the {limit}-byte budget")
            }
        }
    }
}

impl std::error::Error for WalkError {}

impl WalkError {
    pub fn io(path: impl Into<String>, message: impl fmt::Display) -> WalkError {
        WalkError::Io { path: path.into(), message: message.to_string() }
    }

    /// The path the error is about.
    pub fn path(&self) -> &str {
        match self {
            WalkError::Io { path, .. } | WalkError::Budget { path, .. } => path,
        }
    }
}

/// One component of a query pattern: a literal name, or a `*` glob matched with the tar
/// merger's own `Pattern` so that both agree on what a `*` matches.
#[derive(Debug, Clone)]
pub struct Comp {
    text: String,
    glob: Option<Pattern>,
}

impl Comp {
    fn parse(text: &str) -> Comp {
        let glob = if text.contains('*') { Pattern::parse(text).ok() } else { None };
        Comp { text: text.to_owned(), glob }
    }

    /// The component as written (`python3.*`, `METADATA`).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_glob(&self) -> bool {
        self.glob.is_some()
    }

    /// Whether one directory entry name matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.glob {
            None => self.text == name,
            Some(p) => !name.is_empty() && !name.contains('/') && p.matches(name),
        }
    }
}

/// The components of a parsed pattern (which is already free of `.`, `..` and empty parts).
pub fn components(pattern: &Pattern) -> Vec<Comp> {
    pattern.to_string().split('/').filter(|c| !c.is_empty()).map(Comp::parse).collect()
}

/// What resolution needs to know about one physical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    Dir,
    File {
        size: u64,
    },
    /// The raw target.
    Symlink(String),
    /// Devices, FIFOs, sockets.
    Other,
}

/// A merged image file system that can be looked at one path at a time. Paths are canonical:
/// no leading `/`, no `.`/`..`/empty components; the root is `""` and is never asked for.
/// Every path asked for has a parent that the walk already found to be a directory.
pub trait Backend {
    /// `lstat` in the merged view; `None` when nothing is there.
    fn stat(&mut self, path: &str) -> Result<Option<Stat>, WalkError>;
    /// The full entry: tar-style metadata, and the content of a regular file when
    /// `max_content` is given and the file is no bigger.
    fn entry(&mut self, path: &str, max_content: Option<u64>) -> Result<Option<Entry>, WalkError>;
    /// Names directly below directory `dir` that `rest[0]` matches. `rest` is the remainder of
    /// the pattern being expanded, so that a backend which can only list whole subtrees (the
    /// archive API) can keep what the next components will ask for.
    fn children(&mut self, dir: &str, rest: &[Comp]) -> Result<Vec<String>, WalkError>;
}

/// The queried part of a merged image, read through a `Backend`.
#[derive(Debug, Clone, Default)]
pub struct WalkedTree {
    nodes: BTreeMap<String, Entry>,
    max_hops: usize,
    warnings: Vec<String>,
    /// Bytes of content held.
    pub captured_bytes: u64,
}

/// Reads what `query` asks for through `backend`.
pub fn walk(backend: &mut dyn Backend, query: &PathQuery, options: &MergeOptions) -> Result<WalkedTree, WalkError> {
    let mut w = Walker {
        backend,
        opts: options,
        stats: HashMap::new(),
        nodes: BTreeMap::new(),
        wanted: BTreeSet::new(),
        total: 0,
        warnings: Vec::new(),
        dropped_warnings: 0,
    };
    for pattern in query.patterns() {
        let comps = components(pattern);
        if pattern.is_exact() {
            let path = comps.iter().map(Comp::text).collect::<Vec<_>>().join("/");
            match w.resolve(&path, true)? {
                Ok(r) => w.want(&r.path)?,
                Err(e) => w.resolve_failed(&pattern.to_string(), e),
            }
        } else {
            w.expand(&pattern.to_string(), &comps)?;
        }
    }
    let mut warnings = w.warnings;
    if w.dropped_warnings > 0 {
        warnings.push(format!("{} more warnings were dropped", w.dropped_warnings));
    }
    Ok(WalkedTree { nodes: w.nodes, max_hops: options.max_symlink_hops, warnings, captured_bytes: w.total })
}

/// Reads what `query` asks for straight from overlay2 layer directories, top layer first.
pub fn read_overlay(
    layers_top_first: Vec<PathBuf>,
    query: &PathQuery,
    options: &MergeOptions,
) -> Result<WalkedTree, WalkError> {
    let mut backend = OverlayBackend::new(layers_top_first)?;
    walk(&mut backend, query, options)
}

struct Walker<'a> {
    backend: &'a mut dyn Backend,
    opts: &'a MergeOptions,
    stats: HashMap<String, Option<Stat>>,
    nodes: BTreeMap<String, Entry>,
    wanted: BTreeSet<String>,
    total: u64,
    warnings: Vec<String>,
    dropped_warnings: usize,
}

impl Walker<'_> {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Cached `stat`; records every symlink it meets (resolution needs them afterwards).
    fn stat(&mut self, path: &str) -> Result<Option<Stat>, WalkError> {
        if path.is_empty() {
            return Ok(Some(Stat::Dir));
        }
        if let Some(s) = self.stats.get(path) {
            return Ok(s.clone());
        }
        // Below a missing path or a non-directory there is nothing: spare the backend.
        let (parent, _) = split_parent(path);
        if !parent.is_empty() && matches!(self.stats.get(parent), Some(None | Some(Stat::File { .. } | Stat::Other))) {
            self.stats.insert(path.to_owned(), None);
            return Ok(None);
        }
        let s = self.backend.stat(path)?;
        if let Some(Stat::Symlink(_)) = &s
            && let Some(entry) = self.backend.entry(path, None)?
        {
            self.nodes.insert(path.to_owned(), entry);
        }
        self.stats.insert(path.to_owned(), s.clone());
        Ok(s)
    }

    fn resolve(&mut self, path: &str, follow_final: bool) -> Result<Result<Resolved, ResolveError>, WalkError> {
        let max_hops = self.opts.max_symlink_hops;
        resolve_by(path, follow_final, max_hops, &mut |p| {
            Ok(match self.stat(p)? {
                None => Step::Missing,
                Some(Stat::Dir) => Step::Dir,
                Some(Stat::File { .. } | Stat::Other) => Step::NonDir,
                Some(Stat::Symlink(t)) => Step::Link(t),
            })
        })
    }

    fn resolve_failed(&mut self, query: &str, e: ResolveError) {
        if let ResolveError::Loop(p) = e {
            self.warn(format!("{query}: too many levels of symlinks at /{p}"));
        }
    }

    /// Keeps the entry at physical `path`, with content for a regular file within the cap.
    fn want(&mut self, path: &str) -> Result<(), WalkError> {
        if path.is_empty() || self.wanted.contains(path) {
            return Ok(());
        }
        self.wanted.insert(path.to_owned());
        let Some(stat) = self.stat(path)? else {
            return Ok(());
        };
        if let Stat::Symlink(_) = stat {
            // Recorded by `stat` already; a link is only wanted when the hop limit stopped
            // resolution, and then it is the answer `lstat` gives.
            return Ok(());
        }
        let cap = self.opts.max_file_bytes;
        let Some(entry) = self.backend.entry(path, Some(cap))? else {
            return Ok(());
        };
        if entry.kind == EntryKind::File && entry.content.is_none() {
            self.warn(format!(
                "/{path} is {} bytes, over the {cap}-byte per-file cap; content not captured",
                entry.size
            ));
        }
        if let Some(c) = &entry.content {
            self.total += c.len() as u64;
            if self.total > self.opts.max_total_bytes {
                return Err(WalkError::Budget { path: format!("/{path}"), limit: self.opts.max_total_bytes });
            }
        }
        self.nodes.insert(path.to_owned(), entry);
        Ok(())
    }

    /// Expands a pattern the way `MergedView::matches` walks it, wanting every match.
    fn expand(&mut self, shown: &str, comps: &[Comp]) -> Result<(), WalkError> {
        // (physical path, next component)
        let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
        let mut steps = 0usize;
        while let Some((physical, i)) = stack.pop() {
            steps += 1;
            if steps > MAX_MATCH_STEPS {
                self.warn(format!("{shown}: more than {MAX_MATCH_STEPS} steps through symlinks; some matches dropped"));
                break;
            }
            if i == comps.len() {
                self.want(&physical)?;
                continue;
            }
            let names = if comps[i].is_glob() {
                if self.stat(&physical)? != Some(Stat::Dir) {
                    continue;
                }
                let mut names = self.backend.children(&physical, &comps[i..])?;
                names.retain(|n| comps[i].matches(n));
                names
            } else {
                vec![comps[i].text().to_owned()]
            };
            for name in names {
                match self.resolve(&join(&physical, &name), true)? {
                    Ok(r) => stack.push((r.path, i + 1)),
                    Err(e) if !comps[i].is_glob() || i + 1 == comps.len() => self.resolve_failed(shown, e),
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }
}

impl WalkedTree {
    /// Every kept path (physical, absolute) with its entry, sorted.
    pub fn entries(&self) -> impl Iterator<Item = (String, &Entry)> {
        self.nodes.iter().map(|(k, e)| (format!("/{k}"), e))
    }

    /// Adds a warning (for the sources that wrap a walk).
    pub fn push_warning(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    fn resolve(&self, path: &str, follow_final: bool) -> Option<String> {
        let r = resolve_by::<()>(path, follow_final, self.max_hops, &mut |p| {
            Ok(match self.nodes.get(p).map(|e| &e.kind) {
                None | Some(EntryKind::Dir) => Step::Missing,
                Some(EntryKind::File | EntryKind::Other) => Step::NonDir,
                Some(EntryKind::Symlink(t)) => Step::Link(t.clone()),
            })
        });
        match r {
            Ok(Ok(r)) => Some(r.path),
            _ => None,
        }
    }

    fn children(&self, dir: &str) -> BTreeSet<&str> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        let start = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        self.nodes
            .range(start.clone()..)
            .take_while(|(k, _)| k.starts_with(&start))
            .filter_map(|(k, _)| k[skip..].split('/').next())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

impl FileTree for WalkedTree {
    fn get(&self, path: &str) -> Option<&Entry> {
        self.nodes.get(&self.resolve(path, true)?)
    }

    fn lstat(&self, path: &str) -> Option<&Entry> {
        self.nodes.get(&self.resolve(path, false)?)
    }

    fn read_link(&self, path: &str) -> Option<&str> {
        match &self.lstat(path)?.kind {
            EntryKind::Symlink(t) => Some(t),
            _ => None,
        }
    }

    fn matches(&self, pattern: &str) -> Vec<(String, &Entry)> {
        let Ok(pattern) = Pattern::parse(pattern) else {
            return Vec::new();
        };
        let comps = components(&pattern);
        let mut found: BTreeMap<String, &Entry> = BTreeMap::new();
        // (logical path, physical path, next component)
        let mut stack: Vec<(String, String, usize)> = vec![(String::new(), String::new(), 0)];
        let mut steps = 0usize;
        while let Some((logical, physical, i)) = stack.pop() {
            steps += 1;
            if steps > MAX_MATCH_STEPS {
                break;
            }
            if i == comps.len() {
                if let Some(e) = self.nodes.get(&physical) {
                    found.insert(format!("/{logical}"), e);
                }
                continue;
            }
            let names: Vec<String> = if comps[i].is_glob() {
                self.children(&physical).into_iter().filter(|n| comps[i].matches(n)).map(str::to_owned).collect()
            } else {
                vec![comps[i].text().to_owned()]
            };
            for name in names {
                if let Some(next) = self.resolve(&join(&physical, &name), true) {
                    stack.push((join(&logical, &name), next, i + 1));
                }
            }
        }
        found.into_iter().collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

/// One merged path as overlayfs would show it.
#[derive(Debug, Clone)]
struct Found {
    stat: Stat,
    mode: u32,
    uid: u64,
    gid: u64,
    /// The layer that shows it (the topmost holding it).
    layer: usize,
    /// For directories: every layer whose directory of this name is merged in, top first.
    dir_layers: Vec<usize>,
}

/// overlay2 layer `diff` directories, top first, looked at with overlayfs lookup rules.
#[derive(Debug)]
pub struct OverlayBackend {
    layers: Vec<PathBuf>,
    found: HashMap<String, Option<Found>>,
}

impl OverlayBackend {
    /// Checks that every layer directory can be read.
    pub fn new(layers_top_first: Vec<PathBuf>) -> Result<OverlayBackend, WalkError> {
        for dir in &layers_top_first {
            let meta = fs::symlink_metadata(dir).map_err(|e| WalkError::io(dir.display().to_string(), e))?;
            if !meta.is_dir() {
                return Err(WalkError::io(dir.display().to_string(), "not a directory"));
            }
            fs::read_dir(dir).map_err(|e| WalkError::io(dir.display().to_string(), e))?;
        }
        Ok(OverlayBackend { layers: layers_top_first, found: HashMap::new() })
    }

    fn host_path(&self, layer: usize, path: &str) -> PathBuf {
        if path.is_empty() { self.layers[layer].clone() } else { self.layers[layer].join(path) }
    }

    /// The layers whose directory `dir` is merged, top first; `None` if `dir` is not a
    /// directory of the merged view.
    fn dir_layers(&mut self, dir: &str) -> Result<Option<Vec<usize>>, WalkError> {
        if dir.is_empty() {
            return Ok(Some((0..self.layers.len()).collect()));
        }
        Ok(self.lookup(dir)?.filter(|f| f.stat == Stat::Dir).map(|f| f.dir_layers))
    }

    fn lookup(&mut self, path: &str) -> Result<Option<Found>, WalkError> {
        if let Some(f) = self.found.get(path) {
            return Ok(f.clone());
        }
        let (parent, _) = split_parent(path);
        let found = match self.dir_layers(parent)? {
            None => None,
            Some(layers) => self.lookup_in(path, &layers)?,
        };
        self.found.insert(path.to_owned(), found.clone());
        Ok(found)
    }

    fn lookup_in(&self, path: &str, parent_layers: &[usize]) -> Result<Option<Found>, WalkError> {
        let mut found: Option<Found> = None;
        for &layer in parent_layers {
            let host = self.host_path(layer, path);
            let meta = match fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(WalkError::io(format!("/{path}"), format!("{}: {e}", host.display()))),
            };
            let ft = meta.file_type();
            let whiteout = ft.is_char_device() && meta.rdev() == 0;
            match &mut found {
                None if whiteout => return Ok(None),
                None => {
                    let stat = if ft.is_dir() {
                        Stat::Dir
                    } else if ft.is_symlink() {
                        let target = fs::read_link(&host).map_err(|e| WalkError::io(format!("/{path}"), e))?;
                        Stat::Symlink(String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned())
                    } else if ft.is_file() {
                        Stat::File { size: meta.len() }
                    } else {
                        Stat::Other
                    };
                    let is_dir = stat == Stat::Dir;
                    found = Some(Found {
                        stat,
                        mode: meta.mode() & 0o7777,
                        uid: u64::from(meta.uid()),
                        gid: u64::from(meta.gid()),
                        layer,
                        dir_layers: if is_dir { vec![layer] } else { Vec::new() },
                    });
                    if !is_dir || is_opaque(&host)? {
                        break;
                    }
                }
                Some(f) => {
                    // Below a directory, only directories of the same name merge in; anything
                    // else (a whiteout included) hides the rest.
                    if !ft.is_dir() {
                        break;
                    }
                    f.dir_layers.push(layer);
                    if is_opaque(&host)? {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }
}

impl Backend for OverlayBackend {
    fn stat(&mut self, path: &str) -> Result<Option<Stat>, WalkError> {
        Ok(self.lookup(path)?.map(|f| f.stat))
    }

    fn entry(&mut self, path: &str, max_content: Option<u64>) -> Result<Option<Entry>, WalkError> {
        let Some(f) = self.lookup(path)? else {
            return Ok(None);
        };
        let (kind, size) = match &f.stat {
            Stat::Dir => (EntryKind::Dir, 0),
            Stat::File { size } => (EntryKind::File, *size),
            Stat::Symlink(t) => (EntryKind::Symlink(t.clone()), t.len() as u64),
            Stat::Other => (EntryKind::Other, 0),
        };
        let mut entry = Entry { kind, mode: f.mode, uid: f.uid, gid: f.gid, size, content: None };
        if entry.kind == EntryKind::File
            && let Some(max) = max_content
            && size <= max
        {
            let host = self.host_path(f.layer, path);
            let shown = format!("/{path}");
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&host)
                .map_err(|e| WalkError::io(&shown, format!("{}: {e}", host.display())))?;
            let mut buf = Vec::with_capacity(size as usize);
            file.take(max + 1).read_to_end(&mut buf).map_err(|e| WalkError::io(&shown, e))?;
            // Layers are immutable; a file that changed size under us is not one to trust.
            if buf.len() as u64 != size {
                return Err(WalkError::io(shown, format!("size changed while reading ({size} → {})", buf.len())));
            }
            entry.content = Some(buf);
        }
        Ok(Some(entry))
    }

    fn children(&mut self, dir: &str, rest: &[Comp]) -> Result<Vec<String>, WalkError> {
        let Some(layers) = self.dir_layers(dir)? else {
            return Ok(Vec::new());
        };
        let mut names = BTreeSet::new();
        for layer in layers {
            let host = self.host_path(layer, dir);
            let rd = fs::read_dir(&host)
                .map_err(|e| WalkError::io(format!("/{dir}"), format!("{}: {e}", host.display())))?;
            for item in rd {
                let item = item.map_err(|e| WalkError::io(format!("/{dir}"), e))?;
                // Paths are UTF-8 strings throughout dockvar; such a name could not be asked for.
                let Some(name) = item.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if rest.first().is_none_or(|c| c.matches(&name)) {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// Whether overlayfs would treat the directory as opaque. Reading `trusted.*` needs
/// CAP_SYS_ADMIN; without it the kernel says "no such attribute", which is why the engine
/// source only reads overlay2 directly as root.
fn is_opaque(dir: &Path) -> Result<bool, WalkError> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|e| WalkError::io(dir.display().to_string(), e))?;
    for name in [c"trusted.overlay.opaque", c"user.overlay.opaque"] {
        let mut buf = [0u8; 4];
        // SAFETY: both strings are NUL-terminated and `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n == 1 && buf[0] == b'y' {
            return Ok(true);
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENODATA | libc::EOPNOTSUPP | libc::ERANGE) => {}
                _ => return Err(WalkError::io(dir.display().to_string(), format!("reading {name:?}: {e}"))),
            }
        }
    }
    Ok(false)
}

/// Whether this process can see `trusted.*` xattrs (and so opaque markers): root only.
pub fn can_read_trusted_xattrs() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::layers::{LayerInput, MergedView, merge_top_down};
    use std::io::Cursor;
    use std::os::unix::fs::symlink;

    /// One image path in a test layer.
    enum E<'a> {
        File(&'a str, &'a [u8]),
        Dir(&'a str),
        Sym(&'a str, &'a str),
        Hard(&'a str, &'a str),
        Whiteout(&'a str),
        Opaque(&'a str),
    }

    /// Writes a layer both as an overlay2 `diff` directory and as an OCI tar layer.
    fn layer(root: &Path, entries: &[E]) -> Option<Vec<u8>> {
        fs::create_dir_all(root).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let header = |kind, size, mode| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h
        };
        let mkparent = |p: &Path| fs::create_dir_all(p.parent().unwrap()).unwrap();
        for e in entries {
            match e {
                E::File(p, data) => {
                    let host = root.join(p);
                    mkparent(&host);
                    fs::write(&host, data).unwrap();
                    fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
                    b.append_data(&mut header(tar::EntryType::Regular, data.len() as u64, 0o644), p, *data).unwrap();
                }
                E::Dir(p) => {
                    let host = root.join(p);
                    fs::create_dir_all(&host).unwrap();
                    fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
                    b.append_data(&mut header(tar::EntryType::Directory, 0, 0o755), p, io::empty()).unwrap();
                }
                E::Sym(p, t) => {
                    let host = root.join(p);
                    mkparent(&host);
                    symlink(t, &host).unwrap();
                    b.append_link(&mut header(tar::EntryType::Symlink, 0, 0o777), p, t).unwrap();
                }
                E::Hard(p, t) => {
                    let host = root.join(p);
                    mkparent(&host);
                    fs::hard_link(root.join(t), &host).unwrap();
                    b.append_link(&mut header(tar::EntryType::Link, 0, 0o644), p, t).unwrap();
                }
                E::Whiteout(p) => {
                    let host = root.join(p);
                    mkparent(&host);
                    let c = CString::new(host.as_os_str().as_bytes()).unwrap();
                    // SAFETY: a valid NUL-terminated path.
                    if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, 0) } != 0 {
                        return None;
                    }
                    let (dir, name) = split_parent(p);
                    let wh = join(dir, &format!(".wh.{name}"));
                    b.append_data(&mut header(tar::EntryType::Regular, 0, 0o600), wh, io::empty()).unwrap();
                }
                E::Opaque(p) => {
                    let host = root.join(p);
                    fs::create_dir_all(&host).unwrap();
                    fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
                    let c = CString::new(host.as_os_str().as_bytes()).unwrap();
                    // SAFETY: valid NUL-terminated strings and a one-byte value.
                    let rc = unsafe {
                        libc::lsetxattr(c.as_ptr(), c"trusted.overlay.opaque".as_ptr(), b"y".as_ptr().cast(), 1, 0)
                    };
                    if rc != 0 {
                        return None;
                    }
                    b.append_data(&mut header(tar::EntryType::Directory, 0, 0o755), p, io::empty()).unwrap();
                    let wh = format!("{p}/.wh..wh..opq");
                    b.append_data(&mut header(tar::EntryType::Regular, 0, 0o600), wh, io::empty()).unwrap();
                }
            }
        }
        Some(b.into_inner().unwrap())
    }

    /// Builds the layers (base first) both ways; `None` when this process cannot make
    /// whiteouts or trusted xattrs (not root).
    fn image(layers: &[&[E]]) -> Option<(tempfile::TempDir, Vec<PathBuf>, Vec<Vec<u8>>)> {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        let mut tars = Vec::new();
        for (i, entries) in layers.iter().enumerate() {
            let dir = tmp.path().join(format!("l{i}")).join("diff");
            tars.push(layer(&dir, entries)?);
            dirs.push(dir);
        }
        dirs.reverse();
        Some((tmp, dirs, tars))
    }

    /// Top-down, because the scenario re-points `/etc/localtime` above its target, which the
    /// bottom-up merger can only report (see the `layers` module docs).
    fn merged(tars: &[Vec<u8>], query: &PathQuery, opts: &MergeOptions) -> MergedView {
        let inputs = tars
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| LayerInput::new(format!("l{i}"), Box::new(Cursor::new(t.clone()))))
            .collect();
        merge_top_down(inputs, query, opts).unwrap()
    }

    /// Every question the fact readers ask, answered by both trees.
    fn answers(tree: &dyn FileTree, query: &PathQuery) -> Vec<String> {
        let mut out = Vec::new();
        for p in query.patterns() {
            let p = p.to_string();
            if Pattern::parse(&p).unwrap().is_exact() {
                out.push(format!("get {p} = {:?}", tree.get(&p)));
                out.push(format!("lstat {p} = {:?}", tree.lstat(&p)));
                out.push(format!("read_link {p} = {:?}", tree.read_link(&p)));
            } else {
                out.push(format!("matches {p} = {:?}", tree.matches(&p)));
            }
        }
        out
    }

    fn skip() {
        crate::testing::skip("making whiteouts (mknod) and trusted.overlay.opaque needs root");
    }

    const QUERY: &[&str] = &[
        "/etc/os-release",
        "/usr/lib/os-release",
        "/etc/localtime",
        "/etc/passwd",
        "/gone",
        "/keep/a",
        "/opq/old",
        "/opq/new",
        "/lib/apk/db/installed",
        "/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA",
        "/var/lib/dpkg/status.d/*",
        "/loop",
        "/dangling",
        "/hard",
        "/airbyte",
        "/big",
    ];

    fn scenario() -> Vec<Vec<E<'static>>> {
        vec![
            vec![
                E::Dir("etc"),
                E::File("etc/os-release", b"ID=debian\n"),
                E::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                E::File("gone", b"x"),
                E::Dir("keep"),
                E::File("keep/a", b"a"),
                E::Dir("opq"),
                E::File("opq/old", b"old"),
                E::File("usr/lib/apk/db/installed", b"P:musl\n"),
                E::File("usr/share/zoneinfo/Etc/UTC", b"TZif-utc"),
                E::File("usr/share/zoneinfo/Europe/Berlin", b"TZif-berlin"),
                E::Sym("etc/localtime", "../usr/share/zoneinfo/Etc/UTC"),
                E::File("usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA", b"Name: pip\n"),
                E::File("usr/local/lib/python3.11/site-packages/old-1.0.dist-info/METADATA", b"Name: old\n"),
                E::File("var/lib/dpkg/status.d/base", b"Package: base-files\n"),
                E::File("big", &[7u8; 64]),
            ],
            vec![
                E::Sym("lib", "usr/lib"),
                E::File("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n"),
                E::Whiteout("etc/os-release"),
                E::Sym("loop", "loop2"),
                E::Sym("loop2", "/loop"),
                E::Sym("dangling", "/nowhere"),
                E::Sym("usr/local/lib/python3.12", "python3.11"),
            ],
            vec![
                E::Sym("etc/os-release", "../usr/lib/os-release"),
                E::Whiteout("gone"),
                E::Opaque("opq"),
                E::File("opq/new", b"new"),
                E::File("keep/b", b"b"),
                E::Sym("etc/localtime", "/usr/share/zoneinfo/Europe/Berlin"),
                E::Whiteout("usr/local/lib/python3.11/site-packages/old-1.0.dist-info"),
                E::File("usr/local/lib/python3.11/site-packages/new-2.0.dist-info/METADATA", b"Name: new\n"),
                E::Hard("hard", "usr/local/lib/python3.11/site-packages/new-2.0.dist-info/METADATA"),
                E::File("var/lib/dpkg/status.d/extra", b"Package: extra\n"),
                E::Dir("airbyte"),
            ],
        ]
    }

    #[test]
    fn overlay_agrees_with_the_tar_merger() {
        let layers = scenario();
        let refs: Vec<&[E]> = layers.iter().map(Vec::as_slice).collect();
        let Some((_tmp, dirs, tars)) = image(&refs) else {
            return skip();
        };
        let query = PathQuery::parse(QUERY).unwrap();
        let opts = MergeOptions { max_file_bytes: 32, ..MergeOptions::default() };
        let tree = read_overlay(dirs, &query, &opts).unwrap();
        let view = merged(&tars, &query, &opts);
        let (a, b) = (answers(&tree, &query), answers(&view, &query));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        assert_eq!(a.len(), b.len());

        // The cases the scenario is about, spelled out.
        assert_eq!(tree.get("/etc/os-release").unwrap().content.as_deref(), Some(&b"ID=debian\nVERSION_ID=12\n"[..]));
        assert_eq!(tree.read_link("/etc/localtime"), Some("/usr/share/zoneinfo/Europe/Berlin"));
        assert_eq!(tree.get("/etc/localtime").unwrap().content.as_deref(), Some(&b"TZif-berlin"[..]));
        assert!(tree.get("/gone").is_none());
        assert!(tree.get("/opq/old").is_none());
        assert_eq!(tree.get("/opq/new").unwrap().content.as_deref(), Some(&b"new"[..]));
        assert_eq!(tree.get("/keep/a").unwrap().content.as_deref(), Some(&b"a"[..]));
        assert_eq!(tree.get("/lib/apk/db/installed").unwrap().content.as_deref(), Some(&b"P:musl\n"[..]));
        assert!(tree.get("/loop").is_none());
        assert!(tree.get("/dangling").is_none());
        assert_eq!(tree.read_link("/dangling"), Some("/nowhere"));
        assert_eq!(tree.get("/hard").unwrap().content.as_deref(), Some(&b"Name: new\n"[..]));
        assert_eq!(tree.get("/airbyte").unwrap().kind, EntryKind::Dir);
        let big = tree.get("/big").unwrap();
        assert_eq!((big.size, big.content.is_none()), (64, true));
        assert!(tree.warnings().iter().any(|w| w.contains("/big is 64 bytes")), "{:?}", tree.warnings());
        assert!(tree.warnings().iter().any(|w| w.contains("too many levels")), "{:?}", tree.warnings());
        let metas: Vec<String> = tree
            .matches("/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            metas,
            [
                "/usr/local/lib/python3.11/site-packages/new-2.0.dist-info/METADATA",
                "/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA",
                "/usr/local/lib/python3.12/site-packages/new-2.0.dist-info/METADATA",
                "/usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA",
            ]
        );
        let status: Vec<String> = tree.matches("/var/lib/dpkg/status.d/*").into_iter().map(|(p, _)| p).collect();
        assert_eq!(status, ["/var/lib/dpkg/status.d/base", "/var/lib/dpkg/status.d/extra"]);
    }

    /// Counts what the backend is asked, to show the walk stays on the queried paths.
    struct Counting<'a> {
        inner: &'a mut OverlayBackend,
        stats: Vec<String>,
        listed: Vec<String>,
    }

    impl Backend for Counting<'_> {
        fn stat(&mut self, path: &str) -> Result<Option<Stat>, WalkError> {
            self.stats.push(path.to_owned());
            self.inner.stat(path)
        }
        fn entry(&mut self, path: &str, max: Option<u64>) -> Result<Option<Entry>, WalkError> {
            self.inner.entry(path, max)
        }
        fn children(&mut self, dir: &str, rest: &[Comp]) -> Result<Vec<String>, WalkError> {
            self.listed.push(dir.to_owned());
            self.inner.children(dir, rest)
        }
    }

    #[test]
    fn walks_only_the_queried_paths() {
        let files = [
            E::File("etc/os-release", b"ID=x\n"),
            E::File("usr/share/doc/a/copyright", b"c"),
            E::File("usr/share/doc/b/copyright", b"c"),
            E::File("var/lib/dpkg/status.d/one", b"Package: one\n"),
        ];
        let Some((_tmp, dirs, _)) = image(&[&files]) else {
            return skip();
        };
        let mut inner = OverlayBackend::new(dirs).unwrap();
        let mut counting = Counting { inner: &mut inner, stats: Vec::new(), listed: Vec::new() };
        let query = PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status.d/*"]).unwrap();
        walk(&mut counting, &query, &MergeOptions::default()).unwrap();
        assert_eq!(counting.listed, ["var/lib/dpkg/status.d"]);
        assert!(counting.stats.iter().all(|p| !p.starts_with("usr")), "{:?}", counting.stats);
    }

    #[test]
    fn a_missing_layer_directory_is_an_error() {
        let err = OverlayBackend::new(vec![PathBuf::from("/nonexistent/dockvar/diff")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dockvar/diff"), "{err}");
    }

    #[test]
    fn globs_match_like_the_merger() {
        let c = Comp::parse("python3.*");
        assert!(c.is_glob() && c.matches("python3.11") && !c.matches("python2.7") && !c.matches(""));
        assert!(Comp::parse("*").matches(".hidden"));
        let lit = Comp::parse("METADATA");
        assert!(!lit.is_glob() && lit.matches("METADATA") && !lit.matches("metadata"));
        let p = Pattern::parse("/usr//local/./lib/python3.*").unwrap();
        let texts: Vec<String> = components(&p).iter().map(|c| c.text().to_owned()).collect();
        assert_eq!(texts, ["usr", "local", "lib", "python3.*"]);
    }

    #[test]
    fn resolution_rules() {
        let mut tree = WalkedTree { max_hops: 40, ..WalkedTree::default() };
        let link = |t: &str| Entry {
            kind: EntryKind::Symlink(t.to_owned()),
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            content: None,
        };
        let file = Entry { kind: EntryKind::File, mode: 0o644, uid: 0, gid: 0, size: 1, content: Some(b"x".to_vec()) };
        tree.nodes.insert("lib".into(), link("usr/lib"));
        tree.nodes.insert("abs".into(), link("/usr/lib/x"));
        tree.nodes.insert("a".into(), link("b"));
        tree.nodes.insert("b".into(), link("a"));
        tree.nodes.insert("usr/lib/x".into(), file.clone());
        assert_eq!(tree.get("/lib/x"), Some(&file));
        assert_eq!(tree.get("abs"), Some(&file));
        assert_eq!(tree.get("/../../lib/./x"), Some(&file));
        assert!(tree.get("a").is_none());
        assert_eq!(tree.read_link("/a"), Some("b"));
        assert!(tree.get("/usr/lib/x/y").is_none());
        assert_eq!(tree.matches("/lib/*").len(), 1);
        assert_eq!(tree.matches("/l*/x")[0].0, "/lib/x");
    }
}
