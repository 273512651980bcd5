//! Path text in, canonical root-relative paths and query patterns out: normalizes tar entry
//! names, parses `PathQuery` strings and matches `*` globs one path component at a time.
//!
//! Canonical form used everywhere inside the merger: no leading `/`, no `.`/empty components,
//! components joined by `/`; the root is the empty string. Public answers add the leading `/`.

use std::fmt;

use thiserror::Error;

/// A tar entry name whose `..` components climb above the image root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Escapes;

/// Lexically cleans a tar entry name the way Docker's `filepath.Clean` + breakout check does.
/// Lexical `..` handling is right here because entry names are never resolved through links.
pub(crate) fn normalize_entry_path(raw: &[u8]) -> Result<String, Escapes> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<&str> = Vec::new();
    for comp in text.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Escapes);
                }
            }
            c => out.push(c),
        }
    }
    Ok(out.join("/"))
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        let mut s = String::with_capacity(dir.len() + 1 + name.len());
        s.push_str(dir);
        s.push('/');
        s.push_str(name);
        s
    }
}

/// Every strict ancestor of `path` (excluding the root), shortest first, as slices of `path`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Public spelling of a canonical path.
pub(crate) fn display(path: &str) -> String {
    format!("/{path}")
}

/// One component of a query pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Comp {
    Literal(String),
    /// Text containing at least one `*`; each `*` matches any run of characters but never `/`.
    Glob(String),
}

impl Comp {
    fn parse(text: &str) -> Comp {
        if text.contains('*') { Comp::Glob(text.to_owned()) } else { Comp::Literal(text.to_owned()) }
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            Comp::Literal(l) => l == name,
            Comp::Glob(g) => glob_match(g.as_bytes(), name.as_bytes()),
        }
    }

    /// A bare `*` (or `**`…) says nothing about the name, so it cannot narrow speculative
    /// captures.
    pub(crate) fn is_bare_star(&self) -> bool {
        matches!(self, Comp::Glob(g) if g.bytes().all(|b| b == b'*'))
    }

    fn text(&self) -> &str {
        match self {
            Comp::Literal(s) | Comp::Glob(s) => s,
        }
    }
}

/// Star-only wildcard matching with the classic single backtrack point, so it is linear-ish
/// and cannot blow up on adversarial names.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() && pat[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pat.len() && pat[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

/// Component-wise match of `comps` against a prefix of `path`'s components: `Some(count)` when
/// all of `path`'s components are matched by the first `count` pattern components.
pub(crate) fn match_prefix(comps: &[Comp], path: &str) -> Option<usize> {
    if path.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    for name in path.split('/') {
        let comp = comps.get(count)?;
        if !comp.matches(name) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

pub(crate) fn match_full(comps: &[Comp], path: &str) -> bool {
    match_prefix(comps, path) == Some(comps.len())
}

/// `path`'s last `comps.len()` components match `comps`.
pub(crate) fn match_suffix(comps: &[Comp], path: &str) -> bool {
    let mut names = path.rsplit('/');
    for comp in comps.iter().rev() {
        match names.next() {
            Some(name) if !name.is_empty() && comp.matches(name) => {}
            _ => return false,
        }
    }
    true
}

/// An invalid query path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("query path `{0}` names the root or nothing at all")]
    Empty(String),
    #[error("query path `{0}` contains `..`; queries must be plain absolute paths")]
    ParentDir(String),
}

/// One image path or pattern, e.g. `/etc/os-release` or `/usr/lib/python3.*/site-packages/*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    comps: Vec<Comp>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, QueryError> {
        let mut comps = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(QueryError::ParentDir(text.to_owned())),
                p => comps.push(Comp::parse(p)),
            }
        }
        if comps.is_empty() {
            return Err(QueryError::Empty(text.to_owned()));
        }
        Ok(Pattern { comps })
    }

    /// True when no component contains `*`.
    pub fn is_exact(&self) -> bool {
        self.comps.iter().all(|c| matches!(c, Comp::Literal(_)))
    }

    /// Whether the canonical or `/`-prefixed `path` matches, without following any link.
    pub fn matches(&self, path: &str) -> bool {
        let trimmed = path.trim_start_matches('/');
        match normalize_entry_path(trimmed.as_bytes()) {
            Ok(p) => match_full(&self.comps, &p),
            Err(Escapes) => false,
        }
    }

    pub(crate) fn comps(&self) -> &[Comp] {
        &self.comps
    }

    /// Canonical path of an exact pattern.
    pub(crate) fn literal_path(&self) -> String {
        let names: Vec<&str> = self.comps.iter().map(Comp::text).collect();
        names.join("/")
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.comps {
            write!(f, "/{}", c.text())?;
        }
        Ok(())
    }
}

/// The set of image paths the fact readers want. Strings containing `*` are patterns where
/// `*` matches within one path component; everything else is an exact path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathQuery {
    patterns: Vec<Pattern>,
}

impl PathQuery {
    pub fn new() -> PathQuery {
        PathQuery::default()
    }

    pub fn parse<I, S>(items: I) -> Result<PathQuery, QueryError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut q = PathQuery::new();
        for item in items {
            q.add(item.as_ref())?;
        }
        Ok(q)
    }

    pub fn add(&mut self, text: &str) -> Result<&mut PathQuery, QueryError> {
        let p = Pattern::parse(text)?;
        if !self.patterns.contains(&p) {
            self.patterns.push(p);
        }
        Ok(self)
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_entry_names() {
        assert_eq!(normalize_entry_path(b"./usr//lib/").unwrap(), "usr/lib");
        assert_eq!(normalize_entry_path(b"/etc/./os-release").unwrap(), "etc/os-release");
        assert_eq!(normalize_entry_path(b"a/../b").unwrap(), "b");
        assert_eq!(normalize_entry_path(b"./").unwrap(), "");
        assert_eq!(normalize_entry_path(b"../etc/passwd"), Err(Escapes));
        assert_eq!(normalize_entry_path(b"a/../../x"), Err(Escapes));
        assert_eq!(normalize_entry_path(b"\xff/x").unwrap(), "\u{fffd}/x");
    }

    #[test]
    fn globs_match_within_one_component() {
        let g = |p: &str, n: &str| Comp::parse(p).matches(n);
        assert!(g("python3.*", "python3.12"));
        assert!(!g("python3.*", "python2.7"));
        assert!(g("*.dist-info", "requests-2.31.0.dist-info"));
        assert!(g("*", ".hidden"));
        assert!(g("a*b*c", "aXXbYYc"));
        assert!(!g("a*b*c", "aXXbYY"));
        assert!(g("**", "x"));
        assert!(!g("abc", "abcd"));
    }

    #[test]
    fn pattern_parsing_and_matching() {
        let p = Pattern::parse("/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA").unwrap();
        assert!(!p.is_exact());
        assert!(p.matches("/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA"));
        assert!(!p.matches("/usr/local/lib/python3.11/site-packages/pip/METADATA"));
        assert!(!p.matches("/usr/local/lib/python3.11/x/site-packages/a.dist-info/METADATA"));
        let e = Pattern::parse("etc//os-release").unwrap();
        assert!(e.is_exact());
        assert_eq!(e.literal_path(), "etc/os-release");
        assert_eq!(e.to_string(), "/etc/os-release");
        assert!(matches!(Pattern::parse("/"), Err(QueryError::Empty(_))));
        assert!(matches!(Pattern::parse("/a/../b"), Err(QueryError::ParentDir(_))));
    }

    #[test]
    fn prefix_and_suffix_matching() {
        let p = Pattern::parse("/var/lib/dpkg/status.d/*").unwrap();
        assert_eq!(match_prefix(p.comps(), "var/lib"), Some(2));
        assert_eq!(match_prefix(p.comps(), "var/lib/dpkg/status.d/x/y"), None);
        assert_eq!(match_prefix(p.comps(), "var/log"), None);
        assert!(match_suffix(&p.comps()[3..], "opt/status.d/base"));
        assert!(!match_suffix(&p.comps()[3..], "base"));
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(split_parent("a/b/c"), ("a/b", "c"));
        assert_eq!(split_parent("c"), ("", "c"));
    }

    #[test]
    fn query_dedupes() {
        let q = PathQuery::parse(["/etc/os-release", "etc/os-release", "/a/*"]).unwrap();
        assert_eq!(q.patterns().len(), 2);
    }
}
