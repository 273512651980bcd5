//! A `docker save` tarball (`docker-archive:PATH[:REF]`) in, its image config and a merged view
//! of the queried paths out. Reads both the legacy layout (`manifest.json` with `<hex>.json`
//! and `<id>/layer.tar`) and the OCI-style one of Docker 25+ (`blobs/sha256/…`, `index.json`),
//! seeking past everything it does not need.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::tar_index::{BlobDigest, Blobs, MAX_JSON_BYTES, Order, StoredLayer, sha256_digest};
use crate::inspect::image::{
    ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceOptions, media,
};
use crate::inspect::layers::{MergeOptions, PathQuery};

use crate::inspect::image::FileTree;

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
}

impl DockerArchive {
    pub fn open(reference: &ImageRef, options: &SourceOptions) -> Result<DockerArchive, InspectError> {
        let image = reference.original.clone();
        let invalid = |message: String| InspectError::Invalid { image: image.clone(), message };
        let (path, wanted) = split_location(&reference.location);
        let blobs = Blobs::open(Path::new(path)).map_err(|e| e.for_image(&image))?;

        let manifest = blobs.read_small("manifest.json", MAX_JSON_BYTES).map_err(|e| match e {
            super::tar_index::BlobError::Missing(_) => invalid(format!(
                "{path} has no manifest.json: not a `docker save` archive (or one from Docker before 1.10)"
            )),
            other => other.for_image(&image),
        })?;
        let saved: Vec<SavedImage> = serde_json::from_slice(&manifest)
            .map_err(|e| invalid(format!("{path}: manifest.json is not a `docker save` manifest: {e}")))?;
        let chosen = choose(&saved, wanted, &image)?;

        let config_bytes = blobs.read_small(&chosen.config, MAX_JSON_BYTES).map_err(|e| match e {
            super::tar_index::BlobError::Missing(name) => invalid(format!("config `{name}` named by manifest.json is missing")),
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
                super::tar_index::BlobError::Missing(_) => invalid(format!("layer `{member}` is missing")),
                other => other.for_image(&image),
            })?;
            // The blob name is the stored bytes' digest; legacy `layer.tar` files are the
            // uncompressed tar, which is exactly what the diff_id hashes.
            let digest = digest_in_name(member).map_or_else(|| diff_ids[i].to_string(), |d| d.to_string());
            let media_type = oci.as_ref().and_then(|m| m.layer_media_type(&digest));
            let compression = media_type.as_deref().and_then(media::layer_compression);
            layers.push(StoredLayer {
                member: member.clone(),
                label: digest.clone(),
                compression,
                expected_size: None,
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
        })
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
        let view = self.blobs.merge(&self.layers, query, &self.merge, Order::TopDown, &self.image)?;
        Ok(Box::new(view))
    }
}

/// `PATH`, `PATH:REF` or `PATH:@INDEX`. Paths may contain `:`, so the longest prefix that
/// exists on disk is the path, as long as something follows it.
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
            images
                .iter()
                .find(|img| img.repo_tags.iter().flatten().any(|t| normalize_tag(t) == want))
                .ok_or_else(|| InspectError::NotFound {
                    image: image.to_string(),
                    message: format!("no image tagged `{tag}` in the archive (it holds: {})", describe(images)),
                })
        }
    }
}

/// `blobs/sha256/<hex>` or the legacy `<hex>.json`: names that state their content's digest.
fn digest_in_name(member: &str) -> Option<BlobDigest> {
    let clean = super::tar_index::clean_name(member)?;
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
