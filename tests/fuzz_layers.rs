//! No layer makes the tar merger or the fact readers panic or hang: random bytes; tars of
//! random entries with hostile names (climbing `..`, absolute, whiteouts and opaque markers at
//! `/`, names longer than a header holds, so written as GNU long-name records), symlink loops
//! and links to `/`, hard links to missing targets, FIFOs, and file contents mixed from real
//! `/etc/passwd`, dpkg, os-release and METADATA records and garbage; truncated and gzipped
//! forms of those. Each image is merged bottom-up and top-down, and its facts are read.
//! `PROPTEST_CASES` raises the case count (300 by default).

use std::io::Write;

use dockvar::inspect::image::ImageConfig;
use dockvar::inspect::layers::{LayerInput, MergeOptions, merge_layers, merge_top_down};
use dockvar::inspect::read::{read_facts, wanted_paths};
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/passwd",
    "etc/group",
    "etc/timezone",
    "etc/localtime",
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/base",
    "lib/apk/db/installed",
    "usr/bin/python3",
    "usr/bin/python3.11",
    "usr/local/bin/python3",
    "usr/include/python3.11/patchlevel.h",
    "usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA",
    "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
    "usr/local/lib/python3.11/site-packages/pip-24.2.dist-info/METADATA",
    "airbyte",
    "airbyte/integration_code",
    "usr/share/zoneinfo/Etc/UTC",
    "usr",
    "lib",
    "etc",
    "../etc/passwd",
    "/etc/passwd",
    "etc/../../escape",
    "./etc//os-release",
    ".wh..wh..opq",
    "etc/.wh..wh..opq",
    "etc/.wh.passwd",
    ".wh.etc",
    "usr/.wh..wh.plnk",
    "etc/.wh.",
    "",
];

const TARGETS: &[&str] = &[
    "/",
    "..",
    "../..",
    "usr/lib",
    "/usr/lib/os-release",
    "python3.11",
    "/usr/bin/python3",
    "loop",
    "/etc/localtime",
    "/usr/share/zoneinfo/Etc/UTC",
    "/usr/share/zoneinfo/Nowhere",
    "etc/passwd",
    "",
];

const CONTENTS: &[&[u8]] = &[
    b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    b"root:x:0:0:root:/root:/bin/bash\nairbyte:x:1000:1000::/airbyte:/bin/sh\n",
    b"broken line without colons\n::::::\n",
    b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\n",
    b"Package: \nStatus: \n\n\n",
    b"P:musl\nV:1.2.4-r2\nA:x86_64\n\n",
    b"Metadata-Version: 2.1\nName: pip\nVersion: 24.2\n",
    b"#define PY_VERSION \"3.11.2\"\n",
    b"\x7fELF\x003.11\x00\x003.11.2\x00",
    b"TZif2\x00\x00\x00",
    b"Etc/UTC\n",
    b"",
    b"\x00\xff\xfe\x1b[2J",
];

#[derive(Debug, Clone)]
enum Kind {
    File(usize),
    Dir,
    Symlink(usize),
    HardLink(usize),
    Fifo,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0..CONTENTS.len()).prop_map(Kind::File),
        1 => Just(Kind::Dir),
        2 => (0..TARGETS.len()).prop_map(Kind::Symlink),
        1 => (0..PATHS.len()).prop_map(Kind::HardLink),
        1 => Just(Kind::Fifo),
    ]
}

/// A tar header named with raw bytes (no validation), written as a GNU long-name record first
/// when the name does not fit.
fn header(out: &mut Vec<u8>, name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) {
    if name.len() > 99 {
        let mut long = tar::Header::new_gnu();
        long.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        long.set_entry_type(tar::EntryType::GNULongName);
        long.set_size(name.len() as u64 + 1);
        long.set_cksum();
        out.extend_from_slice(long.as_bytes());
        out.extend_from_slice(name);
        out.push(0);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    let mut h = tar::Header::new_gnu();
    let n = name.len().min(99);
    h.as_gnu_mut().unwrap().name[..n].copy_from_slice(&name[..n]);
    let l = link.len().min(99);
    h.as_gnu_mut().unwrap().linkname[..l].copy_from_slice(&link[..l]);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o755);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
}

fn layer(entries: &[(usize, Kind, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, kind, long) in entries {
        let mut name = PATHS[*path].as_bytes().to_vec();
        if *long {
            name = [b"very/".repeat(40).as_slice(), &name].concat();
        }
        match kind {
            Kind::File(c) => {
                let body = CONTENTS[*c];
                header(&mut out, &name, tar::EntryType::Regular, body.len() as u64, b"");
                out.extend_from_slice(body);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
            Kind::Dir => header(&mut out, &name, tar::EntryType::Directory, 0, b""),
            Kind::Symlink(t) => header(&mut out, &name, tar::EntryType::Symlink, 0, TARGETS[*t].as_bytes()),
            Kind::HardLink(t) => header(&mut out, &name, tar::EntryType::Link, 0, PATHS[*t].as_bytes()),
            Kind::Fifo => header(&mut out, &name, tar::EntryType::Fifo, 0, b""),
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// How a layer reaches the merger: whole, cut short, gzipped, or gzipped and cut short.
fn shaped(tar: Vec<u8>, shape: u8, cut: usize) -> Vec<u8> {
    let gz = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    match shape % 4 {
        0 => tar,
        1 => tar[..cut % (tar.len() + 1)].to_vec(),
        2 => gz(&tar),
        _ => {
            let z = gz(&tar);
            z[..cut % (z.len() + 1)].to_vec()
        }
    }
}

fn exercise(layers: Vec<Vec<u8>>, user: Option<&str>) {
    let env = vec![("PATH".to_string(), "/usr/local/bin:/usr/bin:/bin".to_string())];
    let query = wanted_paths(&env).unwrap();
    let config = ImageConfig { env: env.clone(), user: user.map(str::to_string), ..ImageConfig::default() };
    let inputs = |top_down: bool| {
        let mut v: Vec<LayerInput> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerInput::new(format!("l{i}"), Box::new(std::io::Cursor::new(l.clone()))))
            .collect();
        if top_down {
            v.reverse();
        }
        v
    };
    let options = MergeOptions::default();
    if let Ok(view) = merge_layers(inputs(false), &query, &options) {
        let _ = read_facts("fuzz", config.clone(), &view);
    }
    if let Ok(view) = merge_top_down(inputs(true), &query, &options) {
        let _ = read_facts("fuzz", config, &view);
    }
}

fn entry() -> impl Strategy<Value = (usize, Kind, bool)> {
    (0..PATHS.len(), kind(), proptest::bool::weighted(0.1))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_layers_never_panic(
        layers in proptest::collection::vec(
            (proptest::collection::vec(entry(), 0..24), any::<u8>(), any::<usize>()),
            1..4,
        ),
        user in proptest::option::of(prop_oneof![Just("airbyte"), Just("1000:1000"), Just("ghost"), Just("0:staff"), Just("")]),
    ) {
        let layers: Vec<Vec<u8>> = layers.into_iter().map(|(entries, shape, cut)| shaped(layer(&entries), shape, cut)).collect();
        exercise(layers, user);
    }

    #[test]
    fn random_bytes_as_layers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), gzip in any::<bool>()) {
        let bytes = if gzip { shaped(bytes, 2, 0) } else { bytes };
        exercise(vec![bytes], None);
    }
}
