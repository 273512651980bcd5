//! Layer streams, a `PathQuery` and `MergeOptions` in, a `MergedView` out: the streaming state
//! machine that applies tar entries, whiteouts and opaque markers layer by layer, decides per
//! entry whether to keep it (and its content), and for top-down reading decides when the
//! layers below can no longer change any answer.

use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;

use super::compression::{self, Failure, OpenError, OpenedAny, Taps};
use super::index::{PathIndex, Settle, Tag};
use super::path::{Escapes, PathQuery, display, join, normalize_entry_path, split_parent};
use super::plan::{Candidates, LinkEffect, Plans, under};
use super::resolve::Nodes;
use super::verify::{self, Hashing, Tally};
use super::view::{MergeStats, MergedView, Miss};
use super::{Compression, Entry, EntryKind, LayerError, LayerId, LayerInput, MergeOptions, Missing, Node, Origin};

/// Streams `layers` (base first) and merges them.
pub fn merge_layers(
    layers: Vec<LayerInput>,
    query: &PathQuery,
    options: &MergeOptions,
) -> Result<MergedView, LayerError> {
    let total = layers.len();
    let mut state = State::new(query, options, Direction::BottomUp, total);
    for (index, layer) in layers.into_iter().enumerate() {
        state.stream_layer(layer, index)?;
    }
    Ok(state.finish(false))
}

/// Streams `layers_top_first` (top layer first) and stops as soon as the layers below cannot
/// change any answer (see the module docs of `layers` for the exact conditions). Without an
/// early stop this reads every layer and gives the same view as `merge_layers`. Layers not
/// read are dropped unread and therefore not validated.
pub fn merge_top_down(
    layers_top_first: Vec<LayerInput>,
    query: &PathQuery,
    options: &MergeOptions,
) -> Result<MergedView, LayerError> {
    let total = layers_top_first.len();
    let mut state = State::new(query, options, Direction::TopDown, total);
    for (k, layer) in layers_top_first.into_iter().enumerate() {
        state.stream_layer(layer, total - 1 - k)?;
        if k + 1 < total && state.settled() {
            return Ok(state.finish(true));
        }
    }
    Ok(state.finish(false))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    BottomUp,
    TopDown,
}

/// Tar entry kinds as the merger cares about them.
enum Kind {
    File,
    Dir,
    Symlink(String),
    /// Raw target name of a tar hard link.
    HardLink(Vec<u8>),
    Other,
}

#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
}

enum EntryFail {
    Io(io::Error),
    Header(io::Error),
    Budget(String),
    TooMany,
}

/// Warnings from hostile layers could be unbounded; keep the first ones.
const MAX_WARNINGS: usize = 500;

#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, w: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list.push(format!("{} more warnings were dropped", self.dropped));
        }
        self.list
    }
}

struct State<'q> {
    query: &'q PathQuery,
    opts: MergeOptions,
    direction: Direction,
    nodes: Nodes,
    index: PathIndex,
    plans: Plans,
    dirty: bool,
    candidates: Candidates,
    total_bytes: u64,
    candidate_bytes: u64,
    candidate_budget_hit: bool,
    plan_overflow_warned: bool,
    entries: u64,
    warnings: Warnings,
    layers_total: usize,
    layers_read: usize,
}

impl<'q> State<'q> {
    fn new(query: &'q PathQuery, opts: &MergeOptions, direction: Direction, layers_total: usize) -> State<'q> {
        State {
            query,
            opts: opts.clone(),
            direction,
            nodes: Nodes::new(),
            index: PathIndex::default(),
            plans: Plans::default(),
            dirty: true,
            candidates: Candidates::new(query),
            total_bytes: 0,
            candidate_bytes: 0,
            candidate_budget_hit: false,
            plan_overflow_warned: false,
            entries: 0,
            warnings: Warnings::default(),
            layers_total,
            layers_read: 0,
        }
    }

    fn stream_layer(&mut self, input: LayerInput, index: usize) -> Result<(), LayerError> {
        let id = LayerId { index, name: input.name };
        let open_fail = |e: OpenError| {
            let layer = id.clone();
            match e {
                OpenError::Source(source) => LayerError::Read { layer, source },
                OpenError::Decoder(compression, source) => {
                    LayerError::CorruptCompression { layer, compression, source }
                }
                OpenError::Unknown { magic, detail } => LayerError::UnknownCompression { layer, magic, detail },
            }
        };
        // Every byte is hashed as it streams: the stored blob against the descriptor's digest
        // (or, for a plain tar, the diff_id), the uncompressed tar against the diff_id.
        let expected = input.expected;
        // A seekable blob may be a plain tar, whose stored bytes the diff_id names too.
        let raw_expected =
            expected.blob.as_deref().or(expected.diff_id.as_deref().filter(|_| input.seekable.is_some()));
        let raw_tally = raw_expected.and_then(Tally::new);
        let diff_tally = expected.diff_id.as_deref().and_then(Tally::new);
        let opened = match (input.seekable, &raw_tally) {
            (Some(reader), Some(t)) => {
                compression::open_seekable(Box::new(Hashing::new(reader, Arc::clone(t))), input.compression_hint)
                    .map_err(open_fail)?
            }
            (Some(reader), None) => compression::open_seekable(reader, input.compression_hint).map_err(open_fail)?,
            (None, Some(t)) => OpenedAny::Stream(
                compression::open(Box::new(Hashing::new(input.reader, Arc::clone(t))), input.compression_hint)
                    .map_err(open_fail)?,
            ),
            (None, None) => {
                OpenedAny::Stream(compression::open(input.reader, input.compression_hint).map_err(open_fail)?)
            }
        };
        let digest_fail = |what: &'static str, detail: String| LayerError::Digest { layer: id.clone(), what, detail };
        match opened {
            OpenedAny::Stream(opened) => {
                if let Some(note) = &opened.note {
                    self.warnings.push(format!("{id}: {note}"));
                }
                let taps = Rc::clone(&opened.taps);
                let reader: Box<dyn Read> = match &diff_tally {
                    Some(t) => Box::new(Hashing::new(opened.reader, Arc::clone(t))),
                    None => opened.reader,
                };
                let mut archive = tar::Archive::new(reader);
                let entries = archive.entries().map_err(|e| classify(&taps, opened.compression, &id, 0, e))?;
                let count = self.stream_entries(entries, None, &taps, opened.compression, &id, index)?;
                // `tar` stops at the end-of-archive blocks; reading on makes the decoder check its
                // trailer (gzip CRC and length, zstd frame end) so a damaged blob is not accepted.
                let mut rest = archive.into_inner();
                io::copy(&mut rest, &mut io::sink()).map_err(|e| classify(&taps, opened.compression, &id, count, e))?;
                if let (Some(t), Some(blob)) = (&raw_tally, &expected.blob) {
                    verify::lock(t).check(blob).map_err(|d| digest_fail("the blob", d))?;
                }
                if let (Some(t), Some(diff_id)) = (&diff_tally, &expected.diff_id) {
                    verify::lock(t).check(diff_id).map_err(|d| digest_fail("the uncompressed tar", d))?;
                }
            }
            OpenedAny::Seek(opened) => {
                if let Some(note) = &opened.note {
                    self.warnings.push(format!("{id}: {note}"));
                }
                let taps = Rc::clone(&opened.taps);
                let mut archive = tar::Archive::new(opened.reader);
                let entries = archive.entries_with_seek().map_err(|e| classify(&taps, Compression::None, &id, 0, e))?;
                // A plain tar has no trailer to check, and what follows the end blocks is padding
                // (read all the same when the layer is verified: the digest covers it).
                let count = self.stream_entries(entries, Some(opened.len), &taps, Compression::None, &id, index)?;
                if let Some(t) = &raw_tally {
                    let mut rest = archive.into_inner();
                    io::copy(&mut rest, &mut io::sink())
                        .map_err(|e| classify(&taps, Compression::None, &id, count, e))?;
                    // The stored bytes are the uncompressed tar: both digests name them.
                    for (what, digest) in [("the blob", &expected.blob), ("the uncompressed tar", &expected.diff_id)] {
                        if let Some(digest) = digest {
                            verify::lock(t).check(digest).map_err(|d| digest_fail(what, d))?;
                        }
                    }
                }
            }
        }
        self.layers_read += 1;
        Ok(())
    }

    /// Applies every entry; `len` (for seekable input) catches data that a seek would skip past
    /// the end of the layer, which reading would have reported as truncation.
    fn stream_entries<R: Read>(
        &mut self,
        entries: tar::Entries<'_, R>,
        len: Option<u64>,
        taps: &Taps,
        compression: Compression,
        id: &LayerId,
        index: usize,
    ) -> Result<u64, LayerError> {
        let fail = |source: io::Error, entry: u64| classify(taps, compression, id, entry, source);
        let mut count = 0u64;
        let mut records = super::records::Records::new(entries.raw(true));
        for named in records.by_ref() {
            let named = named.map_err(|e| fail(e, count))?;
            let (mut entry, path, link) = (named.entry, named.path, named.link);
            count += 1;
            if let Some(len) = len
                && entry.raw_file_position().saturating_add(entry.size()) > len
            {
                let source = io::Error::new(io::ErrorKind::UnexpectedEof, "entry data runs past the end of the layer");
                return Err(LayerError::TruncatedTar { layer: id.clone(), entry: count, source });
            }
            match self.apply(&mut entry, &path, link, index, id) {
                Ok(()) => {}
                Err(EntryFail::Io(e)) => return Err(fail(e, count)),
                Err(EntryFail::Header(source)) => {
                    return Err(LayerError::CorruptTar { layer: id.clone(), entry: count, source });
                }
                Err(EntryFail::Budget(path)) => {
                    return Err(LayerError::BudgetExceeded {
                        layer: id.clone(),
                        path: display(&path),
                        limit: self.opts.max_total_bytes,
                    });
                }
                Err(EntryFail::TooMany) => {
                    return Err(LayerError::TooManyEntries { layer: id.clone(), limit: self.opts.max_entries });
                }
            }
        }
        for w in records.warnings.drain(..) {
            self.warnings.push(format!("{id}: {w}"));
        }
        Ok(count)
    }

    /// `raw` and `link_name`: the entry's name and link target with long-name records applied.
    fn apply<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &[u8],
        link_name: Option<Vec<u8>>,
        layer: usize,
        id: &LayerId,
    ) -> Result<(), EntryFail> {
        self.entries += 1;
        if self.entries > self.opts.max_entries {
            return Err(EntryFail::TooMany);
        }
        let trailing_slash = raw.ends_with(b"/");
        let path = match normalize_entry_path(raw) {
            Ok(p) => p,
            Err(Escapes) => {
                let shown = String::from_utf8_lossy(raw).into_owned();
                self.warnings.push(format!("{id}: entry `{shown}` escapes the image root; skipped"));
                return Ok(());
            }
        };
        if path.is_empty() {
            return Ok(());
        }
        let (parent, name) = split_parent(&path);
        if let Some(target) = name.strip_prefix(".wh.") {
            if target == ".wh..opq" {
                let dir = parent.to_owned();
                self.opaque(&dir, layer);
            } else if target.starts_with(".wh.") {
                // AUFS bookkeeping (`.wh..wh.plnk`, …); not part of the image.
            } else if target.is_empty() {
                self.warnings.push(format!("{id}: whiteout `{path}` names nothing; ignored"));
            } else {
                let victim = join(parent, target);
                self.whiteout(&victim, layer);
            }
            return Ok(());
        }

        let header = entry.header();
        let old = header.as_old();
        let mode = lenient(header.mode(), &old.mode)?;
        let uid = lenient(header.uid(), &old.uid)?;
        let gid = lenient(header.gid(), &old.gid)?;
        let et = header.entry_type();
        let kind = if et.is_symlink() {
            Kind::Symlink(String::from_utf8_lossy(&link_name.unwrap_or_default()).into_owned())
        } else if et.is_hard_link() {
            Kind::HardLink(link_name.unwrap_or_default())
        } else if et.is_dir() || (et.is_file() && trailing_slash) {
            Kind::Dir
        } else if et.is_file() || et.is_contiguous() || et.is_gnu_sparse() {
            Kind::File
        } else {
            Kind::Other
        };
        let meta = Meta {
            // Some writers include the S_IFMT type bits; the kind already says that.
            mode: mode & 0o7777,
            uid,
            gid,
            size: entry.size(),
        };
        self.place(path, layer, kind, meta, entry, id)
    }

    fn place<R: Read>(
        &mut self,
        path: String,
        layer: usize,
        kind: Kind,
        meta: Meta,
        data: &mut R,
        id: &LayerId,
    ) -> Result<(), EntryFail> {
        let tag = match kind {
            Kind::Dir => Tag::Dir,
            Kind::File | Kind::HardLink(_) => Tag::File,
            Kind::Symlink(_) => Tag::Symlink,
            Kind::Other => Tag::Other,
        };
        let hidden = self.direction == Direction::TopDown && self.index.hidden_by_upper(&path, layer);
        self.index.place(&path, layer, tag);
        if hidden {
            return Ok(());
        }
        // Bottom-up the existing node is from a lower layer or earlier in this one; top-down
        // it can only be from earlier in this layer (upper ones made it `hidden`).
        if let Some(old) = self.nodes.remove(&path) {
            self.forget(&path, &old);
        }
        if self.direction == Direction::BottomUp && tag != Tag::Dir {
            self.remove_lower_below(&path, layer);
        }

        let entry = |kind: EntryKind, size: u64| Entry {
            kind,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            size,
            content: None,
        };
        if let Kind::Symlink(target) = kind {
            let size = target.len() as u64;
            let node =
                Node { entry: entry(EntryKind::Symlink(target), size), layer, origin: Origin::Link, missing: None };
            let effect = self.plans.link_effect(&path);
            self.nodes.insert(path.clone(), node);
            match effect {
                LinkEffect::None => {}
                LinkEffect::Rebuild => self.dirty = true,
                LinkEffect::Extend if self.dirty => {}
                LinkEffect::Extend => {
                    self.plans.add_link(&self.nodes, &path, self.opts.max_symlink_hops);
                    self.note_overflow();
                }
            }
            return Ok(());
        }

        if self.dirty {
            self.replan();
        }
        let wanted = self.plans.wants(&path);
        let candidate = !wanted && matches!(kind, Kind::File | Kind::HardLink(_)) && self.candidates.contains(&path);
        if !wanted && !candidate {
            return Ok(());
        }
        let origin = if wanted { Origin::Wanted } else { Origin::Candidate };
        let node = match kind {
            Kind::Dir => Node { entry: entry(EntryKind::Dir, 0), layer, origin, missing: None },
            Kind::Other => Node { entry: entry(EntryKind::Other, meta.size), layer, origin, missing: None },
            Kind::File => {
                let mut node = Node { entry: entry(EntryKind::File, meta.size), layer, origin, missing: None };
                self.capture(&path, &mut node, data)?;
                node
            }
            Kind::HardLink(raw_target) => {
                let Ok(target) = normalize_entry_path(&raw_target) else {
                    self.warnings.push(format!("{id}: hard link `{path}` points outside the image root; skipped"));
                    return Ok(());
                };
                self.hard_link(&path, &target, meta, layer, origin)?
            }
            Kind::Symlink(_) => unreachable!("handled above"),
        };
        self.nodes.insert(path, node);
        Ok(())
    }

    /// Reads a regular file's data into `node` within the caps.
    fn capture<R: Read>(&mut self, path: &str, node: &mut Node, data: &mut R) -> Result<(), EntryFail> {
        let size = node.entry.size;
        if size > self.opts.max_file_bytes {
            node.missing = Some(Missing::OverCap);
            return Ok(());
        }
        if !self.reserve(size, node.origin, path)? {
            node.missing = Some(Missing::CandidateBudget);
            return Ok(());
        }
        // `size` is at most `max_file_bytes` here, so the allocation is bounded by the cap.
        let mut buf = Vec::with_capacity(size as usize);
        let read = data.take(size).read_to_end(&mut buf);
        if let Err(e) = read {
            self.release(size, node.origin);
            return Err(EntryFail::Io(e));
        }
        if (buf.len() as u64) < size {
            self.release(size, node.origin);
            return Err(EntryFail::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("`{}` declares {size} bytes but only {} follow", display(path), buf.len()),
            )));
        }
        node.entry.content = Some(buf);
        Ok(())
    }

    fn hard_link(
        &mut self,
        path: &str,
        target: &str,
        meta: Meta,
        layer: usize,
        origin: Origin,
    ) -> Result<Node, EntryFail> {
        let found = self
            .nodes
            .get(target)
            .filter(|n| n.entry.kind == EntryKind::File)
            .map(|n| (n.entry.clone(), n.missing.clone()));
        let Some((mut entry, missing)) = found else {
            return Ok(Node {
                entry: Entry {
                    kind: EntryKind::File,
                    mode: meta.mode,
                    uid: meta.uid,
                    gid: meta.gid,
                    size: 0,
                    content: None,
                },
                layer,
                origin,
                missing: Some(Missing::HardLinkTarget(target.to_owned())),
            });
        };
        let mut node_missing = missing;
        if let Some(content) = entry.content.take() {
            if self.reserve(content.len() as u64, origin, path)? {
                entry.content = Some(content);
            } else {
                node_missing = Some(Missing::CandidateBudget);
            }
        }
        Ok(Node { entry, layer, origin, missing: node_missing })
    }

    /// Books `size` bytes of content; `Ok(false)` when a speculative capture does not fit.
    fn reserve(&mut self, size: u64, origin: Origin, path: &str) -> Result<bool, EntryFail> {
        let total = self.total_bytes.saturating_add(size);
        if origin == Origin::Candidate {
            let cand = self.candidate_bytes.saturating_add(size);
            if cand > self.opts.max_candidate_bytes || total > self.opts.max_total_bytes {
                self.candidate_budget_hit = true;
                return Ok(false);
            }
            self.candidate_bytes = cand;
        } else if total > self.opts.max_total_bytes {
            return Err(EntryFail::Budget(path.to_owned()));
        }
        self.total_bytes = total;
        Ok(true)
    }

    fn release(&mut self, size: u64, origin: Origin) {
        self.total_bytes = self.total_bytes.saturating_sub(size);
        if origin == Origin::Candidate {
            self.candidate_bytes = self.candidate_bytes.saturating_sub(size);
        }
    }

    /// Bookkeeping for a node leaving the view.
    fn forget(&mut self, path: &str, node: &Node) {
        if let Some(c) = &node.entry.content {
            self.release(c.len() as u64, node.origin);
        }
        if matches!(node.entry.kind, EntryKind::Symlink(_)) && self.plans.link_effect(path) != LinkEffect::None {
            self.dirty = true;
        }
    }

    /// Bottom-up only: drops nodes strictly below `dir` that came from layers under `layer`.
    fn remove_lower_below(&mut self, dir: &str, layer: usize) {
        let doomed: Vec<String> =
            under(&self.nodes, dir).filter(|(_, n)| n.layer < layer).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            if let Some(n) = self.nodes.remove(&k) {
                self.forget(&k, &n);
            }
        }
    }

    fn whiteout(&mut self, path: &str, layer: usize) {
        self.index.whiteout(path, layer);
        if self.direction == Direction::BottomUp {
            if self.nodes.get(path).is_some_and(|n| n.layer < layer)
                && let Some(n) = self.nodes.remove(path)
            {
                self.forget(path, &n);
            }
            self.remove_lower_below(path, layer);
        }
    }

    fn opaque(&mut self, dir: &str, layer: usize) {
        self.index.opaque(dir, layer);
        if self.direction == Direction::BottomUp {
            self.remove_lower_below(dir, layer);
        }
    }

    fn replan(&mut self) {
        self.plans = Plans::build(self.query, &self.nodes, self.opts.max_symlink_hops);
        self.dirty = false;
        self.note_overflow();
    }

    fn note_overflow(&mut self) {
        if self.plans.overflow && !self.plan_overflow_warned {
            self.plan_overflow_warned = true;
            self.warnings.push(
                "too many symlinks along the queried patterns; some link branches were not \
                 followed"
                    .to_owned(),
            );
        }
    }

    /// Top-down: can the unread lower layers still change any answer?
    fn settled(&self) -> bool {
        self.query.patterns().iter().all(|p| {
            if p.is_exact() {
                self.walk_settled(&p.literal_path()) != Walk::Open
            } else {
                self.pattern_settled(p.comps())
            }
        })
    }

    /// Resolves `path` using only what the read layers decide; `Open` as soon as some
    /// component could still be supplied (as a link, a directory or a file) by a lower layer.
    fn walk_settled(&self, path: &str) -> Walk {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
        let mut cur = String::new();
        let mut hops = 0usize;
        while let Some(comp) = pending.pop() {
            if comp.is_empty() || comp == "." {
                continue;
            }
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
            match self.index.settle(&cur) {
                Settle::Open => return Walk::Open,
                Settle::Gone => return Walk::Absent,
                Settle::Present(Tag::Symlink) => {
                    let Some(EntryKind::Symlink(target)) = self.nodes.get(&cur).map(|n| &n.entry.kind) else {
                        return Walk::Open;
                    };
                    hops += 1;
                    if hops > self.opts.max_symlink_hops || target.is_empty() {
                        return Walk::Absent;
                    }
                    if target.starts_with('/') {
                        cur.clear();
                    } else {
                        cur.truncate(parent_len);
                    }
                    pending.extend(target.split('/').rev().map(str::to_owned));
                }
                Settle::Present(Tag::Dir) => {}
                Settle::Present(_) if is_last => return Walk::Found(false, cur),
                Settle::Present(_) => return Walk::Absent,
            }
        }
        Walk::Found(true, cur)
    }

    fn pattern_settled(&self, comps: &[super::path::Comp]) -> bool {
        use super::path::Comp;
        let mut prefix = String::new();
        for c in comps {
            match c {
                Comp::Literal(name) => prefix = join(&prefix, name),
                Comp::Glob(_) => break,
            }
        }
        let dir = if prefix.is_empty() {
            String::new()
        } else {
            match self.walk_settled(&prefix) {
                Walk::Open => return false,
                Walk::Absent | Walk::Found(false, _) => return true,
                Walk::Found(true, dir) => dir,
            }
        };
        self.index.closed_below(&dir)
            && !under(&self.nodes, &dir).any(|(_, n)| matches!(n.entry.kind, EntryKind::Symlink(_)))
    }

    fn finish(mut self, stopped_early: bool) -> MergedView {
        self.replan();
        let plans = &self.plans;
        self.nodes.retain(|p, n| matches!(n.entry.kind, EntryKind::Symlink(_)) || plans.wants(p));
        for (p, n) in &self.nodes {
            let p = display(p);
            match &n.missing {
                None => {}
                Some(Missing::OverCap) => self.warnings.push(format!(
                    "{p} is {} bytes, over the {}-byte per-file cap; content not captured",
                    n.entry.size, self.opts.max_file_bytes
                )),
                Some(Missing::CandidateBudget) => self.warnings.push(format!(
                    "{p} was reached through a symlink that came after it and the speculative \
                     capture budget ({} bytes) was exhausted; content not captured",
                    self.opts.max_candidate_bytes
                )),
                Some(Missing::HardLinkTarget(t)) => self.warnings.push(format!(
                    "{p} is a hard link to /{t}, whose content was not captured; content and \
                     size unavailable"
                )),
            }
        }
        if self.candidate_budget_hit {
            self.warnings.push(format!(
                "speculative captures exceeded {} bytes; files reached only through symlinks \
                 listed after them may lack content",
                self.opts.max_candidate_bytes
            ));
        }
        let captured_bytes = self.nodes.values().filter_map(|n| n.entry.content.as_ref()).map(|c| c.len() as u64).sum();
        let stats = MergeStats {
            layers: self.layers_total,
            layers_read: self.layers_read,
            stopped_early,
            entries_seen: self.entries,
            indexed_paths: self.index.len(),
            captured_bytes,
        };
        let mut view = MergedView::new(self.nodes, self.index, self.opts.max_symlink_hops, stats);
        let mut warnings = self.warnings;
        for p in self.query.patterns().iter().filter(|p| p.is_exact()) {
            if let Err(Miss::NotCaptured { path }) = view.lookup(&p.to_string()) {
                let lost = match view.kind(&path) {
                    _ if view.exists_physical_file(&path) => "content",
                    Some(EntryKind::Dir) => "owner and mode",
                    _ => continue,
                };
                warnings.push(format!(
                    "{p} resolves to {path}, which exists but was streamed before the symlink \
                     leading to it; {lost} not captured"
                ));
            }
        }
        view.warnings = warnings.finish();
        view
    }
}

/// Go's `archive/tar` (what Docker uses) reads an empty numeric field as 0; only real garbage
/// is a corrupt header.
fn lenient<T: Default>(parsed: io::Result<T>, field: &[u8]) -> Result<T, EntryFail> {
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if field.iter().all(|&b| b == 0 || b == b' ') => Ok(T::default()),
        Err(e) => Err(EntryFail::Header(e)),
    }
}

/// Outcome of `walk_settled`.
#[derive(Debug, PartialEq, Eq)]
enum Walk {
    Open,
    Absent,
    /// (is a directory, physical path)
    Found(bool, String),
}

fn classify(taps: &Taps, compression: Compression, id: &LayerId, entry: u64, source: io::Error) -> LayerError {
    let layer = id.clone();
    match taps.classify() {
        Failure::Source => LayerError::Read { layer, source },
        Failure::TruncatedCompressed => LayerError::TruncatedCompression { layer, compression, source },
        Failure::CorruptCompressed => LayerError::CorruptCompression { layer, compression, source },
        Failure::TruncatedTar => LayerError::TruncatedTar { layer, entry, source },
        Failure::CorruptTar => LayerError::CorruptTar { layer, entry, source },
    }
}
