//! os-release files in, [`OsRelease`] out (`/etc/os-release`, falling back to
//! `/usr/lib/os-release` as the freedesktop spec says); also the one-line
//! `/etc/debian_version` and `/etc/alpine-release` files in, their release string
//! out.
//!
//! Values follow the spec's shell-style quoting: double quotes (where `\` escapes
//! only `$`, `` ` ``, `"` and `\`, as in a shell), single quotes (literal), or no
//! quotes (where `\` escapes any character). Unquoted values keep inner spaces and
//! drop trailing ones, as systemd's parser does.

use serde::Serialize;

use super::{FactError, Sourced, numbered_lines, strict_utf8};

pub const ETC_OS_RELEASE: &str = "/etc/os-release";
pub const USR_LIB_OS_RELEASE: &str = "/usr/lib/os-release";
pub const DEBIAN_VERSION: &str = "/etc/debian_version";
pub const ALPINE_RELEASE: &str = "/etc/alpine-release";

pub const PATHS: &[&str] = &[ETC_OS_RELEASE, USR_LIB_OS_RELEASE, DEBIAN_VERSION, ALPINE_RELEASE];

/// The os-release fields dockvar reports. The spec's defaults (`ID=linux`,
/// `NAME=Linux`) are not filled in, so an absent field stays visible as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    pub id: Option<String>,
    /// `ID_LIKE`, split on spaces, closest relative first.
    pub id_like: Vec<String>,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
    pub name: Option<String>,
}

/// Parses one os-release file.
pub fn parse(bytes: &[u8], path: &str) -> Result<OsRelease, FactError> {
    let mut release = OsRelease::default();
    for (key, value) in parse_fields(bytes, path)? {
        match key.as_str() {
            "ID" => release.id = Some(value),
            "ID_LIKE" => release.id_like = value.split_whitespace().map(str::to_owned).collect(),
            "VERSION_ID" => release.version_id = Some(value),
            "VERSION_CODENAME" => release.version_codename = Some(value),
            "PRETTY_NAME" => release.pretty_name = Some(value),
            "NAME" => release.name = Some(value),
            _ => {}
        }
    }
    Ok(release)
}

/// Picks the file the spec says to read: `/etc/os-release` when the image has
/// it, else `/usr/lib/os-release`. Pass the contents of each file that exists
/// (after following the usual `/etc/os-release -> ../usr/lib/os-release` link).
pub fn parse_preferred(
    etc_os_release: Option<&[u8]>,
    usr_lib_os_release: Option<&[u8]>,
) -> Result<Option<Sourced<OsRelease>>, FactError> {
    let (path, bytes) = match (etc_os_release, usr_lib_os_release) {
        (Some(bytes), _) => (ETC_OS_RELEASE, bytes),
        (None, Some(bytes)) => (USR_LIB_OS_RELEASE, bytes),
        (None, None) => return Ok(None),
    };
    Ok(Some(Sourced::new(parse(bytes, path)?, path)))
}

/// Every `KEY=value` assignment in file order, values unquoted. A key assigned
/// twice appears twice; the later one wins in [`parse`], as in a shell.
pub fn parse_fields(bytes: &[u8], path: &str) -> Result<Vec<(String, String)>, FactError> {
    let text = strict_utf8(bytes, path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut fields = Vec::new();
    for (n, line) in numbered_lines(text) {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            return Err(FactError::syntax(path, n, "expected KEY=value"));
        };
        let key = key.trim_end();
        if !is_valid_key(key) {
            return Err(FactError::syntax(path, n, format!("invalid variable name {key:?}")));
        }
        let value = unquote(raw).map_err(|message| FactError::syntax(path, n, message))?;
        fields.push((key.to_owned(), value));
    }
    Ok(fields)
}

fn is_valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn unquote(raw: &str) -> Result<String, &'static str> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
    }
    let mut out = String::with_capacity(raw.len());
    // Length of `out` up to its last character that must survive trimming:
    // anything quoted or escaped, or a non-space character.
    let mut keep = 0;
    let mut state = State::Plain;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match state {
            State::Plain => match c {
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '\\' => {
                    let Some(next) = chars.next() else {
                        return Err("trailing backslash");
                    };
                    out.push(next);
                    keep = out.len();
                }
                c if c.is_whitespace() && out.is_empty() => {}
                c => {
                    out.push(c);
                    if !c.is_whitespace() {
                        keep = out.len();
                    }
                }
            },
            State::Single => match c {
                '\'' => {
                    state = State::Plain;
                    keep = out.len();
                }
                c => out.push(c),
            },
            State::Double => match c {
                '"' => {
                    state = State::Plain;
                    keep = out.len();
                }
                '\\' => match chars.next() {
                    Some(next @ ('"' | '\\' | '`' | '$')) => out.push(next),
                    Some(next) => {
                        out.push('\\');
                        out.push(next);
                    }
                    None => return Err("unterminated double quote"),
                },
                c => out.push(c),
            },
        }
    }
    match state {
        State::Plain => {
            out.truncate(keep);
            Ok(out)
        }
        State::Single => Err("unterminated single quote"),
        State::Double => Err("unterminated double quote"),
    }
}

/// `/etc/debian_version`: the point release (`12.11`), or a codename pair on
/// testing and derived systems (`trixie/sid`).
pub fn debian_version(bytes: &[u8], path: &str) -> Result<String, FactError> {
    one_line_release(bytes, path)
}

/// `/etc/alpine-release`: the release (`3.18.4`, or `3.19_alpha20231010` on edge).
pub fn alpine_release(bytes: &[u8], path: &str) -> Result<String, FactError> {
    one_line_release(bytes, path)
}

fn one_line_release(bytes: &[u8], path: &str) -> Result<String, FactError> {
    let text = strict_utf8(bytes, path)?;
    let mut lines = numbered_lines(text).filter(|(_, l)| !l.trim().is_empty());
    let Some((n, line)) = lines.next() else {
        return Err(FactError::malformed(path, "empty release file"));
    };
    let value = line.trim();
    if value.contains(char::is_whitespace) || value.chars().any(char::is_control) {
        return Err(FactError::invalid(path, n, "release", value, "expected a single word"));
    }
    if let Some((extra, _)) = lines.next() {
        return Err(FactError::syntax(path, extra, "expected a single line"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, mutations};
    use super::*;

    #[test]
    fn debian_fixture() {
        let release = parse(&fixture("debian/etc/os-release"), ETC_OS_RELEASE).unwrap();
        assert_eq!(
            release,
            OsRelease {
                id: Some("debian".into()),
                id_like: vec![],
                version_id: Some("12".into()),
                version_codename: Some("bookworm".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                name: Some("Debian GNU/Linux".into()),
            }
        );
        let version = debian_version(&fixture("debian/etc/debian_version"), DEBIAN_VERSION);
        assert_eq!(version.unwrap(), "12.11");
    }

    #[test]
    fn alpine_fixture() {
        let release = parse(&fixture("alpine/etc/os-release"), ETC_OS_RELEASE).unwrap();
        assert_eq!(release.id.as_deref(), Some("alpine"));
        assert_eq!(release.version_id.as_deref(), Some("3.18.4"));
        assert_eq!(release.pretty_name.as_deref(), Some("Alpine Linux v3.18"));
        assert_eq!(release.version_codename, None);
        let version = alpine_release(&fixture("alpine/etc/alpine-release"), ALPINE_RELEASE);
        assert_eq!(version.unwrap(), "3.18.4");
    }

    #[test]
    fn etc_wins_over_usr_lib() {
        let etc = b"ID=etc\n".as_slice();
        let usr = b"ID=usr\n".as_slice();
        let picked = parse_preferred(Some(etc), Some(usr)).unwrap().unwrap();
        assert_eq!(picked.source, ETC_OS_RELEASE);
        assert_eq!(picked.value.id.as_deref(), Some("etc"));
        let picked = parse_preferred(None, Some(usr)).unwrap().unwrap();
        assert_eq!(picked.source, USR_LIB_OS_RELEASE);
        assert_eq!(parse_preferred(None, None).unwrap(), None);
    }

    #[test]
    fn shell_quoting_rules() {
        let text = concat!(
            "# comment\n",
            "\n",
            "A=\"double \\\"quoted\\\" \\$HOME \\`x\\` \\\\ \\n kept\"\n",
            "B='single \\ $literal \"x\"'\n",
            "C=plain\\ escaped\\\"\n",
            "D=\"\"\n",
            "E=unquoted with inner space   \n",
            "F=\"trailing space kept \"\n",
            "ID_LIKE=\"ubuntu debian\"\n",
            "G=\"con\"'cat'\n",
            "  H = spaced\n",
        );
        let fields = parse_fields(text.as_bytes(), ETC_OS_RELEASE).unwrap();
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("double \"quoted\" $HOME `x` \\ \\n kept"));
        assert_eq!(get("B"), Some("single \\ $literal \"x\""));
        assert_eq!(get("C"), Some("plain escaped\""));
        assert_eq!(get("D"), Some(""));
        assert_eq!(get("E"), Some("unquoted with inner space"));
        assert_eq!(get("F"), Some("trailing space kept "));
        assert_eq!(get("G"), Some("concat"));
        assert_eq!(get("H"), Some("spaced"));
        let release = parse(text.as_bytes(), ETC_OS_RELEASE).unwrap();
        assert_eq!(release.id_like, ["ubuntu", "debian"]);
    }

    #[test]
    fn bad_input_is_a_typed_error_with_line() {
        let cases: &[(&[u8], usize)] = &[
            (b"ID=debian\nNAME=\"unterminated\n", 2),
            (b"ID='open\n", 1),
            (b"ID=debian\nno equals sign\n", 2),
            (b"1D=x\n", 1),
            (b"ID=x\\\n", 1),
            (b"ID=ok\nNAME=\xff\n", 2),
        ];
        for (bytes, line) in cases {
            let err = parse(bytes, ETC_OS_RELEASE).unwrap_err();
            assert_eq!(err.path(), ETC_OS_RELEASE);
            assert_eq!(err.line(), Some(*line), "{err}");
        }
        assert!(debian_version(b"", DEBIAN_VERSION).is_err());
        assert!(debian_version(b"12.1\n12.2\n", DEBIAN_VERSION).is_err());
        assert!(alpine_release(b"3.18 4\n", ALPINE_RELEASE).is_err());
        assert_eq!(debian_version(b"trixie/sid\n", DEBIAN_VERSION).unwrap(), "trixie/sid");
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        for seed in [fixture("debian/etc/os-release"), fixture("alpine/etc/os-release")] {
            for data in mutations(&seed, 500) {
                let _ = parse(&data, ETC_OS_RELEASE);
                let _ = debian_version(&data, DEBIAN_VERSION);
            }
        }
    }
}
