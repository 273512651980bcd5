//! dpkg databases in, installed [`Package`]s out: `/var/lib/dpkg/status` and the
//! distroless `/var/lib/dpkg/status.d/*` files, both deb822 stanzas.
//!
//! Which stanzas count as installed: `dpkg-query -W` lists every package that is
//! not `not-installed`, so it also shows `config-files` leftovers and packages
//! selected for removal, while `dpkg --get-selections` prints the wanted state.
//! An image inventory wants the packages whose files are there and that nobody
//! asked to remove, so a stanza is kept when its `Status` want is `install` or
//! `hold` and its state is `installed`, or `triggers-pending`/`triggers-awaiting`
//! (those are fully unpacked and configured, only a trigger run is owed).
//! distroless stanzas are `dpkg-deb --field` output and carry no `Status` at all:
//! there every stanza is installed.

use super::{FactError, Package, Records, lossy, numbered_lines};

pub const STATUS_PATH: &str = "/var/lib/dpkg/status";
pub const STATUS_D_PATTERN: &str = "/var/lib/dpkg/status.d/*";

pub const PATHS: &[&str] = &[STATUS_PATH, STATUS_D_PATTERN];

/// Parses `/var/lib/dpkg/status`: every stanza must have a `Status` field.
pub fn parse_status(bytes: &[u8], path: &str) -> Result<Vec<Package>, FactError> {
    read_status(bytes, path).strict()
}

/// Like [`parse_status`], but keeps every well-formed stanza and reports each bad one.
pub fn read_status(bytes: &[u8], path: &str) -> Records<Package> {
    parse_stanzas(bytes, path, StatusRule::Required)
}

/// Parses one distroless `status.d` file (one stanza or more). The `.md5sums`
/// files distroless keeps in the same folder hold file lists, not stanzas, and
/// give no packages.
pub fn parse_status_d(bytes: &[u8], path: &str) -> Result<Vec<Package>, FactError> {
    read_status_d(bytes, path).strict()
}

/// Like [`parse_status_d`], but keeps every well-formed stanza and reports each bad one.
pub fn read_status_d(bytes: &[u8], path: &str) -> Records<Package> {
    if path.ends_with(".md5sums") {
        return Records::default();
    }
    parse_stanzas(bytes, path, StatusRule::Optional)
}

/// Parses a file at any of [`PATHS`], choosing the rules by its path.
pub fn parse(bytes: &[u8], path: &str) -> Result<Vec<Package>, FactError> {
    if path.contains("/status.d/") { parse_status_d(bytes, path) } else { parse_status(bytes, path) }
}

/// Parses every `status.d` file of an image and merges them, sorted like
/// [`parse_status`] output.
pub fn parse_status_d_files(files: &[(&str, &[u8])]) -> Result<Vec<Package>, FactError> {
    read_status_d_files(files).strict()
}

/// Like [`parse_status_d_files`], but keeps every well-formed stanza of every file.
pub fn read_status_d_files(files: &[(&str, &[u8])]) -> Records<Package> {
    let mut all = Records::default();
    for (path, bytes) in files {
        all.extend(read_status_d(bytes, path));
    }
    sort(&mut all.items);
    all
}

/// Orders packages by name, then architecture (multi-arch packages appear once
/// per architecture), then version for determinism.
pub fn sort(packages: &mut [Package]) {
    packages.sort_by(|a, b| (&a.name, &a.architecture, &a.version).cmp(&(&b.name, &b.architecture, &b.version)));
}

/// The upstream part of a Debian version: no epoch (`1:`), no revision (`-1`).
pub fn upstream_version(version: &str) -> &str {
    let no_epoch = match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => version,
    };
    match no_epoch.rfind('-') {
        Some(i) if i > 0 => &no_epoch[..i],
        _ => no_epoch,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatusRule {
    Required,
    Optional,
}

struct Field {
    name: String,
    value: String,
    line: usize,
}

fn parse_stanzas(bytes: &[u8], path: &str, rule: StatusRule) -> Records<Package> {
    let text = lossy(bytes);
    let mut out = Records::default();
    let mut stanza: Vec<Field> = Vec::new();
    let mut stanza_line = 0;
    // The first bad line of the current stanza: the stanza is left out, the rest goes on.
    let mut bad: Option<FactError> = None;
    let mut finish = |stanza: &mut Vec<Field>, bad: &mut Option<FactError>, stanza_line: usize| {
        match bad.take() {
            Some(e) => out.errors.push(e),
            None if stanza.is_empty() => {}
            None => match finish_stanza(stanza, stanza_line, path, rule) {
                Ok(Some(p)) => out.items.push(p),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            },
        }
        stanza.clear();
    };
    for (n, line) in numbered_lines(&text) {
        // deb822 treats whitespace-only lines as paragraph separators too.
        if line.trim().is_empty() {
            finish(&mut stanza, &mut bad, stanza_line);
            continue;
        }
        if line.starts_with('#') || bad.is_some() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(field) = stanza.last_mut() else {
                bad = Some(FactError::syntax(path, n, "continuation line before any field"));
                continue;
            };
            // Only the first line of kept fields matters; multi-line values
            // (Description, Conffiles) are carried but never read.
            field.value.push('\n');
            field.value.push_str(line);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            bad = Some(FactError::syntax(path, n, "expected `Field: value`"));
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            bad = Some(FactError::syntax(path, n, "invalid field name"));
            continue;
        }
        if stanza.is_empty() {
            stanza_line = n;
        } else if stanza.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            bad = Some(FactError::syntax(path, n, format!("duplicate {name} field in stanza")));
            continue;
        }
        stanza.push(Field { name: name.to_owned(), value: value.trim().to_owned(), line: n });
    }
    finish(&mut stanza, &mut bad, stanza_line);
    sort(&mut out.items);
    out
}

fn field<'a>(stanza: &'a [Field], name: &str) -> Option<&'a Field> {
    stanza.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

fn single_line<'a>(stanza: &'a [Field], name: &'static str, path: &str) -> Result<Option<(&'a str, usize)>, FactError> {
    match field(stanza, name) {
        None => Ok(None),
        Some(f) if f.value.contains('\n') => {
            Err(FactError::invalid(path, f.line, name, &f.value, "must fit on one line"))
        }
        Some(f) => Ok(Some((f.value.as_str(), f.line))),
    }
}

fn required<'a>(stanza: &'a [Field], name: &'static str, stanza_line: usize, path: &str) -> Result<&'a str, FactError> {
    match single_line(stanza, name, path)? {
        Some((value, _)) if !value.is_empty() => Ok(value),
        Some((_, line)) => Err(FactError::invalid(path, line, name, "", "empty")),
        None => Err(FactError::missing(path, stanza_line, name)),
    }
}

fn finish_stanza(
    stanza: &[Field],
    stanza_line: usize,
    path: &str,
    rule: StatusRule,
) -> Result<Option<Package>, FactError> {
    let name = required(stanza, "Package", stanza_line, path)?;
    let installed = match single_line(stanza, "Status", path)? {
        Some((status, line)) => is_installed(status, line, path)?,
        None if rule == StatusRule::Required => {
            return Err(FactError::missing(path, stanza_line, "Status"));
        }
        None => true,
    };
    if !installed {
        return Ok(None);
    }
    let version = required(stanza, "Version", stanza_line, path)?;
    let architecture = required(stanza, "Architecture", stanza_line, path)?;
    let source = match single_line(stanza, "Source", path)? {
        // `Source: glibc (2.36-9)` names a source whose version differs from
        // the binary's; the name is the part before the parenthesis.
        Some((value, line)) => match value.split_whitespace().next() {
            Some(source) => source.to_owned(),
            None => return Err(FactError::invalid(path, line, "Source", value, "empty")),
        },
        None => name.to_owned(),
    };
    let installed_size_kib = match single_line(stanza, "Installed-Size", path)? {
        Some((value, line)) => Some(
            value.parse::<u64>().map_err(|e| FactError::invalid(path, line, "Installed-Size", value, e.to_string()))?,
        ),
        None => None,
    };
    Ok(Some(Package {
        name: name.to_owned(),
        version: version.to_owned(),
        architecture: architecture.to_owned(),
        source,
        installed_size_kib,
    }))
}

fn is_installed(status: &str, line: usize, path: &str) -> Result<bool, FactError> {
    let words: Vec<&str> = status.split_whitespace().collect();
    let [want, eflag, state] = words.as_slice() else {
        return Err(FactError::invalid(path, line, "Status", status, "expected `want flag state`"));
    };
    let want_kept = match *want {
        "install" | "hold" => true,
        "unknown" | "deinstall" | "purge" => false,
        _ => {
            return Err(FactError::invalid(path, line, "Status", status, format!("unknown want {want:?}")));
        }
    };
    // `hold`/`hold-reinstreq` are the flags of dpkg before 1.15; still accepted.
    if !matches!(*eflag, "ok" | "reinstreq" | "hold" | "hold-reinstreq") {
        return Err(FactError::invalid(path, line, "Status", status, format!("unknown flag {eflag:?}")));
    }
    let state_kept = match *state {
        "installed" | "triggers-pending" | "triggers-awaiting" => true,
        "not-installed" | "config-files" | "half-installed" | "unpacked" | "half-configured" => false,
        _ => {
            return Err(FactError::invalid(path, line, "Status", status, format!("unknown state {state:?}")));
        }
    };
    Ok(want_kept && state_kept)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, mutations};
    use super::*;

    fn status_fixture() -> Vec<u8> {
        fixture("debian/var/lib/dpkg/status")
    }

    #[test]
    fn debian_status_fixture_lists_every_installed_package() {
        let packages = parse_status(&status_fixture(), STATUS_PATH).unwrap();
        // Every stanza of the captured file is `install ok installed`.
        assert_eq!(packages.len(), 745);
        let mut sorted = packages.clone();
        sort(&mut sorted);
        assert_eq!(packages, sorted);

        let bash = packages.iter().find(|p| p.name == "bash").unwrap();
        assert_eq!(bash.source, "bash");
        assert_eq!(bash.architecture, "amd64");
        assert!(bash.version.starts_with("5.2.15-2"));
        assert!(bash.installed_size_kib.is_some_and(|k| k > 1000));

        let libc6 = packages.iter().find(|p| p.name == "libc6").unwrap();
        assert_eq!(libc6.source, "glibc");
        assert_eq!(libc6.version, "2.36-9+deb12u14");

        // `Source: busybox (1:1.35.0-4+deb12u1)` loses its version.
        let busybox = packages.iter().find(|p| p.name == "busybox-static").unwrap();
        assert_eq!(busybox.source, "busybox");

        assert!(packages.iter().all(|p| !p.source.contains('(')));
        assert!(packages.iter().all(|p| !p.version.is_empty()));
        assert!(packages.iter().all(|p| p.architecture == "amd64" || p.architecture == "all"));
    }

    #[test]
    fn a_bad_stanza_is_left_out_and_named() {
        let text = "\
Package: good
Status: install ok installed
Architecture: amd64
Version: 1

Package: broken
Status: install ok installed
this line has no colon
Version: 2
Architecture: amd64

Package: no-version
Status: install ok installed
Architecture: amd64

Package: also-good
Status: install ok installed
Architecture: all
Version: 3
";
        let read = read_status(text.as_bytes(), STATUS_PATH);
        let names: Vec<&str> = read.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["also-good", "good"]);
        let errors: Vec<String> = read.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            ["/var/lib/dpkg/status:8: expected `Field: value`", "/var/lib/dpkg/status:12: record has no Version field"]
        );
    }

    #[test]
    fn distroless_status_d_files_have_no_status_field() {
        let dir = "distroless/var/lib/dpkg/status.d";
        let names = ["base-files", "base-files.md5sums", "libc6", "tzdata"];
        let contents: Vec<(String, Vec<u8>)> =
            names.iter().map(|n| (format!("/var/lib/dpkg/status.d/{n}"), fixture(&format!("{dir}/{n}")))).collect();
        let files: Vec<(&str, &[u8])> = contents.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        let packages = parse_status_d_files(&files).unwrap();
        let summary: Vec<(&str, &str, &str, &str, Option<u64>)> = packages
            .iter()
            .map(|p| {
                (p.name.as_str(), p.version.as_str(), p.architecture.as_str(), p.source.as_str(), p.installed_size_kib)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("base-files", "12.4+deb12u15", "amd64", "base-files", Some(341)),
                ("libc6", "2.36-9+deb12u14", "amd64", "glibc", Some(13001)),
                ("tzdata", "2026f-0+deb12u1", "all", "tzdata", Some(2571)),
            ]
        );
        // The same stanza through the path-dispatching entry point.
        let (path, bytes) = files[2];
        assert_eq!(parse(bytes, path).unwrap(), vec![packages[1].clone()]);
        // The main status file must say whether a package is installed.
        let err = parse_status(bytes, STATUS_PATH).unwrap_err();
        assert_eq!(err, FactError::missing(STATUS_PATH, 1, "Status"));
    }

    #[test]
    fn status_selection_follows_want_and_state() {
        let text = "\
Package: kept
Status: install ok installed
Architecture: amd64
Version: 1.0-1

Package: held
Status: hold ok installed
Architecture: amd64
Version: 2.0-1

Package: removed-keep-config
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: selected-for-removal
Status: deinstall ok installed
Architecture: amd64
Version: 1.0

Package: purged
Status: purge ok not-installed
Architecture: amd64

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: awaiting
Status: install ok triggers-awaiting
Architecture: all
Version: 3
";
        let names: Vec<String> =
            parse_status(text.as_bytes(), STATUS_PATH).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["awaiting", "held", "kept"]);
    }

    #[test]
    fn multi_arch_packages_sort_by_name_then_arch() {
        let text = "\
Package: libfoo
Status: install ok installed
Architecture: i386
Version: 1
Multi-Arch: same

Package: libfoo
Status: install ok installed
Architecture: amd64
Version: 1
Multi-Arch: same
";
        let arches: Vec<String> =
            parse_status(text.as_bytes(), STATUS_PATH).unwrap().into_iter().map(|p| p.architecture).collect();
        assert_eq!(arches, ["amd64", "i386"]);
    }

    #[test]
    fn bad_input_is_a_typed_error_with_line() {
        let cases: &[(&str, usize)] = &[
            (" orphan continuation\n", 1),
            ("Package: a\nno colon here\n", 2),
            ("Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nInstalled-Size: lots\n", 5),
            ("Package: a\nStatus: install ok\n", 2),
            ("Package: a\nStatus: install ok exploded\n", 2),
            ("Package: a\nPackage: b\n", 2),
            ("\n\nPackage: a\nStatus: install ok installed\nArchitecture: all\n", 3),
        ];
        for (text, line) in cases {
            let err = parse_status(text.as_bytes(), STATUS_PATH).unwrap_err();
            assert_eq!(err.path(), STATUS_PATH, "{text:?}");
            assert_eq!(err.line(), Some(*line), "{text:?}: {err}");
        }
    }

    #[test]
    fn continuation_lines_and_crlf_are_tolerated() {
        let text = "Package: a\r\nStatus: install ok installed\r\nDescription: x\r\n long\r\n .\r\n more\r\nVersion: 1\r\nArchitecture: all\r\n\r\n";
        let packages = parse_status(text.as_bytes(), STATUS_PATH).unwrap();
        assert_eq!(packages[0].version, "1");
        assert_eq!(packages[0].installed_size_kib, None);
    }

    #[test]
    fn upstream_versions_drop_epoch_and_revision() {
        assert_eq!(upstream_version("1:1.35.0-4+deb12u1"), "1.35.0");
        assert_eq!(upstream_version("3.9.2-1"), "3.9.2");
        assert_eq!(upstream_version("2.36-9+deb12u14"), "2.36");
        assert_eq!(upstream_version("1.0"), "1.0");
        assert_eq!(upstream_version("1.2-3-4"), "1.2-3");
        assert_eq!(upstream_version(""), "");
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        // The whole status file is large; a slice of it keeps the loop quick.
        let status = status_fixture();
        let seed = &status[..status.len().min(16_384)];
        for data in mutations(seed, 400) {
            let _ = parse_status(&data, STATUS_PATH);
            let _ = parse_status_d(&data, "/var/lib/dpkg/status.d/x");
        }
    }
}
