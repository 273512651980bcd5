//! A Docker engine (`DOCKER_HOST`, unix socket or plain tcp) and `docker:NAME[:TAG]|ID` in, an
//! `ImageSource` out: the config from image inspect and history, the queried files from the
//! engine's overlay2 layer directories when this process can read them, otherwise from a
//! container that is created (never started) for the container archive API and removed again.
//!
//! bollard is async; the async stays inside this module. `Engine` owns a tokio current-thread
//! runtime and every call is `block_on`; each `EngineSource` gets its own runtime so that
//! images inspected on different threads do not wait for each other.
//!
//! Reading order for files (`EngineMode::Auto`):
//! 1. **overlay2 direct** (`overlay.rs`): `GraphDriver.Name == "overlay2"`, its `UpperDir`
//!    and `LowerDir` (top first) are readable directories, one per `RootFS.Layers` entry, and
//!    the process is root (opaque markers are `trusted.*` xattrs, invisible to others).
//! 2. **archive API**: `HEAD /containers/{id}/archive` stats one path, `GET` streams a path as
//!    tar. The walk in `overlay.rs` drives both: single paths are stat'ed with `HEAD` (links
//!    and wanted entries are fetched with `GET` for their tar header: owner, raw link target,
//!    content), and a `*` component streams the deepest existing directory of the pattern's
//!    literal prefix once, keeping only the entries the rest of the pattern can match. The
//!    container sees Docker's init layer, so `/etc/hosts`, `/etc/hostname`,
//!    `/etc/resolv.conf`, `/etc/mtab`, `/.dockerenv`, `/dev`, `/proc` and `/sys` are the
//!    engine's, not the image's; a warning says so when a query touches them.
//!
//! Full export (`GET /images/{name}/get`) is not implemented: it streams every layer, which
//! is what this source exists to avoid, and the legacy `docker save` layout lists layers in an
//! order that cannot be merged while streaming without spooling them to disk.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, ImageHistoryResponseItem, ImageInspect};
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, CreateContainerOptions, DownloadFromContainerOptions, RemoveContainerOptions,
};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::overlay::{self, Backend, Comp, Stat, WalkError, WalkedTree};
use crate::inspect::image::{
    FileTree, HistoryEntry, ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceKind, SourceOptions,
};
use crate::inspect::layers::{Entry, EntryKind, PathQuery};

/// Where to connect when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Connecting (version negotiation included) must not hang a scan on a dead tcp host.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Per request, until the response headers; bodies stream without a limit.
const REQUEST_TIMEOUT_SECS: u64 = 60;

/// Label on the containers created for the archive API, so a leftover one can be found.
pub const PROBE_LABEL: &str = "io.dockvar.probe";

/// The uncompressed layer tar that a diff id is the digest of.
const DIFF_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Paths that Docker's init layer puts into every container (empty files, mount points and
/// `/etc/mtab -> /proc/mounts`), hiding the image's own.
const INIT_LAYER_PATHS: &[&str] =
    &[".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"];

/// How an `EngineSource` reads files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EngineMode {
    /// overlay2 directly when possible, else the archive API.
    #[default]
    Auto,
    /// overlay2 directly or fail (benchmarks, tests).
    Overlay,
    /// Always the archive API (tests compare it with overlay2).
    Archive,
    /// Always a full export (`GET /images/{id}/get`), the last fallback.
    Export,
}

impl FromStr for EngineMode {
    type Err = String;

    fn from_str(s: &str) -> Result<EngineMode, String> {
        match s {
            "auto" => Ok(EngineMode::Auto),
            "overlay2" | "overlay" => Ok(EngineMode::Overlay),
            "archive" => Ok(EngineMode::Archive),
            "export" => Ok(EngineMode::Export),
            _ => Err(format!("`{s}` is not an engine mode: use auto, overlay2, archive or export")),
        }
    }
}

impl fmt::Display for EngineMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineMode::Auto => "auto",
            EngineMode::Overlay => "overlay2",
            EngineMode::Archive => "archive",
            EngineMode::Export => "export",
        })
    }
}

/// A connection to one Docker engine.
pub struct Engine {
    rt: Runtime,
    docker: Docker,
    /// The host as given, with where it came from, for error messages.
    endpoint: String,
    mode: EngineMode,
    options: SourceOptions,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").field("endpoint", &self.endpoint).field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// Errors about the engine itself rather than one image name this label.
const ENGINE_LABEL: &str = "docker engine";

impl Engine {
    /// Connects to `DOCKER_HOST` (default `unix:///var/run/docker.sock`) and negotiates the
    /// API version, within a few seconds.
    /// `DOCKVAR_ENGINE_MODE` (auto, overlay2, archive or export) forces how files are read,
    /// for debugging and for the tests that compare the ways.
    pub fn connect(options: &SourceOptions) -> Result<Engine, InspectError> {
        let engine = match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => Engine::open(&host, format!("{host} (DOCKER_HOST)"), options),
            _ => Engine::open(DEFAULT_HOST, format!("{DEFAULT_HOST} (default; DOCKER_HOST is unset)"), options),
        }?;
        match std::env::var("DOCKVAR_ENGINE_MODE") {
            Ok(mode) if !mode.is_empty() => {
                let mode = mode.parse::<EngineMode>().map_err(|message| InspectError::Invalid {
                    image: ENGINE_LABEL.to_owned(),
                    message: format!("DOCKVAR_ENGINE_MODE: {message}"),
                })?;
                Ok(engine.with_mode(mode))
            }
            _ => Ok(engine),
        }
    }

    /// Connects to `host` (`unix:///path`, `tcp://HOST:PORT` or `http://HOST:PORT`).
    pub fn connect_to(host: &str, options: &SourceOptions) -> Result<Engine, InspectError> {
        Engine::open(host, host.to_owned(), options)
    }

    fn open(host: &str, endpoint: String, options: &SourceOptions) -> Result<Engine, InspectError> {
        let unreachable = |message: String| InspectError::Unreachable {
            image: ENGINE_LABEL.to_owned(),
            endpoint: endpoint.clone(),
            message,
        };
        let rt = runtime().map_err(|e| unreachable(format!("cannot start the I/O runtime: {e}")))?;
        let version = bollard::API_DEFAULT_VERSION;
        let docker = if host.starts_with("unix://") {
            Docker::connect_with_unix(host, REQUEST_TIMEOUT_SECS, version)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            if std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) {
                return Err(unreachable("DOCKER_TLS_VERIFY is set, but dockvar talks to engines without TLS".into()));
            }
            Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, version)
        } else {
            return Err(unreachable("unsupported scheme: use unix:///PATH or tcp://HOST:PORT".into()));
        }
        .map_err(|e| unreachable(e.to_string()))?;
        // Old engines refuse requests for a newer API than theirs, so negotiate first; this
        // is also the reachability check.
        let docker = rt
            .block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await })
            .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Engine { rt, docker, endpoint, mode: EngineMode::Auto, options: options.clone() })
    }

    /// How sources opened from now on read files.
    pub fn with_mode(mut self, mode: EngineMode) -> Engine {
        self.mode = mode;
        self
    }

    pub fn mode(&self) -> EngineMode {
        self.mode
    }

    /// The engine address, with where it came from (`… (DOCKER_HOST)`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the engine has the image (name, name:tag, name@digest or (short) ID).
    pub fn has_image(&self, name: &str) -> Result<bool, InspectError> {
        match self.rt.block_on(self.docker.inspect_image(name)) {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(api_error(name, &self.endpoint, "image inspect", e)),
        }
    }

    /// Opens `docker:NAME[:TAG]|ID` (or a bare reference that `has_image` found).
    pub fn source(&self, image: &ImageRef) -> Result<EngineSource, InspectError> {
        let shown = image.original.clone();
        if !matches!(image.kind, None | Some(SourceKind::Docker)) {
            return Err(InspectError::Invalid { image: shown, message: "not a docker: reference".into() });
        }
        let name = image.location.trim();
        if name.is_empty() {
            return Err(InspectError::Invalid { image: shown, message: "empty image name".into() });
        }
        let inspect = match self.rt.block_on(self.docker.inspect_image(name)) {
            Ok(i) => i,
            Err(e) if status(&e) == Some(404) => {
                return Err(InspectError::NotFound {
                    image: shown,
                    message: format!("the engine at {} has no image `{name}`", self.endpoint),
                });
            }
            Err(e) => return Err(api_error(&shown, &self.endpoint, "image inspect", e)),
        };
        let Some(id) = inspect.id.clone().filter(|id| !id.is_empty()) else {
            return Err(InspectError::Invalid { image: shown, message: "image inspect gave no Id".into() });
        };
        let rt = runtime().map_err(|e| InspectError::Io {
            image: shown.clone(),
            path: String::new(),
            message: format!("cannot start the I/O runtime: {e}"),
        })?;
        let overlay = if matches!(self.mode, EngineMode::Archive | EngineMode::Export) {
            Err(format!("{} mode was asked for", self.mode))
        } else {
            overlay_layers(&inspect)
        };
        if self.mode == EngineMode::Overlay
            && let Err(why) = &overlay
        {
            return Err(InspectError::Invalid {
                image: shown,
                message: format!("cannot read overlay2 directly: {why}"),
            });
        }
        Ok(EngineSource {
            rt,
            docker: self.docker.clone(),
            image: shown,
            id,
            inspect,
            endpoint: self.endpoint.clone(),
            options: self.options.clone(),
            strict: self.mode == EngineMode::Overlay,
            export: self.mode == EngineMode::Export,
            overlay: overlay.ok(),
            requests: 0,
        })
    }
}

fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()
}

fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Server answers are about the image; everything else means the engine went away.
fn api_error(image: &str, endpoint: &str, what: &str, e: BollardError) -> InspectError {
    match e {
        // The image was removed after it was opened.
        BollardError::DockerResponseServerError { status_code: 404, message } => {
            InspectError::NotFound { image: image.to_owned(), message: format!("{what}: {message}") }
        }
        BollardError::DockerResponseServerError { status_code, message } => {
            InspectError::Invalid { image: image.to_owned(), message: format!("{what}: HTTP {status_code}: {message}") }
        }
        other => InspectError::Unreachable {
            image: image.to_owned(),
            endpoint: endpoint.to_owned(),
            message: format!("{what}: {other}"),
        },
    }
}

/// The image's layer `diff` directories, top first, when this process can read them all.
fn overlay_layers(inspect: &ImageInspect) -> Result<Vec<PathBuf>, String> {
    let driver = inspect.graph_driver.as_ref().ok_or("image inspect has no GraphDriver")?;
    if driver.name != "overlay2" {
        return Err(format!("the storage driver is `{}`, not overlay2", driver.name));
    }
    if !overlay::can_read_trusted_xattrs() {
        return Err("not running as root, so opaque directories (trusted.* xattrs) would be invisible".into());
    }
    let layers = inspect.root_fs.as_ref().and_then(|r| r.layers.as_ref()).map_or(0, Vec::len);
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(upper) = driver.data.get("UpperDir").filter(|s| !s.is_empty()) {
        dirs.push(upper.into());
    }
    if let Some(lower) = driver.data.get("LowerDir").filter(|s| !s.is_empty()) {
        dirs.extend(lower.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    // A count mismatch means the layout is not the one this reader knows; do not guess.
    if dirs.len() != layers {
        return Err(format!("GraphDriver lists {} layer directories for {layers} layers", dirs.len()));
    }
    for dir in &dirs {
        match std::fs::read_dir(dir) {
            Ok(_) => {}
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Ok(dirs)
}

/// One image in one engine.
pub struct EngineSource {
    rt: Runtime,
    docker: Docker,
    /// The reference as given, for errors.
    image: String,
    id: String,
    inspect: ImageInspect,
    endpoint: String,
    options: SourceOptions,
    /// `EngineMode::Overlay`: no fallback to the archive API.
    strict: bool,
    /// `EngineMode::Export`: read files from a full export only.
    export: bool,
    /// Layer directories, top first, while overlay2 direct reading is on.
    overlay: Option<Vec<PathBuf>>,
    /// Archive API requests made so far (tests and benchmarks look at it).
    pub requests: usize,
}

impl fmt::Debug for EngineSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSource")
            .field("image", &self.image)
            .field("id", &self.id)
            .field("overlay", &self.overlay)
            .finish_non_exhaustive()
    }
}

impl EngineSource {
    /// `docker (overlay2)` or `docker (archive API)`: how files are (or were) read.
    pub fn source_label(&self) -> &'static str {
        match (&self.overlay, self.export) {
            (Some(_), _) => "docker (overlay2)",
            (None, true) => "docker (export)",
            (None, false) => "docker (archive API)",
        }
    }

    /// The image ID (`sha256:…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn io_error(&self, e: WalkError) -> InspectError {
        match e {
            WalkError::Io { path, message } => InspectError::Io { image: self.image.clone(), path, message },
            budget @ WalkError::Budget { .. } => {
                InspectError::Invalid { image: self.image.clone(), message: budget.to_string() }
            }
        }
    }

    /// The last fallback: the whole image as `docker save` writes it. Its members arrive in no
    /// useful order (layers sorted by ID, the manifest last), so the export is held in memory,
    /// up to a cap, and then read like a docker-archive; never written to disk.
    fn read_export(&mut self, query: &PathQuery) -> Result<crate::inspect::layers::MergedView, InspectError> {
        let cap = self.options.merge.max_total_bytes.max(MAX_EXPORT_BYTES);
        let image = self.image.clone();
        let endpoint = self.endpoint.clone();
        let bytes = self.rt.block_on(async {
            let mut out: Vec<u8> = Vec::new();
            let mut stream = Box::pin(self.docker.export_image(&self.id));
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| api_error(&image, &endpoint, "exporting the image", e))?;
                if out.len() as u64 + chunk.len() as u64 > cap {
                    return Err(InspectError::Invalid {
                        image: image.clone(),
                        message: format!(
                            "the image's export is larger than the {cap}-byte buffer; run dockvar beside the \
                             engine (overlay2) or let it create containers (archive API)"
                        ),
                    });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        })?;
        self.requests += 1;
        let label = format!("export of {}", self.id);
        let blobs = super::tar_index::Blobs::Tar(
            super::tar_index::TarIndex::from_bytes(&label, bytes).map_err(|e| e.for_image(&self.image))?,
        );
        let archive =
            super::docker_archive::DockerArchive::from_blobs(&self.image, &label, None, blobs, &self.options)?;
        let mut view = archive.read_view(query)?;
        view.warnings.push("files were read from a full export of the image (docker save)".into());
        Ok(view)
    }

    fn read_archive(&mut self, query: &PathQuery) -> Result<WalkedTree, InspectError> {
        let body = ContainerCreateBody {
            image: Some(self.id.clone()),
            // Never started; the command only has to exist for images that declare none.
            entrypoint: Some(vec!["/dockvar-never-started".into()]),
            cmd: Some(Vec::new()),
            network_disabled: Some(true),
            labels: Some(HashMap::from([(PROBE_LABEL.to_owned(), "1".to_owned())])),
            host_config: Some(HostConfig { network_mode: Some("none".into()), ..HostConfig::default() }),
            ..ContainerCreateBody::default()
        };
        let created = self.rt.block_on(self.docker.create_container(None::<CreateContainerOptions>, body));
        let created = created.map_err(|e| api_error(&self.image, &self.endpoint, "creating a container", e))?;
        let mut guard = ContainerGuard { rt: &self.rt, docker: &self.docker, id: created.id, removed: false };
        let mut backend = ArchiveBackend {
            rt: &self.rt,
            docker: &self.docker,
            container: &guard.id,
            max_file_bytes: self.options.merge.max_file_bytes,
            prefetch_budget: self.options.merge.max_total_bytes,
            stats: HashMap::new(),
            entries: HashMap::new(),
            listings: HashMap::new(),
            requests: 0,
            warnings: Vec::new(),
        };
        let walked = overlay::walk(&mut backend, query, &self.options.merge);
        let (requests, warnings) = (backend.requests, backend.warnings);
        let removed = guard.remove();
        self.requests += requests;
        let mut tree = walked.map_err(|e| self.io_error(e))?;
        for w in warnings {
            tree.push_warning(w);
        }
        if let Err(e) = removed {
            tree.push_warning(format!("could not remove the probe container: {e}"));
        }
        let touched: Vec<String> = tree
            .entries()
            .map(|(p, _)| p)
            .filter(|p| INIT_LAYER_PATHS.iter().any(|i| p[1..] == **i || p[1..].starts_with(&format!("{i}/"))))
            .collect();
        for p in touched {
            tree.push_warning(format!(
                "{p}: read through a container, whose init layer replaces this path; it may differ from the image's"
            ));
        }
        Ok(tree)
    }
}

impl ImageSource for EngineSource {
    fn config(&mut self) -> Result<ImageConfig, InspectError> {
        let i = &self.inspect;
        let doc = json!({
            "config": i.config.as_ref().map(serde_json::to_value).transpose().ok().flatten().unwrap_or(Value::Null),
            "created": i.created,
            "os": i.os,
            "architecture": i.architecture,
            "variant": i.variant,
        });
        let bytes = serde_json::to_vec(&doc)
            .map_err(|e| InspectError::Invalid { image: self.image.clone(), message: format!("image inspect: {e}") })?;
        let mut config = ImageConfig::from_config_json(&bytes, &self.id)
            .map_err(|message| InspectError::Invalid { image: self.image.clone(), message })?;
        config.source = self.source_label().to_owned();
        config.repo_tags =
            i.repo_tags.clone().unwrap_or_default().into_iter().filter(|t| t != "<none>:<none>").collect();
        config.manifest_digest = i
            .repo_digests
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find_map(|d| d.rsplit_once('@').map(|(_, digest)| digest.to_owned()));
        let diff_ids = i.root_fs.as_ref().and_then(|r| r.layers.clone()).unwrap_or_default();
        let items = self
            .rt
            .block_on(self.docker.image_history(&self.id))
            .map_err(|e| api_error(&self.image, &self.endpoint, "image history", e))?;
        let (history, sizes) = history_entries(items, diff_ids.len());
        config.history = history;
        config.layers = diff_ids
            .into_iter()
            .enumerate()
            .map(|(n, digest)| LayerInfo {
                digest,
                size: sizes.as_ref().map(|s| s[n]),
                media_type: Some(DIFF_MEDIA_TYPE.to_owned()),
            })
            .collect();
        Ok(config)
    }

    fn read_paths(&mut self, query: &PathQuery) -> Result<Box<dyn FileTree>, InspectError> {
        if let Some(layers) = self.overlay.clone() {
            match overlay::read_overlay(layers, query, &self.options.merge) {
                Ok(tree) => return Ok(Box::new(tree)),
                Err(e @ WalkError::Budget { .. }) => return Err(self.io_error(e)),
                Err(e) if self.strict => return Err(self.io_error(e)),
                Err(e) => {
                    // The image may have been removed or re-pulled under us; the engine
                    // still knows how to serve it.
                    self.overlay = None;
                    let mut tree = self.read_archive_or_export(query)?;
                    tree.push(format!("reading overlay2 directly failed ({e}); read through the engine's API"));
                    return Ok(tree.into_tree());
                }
            }
        }
        if self.export {
            return Ok(Box::new(self.read_export(query)?));
        }
        Ok(self.read_archive_or_export(query)?.into_tree())
    }
}

/// Largest export held in memory by the last fallback.
const MAX_EXPORT_BYTES: u64 = 1 << 30;

/// Files read through the archive API, or through a full export when that failed.
enum ApiTree {
    Archive(WalkedTree),
    Export(crate::inspect::layers::MergedView),
}

impl ApiTree {
    fn push(&mut self, warning: String) {
        match self {
            ApiTree::Archive(t) => t.push_warning(warning),
            ApiTree::Export(v) => v.warnings.push(warning),
        }
    }

    fn into_tree(self) -> Box<dyn FileTree> {
        match self {
            ApiTree::Archive(t) => Box::new(t),
            ApiTree::Export(v) => Box::new(v),
        }
    }
}

impl EngineSource {
    /// The archive API, and a full export when a container cannot be made or read (unless
    /// overlay2 was required).
    fn read_archive_or_export(&mut self, query: &PathQuery) -> Result<ApiTree, InspectError> {
        match self.read_archive(query) {
            Ok(tree) => Ok(ApiTree::Archive(tree)),
            Err(e) if !self.strict && !matches!(e, InspectError::Unreachable { .. }) => {
                let mut view = self.read_export(query)?;
                view.warnings.push(format!("the archive API failed ({e}); read a full export instead"));
                Ok(ApiTree::Export(view))
            }
            Err(e) => Err(e),
        }
    }
}

/// History oldest first, and the layer sizes when the history's non-empty entries line up
/// with the layers. The history API has no `empty_layer`: an entry with size 0 is empty,
/// unless that leaves too few layers, and then only instructions that never make a layer
/// (`ENV`, `LABEL`, …) count as empty.
fn history_entries(mut items: Vec<ImageHistoryResponseItem>, layers: usize) -> (Vec<HistoryEntry>, Option<Vec<u64>>) {
    items.reverse();
    let by_size = items.iter().filter(|h| h.size > 0).count() == layers;
    let entries: Vec<HistoryEntry> = items
        .iter()
        .map(|h| HistoryEntry {
            created: (h.created > 0).then(|| rfc3339(h.created)),
            created_by: Some(h.created_by.clone()).filter(|s| !s.is_empty()),
            empty_layer: h.size <= 0 && (by_size || !creates_layer(&h.created_by)),
            comment: Some(h.comment.clone()).filter(|s| !s.is_empty()),
        })
        .collect();
    let sizes: Vec<u64> =
        items.iter().zip(&entries).filter(|(_, e)| !e.empty_layer).map(|(h, _)| h.size.max(0) as u64).collect();
    let sizes = (sizes.len() == layers).then_some(sizes);
    (entries, sizes)
}

/// Whether a history `created_by` is an instruction that makes a layer (legacy builder:
/// `/bin/sh -c #(nop) ENV …` vs `/bin/sh -c #(nop) COPY …` or a `RUN` command; BuildKit:
/// `ENV …`, `RUN …`, `COPY … # buildkit`).
fn creates_layer(created_by: &str) -> bool {
    let instruction = match created_by.split_once("#(nop)") {
        Some((_, rest)) => rest.split_whitespace().next().unwrap_or(""),
        None => created_by.split_whitespace().next().unwrap_or(""),
    };
    !matches!(
        instruction,
        "ENV"
            | "LABEL"
            | "CMD"
            | "ENTRYPOINT"
            | "EXPOSE"
            | "USER"
            | "WORKDIR"
            | "VOLUME"
            | "STOPSIGNAL"
            | "HEALTHCHECK"
            | "SHELL"
            | "ONBUILD"
            | "ARG"
            | "MAINTAINER"
    )
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (the history API gives no sub-seconds).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Removes the probe container when dropped, so every early return cleans up.
struct ContainerGuard<'a> {
    rt: &'a Runtime,
    docker: &'a Docker,
    id: String,
    removed: bool,
}

impl ContainerGuard<'_> {
    fn remove(&mut self) -> Result<(), BollardError> {
        self.removed = true;
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        self.rt.block_on(self.docker.remove_container(&self.id, Some(options)))
    }
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.remove();
        }
    }
}

// Go's `os.FileMode` type bits, as the archive stat header carries them.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_NAMED_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_CHAR_DEVICE: u32 = 1 << 21;
const GO_MODE_IRREGULAR: u32 = 1 << 19;

fn stat_of_go_mode(mode: u32, size: i64) -> Option<Stat> {
    if mode & GO_MODE_DIR != 0 {
        Some(Stat::Dir)
    } else if mode & GO_MODE_SYMLINK != 0 {
        None
    } else if mode & (GO_MODE_DEVICE | GO_MODE_NAMED_PIPE | GO_MODE_SOCKET | GO_MODE_CHAR_DEVICE | GO_MODE_IRREGULAR)
        != 0
    {
        Some(Stat::Other)
    } else {
        Some(Stat::File { size: size.max(0) as u64 })
    }
}

/// A response body as `Read`, pulling one chunk at a time through the runtime.
struct BodyReader<'a, S, B> {
    rt: &'a Runtime,
    stream: S,
    chunk: Option<B>,
    offset: usize,
}

impl<S, B> Read for BodyReader<'_, S, B>
where
    S: Stream<Item = Result<B, BollardError>> + Unpin,
    B: AsRef<[u8]>,
{
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(chunk) = &self.chunk {
                let rest = &chunk.as_ref()[self.offset..];
                if !rest.is_empty() {
                    let n = rest.len().min(out.len());
                    out[..n].copy_from_slice(&rest[..n]);
                    self.offset += n;
                    return Ok(n);
                }
            }
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = Some(chunk);
                    self.offset = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
    }
}

/// A tar entry's header as an `Entry` (no content), the way the tar merger reads headers.
fn entry_of<R: Read>(e: &tar::Entry<'_, R>) -> io::Result<Option<Entry>> {
    let h = e.header();
    let et = h.entry_type();
    let kind = if et.is_symlink() {
        let target = e.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
        EntryKind::Symlink(target)
    } else if et.is_hard_link() {
        // Its content is elsewhere in the stream; callers fetch the path on its own instead.
        return Ok(None);
    } else if et.is_dir() {
        EntryKind::Dir
    } else if et.is_file() || et.is_contiguous() {
        EntryKind::File
    } else if et.is_pax_global_extensions() || et.is_pax_local_extensions() || et.is_gnu_longname() {
        return Ok(None);
    } else {
        EntryKind::Other
    };
    let size = match &kind {
        EntryKind::Symlink(t) => t.len() as u64,
        EntryKind::Dir => 0,
        _ => e.size(),
    };
    Ok(Some(Entry { kind, mode: h.mode()? & 0o7777, uid: h.uid()?, gid: h.gid()?, size, content: None }))
}

fn stat_of_entry(e: &Entry) -> Stat {
    match &e.kind {
        EntryKind::Dir => Stat::Dir,
        EntryKind::File => Stat::File { size: e.size },
        EntryKind::Symlink(t) => Stat::Symlink(t.clone()),
        EntryKind::Other => Stat::Other,
    }
}

/// The merged file system of a created (not started) container, through the archive API.
struct ArchiveBackend<'a> {
    rt: &'a Runtime,
    docker: &'a Docker,
    container: &'a str,
    max_file_bytes: u64,
    /// Content kept from directory streams, in total.
    prefetch_budget: u64,
    stats: HashMap<String, Option<Stat>>,
    /// Full entries from `GET`; a file's content is there when it was within the cap.
    entries: HashMap<String, Entry>,
    /// Complete listings from directory streams: the names below a directory that a pattern
    /// component matches.
    listings: HashMap<String, Vec<(Comp, Vec<String>)>>,
    requests: usize,
    warnings: Vec<String>,
}

impl ArchiveBackend<'_> {
    /// `GET` of one path; `None` for 404. The body is a tar whose names start with the path's
    /// last component (`.` for the root).
    fn get(&mut self, path: &str) -> Result<Option<Box<dyn Read + '_>>, WalkError> {
        self.requests += 1;
        let options = DownloadFromContainerOptions { path: format!("/{path}") };
        let mut stream = Box::pin(self.docker.download_from_container(self.container, Some(options)));
        // Errors come as the first item; look at it before handing the body to tar.
        match self.rt.block_on(stream.next()) {
            None => Ok(Some(Box::new(BodyReader { rt: self.rt, stream, chunk: None, offset: 0 }))),
            Some(Ok(chunk)) => Ok(Some(Box::new(BodyReader { rt: self.rt, stream, chunk: Some(chunk), offset: 0 }))),
            Some(Err(e)) if status(&e) == Some(404) => Ok(None),
            Some(Err(e)) => Err(WalkError::io(format!("/{path}"), format!("archive API: {e}"))),
        }
    }

    /// Fetches one path's tar header (and content when wanted and within `max_content`).
    fn fetch(&mut self, path: &str, max_content: Option<u64>) -> Result<Option<Entry>, WalkError> {
        let shown = format!("/{path}");
        let Some(body) = self.get(path)? else {
            return Ok(None);
        };
        let mut archive = tar::Archive::new(body);
        let mut entries = archive.entries().map_err(|e| WalkError::io(&shown, e))?;
        let fail = |e: io::Error| WalkError::io(format!("/{path}"), format!("archive API tar: {e}"));
        let Some(first) = entries.next() else {
            return Err(WalkError::io(shown, "archive API answered with an empty tar"));
        };
        let mut first = first.map_err(fail)?;
        let Some(mut entry) = entry_of(&first).map_err(fail)? else {
            return Err(WalkError::io(shown, "archive API answered with a hard link or extension header"));
        };
        if entry.kind == EntryKind::File
            && let Some(max) = max_content
            && entry.size <= max
        {
            let mut buf = Vec::with_capacity(entry.size as usize);
            (&mut first).take(entry.size).read_to_end(&mut buf).map_err(fail)?;
            if buf.len() as u64 != entry.size {
                return Err(WalkError::io(shown, format!("archive API sent {} of {} bytes", buf.len(), entry.size)));
            }
            entry.content = Some(buf);
        }
        // Dropping the rest of a directory's stream closes the connection; the engine stops.
        Ok(Some(entry))
    }

    /// Whether a directory stream already showed that `path` does not exist.
    fn known_missing(&self, path: &str) -> bool {
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        self.listings
            .get(dir)
            .is_some_and(|ls| ls.iter().any(|(comp, names)| comp.matches(name) && !names.iter().any(|n| n == name)))
    }

    /// Streams directory `dir` once and keeps what the pattern remainder `rest` can match:
    /// the listings of every matching directory, stats and headers of matching entries, and
    /// the content of full matches within the cap.
    fn prefetch(&mut self, dir: &str, rest: &[Comp]) -> Result<(), WalkError> {
        let shown = format!("/{dir}");
        let max_file = self.max_file_bytes;
        let mut budget = self.prefetch_budget;
        let mut listings: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut found: Vec<(String, Entry)> = Vec::new();
        {
            let Some(body) = self.get(dir)? else {
                return Ok(());
            };
            let mut archive = tar::Archive::new(body);
            let fail = |e: io::Error| WalkError::io(format!("/{dir}"), format!("archive API tar: {e}"));
            listings.insert(dir.to_owned(), Vec::new());
            for item in archive.entries().map_err(fail)? {
                let mut item = item.map_err(fail)?;
                let raw = item.path_bytes().into_owned();
                let name = String::from_utf8_lossy(&raw);
                // Names start with the directory's base name (`opt/old/c` for `/opt`); for the
                // root they are absolute (`/`, `/bin/busybox`).
                let parts = name.split('/').skip(usize::from(!dir.is_empty()));
                let rel: Vec<&str> = parts.filter(|c| !c.is_empty() && *c != ".").collect();
                if rel.is_empty() || rel.len() > rest.len() || rel.contains(&"..") {
                    continue;
                }
                if !rel.iter().zip(rest).all(|(c, comp)| comp.matches(c)) {
                    continue;
                }
                let parent = rel[..rel.len() - 1].iter().fold(dir.to_owned(), |acc, c| overlay_join(&acc, c));
                let path = overlay_join(&parent, rel[rel.len() - 1]);
                listings.entry(parent).or_default().push(rel[rel.len() - 1].to_owned());
                let Some(mut entry) = entry_of(&item).map_err(fail)? else {
                    continue;
                };
                if entry.kind == EntryKind::Dir && rel.len() < rest.len() {
                    listings.entry(path.clone()).or_default();
                }
                if entry.kind == EntryKind::File
                    && rel.len() == rest.len()
                    && entry.size <= max_file
                    && entry.size <= budget
                {
                    let mut buf = Vec::with_capacity(entry.size as usize);
                    (&mut item).take(entry.size).read_to_end(&mut buf).map_err(fail)?;
                    if buf.len() as u64 != entry.size {
                        return Err(WalkError::io(
                            shown,
                            format!("archive API sent {} of {} bytes", buf.len(), entry.size),
                        ));
                    }
                    budget -= entry.size;
                    entry.content = Some(buf);
                }
                found.push((path, entry));
            }
        }
        for (path, entry) in found {
            self.stats.insert(path.clone(), Some(stat_of_entry(&entry)));
            self.entries.insert(path, entry);
        }
        // Directory `d` at depth k was listed for component `rest[k]`.
        for (d, names) in listings {
            let depth = if d == dir { 0 } else { d[dir.len()..].trim_start_matches('/').split('/').count() };
            if let Some(comp) = rest.get(depth) {
                self.listings.entry(d).or_default().push((comp.clone(), names));
            }
        }
        Ok(())
    }
}

fn overlay_join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

impl Backend for ArchiveBackend<'_> {
    fn stat(&mut self, path: &str) -> Result<Option<Stat>, WalkError> {
        if let Some(s) = self.stats.get(path) {
            return Ok(s.clone());
        }
        if self.known_missing(path) {
            return Ok(None);
        }
        self.requests += 1;
        let options = ContainerArchiveInfoOptions { path: format!("/{path}") };
        let stat = match self.rt.block_on(self.docker.get_container_archive_info(self.container, Some(options))) {
            Ok(s) => match stat_of_go_mode(s.file_mode, s.size) {
                Some(stat) => Some(stat),
                // The stat header gives the fully resolved target; the raw one is in the tar.
                None => self.fetch(path, None)?.map(|e| {
                    let stat = stat_of_entry(&e);
                    self.entries.insert(path.to_owned(), e);
                    stat
                }),
            },
            Err(e) if status(&e) == Some(404) => None,
            // The engine resolves a link fully to fill in `linkTarget` and fails on loops;
            // the tar of the path itself still says what it is.
            Err(e) if status(&e).is_some() => match self.fetch(path, None) {
                Ok(Some(entry)) => {
                    let stat = stat_of_entry(&entry);
                    self.entries.insert(path.to_owned(), entry);
                    Some(stat)
                }
                Ok(None) => None,
                // The engine cannot show a link whose resolution loops, not even its raw
                // target; all it could be used for is `lstat`, so it counts as missing.
                Err(WalkError::Io { message, .. }) if message.contains("too many links") => {
                    self.warnings.push(format!(
                        "/{path}: a symlink that loops (or leads through a loop); the archive API cannot show it"
                    ));
                    None
                }
                Err(_) => return Err(WalkError::io(format!("/{path}"), format!("archive API stat: {e}"))),
            },
            Err(e) => return Err(WalkError::io(format!("/{path}"), format!("archive API stat: {e}"))),
        };
        self.stats.insert(path.to_owned(), stat.clone());
        Ok(stat)
    }

    fn entry(&mut self, path: &str, max_content: Option<u64>) -> Result<Option<Entry>, WalkError> {
        if let Some(e) = self.entries.get(path) {
            let complete = e.kind != EntryKind::File || e.content.is_some() || max_content.is_none_or(|m| e.size > m);
            if complete {
                return Ok(Some(e.clone()));
            }
        }
        let e = self.fetch(path, max_content)?;
        if let Some(e) = &e {
            self.entries.insert(path.to_owned(), e.clone());
        }
        Ok(e)
    }

    fn children(&mut self, dir: &str, rest: &[Comp]) -> Result<Vec<String>, WalkError> {
        let Some(first) = rest.first() else {
            return Ok(Vec::new());
        };
        let cached = |b: &ArchiveBackend<'_>| {
            b.listings.get(dir).and_then(|ls| ls.iter().find(|(c, _)| c.text() == first.text()).map(|(_, n)| n.clone()))
        };
        if let Some(names) = cached(self) {
            return Ok(names);
        }
        self.prefetch(dir, rest)?;
        Ok(cached(self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Instant;

    use bollard::query_parameters::ListContainersOptions;

    use super::*;
    use crate::inspect::layers::MergeOptions;

    /// What the fact readers ask for, plus the paths the test image was built around.
    const QUERY: &[&str] = &[
        "/etc/os-release",
        "/usr/lib/os-release",
        "/etc/debian_version",
        "/etc/alpine-release",
        "/etc/passwd",
        "/etc/group",
        "/etc/timezone",
        "/etc/localtime",
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/*",
        "/lib/apk/db/installed",
        "/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA",
        "/usr/local/lib/python3.*/site-packages/*.egg-info",
        "/usr/lib/python3*/dist-packages/*.dist-info/METADATA",
        "/usr/local/bin/python3*",
        "/airbyte",
        "/gone.txt",
        "/opt/old/*",
        "/opt/old/a",
        "/opt/dir2",
        "/opt/dir2/x",
        "/lib/dockvar/marker",
        "/usr/lib/dockvar/marker.hard",
        "/loop1",
        "/dangling",
        "/a*",
    ];

    fn var(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    /// The private engine and the image `scripts/test` built, or `None` (test skipped).
    fn live(test: &str) -> Option<(Engine, String, String)> {
        match (var("DOCKVAR_TEST_DOCKER_HOST"), var("DOCKVAR_TEST_ENGINE_IMAGE")) {
            (Some(host), Some(image)) => {
                let engine = Engine::connect_to(&host, &SourceOptions::default()).expect("the test engine answers");
                Some((engine, host, image))
            }
            _ => {
                crate::testing::skip(&format!(
                    "{test}: needs DOCKVAR_TEST_DOCKER_HOST and DOCKVAR_TEST_ENGINE_IMAGE (scripts/test sets them)"
                ));
                None
            }
        }
    }

    fn open(engine: &Engine, image: &str) -> EngineSource {
        engine.source(&ImageRef::parse(&format!("docker:{image}"))).expect("the test image is there")
    }

    fn read(engine: Engine, image: &str, mode: EngineMode) -> (EngineSource, Box<dyn FileTree>) {
        let engine = engine.with_mode(mode);
        let mut source = open(&engine, image);
        let tree = source.read_paths(&PathQuery::parse(QUERY).unwrap()).expect("read_paths");
        (source, tree)
    }

    fn answers(tree: &dyn FileTree) -> Vec<String> {
        let mut out = Vec::new();
        for p in QUERY {
            if p.contains('*') {
                out.push(format!("matches {p} = {:?}", tree.matches(p)));
            } else {
                out.push(format!("get {p} = {:?}", tree.get(p)));
                out.push(format!("lstat {p} = {:?}", tree.lstat(p)));
                out.push(format!("read_link {p} = {:?}", tree.read_link(p)));
            }
        }
        out
    }

    fn content<'t>(tree: &'t dyn FileTree, path: &str) -> &'t [u8] {
        tree.get(path).and_then(|e| e.content.as_deref()).unwrap_or_else(|| panic!("{path} has no content"))
    }

    fn fixture(path: &str) -> Vec<u8> {
        let at = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/debian").join(path);
        std::fs::read(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()))
    }

    fn docker_run(host: &str, image: &str, args: &[&str]) -> Option<Vec<u8>> {
        let cli = var("DOCKVAR_TEST_DOCKER_CLI")?;
        let out = Command::new(cli)
            .env("DOCKER_HOST", host)
            .args(["run", "--rm", "--network", "none", image])
            .args(args)
            .output()
            .expect("docker run");
        assert!(out.status.success(), "docker run {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Some(out.stdout)
    }

    fn probe_containers(engine: &Engine) -> usize {
        let filters = HashMap::from([("label".to_owned(), vec![PROBE_LABEL.to_owned()])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..ListContainersOptions::default() };
        engine.rt.block_on(engine.docker.list_containers(Some(options))).unwrap().len()
    }

    #[test]
    fn config_from_image_inspect() {
        let Some((engine, _, image)) = live("config_from_image_inspect") else {
            return;
        };
        let mut source = open(&engine, &image);
        let c = source.config().unwrap();
        assert_eq!(c.source, "docker (overlay2)");
        assert!(c.image_id.starts_with("sha256:") && c.image_id == source.id());
        assert_eq!(c.os.as_deref(), Some("linux"));
        assert!(c.architecture.is_some());
        assert!(c.created.is_some());
        let env: Vec<(&str, &str)> = c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            env,
            [
                ("PATH", "/usr/local/bin:/usr/bin:/bin"),
                ("LANG", "C.UTF-8"),
                ("TZ", "Europe/Berlin"),
                ("PYTHON_VERSION", "3.11.9")
            ]
        );
        assert_eq!(c.user.as_deref(), Some("airbyte"));
        assert_eq!(c.working_dir.as_deref(), Some("/airbyte"));
        assert_eq!(c.cmd, Some(vec!["/bin/busybox".to_owned(), "sh".to_owned()]));
        assert_eq!(c.entrypoint, None);
        assert_eq!(c.labels.get("io.dockvar.test").map(String::as_str), Some("engine"));
        assert_eq!(c.exposed_ports, ["8080/tcp"]);
        assert!(c.repo_tags.iter().any(|t| *t == image || image.starts_with("sha256:")), "{:?}", c.repo_tags);
        assert_eq!(c.layers.len(), 4);
        assert!(c.layers.iter().all(|l| l.digest.starts_with("sha256:") && l.size.is_some()), "{:?}", c.layers);
        assert_eq!(c.history.len(), 10);
        assert_eq!(c.history.iter().filter(|h| !h.empty_layer).count(), 4);
        assert!(c.history[0].created_by.as_deref().unwrap_or("").contains("COPY"));
        assert!(c.history.iter().all(|h| h.created.as_deref().is_some_and(|t| t.ends_with('Z'))));
    }

    #[test]
    fn overlay2_and_archive_api_agree() {
        let Some((engine, host, image)) = live("overlay2_and_archive_api_agree") else {
            return;
        };
        let (overlay_source, overlay) = read(engine, &image, EngineMode::Overlay);
        assert_eq!(overlay_source.source_label(), "docker (overlay2)");
        let engine = Engine::connect_to(&host, &SourceOptions::default()).unwrap();
        let (mut archive_source, archive) = read(engine, &image, EngineMode::Archive);
        assert_eq!(archive_source.source_label(), "docker (archive API)");
        assert_eq!(archive_source.config().unwrap().source, "docker (archive API)");
        eprintln!("archive API requests: {}", archive_source.requests);
        let (a, b) = (answers(overlay.as_ref()), answers(archive.as_ref()));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            // The one known difference: the engine cannot stat a looping link at all.
            if x.starts_with("lstat /loop1 ") || x.starts_with("read_link /loop1 ") {
                assert!(y.ends_with("= None"), "{y}");
                continue;
            }
            assert_eq!(x, y);
        }
        assert_eq!(overlay.warnings(), ["/loop1: too many levels of symlinks at /loop1"]);
        assert_eq!(
            archive.warnings(),
            ["/loop1: a symlink that loops (or leads through a loop); the archive API cannot show it"]
        );

        assert_eq!(overlay.read_link("/loop1"), Some("/loop2"));
        for tree in [overlay.as_ref(), archive.as_ref()] {
            assert_eq!(tree.read_link("/etc/os-release"), Some("../usr/lib/os-release"));
            assert_eq!(content(tree, "/etc/os-release"), fixture("etc/os-release"));
            assert_eq!(content(tree, "/var/lib/dpkg/status"), fixture("var/lib/dpkg/status"));
            assert_eq!(tree.read_link("/etc/localtime"), Some("/usr/share/zoneinfo/Europe/Berlin"));
            assert_eq!(content(tree, "/etc/localtime"), fixture("usr/share/zoneinfo/Europe/Berlin"));
            assert!(content(tree, "/etc/passwd").ends_with(b"airbyte:x:1000:1000::/airbyte:/bin/sh\n"));
            assert!(tree.get("/gone.txt").is_none(), "whiteout");
            assert!(tree.get("/opt/old/a").is_none(), "opaque directory");
            let old: Vec<String> = tree.matches("/opt/old/*").into_iter().map(|(p, _)| p).collect();
            assert_eq!(old, ["/opt/old/c"]);
            assert_eq!(content(tree, "/opt/dir2"), b"file\n");
            assert!(tree.get("/opt/dir2/x").is_none());
            assert_eq!(content(tree, "/lib/dockvar/marker"), b"marker\n");
            assert_eq!(content(tree, "/usr/lib/dockvar/marker.hard"), b"marker\n");
            assert!(tree.get("/loop1").is_none());
            assert_eq!(tree.read_link("/dangling"), Some("/nowhere"));
            let airbyte = tree.get("/airbyte").unwrap();
            assert_eq!((&airbyte.kind, airbyte.mode, airbyte.uid, airbyte.gid), (&EntryKind::Dir, 0o750, 1000, 1000));
            let metas: Vec<String> = tree
                .matches("/usr/local/lib/python3.*/site-packages/*.dist-info/METADATA")
                .into_iter()
                .map(|(p, _)| p.split('/').nth(6).unwrap().to_owned())
                .collect();
            assert_eq!(metas, ["new-2.0.dist-info", "pip-24.0.dist-info", "requests-2.31.0.dist-info"]);
            let status: Vec<String> = tree.matches("/var/lib/dpkg/status.d/*").into_iter().map(|(p, _)| p).collect();
            assert_eq!(status, ["/var/lib/dpkg/status.d/base-files", "/var/lib/dpkg/status.d/extra"]);
        }
        let engine = Engine::connect_to(&host, &SourceOptions::default()).unwrap();
        assert_eq!(probe_containers(&engine), 0, "the probe container was removed");
    }

    /// Cross-checks the overlay2 reader against the tar merger on the layers Docker itself
    /// exports for the same image (`GET /images/{id}/get`, the legacy `docker save` layout).
    #[test]
    fn overlay2_agrees_with_the_merger_on_the_saved_layers() {
        let Some((engine, _, image)) = live("overlay2_agrees_with_the_merger_on_the_saved_layers") else {
            return;
        };
        let (source, overlay) = read(engine, &image, EngineMode::Overlay);
        let engine = &source;
        let saved: Vec<u8> = engine.rt.block_on(async {
            let mut out = Vec::new();
            let mut stream = Box::pin(engine.docker.export_image(&engine.id));
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            out
        });
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        for item in tar::Archive::new(saved.as_slice()).entries().unwrap() {
            let mut item = item.unwrap();
            let name = item.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            item.read_to_end(&mut data).unwrap();
            files.insert(name, data);
        }
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let layers: Vec<String> =
            manifest[0]["Layers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect();
        assert_eq!(layers.len(), 4);
        // Top-down: the image re-points /etc/localtime above its target (see `layers`).
        let inputs = layers
            .iter()
            .rev()
            .map(|l| crate::inspect::layers::LayerInput::new(l.clone(), Box::new(io::Cursor::new(files[l].clone()))))
            .collect();
        let query = PathQuery::parse(QUERY).unwrap();
        let merged = crate::inspect::layers::merge_top_down(inputs, &query, &MergeOptions::default()).unwrap();
        let (a, b) = (answers(overlay.as_ref()), answers(&merged));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
    }

    #[test]
    fn docker_run_agrees() {
        let Some((engine, host, image)) = live("docker_run_agrees") else {
            return;
        };
        let mut source = open(&engine, &image);
        let query = PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status", "/etc/localtime"]).unwrap();
        let tree = source.read_paths(&query).unwrap();
        let Some(os_release) = docker_run(&host, &image, &["/bin/busybox", "cat", "/etc/os-release"]) else {
            crate::testing::skip("docker_run_agrees: needs DOCKVAR_TEST_DOCKER_CLI");
            return;
        };
        assert_eq!(content(tree.as_ref(), "/etc/os-release"), os_release);
        let status = docker_run(&host, &image, &["/bin/busybox", "cat", "/var/lib/dpkg/status"]).unwrap();
        assert_eq!(content(tree.as_ref(), "/var/lib/dpkg/status"), status);
        let link = docker_run(&host, &image, &["/bin/busybox", "readlink", "/etc/localtime"]).unwrap();
        assert_eq!(tree.read_link("/etc/localtime").map(|l| format!("{l}\n").into_bytes()), Some(link));
        let env = docker_run(&host, &image, &["/bin/busybox", "env"]).unwrap();
        // `docker run` adds these two from the container, not the image.
        let mut env: Vec<(String, String)> = String::from_utf8(env)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .filter(|(k, _)| k != "HOSTNAME" && k != "HOME")
            .collect();
        let mut config = source.config().unwrap().env;
        env.sort();
        config.sort();
        assert_eq!(config, env);
    }

    #[test]
    fn over_the_cap_keeps_metadata_in_both_modes() {
        let Some((_, host, image)) = live("over_the_cap_keeps_metadata_in_both_modes") else {
            return;
        };
        let options = SourceOptions {
            merge: MergeOptions { max_file_bytes: 1000, ..MergeOptions::default() },
            ..SourceOptions::default()
        };
        let query = PathQuery::parse(["/var/lib/dpkg/status", "/etc/os-release"]).unwrap();
        let mut results = Vec::new();
        for mode in [EngineMode::Overlay, EngineMode::Archive] {
            let engine = Engine::connect_to(&host, &options).unwrap().with_mode(mode);
            let tree = open(&engine, &image).read_paths(&query).unwrap();
            let status = tree.get("/var/lib/dpkg/status").unwrap();
            assert_eq!((status.content.is_none(), status.size), (true, fixture("var/lib/dpkg/status").len() as u64));
            assert!(tree.warnings().iter().any(|w| w.contains("/var/lib/dpkg/status is")), "{:?}", tree.warnings());
            results.push((tree.get("/var/lib/dpkg/status").cloned(), tree.get("/etc/os-release").cloned()));
        }
        assert_eq!(results[0], results[1]);
    }

    #[test]
    fn a_failed_archive_read_still_removes_the_container() {
        let Some((_, host, image)) = live("a_failed_archive_read_still_removes_the_container") else {
            return;
        };
        let merge = MergeOptions { max_total_bytes: 100, ..MergeOptions::default() };
        let options = SourceOptions { merge, ..SourceOptions::default() };
        let engine = Engine::connect_to(&host, &options).unwrap().with_mode(EngineMode::Archive);
        let Err(err) = open(&engine, &image).read_paths(&PathQuery::parse(["/etc/passwd"]).unwrap()) else {
            panic!("a 100-byte budget cannot hold /etc/passwd");
        };
        assert!(err.to_string().contains("100-byte budget"), "{err}");
        assert_eq!(probe_containers(&engine), 0);
    }

    #[test]
    fn unknown_images_and_has_image() {
        let Some((engine, _, image)) = live("unknown_images_and_has_image") else {
            return;
        };
        assert!(engine.has_image(&image).unwrap());
        assert!(!engine.has_image("dockvar-test/no-such-image:0").unwrap());
        let err = engine.source(&ImageRef::parse("docker:dockvar-test/no-such-image:0")).unwrap_err();
        assert!(matches!(err, InspectError::NotFound { .. }), "{err}");
        assert!(err.to_string().starts_with("docker:dockvar-test/no-such-image:0: image not found"), "{err}");
    }

    #[test]
    fn unreachable_engines_name_the_host() {
        let options = SourceOptions::default();
        let err = Engine::connect_to("unix:///nonexistent/dockvar/docker.sock", &options).unwrap_err();
        assert!(matches!(err, InspectError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("unix:///nonexistent/dockvar/docker.sock"), "{err}");
        // Nothing listens on port 1 of loopback.
        let err = Engine::connect_to("tcp://127.0.0.1:1", &options).unwrap_err();
        assert!(
            matches!(err, InspectError::Unreachable { .. }) && err.to_string().contains("tcp://127.0.0.1:1"),
            "{err}"
        );
        let err = Engine::connect_to("ssh://host", &options).unwrap_err();
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
    }

    #[test]
    fn modes_parse() {
        assert_eq!("archive".parse::<EngineMode>(), Ok(EngineMode::Archive));
        assert_eq!("overlay2".parse::<EngineMode>(), Ok(EngineMode::Overlay));
        assert_eq!("auto".parse::<EngineMode>(), Ok(EngineMode::Auto));
        assert_eq!("export".parse::<EngineMode>(), Ok(EngineMode::Export));
        assert!("vfs".parse::<EngineMode>().is_err());
        assert_eq!(EngineMode::Overlay.to_string(), "overlay2");
    }

    #[test]
    fn dates_and_go_modes() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(stat_of_go_mode(GO_MODE_DIR | 0o755, 4096), Some(Stat::Dir));
        assert_eq!(stat_of_go_mode(0o644, 12), Some(Stat::File { size: 12 }));
        assert_eq!(stat_of_go_mode(GO_MODE_SYMLINK | 0o777, 3), None);
        assert_eq!(stat_of_go_mode(GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE, 0), Some(Stat::Other));
    }

    fn item(created_by: &str, size: i64) -> ImageHistoryResponseItem {
        ImageHistoryResponseItem {
            id: "<missing>".into(),
            created: 1_700_000_000,
            created_by: created_by.into(),
            tags: Vec::new(),
            size,
            comment: String::new(),
        }
    }

    #[test]
    fn history_marks_empty_layers() {
        // Newest first, as the API gives it.
        let items = vec![
            item("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
            item("/bin/sh -c true", 0),
            item("/bin/sh -c #(nop) ENV A=1", 0),
            item("/bin/sh -c #(nop) COPY dir:abc in / ", 10),
        ];
        let (h, sizes) = history_entries(items.clone(), 2);
        let empty: Vec<bool> = h.iter().map(|e| e.empty_layer).collect();
        assert_eq!(empty, [false, true, false, true]);
        assert_eq!(sizes, Some(vec![10, 0]));
        assert_eq!(h[0].created.as_deref(), Some("2023-11-14T22:13:20Z"));
        let (h, sizes) = history_entries(items, 1);
        assert_eq!(h.iter().filter(|e| !e.empty_layer).count(), 1);
        assert_eq!(sizes, Some(vec![10]));
        assert!(creates_layer("RUN /bin/sh -c apt-get update # buildkit"));
        assert!(!creates_layer("ENV PATH=/usr/bin"));
    }

    /// Not a correctness test: `cargo test -- --ignored --nocapture timing` prints how long
    /// reading os-release, the dpkg status and the env takes from overlay2 and the archive API,
    /// next to three `docker run`s doing the same.
    #[test]
    #[ignore]
    fn timing() {
        let Some((_, host, image)) = live("timing") else {
            return;
        };
        let query = PathQuery::parse(["/etc/os-release", "/var/lib/dpkg/status"]).unwrap();
        let rounds = 5;
        for mode in [EngineMode::Overlay, EngineMode::Archive] {
            // total, then connect, inspect, config (history), files
            let mut times: [Vec<f64>; 5] = Default::default();
            for _ in 0..rounds {
                let start = Instant::now();
                let mut lap = Instant::now();
                let mut split = |i: usize, times: &mut [Vec<f64>; 5]| {
                    times[i].push(lap.elapsed().as_secs_f64() * 1000.0);
                    lap = Instant::now();
                };
                let engine = Engine::connect_to(&host, &SourceOptions::default()).unwrap().with_mode(mode);
                split(1, &mut times);
                let mut source = open(&engine, &image);
                split(2, &mut times);
                let env = source.config().unwrap().env;
                split(3, &mut times);
                let tree = source.read_paths(&query).unwrap();
                split(4, &mut times);
                assert!(!env.is_empty() && tree.get("/var/lib/dpkg/status").is_some());
                times[0].push(start.elapsed().as_secs_f64() * 1000.0);
            }
            eprintln!("{mode}: {}", summary(&mut times[0]));
            for (i, what) in [(1, "connect"), (2, "image inspect"), (3, "config + history"), (4, "read_paths")] {
                eprintln!("  {what}: {}", summary(&mut times[i]));
            }
        }
        let mut times = Vec::new();
        for _ in 0..rounds {
            let start = Instant::now();
            docker_run(&host, &image, &["/bin/busybox", "cat", "/etc/os-release"]).expect("DOCKVAR_TEST_DOCKER_CLI");
            docker_run(&host, &image, &["/bin/busybox", "cat", "/var/lib/dpkg/status"]).unwrap();
            docker_run(&host, &image, &["/bin/busybox", "env"]).unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        eprintln!("3 x docker run: {}", summary(&mut times));
    }

    fn summary(ms: &mut [f64]) -> String {
        ms.sort_by(f64::total_cmp);
        format!("median {:.1} ms (min {:.1}, max {:.1}, n={})", ms[ms.len() / 2], ms[0], ms[ms.len() - 1], ms.len())
    }
}
