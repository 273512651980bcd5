//! Container image layers (tar streams, gzip / zstd / plain, base first) and a `PathQuery` in,
//! a `MergedView` out: the merged image file system restricted to the queried paths, built by
//! streaming every layer exactly once, never extracting to disk and never running anything.
//!
//! # Semantics
//! OCI image-spec layer rules, as Docker and containerd apply them:
//! * `dir/.wh.NAME` deletes `NAME` and everything below it from *lower* layers;
//!   `dir/.wh..wh..opq` hides everything lower under `dir`. Both only ever touch lower
//!   layers, so their position in the tar does not matter (an opaque marker listed after
//!   `dir/x` of the same layer does not delete `dir/x`). Other `.wh..wh.*` names (AUFS
//!   bookkeeping) are ignored.
//! * The same path twice in a layer: the later entry wins. A non-directory replacing a
//!   directory of a lower layer removes that directory's lower subtree; a directory over a
//!   directory merges.
//! * Entry names are cleaned lexically (`./`, `//`, inner `..`); names escaping the root are
//!   skipped with a warning.
//! * An entry listed *below* a path that is a symlink at that point (`lib/x` while `lib ->
//!   usr/lib`) is kept at its literal path, where resolution never reaches it. Image builders
//!   never write such entries, and Docker (overlay2) and containerd disagree on them.
//!
//! # Symlinks
//! Queries name *logical* paths; the file that answers may be stored elsewhere (`/lib ->
//! usr/lib`, `/etc/os-release -> ../usr/lib/os-release`). While streaming, each entry's
//! physical path is tested against the query rewritten through every link known at that
//! moment (see `plan.rs`): that covers links in lower layers and links earlier in the same
//! layer. For links that show up *after* the file in stream order (later in the same tar, or
//! in an upper layer), a speculative rule keeps any file whose trailing components match the
//! query's tail from its last selective component (`installed`, `os-release`, `METADATA`,
//! `status.d/*`…), within `MergeOptions::max_candidate_bytes`. That covers every ancestor
//! link (the usr-merge case) in any order. At the end the query is rewritten through the
//! *final* links and everything else is dropped.
//!
//! Not covered, but detected: a *final* link that appears after the file it points to and
//! whose target has a different tail (`/etc/localtime -> /usr/share/zoneinfo/UTC` added above
//! the tzdata layer). The compact path index (`index.rs`) knows the target exists, so
//! `lookup` answers `Miss::NotCaptured`, and for exact queries a warning is pushed.
//!
//! # Hard links
//! A tar `Link` entry binds to the target's content and metadata as the view holds them when
//! the link is read (tar lists the target first). If the target was captured (it was wanted,
//! or a candidate by the rule above, which catches the common same-name case such as a
//! `uv`/pip cache hard-linked into `site-packages`), the link gets a copy. Otherwise the link
//! is kept with the link header's metadata, `size` 0, no content and a warning. Buffering
//! every file of a layer just in case would not be bounded, so this is the deliberate bound.
//!
//! # Top-down reading
//! `merge_top_down` reads layers top first and stops once lower layers provably cannot change
//! any answer: every exact query's resolution walks only through paths that a read layer
//! lists explicitly (or deletes), so no unread layer can slip a symlink or a file in; every
//! pattern query's literal prefix is settled the same way and ends at a missing path, a
//! non-directory, or a directory whose lower contents are all hidden (opaque marker or
//! whiteout in a read layer) with no symlinks below it. Anything else keeps reading, down to
//! the base, which gives the bottom-up answer. The index records are order-independent, so
//! the merged state is the same either way. The differences: which late-link case above is
//! missed (here a link *below* the file it reaches; detected and warned the same way), and a
//! hard link whose target sits in a lower layer (containerd-style, never produced by Docker)
//! gets no content. Layers not read are not validated.
//!
//! Which order to use: top-down when only exact paths are asked for and upper layers are
//! likely to settle them; it also handles the common Dockerfile move of re-pointing a link
//! (`ln -sf /usr/share/zoneinfo/X /etc/localtime`) above its target, which bottom-up can only
//! report. Bottom-up handles the reverse (a base link whose target an upper layer rewrites
//! under another name). Both are single-pass and bounded.
//!
//! # Bounds
//! Content is held only for wanted files and candidates, each at most `max_file_bytes`
//! (bigger wanted files keep metadata, `content: None`, and a warning), in total at most
//! `max_total_bytes` (an error beyond it). Symlinks are kept as metadata, and every distinct
//! path costs a few dozen bytes in the hashed path index, up to `max_entries` tar entries. The
//! `tar` crate itself buffers PAX / GNU long-name records whole; those are bounded by the
//! layer's actual size, not by these caps. Entries with absurd sizes are never allocated for;
//! a layer that ends early is an error. Link farms along glob patterns are bounded too (a
//! warning says when branches were dropped).

mod compression;
mod index;
mod merge;
mod path;
mod plan;
pub mod records;
pub(crate) mod resolve;
pub mod verify;
mod view;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Read, Seek};

use thiserror::Error;

pub use compression::Compression;
pub use merge::{merge_layers, merge_top_down};
pub use path::{PathQuery, Pattern, QueryError};
pub use view::{MergeStats, MergedView, Miss};

/// What a merged path is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    /// The raw link target as stored in the tar.
    Symlink(String),
    /// Devices, FIFOs and anything else without content.
    Other,
}

/// One path of the merged view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits (and set-id / sticky bits) from the tar header.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Only for wanted regular files no larger than `MergeOptions::max_file_bytes`.
    pub content: Option<Vec<u8>>,
}

/// One layer blob to stream.
pub struct LayerInput {
    /// Digest or any label; only used in errors and warnings.
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// From the media type, if known. The magic bytes win when they disagree.
    pub compression_hint: Option<Compression>,
    /// Set by `seekable`: lets the merger seek over unwanted entry data of uncompressed tars.
    seekable: Option<Box<dyn SeekRead>>,
    /// The digests the layer must hash to; checked while it streams.
    pub expected: verify::Expected,
}

/// `Read + Seek + Send` as one object-safe trait.
pub trait SeekRead: Read + Seek + Send {}
impl<T: Read + Seek + Send> SeekRead for T {}

impl LayerInput {
    pub fn new(name: impl Into<String>, reader: Box<dyn Read + Send>) -> LayerInput {
        LayerInput { name: name.into(), reader, compression_hint: None, seekable: None, expected: Default::default() }
    }

    /// A layer the merger may seek in: when its bytes are an uncompressed tar, the data of
    /// entries that are not wanted is skipped by seeking instead of being read.
    pub fn seekable(name: impl Into<String>, reader: Box<dyn SeekRead>) -> LayerInput {
        LayerInput {
            name: name.into(),
            reader: Box::new(io::empty()),
            compression_hint: None,
            seekable: Some(reader),
            expected: Default::default(),
        }
    }

    /// The blob digest and `diff_id` the layer must hash to (a mismatch fails the image).
    pub fn with_expected(mut self, expected: verify::Expected) -> LayerInput {
        self.expected = expected;
        self
    }

    pub fn with_hint(mut self, hint: Option<Compression>) -> LayerInput {
        self.compression_hint = hint;
        self
    }
}

impl fmt::Debug for LayerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerInput")
            .field("name", &self.name)
            .field("compression_hint", &self.compression_hint)
            .finish_non_exhaustive()
    }
}

/// Limits for one merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// Per wanted file; larger ones keep metadata only (with a warning).
    pub max_file_bytes: u64,
    /// All captured content together; exceeding it is an error.
    pub max_total_bytes: u64,
    /// Speculative captures (see the module docs); exceeding it stops speculating, with a
    /// warning, instead of failing.
    pub max_candidate_bytes: u64,
    /// Links followed in one resolution before giving up (Linux uses 40).
    pub max_symlink_hops: usize,
    /// Tar entries over the whole image.
    pub max_entries: u64,
}

impl Default for MergeOptions {
    fn default() -> MergeOptions {
        MergeOptions {
            max_file_bytes: 16 << 20,
            max_total_bytes: 256 << 20,
            max_candidate_bytes: 32 << 20,
            max_symlink_hops: 40,
            max_entries: 4_000_000,
        }
    }
}

/// Which layer an error is about. `index` counts from the base layer (0), in both reading
/// orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerId {
    pub index: usize,
    pub name: String,
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "layer {}", self.index)
        } else {
            write!(f, "layer {} ({})", self.index, self.name)
        }
    }
}

/// A layer that cannot be read faithfully. The whole image fails; no partial view is returned.
#[derive(Debug, Error)]
pub enum LayerError {
    #[error("{layer}: unknown compression ({detail}; first bytes {magic})")]
    UnknownCompression { layer: LayerId, magic: String, detail: &'static str },
    #[error("{layer}: truncated {compression} stream: {source}")]
    TruncatedCompression { layer: LayerId, compression: Compression, source: io::Error },
    #[error("{layer}: corrupt {compression} data: {source}")]
    CorruptCompression { layer: LayerId, compression: Compression, source: io::Error },
    #[error("{layer}: tar data ends early (in or after entry {entry}): {source}")]
    TruncatedTar { layer: LayerId, entry: u64, source: io::Error },
    #[error("{layer}: corrupt tar header (in or after entry {entry}): {source}")]
    CorruptTar { layer: LayerId, entry: u64, source: io::Error },
    #[error("{layer}: reading the layer failed: {source}")]
    Read { layer: LayerId, source: io::Error },
    #[error("{layer}: captured content would exceed the {limit}-byte budget at {path}")]
    BudgetExceeded { layer: LayerId, path: String, limit: u64 },
    #[error("{layer}: more than {limit} tar entries in the image")]
    TooManyEntries { layer: LayerId, limit: u64 },
    /// The stored blob or the uncompressed tar does not hash to what the image says.
    #[error("{layer}: {what} hashes to {detail}")]
    Digest { layer: LayerId, what: &'static str, detail: String },
}

impl LayerError {
    pub fn layer(&self) -> &LayerId {
        match self {
            LayerError::UnknownCompression { layer, .. }
            | LayerError::TruncatedCompression { layer, .. }
            | LayerError::CorruptCompression { layer, .. }
            | LayerError::TruncatedTar { layer, .. }
            | LayerError::CorruptTar { layer, .. }
            | LayerError::Read { layer, .. }
            | LayerError::BudgetExceeded { layer, .. }
            | LayerError::TooManyEntries { layer, .. }
            | LayerError::Digest { layer, .. } => layer,
        }
    }
}

/// Why a kept node has no content although it is a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    OverCap,
    CandidateBudget,
    /// Canonical path of the hard-link target that was not captured.
    HardLinkTarget(String),
}

/// Why a node was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Wanted,
    Candidate,
    /// Symlinks are always kept: any of them may sit on a queried path.
    Link,
}

/// A kept path with its bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub entry: Entry,
    /// Bottom-up layer index that placed it.
    pub layer: usize,
    pub origin: Origin,
    pub missing: Option<Missing>,
}
