//! Raw layer bytes (plus an optional media-type hint) in, a decompressed tar byte stream out.
//! Sniffs gzip / zstd / plain tar by magic bytes and taps both ends of the decoder so that a
//! failure can later be classified as "truncated", "corrupt compression" or "corrupt tar".

use std::cell::Cell;
use std::fmt;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::rc::Rc;

use super::SeekRead;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Reads the suffix of an OCI / Docker layer media type (`...tar+gzip`, `...tar.gzip`,
    /// `...tar+zstd`, `...tar`). Unknown media types give `None` so sniffing decides alone.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        let mt = media_type.trim().to_ascii_lowercase();
        if mt.ends_with("+gzip") || mt.ends_with(".gzip") || mt.ends_with("tar.gz") {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") || mt.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") || mt.ends_with("layer.v1.tar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// What happened at each end of the decoder, recorded as it happens because `tar` wraps every
/// underlying error into its own messages.
#[derive(Debug, Default)]
pub(crate) struct Taps {
    raw_eof: Cell<bool>,
    raw_err: Cell<bool>,
    dec_eof: Cell<bool>,
    dec_err: Cell<Option<io::ErrorKind>>,
}

/// Where a failure came from, judged from the taps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The caller's reader itself failed (disk, network…).
    Source,
    /// The compressed input ended before the compressed stream did.
    TruncatedCompressed,
    /// The decoder rejected bytes it had in hand.
    CorruptCompressed,
    /// The tar data ended inside a header or an entry's data.
    TruncatedTar,
    /// The tar data itself is malformed (bad checksum, bad number field…).
    CorruptTar,
}

impl Taps {
    pub(crate) fn classify(&self) -> Failure {
        if self.raw_err.get() {
            Failure::Source
        } else if let Some(kind) = self.dec_err.get() {
            // Both decoders report an input that stops mid-stream as `UnexpectedEof`; a bad
            // checksum at the very end also comes after the raw EOF, so EOF alone proves
            // nothing.
            if kind == io::ErrorKind::UnexpectedEof && self.raw_eof.get() {
                Failure::TruncatedCompressed
            } else {
                Failure::CorruptCompressed
            }
        } else if self.dec_eof.get() {
            Failure::TruncatedTar
        } else {
            Failure::CorruptTar
        }
    }
}

struct RawTap {
    inner: Box<dyn Read + Send>,
    taps: Rc<Taps>,
}

impl Read for RawTap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.taps.raw_eof.set(true);
                Ok(0)
            }
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.taps.raw_err.set(true);
                Err(e)
            }
            other => other,
        }
    }
}

struct DecTap {
    inner: Box<dyn Read>,
    taps: Rc<Taps>,
}

impl Read for DecTap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.taps.dec_eof.set(true);
                Ok(0)
            }
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.taps.dec_err.set(Some(e.kind()));
                Err(e)
            }
            other => other,
        }
    }
}

pub(crate) struct Opened {
    pub reader: Box<dyn Read>,
    pub compression: Compression,
    pub taps: Rc<Taps>,
    /// Set when the hint and the bytes disagree (the bytes win).
    pub note: Option<String>,
}

#[derive(Debug)]
pub(crate) enum OpenError {
    Source(io::Error),
    Decoder(Compression, io::Error),
    Unknown { magic: String, detail: &'static str },
}

/// What the first bytes say.
#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    Known(Compression),
    Unsupported(&'static str),
    Unrecognized,
}

const HEAD_LEN: usize = 512;

fn sniff(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        // A zero-byte blob: `tar` sees an archive without entries.
        return Sniffed::Known(Compression::None);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Known(Compression::Gzip);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Sniffed::Known(Compression::Zstd);
    }
    // zstd skippable frame (zstd:chunked and seekable formats may lead with one).
    if head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18] {
        return Sniffed::Known(Compression::Zstd);
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Sniffed::Unsupported("xz-compressed layers are not supported");
    }
    if head.starts_with(b"BZh") {
        return Sniffed::Unsupported("bzip2-compressed layers are not supported");
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Sniffed::Known(Compression::None);
    }
    if head.len() == HEAD_LEN && (head.iter().all(|&b| b == 0) || v7_checksum_ok(head)) {
        return Sniffed::Known(Compression::None);
    }
    Sniffed::Unrecognized
}

/// Pre-POSIX tar headers carry no magic; a matching header checksum is the only tell.
fn v7_checksum_ok(block: &[u8]) -> bool {
    let field = &block[148..156];
    let digits: String = field.iter().take_while(|&&b| b != 0 && b != b' ').map(|&b| b as char).collect();
    let Ok(stored) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = block[..148].iter().chain(&block[156..]).map(|&b| u32::from(b)).sum::<u32>() + 8 * 32;
    !digits.is_empty() && sum == stored
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn open(reader: Box<dyn Read + Send>, hint: Option<Compression>) -> Result<Opened, OpenError> {
    let taps = Rc::new(Taps::default());
    let mut raw = RawTap { inner: reader, taps: Rc::clone(&taps) };
    let mut head = Vec::with_capacity(HEAD_LEN);
    raw.by_ref().take(HEAD_LEN as u64).read_to_end(&mut head).map_err(OpenError::Source)?;
    let (compression, note) = match (sniff(&head), hint) {
        (Sniffed::Known(c), Some(h)) if c != h => {
            (c, Some(format!("declared {h} but the bytes are {c}; reading as {c}")))
        }
        (Sniffed::Known(c), _) => (c, None),
        (Sniffed::Unsupported(detail), _) => {
            return Err(OpenError::Unknown { magic: hex(&head), detail });
        }
        (Sniffed::Unrecognized, Some(h)) => (h, None),
        (Sniffed::Unrecognized, None) => {
            return Err(OpenError::Unknown { magic: hex(&head), detail: "neither gzip, zstd nor tar" });
        }
    };
    let source = Cursor::new(head).chain(raw);
    let decoder: Box<dyn Read> = match compression {
        Compression::None => Box::new(source),
        // Multi-member gzip is legal and some tools concatenate members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(source).map_err(|e| OpenError::Decoder(Compression::Zstd, e))?)
        }
    };
    Ok(Opened { reader: Box::new(DecTap { inner: decoder, taps: Rc::clone(&taps) }), compression, taps, note })
}

/// A seekable plain tar: one tap stands for both ends, since nothing decodes in between.
pub(crate) struct SeekTap {
    inner: Box<dyn SeekRead>,
    taps: Rc<Taps>,
}

impl Read for SeekTap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.taps.raw_eof.set(true);
                self.taps.dec_eof.set(true);
                Ok(0)
            }
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.taps.raw_err.set(true);
                Err(e)
            }
            other => other,
        }
    }
}

impl Seek for SeekTap {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to).inspect_err(|_| self.taps.raw_err.set(true))
    }
}

pub(crate) struct OpenedSeek {
    pub reader: SeekTap,
    pub taps: Rc<Taps>,
    /// Bytes from the start position to the end of the input.
    pub len: u64,
    pub note: Option<String>,
}

pub(crate) enum OpenedAny {
    Stream(Opened),
    Seek(OpenedSeek),
}

/// Like `open`, but an uncompressed tar stays seekable so unwanted entry data can be skipped.
pub(crate) fn open_seekable(mut reader: Box<dyn SeekRead>, hint: Option<Compression>) -> Result<OpenedAny, OpenError> {
    let start = reader.stream_position().map_err(OpenError::Source)?;
    let mut head = Vec::with_capacity(HEAD_LEN);
    (&mut reader).take(HEAD_LEN as u64).read_to_end(&mut head).map_err(OpenError::Source)?;
    reader.seek(SeekFrom::Start(start)).map_err(OpenError::Source)?;
    if sniff(&head) != Sniffed::Known(Compression::None) {
        return open(Box::new(reader), hint).map(OpenedAny::Stream);
    }
    let end = reader.seek(SeekFrom::End(0)).map_err(OpenError::Source)?;
    reader.seek(SeekFrom::Start(start)).map_err(OpenError::Source)?;
    let note = hint
        .filter(|h| *h != Compression::None)
        .map(|h| format!("declared {h} but the bytes are {}; reading as {}", Compression::None, Compression::None));
    let taps = Rc::new(Taps::default());
    let reader = SeekTap { inner: reader, taps: Rc::clone(&taps) };
    Ok(OpenedAny::Seek(OpenedSeek { reader, taps, len: end.saturating_sub(start), note }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn plain_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "a", &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn read_all(bytes: Vec<u8>, hint: Option<Compression>) -> (Vec<u8>, Compression) {
        let mut o = open(Box::new(Cursor::new(bytes)), hint).unwrap();
        let mut out = Vec::new();
        o.reader.read_to_end(&mut out).unwrap();
        (out, o.compression)
    }

    #[test]
    fn sniffs_each_format() {
        let tar = plain_tar();
        assert_eq!(read_all(tar.clone(), None), (tar.clone(), Compression::None));

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(read_all(gz, None), (tar.clone(), Compression::Gzip));

        let zs = zstd::encode_all(&tar[..], 1).unwrap();
        assert_eq!(read_all(zs, None), (tar.clone(), Compression::Zstd));

        assert_eq!(read_all(Vec::new(), None).1, Compression::None);
        assert_eq!(read_all(vec![0; 1024], None).1, Compression::None);
    }

    #[test]
    fn bytes_beat_hint_and_hint_fills_gaps() {
        let tar = plain_tar();
        let o = open(Box::new(Cursor::new(tar)), Some(Compression::Gzip)).unwrap();
        assert_eq!(o.compression, Compression::None);
        assert!(o.note.unwrap().contains("declared gzip"));

        let o = open(Box::new(Cursor::new(b"garbage".to_vec())), Some(Compression::None)).unwrap();
        assert_eq!(o.compression, Compression::None);
        assert!(o.note.is_none());
    }

    #[test]
    fn unknown_and_unsupported_are_errors() {
        let e = open(Box::new(Cursor::new(b"hello world".to_vec())), None);
        assert!(matches!(e, Err(OpenError::Unknown { .. })));
        let xz = vec![0xfd, b'7', b'z', b'X', b'Z', 0x00, 1, 2];
        let e = open(Box::new(Cursor::new(xz)), Some(Compression::Gzip));
        assert!(matches!(e, Err(OpenError::Unknown { detail, .. }) if detail.contains("xz")));
    }

    #[test]
    fn media_types() {
        let m = Compression::from_media_type;
        assert_eq!(m("application/vnd.oci.image.layer.v1.tar+gzip"), Some(Compression::Gzip));
        assert_eq!(m("application/vnd.docker.image.rootfs.diff.tar.gzip"), Some(Compression::Gzip));
        assert_eq!(m("application/vnd.oci.image.layer.v1.tar+zstd"), Some(Compression::Zstd));
        assert_eq!(m("application/vnd.oci.image.layer.v1.tar"), Some(Compression::None));
        assert_eq!(m("application/octet-stream"), None);
    }

    #[test]
    fn v7_header_is_recognized() {
        let mut block = plain_tar()[..512].to_vec();
        block[257..265].fill(0);
        let sum: u32 = block[..148].iter().chain(&block[156..]).map(|&b| u32::from(b)).sum::<u32>() + 256;
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(sniff(&block), Sniffed::Known(Compression::None));
    }
}
