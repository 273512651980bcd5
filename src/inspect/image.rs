//! The contract between image sources and fact readers: an `ImageRef` in, an `ImageSource`
//! that gives the image's `ImageConfig` and a `FileTree` of the paths the readers asked for.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::layers::{Entry, EntryKind, LayerError, MergeOptions, MergedView, PathQuery};

/// Where an image is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A Docker engine (`docker:NAME[:TAG]|ID`).
    Docker,
    /// A `docker save` tarball (`docker-archive:PATH`).
    DockerArchive,
    /// An OCI image layout directory (`oci:DIR[:TAG]`).
    Oci,
    /// An OCI image layout in a tar file (`oci-archive:PATH[:TAG]`).
    OciArchive,
    /// An OCI distribution registry (`registry:HOST/NAME:TAG|@DIGEST`, `docker://…`).
    Registry,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Docker => "docker",
            SourceKind::DockerArchive => "docker-archive",
            SourceKind::Oci => "oci",
            SourceKind::OciArchive => "oci-archive",
            SourceKind::Registry => "registry",
        }
    }
}

/// An image reference as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `None` for a bare `NAME:TAG`: the engine is tried first, then the registry.
    pub kind: Option<SourceKind>,
    /// What follows the transport prefix (`PATH`, `DIR:TAG`, `HOST/NAME:TAG`, …).
    pub location: String,
    /// The reference exactly as given.
    pub original: String,
}

impl ImageRef {
    /// Splits the transport prefix off; never fails (a bare name is a valid reference).
    pub fn parse(text: &str) -> ImageRef {
        let prefixes: [(&str, SourceKind); 6] = [
            ("docker-archive:", SourceKind::DockerArchive),
            ("oci-archive:", SourceKind::OciArchive),
            ("oci:", SourceKind::Oci),
            ("registry:", SourceKind::Registry),
            ("docker://", SourceKind::Registry),
            ("docker:", SourceKind::Docker),
        ];
        for (prefix, kind) in prefixes {
            if let Some(rest) = text.strip_prefix(prefix) {
                return ImageRef { kind: Some(kind), location: rest.to_string(), original: text.to_string() };
            }
        }
        ImageRef { kind: None, location: text.to_string(), original: text.to_string() }
    }

    /// For `oci:`/`oci-archive:` locations, splits `PATH[:TAG]` (the tag is what follows the
    /// last `:` when it contains no `/`).
    pub fn path_and_tag(&self) -> (&str, Option<&str>) {
        match self.location.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') && !path.is_empty() => (path, Some(tag)),
            _ => (&self.location, None),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// A target platform, `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform { os: os.to_string(), architecture: arch.to_string(), variant: None })
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform { os: os.to_string(), architecture: arch.to_string(), variant: Some(variant.to_string()) })
            }
            _ => Err(format!("`{text}` is not a platform: use OS/ARCH[/VARIANT], e.g. linux/amd64")),
        }
    }

    /// Whether an index entry's platform is this one (a missing variant matches any, and
    /// `arm64` with no variant matches `v8`, as the registries' clients do).
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let variant_ok = match (&self.variant, variant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(want), None) => architecture == "arm64" && want == "v8",
        };
        self.os == os && self.architecture == architecture && variant_ok
    }
}

impl Default for Platform {
    fn default() -> Self {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Settings every source honours.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Which image of a multi-platform index to read.
    pub platform: Platform,
    /// Allow plain HTTP to registries (always allowed for loopback).
    pub insecure: bool,
    pub merge: MergeOptions,
}

/// One layer as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    pub digest: String,
    /// Compressed size as stored, when known.
    pub size: Option<u64>,
    pub media_type: Option<String>,
}

/// One entry of the config's `history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub empty_layer: bool,
    pub comment: Option<String>,
}

/// What the image config (plus manifest and index) says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageConfig {
    /// Which source answered, e.g. `docker-archive` or `docker (overlay2)`.
    pub source: String,
    /// The config digest, `sha256:…`.
    pub image_id: String,
    pub manifest_digest: Option<String>,
    pub repo_tags: Vec<String>,
    pub created: Option<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    /// Platforms offered by the index the image was chosen from (empty without an index).
    pub platforms: Vec<String>,
    /// Environment in order.
    pub env: Vec<(String, String)>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub history: Vec<HistoryEntry>,
}

/// The `rootfs.diff_ids` of an image config (empty when the config has none or is not JSON):
/// the digests of the uncompressed layers, base first.
pub fn diff_ids(config: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(config)
        .ok()
        .and_then(|v| {
            v.pointer("/rootfs/diff_ids")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
        })
        .unwrap_or_default()
}

impl ImageConfig {
    /// Reads the OCI / Docker image config JSON (`application/vnd.oci.image.config.v1+json`
    /// or the Docker v1 config, which share these fields). `layers`, `source`,
    /// `manifest_digest`, `repo_tags` and `platforms` are for the caller to fill.
    pub fn from_config_json(bytes: &[u8], image_id: &str) -> Result<ImageConfig, String> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("image config is not JSON: {e}"))?;
        if !doc.is_object() {
            return Err("image config is not a JSON object".into());
        }
        let text = |v: &Value| v.as_str().map(str::to_string);
        let config = doc.get("config").or_else(|| doc.get("container_config")).cloned().unwrap_or(Value::Null);
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            v.and_then(Value::as_array).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        };
        let env = strings(config.get("Env"))
            .unwrap_or_default()
            .into_iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect();
        let labels = config
            .get("Labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
            .unwrap_or_default();
        let mut exposed_ports: Vec<String> = config
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        exposed_ports.sort();
        let history = doc
            .get("history")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|h| HistoryEntry {
                        created: h.get("created").and_then(text),
                        created_by: h.get("created_by").and_then(text),
                        empty_layer: h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false),
                        comment: h.get("comment").and_then(text),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(ImageConfig {
            image_id: image_id.to_string(),
            created: doc.get("created").and_then(text),
            os: doc.get("os").and_then(text),
            architecture: doc.get("architecture").and_then(text),
            variant: doc.get("variant").and_then(text),
            env,
            entrypoint: strings(config.get("Entrypoint")),
            cmd: strings(config.get("Cmd")),
            working_dir: non_empty(config.get("WorkingDir").and_then(text)),
            user: non_empty(config.get("User").and_then(text)),
            labels,
            exposed_ports,
            history,
            ..ImageConfig::default()
        })
    }
}

/// A merged, read-only view of the queried image paths.
pub trait FileTree: Send + Sync {
    /// The entry at `path`, following every symlink (ancestors included).
    fn get(&self, path: &str) -> Option<&Entry>;
    /// The entry at `path` without following a final symlink.
    fn lstat(&self, path: &str) -> Option<&Entry>;
    /// The target of the symlink at `path`.
    fn read_link(&self, path: &str) -> Option<&str>;
    /// Paths matching a pattern (`*` within one component), sorted, with their entries.
    fn matches(&self, pattern: &str) -> Vec<(String, &Entry)>;
    /// Problems met while reading (files over the cap, links that could not be followed).
    fn warnings(&self) -> Vec<String>;
    /// What `stat` (links followed) says `path` is, whether or not its entry was captured:
    /// a tar source knows every path of the image even when it kept only the queried ones.
    fn kind(&self, path: &str) -> Option<EntryKind> {
        self.get(path).map(|e| e.kind.clone())
    }

    /// `realpath`: `path` with every symlink resolved (`readlink -f`), whether or not the
    /// final path exists; `None` after 40 links (a loop). Uses only `lstat` and `read_link`,
    /// so it answers the same from every source for the queried paths.
    fn real_path(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path.split('/').filter(|c| !c.is_empty()).rev().map(str::to_owned).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = format!("/{}", done.iter().chain([&component]).cloned().collect::<Vec<_>>().join("/"));
            match self.lstat(&candidate).map(|e| &e.kind) {
                Some(EntryKind::Symlink(target)) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    if target.starts_with('/') {
                        done.clear();
                    }
                    pending.extend(target.split('/').filter(|c| !c.is_empty()).rev().map(str::to_owned));
                }
                _ => done.push(component),
            }
        }
        Some(format!("/{}", done.join("/")))
    }
}

impl FileTree for MergedView {
    fn get(&self, path: &str) -> Option<&Entry> {
        MergedView::get(self, path)
    }
    fn lstat(&self, path: &str) -> Option<&Entry> {
        MergedView::lstat(self, path)
    }
    fn read_link(&self, path: &str) -> Option<&str> {
        MergedView::read_link(self, path)
    }
    fn matches(&self, pattern: &str) -> Vec<(String, &Entry)> {
        MergedView::matches(self, pattern)
    }
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
    fn kind(&self, path: &str) -> Option<EntryKind> {
        MergedView::kind(self, path)
    }
}

/// One place images are read from.
pub trait ImageSource: Send {
    /// The image's config, manifest and (for indexes) platforms.
    fn config(&mut self) -> Result<ImageConfig, InspectError>;
    /// The queried paths of the image's merged file system, read without extracting it.
    fn read_paths(&mut self, query: &PathQuery) -> Result<Box<dyn FileTree>, InspectError>;
}

/// Why one image could not be inspected. Every variant names the image.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{image}: image not found: {message}")]
    NotFound { image: String, message: String },
    #[error("{image}: cannot reach {endpoint}: {message}")]
    Unreachable { image: String, endpoint: String, message: String },
    #[error("{image}: {endpoint} refused the credentials (HTTP {status}): {message}")]
    Unauthorized { image: String, endpoint: String, status: u16, message: String },
    #[error("{image}: unsupported media type `{media_type}`")]
    UnsupportedMediaType { image: String, media_type: String },
    #[error("{image}: no image for platform {platform} (the index offers {offered})")]
    NoPlatform { image: String, platform: String, offered: String },
    #[error("{image}: {path}: {message}")]
    Io { image: String, path: String, message: String },
    #[error("{image}: {message}")]
    Invalid { image: String, message: String },
    #[error("{image}: {source}")]
    Layer {
        image: String,
        #[source]
        source: LayerError,
    },
}

impl InspectError {
    pub fn image(&self) -> &str {
        match self {
            InspectError::NotFound { image, .. }
            | InspectError::Unreachable { image, .. }
            | InspectError::Unauthorized { image, .. }
            | InspectError::UnsupportedMediaType { image, .. }
            | InspectError::NoPlatform { image, .. }
            | InspectError::Io { image, .. }
            | InspectError::Invalid { image, .. }
            | InspectError::Layer { image, .. } => image,
        }
    }
}

/// Media types dockvar reads, so that every source rejects the rest the same way.
pub mod media {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// Layer media types and the compression they imply.
    pub fn layer_compression(media_type: &str) -> Option<super::super::layers::Compression> {
        use super::super::layers::Compression;
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd" | "application/vnd.docker.image.rootfs.diff.tar.zstd" => {
                Some(Compression::Zstd)
            }
            _ => None,
        }
    }
}

/// Reads the platforms an image index offers, as `os/arch[/variant]`, sorted.
pub fn index_platforms(index: &Value) -> Vec<String> {
    let mut platforms: Vec<String> = index
        .get("manifests")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|d| d.get("platform"))
                .filter_map(|p| {
                    let os = p.get("os")?.as_str()?;
                    let arch = p.get("architecture")?.as_str()?;
                    // Attestation manifests carry `unknown/unknown`; they are not platforms.
                    if os == "unknown" {
                        return None;
                    }
                    Some(match p.get("variant").and_then(Value::as_str) {
                        Some(v) => format!("{os}/{arch}/{v}"),
                        None => format!("{os}/{arch}"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    platforms.sort();
    platforms.dedup();
    platforms
}

/// Picks the manifest descriptor for `platform` from an image index.
pub fn select_platform<'a>(index: &'a Value, platform: &Platform) -> Option<&'a Value> {
    index.get("manifests")?.as_array()?.iter().find(|d| {
        d.get("platform").is_some_and(|p| {
            platform.matches(
                p.get("os").and_then(Value::as_str).unwrap_or(""),
                p.get("architecture").and_then(Value::as_str).unwrap_or(""),
                p.get("variant").and_then(Value::as_str),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = ImageRef::parse("docker-archive:/tmp/x.tar");
        assert_eq!((r.kind, r.location.as_str()), (Some(SourceKind::DockerArchive), "/tmp/x.tar"));
        let r = ImageRef::parse("oci:/tmp/layout:v1");
        assert_eq!(r.path_and_tag(), ("/tmp/layout", Some("v1")));
        let r = ImageRef::parse("oci:/tmp/layout");
        assert_eq!(r.path_and_tag(), ("/tmp/layout", None));
        assert_eq!(ImageRef::parse("docker://127.0.0.1:5000/a:1").kind, Some(SourceKind::Registry));
        assert_eq!(ImageRef::parse("docker:airbyte/source-x:1.0").kind, Some(SourceKind::Docker));
        assert_eq!(ImageRef::parse("airbyte/source-x:1.0").kind, None);
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/arm64").unwrap().matches("linux", "arm64", Some("v8")));
        assert!(Platform::parse("linux/arm64/v8").unwrap().matches("linux", "arm64", None));
        assert!(!Platform::default().matches("linux", "arm64", None));
    }

    #[test]
    fn reads_a_config() {
        let json = br#"{"architecture":"amd64","os":"linux","created":"2023-09-01T00:00:00Z",
            "config":{"Env":["PATH=/usr/bin","LANG=C.UTF-8","EMPTY"],"Entrypoint":["python","/main.py"],
            "User":"airbyte","WorkingDir":"/airbyte","Labels":{"io.airbyte.version":"1.0.0"},
            "ExposedPorts":{"8080/tcp":{}}},
            "history":[{"created_by":"ENV LANG=C.UTF-8","empty_layer":true}]}"#;
        let c = ImageConfig::from_config_json(json, "sha256:abc").unwrap();
        assert_eq!(c.env[1], ("LANG".to_string(), "C.UTF-8".to_string()));
        assert_eq!(c.env[2], ("EMPTY".to_string(), String::new()));
        assert_eq!(c.entrypoint, Some(vec!["python".to_string(), "/main.py".to_string()]));
        assert_eq!(c.user.as_deref(), Some("airbyte"));
        assert_eq!(c.exposed_ports, vec!["8080/tcp"]);
        assert!(c.history[0].empty_layer);
        assert!(ImageConfig::from_config_json(b"[]", "x").is_err());
        assert!(ImageConfig::from_config_json(b"{", "x").is_err());
    }

    #[test]
    fn index_platforms_and_selection() {
        let index: Value = serde_json::from_str(
            r#"{"manifests":[
            {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}}]}"#,
        )
        .unwrap();
        assert_eq!(index_platforms(&index), vec!["linux/amd64", "linux/arm64/v8"]);
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_eq!(select_platform(&index, &arm).unwrap()["digest"], "sha256:b");
        assert!(select_platform(&index, &Platform::parse("linux/s390x").unwrap()).is_none());
    }
}
