//! A path in a repository in, its bytes out: every repository file dockvar reads (Dockerfiles,
//! `metadata.yaml`, documentation pages) goes through `read_file`, which never leaves the
//! repository, never blocks and never reads more than a cap.
//!
//! The file is opened with `O_NOFOLLOW | O_NONBLOCK`: a FIFO does not block the open, and a
//! symlink fails it (`ELOOP`). A symlink is then resolved once and followed only when its
//! target lies inside the repository root. The opened descriptor is `fstat`ed (no race with a
//! rename between a check and the open): only regular files are read, and at most `cap`
//! bytes, so a link to `/dev/zero` or a file that grows while it is read cannot exhaust memory.
//! Hand-written because it is a dozen lines over `std` and `libc`; no crate does this whole
//! sequence.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a repository file was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("links outside the repository, not read")]
    OutsideRoot,
    #[error("is {0}, not a regular file; not read")]
    NotRegular(&'static str),
    #[error("file is {size} bytes, over the {cap}-byte limit")]
    TooLarge { size: u64, cap: u64 },
}

/// Reads the regular file at `path`, at most `cap` bytes. `root`: the repository root,
/// resolved (see `discover::walk::resolve_root`); a symlink whose target is outside it is
/// refused. `None` for a file the user named on the command line, which may be anywhere.
pub fn read_file(path: &Path, root: Option<&Path>, cap: u64) -> Result<Vec<u8>, FileError> {
    let file = match open(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            let target = std::fs::canonicalize(path).map_err(|e| FileError::Io(e.to_string()))?;
            if root.is_some_and(|root| !target.starts_with(root)) {
                return Err(FileError::OutsideRoot);
            }
            open(&target).map_err(|e| FileError::Io(e.to_string()))?
        }
        Err(e) => return Err(FileError::Io(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| FileError::Io(e.to_string()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(FileError::NotRegular(describe(&kind)));
    }
    if meta.len() > cap {
        return Err(FileError::TooLarge { size: meta.len(), cap });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| FileError::Io(e.to_string()))?;
    if bytes.len() as u64 > cap {
        return Err(FileError::TooLarge { size: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

/// Opens a file the user named (an image archive, a blob of an OCI layout) for reading,
/// following links: without blocking on a FIFO, and only when it is a regular file.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::other(format!("is {}, not a regular file", describe(&kind))));
    }
    Ok(file)
}

/// `true` when `path` is a regular file, or a symlink to one inside `root`: what `read_file`
/// would read (no content is read).
pub fn is_readable_file(path: &Path, root: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).is_ok_and(|t| t.starts_with(root) && t.is_file())
        }
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// The repository root as `read_file` wants it: resolved, or as given when it cannot be.
pub fn real_root(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let root = real_root(dir.path());
        std::fs::write(root.join("a"), "hello").unwrap();
        assert_eq!(read_file(&root.join("a"), Some(&root), 5).unwrap(), b"hello");
        assert_eq!(read_file(&root.join("a"), Some(&root), 4), Err(FileError::TooLarge { size: 5, cap: 4 }));
        assert!(matches!(read_file(&root.join("missing"), Some(&root), 4), Err(FileError::Io(_))));
        assert_eq!(read_file(&root, Some(&root), 4), Err(FileError::NotRegular("a directory")));
    }

    #[test]
    fn follows_links_only_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = real_root(dir.path());
        std::fs::write(root.join("real"), "inside").unwrap();
        std::os::unix::fs::symlink("real", root.join("inner")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("outer")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
        assert_eq!(read_file(&root.join("inner"), Some(&root), 100).unwrap(), b"inside");
        assert!(is_readable_file(&root.join("inner"), &root));
        assert_eq!(read_file(&root.join("outer"), Some(&root), 100), Err(FileError::OutsideRoot));
        assert!(!is_readable_file(&root.join("outer"), &root));
        assert_eq!(read_file(&root.join("zero"), Some(&root), 100), Err(FileError::OutsideRoot));
        // Named on the command line: followed, but a device is still not read.
        assert_eq!(read_file(&root.join("zero"), None, 100), Err(FileError::NotRegular("a character device")));
    }

    #[test]
    fn a_fifo_neither_blocks_nor_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = real_root(dir.path());
        let fifo = root.join("Dockerfile");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(read_file(&fifo, Some(&root), 100), Err(FileError::NotRegular("a FIFO")));
        let err = open_regular(&fifo).unwrap_err().to_string();
        assert_eq!(err, "is a FIFO, not a regular file");
        assert!(open_regular(&root).is_err());
    }
}
