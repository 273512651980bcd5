//! apk's installed database (`/lib/apk/db/installed`) in, installed [`Package`]s
//! out. The v2 format: one record per package, records separated by blank lines,
//! each line a one-character key, `:`, and a value (`P` name, `V` version, `A`
//! arch, `o` origin, `I` installed size in bytes; file entries `F`/`R`/`a`/`M`/`Z`
//! and the other keys are read past).

use super::{FactError, Package, Records, lossy, numbered_lines};

pub const INSTALLED_PATH: &str = "/lib/apk/db/installed";

pub const PATHS: &[&str] = &[INSTALLED_PATH];

/// Parses the installed database; packages come back sorted by name then arch.
pub fn parse_installed(bytes: &[u8], path: &str) -> Result<Vec<Package>, FactError> {
    read_installed(bytes, path).strict()
}

/// Like [`parse_installed`], but keeps every well-formed record and reports each bad one
/// (apk itself skips what it cannot read).
pub fn read_installed(bytes: &[u8], path: &str) -> Records<Package> {
    let text = lossy(bytes);
    let mut out = Records::default();
    let mut record = Record::default();
    let mut bad: Option<FactError> = None;
    let mut finish = |record: Record, bad: &mut Option<FactError>| match bad.take() {
        Some(e) => out.errors.push(e),
        None => match record.finish(path) {
            Ok(Some(p)) => out.items.push(p),
            Ok(None) => {}
            Err(e) => out.errors.push(e),
        },
    };
    for (n, line) in numbered_lines(&text) {
        if line.trim().is_empty() {
            finish(std::mem::take(&mut record), &mut bad);
            continue;
        }
        if bad.is_some() {
            continue;
        }
        let mut chars = line.chars();
        let (Some(key), Some(':')) = (chars.next(), chars.next()) else {
            bad = Some(FactError::syntax(path, n, "expected a one-character key and `:`"));
            continue;
        };
        let value = chars.as_str();
        if record.first_line == 0 {
            record.first_line = n;
        }
        let slot = match key {
            'P' => &mut record.name,
            'V' => &mut record.version,
            'A' => &mut record.arch,
            'o' => &mut record.origin,
            'I' => &mut record.size,
            _ => continue,
        };
        if slot.is_some() {
            bad = Some(FactError::syntax(path, n, format!("duplicate {key}: line in record")));
            continue;
        }
        *slot = Some((value.to_owned(), n));
    }
    finish(record, &mut bad);
    super::dpkg::sort(&mut out.items);
    out
}

#[derive(Default)]
struct Record {
    first_line: usize,
    name: Option<(String, usize)>,
    version: Option<(String, usize)>,
    arch: Option<(String, usize)>,
    origin: Option<(String, usize)>,
    size: Option<(String, usize)>,
}

impl Record {
    fn finish(self, path: &str) -> Result<Option<Package>, FactError> {
        if self.first_line == 0 {
            return Ok(None);
        }
        let need = |slot: Option<(String, usize)>, field: &'static str| match slot {
            Some((value, _)) if !value.is_empty() => Ok(value),
            Some((_, line)) => Err(FactError::invalid(path, line, field, "", "empty")),
            None => Err(FactError::missing(path, self.first_line, field)),
        };
        let name = need(self.name, "P (name)")?;
        let version = need(self.version, "V (version)")?;
        let architecture = need(self.arch, "A (architecture)")?;
        let source = match self.origin {
            Some((origin, _)) if !origin.is_empty() => origin,
            _ => name.clone(),
        };
        let installed_size_kib = match self.size {
            Some((value, line)) => {
                let bytes = value
                    .parse::<u64>()
                    .map_err(|e| FactError::invalid(path, line, "I (installed size)", &value, e.to_string()))?;
                Some(bytes.div_ceil(1024))
            }
            None => None,
        };
        Ok(Some(Package { name, version, architecture, source, installed_size_kib }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, mutations};
    use super::*;

    #[test]
    fn a_bad_record_is_left_out_and_named() {
        let text = "P:good\nV:1\nA:x86_64\n\nP:broken\nnot a key line\nV:2\nA:x86_64\n\nP:also\nV:3\nA:x86_64\n";
        let read = read_installed(text.as_bytes(), INSTALLED_PATH);
        let names: Vec<&str> = read.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["also", "good"]);
        assert_eq!(read.errors.len(), 1);
        assert_eq!(read.errors[0].line(), Some(6));
    }

    #[test]
    fn alpine_fixture_lists_the_base_image_packages() {
        let packages = parse_installed(&fixture("alpine/lib/apk/db/installed"), INSTALLED_PATH).unwrap();
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "alpine-baselayout",
                "alpine-baselayout-data",
                "alpine-keys",
                "apk-tools",
                "busybox",
                "busybox-binsh",
                "ca-certificates-bundle",
                "libc-utils",
                "libcrypto3",
                "libssl3",
                "musl",
                "musl-utils",
                "scanelf",
                "ssl_client",
                "zlib",
            ]
        );
        let libssl = packages.iter().find(|p| p.name == "libssl3").unwrap();
        assert_eq!(
            libssl,
            &Package {
                name: "libssl3".into(),
                version: "3.1.3-r0".into(),
                architecture: "x86_64".into(),
                source: "openssl".into(),
                installed_size_kib: Some(596),
            }
        );
        let scanelf = packages.iter().find(|p| p.name == "scanelf").unwrap();
        assert_eq!(scanelf.source, "pax-utils");
        assert!(packages.iter().all(|p| p.architecture == "x86_64"));
    }

    #[test]
    fn sizes_round_up_to_whole_kib_and_origin_defaults_to_name() {
        let text = "P:a\nV:1-r0\nA:noarch\nI:1025\n\nP:b\nV:2-r0\nA:noarch\nI:0\n\n\n\nP:c\nV:3-r0\nA:noarch\n";
        let packages = parse_installed(text.as_bytes(), INSTALLED_PATH).unwrap();
        let sizes: Vec<Option<u64>> = packages.iter().map(|p| p.installed_size_kib).collect();
        assert_eq!(sizes, [Some(2), Some(0), None]);
        assert!(packages.iter().all(|p| p.source == p.name));
    }

    #[test]
    fn bad_input_is_a_typed_error_with_line() {
        let cases: &[(&str, usize)] = &[
            ("P:a\nV:1\nA:x86_64\nI:big\n", 4),
            ("P:a\nV:1\nA:x86_64\nno key here\n", 4),
            ("P:a\nV:1\nA:x86_64\nx\n", 4),
            ("C:Q1abc=\nT:no name\nV:1\nA:x86_64\n", 1),
            ("P:a\nA:x86_64\n\n", 1),
            ("P:a\nP:b\n", 2),
            ("P:\nV:1\nA:x86_64\n", 1),
        ];
        for (text, line) in cases {
            let err = parse_installed(text.as_bytes(), INSTALLED_PATH).unwrap_err();
            assert_eq!(err.path(), INSTALLED_PATH);
            assert_eq!(err.line(), Some(*line), "{text:?}: {err}");
        }
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        for data in mutations(&fixture("alpine/lib/apk/db/installed"), 600) {
            let _ = parse_installed(&data, INSTALLED_PATH);
        }
    }
}
