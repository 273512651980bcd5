//! A registry reference (`registry:HOST/NAME:TAG|@DIGEST`, `docker://…`, or a bare `NAME:TAG`)
//! in, an `ImageSource` out: the manifest (one platform of an index), the verified config blob,
//! and the layer blobs streamed from an OCI distribution registry into the layer merger, over
//! HTTP(S) with bearer / basic auth, bounded retries and bounded memory, never touching disk.

use crate::inspect::layers::verify::Expected;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};
use ureq::http::{HeaderMap, Response};
use ureq::{Agent, Body};

use super::registry_auth::{self, Challenge, CredentialLookup, Credentials};
use crate::inspect::image::{
    FileTree, ImageConfig, ImageRef, ImageSource, InspectError, LayerInfo, SourceOptions, index_platforms, media,
    select_platform,
};
use crate::inspect::layers::{LayerInput, MergeOptions, MergedView, PathQuery, merge_layers, merge_top_down};

/// Docker Hub's registry API host (references say `docker.io`).
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];
/// Error bodies are only read for their message.
const MAX_ERROR_BODY: u64 = 64 << 10;
const USER_AGENT: &str = concat!("dockvar/", env!("CARGO_PKG_VERSION"));

/// A registry image reference, normalized as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// The registry as references name it, lowercased: `docker.io`, `ghcr.io`,
    /// `127.0.0.1:5000`, `[::1]:5000`.
    pub domain: String,
    /// The repository path, `library/` included for Docker Hub's official images.
    pub repository: String,
    /// `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// `sha256:…` (or `sha512:…`); it wins over the tag when both are given.
    pub digest: Option<String>,
}

impl RegistryRef {
    /// Parses `[HOST[:PORT]/]NAME[:TAG][@DIGEST]`. The first component is a host when it holds
    /// a `.` or a `:`, is `localhost`, or has capitals; otherwise the registry is Docker Hub
    /// and one-component names get `library/`.
    pub fn parse(text: &str) -> Result<RegistryRef, String> {
        let bad = |why: &str| Err(format!("`{text}` is not a registry reference: {why}"));
        // `registry://host/x` reaches us as `//host/x`.
        let body = text.strip_prefix("//").unwrap_or(text);
        if body.is_empty() {
            return bad("it is empty");
        }
        if body.len() > 4096 || body.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return bad("it holds whitespace or control characters, or is too long");
        }
        let (name_tag, digest) = match body.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if let Some(d) = digest
            && let Err(why) = check_digest(d)
        {
            return bad(&why);
        }
        let (domain, rest) = match name_tag.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest)
            }
            _ => (registry_auth::DOCKER_HUB.to_string(), name_tag),
        };
        let domain = domain.to_ascii_lowercase();
        if let Err(why) = check_domain(&domain) {
            return bad(&why);
        }
        let domain = match domain.as_str() {
            "index.docker.io" => registry_auth::DOCKER_HUB.to_string(),
            _ => domain,
        };
        // With the host gone, a `:` can only start the tag.
        let (name, tag) = match rest.rsplit_once(':') {
            Some((n, t)) => (n, Some(t)),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return bad(&format!("tag `{t}` must be 1-128 of [A-Za-z0-9_.-], not starting with `.` or `-`"));
        }
        if let Err(why) = check_name(name) {
            return bad(&why);
        }
        let repository = if domain == registry_auth::DOCKER_HUB && !name.contains('/') {
            format!("library/{name}")
        } else {
            name.into()
        };
        if domain.len() + 1 + repository.len() > 255 {
            return bad("the name is longer than 255 characters");
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(RegistryRef { domain, repository, tag, digest: digest.map(str::to_string) })
    }

    /// The host the API is served from.
    pub fn endpoint(&self) -> &str {
        if self.domain == registry_auth::DOCKER_HUB { DOCKER_HUB_ENDPOINT } else { &self.domain }
    }

    /// What goes after `/manifests/`: the digest if given, else the tag.
    pub fn reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// `localhost`, `127.0.0.0/8` and `[::1]` (with any port): plain HTTP is always allowed there.
    pub fn is_loopback(&self) -> bool {
        let host = host_part(&self.domain);
        if host == "localhost" {
            return true;
        }
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Docker's short form, as `docker images` and `RepoTags` show it: `alpine:3.19`,
    /// `127.0.0.1:5000/app:1`, `name@sha256:…` without a tag.
    pub fn familiar(&self) -> String {
        let name = if self.domain == registry_auth::DOCKER_HUB {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_string()
        } else {
            format!("{}/{}", self.domain, self.repository)
        };
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{name}:{t}"),
            (None, Some(d)) => format!("{name}@{d}"),
            (None, None) => name,
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Parses a bare reference (`NAME:TAG`, `HOST:PORT/NAME:TAG`, `NAME@sha256:…`) with Docker's
/// normalization; the CLI uses it when the engine does not have the image.
pub fn parse_reference(text: &str) -> Result<RegistryRef, String> {
    RegistryRef::parse(text)
}

fn host_part(domain: &str) -> &str {
    if domain.starts_with('[') {
        return domain.find(']').map_or(domain, |end| &domain[..=end]);
    }
    domain.split(':').next().unwrap_or(domain)
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unterminated `[` in the registry host")?;
        ip.parse::<Ipv6Addr>().map_err(|_| format!("`[{ip}]` is not an IPv6 address"))?;
        match after {
            "" => ("", None),
            p => ("", Some(p.strip_prefix(':').ok_or("junk after `]` in the registry host")?)),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !domain.starts_with('[') && !host.split('.').all(label_ok) {
        return Err(format!("`{domain}` is not a valid registry host"));
    }
    if let Some(p) = port
        && !(p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0))
    {
        return Err(format!("`{p}` is not a port"));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    for component in name.split('/') {
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!("repository name `{name}` must be lowercase"));
        }
        if !valid_component(component) {
            return Err(format!(
                "`{component}` is not a valid name component (lowercase letters and digits, \
                 separated by `.`, `_`, `__` or dashes)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, the distribution spec's path component.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        if !(sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&x| x == b'-')) {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha512,
}

/// Validates `algorithm:hex`. Digests end up in URL paths, so this is also what keeps
/// `../` and query strings out of them.
fn check_digest(d: &str) -> Result<Algorithm, String> {
    let (alg, hex) = d.split_once(':').ok_or_else(|| format!("digest `{d}` has no `algorithm:`"))?;
    let (algorithm, len) = match alg {
        "sha256" => (Algorithm::Sha256, 64),
        "sha512" => (Algorithm::Sha512, 128),
        _ => return Err(format!("digest `{d}`: unsupported algorithm `{alg}`")),
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("digest `{d}` is not {len} lowercase hex digits"));
    }
    Ok(algorithm)
}

#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn digest(&self) -> String {
        let (alg, bytes) = match self.clone() {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{alg}:{hex}")
    }
}

fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> String {
    let mut h = Hasher::new(algorithm);
    h.update(bytes);
    h.digest()
}

/// Which way layers are merged (see the `layers` module docs for the trade-offs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerOrder {
    /// Every layer is downloaded, base first.
    BottomUp,
    /// Top layer first; lower layers that cannot change any answer are never downloaded.
    TopDown,
}

/// Knobs for one registry source; `Default` is what the CLI uses.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Where `config.json` lives; `None` means `$DOCKER_CONFIG`, else `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// Tries per request (the first one included) on connection errors, 429 and 5xx.
    pub attempts: u32,
    /// Wait before the first retry; doubles on each further one.
    pub backoff: Duration,
    /// A `Retry-After` up to this long is honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    pub connect_timeout: Duration,
    /// For the response headers, and for each read of a body (so a stalled layer fails).
    pub read_timeout: Duration,
    /// Cap for manifests, indexes, config blobs and token responses.
    pub max_document_bytes: u64,
    pub order: LayerOrder,
}

impl Default for RegistrySettings {
    fn default() -> RegistrySettings {
        RegistrySettings {
            docker_config_dir: None,
            attempts: 4,
            backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_document_bytes: 4 << 20,
            order: LayerOrder::BottomUp,
        }
    }
}

/// A descriptor from a manifest, checked.
#[derive(Debug, Clone)]
struct Descriptor {
    media_type: Option<String>,
    digest: String,
    algorithm: Algorithm,
    size: Option<u64>,
}

/// An image in a registry, resolved to one manifest whose config has been read.
pub struct Registry {
    client: Arc<Client>,
    config: ImageConfig,
    layers: Vec<Descriptor>,
    /// The config's `rootfs.diff_ids`, one per layer when the config is well formed.
    diff_ids: Vec<String>,
    merge: MergeOptions,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("reference", &self.client.reference.to_string())
            .field("base", &self.client.base)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Resolves the reference to a manifest (choosing `options.platform` from an index) and
    /// reads the config blob, so that a missing image or a refused login fails here.
    pub fn open(image: &ImageRef, options: &SourceOptions) -> Result<Registry, InspectError> {
        Registry::open_with(image, options, RegistrySettings::default())
    }

    /// `open` with explicit settings: where credentials live, retry and timeout bounds,
    /// layer order.
    pub fn open_with(
        image: &ImageRef,
        options: &SourceOptions,
        settings: RegistrySettings,
    ) -> Result<Registry, InspectError> {
        let name = image.original.clone();
        let reference = RegistryRef::parse(&image.location)
            .map_err(|message| InspectError::Invalid { image: name.clone(), message })?;
        // Loopback registries are plain HTTP in practice (Docker treats them as insecure);
        // `--insecure` elsewhere means "maybe self-signed, maybe plain": HTTPS without
        // verification first, then HTTP.
        let schemes: &[Scheme] = if reference.is_loopback() {
            &[Scheme::Http]
        } else if options.insecure {
            &[Scheme::HttpsUnverified, Scheme::Http]
        } else {
            &[Scheme::Https]
        };
        let mut failures = Vec::new();
        for (i, scheme) in schemes.iter().enumerate() {
            let client = Arc::new(Client::new(name.clone(), reference.clone(), *scheme, settings.clone()));
            match Registry::resolve(client, options) {
                Err(InspectError::Unreachable { endpoint, message, .. }) if i + 1 < schemes.len() => {
                    failures.push(format!("{endpoint}: {message}"));
                }
                Err(InspectError::Unreachable { image, endpoint, message }) if !failures.is_empty() => {
                    failures.push(format!("{endpoint}: {message}"));
                    return Err(InspectError::Unreachable { image, endpoint, message: failures.join("; then ") });
                }
                Err(InspectError::Unreachable { image, endpoint, message }) if *scheme == Scheme::Https => {
                    let message = format!("{message} (HTTPS; use --insecure for a plain-HTTP registry)");
                    return Err(InspectError::Unreachable { image, endpoint, message });
                }
                other => return other,
            }
        }
        Err(InspectError::Invalid { image: name, message: "no URL scheme to try".into() })
    }

    fn resolve(client: Arc<Client>, options: &SourceOptions) -> Result<Registry, InspectError> {
        let reference = client.reference.reference().to_string();
        let Fetched { kind, doc: top, digest: top_digest } = client.fetch_manifest(&reference)?;
        let mut platforms = Vec::new();
        let manifest = match kind {
            ManifestKind::Manifest => top,
            ManifestKind::Index => {
                platforms = index_platforms(&top);
                let Some(entry) = select_platform(&top, &options.platform) else {
                    return Err(InspectError::NoPlatform {
                        image: client.image.clone(),
                        platform: options.platform.to_string(),
                        offered: if platforms.is_empty() { "no platforms".into() } else { platforms.join(", ") },
                    });
                };
                let child = client.descriptor(entry, "index entry")?;
                let fetched = client.fetch_manifest(&child.digest)?;
                if fetched.kind != ManifestKind::Manifest {
                    return Err(client.invalid(format!(
                        "the index entry for {} ({}) is itself an index; nested indexes are not supported",
                        options.platform, child.digest
                    )));
                }
                fetched.doc
            }
        };

        let config_desc = manifest
            .get("config")
            .ok_or_else(|| client.invalid(format!("manifest {top_digest} has no `config`")))
            .and_then(|c| client.descriptor(c, "config"))?;
        if let Some(mt) = &config_desc.media_type
            && mt != media::OCI_CONFIG
            && mt != media::DOCKER_CONFIG
        {
            return Err(InspectError::UnsupportedMediaType { image: client.image.clone(), media_type: mt.clone() });
        }
        let layers = manifest
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| client.invalid(format!("manifest {top_digest} has no `layers` list")))?
            .iter()
            .map(|l| client.descriptor(l, "layer"))
            .collect::<Result<Vec<_>, _>>()?;
        for layer in &layers {
            if let Some(mt) = &layer.media_type
                && media::layer_compression(mt).is_none()
            {
                return Err(InspectError::UnsupportedMediaType { image: client.image.clone(), media_type: mt.clone() });
            }
        }

        let bytes = client.fetch_blob_small(&config_desc)?;
        let mut config = ImageConfig::from_config_json(&bytes, &config_desc.digest)
            .map_err(|e| client.invalid(format!("config blob {}: {e}", config_desc.digest)))?;
        config.source = "registry".into();
        // For an index this is the index's digest: what the reference names and what Docker
        // records in `RepoDigests`.
        config.manifest_digest = Some(top_digest);
        config.repo_tags = vec![client.reference.familiar()];
        config.platforms = platforms;
        config.layers = layers
            .iter()
            .map(|l| LayerInfo { digest: l.digest.clone(), size: l.size, media_type: l.media_type.clone() })
            .collect();
        let diff_ids = crate::inspect::image::diff_ids(&bytes);
        Ok(Registry { client, config, layers, diff_ids, merge: options.merge.clone() })
    }

    /// The normalized reference.
    pub fn reference(&self) -> &RegistryRef {
        &self.client.reference
    }

    /// The base URL requests go to (`https://registry-1.docker.io`).
    pub fn base_url(&self) -> &str {
        &self.client.base
    }

    /// What credential lookup skipped (a missing helper…), once a 401 made it look.
    pub fn notes(&self) -> Vec<String> {
        self.client.notes()
    }

    /// Streams the layer blobs into the merger. Blobs are requested lazily, one at a time, so
    /// top-down reading never downloads the layers it does not need.
    pub fn read_view(&mut self, query: &PathQuery) -> Result<MergedView, InspectError> {
        let mut inputs: Vec<LayerInput> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let hint = d.media_type.as_deref().and_then(media::layer_compression);
                let reader = BlobReader::new(Arc::clone(&self.client), d.clone());
                // The blob reader checks the descriptor's digest; the merger checks the diff_id.
                let expected = Expected {
                    blob: None,
                    diff_id: (self.diff_ids.len() == self.layers.len()).then(|| self.diff_ids[i].clone()),
                };
                LayerInput::new(d.digest.clone(), Box::new(reader)).with_hint(hint).with_expected(expected)
            })
            .collect();
        let merged = match self.client.settings.order {
            LayerOrder::BottomUp => merge_layers(inputs, query, &self.merge),
            LayerOrder::TopDown => {
                inputs.reverse();
                merge_top_down(inputs, query, &self.merge)
            }
        };
        let mut view = merged.map_err(|source| InspectError::Layer { image: self.client.image.clone(), source })?;
        view.warnings.extend(self.client.notes());
        Ok(view)
    }
}

impl ImageSource for Registry {
    fn config(&mut self) -> Result<ImageConfig, InspectError> {
        Ok(self.config.clone())
    }

    fn read_paths(&mut self, query: &PathQuery) -> Result<Box<dyn FileTree>, InspectError> {
        Ok(Box::new(self.read_view(query)?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
    HttpsUnverified,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ManifestKind {
    Index,
    Manifest,
}

struct Fetched {
    kind: ManifestKind,
    doc: Value,
    digest: String,
}

#[derive(Debug, Clone)]
enum AuthState {
    Anonymous,
    /// The full `Authorization` value.
    Header(String),
}

/// The HTTP side, shared by the source and its lazily opened blob readers.
struct Client {
    agent: Agent,
    /// Names the image in every error.
    image: String,
    reference: RegistryRef,
    /// `https://host[:port]`.
    base: String,
    plain_ok: bool,
    settings: RegistrySettings,
    auth: Mutex<AuthState>,
    /// Looked up at the first 401 only, so anonymous pulls never run a credential helper.
    credentials: Mutex<Option<CredentialLookup>>,
}

/// How one request ended once its transport-level retries were spent.
enum Outcome {
    Response(Response<Body>),
    /// Gave up on transport errors or on 429 / 5xx; the message says why.
    Unreachable(String),
}

impl Client {
    fn new(image: String, reference: RegistryRef, scheme: Scheme, settings: RegistrySettings) -> Client {
        // Plain HTTP was allowed (loopback or `--insecure`) whenever HTTPS is not verified.
        let plain_ok = scheme != Scheme::Https;
        let mut config = Agent::config_builder()
            .http_status_as_error(false)
            .https_only(!plain_ok)
            .max_redirects(5)
            .user_agent(USER_AGENT)
            // Layer digests are over the bytes as stored; no transparent decoding.
            .accept_encoding("")
            .timeout_connect(Some(settings.connect_timeout))
            .timeout_recv_response(Some(settings.read_timeout))
            .timeout_per_read(Some(settings.read_timeout));
        if reference.is_loopback() {
            // A proxy from the environment cannot reach our loopback.
            config = config.proxy(None);
        }
        if scheme == Scheme::HttpsUnverified {
            config = config.tls_config(ureq::tls::TlsConfig::builder().disable_verification(true).build());
        }
        let base = match scheme {
            Scheme::Http => format!("http://{}", reference.endpoint()),
            Scheme::Https | Scheme::HttpsUnverified => format!("https://{}", reference.endpoint()),
        };
        Client {
            agent: config.build().new_agent(),
            image,
            reference,
            base,
            plain_ok,
            settings,
            auth: Mutex::new(AuthState::Anonymous),
            credentials: Mutex::new(None),
        }
    }

    fn invalid(&self, message: String) -> InspectError {
        InspectError::Invalid { image: self.image.clone(), message }
    }

    fn unreachable(&self, endpoint: &str, message: String) -> InspectError {
        InspectError::Unreachable { image: self.image.clone(), endpoint: endpoint.to_string(), message }
    }

    fn notes(&self) -> Vec<String> {
        lock(&self.credentials).as_ref().map(|l| l.notes.clone()).unwrap_or_default()
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.base, self.reference.repository)
    }

    fn descriptor(&self, value: &Value, what: &str) -> Result<Descriptor, InspectError> {
        let digest = value
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid(format!("{what} descriptor has no digest")))?;
        let algorithm = check_digest(digest).map_err(|e| self.invalid(format!("{what} descriptor: {e}")))?;
        Ok(Descriptor {
            media_type: value.get("mediaType").and_then(Value::as_str).map(str::to_string),
            digest: digest.to_string(),
            algorithm,
            size: value.get("size").and_then(Value::as_u64),
        })
    }

    /// One request with the transport-level retries: connection errors, 429 and 5xx are
    /// retried with exponential backoff; every other response is handed back.
    fn send(&self, url: &str, headers: &[(&str, String)]) -> Outcome {
        let mut wait = self.settings.backoff;
        let attempts = self.settings.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let mut request = self.agent.get(url);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let pause = match request.call() {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if status != 429 && !(500..=599).contains(&status) {
                        return Outcome::Response(response);
                    }
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    last = format!("HTTP {status}{}", error_message(response));
                    match retry_after {
                        Some(d) if d > self.settings.max_retry_after => {
                            return Outcome::Unreachable(format!(
                                "{last}; the registry asks to retry after {}s",
                                d.as_secs()
                            ));
                        }
                        Some(d) => d,
                        None => wait,
                    }
                }
                Err(e) => {
                    last = describe(&e);
                    if !transient(&e) {
                        return Outcome::Unreachable(last);
                    }
                    wait
                }
            };
            if attempt < attempts {
                std::thread::sleep(pause);
                wait = wait.saturating_mul(2);
            }
        }
        Outcome::Unreachable(format!("{last} (gave up after {attempts} tries)"))
    }

    /// A registry API GET: adds our authorization, answers one 401 by authenticating, maps
    /// error statuses to `InspectError`s. `Ok` responses are 2xx.
    fn get(&self, url: &str, mut headers: Vec<(&'static str, String)>) -> Result<Response<Body>, InspectError> {
        let fixed = headers.len();
        let mut authenticated = false;
        loop {
            headers.truncate(fixed);
            if let AuthState::Header(value) = lock(&self.auth).clone() {
                headers.push(("Authorization", value));
            }
            let response = match self.send(url, &headers) {
                Outcome::Response(r) => r,
                Outcome::Unreachable(message) => return Err(self.unreachable(url, message)),
            };
            let status = response.status().as_u16();
            match status {
                200..=299 => return Ok(response),
                401 if !authenticated => {
                    authenticated = true;
                    let challenges: Vec<Challenge> = response
                        .headers()
                        .get_all("www-authenticate")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(registry_auth::parse_www_authenticate)
                        .collect();
                    let body = error_message(response);
                    self.authenticate(url, &challenges, &body)?;
                }
                401 | 403 => {
                    let body = error_message(response);
                    return Err(InspectError::Unauthorized {
                        image: self.image.clone(),
                        endpoint: url.to_string(),
                        status,
                        message: format!("access denied{body}{}", self.credential_summary()),
                    });
                }
                404 => {
                    let body = error_message(response);
                    return Err(InspectError::NotFound {
                        image: self.image.clone(),
                        message: format!("GET {url}: HTTP 404{body}"),
                    });
                }
                _ => {
                    let body = error_message(response);
                    return Err(self.invalid(format!("GET {url}: unexpected HTTP {status}{body}")));
                }
            }
        }
    }

    /// Explains which credentials were (not) used, for 401 / 403 messages.
    fn credential_summary(&self) -> String {
        let guard = lock(&self.credentials);
        let Some(lookup) = guard.as_ref() else { return String::new() };
        let mut s = match (&lookup.credentials, &lookup.origin) {
            (Some(c), Some(origin)) => format!(" (sent user `{}` from {origin})", c.username),
            _ => format!(" (no credentials for {} in {})", self.reference.domain, self.config_dir_shown()),
        };
        for note in &lookup.notes {
            s.push_str("; ");
            s.push_str(note);
        }
        s
    }

    fn config_dir(&self) -> Option<PathBuf> {
        self.settings.docker_config_dir.clone().or_else(registry_auth::docker_config_dir)
    }

    fn config_dir_shown(&self) -> String {
        self.config_dir().map_or("the Docker config (no $DOCKER_CONFIG or $HOME)".into(), |d| {
            d.join("config.json").display().to_string()
        })
    }

    fn lookup_credentials(&self) -> Option<Credentials> {
        let mut guard = lock(&self.credentials);
        if guard.is_none() {
            let lookup = match self.config_dir() {
                Some(dir) => registry_auth::lookup_credentials(&dir, &self.reference.domain),
                None => CredentialLookup::default(),
            };
            *guard = Some(lookup);
        }
        guard.as_ref().and_then(|l| l.credentials.clone())
    }

    /// Answers a 401: a bearer token from the realm (with our credentials when we have
    /// some), or basic auth.
    fn authenticate(&self, url: &str, challenges: &[Challenge], body: &str) -> Result<(), InspectError> {
        let credentials = self.lookup_credentials();
        let refused = |message: String| InspectError::Unauthorized {
            image: self.image.clone(),
            endpoint: url.to_string(),
            status: 401,
            message,
        };
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.fetch_token(bearer, credentials.as_ref())?;
            *lock(&self.auth) = AuthState::Header(format!("Bearer {token}"));
            return Ok(());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let Some(c) = credentials else {
                return Err(refused(format!("the registry wants a login{body}{}", self.credential_summary())));
            };
            *lock(&self.auth) = AuthState::Header(c.basic_header());
            return Ok(());
        }
        let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(refused(format!(
            "HTTP 401 without a bearer or basic challenge (offered: {}){body}",
            if offered.is_empty() { "none".to_string() } else { offered.join(", ") }
        )))
    }

    fn fetch_token(&self, challenge: &Challenge, credentials: Option<&Credentials>) -> Result<String, InspectError> {
        let realm = challenge.param("realm").unwrap_or("");
        let bad_realm = |why: &str| self.invalid(format!("bearer challenge realm `{realm}` {why}"));
        let realm_plain = realm.starts_with("http://");
        if !(realm_plain || realm.starts_with("https://")) {
            return Err(bad_realm("is not an http(s) URL"));
        }
        if realm.contains(['#', ' ']) {
            return Err(bad_realm("is not a usable URL"));
        }
        if realm_plain && !self.plain_ok {
            // Never trade credentials (or a token) over plain HTTP unless plain HTTP was allowed.
            return Err(bad_realm("is plain HTTP; use --insecure to allow it"));
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(service) = challenge.param("service") {
            url.push(sep);
            url.push_str("service=");
            url.push_str(&percent_encode(service));
            sep = '&';
        }
        let default_scope = format!("repository:{}:pull", self.reference.repository);
        let scopes = challenge.param("scope").unwrap_or(&default_scope);
        for scope in scopes.split_whitespace() {
            url.push(sep);
            url.push_str("scope=");
            url.push_str(&percent_encode(scope));
            sep = '&';
        }
        let mut headers = vec![("Accept", "application/json".to_string())];
        if let Some(c) = credentials {
            headers.push(("Authorization", c.basic_header()));
        }
        let response = match self.send(&url, &headers) {
            Outcome::Response(r) => r,
            Outcome::Unreachable(message) => return Err(self.unreachable(&url, message)),
        };
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            let body = error_message(response);
            return Err(InspectError::Unauthorized {
                image: self.image.clone(),
                endpoint: url,
                status,
                message: format!("the token service refused{body}{}", self.credential_summary()),
            });
        }
        if !(200..=299).contains(&status) {
            let body = error_message(response);
            return Err(self.invalid(format!("GET {url}: token service answered HTTP {status}{body}")));
        }
        let bytes = read_capped(response.into_body(), self.settings.max_document_bytes)
            .map_err(|e| self.unreachable(&url, format!("reading the token: {e}")))?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(format!("GET {url}: the token response is not JSON ({e})")))?;
        let token = ["token", "access_token"]
            .iter()
            .filter_map(|k| doc.get(*k).and_then(Value::as_str))
            .find(|t| !t.is_empty())
            .ok_or_else(|| self.invalid(format!("GET {url}: the token response has no `token`")))?;
        if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(self.invalid(format!("GET {url}: the token holds characters a header cannot carry")));
        }
        Ok(token.to_string())
    }

    /// Fetches a manifest or index by tag or digest, checks its digest, and classifies it.
    fn fetch_manifest(&self, reference: &str) -> Result<Fetched, InspectError> {
        let url = self.url("manifests", reference);
        let (headers, bytes) = self.fetch_small(&url, Some(MANIFEST_ACCEPT), None)?;
        let header_digest = headers.get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::trim);
        let digest = if let Ok(algorithm) = check_digest(reference) {
            let actual = digest_of(algorithm, &bytes);
            if actual != reference {
                return Err(self.invalid(format!("GET {url}: the manifest's bytes hash to {actual}")));
            }
            actual
        } else {
            let actual = digest_of(Algorithm::Sha256, &bytes);
            match header_digest {
                Some(h) if h.starts_with("sha256:") && h != actual => {
                    return Err(self.invalid(format!(
                        "GET {url}: Docker-Content-Digest says {h} but the manifest's bytes hash to {actual}"
                    )));
                }
                _ => actual,
            }
        };
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(format!("GET {url}: the manifest is not JSON ({e})")))?;
        if !doc.is_object() {
            return Err(self.invalid(format!("GET {url}: the manifest is not a JSON object")));
        }
        let kind = self.classify(&url, &content_type, &doc)?;
        Ok(Fetched { kind, doc, digest })
    }

    fn classify(&self, url: &str, content_type: &str, doc: &Value) -> Result<ManifestKind, InspectError> {
        let declared = doc.get("mediaType").and_then(Value::as_str).unwrap_or("");
        let schema = doc.get("schemaVersion").and_then(Value::as_u64);
        let generic = matches!(content_type, "" | "application/json" | "text/plain" | "application/octet-stream");
        let media_type = if generic { declared } else { content_type };
        if SCHEMA1.contains(&media_type) || schema == Some(1) {
            return Err(self.invalid(format!(
                "GET {url}: a Docker schema 1 manifest, which is not supported (deprecated since 2017; \
                 re-push the image with a current client)"
            )));
        }
        let kind = match media_type {
            media::OCI_INDEX | media::DOCKER_LIST => ManifestKind::Index,
            media::OCI_MANIFEST | media::DOCKER_MANIFEST => ManifestKind::Manifest,
            // An OCI document may leave `mediaType` out; its shape tells.
            "" if doc.get("manifests").is_some_and(Value::is_array) => ManifestKind::Index,
            "" if doc.get("config").is_some() && doc.get("layers").is_some() => ManifestKind::Manifest,
            "" => {
                return Err(self.invalid(format!("GET {url}: the document is neither an image manifest nor an index")));
            }
            other => {
                return Err(InspectError::UnsupportedMediaType {
                    image: self.image.clone(),
                    media_type: other.to_string(),
                });
            }
        };
        if schema != Some(2) {
            return Err(self.invalid(format!("GET {url}: schemaVersion is {schema:?}, expected 2")));
        }
        Ok(kind)
    }

    /// Fetches the config blob (capped) and checks its size and digest.
    fn fetch_blob_small(&self, d: &Descriptor) -> Result<Vec<u8>, InspectError> {
        let url = self.url("blobs", &d.digest);
        let cap = self.settings.max_document_bytes;
        if let Some(size) = d.size
            && size > cap
        {
            return Err(self.invalid(format!("{url}: the blob is {size} bytes, more than the {cap}-byte cap")));
        }
        let (_, bytes) = self.fetch_small(&url, None, Some(cap))?;
        if let Some(size) = d.size
            && size != bytes.len() as u64
        {
            return Err(self.invalid(format!("GET {url}: got {} bytes, the manifest says {size}", bytes.len())));
        }
        let actual = digest_of(d.algorithm, &bytes);
        if actual != d.digest {
            return Err(self.invalid(format!("GET {url}: the blob's bytes hash to {actual}")));
        }
        Ok(bytes)
    }

    /// GETs a small document whole, re-requesting it when the body breaks off.
    fn fetch_small(
        &self,
        url: &str,
        accept: Option<&str>,
        cap: Option<u64>,
    ) -> Result<(HeaderMap, Vec<u8>), InspectError> {
        let cap = cap.unwrap_or(self.settings.max_document_bytes);
        let attempts = self.settings.attempts.max(1);
        let mut wait = self.settings.backoff;
        let mut attempt = 1;
        loop {
            let headers = accept.map(|a| vec![("Accept", a.to_string())]).unwrap_or_default();
            let response = self.get(url, headers)?;
            let (parts, body) = response.into_parts();
            match read_capped(body, cap) {
                Ok(bytes) => return Ok((parts.headers, bytes)),
                Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                    return Err(self.invalid(format!("GET {url}: {e}")));
                }
                Err(_) if attempt < attempts => {
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => return Err(self.unreachable(url, format!("reading the response failed: {e}"))),
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read_capped(body: Body, cap: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    body.into_reader().take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("the response is larger than {cap} bytes")));
    }
    Ok(bytes)
}

/// `": CODE: message"` from a registry error body (`{"errors":[{"code":…,"message":…}]}`),
/// else the start of the text; empty when there is nothing useful. Drains the body so that
/// the connection can be reused.
fn error_message(response: Response<Body>) -> String {
    let mut bytes = Vec::new();
    let _ = response.into_body().into_reader().take(MAX_ERROR_BODY).read_to_end(&mut bytes);
    if let Ok(doc) = serde_json::from_slice::<Value>(&bytes)
        && let Some(errors) = doc.get("errors").and_then(Value::as_array)
    {
        let parts: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| {
                let code = e.get("code").and_then(Value::as_str).unwrap_or("");
                let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                match (code.is_empty(), message.is_empty()) {
                    (false, false) => format!("{code}: {message}"),
                    (false, true) => code.to_string(),
                    _ => message.to_string(),
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return format!(": {}", parts.join("; "));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
    if text.is_empty() { String::new() } else { format!(": {text}") }
}

fn transient(e: &ureq::Error) -> bool {
    match e {
        // rustls reports protocol failures (a plain-HTTP server, a bad certificate) as
        // `InvalidData`: asking again gives the same answer.
        ureq::Error::Io(io) => io.kind() != io::ErrorKind::InvalidData,
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::BodyStalled => true,
        _ => false,
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::RequireHttpsOnly(url) => {
            format!("refusing plain HTTP to {url} (use --insecure to allow it)")
        }
        other => other.to_string(),
    }
}

/// RFC 3986 query-component encoding; only unreserved characters stay as they are.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One layer blob as a `Read`: requested on the first read, hashed as it streams, resumed
/// with a `Range` request when the connection breaks, and checked against the descriptor's
/// size and digest at the end, so a bad blob surfaces as a read error of that layer.
struct BlobReader {
    client: Arc<Client>,
    descriptor: Descriptor,
    url: String,
    body: Option<ureq::BodyReader<'static>>,
    /// Bytes handed to the caller so far, all of them hashed.
    delivered: u64,
    hasher: Hasher,
    /// Re-requests after the stream broke off.
    resumes: u32,
    done: bool,
}

impl BlobReader {
    fn new(client: Arc<Client>, descriptor: Descriptor) -> BlobReader {
        let url = client.url("blobs", &descriptor.digest);
        let hasher = Hasher::new(descriptor.algorithm);
        BlobReader { client, descriptor, url, body: None, delivered: 0, hasher, resumes: 0, done: false }
    }

    fn fail(&self, kind: io::ErrorKind, message: String) -> io::Error {
        io::Error::new(kind, format!("GET {}: {message}", self.url))
    }

    /// Opens the body at `delivered`: `Range` when resuming, falling back to skipping
    /// (and re-checking) the prefix if the server sends the whole blob.
    fn open(&mut self) -> io::Result<()> {
        let mut headers = Vec::new();
        if self.delivered > 0 {
            headers.push(("Range", format!("bytes={}-", self.delivered)));
        }
        let response = self.client.get(&self.url, headers).map_err(|e| {
            let text = e.to_string();
            let prefix = format!("{}: ", self.client.image);
            io::Error::other(text.strip_prefix(&prefix).unwrap_or(&text).to_string())
        })?;
        let status = response.status().as_u16();
        let content_range = response.headers().get("content-range").and_then(|v| v.to_str().ok()).map(str::to_string);
        let length = response.body().content_length();
        let mut body = response.into_body().into_reader();
        if self.delivered > 0 && status == 206 {
            let start = content_range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes "))
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.trim().parse::<u64>().ok());
            if start != Some(self.delivered) {
                return Err(self.fail(
                    io::ErrorKind::InvalidData,
                    format!("asked to resume at byte {} but got range {content_range:?}", self.delivered),
                ));
            }
        } else {
            if let (Some(size), Some(len)) = (self.descriptor.size, length)
                && len != size
            {
                return Err(self.fail(
                    io::ErrorKind::InvalidData,
                    format!("Content-Length is {len} but the manifest says {size} bytes"),
                ));
            }
            if self.delivered > 0 {
                // The server ignored `Range`: read the prefix again and make sure it is the
                // same as what was already handed on.
                let mut again = Hasher::new(self.descriptor.algorithm);
                let mut left = self.delivered;
                let mut buf = vec![0u8; 64 << 10];
                while left > 0 {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = body.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(self.fail(io::ErrorKind::UnexpectedEof, "the blob ended early again".into()));
                    }
                    again.update(&buf[..n]);
                    left -= n as u64;
                }
                if again.digest() != self.hasher.digest() {
                    return Err(self.fail(io::ErrorKind::InvalidData, "the blob changed between requests".into()));
                }
            }
        }
        self.body = Some(body);
        Ok(())
    }

    /// A break that a new request may fix: a transport error, or an early end when the
    /// size is known.
    fn retry_or(&mut self, error: io::Error) -> io::Result<()> {
        self.body = None;
        if self.resumes + 1 >= self.client.settings.attempts.max(1) {
            return Err(self.fail(
                error.kind(),
                format!("{error} (after {} resumed requests, {} bytes read)", self.resumes, self.delivered),
            ));
        }
        self.resumes += 1;
        let wait = self.client.settings.backoff.saturating_mul(1 << self.resumes.min(16).saturating_sub(1));
        std::thread::sleep(wait);
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        self.body = None;
        if let Some(size) = self.descriptor.size
            && self.delivered != size
        {
            return Err(self.fail(
                io::ErrorKind::UnexpectedEof,
                format!("the blob ended after {} of {size} bytes", self.delivered),
            ));
        }
        let actual = self.hasher.digest();
        if actual != self.descriptor.digest {
            return Err(self.fail(io::ErrorKind::InvalidData, format!("the blob's bytes hash to {actual}")));
        }
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.body.is_none() {
                self.open()?;
            }
            let Some(body) = self.body.as_mut() else { continue };
            match body.read(buf) {
                Ok(0) => {
                    let short = self.descriptor.size.is_some_and(|size| self.delivered < size);
                    if short {
                        let error = io::Error::new(io::ErrorKind::UnexpectedEof, "the connection ended early");
                        self.retry_or(error)?;
                        continue;
                    }
                    self.finish()?;
                    return Ok(0);
                }
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.delivered += n as u64;
                    if let Some(size) = self.descriptor.size
                        && self.delivered > size
                    {
                        self.done = true;
                        self.body = None;
                        return Err(self.fail(
                            io::ErrorKind::InvalidData,
                            format!("the blob is longer than the {size} bytes the manifest says"),
                        ));
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.retry_or(e)?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::image::Platform;
    use crate::inspect::layers::EntryKind;
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    fn parsed(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = RegistryRef::parse(text).unwrap_or_else(|e| panic!("{e}"));
        (r.domain, r.repository, r.tag, r.digest)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_docker_hub_references() {
        assert_eq!(parsed("alpine"), ("docker.io".into(), "library/alpine".into(), s("latest"), None));
        assert_eq!(parsed("alpine:3.19"), ("docker.io".into(), "library/alpine".into(), s("3.19"), None));
        assert_eq!(parsed("airbyte/source-x:1.0"), ("docker.io".into(), "airbyte/source-x".into(), s("1.0"), None));
        assert_eq!(parsed("docker.io/alpine"), ("docker.io".into(), "library/alpine".into(), s("latest"), None));
        assert_eq!(parsed("index.docker.io/library/alpine:1").0, "docker.io");
        let r = RegistryRef::parse("alpine").unwrap();
        assert_eq!(
            (r.endpoint(), r.familiar(), r.to_string()),
            (DOCKER_HUB_ENDPOINT, "alpine:latest".into(), "docker.io/library/alpine:latest".into())
        );
        assert!(!r.is_loopback());
    }

    #[test]
    fn parses_hosts_ports_and_digests() {
        assert_eq!(parsed("localhost/app"), ("localhost".into(), "app".into(), s("latest"), None));
        assert_eq!(parsed("localhost:5000/a/b:v1"), ("localhost:5000".into(), "a/b".into(), s("v1"), None));
        assert_eq!(parsed("127.0.0.1:5000/x:1"), ("127.0.0.1:5000".into(), "x".into(), s("1"), None));
        assert_eq!(parsed("ghcr.io/o/r/deep/name:t").1, "o/r/deep/name");
        assert_eq!(parsed("[::1]:5000/x").0, "[::1]:5000");
        assert_eq!(parsed("Registry/x").0, "registry");
        assert_eq!(parsed(&format!("x@{D}")), ("docker.io".into(), "library/x".into(), None, s(D)));
        assert_eq!(parsed(&format!("h.io/x:1@{D}")), ("h.io".into(), "x".into(), s("1"), s(D)));
        assert_eq!(parsed("//127.0.0.1:1/x").0, "127.0.0.1:1");
        assert_eq!(parsed("a/b__c.d-e--f_g:T_1.x-y").1, "a/b__c.d-e--f_g");
        let r = RegistryRef::parse(&format!("h.io/x:1@{D}")).unwrap();
        assert_eq!((r.reference(), r.familiar()), (D, "h.io/x:1".to_string()));
        let r = RegistryRef::parse(&format!("127.0.0.1:5000/x@{D}")).unwrap();
        assert_eq!(r.familiar(), format!("127.0.0.1:5000/x@{D}"));
        for (text, loopback) in [
            ("localhost:1/x", true),
            ("127.0.0.1/x", true),
            ("127.9.8.7:80/x", true),
            ("[::1]:5000/x", true),
            ("128.0.0.1/x", false),
            ("localhost.example.com/x", false),
            ("[::2]/x", false),
        ] {
            assert_eq!(RegistryRef::parse(text).unwrap().is_loopback(), loopback, "{text}");
        }
    }

    #[test]
    fn rejects_bad_references() {
        for text in [
            "",
            "Alpine",
            "x:",
            "x:-tag",
            "x@sha256:abc",
            "x@md5:0123456789abcdef0123456789abcdef",
            &format!("x@{}", D.to_uppercase()),
            "h.io/",
            "h.io//x",
            "h.io/x/",
            "a b",
            "x/../y",
            "h.io:99999/x",
            "h.io:/x",
            "-h.io/x",
            "[::1/x",
            "[zz]/x",
            "x__-y",
            "x.",
            "a/B",
            &format!("x:{}", "t".repeat(129)),
            &format!("h.io/{}", "a".repeat(300)),
        ] {
            assert!(RegistryRef::parse(text).is_err(), "{text:?} parsed");
        }
        assert!(RegistryRef::parse("Alpine").unwrap_err().contains("lowercase"));
    }

    #[test]
    fn chooses_schemes() {
        let base = |text: &str, scheme| {
            Client::new("i".into(), RegistryRef::parse(text).unwrap(), scheme, RegistrySettings::default()).base
        };
        assert_eq!(base("alpine", Scheme::Https), "https://registry-1.docker.io");
        assert_eq!(base("127.0.0.1:5000/x", Scheme::Http), "http://127.0.0.1:5000");
        assert_eq!(base("[::1]:5000/x", Scheme::Http), "http://[::1]:5000");
    }

    #[test]
    fn bearer_realm_over_plain_http_needs_insecure() {
        let client =
            Client::new("img".into(), RegistryRef::parse("reg.example/x").unwrap(), Scheme::Https, settings(None));
        let c = registry_auth::parse_www_authenticate(r#"Bearer realm="http://reg.example/token""#);
        let e = client.fetch_token(&c[0], None).unwrap_err().to_string();
        assert!(e.contains("plain HTTP"), "{e}");
        let c = registry_auth::parse_www_authenticate(r#"Bearer realm="file:///etc/passwd""#);
        assert!(client.fetch_token(&c[0], None).is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(percent_encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
        assert!(check_digest(D).is_ok());
        assert!(check_digest("sha256:../../x").is_err());
        assert_eq!(
            digest_of(Algorithm::Sha256, b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    // ---- a scripted registry on loopback ------------------------------------------------

    #[derive(Debug, Clone)]
    struct Req {
        path: String,
        headers: BTreeMap<String, String>,
    }

    impl Req {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(String::as_str)
        }
    }

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// Send only this many body bytes (Content-Length still says the whole), then close.
        cut: Option<usize>,
    }

    impl Reply {
        fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
            Reply { status, headers: Vec::new(), body: body.into(), cut: None }
        }

        fn header(mut self, name: &str, value: &str) -> Reply {
            self.headers.push((name.to_string(), value.to_string()));
            self
        }
    }

    type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

    /// Answers each request with `handler(request, how many earlier requests had this path)`.
    struct Fake {
        addr: String,
        log: Arc<Mutex<Vec<Req>>>,
    }

    impl Fake {
        fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Fake {
            Fake::start_on("127.0.0.1", handler)
        }

        fn start_on(ip: &str, handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Fake {
            let listener = TcpListener::bind((ip, 0)).unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let log = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&log);
            let handler: Arc<Handler> = Arc::new(handler);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (seen, handler) = (Arc::clone(&seen), Arc::clone(&handler));
                    std::thread::spawn(move || serve(stream, &seen, &*handler));
                }
            });
            Fake { addr, log }
        }

        fn requests(&self, path_part: &str) -> Vec<Req> {
            lock(&self.log).iter().filter(|r| r.path.contains(path_part)).cloned().collect()
        }
    }

    fn serve(stream: TcpStream, log: &Mutex<Vec<Req>>, handler: &Handler) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let req = Req { path, headers };
        let count = {
            let mut log = lock(log);
            let n = log.iter().filter(|r| r.path == req.path).count();
            log.push(req.clone());
            n
        };
        let reply = handler(&req, count);
        let mut out = stream;
        let mut head =
            format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", reply.status, reply.body.len());
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let body = &reply.body[..reply.cut.unwrap_or(reply.body.len()).min(reply.body.len())];
        let _ = out.write_all(head.as_bytes()).and_then(|()| out.write_all(body));
        let _ = out.flush();
    }

    struct FakeImage {
        manifest: Vec<u8>,
        manifest_type: String,
        blobs: BTreeMap<String, Vec<u8>>,
        layers: Vec<String>,
    }

    fn sha(bytes: &[u8]) -> String {
        digest_of(Algorithm::Sha256, bytes)
    }

    fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(if path.ends_with('/') { tar::EntryType::Directory } else { tar::EntryType::Regular });
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn fake_image(layer_media_type: &str, config_media_type: &str) -> FakeImage {
        let layers = vec![
            tar_gz(&[("etc/os-release", b"ID=fake\n"), ("etc/gone", b"x")]),
            tar_gz(&[("etc/", b""), ("etc/.wh.gone", b""), ("etc/hello", b"hi\n")]),
        ];
        let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"User":"nobody"}}"#.to_vec();
        let mut blobs = BTreeMap::new();
        let layer_descs: Vec<Value> = layers
            .iter()
            .map(|l| serde_json::json!({"mediaType": layer_media_type, "digest": sha(l), "size": l.len()}))
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": config_media_type, "digest": sha(&config), "size": config.len()},
            "layers": layer_descs,
        });
        blobs.insert(sha(&config), config);
        let layer_digests = layers.iter().map(|l| sha(l)).collect();
        for l in layers {
            blobs.insert(sha(&l), l);
        }
        FakeImage {
            manifest: serde_json::to_vec(&manifest).unwrap(),
            manifest_type: media::OCI_MANIFEST.into(),
            blobs,
            layers: layer_digests,
        }
    }

    /// The normal answers for `test/img:1`.
    fn serve_image(img: &FakeImage, req: &Req) -> Reply {
        let manifest_digest = sha(&img.manifest);
        if req.path == "/v2/test/img/manifests/1" || req.path == format!("/v2/test/img/manifests/{manifest_digest}") {
            return Reply::new(200, img.manifest.clone())
                .header("Content-Type", &img.manifest_type)
                .header("Docker-Content-Digest", &manifest_digest);
        }
        if let Some(d) = req.path.strip_prefix("/v2/test/img/blobs/")
            && let Some(blob) = img.blobs.get(d)
        {
            return Reply::new(200, blob.clone()).header("Content-Type", "application/octet-stream");
        }
        Reply::new(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#)
    }

    fn settings(config_dir: Option<PathBuf>) -> RegistrySettings {
        RegistrySettings {
            // An empty directory unless a test brings credentials: never the user's own.
            docker_config_dir: Some(
                config_dir.unwrap_or_else(|| std::env::temp_dir().join("dockvar-no-docker-config")),
            ),
            attempts: 4,
            backoff: Duration::from_millis(1),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            ..RegistrySettings::default()
        }
    }

    fn open_fake(fake: &Fake, tag: &str, settings: RegistrySettings) -> Result<Registry, InspectError> {
        let image = ImageRef::parse(&format!("registry:{}/test/img:{tag}", fake.addr));
        Registry::open_with(&image, &SourceOptions::default(), settings)
    }

    fn query() -> PathQuery {
        PathQuery::parse(["/etc/os-release", "/etc/hello", "/etc/gone"]).unwrap()
    }

    fn check_view(view: &dyn FileTree) {
        assert_eq!(view.get("/etc/os-release").and_then(|e| e.content.clone()), Some(b"ID=fake\n".to_vec()));
        assert_eq!(view.get("/etc/hello").and_then(|e| e.content.clone()), Some(b"hi\n".to_vec()));
        assert!(view.get("/etc/gone").is_none());
    }

    #[test]
    fn fake_anonymous_pull() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let manifest_digest = sha(&img.manifest);
        let fake = Fake::start(move |req, _| serve_image(&img, req));
        let mut r = open_fake(&fake, "1", settings(None)).unwrap();
        let c = r.config().unwrap();
        assert_eq!(c.source, "registry");
        assert_eq!(c.manifest_digest.as_deref(), Some(manifest_digest.as_str()));
        assert_eq!(c.repo_tags, vec![format!("{}/test/img:1", fake.addr)]);
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.layers.len(), 2);
        check_view(&*r.read_paths(&query()).unwrap());
        let manifest_req = &fake.requests("/manifests/1")[0];
        assert!(manifest_req.header("accept").unwrap().contains(media::OCI_INDEX));
        assert!(manifest_req.header("authorization").is_none());
    }

    #[test]
    fn fake_bearer_token_with_credentials_and_redirect() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let layer0 = img.layers[0].clone();
        let blob0 = img.blobs[&layer0].clone();
        let fake_addr = Arc::new(Mutex::new(String::new()));
        let addr = Arc::clone(&fake_addr);
        let fake = Fake::start(move |req, _| {
            let addr = lock(&addr).clone();
            if req.path.starts_with("/token") {
                // "u:p" from the config below.
                if req.header("authorization") != Some("Basic dTpw") {
                    return Reply::new(401, "bad login");
                }
                return Reply::new(200, r#"{"access_token":"tok-123","expires_in":300}"#);
            }
            if req.path.starts_with("/storage/") {
                // A redirected blob: no registry credentials may follow it here.
                assert!(req.header("authorization").is_none());
                return Reply::new(200, blob0.clone());
            }
            if req.header("authorization") != Some("Bearer tok-123") {
                let challenge =
                    format!(r#"Bearer realm="http://{addr}/token",service="fake",scope="repository:test/img:pull""#);
                return Reply::new(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#)
                    .header("WWW-Authenticate", &challenge);
            }
            if req.path.ends_with(&layer0) {
                return Reply::new(307, "").header("Location", &format!("http://{addr}/storage/{layer0}"));
            }
            serve_image(&img, req)
        });
        *lock(&fake_addr) = fake.addr.clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), format!(r#"{{"auths":{{"{}":{{"auth":"dTpw"}}}}}}"#, fake.addr))
            .unwrap();
        let mut r = open_fake(&fake, "1", settings(Some(dir.path().to_path_buf()))).unwrap();
        check_view(&*r.read_paths(&query()).unwrap());
        let token = &fake.requests("/token")[0];
        assert_eq!(token.path, "/token?service=fake&scope=repository%3Atest%2Fimg%3Apull");
        // One token for the whole pull.
        assert_eq!(fake.requests("/token").len(), 1);
        assert_eq!(fake.requests("/storage/").len(), 1);
    }

    #[test]
    fn fake_token_endpoint_refuses() {
        let fake_addr = Arc::new(Mutex::new(String::new()));
        let addr = Arc::clone(&fake_addr);
        let fake = Fake::start(move |req, _| {
            let addr = lock(&addr).clone();
            if req.path.starts_with("/token") {
                return Reply::new(401, r#"{"details":"incorrect username or password"}"#);
            }
            Reply::new(401, "").header("WWW-Authenticate", &format!(r#"Bearer realm="http://{addr}/token""#))
        });
        *lock(&fake_addr) = fake.addr.clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"credsStore":"nonexistent-helper","auths":{{"{}":{{"auth":"dTpw"}}}}}}"#, fake.addr),
        )
        .unwrap();
        let e = open_fake(&fake, "1", settings(Some(dir.path().to_path_buf()))).unwrap_err();
        let text = e.to_string();
        match e {
            InspectError::Unauthorized { endpoint, status, message, .. } => {
                assert_eq!(status, 401);
                assert!(endpoint.contains("/token?scope=repository%3Atest%2Fimg%3Apull"), "{endpoint}");
                assert!(message.contains("sent user `u`"), "{message}");
                assert!(message.contains("docker-credential-nonexistent-helper is not installed"), "{message}");
            }
            other => panic!("{other}"),
        }
        assert!(text.starts_with(&format!("registry:{}/test/img:1: ", fake.addr)), "{text}");
    }

    #[test]
    fn fake_basic_challenge_without_credentials() {
        let fake = Fake::start(|_, _| Reply::new(401, "").header("WWW-Authenticate", r#"Basic realm="r""#));
        match open_fake(&fake, "1", settings(None)).unwrap_err() {
            InspectError::Unauthorized { status: 401, message, endpoint, .. } => {
                assert!(message.contains("no credentials for"), "{message}");
                assert!(endpoint.ends_with("/v2/test/img/manifests/1"), "{endpoint}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn fake_retries_429_and_5xx() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start(move |req, n| match (req.path.contains("/manifests/"), n) {
            (true, 0) => Reply::new(429, "slow down").header("Retry-After", "0"),
            (true, 1) => Reply::new(503, "busy"),
            (false, 0) => Reply::new(502, "bad gateway"),
            _ => serve_image(&img, req),
        });
        let mut r = open_fake(&fake, "1", settings(None)).unwrap();
        check_view(&*r.read_paths(&query()).unwrap());
        assert_eq!(fake.requests("/manifests/1").len(), 3);
    }

    #[test]
    fn fake_gives_up_after_bounded_retries() {
        let fake = Fake::start(|_, _| Reply::new(503, r#"{"errors":[{"code":"UNAVAILABLE","message":"down"}]}"#));
        let started = Instant::now();
        match open_fake(&fake, "1", settings(None)).unwrap_err() {
            InspectError::Unreachable { endpoint, message, .. } => {
                assert!(endpoint.ends_with("/manifests/1"));
                assert!(message.contains("HTTP 503: UNAVAILABLE: down (gave up after 4 tries)"), "{message}");
            }
            other => panic!("{other}"),
        }
        assert_eq!(fake.requests("/manifests/1").len(), 4);
        assert!(started.elapsed() < Duration::from_secs(5));

        let fake = Fake::start(|_, _| Reply::new(429, "").header("Retry-After", "3600"));
        let e = open_fake(&fake, "1", settings(None)).unwrap_err().to_string();
        assert!(e.contains("retry after 3600s"), "{e}");
        assert_eq!(fake.requests("/manifests/1").len(), 1);
    }

    /// This machine's address on its default route, if it has one (no packet is sent).
    fn non_loopback_ip() -> Option<String> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
        socket.connect("192.0.2.254:9").or_else(|_| socket.connect("8.8.8.8:53")).ok()?;
        let ip = socket.local_addr().ok()?.ip();
        (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
    }

    #[test]
    fn fake_plain_http_needs_insecure_off_loopback() {
        let Some(ip) = non_loopback_ip() else {
            crate::testing::skip("no non-loopback address to serve plain HTTP on");
            return;
        };
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start_on(&ip, move |req, _| serve_image(&img, req));
        let image = ImageRef::parse(&format!("registry:{}/test/img:1", fake.addr));
        let e = Registry::open_with(&image, &SourceOptions::default(), settings(None)).unwrap_err();
        eprintln!("{e}");
        assert!(matches!(&e, InspectError::Unreachable { endpoint, .. } if endpoint.starts_with("https://")), "{e}");
        assert!(e.to_string().contains("use --insecure"), "{e}");

        let insecure = SourceOptions { insecure: true, ..SourceOptions::default() };
        let mut r = Registry::open_with(&image, &insecure, settings(None)).unwrap();
        assert!(r.base_url().starts_with("http://"));
        check_view(&*r.read_paths(&query()).unwrap());
    }

    #[test]
    fn fake_connection_refused_is_unreachable() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let image = ImageRef::parse(&format!("docker://{addr}/test/img:1"));
        let e = Registry::open_with(&image, &SourceOptions::default(), settings(None)).unwrap_err();
        assert!(matches!(&e, InspectError::Unreachable { endpoint, .. } if endpoint.contains(&addr)), "{e}");
        assert!(e.to_string().contains("gave up after 4 tries"), "{e}");
    }

    #[test]
    fn fake_truncated_layer_is_resumed() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let layer1 = img.layers[1].clone();
        let blob1 = img.blobs[&layer1].clone();
        let fake = Fake::start(move |req, n| {
            if req.path.ends_with(&layer1) {
                let half = blob1.len() / 2;
                if n == 0 {
                    let mut r = Reply::new(200, blob1.clone());
                    r.cut = Some(half);
                    return r;
                }
                let from: usize = req
                    .header("range")
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse().ok())
                    .unwrap();
                let total = blob1.len();
                return Reply::new(206, blob1[from..].to_vec())
                    .header("Content-Range", &format!("bytes {from}-{}/{total}", total - 1));
            }
            serve_image(&img, req)
        });
        let mut r = open_fake(&fake, "1", settings(None)).unwrap();
        check_view(&*r.read_paths(&query()).unwrap());
        let reqs = fake.requests(&img_layer(&fake, 1));
        assert_eq!(reqs.len(), 2);
        assert!(reqs[1].header("range").unwrap().starts_with("bytes="));
        assert_ne!(reqs[1].header("range"), Some("bytes=0-"));
    }

    fn img_layer(fake: &Fake, index: usize) -> String {
        // The layer digests in request order: config first, then layers base first.
        let blobs = fake.requests("/blobs/");
        let mut seen: Vec<String> = Vec::new();
        for r in blobs {
            if !seen.contains(&r.path) {
                seen.push(r.path.clone());
            }
        }
        seen[index + 1].clone()
    }

    #[test]
    fn fake_truncated_layer_fails_after_retries() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let layer0 = img.layers[0].clone();
        let blob0 = img.blobs[&layer0].clone();
        let fake = Fake::start(move |req, _| {
            if req.path.ends_with(&layer0) {
                // Ignores `Range`, always breaks off.
                let mut r = Reply::new(200, blob0.clone());
                r.cut = Some(20);
                return r;
            }
            serve_image(&img, req)
        });
        let mut r = open_fake(&fake, "1", settings(None)).unwrap();
        let e = r.read_paths(&query()).err().unwrap();
        let text = e.to_string();
        assert!(matches!(e, InspectError::Layer { .. }), "{text}");
        assert!(text.contains("layer 0"), "{text}");
        assert!(text.contains("resumed requests"), "{text}");
        assert_eq!(fake.requests(&img_layer(&fake, 0)).len(), 4);
    }

    #[test]
    fn fake_corrupt_blobs_are_caught() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let layer0 = img.layers[0].clone();
        let mut bad = tar_gz(&[("etc/os-release", b"ID=evil\n"), ("etc/gone", b"x")]);
        bad.resize(img.blobs[&layer0].len(), 0);
        let fake = Fake::start(move |req, _| {
            if req.path.ends_with(&layer0) {
                return Reply::new(200, bad.clone());
            }
            serve_image(&img, req)
        });
        let mut r = open_fake(&fake, "1", settings(None)).unwrap();
        let e = r.read_paths(&query()).err().unwrap().to_string();
        assert!(e.contains("the blob's bytes hash to sha256:"), "{e}");

        // A config blob that does not match its digest.
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start(move |req, _| {
            if req.path.contains("/blobs/") {
                let mut r = serve_image(&img, req);
                if let Some(b) = r.body.first_mut() {
                    *b ^= 1;
                }
                return r;
            }
            serve_image(&img, req)
        });
        let e = open_fake(&fake, "1", settings(None)).unwrap_err().to_string();
        assert!(e.contains("hash to"), "{e}");
    }

    #[test]
    fn fake_unsupported_documents() {
        let cases: Vec<(&str, FakeImage, &str)> = vec![
            (
                "manifest media type",
                {
                    let mut i = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
                    i.manifest_type = "application/vnd.example.thing+json".into();
                    i
                },
                "unsupported media type `application/vnd.example.thing+json`",
            ),
            (
                "layer media type",
                fake_image("application/vnd.oci.image.layer.v1.tar+xz", media::OCI_CONFIG),
                "unsupported media type `application/vnd.oci.image.layer.v1.tar+xz`",
            ),
            (
                "config media type",
                fake_image("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.cncf.helm.config.v1+json"),
                "unsupported media type `application/vnd.cncf.helm.config.v1+json`",
            ),
            (
                "schema 1",
                {
                    let mut i = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
                    i.manifest_type = SCHEMA1[0].into();
                    i.manifest = br#"{"schemaVersion":1,"name":"test/img","tag":"1","fsLayers":[]}"#.to_vec();
                    i
                },
                "Docker schema 1 manifest, which is not supported",
            ),
            (
                "not json",
                {
                    let mut i = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
                    i.manifest = b"<html>".to_vec();
                    i
                },
                "the manifest is not JSON",
            ),
            (
                "bad layer digest",
                {
                    let mut i = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
                    let m =
                        String::from_utf8(i.manifest.clone()).unwrap().replacen(&i.layers[0], "sha256:../../../etc", 1);
                    i.manifest = m.into_bytes();
                    i
                },
                "layer descriptor: digest `sha256:../../../etc` is not 64 lowercase hex digits",
            ),
        ];
        for (what, img, expected) in cases {
            let fake = Fake::start(move |req, _| serve_image(&img, req));
            let e = open_fake(&fake, "1", settings(None)).unwrap_err().to_string();
            assert!(e.contains(expected), "{what}: {e}");
        }
    }

    #[test]
    fn fake_manifest_checks() {
        // Docker-Content-Digest disagreeing with the bytes.
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start(move |req, _| {
            let r = serve_image(&img, req);
            if req.path.contains("/manifests/") {
                return Reply::new(200, r.body)
                    .header("Content-Type", media::OCI_MANIFEST)
                    .header("Docker-Content-Digest", D);
            }
            r
        });
        let e = open_fake(&fake, "1", settings(None)).unwrap_err().to_string();
        assert!(e.contains("Docker-Content-Digest says"), "{e}");

        // Asking by digest for bytes that hash differently.
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let manifest = img.manifest.clone();
        let fake =
            Fake::start(move |_, _| Reply::new(200, manifest.clone()).header("Content-Type", media::OCI_MANIFEST));
        let image = ImageRef::parse(&format!("registry:{}/test/img@{D}", fake.addr));
        let e = Registry::open_with(&image, &SourceOptions::default(), settings(None)).unwrap_err().to_string();
        assert!(e.contains("the manifest's bytes hash to"), "{e}");

        // Too big to be a manifest.
        let fake = Fake::start(|_, _| Reply::new(200, vec![b' '; 5 << 20]).header("Content-Type", media::OCI_MANIFEST));
        let e = open_fake(&fake, "1", settings(None)).unwrap_err().to_string();
        assert!(e.contains("larger than 4194304 bytes"), "{e}");

        // Unknown tag.
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start(move |req, _| serve_image(&img, req));
        let e = open_fake(&fake, "nope", settings(None)).unwrap_err();
        assert!(
            matches!(&e, InspectError::NotFound { message, .. } if message.contains("HTTP 404: MANIFEST_UNKNOWN")),
            "{e}"
        );
    }

    #[test]
    fn fake_index_platforms() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let child = sha(&img.manifest);
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": [
                {"mediaType": media::OCI_MANIFEST, "digest": child, "size": img.manifest.len(),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": media::OCI_MANIFEST, "digest": D, "size": 1,
                 "platform": {"os": "unknown", "architecture": "unknown"}},
            ]
        }))
        .unwrap();
        let index_digest = sha(&index);
        let fake = Fake::start(move |req, _| {
            if req.path == "/v2/test/img/manifests/1" {
                return Reply::new(200, index.clone()).header("Content-Type", media::OCI_INDEX);
            }
            serve_image(&img, req)
        });
        match open_fake(&fake, "1", settings(None)).unwrap_err() {
            InspectError::NoPlatform { platform, offered, .. } => {
                assert_eq!((platform.as_str(), offered.as_str()), ("linux/amd64", "linux/arm64/v8"));
            }
            other => panic!("{other}"),
        }
        let options = SourceOptions { platform: Platform::parse("linux/arm64").unwrap(), ..SourceOptions::default() };
        let image = ImageRef::parse(&format!("registry:{}/test/img:1", fake.addr));
        let mut r = Registry::open_with(&image, &options, settings(None)).unwrap();
        let c = r.config().unwrap();
        assert_eq!(c.platforms, vec!["linux/arm64/v8"]);
        assert_eq!(c.manifest_digest, Some(index_digest));
        check_view(&*r.read_paths(&query()).unwrap());
    }

    #[test]
    fn fake_top_down_skips_unneeded_layers() {
        let img = fake_image("application/vnd.oci.image.layer.v1.tar+gzip", media::OCI_CONFIG);
        let fake = Fake::start(move |req, _| serve_image(&img, req));
        let mut r = open_fake(&fake, "1", RegistrySettings { order: LayerOrder::TopDown, ..settings(None) }).unwrap();
        // Settled by the top layer alone: it lists /etc/hello and deletes /etc/gone.
        let view = r.read_view(&PathQuery::parse(["/etc/hello", "/etc/gone"]).unwrap()).unwrap();
        assert!(view.stats.stopped_early);
        assert_eq!(fake.requests("/blobs/").len(), 2, "config and the top layer only");
        assert_eq!(view.get("/etc/hello").and_then(|e| e.content.clone()), Some(b"hi\n".to_vec()));
    }

    // ---- the private registries of scripts/lib ----------------------------------------

    struct Real {
        registry: String,
        image: String,
    }

    fn env(var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }

    /// The registry and the image a test needs, or `None` after saying which is missing.
    fn real(var: &str) -> Option<Real> {
        let missing: Vec<&str> = ["DOCKVAR_TEST_REGISTRY", var].into_iter().filter(|v| env(v).is_none()).collect();
        if !missing.is_empty() {
            crate::testing::skip(&format!("{} not set (scripts/test sets them)", missing.join(" and ")));
            return None;
        }
        Some(Real { registry: env("DOCKVAR_TEST_REGISTRY")?, image: env(var)? })
    }

    const FIXTURE_OS_RELEASE: &[u8] = include_bytes!("../../../fixtures/images/debian/etc/os-release");
    const FIXTURE_DPKG_STATUS: &[u8] = include_bytes!("../../../fixtures/images/debian/var/lib/dpkg/status");

    fn real_query() -> PathQuery {
        PathQuery::parse([
            "/etc/os-release",
            "/var/lib/dpkg/status",
            "/etc/remove-me",
            "/etc/keep-me",
            "/etc/localtime",
            "/opt/app/*",
            "/bin/busybox",
        ])
        .unwrap()
    }

    /// What the image built by prepare-registry-images.sh holds.
    fn check_real_view(view: &dyn FileTree) {
        let content = |p: &str| view.get(p).and_then(|e| e.content.clone());
        assert_eq!(content("/etc/os-release").as_deref(), Some(FIXTURE_OS_RELEASE));
        assert_eq!(content("/var/lib/dpkg/status").as_deref(), Some(FIXTURE_DPKG_STATUS));
        assert!(view.get("/etc/remove-me").is_none(), "whiteout");
        assert_eq!(content("/etc/keep-me").as_deref(), Some(&b"kept\n"[..]));
        assert_eq!(view.read_link("/etc/localtime"), Some("../usr/share/zoneinfo/Etc/UTC"));
        assert_eq!(view.get("/etc/localtime").map(|e| e.kind.clone()), Some(EntryKind::File));
        let app: Vec<String> = view.matches("/opt/app/*").into_iter().map(|(p, _)| p).collect();
        assert_eq!(app, vec!["/opt/app/new"], "opaque directory");
        assert!(view.get("/bin/busybox").is_some_and(|e| e.size > 100_000));
    }

    fn check_real_config(c: &ImageConfig, layers: usize) {
        assert_eq!(c.source, "registry");
        assert!(c.image_id.starts_with("sha256:"));
        assert!(c.manifest_digest.as_deref().is_some_and(|d| d.starts_with("sha256:")));
        assert_eq!(c.labels.get("org.dockvar.test").map(String::as_str), Some("registry"));
        assert!(c.env.contains(&("TZ".to_string(), "Etc/UTC".to_string())), "{:?}", c.env);
        assert_eq!(c.cmd, Some(vec!["/bin/busybox".to_string(), "sh".to_string()]));
        assert_eq!(c.layers.len(), layers);
        assert_eq!((c.os.as_deref(), c.architecture.as_deref()), (Some("linux"), Some("amd64")));
    }

    fn open_real(reference: &str, options: &SourceOptions, order: LayerOrder) -> Result<Registry, InspectError> {
        let settings = RegistrySettings { order, ..settings(None) };
        Registry::open_with(&ImageRef::parse(reference), options, settings)
    }

    #[test]
    fn real_registry_gzip_both_orders_and_transports() {
        let Some(real) = real("DOCKVAR_TEST_REGISTRY_IMAGE") else { return };
        for (prefix, order) in [("registry:", LayerOrder::BottomUp), ("docker://", LayerOrder::TopDown)] {
            let reference = format!("{prefix}{}/{}", real.registry, real.image);
            let started = Instant::now();
            let mut r = open_real(&reference, &SourceOptions::default(), order).unwrap();
            let opened = started.elapsed();
            let c = r.config().unwrap();
            check_real_config(&c, 4);
            assert_eq!(c.repo_tags, vec![format!("{}/{}", real.registry, real.image)]);
            assert!(c.platforms.is_empty());
            let view = r.read_view(&real_query()).unwrap();
            eprintln!(
                "{reference} ({order:?}): open {opened:?}, total {:?}, layers read {}/{}",
                started.elapsed(),
                view.stats.layers_read,
                view.stats.layers
            );
            check_real_view(&view);

            // The same image by digest.
            let by_digest = format!(
                "{prefix}{}/{}@{}",
                real.registry,
                real.image.split(':').next().unwrap(),
                c.manifest_digest.clone().unwrap()
            );
            let mut r = open_real(&by_digest, &SourceOptions::default(), order).unwrap();
            let d = r.config().unwrap();
            assert_eq!((d.image_id, d.manifest_digest), (c.image_id, c.manifest_digest));
        }
    }

    #[test]
    fn real_registry_zstd() {
        let Some(real) = real("DOCKVAR_TEST_REGISTRY_IMAGE_ZSTD") else { return };
        let mut r = open_real(
            &format!("registry:{}/{}", real.registry, real.image),
            &SourceOptions::default(),
            LayerOrder::BottomUp,
        )
        .unwrap();
        let c = r.config().unwrap();
        check_real_config(&c, 4);
        assert!(
            c.layers.iter().all(|l| l.media_type.as_deref() == Some("application/vnd.oci.image.layer.v1.tar+zstd")),
            "{:?}",
            c.layers
        );
        check_real_view(&*r.read_paths(&real_query()).unwrap());
    }

    #[test]
    fn real_registry_indexes() {
        for var in ["DOCKVAR_TEST_REGISTRY_IMAGE_INDEX", "DOCKVAR_TEST_REGISTRY_IMAGE_OCI_INDEX"] {
            let Some(real) = real(var) else { return };
            let reference = format!("registry:{}/{}", real.registry, real.image);
            let mut r = open_real(&reference, &SourceOptions::default(), LayerOrder::BottomUp).unwrap();
            let c = r.config().unwrap();
            check_real_config(&c, 4);
            assert_eq!(c.platforms, vec!["linux/amd64", "linux/arm64/v8"]);
            check_real_view(&*r.read_paths(&real_query()).unwrap());

            let arm = SourceOptions { platform: Platform::parse("linux/arm64").unwrap(), ..SourceOptions::default() };
            let mut r = open_real(&reference, &arm, LayerOrder::BottomUp).unwrap();
            let c = r.config().unwrap();
            assert_eq!((c.architecture.as_deref(), c.variant.as_deref()), (Some("arm64"), Some("v8")));
            let view = r.read_paths(&PathQuery::parse(["/etc/arch"]).unwrap()).unwrap();
            assert_eq!(view.get("/etc/arch").and_then(|e| e.content.clone()), Some(b"arm64\n".to_vec()));

            let s390x = SourceOptions { platform: Platform::parse("linux/s390x").unwrap(), ..SourceOptions::default() };
            match open_real(&reference, &s390x, LayerOrder::BottomUp).unwrap_err() {
                InspectError::NoPlatform { offered, .. } => assert_eq!(offered, "linux/amd64, linux/arm64/v8"),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn real_registry_not_found() {
        let Some(real) = real("DOCKVAR_TEST_REGISTRY_IMAGE") else { return };
        let reference = format!("registry:{}/dockvar/no-such-image:1", real.registry);
        let e = open_real(&reference, &SourceOptions::default(), LayerOrder::BottomUp).unwrap_err();
        assert!(
            matches!(&e, InspectError::NotFound { message, .. } if message.contains("NAME_UNKNOWN") || message.contains("MANIFEST_UNKNOWN")),
            "{e}"
        );
    }

    #[test]
    fn real_registry_basic_auth() {
        let Some(real) = real("DOCKVAR_TEST_REGISTRY_IMAGE") else { return };
        let vars = ["DOCKVAR_TEST_REGISTRY_AUTH", "DOCKVAR_TEST_REGISTRY_USER", "DOCKVAR_TEST_REGISTRY_PASSWORD"];
        let [host, user, password] = vars.map(env);
        let (Some(host), Some(user), Some(password)) = (host, user, password) else {
            crate::testing::skip(&format!("{} are not all set (scripts/test sets them)", vars.join(", ")));
            return;
        };
        let reference = format!("registry:{host}/{}", real.image);
        let open = |config: Option<&str>| {
            let dir = tempfile::tempdir().unwrap();
            if let Some(json) = config {
                std::fs::write(dir.path().join("config.json"), json).unwrap();
            }
            let settings = settings(Some(dir.path().to_path_buf()));
            Registry::open_with(&ImageRef::parse(&reference), &SourceOptions::default(), settings)
        };
        let auth = |u: &str, p: &str| Credentials { username: u.into(), password: p.into() }.basic_header();
        let good = auth(&user, &password);
        let good = good.strip_prefix("Basic ").unwrap();
        let mut r = open(Some(&format!(r#"{{"auths":{{"http://{host}":{{"auth":"{good}"}}}}}}"#))).unwrap();
        check_real_config(&r.config().unwrap(), 4);
        check_real_view(&*r.read_paths(&real_query()).unwrap());

        let wrong = auth(&user, "wrong-password");
        let wrong = wrong.strip_prefix("Basic ").unwrap();
        match open(Some(&format!(r#"{{"auths":{{"{host}":{{"auth":"{wrong}"}}}}}}"#))).unwrap_err() {
            InspectError::Unauthorized { status, endpoint, message, .. } => {
                assert_eq!(status, 401);
                assert!(endpoint.starts_with(&format!("http://{host}/v2/")), "{endpoint}");
                assert!(message.contains(&format!("sent user `{user}`")), "{message}");
            }
            other => panic!("{other}"),
        }
        match open(None).unwrap_err() {
            InspectError::Unauthorized { status: 401, message, .. } => {
                assert!(message.contains("no credentials"), "{message}")
            }
            other => panic!("{other}"),
        }
    }
}
