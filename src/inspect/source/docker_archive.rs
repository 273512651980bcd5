//! A `docker save` tarball (`docker-archive:PATH[:REF]`) in, its image config and a merged view
//! of the queried paths out. Reads both the legacy layout (`manifest.json` with `<hex>.json`
//! and `<id>/layer.tar`) and the OCI-style one of Docker 25+ (`blobs/sha256/…`, `index.json`),
//! without reading members it does not need (the archive is indexed by seeking).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::tar_index::{BlobDigest, BlobError, Blobs, MAX_JSON_BYTES, Order, StoredLayer, clean_name, sha256_digest};
use crate::inspect::image::{
    FileTree, ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceOptions, media,
};
use crate::inspect::layers::verify::Expected;
use crate::inspect::layers::{MergeOptions, PathQuery};

/// One image of `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// An opened `docker save` archive, narrowed to one image.
#[derive(Debug)]
pub struct DockerArchive {
    image: String,
    blobs: Blobs,
    config_bytes: Vec<u8>,
    config_digest: String,
    repo_tags: Vec<String>,
    manifest_digest: Option<String>,
    layers: Vec<StoredLayer>,
    infos: Vec<LayerInfo>,
    merge: MergeOptions,
    order: Order,
}

impl DockerArchive {
    pub fn open(reference: &ImageRef, options: &SourceOptions) -> Result<DockerArchive, InspectError> {
        let (path, wanted) = split_location(&reference.location);
        let blobs = Blobs::open(Path::new(path)).map_err(|e| e.for_image(&reference.original))?;
        DockerArchive::from_blobs(&reference.original, path, wanted, blobs, options)
    }

    /// Reads an archive already opened (a file, or an engine's export held in memory);
    /// `image` and `path` name it in errors, `wanted` picks one of several images.
    pub fn from_blobs(
        image: &str,
        path: &str,
        wanted: Option<&str>,
        blobs: Blobs,
        options: &SourceOptions,
    ) -> Result<DockerArchive, InspectError> {
        let image = image.to_string();
        let invalid = |message: String| InspectError::Invalid { image: image.clone(), message };

        let manifest = blobs.read_small("manifest.json", MAX_JSON_BYTES).map_err(|e| match e {
            BlobError::Missing(_) => invalid(format!(
                "{path} has no manifest.json: not a `docker save` archive (or one from Docker before 1.10)"
            )),
            other => other.for_image(&image),
        })?;
        let saved: Vec<SavedImage> = serde_json::from_slice(&manifest)
            .map_err(|e| invalid(format!("{path}: manifest.json is not a `docker save` manifest: {e}")))?;
        let chosen = choose(&saved, wanted, &image)?;

        let config_bytes = blobs.read_small(&chosen.config, MAX_JSON_BYTES).map_err(|e| match e {
            BlobError::Missing(name) => invalid(format!("config `{name}` named by manifest.json is missing")),
            other => other.for_image(&image),
        })?;
        let config_digest = sha256_digest(&config_bytes);
        if let Some(named) = digest_in_name(&chosen.config)
            && named.to_string() != config_digest
        {
            return Err(invalid(format!(
                "config `{}` does not match its name (its content hashes to {config_digest})",
                chosen.config
            )));
        }
        let config: Value = serde_json::from_slice(&config_bytes)
            .map_err(|e| invalid(format!("config `{}` is not JSON: {e}", chosen.config)))?;
        let diff_ids: Vec<&str> = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if diff_ids.len() != chosen.layers.len() {
            return Err(invalid(format!(
                "manifest.json lists {} layers but the config's rootfs has {} diff_ids",
                chosen.layers.len(),
                diff_ids.len()
            )));
        }

        let oci = oci_manifest(&blobs, &config_digest);
        let mut layers = Vec::with_capacity(chosen.layers.len());
        let mut infos = Vec::with_capacity(chosen.layers.len());
        for (i, member) in chosen.layers.iter().enumerate() {
            let size = blobs.size(member).map_err(|e| match e {
                BlobError::Missing(_) => invalid(format!("layer `{member}` is missing")),
                other => other.for_image(&image),
            })?;
            // The blob name is the stored bytes' digest; legacy `layer.tar` files are the
            // uncompressed tar, which is exactly what the diff_id hashes.
            let digest = digest_in_name(member).map_or_else(|| diff_ids[i].to_string(), |d| d.to_string());
            let media_type = oci.as_ref().and_then(|m| m.layer_media_type(&digest));
            let compression = media_type.as_deref().and_then(media::layer_compression);
            // Docker 25+ layouts name each blob by its digest; a legacy `layer.tar` is the
            // uncompressed tar, which the diff_id names.
            let expected = Expected {
                blob: digest_in_name(member).map(|d| d.to_string()),
                diff_id: Some(diff_ids[i].to_string()),
            };
            layers.push(StoredLayer {
                member: member.clone(),
                label: digest.clone(),
                compression,
                expected_size: None,
                expected,
            });
            infos.push(LayerInfo { digest, size: Some(size), media_type });
        }

        let mut repo_tags = chosen.repo_tags.clone().unwrap_or_default();
        if repo_tags.is_empty() {
            repo_tags = legacy_repositories(&blobs, &chosen.layers);
        }
        Ok(DockerArchive {
            image,
            blobs,
            config_bytes,
            config_digest,
            repo_tags,
            manifest_digest: oci.map(|m| m.digest),
            layers,
            infos,
            merge: options.merge.clone(),
            order: Order::BottomUp,
        })
    }

    /// The merged view itself, for sources that add warnings to it.
    pub fn read_view(&self, query: &PathQuery) -> Result<crate::inspect::layers::MergedView, InspectError> {
        self.blobs.merge(&self.layers, query, &self.merge, self.order, &self.image)
    }

    /// Bottom-up by default, like the registry source, so every source gives the same answers
    /// (the orders differ only in which late-symlink case they miss; see the `layers` docs).
    /// Top-down reads the same bytes unless the upper layers settle every query.
    pub fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
}

impl ImageSource for DockerArchive {
    fn config(&mut self) -> Result<ImageConfig, InspectError> {
        let mut config = ImageConfig::from_config_json(&self.config_bytes, &self.config_digest)
            .map_err(|message| InspectError::Invalid { image: self.image.clone(), message })?;
        config.source = "docker-archive".to_string();
        config.repo_tags = self.repo_tags.clone();
        config.manifest_digest = self.manifest_digest.clone();
        config.layers = self.infos.clone();
        Ok(config)
    }

    fn read_paths(&mut self, query: &PathQuery) -> Result<Box<dyn FileTree>, InspectError> {
        Ok(Box::new(self.read_view(query)?))
    }
}

/// `PATH`, `PATH:REF` or `PATH:@INDEX` (skopeo's syntax). Tags contain `:` too, so the whole
/// location is the path when it exists, else the shortest prefix ending before a `:` that does.
fn split_location(location: &str) -> (&str, Option<&str>) {
    if Path::new(location).exists() {
        return (location, None);
    }
    for (i, _) in location.match_indices(':') {
        let (path, rest) = (&location[..i], &location[i + 1..]);
        if !path.is_empty() && !rest.is_empty() && Path::new(path).exists() {
            return (path, Some(rest));
        }
    }
    (location, None)
}

/// `docker.io/library/x:latest`, `library/x` and `x` all name `x:latest`.
fn normalize_tag(name: &str) -> String {
    let mut s = name.trim();
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            break;
        }
    }
    let s = s.strip_prefix("library/").unwrap_or(s);
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.contains(':') || last.contains('@') { s.to_string() } else { format!("{s}:latest") }
}

fn describe(images: &[SavedImage]) -> String {
    let names: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(i, img)| match img.repo_tags.as_deref() {
            Some(tags) if !tags.is_empty() => tags.join(", "),
            _ => format!("@{i} (untagged, {})", img.config),
        })
        .collect();
    names.join("; ")
}

fn choose<'a>(images: &'a [SavedImage], wanted: Option<&str>, image: &str) -> Result<&'a SavedImage, InspectError> {
    let invalid = |message: String| InspectError::Invalid { image: image.to_string(), message };
    match wanted {
        None => match images {
            [] => Err(invalid("manifest.json lists no images".into())),
            [only] => Ok(only),
            many => Err(invalid(format!(
                "the archive holds {} images; name one as docker-archive:PATH:TAG or PATH:@N ({})",
                many.len(),
                describe(many)
            ))),
        },
        Some(at) if at.starts_with('@') && at[1..].parse::<usize>().is_ok() => {
            let n: usize = at[1..].parse().unwrap_or(usize::MAX);
            images.get(n).ok_or_else(|| InspectError::NotFound {
                image: image.to_string(),
                message: format!("the archive holds {} images, so there is no {at}", images.len()),
            })
        }
        Some(tag) => {
            let want = normalize_tag(tag);
            images.iter().find(|img| img.repo_tags.iter().flatten().any(|t| normalize_tag(t) == want)).ok_or_else(
                || InspectError::NotFound {
                    image: image.to_string(),
                    message: format!("no image tagged `{tag}` in the archive (it holds: {})", describe(images)),
                },
            )
        }
    }
}

/// `blobs/sha256/<hex>` or the legacy `<hex>.json`: names that state their content's digest.
fn digest_in_name(member: &str) -> Option<BlobDigest> {
    let clean = clean_name(member)?;
    if let Some(rest) = clean.strip_prefix("blobs/")
        && let Some((alg, hex)) = rest.split_once('/')
    {
        return BlobDigest::parse(&format!("{alg}:{hex}")).ok();
    }
    let hex = clean.strip_suffix(".json")?;
    BlobDigest::parse(&format!("sha256:{hex}")).ok()
}

/// The OCI manifest a Docker 25+ save carries for the chosen config.
#[derive(Debug)]
struct OciManifest {
    digest: String,
    layers: Vec<(String, Option<String>)>,
}

impl OciManifest {
    fn layer_media_type(&self, digest: &str) -> Option<String> {
        self.layers.iter().find(|(d, _)| d == digest).and_then(|(_, m)| m.clone())
    }
}

/// Looks through `index.json` (and one level of nested indexes) for the manifest whose config
/// is `config_digest`. It only adds the manifest digest and layer media types, which
/// `manifest.json` lacks, so anything unreadable here just means "not known".
fn oci_manifest(blobs: &Blobs, config_digest: &str) -> Option<OciManifest> {
    let index: Value = serde_json::from_slice(&blobs.read_small("index.json", MAX_JSON_BYTES).ok()?).ok()?;
    let mut pending: Vec<(Value, usize)> = vec![(index, 0)];
    let mut budget = 64;
    while let Some((doc, depth)) = pending.pop() {
        for d in doc.get("manifests").and_then(Value::as_array).into_iter().flatten() {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            let Some(digest) = d.get("digest").and_then(Value::as_str) else { continue };
            let Ok(parsed) = BlobDigest::parse(digest) else { continue };
            let size = d.get("size").and_then(Value::as_u64);
            let Ok(bytes) = blobs.read_blob(&parsed, size) else { continue };
            let Ok(body) = serde_json::from_slice::<Value>(&bytes) else { continue };
            if body.get("manifests").is_some() {
                if depth < 2 {
                    pending.push((body, depth + 1));
                }
                continue;
            }
            if body.pointer("/config/digest").and_then(Value::as_str) != Some(config_digest) {
                continue;
            }
            let layers = body
                .get("layers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|l| {
                            let digest = l.get("digest")?.as_str()?.to_string();
                            Some((digest, l.get("mediaType").and_then(Value::as_str).map(str::to_string)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Some(OciManifest { digest: digest.to_string(), layers });
        }
    }
    None
}

/// Tags from the legacy `repositories` file (`{"name": {"tag": "<top layer id>"}}`), for
/// archives whose manifest.json leaves `RepoTags` empty.
fn legacy_repositories(blobs: &Blobs, layers: &[String]) -> Vec<String> {
    let Some(top) = layers.last().and_then(|l| l.split('/').next()) else { return Vec::new() };
    let Ok(bytes) = blobs.read_small("repositories", MAX_JSON_BYTES) else { return Vec::new() };
    let Ok(Value::Object(repos)) = serde_json::from_slice::<Value>(&bytes) else { return Vec::new() };
    let mut tags: Vec<String> = repos
        .iter()
        .flat_map(|(name, tags)| {
            tags.as_object()
                .into_iter()
                .flatten()
                .filter(|(_, id)| id.as_str() == Some(top))
                .map(move |(tag, _)| format!("{name}:{tag}"))
        })
        .collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    use super::super::tar_index::testkit::{Item, Store, config, gzip, layer, write_tar, zstd};
    use super::*;
    use crate::inspect::layers::LayerError;

    const OS_RELEASE: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\n";
    const STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n";

    /// Base with os-release, dpkg status and a timezone; a layer that rewrites os-release;
    /// a layer that deletes the timezone.
    fn three_layers() -> Vec<Vec<u8>> {
        vec![
            layer(&[
                Item::Dir("etc/"),
                Item::File("etc/os-release", b"ID=old\n"),
                Item::File("etc/timezone", b"Etc/UTC\n"),
                Item::Dir("var/lib/dpkg/"),
                Item::File("var/lib/dpkg/status", STATUS),
            ]),
            layer(&[Item::File("etc/os-release", OS_RELEASE), Item::Link("etc/localtime", "/usr/share/zoneinfo/UTC")]),
            layer(&[Item::File("etc/.wh.timezone", b"")]),
        ]
    }

    fn query() -> PathQuery {
        PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status", "/etc/timezone", "/etc/localtime"]).unwrap()
    }

    fn open(location: &str) -> Result<DockerArchive, InspectError> {
        DockerArchive::open(&ImageRef::parse(&format!("docker-archive:{location}")), &SourceOptions::default())
    }

    fn legacy(dir: &Path, layers: &[Vec<u8>], env: &[&str], tags: &[&str]) -> (std::path::PathBuf, Vec<u8>) {
        let refs: Vec<&[u8]> = layers.iter().map(Vec::as_slice).collect();
        let cfg = config(&refs, env, "amd64");
        let cfg_name = format!("{}.json", &sha256_digest(&cfg)[7..]);
        let mut members = Vec::new();
        let mut names = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let name = format!("{i:064x}/layer.tar");
            members.push((format!("{i:064x}/VERSION"), b"1.0".to_vec()));
            members.push((name.clone(), l.clone()));
            names.push(name);
        }
        members.push((cfg_name.clone(), cfg.clone()));
        let manifest = serde_json::json!([{ "Config": cfg_name, "RepoTags": tags, "Layers": names }]);
        members.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
        let top = format!("{:064x}", layers.len() - 1);
        members.push(("repositories".into(), format!(r#"{{"legacy/name":{{"7":"{top}"}}}}"#).into_bytes()));
        let path = dir.join("legacy.tar");
        write_tar(&path, &members);
        (path, cfg)
    }

    fn check_view(tree: &dyn FileTree) {
        assert_eq!(tree.get("/etc/os-release").and_then(|e| e.content.as_deref()), Some(OS_RELEASE));
        assert_eq!(tree.get("/var/lib/dpkg/status").and_then(|e| e.content.as_deref()), Some(STATUS));
        assert!(tree.get("/etc/timezone").is_none(), "the whiteout deletes /etc/timezone");
        assert_eq!(tree.read_link("/etc/localtime"), Some("/usr/share/zoneinfo/UTC"));
    }

    #[test]
    fn legacy_layout() {
        let dir = tempfile::tempdir().unwrap();
        let layers = three_layers();
        let (path, cfg) = legacy(dir.path(), &layers, &["PATH=/usr/bin", "LANG=C.UTF-8"], &["app:1", "app:latest"]);
        let mut src = open(path.to_str().unwrap()).unwrap();
        let c = src.config().unwrap();
        assert_eq!(c.source, "docker-archive");
        assert_eq!(c.image_id, sha256_digest(&cfg));
        assert_eq!(c.manifest_digest, None);
        assert_eq!(c.repo_tags, vec!["app:1", "app:latest"]);
        assert_eq!(c.env[1], ("LANG".to_string(), "C.UTF-8".to_string()));
        assert_eq!(c.architecture.as_deref(), Some("amd64"));
        let digests: Vec<&str> = c.layers.iter().map(|l| l.digest.as_str()).collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
        assert_eq!(digests, diff_ids);
        assert_eq!(c.layers[0].size, Some(layers[0].len() as u64));
        check_view(src.read_paths(&query()).unwrap().as_ref());
        let mut top_down = open(path.to_str().unwrap()).unwrap().with_order(Order::TopDown);
        check_view(top_down.read_paths(&query()).unwrap().as_ref());
    }

    #[test]
    fn legacy_tags_from_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = legacy(dir.path(), &three_layers(), &[], &[]);
        let c = open(path.to_str().unwrap()).unwrap().config().unwrap();
        assert_eq!(c.repo_tags, vec!["legacy/name:7"]);
    }

    /// Docker 25+: `manifest.json` names blobs, `index.json` points at the OCI manifest.
    #[test]
    fn oci_style_layout_with_compressed_layers() {
        let dir = tempfile::tempdir().unwrap();
        let layers = three_layers();
        let stored = [layers[0].clone(), gzip(&layers[1]), zstd(&layers[2])];
        let types = [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ];
        let refs: Vec<&[u8]> = layers.iter().map(Vec::as_slice).collect();
        let cfg = config(&refs, &["A=1"], "arm64");
        let mut store = Store::default();
        let cfg_digest = store.blob(&cfg);
        let mut descs = Vec::new();
        let mut names = Vec::new();
        for (blob, mt) in stored.iter().zip(types) {
            let d = store.blob(blob);
            names.push(format!("blobs/sha256/{}", &d[7..]));
            descs.push(serde_json::json!({ "mediaType": mt, "digest": d, "size": blob.len() }));
        }
        let manifest = store.json(
            media::OCI_MANIFEST,
            &serde_json::json!({
                "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
                "config": { "mediaType": media::OCI_CONFIG, "digest": cfg_digest, "size": cfg.len() },
                "layers": descs,
            }),
        );
        store.put(
            "index.json",
            serde_json::to_vec(&serde_json::json!({ "schemaVersion": 2, "manifests": [manifest] })).unwrap(),
        );
        store.put("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#);
        let config_name = format!("blobs/sha256/{}", &cfg_digest[7..]);
        let m = serde_json::json!([{ "Config": config_name, "RepoTags": ["new:1"], "Layers": names }]);
        store.put("manifest.json", serde_json::to_vec(&m).unwrap());
        let path = dir.path().join("new.tar");
        store.write_tar(&path);

        let mut src = open(path.to_str().unwrap()).unwrap();
        let c = src.config().unwrap();
        assert_eq!(c.image_id, cfg_digest);
        assert_eq!(c.manifest_digest.as_deref(), manifest["digest"].as_str());
        assert_eq!(c.layers[1].digest, descs[1]["digest"].as_str().unwrap());
        assert_eq!(c.layers[2].media_type.as_deref(), Some(types[2]));
        assert_eq!(c.layers[2].size, Some(stored[2].len() as u64));
        check_view(src.read_paths(&query()).unwrap().as_ref());
    }

    /// Docker writes `<id>/layer.tar -> ../<other id>/layer.tar` for a repeated layer.
    #[test]
    fn repeated_layer_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(&[Item::File("etc/os-release", OS_RELEASE)]);
        let cfg = config(&[&l, &l], &[], "amd64");
        let name = format!("{}.json", &sha256_digest(&cfg)[7..]);
        let manifest =
            serde_json::json!([{ "Config": name, "RepoTags": ["r:1"], "Layers": ["a/layer.tar", "b/layer.tar"] }]);
        let mut b = tar::Builder::new(Vec::new());
        for (member, data) in [("a/layer.tar", &l), (name.as_str(), &cfg)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            b.append_data(&mut h, member, &data[..]).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "b/layer.tar", "../a/layer.tar").unwrap();
        let m = serde_json::to_vec(&manifest).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
        let path = dir.path().join("dup.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();

        let mut src = open(path.to_str().unwrap()).unwrap();
        assert_eq!(src.config().unwrap().layers[1].size, Some(l.len() as u64));
        let tree = src.read_paths(&query()).unwrap();
        assert_eq!(tree.get("/etc/os-release").and_then(|e| e.content.as_deref()), Some(OS_RELEASE));
    }

    fn two_images(dir: &Path) -> std::path::PathBuf {
        let a = layer(&[Item::File("etc/os-release", b"ID=a\n")]);
        let b = layer(&[Item::File("etc/os-release", b"ID=b\n")]);
        let (ca, cb) = (config(&[&a], &["WHO=a"], "amd64"), config(&[&b], &["WHO=b"], "amd64"));
        let (na, nb) = (format!("{}.json", &sha256_digest(&ca)[7..]), format!("{}.json", &sha256_digest(&cb)[7..]));
        let manifest = serde_json::json!([
            { "Config": na, "RepoTags": ["a:1"], "Layers": ["a/layer.tar"] },
            { "Config": nb, "RepoTags": ["registry.example/team/b:2"], "Layers": ["b/layer.tar"] },
            { "Config": nb, "RepoTags": null, "Layers": ["b/layer.tar"] },
        ]);
        let path = dir.join("multi:archive.tar");
        write_tar(
            &path,
            &[
                ("a/layer.tar".into(), a),
                ("b/layer.tar".into(), b),
                (na, ca),
                (nb, cb),
                ("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()),
            ],
        );
        path
    }

    #[test]
    fn several_images_are_chosen_by_tag_or_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_images(dir.path());
        let p = path.to_str().unwrap();
        let e = open(p).unwrap_err();
        assert!(matches!(e, InspectError::Invalid { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("a:1") && text.contains("registry.example/team/b:2") && text.contains("@2"), "{text}");

        let who = |loc: &str| open(loc).unwrap().config().unwrap().env[0].1.clone();
        assert_eq!(who(&format!("{p}:a:1")), "a");
        assert_eq!(who(&format!("{p}:docker.io/library/a:1")), "a");
        assert_eq!(who(&format!("{p}:registry.example/team/b:2")), "b");
        assert_eq!(who(&format!("{p}:@0")), "a");
        assert_eq!(who(&format!("{p}:@2")), "b");
        assert!(matches!(open(&format!("{p}:a")), Err(InspectError::NotFound { .. })), "`a` means a:latest");
        assert!(matches!(open(&format!("{p}:@3")), Err(InspectError::NotFound { .. })));
        let mut src = open(&format!("{p}:a:1")).unwrap();
        let view = src.read_paths(&PathQuery::parse(["/etc/os-release"]).unwrap()).unwrap();
        assert_eq!(view.get("/etc/os-release").unwrap().content.as_deref(), Some(&b"ID=a\n"[..]));
    }

    #[test]
    fn tag_normalization() {
        assert_eq!(normalize_tag("docker.io/library/debian"), "debian:latest");
        assert_eq!(normalize_tag("debian:12"), "debian:12");
        assert_eq!(normalize_tag("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(normalize_tag("x@sha256:abc"), "x@sha256:abc");
    }

    #[test]
    fn missing_and_malformed_archives() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.tar");
        let e = open(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(&e, InspectError::Io { path, .. } if path.contains("nope.tar")), "{e}");

        let junk = dir.path().join("junk.tar");
        std::fs::write(&junk, vec![b'j'; 4096]).unwrap();
        assert!(matches!(open(junk.to_str().unwrap()), Err(InspectError::Invalid { .. })));

        let no_manifest = dir.path().join("nm.tar");
        write_tar(&no_manifest, &[("x".into(), b"1".to_vec())]);
        let e = open(no_manifest.to_str().unwrap()).unwrap_err();
        assert!(e.to_string().contains("no manifest.json"), "{e}");

        let bad_json = dir.path().join("bj.tar");
        write_tar(&bad_json, &[("manifest.json".into(), b"{\"not\":\"a list\"}".to_vec())]);
        assert!(matches!(open(bad_json.to_str().unwrap()), Err(InspectError::Invalid { .. })));

        let (path, _) = legacy(dir.path(), &three_layers(), &[], &["t:1"]);
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.tar");
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        assert!(matches!(open(cut.to_str().unwrap()), Err(InspectError::Invalid { .. })));
    }

    #[test]
    fn inconsistent_archives() {
        let dir = tempfile::tempdir().unwrap();
        let l = layer(&[Item::File("a", b"1")]);
        let cfg = config(&[&l], &[], "amd64");
        let name = format!("{}.json", &sha256_digest(&cfg)[7..]);
        let build = |manifest: serde_json::Value, cfg_name: &str, file: &str| {
            let path = dir.path().join(file);
            write_tar(
                &path,
                &[
                    ("l/layer.tar".into(), l.clone()),
                    (cfg_name.into(), cfg.clone()),
                    ("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()),
                ],
            );
            path.to_str().unwrap().to_string()
        };
        // The config's name promises another digest.
        let wrong = format!("{}.json", "0".repeat(64));
        let p = build(serde_json::json!([{ "Config": wrong, "Layers": ["l/layer.tar"] }]), &wrong, "a.tar");
        assert!(open(&p).unwrap_err().to_string().contains("does not match"));
        // More layers than diff_ids.
        let p =
            build(serde_json::json!([{ "Config": name, "Layers": ["l/layer.tar", "l/layer.tar"] }]), &name, "b.tar");
        assert!(open(&p).unwrap_err().to_string().contains("diff_ids"));
        // A layer that is not there, and one that climbs out of the archive.
        for (layer_name, file) in [("m/layer.tar", "c.tar"), ("../../etc/passwd", "d.tar")] {
            let p = build(serde_json::json!([{ "Config": name, "Layers": [layer_name] }]), &name, file);
            assert!(matches!(open(&p), Err(InspectError::Invalid { .. })), "{layer_name}");
        }
        let p = build(serde_json::json!([{ "Config": "../x.json", "Layers": [] }]), &name, "e.tar");
        assert!(matches!(open(&p), Err(InspectError::Invalid { .. })));
    }

    #[test]
    fn truncated_layer_is_a_layer_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut layers = three_layers();
        let big = layer(&[Item::File("big", &vec![9u8; 50_000]), Item::File("etc/os-release", OS_RELEASE)]);
        // The layer member itself ends early, inside the first file's data.
        layers[1] = big[..20_000].to_vec();
        let (path, _) = legacy(dir.path(), &layers, &[], &["t:1"]);
        let mut src = open(path.to_str().unwrap()).unwrap();
        match src.read_paths(&query()) {
            Err(InspectError::Layer { source: LayerError::TruncatedTar { .. }, .. }) => {}
            other => panic!("expected a truncated-tar error, got {:?}", other.map(|_| ())),
        }
    }

    /// A genuine config with a tampered layer (the cache is keyed by the config's digest, so
    /// reading it would poison the facts of the genuine image): refused, naming the layer.
    #[test]
    fn a_layer_that_does_not_hash_to_its_diff_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let genuine = three_layers();
        let (_, cfg) = legacy(dir.path(), &genuine, &[], &["t:1"]);
        let mut tampered = genuine.clone();
        tampered[1] = layer(&[Item::File("etc/os-release", b"ID=evil\n")]);
        // Same members, but the config (and its diff_ids) of the genuine image.
        let (path, _) = legacy(dir.path(), &tampered, &[], &["t:1"]);
        let bytes = std::fs::read(&path).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut members = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            if name.ends_with(".json") && name != "manifest.json" {
                let cfg_name = format!("{}.json", &sha256_digest(&cfg)[7..]);
                members.push((cfg_name.clone(), cfg.clone()));
                let manifest = serde_json::json!([{ "Config": cfg_name, "RepoTags": ["t:1"],
                    "Layers": (0..3).map(|i| format!("{i:064x}/layer.tar")).collect::<Vec<_>>() }]);
                members.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
            } else if name != "manifest.json" {
                members.push((name, data));
            }
        }
        let forged = dir.path().join("forged.tar");
        write_tar(&forged, &members);
        let mut src = open(forged.to_str().unwrap()).unwrap();
        assert_eq!(src.config().unwrap().image_id, sha256_digest(&cfg));
        let e = src.read_paths(&query()).err().expect("a tampered layer must be refused").to_string();
        assert!(e.contains("the uncompressed tar hashes to") && e.contains(&sha256_digest(&genuine[1])), "{e}");
    }

    /// Damaged archives give errors, never panics: flip bytes all over a valid archive.
    #[test]
    fn mutated_archives_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = legacy(dir.path(), &three_layers(), &["A=1"], &["t:1"]);
        let good = std::fs::read(&path).unwrap();
        let mutated = dir.path().join("m.tar");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut outcomes = [0usize; 2];
        for _ in 0..300 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % bytes.len() as u64) as usize;
                bytes[at] ^= (state >> 32) as u8 | 1;
            }
            std::fs::write(&mutated, &bytes).unwrap();
            let ok = open(mutated.to_str().unwrap())
                .and_then(|mut src| src.config().and_then(|_| src.read_paths(&query())))
                .is_ok();
            outcomes[usize::from(ok)] += 1;
        }
        assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    }
}
