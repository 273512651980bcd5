//! Hostile image layers, built in the test as OCI layouts: a gzip layer whose GNU long-name
//! record claims 1 GiB (a few MB compressed), run through the real binary under a 512 MiB
//! address-space limit. The run must end by itself, say which record it skipped, and still
//! read the image's other facts.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn put(dir: &Path, bytes: &[u8]) -> String {
    let d = digest(bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.trim_start_matches("sha256:")), bytes).unwrap();
    d
}

/// A layer: a GNU long-name record claiming `claimed` bytes of zeros, the entry it names, then
/// `/etc/os-release`, gzip-compressed as it is produced (never held uncompressed).
fn bomb_layer(claimed: u64) -> (Vec<u8>, String) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut plain = Sha256::new();
    let mut write = |bytes: &[u8]| {
        plain.update(bytes);
        gz.write_all(bytes).unwrap();
    };
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(claimed);
    h.set_cksum();
    write(h.as_bytes());
    let zeros = vec![0u8; 1 << 20];
    let mut left = claimed.div_ceil(512) * 512;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        write(&zeros[..n]);
        left -= n as u64;
    }
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in [("victim", &b"x"[..]), ("etc/os-release", &b"ID=debian\nVERSION_ID=\"12\"\n"[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, body).unwrap();
    }
    write(&b.into_inner().unwrap());
    let diff_id = format!("sha256:{:x}", plain.finalize());
    (gz.finish().unwrap(), diff_id)
}

/// An OCI layout at `layout` with one gzip layer and a config whose diff_id is `diff_id`.
fn write_layout(layout: &Path, layer: &[u8], diff_id: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let layer_digest = put(layout, layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let config_digest = put(layout, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let manifest_digest = put(layout, &manifest);
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}}],
        }))
        .unwrap(),
    )
    .unwrap();
    layout.to_path_buf()
}

/// A gzip layer holding `/etc/os-release` with `id`, and the digest of its uncompressed tar.
fn os_layer(id: &str) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    let body = format!("ID={id}\n");
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "etc/os-release", body.as_bytes()).unwrap();
    let plain = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    (gz.finish().unwrap(), digest(&plain))
}

fn inspect_json(reference: &str, cache: &Path) -> (i32, serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .args(["inspect", reference, "--format", "json"])
        .env("DOCKVAR_CACHE_DIR", cache)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_default();
    (output.status.code().unwrap_or(-1), doc, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A copy of a genuine image whose layer was swapped (its manifest rewritten to match, the
/// genuine config kept): refused, and it cannot poison the facts cached for the genuine image.
#[test]
fn a_swapped_layer_is_refused_and_never_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (genuine_layer, diff_id) = os_layer("debian");
    let (evil_layer, _) = os_layer("evil");
    let genuine = write_layout(&dir.path().join("genuine"), &genuine_layer, &diff_id);
    let forged = write_layout(&dir.path().join("forged"), &evil_layer, &diff_id);
    let cache = tempfile::tempdir().unwrap();
    let (code, doc, err) = inspect_json(&format!("oci:{}:1", forged.display()), cache.path());
    assert_eq!(code, 1, "{doc}{err}");
    let error = doc["images"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("the uncompressed tar hashes to") && error.contains(&diff_id), "{doc}");
    let (code, doc, err) = inspect_json(&format!("oci:{}:1", genuine.display()), cache.path());
    assert_eq!(code, 0, "{doc}{err}");
    assert_eq!(doc["images"][0]["os"]["id"], "debian", "{doc}");
    // And the other way round: a cache filled by the genuine image does not vouch for the copy.
    let (code, doc, _) = inspect_json(&format!("oci:{}:1", forged.display()), cache.path());
    assert_eq!(code, 1, "{doc}");
}

#[test]
fn a_long_name_bomb_is_skipped_within_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, diff_id) = bomb_layer(1 << 30);
    assert!(layer.len() < 12 << 20, "{} bytes compressed", layer.len());
    let layout = write_layout(&dir.path().join("oci"), &layer, &diff_id);

    let cache = tempfile::tempdir().unwrap();
    let output = Command::new("timeout")
        .args(["--signal=KILL", "120", "prlimit", "--as=536870912"])
        .arg(env!("CARGO_BIN_EXE_dockvar"))
        .args(["inspect", &format!("oci:{}:1", layout.display()), "--format", "json", "--no-cache"])
        .env("DOCKVAR_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let image = &doc["images"][0];
    assert_eq!(image["os"]["id"], "debian", "{out}");
    let warnings = image["warnings"].to_string();
    assert!(warnings.contains("GNU long-name record of 1073741824 bytes"), "{warnings}");
}

/// 100,000 `*.dist-info` folders in one layer: every distribution is listed (a glob budget
/// once dropped the last few silently), within the memory limit.
#[test]
fn a_hundred_thousand_distributions_are_all_listed() {
    const N: usize = 100_000;
    let mut b = tar::Builder::new(Vec::new());
    let file = |b: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32, body: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        b.append_data(&mut h, name, body).unwrap();
    };
    file(&mut b, "etc/os-release", 0o644, b"ID=debian\n");
    file(&mut b, "usr/bin/python3.11", 0o755, b"\x7fELF\x003.11\x00\x003.11.2\x00");
    file(&mut b, "usr/include/python3.11/patchlevel.h", 0o644, b"#define PY_VERSION \"3.11.2\"\n");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "usr/bin/python3", "python3.11").unwrap();
    for i in 0..N {
        let body = format!("Metadata-Version: 2.1\nName: pkg{i}\nVersion: 1.0\n");
        file(&mut b, &format!("usr/lib/python3/dist-packages/pkg{i}-1.0.dist-info/METADATA"), 0o644, body.as_bytes());
    }
    let plain = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = write_layout(&dir.path().join("oci"), &gz.finish().unwrap(), &digest(&plain));
    let output = Command::new("timeout")
        .args(["--signal=KILL", "300", "prlimit", "--as=536870912"])
        .arg(env!("CARGO_BIN_EXE_dockvar"))
        .args(["inspect", &format!("oci:{}:1", layout.display()), "--format", "json", "--no-cache"])
        .env("DOCKVAR_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let image = &doc["images"][0];
    assert_eq!(image["python"]["version"], "3.11.2");
    assert_eq!(image["python_packages"].as_array().unwrap().len(), N);
}

/// A config nested 100,000 arrays deep, and a zstd layer whose unwanted file inflates to
/// 1 GiB: a clear error for the first, and the second streams through within the limits.
#[test]
fn deep_configs_and_zstd_bombs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |layout: &Path| {
        let output = Command::new("timeout")
            .args(["--signal=KILL", "300", "prlimit", "--as=536870912"])
            .arg(env!("CARGO_BIN_EXE_dockvar"))
            .args(["inspect", &format!("oci:{}:1", layout.display()), "--format", "json", "--no-cache"])
            .env("DOCKVAR_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        (output.status.code(), doc, String::from_utf8_lossy(&output.stderr).into_owned())
    };

    let (layer, diff_id) = os_layer("debian");
    let deep = write_layout(&dir.path().join("deep"), &layer, &diff_id);
    let config = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(deep.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest_path = deep.join("blobs/sha256").join(&manifest_digest);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["config"]["digest"] = put(&deep, config.as_bytes()).into();
    manifest["config"]["size"] = config.len().into();
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let new_digest = put(&deep, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": new_digest, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}}]});
    std::fs::write(deep.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let (code, doc, err) = run(&deep);
    assert_eq!(code, Some(1), "{doc}{err}");
    let error = doc["images"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("config") && error.contains("recursion limit"), "{doc}");

    // 1 GiB of zeros in /var/cache/blob (not a file dockvar reads), then /etc/os-release.
    let mut plain = Sha256::new();
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    let mut write = |bytes: &[u8]| {
        plain.update(bytes);
        z.write_all(bytes).unwrap();
    };
    let mut h = tar::Header::new_gnu();
    h.set_path("var/cache/blob").unwrap();
    h.set_size(1 << 30);
    h.set_mode(0o644);
    h.set_cksum();
    write(h.as_bytes());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        write(&zeros);
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(10);
    h.set_mode(0o644);
    b.append_data(&mut h, "etc/os-release", &b"ID=debian\n"[..]).unwrap();
    write(&b.into_inner().unwrap());
    let diff_id = format!("sha256:{:x}", plain.finalize());
    let blob = z.finish().unwrap();
    assert!(blob.len() < 1 << 20, "{} bytes", blob.len());
    let bomb = write_layout(&dir.path().join("bomb"), &blob, &diff_id);
    let manifest_path = {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(bomb.join("index.json")).unwrap()).unwrap();
        bomb.join("blobs/sha256").join(index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:"))
    };
    // write_layout declares gzip; this layer is zstd.
    let text = std::fs::read_to_string(&manifest_path).unwrap().replace("tar+gzip", "tar+zstd");
    let digest_of_manifest = put(&bomb, text.as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest_of_manifest, "size": text.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}}]});
    std::fs::write(bomb.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let (code, doc, err) = run(&bomb);
    assert_eq!(code, Some(0), "{doc}{err}");
    assert_eq!(doc["images"][0]["os"]["id"], "debian", "{doc}");
}

/// Entries that climb out of the image or are absolute, and 100,000 layers (one small blob
/// listed again and again): the climbing entries are skipped with a warning, an absolute name
/// lands inside the image as extraction would put it, and the long manifest is read within
/// the limits.
#[test]
fn climbing_names_and_a_hundred_thousand_layers() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = Vec::new();
    for (name, body) in
        [("../../etc/passwd", &b"evil:x:0:0::/:/bin/sh\n"[..]), ("/etc/os-release", &b"ID=debian\n"[..])]
    {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        plain.extend_from_slice(h.as_bytes());
        plain.extend_from_slice(body);
        plain.resize(plain.len().div_ceil(512) * 512, 0);
    }
    plain.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let layout = write_layout(&dir.path().join("climb"), &gz.finish().unwrap(), &digest(&plain));
    let (code, doc, err) = inspect_json(&format!("oci:{}:1", layout.display()), &dir.path().join("cache"));
    assert_eq!(code, 0, "{doc}{err}");
    let image = &doc["images"][0];
    assert_eq!(image["os"]["id"], "debian", "{doc}");
    assert!(image["warnings"].to_string().contains("escapes the image root"), "{doc}");
    assert!(!doc.to_string().contains("evil:x"), "{doc}");

    // 100,000 layers: the same empty-tar blob listed 100,000 times.
    const N: usize = 100_000;
    let empty = vec![0u8; 1024];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&empty).unwrap();
    let blob = gz.finish().unwrap();
    let many = dir.path().join("many");
    std::fs::create_dir_all(many.join("blobs/sha256")).unwrap();
    std::fs::write(many.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let blob_digest = put(&many, &blob);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": vec![digest(&empty); N]},
    }))
    .unwrap();
    let config_digest = put(&many, &config);
    let layer = serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob_digest, "size": blob.len()});
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": vec![layer; N],
    }))
    .unwrap();
    let manifest_digest = put(&many, &manifest);
    std::fs::write(
        many.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
        .unwrap(),
    )
    .unwrap();
    let output = Command::new("timeout")
        .args(["--signal=KILL", "300", "prlimit", "--as=536870912"])
        .arg(env!("CARGO_BIN_EXE_dockvar"))
        .args(["inspect", &format!("oci:{}:1", many.display()), "--format", "json", "--no-cache"])
        .env("DOCKVAR_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let image = &doc["images"][0];
    eprintln!("100,000 layers: exit {:?}, error {}", output.status.code(), image["error"]);
    assert_eq!(image["error"], serde_json::Value::Null, "{}", image["error"]);
    assert_eq!(image["layers"].as_array().unwrap().len(), N);
    assert_eq!(image["os"]["id"], serde_json::Value::Null);
}
