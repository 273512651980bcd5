//! The query plus the symlinks known so far in, the set of *physical* paths worth capturing
//! out (`Plans`), together with the speculative "could become wanted through a link we have not
//! seen yet" rule (`Candidates`).
//!
//! Plans are the query rewritten through every known link: exact paths become one concrete
//! physical path each; patterns become physical patterns (the literal prefix resolved, then
//! the glob part as-is) plus one branch per link that sits where the glob part could reach.
//! While building, every physical path that was looked at is remembered, so that a later link
//! change only forces a rebuild when it lands on one of those paths or on a prefix of a
//! physical pattern; unrelated links (thousands of `.so` links) cost one hash lookup each.

use std::collections::HashSet;

use super::EntryKind;
use super::path::{Comp, PathQuery, join, match_full, match_prefix, match_suffix};
use super::resolve::{Nodes, resolve};

/// Upper bound on expansion work items between two full builds, against link farms that
/// would make glob expansion combinatorial.
const MAX_WORK: usize = 100_000;
/// `wants` tries every physical pattern per tar entry, so their number must stay small.
const MAX_GLOBS: usize = 256;

/// What a link appearing or disappearing at some path does to the plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkEffect {
    None,
    /// It sits where a glob part could reach: its branches can simply be added.
    Extend,
    /// It changes a resolution already made: rebuild from scratch.
    Rebuild,
}

#[derive(Debug, Default)]
pub(crate) struct Plans {
    concrete: HashSet<String>,
    globs: Vec<Vec<Comp>>,
    glob_set: HashSet<Vec<Comp>>,
    touched: HashSet<String>,
    work: usize,
    /// A bound was hit and some branches were dropped.
    pub overflow: bool,
}

impl Plans {
    pub(crate) fn build(query: &PathQuery, nodes: &Nodes, max_hops: usize) -> Plans {
        let mut plans = Plans::default();
        for pattern in query.patterns() {
            plans.expand(nodes, pattern.comps(), String::new(), 0, max_hops);
        }
        plans
    }

    /// Adds the physical paths / patterns for pattern components `comps` looked up from
    /// physical directory `dir`.
    fn expand(&mut self, nodes: &Nodes, comps: &[Comp], dir: String, hops: usize, max_hops: usize) {
        // (physical dir, remaining pattern components, links followed so far)
        let mut stack: Vec<(String, Vec<Comp>, usize)> = vec![(dir, comps.to_vec(), hops)];
        while let Some((dir, comps, hops)) = stack.pop() {
            self.work += 1;
            if self.work > MAX_WORK {
                self.overflow = true;
                return;
            }
            let glob_at = comps.iter().position(|c| matches!(c, Comp::Glob(_))).unwrap_or(comps.len());
            let dir = if glob_at > 0 {
                let mut text = dir;
                for c in &comps[..glob_at] {
                    if let Comp::Literal(name) = c {
                        text = join(&text, name);
                    }
                }
                let touched = &mut self.touched;
                let mut touch = |p: &str| {
                    touched.insert(p.to_owned());
                };
                match resolve(nodes, &text, true, max_hops, &mut touch) {
                    Ok(r) => r.path,
                    Err(_) => continue,
                }
            } else {
                dir
            };
            if glob_at == comps.len() {
                self.concrete.insert(dir);
                continue;
            }
            let rest = &comps[glob_at..];
            let mut physical: Vec<Comp> =
                if dir.is_empty() { Vec::new() } else { dir.split('/').map(|n| Comp::Literal(n.to_owned())).collect() };
            physical.extend(rest.iter().cloned());
            if !self.glob_set.contains(&physical) {
                if self.globs.len() >= MAX_GLOBS {
                    self.overflow = true;
                    continue;
                }
                self.glob_set.insert(physical.clone());
                self.globs.push(physical);
            }
            if hops >= max_hops {
                continue;
            }
            for (link, node) in under(nodes, &dir) {
                if !matches!(node.entry.kind, EntryKind::Symlink(_)) {
                    continue;
                }
                let rel = if dir.is_empty() { link.as_str() } else { &link[dir.len() + 1..] };
                let Some(used) = match_prefix(rest, rel) else {
                    continue;
                };
                let touched = &mut self.touched;
                let mut touch = |p: &str| {
                    touched.insert(p.to_owned());
                };
                if let Ok(r) = resolve(nodes, link, true, max_hops, &mut touch) {
                    stack.push((r.path, rest[used..].to_vec(), hops + 1));
                }
            }
        }
    }

    pub(crate) fn link_effect(&self, path: &str) -> LinkEffect {
        if self.touched.contains(path) {
            LinkEffect::Rebuild
        } else if self.globs.iter().any(|g| matches!(match_prefix(g, path), Some(n) if n > 0)) {
            LinkEffect::Extend
        } else {
            LinkEffect::None
        }
    }

    /// A link now at `path` (already in `nodes`) lies on a physical pattern: adds the branches
    /// through it. Branches that a full build would no longer produce may remain; they only
    /// over-capture until the final build filters the view.
    pub(crate) fn add_link(&mut self, nodes: &Nodes, path: &str, max_hops: usize) {
        let branches: Vec<Vec<Comp>> = self
            .globs
            .iter()
            .filter_map(|g| match match_prefix(g, path) {
                Some(k) if k > 0 => Some(g[k..].to_vec()),
                _ => None,
            })
            .collect();
        if branches.is_empty() {
            return;
        }
        let touched = &mut self.touched;
        let mut touch = |p: &str| {
            touched.insert(p.to_owned());
        };
        let Ok(target) = resolve(nodes, path, true, max_hops, &mut touch) else {
            return;
        };
        for rest in branches {
            self.expand(nodes, &rest, target.path.clone(), 1, max_hops);
        }
    }

    /// Whether the entry at canonical physical `path` answers some query.
    pub(crate) fn wants(&self, path: &str) -> bool {
        self.concrete.contains(path) || self.globs.iter().any(|g| match_full(g, path))
    }
}

/// Nodes strictly below canonical directory `dir` (all nodes for the root).
pub(crate) fn under<'a>(nodes: &'a Nodes, dir: &str) -> Box<dyn Iterator<Item = (&'a String, &'a super::Node)> + 'a> {
    if dir.is_empty() {
        return Box::new(nodes.iter());
    }
    // Keys with the prefix `dir/` are contiguous and end before `dir0` ('0' follows '/').
    let lo = format!("{dir}/");
    let hi = format!("{dir}0");
    Box::new(nodes.range::<str, _>((std::ops::Bound::Included(lo.as_str()), std::ops::Bound::Excluded(hi.as_str()))))
}

/// Speculative capture: a file reached through an *ancestor* link that appears only later in
/// the stream (same layer further on, or an upper layer) keeps the tail of the query path
/// below that link. So any file whose trailing components match the query's tail from its
/// last selective component (the last one that is not a bare `*`) is kept, within the
/// candidate budget, until the final link set decides.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    tails: Vec<Vec<Comp>>,
}

impl Candidates {
    pub(crate) fn new(query: &PathQuery) -> Candidates {
        let mut tails: Vec<Vec<Comp>> = Vec::new();
        for p in query.patterns() {
            let comps = p.comps();
            if let Some(i) = comps.iter().rposition(|c| !c.is_bare_star()) {
                let tail = comps[i..].to_vec();
                if !tails.contains(&tail) {
                    tails.push(tail);
                }
            }
        }
        Candidates { tails }
    }

    pub(crate) fn contains(&self, path: &str) -> bool {
        self.tails.iter().any(|t| match_suffix(t, path))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Node, Origin};
    use super::*;

    fn link_nodes(links: &[(&str, &str)]) -> Nodes {
        links
            .iter()
            .map(|(p, t)| {
                (
                    (*p).to_owned(),
                    Node {
                        entry: Entry {
                            kind: EntryKind::Symlink((*t).to_owned()),
                            mode: 0o777,
                            uid: 0,
                            gid: 0,
                            size: 0,
                            content: None,
                        },
                        layer: 0,
                        origin: Origin::Link,
                        missing: None,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn exact_paths_follow_links() {
        let q = PathQuery::parse(["/lib/apk/db/installed", "/etc/os-release"]).unwrap();
        let n = link_nodes(&[("lib", "usr/lib"), ("etc/os-release", "../usr/lib/os-release")]);
        let p = Plans::build(&q, &n, 40);
        assert!(p.wants("usr/lib/apk/db/installed"));
        assert!(p.wants("usr/lib/os-release"));
        assert!(!p.wants("lib/apk/db/installed"));
        assert_eq!(p.link_effect("usr"), LinkEffect::Rebuild);
        assert_eq!(p.link_effect("usr/lib/apk"), LinkEffect::Rebuild);
        assert_eq!(p.link_effect("usr/lib/libz.so"), LinkEffect::None);
    }

    #[test]
    fn globs_expand_through_links() {
        let q = PathQuery::parse(["/usr/lib/python3.*/site-packages/*.dist-info/METADATA"]).unwrap();
        let n = link_nodes(&[("usr/lib/python3.12/site-packages", "/opt/sp"), ("usr/lib/libz.so", "libz.so.1")]);
        let p = Plans::build(&q, &n, 40);
        assert!(p.wants("usr/lib/python3.11/site-packages/a-1.dist-info/METADATA"));
        assert!(p.wants("opt/sp/a-1.dist-info/METADATA"));
        assert!(!p.wants("opt/sp/a-1.dist-info/RECORD"));
        assert_eq!(p.link_effect("usr/lib/python3.13"), LinkEffect::Extend);
        assert_eq!(p.link_effect("usr/lib/libfoo.so"), LinkEffect::None);
    }

    #[test]
    fn candidates_use_last_selective_tail() {
        let q = PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status.d/*"]).unwrap();
        let c = Candidates::new(&q);
        assert!(c.contains("usr/lib/os-release"));
        assert!(c.contains("x/status.d/base"));
        assert!(!c.contains("x/other/base"));
    }
}
