//! A path plus the symlinks kept so far in, the physical path it names out: POSIX-style
//! component-by-component resolution inside the image root (`..` at the root stays at the
//! root, absolute targets restart at the image root), with a hop limit instead of cycle
//! detection.

use std::collections::BTreeMap;

use super::{EntryKind, Node};

pub(crate) type Nodes = BTreeMap<String, Node>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Canonical physical path.
    pub path: String,
    /// The last link followed for the final component, if any: (link path, raw target).
    pub final_link: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// More than the allowed number of links were followed (a cycle, or a silly chain).
    Loop(String),
    /// A component other than the last is a file.
    NotDir(String),
    /// A link with an empty target (ENOENT on Linux): (link path).
    EmptyTarget(String),
}

/// What resolution sees at one physical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing (or nothing known): the component is passed through lexically.
    Missing,
    Dir,
    /// A file or device: an error when more components follow.
    NonDir,
    Link(String),
}

/// Resolves `path` (any spelling; `..` allowed) against `nodes`. Every physical prefix looked
/// at is passed to `touch`, which lets the planner know which link changes would matter.
pub(crate) fn resolve(
    nodes: &Nodes,
    path: &str,
    follow_final: bool,
    max_hops: usize,
    touch: &mut dyn FnMut(&str),
) -> Result<Resolved, ResolveError> {
    let look = &mut |p: &str| -> Result<Step, std::convert::Infallible> {
        touch(p);
        Ok(match nodes.get(p).map(|n| &n.entry.kind) {
            None | Some(EntryKind::Dir) => Step::Missing,
            Some(EntryKind::File | EntryKind::Other) => Step::NonDir,
            Some(EntryKind::Symlink(target)) => Step::Link(target.clone()),
        })
    };
    match resolve_by(path, follow_final, max_hops, look) {
        Ok(result) => result,
        Err(never) => match never {},
    }
}

/// The resolution algorithm over any way of looking paths up (the merged tar view, overlay
/// layer directories): component by component, absolute targets restart at the image root,
/// `..` at the root stays there, and at most `max_hops` links instead of cycle detection.
/// `look` may fail (I/O); that error is returned as is.
pub(crate) fn resolve_by<E>(
    path: &str,
    follow_final: bool,
    max_hops: usize,
    look: &mut dyn FnMut(&str) -> Result<Step, E>,
) -> Result<Result<Resolved, ResolveError>, E> {
    // Pending components, last one on top.
    let mut pending: Vec<String> =
        path.split('/').filter(|c| !c.is_empty() && *c != ".").rev().map(str::to_owned).collect();
    let mut cur = String::new();
    let mut hops = 0usize;
    let mut final_link = None;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            let cut = cur.rfind('/').unwrap_or(0);
            cur.truncate(cut);
            continue;
        }
        let parent_len = cur.len();
        if !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(&comp);
        let is_last = pending.is_empty();
        match look(&cur)? {
            Step::Link(target) if !is_last || follow_final => {
                if target.is_empty() {
                    return Ok(Err(ResolveError::EmptyTarget(cur)));
                }
                hops += 1;
                if hops > max_hops {
                    return Ok(Err(ResolveError::Loop(cur)));
                }
                if is_last {
                    final_link = Some((cur.clone(), target.clone()));
                }
                if target.starts_with('/') {
                    cur.clear();
                } else {
                    cur.truncate(parent_len);
                }
                pending.extend(target.split('/').filter(|c| !c.is_empty() && *c != ".").rev().map(str::to_owned));
            }
            Step::NonDir if !is_last => return Ok(Err(ResolveError::NotDir(cur))),
            _ => {}
        }
    }
    Ok(Ok(Resolved { path: cur, final_link }))
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Origin};
    use super::*;

    fn nodes(links: &[(&str, &str)], files: &[&str]) -> Nodes {
        let mut n = Nodes::new();
        let mk = |kind| Node {
            entry: Entry { kind, mode: 0o777, uid: 0, gid: 0, size: 0, content: None },
            layer: 0,
            origin: Origin::Link,
            missing: None,
        };
        for (p, t) in links {
            n.insert((*p).to_owned(), mk(EntryKind::Symlink((*t).to_owned())));
        }
        for p in files {
            n.insert((*p).to_owned(), mk(EntryKind::File));
        }
        n
    }

    fn r(n: &Nodes, p: &str, follow: bool) -> Result<Resolved, ResolveError> {
        resolve(n, p, follow, 40, &mut |_| {})
    }

    #[test]
    fn ancestor_and_final_links() {
        let n = nodes(&[("lib", "usr/lib"), ("etc/os-release", "../usr/lib/os-release"), ("abs", "/usr/lib/x")], &[]);
        assert_eq!(r(&n, "/lib/apk/db/installed", true).unwrap().path, "usr/lib/apk/db/installed");
        let res = r(&n, "etc/os-release", true).unwrap();
        assert_eq!(res.path, "usr/lib/os-release");
        assert_eq!(res.final_link.unwrap().0, "etc/os-release");
        assert_eq!(r(&n, "etc/os-release", false).unwrap().path, "etc/os-release");
        assert_eq!(r(&n, "abs", true).unwrap().path, "usr/lib/x");
        assert_eq!(r(&n, "/../../etc/./x/..", true).unwrap().path, "etc");
    }

    #[test]
    fn loops_and_not_dir() {
        let n = nodes(&[("a", "b"), ("b", "a"), ("self", "./self")], &["f"]);
        assert!(matches!(r(&n, "a", true), Err(ResolveError::Loop(_))));
        assert!(matches!(r(&n, "self/x", true), Err(ResolveError::Loop(_))));
        assert_eq!(r(&n, "a", false).unwrap().path, "a");
        assert!(matches!(r(&n, "f/x", true), Err(ResolveError::NotDir(_))));
    }
}
