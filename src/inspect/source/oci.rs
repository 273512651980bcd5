//! An OCI image layout (`oci:DIR[:TAG]`, or a tar of one, `oci-archive:PATH[:TAG]`) in, the
//! chosen image's config and a merged view of the queried paths out. Follows `index.json` and
//! nested image indexes to the requested platform and verifies every JSON blob's digest.

use std::path::Path;

use serde_json::Value;

use super::tar_index::{BlobDigest, BlobError, Blobs, MAX_JSON_BYTES, Order, StoredLayer};
use crate::inspect::image::{
    FileTree, ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceKind, SourceOptions, index_platforms,
    media, select_platform,
};
use crate::inspect::layers::verify::Expected;
use crate::inspect::layers::{MergeOptions, PathQuery};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Nested indexes deeper than this are a loop or an attack, not an image.
const MAX_DEPTH: usize = 8;

/// One layer as the manifest describes it.
#[derive(Debug, Clone)]
struct LayerDesc {
    digest: BlobDigest,
    size: Option<u64>,
    media_type: String,
}

/// An opened OCI layout, narrowed to one image manifest.
#[derive(Debug)]
pub struct OciLayout {
    image: String,
    source: &'static str,
    blobs: Blobs,
    config_bytes: Vec<u8>,
    config_digest: String,
    manifest_digest: String,
    platforms: Vec<String>,
    repo_tags: Vec<String>,
    layers: Vec<LayerDesc>,
    merge: MergeOptions,
    order: Order,
}

impl OciLayout {
    pub fn open(reference: &ImageRef, options: &SourceOptions) -> Result<OciLayout, InspectError> {
        let image = reference.original.clone();
        let source =
            if reference.kind == Some(SourceKind::OciArchive) { "oci-archive" } else { SourceKind::Oci.as_str() };
        let e = Errors { image: &image };
        let (path, tag) = split_location(reference);
        let blobs = Blobs::open(Path::new(path)).map_err(|err| err.for_image(&image))?;

        let layout = blobs.read_small("oci-layout", MAX_JSON_BYTES).map_err(|err| match err {
            BlobError::Missing(_) => e.invalid(format!("{path} is not an OCI image layout (no `oci-layout` file)")),
            other => other.for_image(&image),
        })?;
        let layout: Value =
            serde_json::from_slice(&layout).map_err(|err| e.invalid(format!("`oci-layout` is not JSON: {err}")))?;
        match layout.get("imageLayoutVersion").and_then(Value::as_str) {
            Some(v) if v.starts_with("1.") => {}
            other => {
                return Err(e.invalid(format!(
                    "unsupported imageLayoutVersion {} (dockvar reads 1.x)",
                    other.map_or_else(|| "(none)".to_string(), |v| format!("`{v}`"))
                )));
            }
        }

        let index = blobs.read_small("index.json", MAX_JSON_BYTES).map_err(|err| match err {
            BlobError::Missing(_) => e.invalid(format!("{path} has no index.json")),
            other => other.for_image(&image),
        })?;
        let index: Value =
            serde_json::from_slice(&index).map_err(|err| e.invalid(format!("index.json is not JSON: {err}")))?;
        if let Some(mt) = index.get("mediaType").and_then(Value::as_str)
            && mt != media::OCI_INDEX
            && mt != media::DOCKER_LIST
        {
            return Err(e.unsupported(mt));
        }
        let manifests = index
            .get("manifests")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| e.invalid("index.json lists no manifests".into()))?;

        let mut platforms = Vec::new();
        let top = match tag {
            Some(tag) => {
                let named: Vec<&Value> = manifests.iter().filter(|d| ref_name(d) == Some(tag)).collect();
                match named.as_slice() {
                    [] => {
                        return Err(InspectError::NotFound {
                            image: image.clone(),
                            message: format!("no manifest named `{tag}` in index.json ({})", names(manifests)),
                        });
                    }
                    [one] => (*one).clone(),
                    // Some tools write one descriptor per platform, all under the same name.
                    many if many.iter().all(|d| d.get("platform").is_some()) => {
                        let sub = serde_json::json!({ "manifests": many });
                        pick_platform(&sub, options, &mut platforms, &e)?.clone()
                    }
                    many => {
                        return Err(e.invalid(format!(
                            "{} manifests in index.json are named `{tag}` and no platform tells them apart",
                            many.len()
                        )));
                    }
                }
            }
            None => match manifests.as_slice() {
                [one] => one.clone(),
                many if many.iter().all(|d| d.get("platform").is_some()) => {
                    pick_platform(&index, options, &mut platforms, &e)?.clone()
                }
                many => {
                    return Err(e.invalid(format!(
                        "index.json lists {} manifests; name one as {}:{path}:TAG ({})",
                        many.len(),
                        source,
                        names(many)
                    )));
                }
            },
        };
        let mut repo_tags: Vec<String> = [CONTAINERD_NAME, REF_NAME]
            .iter()
            .filter_map(|k| annotation(&top, k))
            .take(1)
            .map(str::to_string)
            .collect();
        repo_tags.retain(|t| !t.is_empty());

        let (manifest_digest, manifest) = resolve(&blobs, top, options, &mut platforms, &e)?;
        let config_desc = manifest.get("config").ok_or_else(|| e.invalid("the manifest has no config".into()))?;
        if let Some(mt) = config_desc.get("mediaType").and_then(Value::as_str)
            && mt != media::OCI_CONFIG
            && mt != media::DOCKER_CONFIG
        {
            return Err(e.unsupported(mt));
        }
        let (config_digest, config_size) = descriptor(config_desc, &e)?;
        let config_bytes = blobs.read_blob(&config_digest, config_size).map_err(|err| err.for_image(&image))?;

        let mut layers = Vec::new();
        for l in manifest.get("layers").and_then(Value::as_array).into_iter().flatten() {
            let (digest, size) = descriptor(l, &e)?;
            let media_type = l.get("mediaType").and_then(Value::as_str).unwrap_or_default().to_string();
            layers.push(LayerDesc { digest, size, media_type });
        }
        Ok(OciLayout {
            image,
            source,
            blobs,
            config_bytes,
            config_digest: config_digest.to_string(),
            manifest_digest: manifest_digest.to_string(),
            platforms,
            repo_tags,
            layers,
            merge: options.merge.clone(),
            order: Order::BottomUp,
        })
    }

    /// Bottom-up by default, like the registry source, so every source gives the same answers
    /// (the orders differ only in which late-symlink case they miss; see the `layers` docs).
    /// Top-down reads the same bytes unless the upper layers settle every query.
    pub fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
}

impl ImageSource for OciLayout {
    fn config(&mut self) -> Result<ImageConfig, InspectError> {
        let mut config = ImageConfig::from_config_json(&self.config_bytes, &self.config_digest)
            .map_err(|message| InspectError::Invalid { image: self.image.clone(), message })?;
        config.source = self.source.to_string();
        config.manifest_digest = Some(self.manifest_digest.clone());
        config.platforms = self.platforms.clone();
        config.repo_tags = self.repo_tags.clone();
        config.layers = self
            .layers
            .iter()
            .map(|l| LayerInfo {
                digest: l.digest.to_string(),
                size: l.size,
                media_type: Some(l.media_type.clone()).filter(|m| !m.is_empty()),
            })
            .collect();
        Ok(config)
    }

    fn read_paths(&mut self, query: &PathQuery) -> Result<Box<dyn FileTree>, InspectError> {
        let mut stored = Vec::with_capacity(self.layers.len());
        let diff_ids = crate::inspect::image::diff_ids(&self.config_bytes);
        for (i, l) in self.layers.iter().enumerate() {
            let compression = media::layer_compression(&l.media_type).ok_or_else(|| {
                InspectError::UnsupportedMediaType { image: self.image.clone(), media_type: l.media_type.clone() }
            })?;
            stored.push(StoredLayer {
                member: l.digest.blob_path(),
                label: l.digest.to_string(),
                compression: Some(compression),
                expected_size: l.size,
                expected: Expected {
                    blob: Some(l.digest.to_string()),
                    // Only when the config lists one per layer; otherwise the image is malformed
                    // and the blob digests are what is checked.
                    diff_id: (diff_ids.len() == self.layers.len()).then(|| diff_ids[i].clone()),
                },
            });
        }
        let view = self.blobs.merge(&stored, query, &self.merge, self.order, &self.image)?;
        Ok(Box::new(view))
    }
}

/// Error constructors that all name the image.
struct Errors<'a> {
    image: &'a str,
}

impl Errors<'_> {
    fn invalid(&self, message: String) -> InspectError {
        InspectError::Invalid { image: self.image.to_string(), message }
    }

    fn unsupported(&self, media_type: &str) -> InspectError {
        InspectError::UnsupportedMediaType { image: self.image.to_string(), media_type: media_type.to_string() }
    }
}

/// `ImageRef::path_and_tag`, except that a path which itself contains `:` and exists wins.
fn split_location(reference: &ImageRef) -> (&str, Option<&str>) {
    let (path, tag) = reference.path_and_tag();
    if tag.is_some() && !Path::new(path).exists() && Path::new(&reference.location).exists() {
        return (&reference.location, None);
    }
    (path, tag)
}

fn annotation<'a>(d: &'a Value, key: &str) -> Option<&'a str> {
    d.get("annotations")?.get(key)?.as_str()
}

fn ref_name(d: &Value) -> Option<&str> {
    annotation(d, REF_NAME)
}

fn names(manifests: &[Value]) -> String {
    let listed: Vec<String> = manifests
        .iter()
        .map(|d| match ref_name(d) {
            Some(n) => format!("`{n}`"),
            None => format!("unnamed {}", d.get("digest").and_then(Value::as_str).unwrap_or("?")),
        })
        .collect();
    format!("names: {}", listed.join(", "))
}

fn descriptor(d: &Value, e: &Errors) -> Result<(BlobDigest, Option<u64>), InspectError> {
    let text = d.get("digest").and_then(Value::as_str).ok_or_else(|| e.invalid("a descriptor has no digest".into()))?;
    let digest = BlobDigest::parse(text).map_err(|m| e.invalid(m))?;
    Ok((digest, d.get("size").and_then(Value::as_u64)))
}

fn pick_platform<'a>(
    index: &'a Value,
    options: &SourceOptions,
    platforms: &mut Vec<String>,
    e: &Errors,
) -> Result<&'a Value, InspectError> {
    let offered = index_platforms(index);
    if platforms.is_empty() {
        *platforms = offered.clone();
    }
    select_platform(index, &options.platform).ok_or_else(|| InspectError::NoPlatform {
        image: e.image.to_string(),
        platform: options.platform.to_string(),
        offered: if offered.is_empty() { "no platforms".to_string() } else { offered.join(", ") },
    })
}

fn is_index(media_type: &str) -> bool {
    media_type == media::OCI_INDEX || media_type == media::DOCKER_LIST
}

fn is_manifest(media_type: &str) -> bool {
    media_type == media::OCI_MANIFEST || media_type == media::DOCKER_MANIFEST
}

/// Follows a descriptor through image indexes to an image manifest: its digest and body.
fn resolve(
    blobs: &Blobs,
    mut desc: Value,
    options: &SourceOptions,
    platforms: &mut Vec<String>,
    e: &Errors,
) -> Result<(BlobDigest, Value), InspectError> {
    for _ in 0..MAX_DEPTH {
        let declared = desc.get("mediaType").and_then(Value::as_str).map(str::to_string);
        if let Some(mt) = &declared
            && !is_index(mt)
            && !is_manifest(mt)
        {
            return Err(e.unsupported(mt));
        }
        let (digest, size) = descriptor(&desc, e)?;
        let bytes = blobs.read_blob(&digest, size).map_err(|err| err.for_image(e.image))?;
        let body: Value =
            serde_json::from_slice(&bytes).map_err(|err| e.invalid(format!("blob {digest} is not JSON: {err}")))?;
        let inner = body.get("mediaType").and_then(Value::as_str);
        // OCI manifests may leave `mediaType` out; then the shape tells.
        let media_type = match (declared.as_deref(), inner) {
            (Some(d), Some(i)) if d != i => {
                return Err(e.invalid(format!("blob {digest} says it is `{i}` but its descriptor says `{d}`")));
            }
            (Some(d), _) => d.to_string(),
            (None, Some(i)) => i.to_string(),
            (None, None) if body.get("manifests").is_some() => media::OCI_INDEX.to_string(),
            (None, None) if body.get("config").is_some() => media::OCI_MANIFEST.to_string(),
            (None, None) => return Err(e.invalid(format!("blob {digest} is neither an image index nor a manifest"))),
        };
        if is_manifest(&media_type) {
            return Ok((digest, body));
        }
        if !is_index(&media_type) {
            return Err(e.unsupported(&media_type));
        }
        desc = pick_platform(&body, options, platforms, e)?.clone();
    }
    Err(e.invalid(format!("image indexes nest deeper than {MAX_DEPTH} levels")))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::super::tar_index::testkit::{Item, Store, config, gzip, layer, zstd};
    use super::*;
    use crate::inspect::image::Platform;

    const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    const ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

    /// A two-layer image (gzip base, zstd top with a whiteout) for `arch`; its manifest
    /// descriptor.
    fn image(store: &mut Store, arch: &str, manifest_type: &str, config_type: &str) -> Value {
        let base = layer(&[
            Item::Dir("etc/"),
            Item::File("etc/os-release", format!("ID=debian\nARCH={arch}\n").as_bytes()),
            Item::File("etc/timezone", b"Etc/UTC\n"),
            Item::Link("lib", "usr/lib"),
            Item::Dir("usr/lib/apk/db/"),
            Item::File("usr/lib/apk/db/installed", b"P:musl\nV:1.2\n"),
        ]);
        let top =
            layer(&[Item::File("etc/.wh.timezone", b""), Item::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")]);
        let cfg = config(&[&base, &top], &[&format!("ARCH={arch}"), "LANG=C.UTF-8"], arch);
        let cfg_digest = store.blob(&cfg);
        let (gz, zs) = (gzip(&base), zstd(&top));
        let (dg, dz) = (store.blob(&gz), store.blob(&zs));
        store.json(
            manifest_type,
            &json!({
                "schemaVersion": 2, "mediaType": manifest_type,
                "config": { "mediaType": config_type, "digest": cfg_digest, "size": cfg.len() },
                "layers": [
                    { "mediaType": GZ, "digest": dg, "size": gz.len() },
                    { "mediaType": ZST, "digest": dz, "size": zs.len() },
                ],
            }),
        )
    }

    fn with_ref(mut desc: Value, name: &str) -> Value {
        desc["annotations"] = json!({ REF_NAME: name });
        desc
    }

    fn finish(mut store: Store, manifests: Vec<Value>) -> Store {
        store.put("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#);
        let index = json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests });
        store.put("index.json", serde_json::to_vec(&index).unwrap());
        store
    }

    fn simple() -> Store {
        let mut store = Store::default();
        let d = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        finish(store, vec![with_ref(d, "v1")])
    }

    fn as_dir(store: &Store) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layout");
        store.write_dir(&path);
        (dir, path)
    }

    fn open_at(text: &str, platform: Option<&str>) -> Result<OciLayout, InspectError> {
        let mut options = SourceOptions::default();
        if let Some(p) = platform {
            options.platform = Platform::parse(p).unwrap();
        }
        OciLayout::open(&ImageRef::parse(text), &options)
    }

    fn query() -> PathQuery {
        PathQuery::parse(["/etc/os-release", "/etc/timezone", "/etc/passwd", "/lib/apk/db/installed"]).unwrap()
    }

    fn content(tree: &dyn FileTree, path: &str) -> Option<String> {
        tree.get(path).and_then(|e| e.content.as_deref()).map(|c| String::from_utf8_lossy(c).into_owned())
    }

    #[test]
    fn directory_and_archive_read_the_same() {
        let store = simple();
        let (dir, path) = as_dir(&store);
        let tar = dir.path().join("layout.tar");
        store.write_tar(&tar);
        let mut seen = Vec::new();
        for (text, source) in [
            (format!("oci:{}:v1", path.display()), "oci"),
            (format!("oci:{}", path.display()), "oci"),
            (format!("oci-archive:{}:v1", tar.display()), "oci-archive"),
        ] {
            let mut src = open_at(&text, None).unwrap();
            let c = src.config().unwrap();
            assert_eq!(c.source, source);
            assert_eq!(c.repo_tags, vec!["v1"]);
            assert!(c.platforms.is_empty());
            assert_eq!(c.layers.len(), 2);
            assert_eq!(c.layers[0].media_type.as_deref(), Some(GZ));
            let tree = src.read_paths(&query()).unwrap();
            assert_eq!(content(tree.as_ref(), "/etc/os-release").as_deref(), Some("ID=debian\nARCH=amd64\n"));
            assert_eq!(content(tree.as_ref(), "/lib/apk/db/installed").as_deref(), Some("P:musl\nV:1.2\n"));
            assert!(tree.get("/etc/timezone").is_none());
            assert!(content(tree.as_ref(), "/etc/passwd").unwrap().starts_with("root:"));
            let mut top_down = open_at(&text, None).unwrap().with_order(Order::TopDown);
            let again = top_down.read_paths(&query()).unwrap();
            assert_eq!(content(again.as_ref(), "/etc/os-release"), content(tree.as_ref(), "/etc/os-release"));
            assert!(again.get("/etc/timezone").is_none());
            seen.push((c.image_id.clone(), c.manifest_digest.clone(), c.env.clone()));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]));
        let index: Value = serde_json::from_slice(&store.files["index.json"]).unwrap();
        assert_eq!(seen[0].1.as_deref(), index["manifests"][0]["digest"].as_str());
    }

    /// index.json → image index → one manifest per platform, as `skopeo copy --all` writes.
    fn two_platforms() -> Store {
        let mut store = Store::default();
        let amd = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        let mut arm = image(&mut store, "arm64", media::OCI_MANIFEST, media::OCI_CONFIG);
        arm["platform"] = json!({ "os": "linux", "architecture": "arm64", "variant": "v8" });
        let mut amd_p = amd.clone();
        amd_p["platform"] = json!({ "os": "linux", "architecture": "amd64" });
        let idx = store.json(
            media::OCI_INDEX,
            &json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [amd_p, arm] }),
        );
        finish(store, vec![with_ref(idx, "multi")])
    }

    #[test]
    fn nested_index_chooses_the_platform() {
        let (_dir, path) = as_dir(&two_platforms());
        let at = format!("oci:{}:multi", path.display());
        let mut src = open_at(&at, None).unwrap();
        let c = src.config().unwrap();
        assert_eq!(c.platforms, vec!["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(c.architecture.as_deref(), Some("amd64"));
        let mut arm = open_at(&at, Some("linux/arm64")).unwrap();
        let c = arm.config().unwrap();
        assert_eq!(c.env[0].1, "arm64");
        let tree = arm.read_paths(&query()).unwrap();
        assert_eq!(content(tree.as_ref(), "/etc/os-release").as_deref(), Some("ID=debian\nARCH=arm64\n"));
        match open_at(&at, Some("linux/s390x")).unwrap_err() {
            InspectError::NoPlatform { platform, offered, .. } => {
                assert_eq!(platform, "linux/s390x");
                assert_eq!(offered, "linux/amd64, linux/arm64/v8");
            }
            other => panic!("{other}"),
        }
    }

    /// index.json itself lists per-platform manifests (BuildKit's OCI exporter does this).
    #[test]
    fn top_level_platform_manifests() {
        let mut store = Store::default();
        let mut amd = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        amd["platform"] = json!({ "os": "linux", "architecture": "amd64" });
        let mut arm = image(&mut store, "arm64", media::OCI_MANIFEST, media::OCI_CONFIG);
        arm["platform"] = json!({ "os": "linux", "architecture": "arm64" });
        let named = vec![with_ref(amd.clone(), "x"), with_ref(arm.clone(), "x")];
        let (_dir, path) = as_dir(&finish(store, vec![amd, arm]));
        let c = open_at(&format!("oci:{}", path.display()), Some("linux/arm64")).unwrap().config().unwrap();
        assert_eq!(c.architecture.as_deref(), Some("arm64"));
        assert_eq!(c.platforms, vec!["linux/amd64", "linux/arm64"]);

        // The same, with every descriptor carrying the same name.
        let mut store = Store::default();
        image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        image(&mut store, "arm64", media::OCI_MANIFEST, media::OCI_CONFIG);
        let (_dir2, path) = as_dir(&finish(store, named));
        let c = open_at(&format!("oci:{}:x", path.display()), Some("linux/arm64")).unwrap().config().unwrap();
        assert_eq!(c.architecture.as_deref(), Some("arm64"));
    }

    #[test]
    fn docker_media_types_are_accepted() {
        let mut store = Store::default();
        let d = image(&mut store, "amd64", media::DOCKER_MANIFEST, media::DOCKER_CONFIG);
        let (_dir, path) = as_dir(&finish(store, vec![d]));
        let mut src = open_at(&format!("oci:{}", path.display()), None).unwrap();
        assert!(src.config().unwrap().repo_tags.is_empty());
        assert!(src.read_paths(&query()).unwrap().get("/etc/passwd").is_some());
    }

    #[test]
    fn names_are_required_when_ambiguous() {
        let mut store = Store::default();
        let a = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        let b = image(&mut store, "arm64", media::OCI_MANIFEST, media::OCI_CONFIG);
        let (_dir, path) = as_dir(&finish(store, vec![with_ref(a, "a"), with_ref(b, "b")]));
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap_err();
        assert!(matches!(e, InspectError::Invalid { .. }) && e.to_string().contains("`a`, `b`"), "{e}");
        let e = open_at(&format!("oci:{}:c", path.display()), None).unwrap_err();
        assert!(matches!(e, InspectError::NotFound { .. }) && e.to_string().contains("`a`, `b`"), "{e}");
        let c = open_at(&format!("oci:{}:b", path.display()), None).unwrap().config().unwrap();
        assert_eq!(c.architecture.as_deref(), Some("arm64"));
    }

    #[test]
    fn unknown_media_types_are_rejected() {
        let unsupported = |r: Result<OciLayout, InspectError>| match r {
            Err(InspectError::UnsupportedMediaType { media_type, .. }) => media_type,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted"),
        };
        // A manifest of an unknown type.
        let mut store = Store::default();
        let d = store.json("application/vnd.example.thing+json", &json!({ "config": {} }));
        let (_d1, path) = as_dir(&finish(store, vec![d]));
        assert_eq!(
            unsupported(open_at(&format!("oci:{}", path.display()), None)),
            "application/vnd.example.thing+json"
        );
        // An artifact: a real manifest whose config is not an image config.
        let mut store = Store::default();
        let d = image(&mut store, "amd64", media::OCI_MANIFEST, "application/vnd.cncf.helm.config.v1+json");
        let (_d2, path) = as_dir(&finish(store, vec![d]));
        assert_eq!(
            unsupported(open_at(&format!("oci:{}", path.display()), None)),
            "application/vnd.cncf.helm.config.v1+json"
        );
        // A layer type nobody can read: config works, files do not.
        let mut store = Store::default();
        let d = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        let key = format!("blobs/sha256/{}", &d["digest"].as_str().unwrap()[7..]);
        let text = String::from_utf8(store.files.remove(&key).unwrap()).unwrap();
        let edited = text.replace(ZST, "application/vnd.oci.image.layer.v1.tar+zstd+encrypted");
        let d = store.json(media::OCI_MANIFEST, &serde_json::from_str(&edited).unwrap());
        let (_d3, path) = as_dir(&finish(store, vec![d]));
        let mut src = open_at(&format!("oci:{}", path.display()), None).unwrap();
        assert!(src.config().is_ok());
        match src.read_paths(&query()) {
            Err(InspectError::UnsupportedMediaType { media_type, .. }) => assert!(media_type.ends_with("+encrypted")),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn digests_and_sizes_are_checked() {
        let store = simple();
        let index: Value = serde_json::from_slice(&store.files["index.json"]).unwrap();
        let manifest_key = format!("blobs/sha256/{}", &index["manifests"][0]["digest"].as_str().unwrap()[7..]);
        let manifest: Value = serde_json::from_slice(&store.files[&manifest_key]).unwrap();
        let config_key = format!("blobs/sha256/{}", &manifest["config"]["digest"].as_str().unwrap()[7..]);
        let layer_key = format!("blobs/sha256/{}", &manifest["layers"][1]["digest"].as_str().unwrap()[7..]);

        // A config whose bytes changed but kept their length.
        let mut bad = simple();
        let cfg = bad.files.get_mut(&config_key).unwrap();
        let i = cfg.iter().position(|&b| b == b'L').unwrap();
        cfg[i] = b'M';
        let (_d1, path) = as_dir(&bad);
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap_err();
        assert!(
            matches!(e, InspectError::Invalid { .. }) && e.to_string().contains("does not match its digest"),
            "{e}"
        );

        // A manifest that grew.
        let mut bad = simple();
        bad.files.get_mut(&manifest_key).unwrap().push(b' ');
        let (_d2, path) = as_dir(&bad);
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap_err();
        assert!(e.to_string().contains("descriptor says"), "{e}");

        // A layer blob that was cut short, and one that is gone.
        let mut bad = simple();
        bad.files.get_mut(&layer_key).unwrap().truncate(10);
        let (_d3, path) = as_dir(&bad);
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap().read_paths(&query()).err().unwrap();
        assert!(matches!(e, InspectError::Invalid { .. }) && e.to_string().contains("manifest says"), "{e}");
        let mut bad = simple();
        bad.files.remove(&layer_key);
        let (_d4, path) = as_dir(&bad);
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap().read_paths(&query()).err().unwrap();
        assert!(e.to_string().contains("missing"), "{e}");

        // Digests that would name files outside `blobs/`.
        let mut bad = Store::default();
        let desc = json!({ "mediaType": media::OCI_MANIFEST, "digest": "sha256:../../../../etc/passwd", "size": 10 });
        bad = finish(std::mem::take(&mut bad), vec![desc]);
        let (_d5, path) = as_dir(&bad);
        assert!(matches!(open_at(&format!("oci:{}", path.display()), None), Err(InspectError::Invalid { .. })));
    }

    #[test]
    fn corrupt_layer_data_is_a_layer_error() {
        let mut store = Store::default();
        let garbage = b"\x1f\x8b\x08\x00garbage that is not deflate".to_vec();
        let dg = store.blob(&garbage);
        let cfg = config(&[b"x"], &[], "amd64");
        let dc = store.blob(&cfg);
        let d = store.json(
            media::OCI_MANIFEST,
            &json!({ "schemaVersion": 2, "config": { "mediaType": media::OCI_CONFIG, "digest": dc, "size": cfg.len() },
                     "layers": [{ "mediaType": GZ, "digest": dg, "size": garbage.len() }] }),
        );
        let (_dir, path) = as_dir(&finish(store, vec![d]));
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap().read_paths(&query()).err().unwrap();
        assert!(matches!(e, InspectError::Layer { .. }), "{e}");
    }

    #[test]
    fn bad_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_at(&format!("oci:{}/nope", dir.path().display()), None).unwrap_err();
        assert!(matches!(&e, InspectError::Io { path, .. } if path.ends_with("nope")), "{e}");
        let e = open_at(&format!("oci-archive:{}/nope.tar:v1", dir.path().display()), None).unwrap_err();
        assert!(matches!(&e, InspectError::Io { path, .. } if path.ends_with("nope.tar")), "{e}");

        let mut store = simple();
        store.files.remove("oci-layout");
        let (_d1, path) = as_dir(&store);
        assert!(open_at(&format!("oci:{}", path.display()), None).unwrap_err().to_string().contains("oci-layout"));

        let mut store = simple();
        store.put("oci-layout", r#"{"imageLayoutVersion":"2.0.0"}"#);
        let (_d2, path) = as_dir(&store);
        assert!(open_at(&format!("oci:{}", path.display()), None).unwrap_err().to_string().contains("2.0.0"));

        let mut store = simple();
        store.put("index.json", "{\"manifests\": []}");
        let (_d3, path) = as_dir(&store);
        assert!(matches!(open_at(&format!("oci:{}", path.display()), None), Err(InspectError::Invalid { .. })));

        // Content addressing rules out cycles, but not absurd nesting.
        let mut store = Store::default();
        let mut desc = image(&mut store, "amd64", media::OCI_MANIFEST, media::OCI_CONFIG);
        for _ in 0..MAX_DEPTH + 1 {
            desc["platform"] = json!({ "os": "linux", "architecture": "amd64" });
            desc = store.json(media::OCI_INDEX, &json!({ "manifests": [desc] }));
        }
        let (_d4, path) = as_dir(&finish(store, vec![desc]));
        let e = open_at(&format!("oci:{}", path.display()), None).unwrap_err();
        assert!(e.to_string().contains("nest deeper"), "{e}");
    }

    /// Damaged layouts give errors, never panics: flip bytes all over a valid OCI archive.
    #[test]
    fn mutated_archives_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.tar");
        two_platforms().write_tar(&good);
        let good = std::fs::read(&good).unwrap();
        let mutated = dir.path().join("m.tar");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut outcomes = [0usize; 2];
        for _ in 0..300 {
            let mut bytes = good.clone();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bytes.len() as u64) as usize;
            bytes[at] ^= (state >> 32) as u8 | 1;
            std::fs::write(&mutated, &bytes).unwrap();
            let ok = open_at(&format!("oci-archive:{}:multi", mutated.display()), None)
                .and_then(|mut src| src.config().and_then(|_| src.read_paths(&query())))
                .is_ok();
            outcomes[usize::from(ok)] += 1;
        }
        assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    }

    /// Images built by a real engine and converted by skopeo, read through all three archive
    /// sources. `$DOCKVAR_TEST_IMAGES/layered/` holds `docker-archive.tar` (`docker save` of a
    /// FROM-scratch image: fixtures/images/debian copied in over three layers, busybox, a layer
    /// that deletes /etc/timezone and one that appends `DOCKVAR_LAYER=6` to /etc/os-release),
    /// `oci/` (tag `1`, gzip layers) and `oci-zstd.tar` (tag `1`, zstd layers).
    #[test]
    fn real_images_agree_across_sources() {
        let Some(root) = std::env::var_os("DOCKVAR_TEST_IMAGES") else {
            crate::testing::skip("DOCKVAR_TEST_IMAGES is not set (scripts/test sets it after building test images)");
            return;
        };
        let dir = PathBuf::from(root).join("layered");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/debian");
        let fixtures = if fixtures.exists() { fixtures } else { PathBuf::from("/work/main/fixtures/images/debian") };
        let mut os_release = std::fs::read(fixtures.join("etc/os-release")).unwrap();
        os_release.extend_from_slice(b"DOCKVAR_LAYER=6\n");
        let status = std::fs::read(fixtures.join("var/lib/dpkg/status")).unwrap();
        let q = PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status", "/etc/timezone", "/etc/passwd"]).unwrap();

        let refs = [
            format!("docker-archive:{}", dir.join("docker-archive.tar").display()),
            format!("docker-archive:{}:dockvar-test/layered:1", dir.join("docker-archive.tar").display()),
            format!("oci:{}:1", dir.join("oci").display()),
            format!("oci-archive:{}:1", dir.join("oci-zstd.tar").display()),
        ];
        let mut seen = Vec::new();
        for text in &refs {
            let reference = ImageRef::parse(text);
            let options = SourceOptions::default();
            let mut src: Box<dyn ImageSource> = if reference.kind == Some(SourceKind::DockerArchive) {
                Box::new(super::super::docker_archive::DockerArchive::open(&reference, &options).unwrap())
            } else {
                Box::new(OciLayout::open(&reference, &options).unwrap())
            };
            let c = src.config().unwrap();
            let tree = src.read_paths(&q).unwrap();
            let get = |p: &str| tree.get(p).and_then(|e| e.content.clone());
            assert_eq!(get("/etc/os-release").as_deref(), Some(&os_release[..]), "{text}");
            assert_eq!(get("/var/lib/dpkg/status").as_deref(), Some(&status[..]), "{text}");
            assert!(tree.get("/etc/timezone").is_none(), "{text}: the whiteout deletes /etc/timezone");
            assert!(tree.warnings().is_empty(), "{text}: {:?}", tree.warnings());
            eprintln!("{text}: {} layers, {} env, image {}", c.layers.len(), c.env.len(), c.image_id);
            seen.push((c.env, c.entrypoint, c.cmd, c.os, c.architecture, c.layers.len(), get("/etc/passwd")));
        }
        assert!(seen[0].0.iter().any(|(k, v)| k == "TZ" && v == "Etc/UTC"));
        assert_eq!(seen[0].5, 6);
        for other in &seen[1..] {
            assert_eq!(other, &seen[0]);
        }
    }
}
