//! Scenario tests: tar layers built in memory (plain, gzip, zstd, hand-crafted headers) in,
//! merged views and errors checked out, bottom-up and top-down side by side.

use std::io::{self, Cursor, Read, Write};

use super::*;

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Fifo(&'a str),
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(100);
    h.set_mtime(0);
    h
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                b.append_data(&mut h, p, io::empty()).unwrap();
            }
            E::Sym(p, t) => {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hard(p, t) => {
                let mut h = header(tar::EntryType::Link, 0, 0o644);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Fifo(p) => {
                let mut h = header(tar::EntryType::Fifo, 0, 0o600);
                b.append_data(&mut h, p, io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// One header block with a name the `tar` builder would refuse, plus data and padding.
fn raw_entry(name: &[u8], kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
    let mut h = header(kind, data.len() as u64, 0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn end_blocks() -> Vec<u8> {
    vec![0; 1024]
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zst(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

fn input(i: usize, bytes: Vec<u8>) -> LayerInput {
    LayerInput::new(format!("sha256:{i:02}"), Box::new(Cursor::new(bytes)))
}

fn q(items: &[&str]) -> PathQuery {
    PathQuery::parse(items).unwrap()
}

fn bottom_up(layers: &[Vec<u8>], query: &PathQuery) -> Result<MergedView, LayerError> {
    bottom_up_with(layers, query, &MergeOptions::default())
}

fn bottom_up_with(layers: &[Vec<u8>], query: &PathQuery, opts: &MergeOptions) -> Result<MergedView, LayerError> {
    let inputs = layers.iter().enumerate().map(|(i, b)| input(i, b.clone())).collect();
    merge_layers(inputs, query, opts)
}

fn top_down(layers: &[Vec<u8>], query: &PathQuery) -> Result<MergedView, LayerError> {
    let n = layers.len();
    let inputs = layers.iter().enumerate().rev().map(|(i, b)| input(i, b.clone())).collect::<Vec<_>>();
    assert_eq!(inputs.len(), n);
    merge_top_down(inputs, query, &MergeOptions::default())
}

fn text(v: &MergedView, path: &str) -> Option<String> {
    v.get(path).and_then(|e| e.content.as_ref()).map(|c| String::from_utf8_lossy(c).into_owned())
}

/// What a fact reader would see for each query string; used to compare reading orders.
fn answers(v: &MergedView, query: &[&str]) -> Vec<String> {
    query
        .iter()
        .map(|s| {
            if s.contains('*') { format!("{:?}", v.matches(s)) } else { format!("{:?} {:?}", v.lookup(s), v.lstat(s)) }
        })
        .collect()
}

/// Bottom-up and top-down agree; returns the bottom-up view.
fn both(layers: &[Vec<u8>], query: &[&str]) -> MergedView {
    let pq = q(query);
    let up = bottom_up(layers, &pq).unwrap();
    let down = top_down(layers, &pq).unwrap();
    assert_eq!(answers(&up, query), answers(&down, query), "reading orders disagree");
    up
}

#[test]
fn whiteout_deletes_a_lower_file() {
    let l0 = tar_of(&[E::Dir("etc"), E::File("etc/a", b"1"), E::File("etc/b", b"2")]);
    let l1 = tar_of(&[E::File("etc/.wh.a", b"")]);
    let v = both(&[l0, l1], &["/etc/a", "/etc/b"]);
    assert_eq!(v.get("/etc/a"), None);
    assert_eq!(v.lookup("/etc/a").unwrap_err(), Miss::NotFound { path: "/etc/a".into() });
    assert_eq!(text(&v, "/etc/b").as_deref(), Some("2"));
}

#[test]
fn whiteout_deletes_a_lower_directory_and_everything_below() {
    let l0 = tar_of(&[E::Dir("opt/app"), E::File("opt/app/x", b"x"), E::File("opt/app/sub/y", b"y")]);
    let l1 = tar_of(&[E::File("opt/.wh.app", b"")]);
    let l2 = tar_of(&[E::Dir("opt/app"), E::File("opt/app/z", b"z")]);
    let query = ["/opt/app/x", "/opt/app/sub/y", "/opt/app/*"];
    let v = both(&[l0.clone(), l1.clone()], &query);
    assert_eq!(v.get("/opt/app/x"), None);
    assert_eq!(v.get("/opt/app/sub/y"), None);
    assert!(!v.exists("/opt/app"));
    let v = both(&[l0, l1, l2], &query);
    assert_eq!(v.get("/opt/app/x"), None);
    let names: Vec<String> = v.matches("/opt/app/*").into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, ["/opt/app/z"]);
}

#[test]
fn whiteout_in_the_same_layer_does_not_delete_that_layers_entry() {
    let l0 = tar_of(&[E::File("a", b"old")]);
    let l1 = tar_of(&[E::File("a", b"new"), E::File(".wh.a", b"")]);
    let v = both(&[l0, l1], &["/a"]);
    assert_eq!(text(&v, "/a").as_deref(), Some("new"));
}

#[test]
fn opaque_marker_after_same_layer_entries_keeps_them() {
    let l0 = tar_of(&[E::Dir("d"), E::File("d/old", b"o"), E::File("d/keep", b"k0"), E::File("d/deep/x", b"dx")]);
    let marker_last =
        tar_of(&[E::Dir("d"), E::File("d/new", b"n"), E::File("d/keep", b"k1"), E::File("d/.wh..wh..opq", b"")]);
    let marker_first =
        tar_of(&[E::Dir("d"), E::File("d/.wh..wh..opq", b""), E::File("d/new", b"n"), E::File("d/keep", b"k1")]);
    for l1 in [marker_last, marker_first] {
        let v = both(&[l0.clone(), l1], &["/d/*", "/d/deep/x"]);
        let got: Vec<(String, Option<String>)> = v
            .matches("/d/*")
            .into_iter()
            .map(|(p, e)| {
                let c = e.content.as_ref().map(|c| String::from_utf8_lossy(c).into_owned());
                (p, c)
            })
            .collect();
        assert_eq!(got, [("/d/keep".to_owned(), Some("k1".to_owned())), ("/d/new".to_owned(), Some("n".to_owned()))]);
        assert_eq!(v.get("/d/deep/x"), None);
    }
}

#[test]
fn same_path_twice_in_one_layer_last_wins() {
    let l0 = tar_of(&[E::File("a", b"first"), E::File("a", b"second")]);
    let v = both(&[l0], &["/a"]);
    assert_eq!(text(&v, "/a").as_deref(), Some("second"));
    assert_eq!(v.stats.captured_bytes, 6);
}

#[test]
fn non_directory_replacing_a_directory_removes_its_lower_subtree() {
    let l0 = tar_of(&[E::Dir("a"), E::File("a/b", b"x")]);
    let l1 = tar_of(&[E::File("a", b"file now")]);
    let v = both(&[l0, l1], &["/a/b", "/a"]);
    assert_eq!(v.get("/a/b"), None);
    assert_eq!(text(&v, "/a").as_deref(), Some("file now"));
}

#[test]
fn hard_link_to_a_wanted_file_gets_its_content() {
    let l0 = tar_of(&[E::File("usr/bin/gzip", b"binary"), E::Hard("usr/bin/gunzip", "usr/bin/gzip")]);
    let v = both(&[l0], &["/usr/bin/gzip", "/usr/bin/gunzip"]);
    let link = v.get("/usr/bin/gunzip").unwrap();
    assert_eq!(link.kind, EntryKind::File);
    assert_eq!(link.content.as_deref(), Some(&b"binary"[..]));
    assert_eq!(link.size, 6);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
}

#[test]
fn wanted_hard_link_to_an_unwanted_file() {
    // Same name (uv/pip cache hard-linked into site-packages): caught by the candidate rule.
    let l0 = tar_of(&[
        E::File("root/.cache/uv/x/pkg-1.0.dist-info/METADATA", b"Name: pkg"),
        E::Hard(
            "usr/local/lib/python3.12/site-packages/pkg-1.0.dist-info/METADATA",
            "root/.cache/uv/x/pkg-1.0.dist-info/METADATA",
        ),
    ]);
    let pattern = "/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA";
    let v = both(&[l0], &[pattern]);
    let m = v.matches(pattern);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].1.content.as_deref(), Some(&b"Name: pkg"[..]));
    // The speculative copy of the cache file is dropped once it is known to be unwanted.
    assert!(v.entries().all(|(p, _)| !p.starts_with("/root")));

    // Different name: metadata only, with a warning.
    let l0 = tar_of(&[E::File("opt/blob", b"zzz"), E::Hard("etc/wanted", "opt/blob")]);
    let v = both(&[l0], &["/etc/wanted"]);
    let e = v.get("/etc/wanted").unwrap();
    assert_eq!(e.kind, EntryKind::File);
    assert_eq!(e.content, None);
    assert!(v.warnings.iter().any(|w| w.contains("hard link to /opt/blob")), "{:?}", v.warnings);
}

#[test]
fn usr_merge_link_in_a_lower_layer() {
    let l0 = tar_of(&[E::Dir("usr/lib"), E::Sym("lib", "usr/lib"), E::File("usr/lib/apk/db/installed", b"P:musl")]);
    let l1 = tar_of(&[E::File("usr/lib/apk/db/installed", b"P:busybox")]);
    let v = both(std::slice::from_ref(&l0), &["/lib/apk/db/installed"]);
    assert_eq!(text(&v, "/lib/apk/db/installed").as_deref(), Some("P:musl"));
    let v = both(&[l0, l1], &["/lib/apk/db/installed", "/lib/apk/db/*"]);
    let (phys, e) = v.lookup("/lib/apk/db/installed").unwrap();
    assert_eq!(phys, "/usr/lib/apk/db/installed");
    assert_eq!(e.content.as_deref(), Some(&b"P:busybox"[..]));
    let m = v.matches("/lib/apk/db/*");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0, "/lib/apk/db/installed");
    assert_eq!(v.read_link("/lib"), Some("usr/lib"));
    assert_eq!(v.lstat("/lib").unwrap().kind, EntryKind::Symlink("usr/lib".into()));
}

#[test]
fn usr_merge_link_listed_after_the_file() {
    // Same layer, link after the file.
    let l0 = tar_of(&[
        E::File("usr/lib/apk/db/installed", b"P:musl"),
        E::File("usr/lib/other", b"unrelated"),
        E::Sym("lib", "usr/lib"),
    ]);
    let v = both(std::slice::from_ref(&l0), &["/lib/apk/db/installed"]);
    assert_eq!(text(&v, "/lib/apk/db/installed").as_deref(), Some("P:musl"));
    assert!(v.entries().all(|(p, _)| p != "/usr/lib/other"));

    // Link only in an upper layer.
    let l0 = tar_of(&[E::File("usr/lib/apk/db/installed", b"P:musl")]);
    let l1 = tar_of(&[E::Sym("lib", "usr/lib")]);
    let v = both(&[l0, l1], &["/lib/apk/db/installed"]);
    assert_eq!(text(&v, "/lib/apk/db/installed").as_deref(), Some("P:musl"));
}

#[test]
fn relative_and_absolute_final_links() {
    let l0 = tar_of(&[
        E::File("usr/lib/os-release", b"ID=debian"),
        E::Sym("etc/os-release", "../usr/lib/os-release"),
        E::Sym("etc/abs", "/usr/lib/os-release"),
    ]);
    let v = both(&[l0], &["/etc/os-release", "/etc/abs"]);
    assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=debian"));
    assert_eq!(text(&v, "etc/abs").as_deref(), Some("ID=debian"));
}

#[test]
fn replacing_a_link_in_an_upper_layer_changes_resolution() {
    let l0 = tar_of(&[E::Sym("lib", "usr/lib"), E::File("usr/lib/x/f", b"via link")]);
    let l1 = tar_of(&[E::File(".wh.lib", b""), E::Dir("lib"), E::File("lib/x/f", b"real dir")]);
    let v = both(&[l0.clone(), l1], &["/lib/x/f"]);
    assert_eq!(text(&v, "/lib/x/f").as_deref(), Some("real dir"));
    // A directory entry alone replaces the link as well.
    let l1 = tar_of(&[E::Dir("lib"), E::File("lib/x/f", b"dir over link")]);
    let v = both(&[l0, l1], &["/lib/x/f"]);
    assert_eq!(text(&v, "/lib/x/f").as_deref(), Some("dir over link"));
}

#[test]
fn dead_link_has_a_reason() {
    let l0 = tar_of(&[E::Sym("etc/os-release", "../usr/lib/os-release")]);
    let v = both(&[l0], &["/etc/os-release"]);
    assert_eq!(v.get("/etc/os-release"), None);
    assert_eq!(
        v.lookup("/etc/os-release").unwrap_err(),
        Miss::DeadLink { link: "/etc/os-release".into(), target: "../usr/lib/os-release".into() }
    );
    assert_eq!(v.read_link("/etc/os-release"), Some("../usr/lib/os-release"));
}

#[test]
fn symlink_cycle_is_a_quiet_miss() {
    let mut l0 = tar_of(&[E::Sym("a", "b"), E::Sym("b", "/a"), E::Sym("c", "c/x")]);
    l0.truncate(l0.len() - 1024);
    l0.extend(raw_entry(b"d", tar::EntryType::Symlink, b""));
    l0.extend(end_blocks());
    let v = both(&[l0], &["/a", "/c/y", "/a/z", "/d"]);
    assert_eq!(v.get("/a"), None);
    assert!(matches!(v.lookup("/a"), Err(Miss::SymlinkLoop { .. })));
    assert!(matches!(v.lookup("/c/y"), Err(Miss::SymlinkLoop { .. })));
    assert!(matches!(v.lookup("/d"), Err(Miss::DeadLink { .. })));
    assert!(v.matches("/a/*").is_empty());
}

#[test]
fn path_traversal_is_skipped_with_a_warning() {
    let mut l0 = raw_entry(b"../../etc/passwd", tar::EntryType::Regular, b"evil");
    l0.extend(raw_entry(b"a/../../x", tar::EntryType::Regular, b"evil"));
    l0.extend(raw_entry(b"a/../b", tar::EntryType::Regular, b"fine"));
    l0.extend(raw_entry(b"./etc//passwd", tar::EntryType::Regular, b"root:x:0:0"));
    l0.extend(end_blocks());
    let v = both(&[l0], &["/etc/passwd", "/x", "/b"]);
    assert_eq!(text(&v, "/etc/passwd").as_deref(), Some("root:x:0:0"));
    assert_eq!(v.get("/x"), None);
    assert_eq!(text(&v, "/b").as_deref(), Some("fine"));
    assert_eq!(v.warnings.iter().filter(|w| w.contains("escapes")).count(), 2);
}

#[test]
fn huge_size_header_is_an_error_without_allocating() {
    for size in [1u64 << 62, u64::MAX - 10, 0o77777777777] {
        let mut h = header(tar::EntryType::Regular, 0, 0o644);
        h.set_path("etc/os-release").unwrap();
        h.set_size(size);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend_from_slice(&[b'x'; 700]);
        for layer in [bytes.clone(), gz(&bytes)] {
            let err = bottom_up(std::slice::from_ref(&layer), &q(&["/etc/os-release"])).unwrap_err();
            assert!(matches!(err, LayerError::TruncatedTar { .. } | LayerError::CorruptTar { .. }), "{err}");
            assert!(top_down(&[layer], &q(&["/etc/os-release"])).is_err());
        }
    }
}

#[test]
fn oversized_wanted_file_keeps_metadata_only() {
    let l0 = tar_of(&[E::File("big", b"0123456789"), E::File("small", b"ok")]);
    let opts = MergeOptions { max_file_bytes: 4, ..MergeOptions::default() };
    let v = bottom_up_with(&[l0], &q(&["/big", "/small"]), &opts).unwrap();
    let big = v.get("/big").unwrap();
    assert_eq!((big.size, big.content.as_ref()), (10, None));
    assert_eq!(big.mode, 0o644);
    assert_eq!((big.uid, big.gid), (1000, 100));
    assert_eq!(text(&v, "/small").as_deref(), Some("ok"));
    assert!(v.warnings.iter().any(|w| w.contains("per-file cap")), "{:?}", v.warnings);
}

#[test]
fn total_budget_is_an_error() {
    let l0 = tar_of(&[E::File("a", b"12345"), E::File("b", b"67890")]);
    let opts = MergeOptions { max_total_bytes: 8, ..MergeOptions::default() };
    let err = bottom_up_with(&[l0], &q(&["/a", "/b"]), &opts).unwrap_err();
    assert!(matches!(err, LayerError::BudgetExceeded { ref path, .. } if path == "/b"), "{err}");
}

#[test]
fn candidate_budget_degrades_to_a_warning() {
    let l0 = tar_of(&[E::File("usr/lib/os-release", b"ID=alpine"), E::Sym("etc/os-release", "../usr/lib/os-release")]);
    let opts = MergeOptions { max_candidate_bytes: 3, ..MergeOptions::default() };
    let v = bottom_up_with(&[l0], &q(&["/etc/os-release"]), &opts).unwrap();
    let e = v.get("/etc/os-release").unwrap();
    assert_eq!(e.content, None);
    assert!(v.warnings.iter().any(|w| w.contains("speculative")), "{:?}", v.warnings);
}

#[test]
fn truncated_gzip_is_an_error() {
    let tar = tar_of(&[E::File("etc/os-release", &[b'a'; 4000]), E::File("x", b"y")]);
    let full = gz(&tar);
    for cut in [full.len() / 2, full.len() - 4, full.len() - 1] {
        let err = bottom_up(&[full[..cut].to_vec()], &q(&["/etc/os-release"])).unwrap_err();
        assert!(
            matches!(err, LayerError::TruncatedCompression { compression: Compression::Gzip, .. }),
            "cut {cut}: {err}"
        );
        assert_eq!(err.layer().name, "sha256:00");
    }
}

#[test]
fn truncated_zstd_is_an_error() {
    let tar = tar_of(&[E::File("etc/os-release", &[b'z'; 5000]), E::File("x", b"y")]);
    let full = zst(&tar);
    let err = bottom_up(&[full[..full.len() - 3].to_vec()], &q(&["/x"])).unwrap_err();
    assert!(matches!(err, LayerError::TruncatedCompression { compression: Compression::Zstd, .. }), "{err}");
}

#[test]
fn multi_member_gzip_and_long_names() {
    let long = format!("usr/share/{}/os-release", "d".repeat(150));
    let first = tar_of(&[E::File(&long, b"ID=long")]);
    let second = tar_of(&[E::File("b", b"b")]);
    // Two gzip members, the first tar without its end blocks.
    let mut layer = gz(&first[..first.len() - 1024]);
    layer.extend(gz(&second));
    let path = format!("/{long}");
    let v = both(&[layer], &[&path, "/b"]);
    assert_eq!(text(&v, &path).as_deref(), Some("ID=long"));
    assert_eq!(text(&v, "/b").as_deref(), Some("b"));
}

#[test]
fn mode_type_bits_are_masked() {
    let mut h = header(tar::EntryType::Regular, 1, 0o100_755);
    h.set_path("bin/x").unwrap();
    h.set_cksum();
    let mut l0 = h.as_bytes().to_vec();
    l0.extend_from_slice(&[b'x'; 512]);
    l0.extend(end_blocks());
    let v = both(&[l0], &["/bin/x"]);
    assert_eq!(v.get("/bin/x").unwrap().mode, 0o755);
}

#[test]
fn truncated_plain_tar_is_an_error() {
    let tar = tar_of(&[E::File("etc/os-release", &[b'a'; 4000])]);
    let err = bottom_up(&[tar[..2000].to_vec()], &q(&["/etc/os-release"])).unwrap_err();
    assert!(matches!(err, LayerError::TruncatedTar { .. }), "{err}");
    let err = bottom_up(&[tar[..2000].to_vec()], &q(&["/nothing"])).unwrap_err();
    assert!(matches!(err, LayerError::TruncatedTar { .. }), "{err}");
}

#[test]
fn corrupt_header_and_corrupt_gzip_are_errors() {
    let mut tar = tar_of(&[E::File("etc/os-release", b"ID=x"), E::File("b", b"b")]);
    tar[3] ^= 0x40;
    let err = bottom_up(&[tar.clone()], &q(&["/etc/os-release"])).unwrap_err();
    assert!(matches!(err, LayerError::CorruptTar { .. }), "{err}");
    let err = bottom_up(&[gz(&tar)], &q(&["/etc/os-release"])).unwrap_err();
    assert!(matches!(err, LayerError::CorruptTar { .. }), "{err}");

    let good = tar_of(&[E::File("etc/os-release", &[7u8; 3000])]);
    let mut g = gz(&good);
    let n = g.len();
    g[n - 6] ^= 0xff; // inside the CRC32 trailer
    let err = bottom_up(&[g], &q(&["/etc/os-release"])).unwrap_err();
    assert!(matches!(err, LayerError::CorruptCompression { .. }), "{err}");
}

#[test]
fn unknown_compression_names_the_layer() {
    let l0 = tar_of(&[E::File("a", b"a")]);
    let err = bottom_up(&[l0, b"hello, not a layer".to_vec()], &q(&["/a"])).unwrap_err();
    assert!(matches!(err, LayerError::UnknownCompression { .. }), "{err}");
    assert_eq!(err.layer().index, 1);
    assert!(err.to_string().contains("layer 1 (sha256:01)"), "{err}");
}

#[test]
fn zstd_gzip_and_plain_layers_mix() {
    let l0 = zst(&tar_of(&[E::File("etc/os-release", b"ID=fedora"), E::Fifo("run/fifo")]));
    let l1 = gz(&tar_of(&[E::File("var/lib/rpm/x", b"rpm")]));
    let l2 = tar_of(&[E::File("app/main", b"main")]);
    let v = both(&[l0, l1, l2], &["/etc/os-release", "/var/lib/rpm/x", "/app/main", "/run/fifo"]);
    assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=fedora"));
    assert_eq!(text(&v, "/var/lib/rpm/x").as_deref(), Some("rpm"));
    assert_eq!(text(&v, "/app/main").as_deref(), Some("main"));
    assert_eq!(v.get("/run/fifo").unwrap().kind, EntryKind::Other);
}

#[test]
fn hint_disagreeing_with_bytes_warns_and_bytes_win() {
    let l0 = tar_of(&[E::File("a", b"a")]);
    let input = input(0, l0).with_hint(Some(Compression::Zstd));
    let v = merge_layers(vec![input], &q(&["/a"]), &MergeOptions::default()).unwrap();
    assert_eq!(text(&v, "/a").as_deref(), Some("a"));
    assert!(v.warnings[0].contains("declared zstd"), "{:?}", v.warnings);
}

#[test]
fn python_pattern_queries() {
    let l0 = tar_of(&[
        E::File("usr/local/lib/python3.11/site-packages/a-1.dist-info/METADATA", b"A"),
        E::File("usr/local/lib/python3.11/site-packages/a-1.dist-info/RECORD", b"r"),
        E::File("usr/local/lib/python3.12/site-packages/b-2.dist-info/METADATA", b"B"),
        E::File("usr/local/lib/python2.7/site-packages/c-3.dist-info/METADATA", b"C"),
        E::File("usr/local/lib/python3.11/site-packages/d/METADATA", b"D"),
        E::Sym("usr/local/lib/python3.13", "/opt/py313"),
        E::File("opt/py313/site-packages/e-5.dist-info/METADATA", b"E"),
    ]);
    let pattern = "/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA";
    let v = both(&[l0], &[pattern]);
    let got: Vec<(String, Vec<u8>)> =
        v.matches(pattern).into_iter().map(|(p, e)| (p, e.content.clone().unwrap())).collect();
    let base = "/usr/local/lib";
    assert_eq!(
        got,
        [
            (format!("{base}/python3.11/site-packages/a-1.dist-info/METADATA"), b"A".to_vec()),
            (format!("{base}/python3.12/site-packages/b-2.dist-info/METADATA"), b"B".to_vec()),
            (format!("{base}/python3.13/site-packages/e-5.dist-info/METADATA"), b"E".to_vec()),
        ]
    );
}

#[test]
fn final_link_added_above_its_target_is_detected() {
    // The one case bottom-up cannot capture: the link is newer than its target and the
    // target's name differs from the query's. Top-down sees the link first and captures it.
    let l0 = tar_of(&[E::File("usr/share/zoneinfo/UTC", b"TZif")]);
    let l1 = tar_of(&[E::Sym("etc/localtime", "/usr/share/zoneinfo/UTC")]);
    let pq = q(&["/etc/localtime"]);
    let up = bottom_up(&[l0.clone(), l1.clone()], &pq).unwrap();
    assert_eq!(up.lookup("/etc/localtime").unwrap_err(), Miss::NotCaptured { path: "/usr/share/zoneinfo/UTC".into() });
    assert!(up.warnings.iter().any(|w| w.contains("before the symlink")), "{:?}", up.warnings);
    assert!(up.exists("/etc/localtime"));
    let down = top_down(&[l0, l1], &pq).unwrap();
    assert_eq!(text(&down, "/etc/localtime").as_deref(), Some("TZif"));
}

#[test]
fn exists_knows_uncaptured_paths() {
    let l0 = tar_of(&[E::Dir("usr"), E::Dir("usr/bin"), E::File("usr/bin/apk", b"elf")]);
    let v = bottom_up(&[l0], &q(&["/etc/os-release"])).unwrap();
    assert!(v.exists("/usr/bin/apk"));
    assert!(v.exists("/usr"));
    assert!(!v.exists("/usr/bin/dpkg"));
    assert_eq!(v.lookup("/usr/bin/apk").unwrap_err(), Miss::NotCaptured { path: "/usr/bin/apk".into() });
}

/// Never readable: proves that top-down reading did not touch the layer.
struct Poison;

impl Read for Poison {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("this layer must not be read"))
    }
}

#[test]
fn top_down_stops_early_with_the_same_answers() {
    let l0 = gz(&tar_of(&[
        E::Dir("etc"),
        E::File("etc/os-release", b"ID=debian\nVERSION_ID=11"),
        E::Dir("var"),
        E::Dir("var/lib"),
        E::Dir("var/lib/dpkg"),
        E::File("var/lib/dpkg/status", b"Package: base"),
        E::Dir("opt"),
        E::File("opt/x", b"x"),
    ]));
    let l1 = gz(&tar_of(&[
        E::Dir("etc"),
        E::File("etc/os-release", b"ID=debian\nVERSION_ID=12"),
        E::Dir("var"),
        E::Dir("var/lib"),
        E::Dir("var/lib/dpkg"),
        E::File("var/lib/dpkg/status", b"Package: base\nPackage: curl"),
        E::File(".wh.opt", b""),
    ]));
    let l2 = zst(&tar_of(&[E::Dir("app"), E::File("app/main.py", b"print()")]));
    let query = ["/etc/os-release", "/var/lib/dpkg/status", "/opt/x"];
    let pq = q(&query);
    let up = bottom_up(&[l0, l1.clone(), l2.clone()], &pq).unwrap();
    let inputs = vec![input(2, l2.clone()), input(1, l1.clone()), LayerInput::new("poison", Box::new(Poison))];
    let down = merge_top_down(inputs, &pq, &MergeOptions::default()).unwrap();
    assert!(down.stats.stopped_early);
    assert_eq!(down.stats.layers_read, 2);
    assert_eq!(up.stats.layers_read, 3);
    assert_eq!(answers(&up, &query), answers(&down, &query));
    assert_eq!(text(&down, "/etc/os-release").as_deref(), Some("ID=debian\nVERSION_ID=12"));
    assert_eq!(down.get("/opt/x"), None);

    // A pattern query keeps it reading (and the poison layer then fails the merge).
    let inputs = vec![input(2, l2), input(1, l1), LayerInput::new("poison", Box::new(Poison))];
    let err = merge_top_down(inputs, &q(&["/etc/os-release", "/var/lib/dpkg/status.d/*"]), &MergeOptions::default())
        .unwrap_err();
    assert!(matches!(err, LayerError::Read { .. }), "{err}");
}

#[test]
fn top_down_does_not_stop_on_implicit_or_linked_ancestors() {
    // The upper layer has the file but not its parents, so a lower layer could still turn
    // `etc` into a link; the base does exactly that.
    let l0 = tar_of(&[E::Sym("etc", "private/etc"), E::File("private/etc/hosts", b"base")]);
    let l1 = tar_of(&[E::File("etc/hosts", b"upper")]);
    let l2 = tar_of(&[E::File("x", b"x")]);
    let v = both(&[l0.clone(), l1.clone(), l2.clone()], &["/etc/hosts"]);
    assert_eq!(text(&v, "/etc/hosts").as_deref(), Some("base"));
    let down = top_down(&[l0, l1, l2], &q(&["/etc/hosts"])).unwrap();
    assert_eq!(down.stats.layers_read, 3);
}

#[test]
fn top_down_stops_for_a_settled_opaque_directory_pattern() {
    let l0 = tar_of(&[E::Dir("var/lib/dpkg/status.d"), E::File("var/lib/dpkg/status.d/old", b"o")]);
    let l1 = tar_of(&[
        E::Dir("var"),
        E::Dir("var/lib"),
        E::Dir("var/lib/dpkg"),
        E::Dir("var/lib/dpkg/status.d"),
        E::File("var/lib/dpkg/status.d/.wh..wh..opq", b""),
        E::File("var/lib/dpkg/status.d/new", b"n"),
    ]);
    let query = ["/var/lib/dpkg/status.d/*"];
    let v = both(&[l0.clone(), l1.clone()], &query);
    assert_eq!(v.matches(query[0]).len(), 1);
    let inputs = vec![input(1, l1), LayerInput::new("poison", Box::new(Poison))];
    let down = merge_top_down(inputs, &q(&query), &MergeOptions::default()).unwrap();
    assert!(down.stats.stopped_early);
    assert_eq!(answers(&v, &query), answers(&down, &query));
}

#[test]
fn many_scenarios_agree_between_reading_orders() {
    let layers = [
        tar_of(&[
            E::Dir("usr/lib"),
            E::Sym("lib", "usr/lib"),
            E::Sym("bin", "usr/bin"),
            E::File("usr/lib/os-release", b"ID=debian"),
            E::Sym("etc/os-release", "../usr/lib/os-release"),
            E::File("var/lib/dpkg/status", b"Package: a"),
            E::File("var/lib/dpkg/status.d/a", b"a"),
            E::File("usr/lib/python3/dist-packages/x-1.dist-info/METADATA", b"x"),
        ]),
        tar_of(&[
            E::File("var/lib/dpkg/status.d/b", b"b"),
            E::File("var/lib/dpkg/status.d/.wh.a", b""),
            E::File("usr/bin/tool", b"tool"),
            E::Hard("usr/bin/tool2", "usr/bin/tool"),
        ]),
        tar_of(&[
            E::File("usr/lib/python3/dist-packages/y-2.dist-info/METADATA", b"y"),
            E::File("usr/lib/os-release", b"ID=debian2"),
        ]),
    ];
    let query = [
        "/etc/os-release",
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/*",
        "/lib/python3/dist-packages/*.dist-info/METADATA",
        "/bin/tool2",
        "/bin/tool",
    ];
    let v = both(&layers, &query);
    assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=debian2"));
    assert_eq!(v.matches("/var/lib/dpkg/status.d/*").len(), 1);
    assert_eq!(v.matches(query[3]).len(), 2);
    assert_eq!(text(&v, "/bin/tool2").as_deref(), Some("tool"));
}

#[test]
fn results_can_cross_threads() {
    fn check<T: Send + Sync>() {}
    check::<MergedView>();
    check::<LayerError>();
    fn send<T: Send>() {}
    send::<LayerInput>();
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_layers_never_panic() {
    let plain = tar_of(&[
        E::Dir("etc"),
        E::File("etc/os-release", b"ID=alpine\nVERSION_ID=3.20"),
        E::Sym("lib", "usr/lib"),
        E::File("usr/lib/apk/db/installed", b"P:musl\nV:1.2"),
        E::Hard("usr/lib/apk/db/installed.bak", "usr/lib/apk/db/installed"),
        E::File("var/lib/dpkg/status.d/.wh..wh..opq", b""),
        E::File("var/lib/dpkg/status.d/x", b"x"),
        E::File("opt/.wh.gone", b""),
        E::Sym("loop", "loop/x"),
    ]);
    let lower = tar_of(&[E::File("opt/gone/f", b"f"), E::File("etc/os-release", b"old")]);
    let query = q(&[
        "/etc/os-release",
        "/lib/apk/db/installed",
        "/lib/apk/db/installed.bak",
        "/var/lib/dpkg/status.d/*",
        "/loop/y",
    ]);
    let opts = MergeOptions { max_file_bytes: 64, ..MergeOptions::default() };
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    // DOCKVAR_FUZZ_ROUNDS raises the count for a longer local run.
    let rounds = std::env::var("DOCKVAR_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2000);
    for round in 0..rounds {
        let mut bytes = plain.clone();
        match rng.below(4) {
            0 => {
                let cut = rng.below(bytes.len());
                bytes.truncate(cut);
            }
            _ => {
                for _ in 0..1 + rng.below(6) {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
        }
        let layer = match round % 4 {
            0 => bytes,
            1 => gz(&bytes),
            2 => zst(&bytes),
            _ => {
                // Damage the compressed stream itself.
                let mut g = gz(&bytes);
                let i = rng.below(g.len());
                g[i] ^= 0x5a;
                g
            }
        };
        let layers = [lower.clone(), layer];
        let inputs: Vec<LayerInput> = layers.iter().enumerate().map(|(i, b)| input(i, b.clone())).collect();
        let up = merge_layers(inputs, &query, &opts);
        outcomes[usize::from(up.is_ok())] += 1;
        if let Ok(v) = &up {
            for p in ["/etc/os-release", "/lib/apk/db/installed", "/loop/y", "/x/../y"] {
                let _ = (v.lookup(p), v.lstat(p), v.read_link(p), v.exists(p));
            }
            let _ = v.matches("/var/lib/dpkg/status.d/*");
        }
        let inputs: Vec<LayerInput> = layers.iter().enumerate().rev().map(|(i, b)| input(i, b.clone())).collect();
        let _ = merge_top_down(inputs, &query, &opts);
    }
    // Both outcomes occur, so the mutations exercise parsing and not just the gzip CRC.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// Counts the bytes handed out, to show what seekable inputs skip.
struct Counting {
    inner: Cursor<Vec<u8>>,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl io::Seek for Counting {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

fn seekable(bytes: Vec<u8>) -> (LayerInput, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let input = LayerInput::seekable("seekable", Box::new(Counting { inner: Cursor::new(bytes), read: read.clone() }));
    (input, read)
}

#[test]
fn seekable_plain_layers_skip_unwanted_data() {
    let big = vec![b'x'; 1 << 20];
    let l0 = tar_of(&[E::File("big", &big), E::File("etc/os-release", b"ID=x\n"), E::File("big2", &big)]);
    let query = q(&["/etc/os-release", "/big2/nothing"]);
    let (input, read) = seekable(l0.clone());
    let v = merge_layers(vec![input], &query, &MergeOptions::default()).unwrap();
    assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=x\n"));
    assert!(read.load(std::sync::atomic::Ordering::Relaxed) < 16 << 10, "unwanted data was read");
    let streamed = bottom_up(std::slice::from_ref(&l0), &query).unwrap();
    assert_eq!(answers(&v, &["/etc/os-release", "/big"]), answers(&streamed, &["/etc/os-release", "/big"]));

    // Compressed bytes cannot be skipped: the same input falls back to streaming.
    for bytes in [gz(&l0), zst(&l0)] {
        let (input, _) = seekable(bytes);
        let v = merge_top_down(vec![input], &query, &MergeOptions::default()).unwrap();
        assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=x\n"));
    }

    // Data that a seek would skip past the end is still a truncated layer.
    let (input, _) = seekable(l0[..(1 << 20) + 2048].to_vec());
    let err = merge_layers(vec![input], &q(&["/nothing"]), &MergeOptions::default()).unwrap_err();
    assert!(matches!(err, LayerError::TruncatedTar { .. }), "{err}");
}
