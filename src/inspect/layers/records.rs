//! A tar archive's raw entries in, its entries with their full names out: GNU long-name and
//! long-link records and PAX `path` / `linkpath` records applied to the entry they precede,
//! as the `tar` crate does, but each such record capped at `MAX_RECORD_BYTES`.
//!
//! The `tar` crate reads those records whole into memory: a 2 MB gzip layer whose long-name
//! record claims 2 GiB took 10 GB. Iterated raw (`Entries::raw(true)`), the records reach this
//! module as ordinary entries; one over the cap is skipped by streaming past its data (never
//! held), and the entry it would have named is skipped too, with a warning naming the entry.
//! Real names are at most `PATH_MAX` (4,096 bytes).

use std::io::{self, Read};

/// Largest GNU long-name / long-link or PAX record kept; real ones are well under 4 KiB.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// One entry with the name and link target its preceding records give it.
pub struct Named<'a, R: Read> {
    pub entry: tar::Entry<'a, R>,
    /// The entry's path as bytes (from a long-name or PAX record, else its header).
    pub path: Vec<u8>,
    /// Its link target, for links (from a long-link or PAX record, else its header).
    pub link: Option<Vec<u8>>,
    /// The 1-based position of the entry in the archive, records included.
    pub position: u64,
}

/// Iterates the named entries of raw `entries`; what was skipped is in `warnings`.
pub struct Records<'a, R: Read> {
    entries: tar::Entries<'a, R>,
    position: u64,
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    skip_next: bool,
    /// `entry 7: GNU long-name record of 2147483648 bytes, over the 65536-byte cap; …`.
    pub warnings: Vec<String>,
}

impl<'a, R: Read> Records<'a, R> {
    /// `entries` must be raw (`archive.entries()?.raw(true)`).
    pub fn new(entries: tar::Entries<'a, R>) -> Self {
        Records { entries, position: 0, path: None, link: None, skip_next: false, warnings: Vec::new() }
    }

    /// Reads one extension record (at most the cap) and remembers what it names.
    fn record(&mut self, entry: &mut tar::Entry<'a, R>, kind: Record) -> io::Result<()> {
        let size = entry.size();
        if size > MAX_RECORD_BYTES {
            self.warnings.push(format!(
                "entry {}: {} record of {size} bytes, over the {MAX_RECORD_BYTES}-byte cap; it and the entry it names are skipped",
                self.position,
                kind.label()
            ));
            self.skip_next = true;
            return Ok(());
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.take(MAX_RECORD_BYTES).read_to_end(&mut data)?;
        match kind {
            Record::LongName => self.path = Some(trim_nul(data)),
            Record::LongLink => self.link = Some(trim_nul(data)),
            Record::Pax => {
                for ext in tar::PaxExtensions::new(&data) {
                    let ext = ext?;
                    match ext.key_bytes() {
                        b"path" => self.path = Some(ext.value_bytes().to_vec()),
                        b"linkpath" => self.link = Some(ext.value_bytes().to_vec()),
                        _ => {}
                    }
                }
            }
            Record::PaxGlobal => {}
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Record {
    LongName,
    LongLink,
    Pax,
    PaxGlobal,
}

impl Record {
    fn of(kind: tar::EntryType) -> Option<Record> {
        if kind.is_gnu_longname() {
            Some(Record::LongName)
        } else if kind.is_gnu_longlink() {
            Some(Record::LongLink)
        } else if kind.is_pax_local_extensions() {
            Some(Record::Pax)
        } else if kind.is_pax_global_extensions() {
            Some(Record::PaxGlobal)
        } else {
            None
        }
    }

    fn label(self) -> &'static str {
        match self {
            Record::LongName => "GNU long-name",
            Record::LongLink => "GNU long-link",
            Record::Pax => "PAX header",
            Record::PaxGlobal => "PAX global header",
        }
    }
}

fn trim_nul(mut data: Vec<u8>) -> Vec<u8> {
    while data.last() == Some(&0) {
        data.pop();
    }
    data
}

impl<'a, R: Read> Iterator for Records<'a, R> {
    type Item = io::Result<Named<'a, R>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut entry = match self.entries.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e)),
            };
            self.position += 1;
            if let Some(kind) = Record::of(entry.header().entry_type()) {
                if let Err(e) = self.record(&mut entry, kind) {
                    return Some(Err(e));
                }
                continue;
            }
            let path = self.path.take().unwrap_or_else(|| entry.path_bytes().into_owned());
            let link = self.link.take().or_else(|| entry.link_name_bytes().map(|l| l.into_owned()));
            if std::mem::take(&mut self.skip_next) {
                continue;
            }
            return Some(Ok(Named { entry, path, link, position: self.position }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with a long name record of `claimed` bytes (and that much data) before `a`, then `b`.
    fn tar_with_long_name(name: &[u8], claimed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(claimed);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        let mut data = name.to_vec();
        data.resize(claimed as usize, 0);
        out.extend_from_slice(&data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        let mut b = tar::Builder::new(Vec::new());
        for (n, body) in [("a", &b"AAAA"[..]), ("b", &b"BB"[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, n, body).unwrap();
        }
        out.extend_from_slice(&b.into_inner().unwrap());
        out
    }

    fn names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut archive = tar::Archive::new(bytes);
        let mut records = Records::new(archive.entries().unwrap().raw(true));
        let names = records.by_ref().map(|n| String::from_utf8(n.unwrap().path).unwrap()).collect();
        (names, records.warnings)
    }

    #[test]
    fn long_names_apply_to_the_next_entry() {
        let long = "d/".repeat(100) + "file";
        let (names, warnings) = names(&tar_with_long_name(long.as_bytes(), long.len() as u64 + 1));
        assert_eq!(names, [long, "b".to_string()]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn oversized_records_are_skipped_with_the_entry_they_name() {
        let (names, warnings) = names(&tar_with_long_name(b"x", MAX_RECORD_BYTES + 512));
        assert_eq!(names, ["b"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("entry 1: GNU long-name record of 66048 bytes"), "{warnings:?}");
    }

    #[test]
    fn pax_paths_and_links() {
        let mut b = tar::Builder::new(Vec::new());
        let long = "p/".repeat(80) + "target";
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "q/".repeat(80) + "link", &long).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let got: Vec<(String, Option<String>)> = Records::new(archive.entries().unwrap().raw(true))
            .map(|n| {
                let n = n.unwrap();
                (String::from_utf8(n.path).unwrap(), n.link.map(|l| String::from_utf8(l).unwrap()))
            })
            .collect();
        assert_eq!(got, [("q/".repeat(80) + "link", Some(long))]);
    }
}
