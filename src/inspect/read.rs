//! An `ImageConfig` and a `FileTree` in, `ImageFacts` out: runs every fact reader over the
//! files a source read, cross-checks them, and says where each answer came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::{self, FactError, Localtime, Package};
use super::image::{FileTree, HistoryEntry, ImageConfig, LayerInfo};
use super::layers::{EntryKind, PathQuery, QueryError};

/// Bumped whenever `ImageFacts` or a reader changes what it reports; part of the cache key.
pub const FACTS_SCHEMA: u32 = 2;

/// Everything dockvar knows about one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub reference: String,
    /// Which source answered (`docker-archive`, `registry`, `docker (overlay2)`, …).
    pub source: String,
    pub image_id: String,
    /// Manifest digest, when the source has one.
    pub digest: Option<String>,
    pub repo_tags: Vec<String>,
    pub created: Option<String>,
    pub os: OsFacts,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    /// Platforms of the index the image was chosen from.
    pub platforms: Vec<String>,
    pub env: Vec<(String, String)>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: UserFacts,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub layers: Vec<LayerFacts>,
    pub history: Vec<HistoryFacts>,
    pub python: Option<SourcedValue>,
    pub pip: Option<SourcedValue>,
    pub python_packages: Vec<PythonPackage>,
    pub packages: PackageFacts,
    pub timezone: Option<SourcedValue>,
    pub airbyte_dir: AirbyteDir,
    /// Disagreements between sources of a fact and files that could not be read fully.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsFacts {
    pub id: Option<String>,
    pub id_like: Vec<String>,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
    /// `/etc/debian_version` or `/etc/alpine-release`, the exact point release.
    pub release: Option<String>,
    /// The file the answer came from.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFacts {
    /// `USER` as the config says (empty: root).
    pub spec: String,
    pub name: Option<String>,
    pub uid: Option<u32>,
    pub root: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFacts {
    pub digest: String,
    pub size: Option<u64>,
    pub media_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFacts {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub empty_layer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcedValue {
    pub version: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonPackage {
    pub name: String,
    pub version: Option<String>,
    pub path: String,
    /// Wheel tags from `*.dist-info/WHEEL` (e.g. `cp39-cp39-manylinux_2_17_x86_64`): a
    /// `manylinux` tag means the distribution was built against glibc.
    #[serde(default)]
    pub wheel_tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFacts {
    /// `dpkg`, `apk` or `none`.
    pub manager: String,
    pub items: Vec<PackageItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub source: String,
    pub installed_size_kib: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AirbyteDir {
    pub exists: bool,
    pub owner_uid: Option<u64>,
    pub owner_gid: Option<u64>,
    /// Owner's name from `/etc/passwd`.
    pub owner: Option<String>,
    /// Permission bits in octal, e.g. `0755`.
    pub mode: Option<String>,
    /// Whether a user named `airbyte` exists in `/etc/passwd`.
    pub airbyte_user_exists: bool,
    /// Whether user `airbyte` may write to `/airbyte` (owner with `u+w`, or group/other write).
    pub writable_by_airbyte: bool,
}

/// The image paths the readers need. Python interpreter files are not asked for: their
/// `lib/pythonX.Y` directories say the same without capturing multi-megabyte binaries.
pub fn wanted_paths() -> Result<PathQuery, QueryError> {
    let mut query = PathQuery::new();
    for path in facts::os_release::PATHS
        .iter()
        .chain(facts::dpkg::PATHS)
        .chain(facts::apk::PATHS)
        .chain(facts::passwd::PATHS)
        .chain(facts::timezone::PATHS)
        .chain(facts::python::PATHS)
        .chain(PYTHON_DIRS)
        .chain(WHEEL_FILES)
        .chain(&[AIRBYTE_DIR])
    {
        query.add(path)?;
    }
    Ok(query)
}

const AIRBYTE_DIR: &str = "/airbyte";
/// The `WHEEL` file beside each `METADATA`, for the wheel tags.
const WHEEL_FILES: &[&str] = &[
    "/usr/local/lib/*/site-packages/*.dist-info/WHEEL",
    "/usr/local/lib/*/dist-packages/*.dist-info/WHEEL",
    "/usr/lib/*/site-packages/*.dist-info/WHEEL",
    "/usr/lib/*/dist-packages/*.dist-info/WHEEL",
];

/// The `Tag:` lines of the `WHEEL` file next to a distribution's `METADATA`.
fn wheel_tags(tree: &dyn FileTree, metadata_path: &str) -> Vec<String> {
    let Some(dir) = metadata_path.strip_suffix("/METADATA") else { return Vec::new() };
    let Some(bytes) = tree.get(&format!("{dir}/WHEEL")).and_then(|e| e.content.as_deref()) else {
        return Vec::new();
    };
    let mut tags: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("Tag:"))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}
const PYTHON_DIRS: &[&str] = &["/usr/local/lib/python*", "/usr/lib/python*"];

/// Reads the facts. A file that exists but does not parse is returned as an error together
/// with the facts gathered so far, so that the report shows both.
pub fn read_facts(reference: &str, config: ImageConfig, tree: &dyn FileTree) -> (ImageFacts, Option<FactError>) {
    let mut first_error: Option<FactError> = None;
    let mut keep = |e: FactError, warnings: &mut Vec<String>| {
        warnings.push(e.to_string());
        if first_error.is_none() {
            first_error = Some(e);
        }
    };
    let mut warnings: Vec<String> = tree.warnings();
    if tree.read_link(facts::timezone::ETC_LOCALTIME).is_some() {
        // The link's target names the zone; that its content was not captured is no loss.
        warnings.retain(|w| !w.starts_with("/etc/localtime "));
    }
    let content = |path: &str| tree.get(path).and_then(|e| e.content.as_deref());

    let os = read_os(tree).unwrap_or_else(|e| {
        keep(e, &mut warnings);
        OsFacts::default()
    });
    let (manager, packages) = match read_packages(tree) {
        Ok(found) => found,
        Err(e) => {
            keep(e, &mut warnings);
            ("none".to_string(), Vec::new())
        }
    };
    if let (Some(arch), Some(pkg_arch)) = (config.architecture.as_deref(), package_architecture(&packages))
        && !same_architecture(arch, &pkg_arch)
    {
        warnings.push(format!("the config says architecture {arch}, but the packages are built for {pkg_arch}"));
    }

    let users = content(facts::passwd::PASSWD_PATH)
        .map(|b| facts::passwd::parse_passwd(b, facts::passwd::PASSWD_PATH))
        .transpose()
        .unwrap_or_else(|e| {
            keep(e, &mut warnings);
            None
        })
        .unwrap_or_default();
    let groups = content(facts::passwd::GROUP_PATH)
        .map(|b| facts::passwd::parse_group(b, facts::passwd::GROUP_PATH))
        .transpose()
        .unwrap_or_else(|e| {
            keep(e, &mut warnings);
            None
        })
        .unwrap_or_default();
    let spec = config.user.clone().unwrap_or_default();
    let resolved = facts::passwd::resolve_user(&spec, &users, &groups);
    let user = UserFacts { spec, name: resolved.name, uid: resolved.uid, root: resolved.root };

    let timezone = read_timezone(&config.env, tree).unwrap_or_else(|e| {
        keep(e, &mut warnings);
        None
    });

    let python_paths: Vec<String> = PYTHON_DIRS.iter().flat_map(|p| tree.matches(p)).map(|(p, _)| p).collect();
    let mut python_files: Vec<(String, &[u8])> = Vec::new();
    for pattern in facts::python::PATHS {
        for (path, entry) in tree.matches(pattern) {
            match &entry.content {
                Some(bytes) => python_files.push((path, bytes.as_slice())),
                None if entry.kind == EntryKind::Dir => {}
                // An egg-info directory or an uncaptured file: its name still says what it is.
                None => {}
            }
        }
    }
    let python_dirs: Vec<String> = facts::python::PATHS
        .iter()
        .flat_map(|p| tree.matches(p))
        .filter(|(_, e)| e.kind == EntryKind::Dir)
        .map(|(p, _)| p)
        .collect();
    let all_paths: Vec<&str> = python_paths.iter().chain(&python_dirs).map(String::as_str).collect();
    let files: Vec<(&str, &[u8])> = python_files.iter().map(|(p, b)| (p.as_str(), *b)).collect();
    let raw_packages: Vec<Package> = packages.iter().map(to_package).collect();
    let python = facts::python::facts(&all_paths, &files, &config.env, &raw_packages).unwrap_or_else(|e| {
        keep(e, &mut warnings);
        facts::PythonFacts::default()
    });
    warnings.extend(python.disagreements.iter().cloned());

    let airbyte_dir = read_airbyte_dir(tree, &users);
    warnings.sort();
    warnings.dedup();

    let facts = ImageFacts {
        reference: reference.to_string(),
        source: config.source,
        image_id: config.image_id,
        digest: config.manifest_digest,
        repo_tags: config.repo_tags,
        created: config.created,
        os,
        architecture: config.architecture,
        variant: config.variant,
        platforms: config.platforms,
        env: config.env,
        entrypoint: config.entrypoint,
        cmd: config.cmd,
        workdir: config.working_dir,
        user,
        labels: config.labels,
        exposed_ports: config.exposed_ports,
        layers: config.layers.into_iter().map(layer).collect(),
        history: config.history.into_iter().map(history).collect(),
        python: python.version.map(|s| SourcedValue { version: s.value, source: s.source }),
        pip: python.pip.map(|s| SourcedValue { version: s.value, source: s.source }),
        python_packages: python
            .distributions
            .into_iter()
            .map(|d| {
                let wheel_tags = wheel_tags(tree, &d.path);
                PythonPackage { name: d.name, version: d.version, path: d.path, wheel_tags }
            })
            .collect(),
        packages: PackageFacts { manager, items: packages },
        timezone,
        airbyte_dir,
        warnings,
    };
    (facts, first_error)
}

fn layer(l: LayerInfo) -> LayerFacts {
    LayerFacts { digest: l.digest, size: l.size, media_type: l.media_type }
}

fn history(h: HistoryEntry) -> HistoryFacts {
    HistoryFacts { created: h.created, created_by: h.created_by, empty_layer: h.empty_layer }
}

fn to_package(p: &PackageItem) -> Package {
    Package {
        name: p.name.clone(),
        version: p.version.clone(),
        architecture: p.architecture.clone(),
        source: p.source.clone(),
        installed_size_kib: p.installed_size_kib,
    }
}

fn read_os(tree: &dyn FileTree) -> Result<OsFacts, FactError> {
    use facts::os_release as osr;
    let content = |path: &str| tree.get(path).and_then(|e| e.content.as_deref());
    let mut os = OsFacts::default();
    if let Some(found) = osr::parse_preferred(content(osr::ETC_OS_RELEASE), content(osr::USR_LIB_OS_RELEASE))? {
        let r = found.value;
        os = OsFacts {
            id: r.id,
            id_like: r.id_like,
            version_id: r.version_id,
            version_codename: r.version_codename,
            pretty_name: r.pretty_name,
            release: None,
            source: Some(found.source),
        };
    }
    if let Some(bytes) = content(osr::DEBIAN_VERSION) {
        os.release = Some(osr::debian_version(bytes, osr::DEBIAN_VERSION)?);
        os.source.get_or_insert_with(|| osr::DEBIAN_VERSION.to_string());
        os.id.get_or_insert_with(|| "debian".to_string());
    } else if let Some(bytes) = content(osr::ALPINE_RELEASE) {
        os.release = Some(osr::alpine_release(bytes, osr::ALPINE_RELEASE)?);
        os.source.get_or_insert_with(|| osr::ALPINE_RELEASE.to_string());
        os.id.get_or_insert_with(|| "alpine".to_string());
    }
    Ok(os)
}

fn read_packages(tree: &dyn FileTree) -> Result<(String, Vec<PackageItem>), FactError> {
    let mut packages: Vec<Package> = Vec::new();
    let mut manager = "none";
    if let Some(bytes) = tree.get(facts::dpkg::STATUS_PATH).and_then(|e| e.content.as_deref()) {
        packages.extend(facts::dpkg::parse_status(bytes, facts::dpkg::STATUS_PATH)?);
        manager = "dpkg";
    }
    let status_d: Vec<(String, Vec<u8>)> = tree
        .matches(facts::dpkg::STATUS_D_PATTERN)
        .into_iter()
        .filter_map(|(p, e)| e.content.clone().map(|c| (p, c)))
        .collect();
    if !status_d.is_empty() {
        let files: Vec<(&str, &[u8])> = status_d.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
        packages.extend(facts::dpkg::parse_status_d_files(&files)?);
        manager = "dpkg";
    }
    if let Some(bytes) = tree.get(facts::apk::INSTALLED_PATH).and_then(|e| e.content.as_deref()) {
        packages.extend(facts::apk::parse_installed(bytes, facts::apk::INSTALLED_PATH)?);
        manager = if manager == "dpkg" { "dpkg+apk" } else { "apk" };
    }
    facts::dpkg::sort(&mut packages);
    packages.dedup_by(|a, b| a.name == b.name && a.architecture == b.architecture && a.version == b.version);
    let items = packages
        .into_iter()
        .map(|p| PackageItem {
            name: p.name,
            version: p.version,
            architecture: p.architecture,
            source: p.source,
            installed_size_kib: p.installed_size_kib,
        })
        .collect();
    Ok((manager.to_string(), items))
}

/// The architecture most packages are built for (`all`/`noarch` ignored).
fn package_architecture(packages: &[PackageItem]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in packages {
        if !matches!(p.architecture.as_str(), "all" | "noarch" | "") {
            *counts.entry(p.architecture.as_str()).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a.to_string())
}

/// dpkg and apk name architectures their own way; the config uses Go's names.
fn same_architecture(config: &str, package: &str) -> bool {
    let go = match package {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armhf" | "armv7" | "armel" => "arm",
        "i386" | "x86" => "386",
        "ppc64el" | "ppc64le" => "ppc64le",
        other => other,
    };
    go == config
}

fn read_timezone(env: &[(String, String)], tree: &dyn FileTree) -> Result<Option<SourcedValue>, FactError> {
    use facts::timezone as tz;
    let etc_timezone = tree.get(tz::ETC_TIMEZONE).and_then(|e| e.content.as_deref());
    // The link target names the zone; the content is only needed when it is a plain file.
    let localtime = match tree.read_link(tz::ETC_LOCALTIME) {
        Some(target) => Some(Localtime::Symlink(target)),
        None => tree.get(tz::ETC_LOCALTIME).and_then(|e| e.content.as_deref()).map(Localtime::File),
    };
    let found = tz::detect(env, etc_timezone, localtime)?;
    Ok(Some(SourcedValue { version: found.effective.value, source: found.effective.source }))
}

fn read_airbyte_dir(tree: &dyn FileTree, users: &[facts::User]) -> AirbyteDir {
    let airbyte_user = users.iter().find(|u| u.name == "airbyte");
    let Some(entry) = tree.get(AIRBYTE_DIR).filter(|e| e.kind == EntryKind::Dir) else {
        return AirbyteDir { airbyte_user_exists: airbyte_user.is_some(), ..AirbyteDir::default() };
    };
    let owner = users.iter().find(|u| u64::from(u.uid) == entry.uid).map(|u| u.name.clone());
    let writable_by_airbyte = airbyte_user.is_some_and(|u| {
        (u64::from(u.uid) == entry.uid && entry.mode & 0o200 != 0)
            || (u64::from(u.gid) == entry.gid && entry.mode & 0o020 != 0)
            || entry.mode & 0o002 != 0
            || u.uid == 0
    });
    AirbyteDir {
        exists: true,
        owner_uid: Some(entry.uid),
        owner_gid: Some(entry.gid),
        owner,
        mode: Some(format!("{:04o}", entry.mode & 0o7777)),
        airbyte_user_exists: airbyte_user.is_some(),
        writable_by_airbyte,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::layers::{LayerInput, MergeOptions, merge_layers};
    use super::*;

    /// One tar layer holding a fixture tree at its image paths, plus extra entries.
    fn layer_from(dir: &Path, extra: &[(&str, u32, u64)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder.append_dir_all(".", dir).unwrap();
        for (path, mode, uid) in extra {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(*mode);
            header.set_uid(*uid);
            header.set_gid(*uid);
            header.set_size(0);
            builder.append_data(&mut header, path, std::io::empty()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn facts_of(fixture: &str, config: ImageConfig, extra: &[(&str, u32, u64)]) -> (ImageFacts, Option<FactError>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images").join(fixture);
        let layer = layer_from(&dir, extra);
        let view = merge_layers(
            vec![LayerInput::new("fixture", Box::new(std::io::Cursor::new(layer)))],
            &wanted_paths().unwrap(),
            &MergeOptions::default(),
        )
        .unwrap();
        read_facts("test", config, &view)
    }

    #[test]
    fn debian_fixture() {
        let config = ImageConfig {
            architecture: Some("amd64".into()),
            user: Some("airbyte".into()),
            env: vec![("PATH".into(), "/usr/bin".into())],
            ..ImageConfig::default()
        };
        let (f, err) = facts_of("debian", config, &[("airbyte", 0o755, 1000)]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(f.os.id.as_deref(), Some("debian"));
        assert_eq!(f.os.release.as_deref(), Some("12.11"));
        assert_eq!(f.packages.manager, "dpkg");
        assert_eq!(f.packages.items.len(), 745);
        assert_eq!(f.user.name.as_deref(), Some("airbyte"));
        assert_eq!(f.user.uid, Some(1000));
        assert!(!f.user.root);
        assert_eq!(f.timezone.as_ref().map(|t| t.version.as_str()), Some("Etc/UTC"));
        assert!(f.airbyte_dir.exists && f.airbyte_dir.writable_by_airbyte, "{:?}", f.airbyte_dir);
        assert_eq!(f.airbyte_dir.owner.as_deref(), Some("airbyte"));
        assert_eq!(f.airbyte_dir.mode.as_deref(), Some("0755"));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn architecture_mismatch_is_a_warning() {
        let config = ImageConfig { architecture: Some("arm64".into()), ..ImageConfig::default() };
        let (f, _) = facts_of("debian", config, &[]);
        assert!(f.warnings.iter().any(|w| w.contains("architecture arm64")), "{:?}", f.warnings);
        assert!(f.user.root);
        assert!(!f.airbyte_dir.exists);
    }

    #[test]
    fn alpine_and_python_fixtures() {
        let (f, err) = facts_of("alpine", ImageConfig::default(), &[]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(f.packages.manager, "apk");
        assert_eq!(f.os.id.as_deref(), Some("alpine"));
        let config = ImageConfig {
            env: vec![("PYTHON_VERSION".into(), "3.9.18".into()), ("PYTHON_PIP_VERSION".into(), "23.0.1".into())],
            ..ImageConfig::default()
        };
        let (f, err) = facts_of("python", config, &[]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(f.pip.as_ref().map(|p| p.version.as_str()), Some("23.0.1"));
        assert!(f.python.as_ref().is_some_and(|p| p.version.starts_with("3.9")), "{:?}", f.python);
        assert!(f.python_packages.iter().any(|p| p.name == "setuptools"), "{:?}", f.python_packages);
        let tags = |name: &str| f.python_packages.iter().find(|p| p.name == name).map(|p| p.wheel_tags.clone());
        assert_eq!(tags("pip"), Some(vec!["py3-none-any".to_string()]));
        assert_eq!(
            tags("numpy"),
            Some(vec!["cp39-cp39-manylinux2014_x86_64".to_string(), "cp39-cp39-manylinux_2_17_x86_64".to_string()])
        );
    }

    #[test]
    fn broken_package_database_is_an_error_with_facts_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
        std::fs::write(dir.path().join("var/lib/dpkg/status"), "Package: a\nStatus: install ok installed\n no field\n")
            .unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), "ID=debian\n").unwrap();
        let layer = layer_from(dir.path(), &[]);
        let view = merge_layers(
            vec![LayerInput::new("l", Box::new(std::io::Cursor::new(layer)))],
            &wanted_paths().unwrap(),
            &MergeOptions::default(),
        )
        .unwrap();
        let (f, err) = read_facts("t", ImageConfig::default(), &view);
        let err = err.expect("dpkg error");
        assert_eq!(err.path(), "/var/lib/dpkg/status");
        assert_eq!(f.os.id.as_deref(), Some("debian"));
    }
}
