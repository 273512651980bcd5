//! Image config and `ImageFacts` in, a JSON file per image digest out (and back): a second
//! run on the same images answers without reading layers.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::image::{ImageConfig, Platform};
use super::read::{FACTS_SCHEMA, ImageFacts};

/// A cache directory, versioned by dockvar's version and the facts schema so that an
/// upgrade never reads stale facts.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// What identifies an image's facts: its config digest, manifest digest and platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    pub fn new(config: &ImageConfig, platform: &Platform) -> Key {
        let mut hasher = Sha256::new();
        for part in [
            config.image_id.as_str(),
            config.manifest_digest.as_deref().unwrap_or(""),
            &platform.to_string(),
            &config.platforms.join(","),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        Key(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl Cache {
    /// `DOCKVAR_CACHE_DIR`, else `$XDG_CACHE_HOME/dockvar`, else `~/.cache/dockvar`.
    pub fn from_env() -> Option<Cache> {
        let base = std::env::var_os("DOCKVAR_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("dockvar")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dockvar")))?;
        Some(Cache::at(&base))
    }

    pub fn at(base: &Path) -> Cache {
        Cache { dir: base.join(format!("facts-v{FACTS_SCHEMA}-{}", env!("CARGO_PKG_VERSION"))) }
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.json", key.0))
    }

    /// Cached facts, or `None` when absent or unreadable (a bad entry is simply re-read).
    pub fn load(&self, key: &Key) -> Option<ImageFacts> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores facts; a failure only costs the next run some time, so it is ignored.
    pub fn store(&self, key: &Key, facts: &ImageFacts) {
        let Ok(bytes) = serde_json::to_vec(facts) else { return };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let path = self.path(key);
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keys_by_digest_and_platform() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let config = ImageConfig { image_id: "sha256:a".into(), ..ImageConfig::default() };
        let key = Key::new(&config, &Platform::default());
        assert!(cache.load(&key).is_none());
        let facts = ImageFacts { reference: "x".into(), image_id: "sha256:a".into(), ..ImageFacts::default() };
        cache.store(&key, &facts);
        assert_eq!(cache.load(&key), Some(facts));
        let arm = Key::new(&config, &Platform::parse("linux/arm64").unwrap());
        assert_ne!(key, arm);
        assert!(cache.load(&arm).is_none());
        std::fs::write(cache.path(&key), b"{not json").unwrap();
        assert!(cache.load(&key).is_none());
    }
}
