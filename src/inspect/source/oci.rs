//! An OCI image layout (`oci:DIR[:TAG]`, or a tar of one, `oci-archive:PATH[:TAG]`) in, the
//! chosen image's config and a merged view of the queried paths out. Follows `index.json` and
//! nested image indexes to the requested platform and verifies every JSON blob's digest.

use std::path::Path;

use serde_json::Value;

use super::tar_index::{BlobDigest, BlobError, Blobs, MAX_JSON_BYTES, Order, StoredLayer};
use crate::inspect::image::{
    FileTree, ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceKind, SourceOptions,
    index_platforms, media, select_platform,
};
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
            Some(v) if v == "1.0.0" || v.starts_with("1.") => {}
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
                    many => {
                        let sub = serde_json::json!({ "manifests": many });
                        pick_platform(&sub, options, &mut platforms, &e)?.clone()
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
        let mut repo_tags: Vec<String> =
            [CONTAINERD_NAME, REF_NAME].iter().filter_map(|k| annotation(&top, k)).take(1).map(str::to_string).collect();
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
        })
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
        for l in &self.layers {
            let compression = media::layer_compression(&l.media_type).ok_or_else(|| {
                InspectError::UnsupportedMediaType { image: self.image.clone(), media_type: l.media_type.clone() }
            })?;
            stored.push(StoredLayer {
                member: l.digest.blob_path(),
                label: l.digest.to_string(),
                compression: Some(compression),
                expected_size: l.size,
            });
        }
        let view = self.blobs.merge(&stored, query, &self.merge, Order::TopDown, &self.image)?;
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
