//! Every tar entry, whiteout and opaque marker in, a compact hashed record per path out: answers
//! "does this path exist in the merged image, and as what?" for paths whose metadata was never
//! kept, and "is this lower entry hidden by an upper layer?" for top-down reading.
//!
//! Keys are 64-bit hashes of canonical paths (about 24 bytes per distinct path instead of the
//! path text), so subtrees cannot be deleted eagerly. Deletions are therefore recorded as layer
//! numbers and applied lazily: an entry placed at layer L is dead when an ancestor-or-self was
//! whited out, or an ancestor was turned into a non-directory or made opaque, at a layer above
//! L. Because every field is a maximum, the records come out the same whatever order the
//! layers are streamed in, which is what makes top-down reading agree with bottom-up.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hasher};

use super::path::ancestors;

/// The kind of the topmost placement at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Dir,
    File,
    Symlink,
    Other,
    /// A directory no layer listed, implied by an entry below it.
    ImplicitDir,
}

/// Layer numbers are stored plus one so that zero means "never".
#[derive(Debug, Clone, Copy)]
struct Rec {
    /// Topmost layer that placed an entry here (explicit placements beat implicit ones).
    layer: u32,
    /// Topmost layer that whited out this path or placed a non-directory on it.
    kill: u32,
    /// Topmost layer that marked this directory opaque.
    opaque: u32,
    tag: Option<Tag>,
}

const EMPTY: Rec = Rec { layer: 0, kill: 0, opaque: 0, tag: None };

/// The keys are already hashes; hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn key(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(path.as_bytes());
    h.finish()
}

/// What the read layers say about a path, for deciding whether lower layers can still matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// An explicit, live entry of this kind sits in a read layer; lower layers cannot change it.
    Present(Tag),
    /// A read layer deleted it (whiteout, opaque parent, non-directory ancestor).
    Gone,
    /// Nothing in the read layers decides it.
    Open,
}

#[derive(Default)]
pub(crate) struct PathIndex {
    map: HashMap<u64, Rec, BuildHasherDefault<PassThrough>>,
}

impl PathIndex {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&self, path: &str) -> Rec {
        self.map.get(&key(path)).copied().unwrap_or(EMPTY)
    }

    pub(crate) fn place(&mut self, path: &str, layer: usize, tag: Tag) {
        let l = layer as u32 + 1;
        let r = self.map.entry(key(path)).or_insert(EMPTY);
        let implicit_before = matches!(r.tag, None | Some(Tag::ImplicitDir));
        // Same layer: the later tar entry wins, as in the merged view.
        if implicit_before || l >= r.layer {
            r.layer = l;
            r.tag = Some(tag);
        }
        if tag != Tag::Dir {
            r.kill = r.kill.max(l);
        }
        for anc in ancestors(path) {
            let r = self.map.entry(key(anc)).or_insert(EMPTY);
            if r.tag.is_none() {
                r.tag = Some(Tag::ImplicitDir);
                r.layer = l;
            }
        }
    }

    pub(crate) fn whiteout(&mut self, path: &str, layer: usize) {
        let r = self.map.entry(key(path)).or_insert(EMPTY);
        r.kill = r.kill.max(layer as u32 + 1);
    }

    pub(crate) fn opaque(&mut self, dir: &str, layer: usize) {
        let r = self.map.entry(key(dir)).or_insert(EMPTY);
        r.opaque = r.opaque.max(layer as u32 + 1);
    }

    /// Whether something placed at `path` in stored layer `l` (plus one) is deleted by a
    /// deletion recorded above it.
    fn dead_at(&self, path: &str, l: u32) -> bool {
        if self.get(path).kill > l {
            return true;
        }
        ancestors(path).any(|a| {
            let r = self.get(a);
            r.kill > l || r.opaque > l
        })
    }

    /// The kind of the live topmost entry at canonical `path`, links not followed.
    pub(crate) fn alive(&self, path: &str) -> Option<Tag> {
        if path.is_empty() {
            return Some(Tag::Dir);
        }
        let r = self.get(path);
        match r.tag {
            Some(tag) if r.layer > 0 && !self.dead_at(path, r.layer) => Some(tag),
            _ => None,
        }
    }

    /// Top-down reading: is an entry of `layer` at `path` overridden or deleted by a layer
    /// above it that was already read?
    pub(crate) fn hidden_by_upper(&self, path: &str, layer: usize) -> bool {
        let l = layer as u32 + 1;
        let r = self.get(path);
        let upper_explicit = !matches!(r.tag, None | Some(Tag::ImplicitDir)) && r.layer > l;
        upper_explicit || self.dead_at(path, l)
    }

    /// Top-down reading: can layers below the ones read so far still change `path`?
    pub(crate) fn settle(&self, path: &str) -> Settle {
        match self.alive(path) {
            Some(Tag::ImplicitDir) => return Settle::Open,
            Some(tag) => return Settle::Present(tag),
            None => {}
        }
        let r = self.get(path);
        let deleted = r.kill > 0
            || ancestors(path).any(|a| {
                let r = self.get(a);
                r.kill > 0 || r.opaque > 0
            });
        if deleted { Settle::Gone } else { Settle::Open }
    }

    /// Top-down reading: are all lower-layer entries below directory `dir` hidden?
    pub(crate) fn closed_below(&self, dir: &str) -> bool {
        let r = self.get(dir);
        r.kill > 0
            || r.opaque > 0
            || ancestors(dir).any(|a| {
                let r = self.get(a);
                r.kill > 0 || r.opaque > 0
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteout_kills_lower_but_not_same_or_upper() {
        let mut ix = PathIndex::default();
        ix.place("a", 0, Tag::Dir);
        ix.place("a/x", 0, Tag::File);
        ix.whiteout("a", 1);
        assert_eq!(ix.alive("a/x"), None);
        assert_eq!(ix.alive("a"), None);
        ix.place("a", 1, Tag::Dir);
        ix.place("a/y", 1, Tag::File);
        assert_eq!(ix.alive("a"), Some(Tag::Dir));
        assert_eq!(ix.alive("a/y"), Some(Tag::File));
        assert_eq!(ix.alive("a/x"), None);
    }

    #[test]
    fn opaque_hides_lower_children_only() {
        let mut ix = PathIndex::default();
        ix.place("d", 0, Tag::Dir);
        ix.place("d/old", 0, Tag::File);
        ix.place("d/new", 1, Tag::File);
        ix.opaque("d", 1);
        assert_eq!(ix.alive("d/old"), None);
        assert_eq!(ix.alive("d/new"), Some(Tag::File));
        assert_eq!(ix.alive("d"), Some(Tag::Dir));
    }

    #[test]
    fn order_independent() {
        let ops: [&dyn Fn(&mut PathIndex); 4] = [
            &|ix| ix.place("a/b", 0, Tag::File),
            &|ix| ix.place("a", 1, Tag::Symlink),
            &|ix| ix.place("a", 2, Tag::Dir),
            &|ix| ix.place("a/c", 2, Tag::File),
        ];
        let mut fwd = PathIndex::default();
        let mut rev = PathIndex::default();
        ops.iter().for_each(|f| f(&mut fwd));
        ops.iter().rev().for_each(|f| f(&mut rev));
        for ix in [&fwd, &rev] {
            assert_eq!(ix.alive("a/b"), None);
            assert_eq!(ix.alive("a"), Some(Tag::Dir));
            assert_eq!(ix.alive("a/c"), Some(Tag::File));
        }
    }

    #[test]
    fn settle_and_hidden() {
        let mut ix = PathIndex::default();
        ix.place("etc/x", 3, Tag::File);
        assert_eq!(ix.settle("etc"), Settle::Open);
        assert_eq!(ix.settle("etc/x"), Settle::Present(Tag::File));
        ix.whiteout("var", 3);
        assert_eq!(ix.settle("var/lib/y"), Settle::Gone);
        assert!(ix.hidden_by_upper("var/lib/y", 2));
        assert!(ix.hidden_by_upper("etc/x", 2));
        assert!(!ix.hidden_by_upper("etc/z", 2));
        assert!(ix.closed_below("var/lib"));
        assert!(!ix.closed_below("etc"));
    }
}
