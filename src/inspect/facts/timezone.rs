//! The image's time zone: the `TZ` environment variable, `/etc/timezone` content
//! and `/etc/localtime` (a symlink target into zoneinfo, or a TZif file) in; the
//! zone each one names, which one the C library would use, and any disagreement
//! between them out.
//!
//! Precedence is the C library's: `TZ`, then `/etc/localtime`, then UTC.
//! `/etc/timezone` is Debian's record of the configured zone; libc never reads it
//! but some runtimes (older JDKs) do, so a mismatch with the others is reported.

use serde::Serialize;

use super::{FactError, Sourced, numbered_lines, strict_utf8};

pub const ETC_TIMEZONE: &str = "/etc/timezone";
pub const ETC_LOCALTIME: &str = "/etc/localtime";

pub const PATHS: &[&str] = &[ETC_TIMEZONE, ETC_LOCALTIME];

/// What the image has at `/etc/localtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Localtime<'a> {
    /// A symlink, with its target as stored (absolute or relative).
    Symlink(&'a str),
    /// A regular file, with its content.
    File(&'a [u8]),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimezoneFacts {
    /// The zone programs get by default; UTC when nothing sets one.
    pub effective: Sourced<String>,
    /// Every zone the image names, in precedence order (`TZ`, `/etc/localtime`,
    /// `/etc/timezone`).
    pub sources: Vec<Sourced<String>>,
    pub disagreements: Vec<String>,
}

/// Reported for a TZif file that is not plain UTC; naming the zone would need
/// comparing it with every zoneinfo file.
pub const UNKNOWN_TZIF: &str = "unknown (TZif)";

/// Gathers the time zone facts. `env` is the image's environment in order (a
/// later `TZ` wins, as with repeated `ENV`).
pub fn detect(
    env: &[(String, String)],
    etc_timezone: Option<&[u8]>,
    localtime: Option<Localtime<'_>>,
) -> Result<TimezoneFacts, FactError> {
    let mut sources = Vec::new();
    if let Some((_, value)) = env.iter().rev().find(|(k, _)| k == "TZ") {
        sources.push(Sourced::new(zone_from_tz_env(value), "env TZ"));
    }
    match localtime {
        Some(Localtime::Symlink(target)) => {
            sources.push(Sourced::new(zone_from_symlink(target), format!("{ETC_LOCALTIME} -> {target}")))
        }
        Some(Localtime::File(bytes)) => {
            sources.push(Sourced::new(zone_from_tzif(bytes, ETC_LOCALTIME)?, ETC_LOCALTIME))
        }
        None => {}
    }
    let effective = sources
        .first()
        .cloned()
        .unwrap_or_else(|| Sourced::new("UTC".to_owned(), "default (no TZ, no /etc/localtime)"));
    if let Some(bytes) = etc_timezone
        && let Some(zone) = parse_etc_timezone(bytes, ETC_TIMEZONE)?
    {
        sources.push(Sourced::new(zone, ETC_TIMEZONE));
    }
    let disagreements = disagreements(&sources);
    Ok(TimezoneFacts { effective, sources, disagreements })
}

/// The zone a `TZ` value names: `:Area/City` is a file name, empty means UTC
/// (glibc), anything else (a zone name or a POSIX rule like `UTC0`) as is.
pub fn zone_from_tz_env(value: &str) -> String {
    let value = value.trim();
    let value = value.strip_prefix(':').unwrap_or(value);
    if value.is_empty() { "UTC".to_owned() } else { value.to_owned() }
}

/// The zone name in a symlink target such as `/usr/share/zoneinfo/Etc/UTC` or
/// `../usr/share/zoneinfo/posix/Europe/Berlin`.
pub fn zone_from_symlink(target: &str) -> String {
    let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let zone = parts.iter().rposition(|p| *p == "zoneinfo").map(|i| &parts[i + 1..]).map(|rest| match rest.first() {
        // posix/ and right/ are the same zones without and with leap seconds.
        Some(&"posix") | Some(&"right") => &rest[1..],
        _ => rest,
    });
    match zone {
        Some(zone) if !zone.is_empty() && !zone.contains(&"..") => zone.join("/"),
        _ => format!("unknown (symlink to {target})"),
    }
}

/// `/etc/timezone`: its first non-comment line, or `None` when it has none.
pub fn parse_etc_timezone(bytes: &[u8], path: &str) -> Result<Option<String>, FactError> {
    let text = strict_utf8(bytes, path)?;
    let Some((n, line)) =
        numbered_lines(text).map(|(n, l)| (n, l.trim())).find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    else {
        return Ok(None);
    };
    if line.contains(char::is_whitespace) || line.chars().any(char::is_control) {
        return Err(FactError::invalid(path, n, "zone", line, "expected one zone name"));
    }
    Ok(Some(line.to_owned()))
}

/// Reads a TZif file (RFC 8536): `UTC` when it has no transitions and a single
/// local time type with offset 0 named `UTC`, else [`UNKNOWN_TZIF`].
pub fn zone_from_tzif(bytes: &[u8], path: &str) -> Result<String, FactError> {
    let bad = |message: &str| FactError::malformed(path, message.to_owned());
    let v1 = TzifHeader::read(bytes).ok_or_else(|| bad("not a TZif file"))?;
    let (header, data) = if v1.version == 0 {
        (v1, &bytes[TzifHeader::LEN..])
    } else {
        // Version 2+ files repeat the data with 64-bit times after the v1 block;
        // the v1 block may be a stub (zic -b slim), so only the second counts.
        let second = v1
            .data_len(4)
            .and_then(|len| TzifHeader::LEN.checked_add(len))
            .and_then(|start| bytes.get(start..))
            .ok_or_else(|| bad("truncated TZif version 1 data"))?;
        let v2 = TzifHeader::read(second).ok_or_else(|| bad("missing TZif version 2 header"))?;
        (v2, &second[TzifHeader::LEN..])
    };
    let time_size = if header.version == 0 { 4 } else { 8 };
    let len = header.data_len(time_size).ok_or_else(|| bad("TZif counts overflow"))?;
    if data.len() < len {
        return Err(bad("truncated TZif data"));
    }
    if header.typecnt == 0 || header.charcnt == 0 {
        return Err(bad("TZif file without local time types"));
    }
    if header.timecnt != 0 || header.typecnt != 1 {
        return Ok(UNKNOWN_TZIF.to_owned());
    }
    // With no transitions the block starts with the single 6-byte ttinfo, then
    // the abbreviation characters.
    let ttinfo = &data[..6];
    let utoff = i32::from_be_bytes([ttinfo[0], ttinfo[1], ttinfo[2], ttinfo[3]]);
    let isdst = ttinfo[4];
    let desig = usize::from(ttinfo[5]);
    let chars = &data[6..6 + header.charcnt];
    let abbreviation = chars
        .get(desig..)
        .map(|rest| rest.split(|&b| b == 0).next().unwrap_or(rest))
        .ok_or_else(|| bad("TZif abbreviation index out of range"))?;
    if utoff == 0 && isdst == 0 && abbreviation == b"UTC" { Ok("UTC".to_owned()) } else { Ok(UNKNOWN_TZIF.to_owned()) }
}

struct TzifHeader {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl TzifHeader {
    const LEN: usize = 44;

    fn read(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..Self::LEN)?;
        if &header[..4] != b"TZif" {
            return None;
        }
        let count = |i: usize| {
            let at = 20 + 4 * i;
            let raw = u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
            usize::try_from(raw).ok()
        };
        Some(Self {
            version: header[4],
            isutcnt: count(0)?,
            isstdcnt: count(1)?,
            leapcnt: count(2)?,
            timecnt: count(3)?,
            typecnt: count(4)?,
            charcnt: count(5)?,
        })
    }

    /// Length of the data block that follows this header, with transition times
    /// and leap-second times `time_size` bytes wide.
    fn data_len(&self, time_size: usize) -> Option<usize> {
        let parts = [
            self.timecnt.checked_mul(time_size)?,
            self.timecnt,
            self.typecnt.checked_mul(6)?,
            self.charcnt,
            self.leapcnt.checked_mul(time_size + 4)?,
            self.isstdcnt,
            self.isutcnt,
        ];
        parts.iter().try_fold(0usize, |sum, &n| sum.checked_add(n))
    }
}

fn canonical(zone: &str) -> &str {
    match zone {
        "UTC" | "Etc/UTC" | "UCT" | "Etc/UCT" | "Universal" | "Etc/Universal" | "Zulu" | "Etc/Zulu" | "UTC0" => "UTC",
        _ => zone,
    }
}

fn disagreements(sources: &[Sourced<String>]) -> Vec<String> {
    let known: Vec<&Sourced<String>> = sources.iter().filter(|s| !s.value.starts_with("unknown")).collect();
    let mut out = Vec::new();
    for (i, a) in known.iter().enumerate() {
        for b in &known[i + 1..] {
            if canonical(&a.value) != canonical(&b.value) {
                out.push(format!("{} says {} but {} says {}", a.source, a.value, b.source, b.value));
            }
        }
    }
    out
}

/// Where the C library looks for zone files (`TZDIR` is not honoured: images do not set it).
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The zone file a `TZ` value names, if it names one (`:Area/City`, `Area/City`, an
/// absolute path); `None` for an empty value.
fn tz_file(value: &str) -> Option<String> {
    let value = value.trim();
    let value = value.strip_prefix(':').unwrap_or(value);
    if value.is_empty() || value.contains("..") {
        return None;
    }
    Some(if value.starts_with('/') { value.to_owned() } else { format!("{ZONEINFO}/{value}") })
}

/// The paths [`resolve`] needs beyond [`PATHS`]: the zone file `TZ` names.
pub fn wanted_paths(env: &[(String, String)]) -> Vec<String> {
    env.iter().rev().find(|(k, _)| k == "TZ").and_then(|(_, v)| tz_file(v)).into_iter().collect()
}

/// A POSIX TZ rule (`UTC0`, `EST5EDT`, `CET-1CEST,M3.5.0`): the C library needs no file.
fn is_posix_rule(value: &str) -> bool {
    let alpha = value.bytes().take_while(u8::is_ascii_alphabetic).count();
    alpha >= 3 && value.as_bytes().get(alpha).is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+')
}

/// The zone the C library uses in the image, and the warnings: `TZ` (its zone file must be
/// in the image, else UTC), else `/etc/localtime` with every link resolved (a dangling link
/// means UTC), else UTC. Link aliases are reported by the zone they resolve to
/// (`US/Eastern` → `America/New_York`). `/etc/timezone` is evidence: a zone it names that
/// differs is a `timezone-mismatch`.
pub fn resolve(
    tree: &dyn crate::inspect::image::FileTree,
    env: &[(String, String)],
) -> Result<(Sourced<String>, Vec<crate::inspect::warning::Warning>), FactError> {
    use crate::inspect::layers::EntryKind;
    use crate::inspect::warning::{Warning, WarningCode};
    let mut warnings = Vec::new();
    // Every name a source gives, for the comparison with /etc/timezone.
    let mut names: Vec<String> = Vec::new();
    let zone_at = |file: &str| -> Option<String> {
        let real = tree.real_path(file)?;
        tree.get(file).filter(|e| e.kind == EntryKind::File)?;
        Some(zone_from_symlink(&real))
    };
    let tz = env.iter().rev().find(|(k, _)| k == "TZ").map(|(_, v)| v.as_str());
    let mut link_name: Option<String> = None;
    let localtime = match tree.lstat(ETC_LOCALTIME).map(|e| e.kind.clone()) {
        Some(EntryKind::Symlink(target)) => {
            let zone = zone_at(ETC_LOCALTIME);
            names.push(zone_from_symlink(&target));
            link_name = Some(zone_from_symlink(&target));
            Some(match zone {
                Some(zone) => Sourced::new(zone, format!("{ETC_LOCALTIME} -> {target}")),
                None => {
                    warnings.push(Warning::new(
                        WarningCode::TimezoneMissing,
                        format!("{ETC_LOCALTIME} links to {target}, which is not in the image: the C library uses UTC"),
                    ));
                    Sourced::new("UTC".to_owned(), format!("default ({ETC_LOCALTIME} -> {target} dangles)"))
                }
            })
        }
        Some(EntryKind::File) => match tree.get(ETC_LOCALTIME).and_then(|e| e.content.as_deref()) {
            Some(bytes) => Some(Sourced::new(zone_from_tzif(bytes, ETC_LOCALTIME)?, ETC_LOCALTIME)),
            None => None,
        },
        _ => None,
    };
    let effective = match tz {
        Some(value) => {
            let plain = zone_from_tz_env(value);
            names.push(plain.clone());
            match tz_file(value) {
                _ if canonical(&plain) == "UTC" => Sourced::new(plain, "env TZ"),
                Some(file) => match zone_at(&file) {
                    Some(zone) => Sourced::new(zone, "env TZ"),
                    None if is_posix_rule(&plain) => Sourced::new(plain, "env TZ"),
                    None => {
                        warnings.push(Warning::new(
                            WarningCode::TimezoneMissing,
                            format!("TZ={value} (env) names {file}, which is not in the image: the C library uses UTC"),
                        ));
                        Sourced::new("UTC".to_owned(), format!("default (TZ={value} has no zone file)"))
                    }
                },
                None => Sourced::new("UTC".to_owned(), "env TZ"),
            }
        }
        None => {
            localtime.clone().unwrap_or_else(|| Sourced::new("UTC".to_owned(), "default (no TZ, no /etc/localtime)"))
        }
    };
    names.push(effective.value.clone());
    let same = |a: &str, b: &str| canonical(a) == canonical(b);
    if tz.is_some()
        && let Some(local) = &localtime
        && !local.value.starts_with("unknown")
        && !same(&local.value, &effective.value)
        && !link_name.as_deref().is_some_and(|link| tz.is_some_and(|v| same(link, &zone_from_tz_env(v))))
    {
        warnings.push(Warning::new(
            WarningCode::TimezoneMismatch,
            format!("env TZ says {} but {} says {}", effective.value, local.source, local.value),
        ));
    }
    if let Some(bytes) = tree.get(ETC_TIMEZONE).and_then(|e| e.content.as_deref())
        && let Some(zone) = parse_etc_timezone(bytes, ETC_TIMEZONE)?
        && !effective.value.starts_with("unknown")
        && !names.iter().any(|n| same(n, &zone))
    {
        warnings.push(Warning::new(
            WarningCode::TimezoneMismatch,
            format!("{ETC_TIMEZONE} says {zone} but the zone in use is {} ({})", effective.value, effective.source),
        ));
    }
    Ok((effective, warnings))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, mutations};
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn debian_fixture_symlink_and_timezone_file_agree() {
        let link =
            std::fs::read_link(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/images/debian/etc/localtime")).unwrap();
        let target = link.to_str().unwrap();
        let timezone = fixture("debian/etc/timezone");
        let facts = detect(&[], Some(&timezone), Some(Localtime::Symlink(target))).unwrap();
        assert_eq!(facts.effective.value, "Etc/UTC");
        assert_eq!(facts.effective.source, "/etc/localtime -> ../usr/share/zoneinfo/Etc/UTC");
        assert_eq!(facts.sources.len(), 2);
        assert_eq!(facts.sources[1], Sourced::new("Etc/UTC".into(), ETC_TIMEZONE));
        assert!(facts.disagreements.is_empty());
    }

    #[test]
    fn tzif_files_from_zoneinfo() {
        let utc = fixture("debian/usr/share/zoneinfo/Etc/UTC");
        assert_eq!(zone_from_tzif(&utc, ETC_LOCALTIME).unwrap(), "UTC");
        let berlin = fixture("debian/usr/share/zoneinfo/Europe/Berlin");
        assert_eq!(zone_from_tzif(&berlin, ETC_LOCALTIME).unwrap(), UNKNOWN_TZIF);
        // A copied-in UTC file agrees with /etc/timezone's Etc/UTC.
        let facts = detect(&[], Some(b"Etc/UTC\n"), Some(Localtime::File(&utc))).unwrap();
        assert_eq!(facts.effective, Sourced::new("UTC".into(), ETC_LOCALTIME));
        assert!(facts.disagreements.is_empty());
        // A zone that cannot be named is not a disagreement.
        let facts = detect(&[], Some(b"Europe/Berlin\n"), Some(Localtime::File(&berlin))).unwrap();
        assert!(facts.disagreements.is_empty());
    }

    #[test]
    fn tz_env_wins_and_mismatches_are_reported() {
        let utc = fixture("debian/usr/share/zoneinfo/Etc/UTC");
        let facts =
            detect(&env(&[("TZ", "UTC"), ("TZ", ":Europe/Berlin")]), Some(b"Etc/UTC\n"), Some(Localtime::File(&utc)))
                .unwrap();
        assert_eq!(facts.effective, Sourced::new("Europe/Berlin".into(), "env TZ"));
        assert_eq!(
            facts.disagreements,
            [
                "env TZ says Europe/Berlin but /etc/localtime says UTC",
                "env TZ says Europe/Berlin but /etc/timezone says Etc/UTC",
            ]
        );
    }

    #[test]
    fn nothing_set_means_utc() {
        let facts = detect(&[], None, None).unwrap();
        assert_eq!(facts.effective.value, "UTC");
        assert!(facts.sources.is_empty());
        assert_eq!(zone_from_tz_env(""), "UTC");
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(zone_from_symlink("/usr/share/zoneinfo/Etc/UTC"), "Etc/UTC");
        assert_eq!(zone_from_symlink("../usr/share/zoneinfo/posix/America/New_York"), "America/New_York");
        assert_eq!(zone_from_symlink("/usr/share/zoneinfo/right/Asia/Tokyo"), "Asia/Tokyo");
        assert_eq!(
            zone_from_symlink("/etc/alternatives/localtime"),
            "unknown (symlink to /etc/alternatives/localtime)"
        );
        assert!(zone_from_symlink("/usr/share/zoneinfo/").starts_with("unknown"));
        assert!(zone_from_symlink("/usr/share/zoneinfo/../x").starts_with("unknown"));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let err = zone_from_tzif(b"not tzif at all, long enough to hold a header....", ETC_LOCALTIME).unwrap_err();
        assert_eq!(err.path(), ETC_LOCALTIME);
        let utc = fixture("debian/usr/share/zoneinfo/Etc/UTC");
        for cut in 0..utc.len() {
            // A prefix either still ends past the v2 block or is reported truncated.
            let _ = zone_from_tzif(&utc[..cut], ETC_LOCALTIME);
        }
        assert!(zone_from_tzif(&utc[..60], ETC_LOCALTIME).is_err());
        let err = parse_etc_timezone(b"# managed\nEurope/Berlin extra\n", ETC_TIMEZONE).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert_eq!(parse_etc_timezone(b"\n\n", ETC_TIMEZONE).unwrap(), None);
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        for seed in [fixture("debian/usr/share/zoneinfo/Etc/UTC"), fixture("debian/usr/share/zoneinfo/Europe/Berlin")] {
            for data in mutations(&seed, 400) {
                let _ = zone_from_tzif(&data, ETC_LOCALTIME);
                let _ = detect(&[], Some(&data), Some(Localtime::File(&data)));
            }
        }
        for data in mutations(&fixture("debian/etc/timezone"), 200) {
            let _ = parse_etc_timezone(&data, ETC_TIMEZONE);
            let target = String::from_utf8_lossy(&data).into_owned();
            let _ = zone_from_symlink(&target);
        }
    }
}
