//! Facts read from files inside a container image: each module takes the bytes of
//! files at known image paths (see its `PATHS`) and returns typed facts or a
//! [`FactError`] naming the image path and, where it makes sense, the line.
//!
//! Nothing here touches the file system or runs anything: the caller extracts the
//! files from the image layers and hands their contents in. `python_env` and
//! `timezone::resolve` take the merged [`crate::inspect::image::FileTree`] instead,
//! because `PATH` lookup and `/etc/localtime` need its symlinks.

pub mod apk;
pub mod dpkg;
pub mod os_release;
pub mod passwd;
pub mod python;
pub mod python_env;
pub mod timezone;

pub use os_release::OsRelease;
pub use passwd::{Group, ResolvedUser, User};
pub use python::Distribution;
pub use python_env::{Interpreter, PythonEnv};
pub use timezone::{Localtime, TimezoneFacts};

use serde::Serialize;

/// Why a file could not be turned into facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// A line that does not follow the file's syntax.
    #[error("{path}:{line}: {message}")]
    Syntax { path: String, line: usize, message: String },
    /// A record lacks a field that the format requires.
    #[error("{path}:{line}: record has no {field} field")]
    MissingField {
        path: String,
        /// First line of the record.
        line: usize,
        field: &'static str,
    },
    /// A field is present but its value cannot be used.
    #[error("{path}:{line}: invalid {field} {value:?}: {reason}")]
    InvalidValue { path: String, line: usize, field: &'static str, value: String, reason: String },
    /// A problem with the file as a whole (binary formats, empty files).
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
}

impl FactError {
    /// The image path of the file at fault.
    pub fn path(&self) -> &str {
        match self {
            Self::Syntax { path, .. }
            | Self::MissingField { path, .. }
            | Self::InvalidValue { path, .. }
            | Self::Malformed { path, .. } => path,
        }
    }

    /// The 1-based line at fault, for text formats.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } | Self::MissingField { line, .. } | Self::InvalidValue { line, .. } => {
                Some(*line)
            }
            Self::Malformed { .. } => None,
        }
    }

    pub(crate) fn syntax(path: &str, line: usize, message: impl Into<String>) -> Self {
        Self::Syntax { path: path.to_owned(), line, message: message.into() }
    }

    pub(crate) fn missing(path: &str, line: usize, field: &'static str) -> Self {
        Self::MissingField { path: path.to_owned(), line, field }
    }

    pub(crate) fn invalid(
        path: &str,
        line: usize,
        field: &'static str,
        value: &str,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidValue { path: path.to_owned(), line, field, value: value.to_owned(), reason: reason.into() }
    }

    pub(crate) fn malformed(path: &str, message: impl Into<String>) -> Self {
        Self::Malformed { path: path.to_owned(), message: message.into() }
    }
}

/// What a lenient reader returns: every well-formed record, and one error (with its line)
/// for each record it had to leave out, the way the C library and dpkg-query skip a bad
/// line instead of giving up on the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records<T> {
    pub items: Vec<T>,
    pub errors: Vec<FactError>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self { items: Vec::new(), errors: Vec::new() }
    }
}

impl<T> Records<T> {
    /// All records, or the first error: for callers that want the file whole.
    pub fn strict(self) -> Result<Vec<T>, FactError> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.items),
        }
    }

    pub fn extend(&mut self, other: Records<T>) {
        self.items.extend(other.items);
        self.errors.extend(other.errors);
    }
}

/// An installed OS package, from dpkg or apk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Source package (dpkg `Source`, apk origin); the package name when absent.
    pub source: String,
    pub installed_size_kib: Option<u64>,
}

/// A fact together with where it was read (an image path, `env NAME`, a package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Self { value, source: source.into() }
    }
}

/// Whether an image path matches one of the `PATHS` patterns: both are split on
/// `/`, and a `*` inside a pattern component stands for any run of characters
/// within one path component (so `*` never crosses a `/`).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if component_matches(p.as_bytes(), s.as_bytes()) => {}
            _ => return false,
        }
    }
}

fn component_matches(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative wildcard match with one backtrack point: linear enough for path
    // components and free of recursion on hostile input.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Splits text into 1-based numbered lines, accepting `\n` and `\r\n` endings, so
/// every parser reports the same line numbers an editor shows.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| (i + 1, line))
}

/// Decodes text files whose fields of interest are ASCII but whose free-text
/// fields (descriptions, maintainer names) may be in any legacy encoding.
pub(crate) fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Decodes a file that must be UTF-8 (os-release, passwd), naming the line
/// where the first invalid byte sits.
pub(crate) fn strict_utf8<'a>(bytes: &'a [u8], path: &str) -> Result<&'a str, FactError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        FactError::syntax(path, line, "not valid UTF-8")
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Deterministic mutations of `seed` (truncations, byte flips, insertions of
    /// format-significant bytes) for no-panic tests; xorshift keeps runs repeatable.
    pub fn mutations(seed: &[u8], count: usize) -> Vec<Vec<u8>> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.len() as u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let interesting = b"\n\n \t:=\"'\\#.()-*/\0\xff\xc3";
        let mut out = Vec::with_capacity(count + 2);
        out.push(Vec::new());
        out.push(seed.to_vec());
        for _ in 0..count {
            let mut data = seed.to_vec();
            let edits = 1 + (next() % 8) as usize;
            for _ in 0..edits {
                let len = data.len();
                match next() % 5 {
                    0 if len > 0 => data.truncate((next() % len as u64) as usize),
                    1 if len > 0 => {
                        let at = (next() % len as u64) as usize;
                        data[at] = next() as u8;
                    }
                    2 => {
                        let at = if len == 0 { 0 } else { (next() % (len as u64 + 1)) as usize };
                        let b = interesting[(next() % interesting.len() as u64) as usize];
                        data.insert(at, b);
                    }
                    3 if len > 0 => {
                        let at = (next() % len as u64) as usize;
                        let end = (at + 1 + (next() % 64) as usize).min(len);
                        data.drain(at..end);
                    }
                    _ if len > 0 => {
                        let at = (next() % len as u64) as usize;
                        let end = (at + 1 + (next() % 32) as usize).min(len);
                        let chunk = data[at..end].to_vec();
                        data.splice(at..at, chunk);
                    }
                    _ => data.push(next() as u8),
                }
            }
            out.push(data);
        }
        out
    }

    /// Bytes of a fixture file, by its path under `fixtures/images/`.
    pub fn fixture(rel: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/images/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_match_one_component_per_star() {
        assert!(path_matches("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/libc6"));
        assert!(!path_matches("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/x/libc6"));
        assert!(path_matches(
            "/usr/local/lib/*/site-packages/*.dist-info/METADATA",
            "/usr/local/lib/python3.9/site-packages/pip-23.0.1.dist-info/METADATA"
        ));
        assert!(!path_matches(
            "/usr/local/lib/*/site-packages/*.dist-info/METADATA",
            "/usr/local/lib/python3.9/site-packages/pip-23.0.1.egg-info/METADATA"
        ));
        assert!(path_matches("/etc/os-release", "/etc/os-release"));
        assert!(!path_matches("/etc/os-release", "/etc/os-release/x"));
        assert!(path_matches("a*b*c", "aXXbYYc"));
        assert!(!path_matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn errors_carry_path_and_line() {
        let e = FactError::syntax("/etc/passwd", 3, "too few fields");
        assert_eq!(e.path(), "/etc/passwd");
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.to_string(), "/etc/passwd:3: too few fields");
        let e = FactError::malformed("/etc/localtime", "not a TZif file");
        assert_eq!(e.line(), None);
    }

    #[test]
    fn facts_serialize_as_plain_json() {
        let fact = Sourced::new(
            Package {
                name: "libc6".into(),
                version: "2.36-9+deb12u14".into(),
                architecture: "amd64".into(),
                source: "glibc".into(),
                installed_size_kib: Some(13001),
            },
            "/var/lib/dpkg/status",
        );
        assert_eq!(
            serde_json::to_value(&fact).unwrap(),
            serde_json::json!({
                "value": {
                    "name": "libc6",
                    "version": "2.36-9+deb12u14",
                    "architecture": "amd64",
                    "source": "glibc",
                    "installed_size_kib": 13001
                },
                "source": "/var/lib/dpkg/status"
            })
        );
    }

    #[test]
    fn strict_utf8_names_the_line() {
        let e = strict_utf8(b"a\nb\n\xffc", "/etc/os-release").unwrap_err();
        assert_eq!(e.line(), Some(3));
    }
}
