//! A layer's bytes in, its digest out, computed while the merger reads: `Hashing` wraps the
//! stored blob (checked against the descriptor's digest) and the uncompressed tar (checked
//! against the config's `diff_id`). A forward seek (the merger skipping unwanted entry data)
//! reads through instead, so every byte is hashed; a seek back to the start restarts the hash.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest as _, Sha256, Sha512};

/// What a layer is expected to hash to (`sha256:<hex>` or `sha512:<hex>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// The blob as stored (the manifest descriptor's digest).
    pub blob: Option<String>,
    /// The uncompressed tar (the image config's `rootfs.diff_ids` entry).
    pub diff_id: Option<String>,
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// The running hash of one stream, shared between the reader and the merger that checks it.
pub(crate) struct Tally {
    hasher: Hasher,
    /// Bytes hashed, which is the stream position while `contiguous`.
    pos: u64,
    /// False once a backward seek made the hash impossible to finish.
    contiguous: bool,
}

impl Tally {
    /// A tally in the algorithm of `expected` (`sha256:…`); `None` for an algorithm dockvar
    /// does not know (nothing to check against).
    pub(crate) fn new(expected: &str) -> Option<Shared> {
        let hasher = match expected.split_once(':')?.0 {
            "sha256" => Hasher::Sha256(Sha256::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            _ => return None,
        };
        Some(Arc::new(Mutex::new(Tally { hasher, pos: 0, contiguous: true })))
    }

    fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
        self.pos += bytes.len() as u64;
    }

    fn restart(&mut self) {
        self.hasher = match self.hasher {
            Hasher::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Hasher::Sha512(_) => Hasher::Sha512(Sha512::new()),
        };
        self.pos = 0;
        self.contiguous = true;
    }

    /// `Ok` when the stream read so far hashes to `expected`; else what it hashes to.
    pub(crate) fn check(&self, expected: &str) -> Result<(), String> {
        if !self.contiguous {
            return Err(format!("could not be verified against {expected} (read out of order)"));
        }
        let (algorithm, bytes) = match &self.hasher {
            Hasher::Sha256(h) => ("sha256", h.clone().finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.clone().finalize().to_vec()),
        };
        let actual = format!("{algorithm}:{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        if actual.eq_ignore_ascii_case(expected) { Ok(()) } else { Err(format!("{actual}, expected {expected}")) }
    }
}

/// A tally shared by its reader and the merger.
pub(crate) type Shared = Arc<Mutex<Tally>>;

/// The tally, whatever a panicking holder left it as.
pub(crate) fn lock(tally: &Shared) -> MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|e| e.into_inner())
}

/// A reader that feeds every byte it returns into a `Tally`.
pub(crate) struct Hashing<R> {
    inner: R,
    tally: Shared,
}

impl<R> Hashing<R> {
    pub(crate) fn new(inner: R, tally: Shared) -> Self {
        Hashing { inner, tally }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        lock(&self.tally).update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Hashing<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (pos, contiguous) = {
            let t = lock(&self.tally);
            (t.pos, t.contiguous)
        };
        let target = match to {
            SeekFrom::Start(t) => Some(t),
            SeekFrom::Current(d) => pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        match target {
            Some(t) if t == pos && contiguous => Ok(pos),
            Some(t) if t > pos && contiguous => {
                // Read through what the caller skips, so that it is hashed too.
                let got = io::copy(&mut (&mut *self).take(t - pos), &mut io::sink())?;
                Ok(pos + got)
            }
            Some(0) => {
                let at = self.inner.seek(SeekFrom::Start(0))?;
                lock(&self.tally).restart();
                Ok(at)
            }
            _ => {
                lock(&self.tally).contiguous = false;
                self.inner.seek(to)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sha256(bytes: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(bytes))
    }

    #[test]
    fn reads_and_forward_seeks_hash_every_byte() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let expected = sha256(&data);
        let tally = Tally::new(&expected).unwrap();
        let mut r = Hashing::new(Cursor::new(data.clone()), Arc::clone(&tally));
        let mut head = [0u8; 100];
        r.read_exact(&mut head).unwrap();
        // Sniff and rewind, as the compression detector does.
        r.seek(SeekFrom::Start(0)).unwrap();
        r.read_exact(&mut head).unwrap();
        assert_eq!(r.seek(SeekFrom::Current(5_000)).unwrap(), 5_100);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(lock(&tally).check(&expected), Ok(()));
    }

    #[test]
    fn a_changed_byte_or_a_backward_seek_fails_the_check() {
        let data = vec![7u8; 4096];
        let mut tampered = data.clone();
        tampered[100] = 8;
        let tally = Tally::new(&sha256(&data)).unwrap();
        io::copy(&mut Hashing::new(Cursor::new(tampered), Arc::clone(&tally)), &mut io::sink()).unwrap();
        let e = lock(&tally).check(&sha256(&data)).unwrap_err();
        assert!(e.ends_with(&format!("expected {}", sha256(&data))), "{e}");

        let tally = Tally::new(&sha256(&data)).unwrap();
        let mut r = Hashing::new(Cursor::new(data.clone()), Arc::clone(&tally));
        r.seek(SeekFrom::Start(200)).unwrap();
        r.seek(SeekFrom::Start(100)).unwrap();
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert!(lock(&tally).check(&sha256(&data)).unwrap_err().contains("read out of order"));
        assert!(Tally::new("md5:abc").is_none());
    }
}
