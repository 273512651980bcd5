//! An `ImageConfig` and a `FileTree` in, `ImageFacts` out: runs every fact reader over the
//! files a source read, cross-checks them, and says where each answer came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::{self, FactError, Interpreter, Package};
use super::image::{FileTree, HistoryEntry, ImageConfig, LayerInfo};
use super::layers::{EntryKind, PathQuery, QueryError};
pub use super::warning::{Warning, WarningCode};

/// Bumped whenever `ImageFacts` or a reader changes what it reports; part of the cache key.
pub const FACTS_SCHEMA: u32 = 3;

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
    /// The version of the interpreter `python3` (then `python`) runs.
    pub python: Option<SourcedValue>,
    /// Every interpreter on `PATH`, the selected one marked.
    #[serde(default)]
    pub python_interpreters: Vec<Interpreter>,
    /// The selected interpreter's site directories, in `sys.path` order.
    #[serde(default)]
    pub python_site_dirs: Vec<String>,
    /// What `python3 -m pip --version` reports.
    pub pip: Option<SourcedValue>,
    /// What `python3 -m pip list` shows.
    pub python_packages: Vec<PythonPackage>,
    /// Distributions hidden by an earlier one of the same name on `sys.path`.
    #[serde(default)]
    pub python_packages_shadowed: Vec<PythonPackage>,
    pub packages: PackageFacts,
    pub timezone: Option<SourcedValue>,
    pub airbyte_dir: AirbyteDir,
    /// Disagreements between sources of a fact and files that could not be read fully.
    pub warnings: Vec<Warning>,
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
    /// The group the process runs with (`USER name:group`, else the user's primary group).
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub group: Option<String>,
    /// The home directory the runtime gives the process (`HOME` unless the config sets it).
    #[serde(default)]
    pub home: Option<String>,
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
    /// `/airbyte` itself is a symlink; the owner and mode below are its target's.
    #[serde(default)]
    pub is_symlink: bool,
    /// The link's target as stored.
    #[serde(default)]
    pub target: Option<String>,
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
    /// Whether the image's user (`USER`) may write to `/airbyte`.
    #[serde(default)]
    pub writable_by_user: bool,
}

/// The image paths the readers need, given the config's environment (`PATH`, `HOME`, `TZ`,
/// `PYTHONPATH` decide where the Python and timezone readers look).
pub fn wanted_paths(env: &[(String, String)]) -> Result<PathQuery, QueryError> {
    let mut query = PathQuery::new();
    let dynamic: Vec<String> =
        facts::python_env::wanted_paths(env).into_iter().chain(facts::timezone::wanted_paths(env)).collect();
    for path in facts::os_release::PATHS
        .iter()
        .copied()
        .chain(facts::dpkg::PATHS.iter().copied())
        .chain(facts::apk::PATHS.iter().copied())
        .chain(facts::passwd::PATHS.iter().copied())
        .chain(facts::timezone::PATHS.iter().copied())
        .chain(PYTHON_DIRS.iter().copied())
        .chain([AIRBYTE_DIR])
        .chain(dynamic.iter().map(String::as_str))
    {
        query.add(path)?;
    }
    Ok(query)
}

const AIRBYTE_DIR: &str = "/airbyte";
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

/// Reads the facts. A file that exists but cannot be read at all is returned as an error
/// together with the facts gathered so far, so that the report shows both; a bad record in a
/// file that is otherwise fine is only a warning.
pub fn read_facts(reference: &str, config: ImageConfig, tree: &dyn FileTree) -> (ImageFacts, Option<FactError>) {
    let mut first_error: Option<FactError> = None;
    let mut keep = |e: FactError, warnings: &mut Vec<Warning>| {
        warnings.push(Warning::new(WarningCode::UnreadableFile, e.to_string()));
        if first_error.is_none() {
            first_error = Some(e);
        }
    };
    let mut source_notes: Vec<String> = tree.warnings();
    if tree.read_link(facts::timezone::ETC_LOCALTIME).is_some() {
        // The link's target names the zone; that its content was not captured is no loss.
        source_notes.retain(|w| !w.starts_with("/etc/localtime "));
    }
    let mut warnings: Vec<Warning> =
        source_notes.into_iter().map(|w| Warning::new(WarningCode::IncompleteRead, w)).collect();
    let malformed = |errors: Vec<FactError>, warnings: &mut Vec<Warning>| {
        warnings.extend(errors.into_iter().map(|e| Warning::new(WarningCode::MalformedRecord, e.to_string())));
    };
    let content = |path: &str| tree.get(path).and_then(|e| e.content.as_deref());

    let os = read_os(tree).unwrap_or_else(|e| {
        keep(e, &mut warnings);
        OsFacts::default()
    });
    let (manager, packages, bad_records) = read_packages(tree);
    malformed(bad_records, &mut warnings);
    if let (Some(arch), Some(pkg_arch)) = (config.architecture.as_deref(), package_architecture(&packages))
        && !same_architecture(arch, &pkg_arch)
    {
        warnings.push(Warning::new(
            WarningCode::ArchitectureMismatch,
            format!("the config says architecture {arch}, but the packages are built for {pkg_arch}"),
        ));
    }

    let users = content(facts::passwd::PASSWD_PATH)
        .map(|b| facts::passwd::read_passwd(b, facts::passwd::PASSWD_PATH))
        .unwrap_or_default();
    malformed(users.errors, &mut warnings);
    let users = users.items;
    let groups = content(facts::passwd::GROUP_PATH)
        .map(|b| facts::passwd::read_group(b, facts::passwd::GROUP_PATH))
        .unwrap_or_default();
    malformed(groups.errors, &mut warnings);
    let groups = groups.items;
    let spec = config.user.clone().unwrap_or_default();
    let resolved = facts::passwd::resolve_user(&spec, &users, &groups);
    if resolved.user_missing {
        let user = spec.split(':').next().unwrap_or(&spec);
        warnings.push(Warning::new(
            WarningCode::UserMissing,
            format!("USER {spec}: no user {user:?} in /etc/passwd, so the container would not start"),
        ));
    }
    if resolved.group_missing {
        let group = spec.split_once(':').map_or("", |(_, g)| g);
        warnings.push(Warning::new(
            WarningCode::GroupMissing,
            format!("USER {spec}: no group {group:?} in /etc/group, so the container would not start"),
        ));
    }
    let env_home = config.env.iter().rev().find(|(k, _)| k == "HOME").map(|(_, v)| v.clone());
    let user = UserFacts {
        spec,
        name: resolved.name.clone(),
        uid: resolved.uid,
        root: resolved.root,
        gid: resolved.gid,
        group: resolved.group.clone(),
        home: env_home.or_else(|| resolved.home.clone()),
    };

    let timezone = match facts::timezone::resolve(tree, &config.env) {
        Ok((zone, notes)) => {
            warnings.extend(notes);
            Some(SourcedValue { version: zone.value, source: zone.source })
        }
        Err(e) => {
            keep(e, &mut warnings);
            None
        }
    };

    let raw_packages: Vec<Package> = packages.iter().map(to_package).collect();
    let debian = os.id.as_deref() == Some("debian")
        || os.id.as_deref() == Some("ubuntu")
        || os.id_like.iter().any(|l| l == "debian" || l == "ubuntu");
    let context = facts::python_env::Context {
        env: &config.env,
        packages: &raw_packages,
        debian,
        home: resolved.home.as_deref(),
    };
    let python = facts::python_env::read(tree, &context);
    warnings.extend(python.warnings.iter().cloned());
    let to_package_fact = |d: facts::Distribution| {
        let wheel_tags = wheel_tags(tree, &d.path);
        PythonPackage { name: d.name, version: d.version, path: d.path, wheel_tags }
    };

    let airbyte_dir = read_airbyte_dir(tree, &users, &user);
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
        python_interpreters: python.interpreters,
        python_site_dirs: python.site_dirs,
        pip: python.pip.map(|s| SourcedValue { version: s.value, source: s.source }),
        python_packages: python.distributions.into_iter().map(to_package_fact).collect(),
        python_packages_shadowed: python.shadowed.into_iter().map(to_package_fact).collect(),
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

/// Every well-formed package record of dpkg's and apk's databases, and one error for each
/// record left out.
fn read_packages(tree: &dyn FileTree) -> (String, Vec<PackageItem>, Vec<FactError>) {
    let mut packages = facts::Records::default();
    let mut manager = "none";
    if let Some(bytes) = tree.get(facts::dpkg::STATUS_PATH).and_then(|e| e.content.as_deref()) {
        packages.extend(facts::dpkg::read_status(bytes, facts::dpkg::STATUS_PATH));
        manager = "dpkg";
    }
    let status_d: Vec<(String, Vec<u8>)> = tree
        .matches(facts::dpkg::STATUS_D_PATTERN)
        .into_iter()
        .filter_map(|(p, e)| e.content.clone().map(|c| (p, c)))
        .collect();
    if !status_d.is_empty() {
        let files: Vec<(&str, &[u8])> = status_d.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
        packages.extend(facts::dpkg::read_status_d_files(&files));
        manager = "dpkg";
    }
    if let Some(bytes) = tree.get(facts::apk::INSTALLED_PATH).and_then(|e| e.content.as_deref()) {
        packages.extend(facts::apk::read_installed(bytes, facts::apk::INSTALLED_PATH));
        manager = if manager == "dpkg" { "dpkg+apk" } else { "apk" };
    }
    let facts::Records { items: mut packages, errors } = packages;
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
    (manager.to_string(), items, errors)
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

/// `/airbyte` as the container sees it: `lstat` says whether it is a link, `stat` (the link
/// followed) gives the owner and mode that decide who may write there.
fn read_airbyte_dir(tree: &dyn FileTree, users: &[facts::User], user: &UserFacts) -> AirbyteDir {
    let airbyte_user = users.iter().find(|u| u.name == "airbyte");
    let target = match tree.lstat(AIRBYTE_DIR).map(|e| &e.kind) {
        Some(EntryKind::Symlink(t)) => Some(t.clone()),
        _ => None,
    };
    let base = AirbyteDir {
        airbyte_user_exists: airbyte_user.is_some(),
        is_symlink: target.is_some(),
        target: target.clone(),
        ..AirbyteDir::default()
    };
    let Some(entry) = tree.get(AIRBYTE_DIR).filter(|e| e.kind == EntryKind::Dir) else {
        return base;
    };
    let may_write = |uid: u32, gid: Option<u32>| {
        uid == 0
            || (u64::from(uid) == entry.uid && entry.mode & 0o200 != 0)
            || (gid.is_some_and(|g| u64::from(g) == entry.gid) && entry.mode & 0o020 != 0)
            || entry.mode & 0o002 != 0
    };
    let owner = users.iter().find(|u| u64::from(u.uid) == entry.uid).map(|u| u.name.clone());
    AirbyteDir {
        exists: true,
        owner_uid: Some(entry.uid),
        owner_gid: Some(entry.gid),
        owner,
        mode: Some(format!("{:04o}", entry.mode & 0o7777)),
        writable_by_airbyte: airbyte_user.is_some_and(|u| may_write(u.uid, Some(u.gid))),
        writable_by_user: user.uid.is_some_and(|uid| may_write(uid, user.gid)),
        ..base
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
            &wanted_paths(&config.env).unwrap(),
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
        assert!(f.warnings.iter().any(|w| w.message.contains("architecture arm64")), "{:?}", f.warnings);
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
            &wanted_paths(&[]).unwrap(),
            &MergeOptions::default(),
        )
        .unwrap();
        let (f, err) = read_facts("t", ImageConfig::default(), &view);
        let err = err.expect("dpkg error");
        assert_eq!(err.path(), "/var/lib/dpkg/status");
        assert_eq!(f.os.id.as_deref(), Some("debian"));
    }

    /// An entry of a hand-made layer.
    enum Item<'a> {
        File(&'a str, u32, &'a [u8]),
        Dir(&'a str, u32, u64),
        Link(&'a str, &'a str),
    }

    fn facts_of_items(items: &[Item<'_>], config: ImageConfig) -> ImageFacts {
        let mut builder = tar::Builder::new(Vec::new());
        for item in items {
            let mut header = tar::Header::new_gnu();
            match item {
                Item::File(path, mode, data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, *data).unwrap();
                }
                Item::Dir(path, mode, uid) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_uid(*uid);
                    header.set_gid(*uid);
                    header.set_size(0);
                    builder.append_data(&mut header, path, std::io::empty()).unwrap();
                }
                Item::Link(path, target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
            }
        }
        let layer = builder.into_inner().unwrap();
        let view = merge_layers(
            vec![LayerInput::new("l", Box::new(std::io::Cursor::new(layer)))],
            &wanted_paths(&config.env).unwrap(),
            &MergeOptions::default(),
        )
        .unwrap();
        let (facts, err) = read_facts("t", config, &view);
        assert!(err.is_none(), "{err:?}");
        facts
    }

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\nairbyte:x:1000:1000::/home/airbyte:/bin/sh\n";
    const GROUP: &[u8] = b"root:x:0:\nstaff:x:50:\nairbyte:x:1000:\n";
    const STATUS: &[u8] = b"Package: python3.11-minimal\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.11.2-6+deb12u6\n\nPackage: python3-pip\nStatus: install ok installed\nArchitecture: all\nVersion: 23.0.1+dfsg-1\n";
    const PIP_23: &[u8] = b"Metadata-Version: 2.1\nName: pip\nVersion: 23.0.1\n";
    const PIP_24: &[u8] = b"Metadata-Version: 2.1\nName: pip\nVersion: 24.2\n";
    const SIX: &[u8] = b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n";
    const UTC_LINK: &str = "/usr/share/zoneinfo/Etc/UTC";

    /// A debootstrapped bookworm's Python layout, shrunk to what the readers look at.
    fn distro_python() -> Vec<Item<'static>> {
        vec![
            Item::File("etc/os-release", 0o644, b"ID=debian\nVERSION_ID=\"12\"\n"),
            Item::File("etc/passwd", 0o644, PASSWD),
            Item::File("etc/group", 0o644, GROUP),
            Item::File("etc/timezone", 0o644, b"Etc/UTC\n"),
            Item::Link("etc/localtime", UTC_LINK),
            Item::File("usr/share/zoneinfo/Etc/UTC", 0o644, b"TZif2 placeholder"),
            Item::File("var/lib/dpkg/status", 0o644, STATUS),
            Item::File("usr/bin/python3.11", 0o755, b"\x7fELF...\x003.11\x00\x003.11.2\x00..."),
            Item::Link("usr/bin/python3", "python3.11"),
            Item::Dir("usr/local/lib/python3.11/dist-packages", 0o755, 0),
            Item::Dir("usr/lib/python3.11", 0o755, 0),
            Item::File("usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA", 0o644, PIP_23),
        ]
    }

    fn codes(f: &ImageFacts) -> Vec<&'static str> {
        f.warnings.iter().map(|w| w.code.as_str()).collect()
    }

    #[test]
    fn distro_python_is_what_the_interpreter_says() {
        let f = facts_of_items(&distro_python(), ImageConfig::default());
        let python = f.python.as_ref().unwrap();
        assert_eq!(python.version, "3.11.2");
        assert_eq!(python.source, "/usr/bin/python3: version string in /usr/bin/python3.11");
        assert_eq!(f.pip.as_ref().map(|p| p.version.as_str()), Some("23.0.1"));
        assert_eq!(
            f.python_site_dirs,
            [
                "/root/.local/lib/python3.11/site-packages",
                "/usr/local/lib/python3.11/dist-packages",
                "/usr/lib/python3/dist-packages",
                "/usr/lib/python3.11/dist-packages"
            ]
        );
        assert_eq!(f.python_interpreters.len(), 1);
        assert!(f.python_interpreters[0].selected);
        assert_eq!(f.python_interpreters[0].real_path, "/usr/bin/python3.11");
        assert_eq!(f.timezone.as_ref().map(|t| t.version.as_str()), Some("Etc/UTC"));
        assert_eq!((f.user.uid, f.user.gid, f.user.home.as_deref()), (Some(0), Some(0), Some("/root")));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn upgraded_pip_and_user_site_shadow_the_distro() {
        let mut items = distro_python();
        items.push(Item::File("usr/local/lib/python3.11/dist-packages/pip-24.2.dist-info/METADATA", 0o644, PIP_24));
        items.push(Item::File(
            "home/airbyte/.local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            0o644,
            SIX,
        ));
        let config = ImageConfig { user: Some("airbyte".into()), ..ImageConfig::default() };
        let f = facts_of_items(&items, config);
        assert_eq!(f.pip.as_ref().map(|p| p.version.as_str()), Some("24.2"));
        let listed: Vec<(&str, Option<&str>)> =
            f.python_packages.iter().map(|p| (p.name.as_str(), p.version.as_deref())).collect();
        assert_eq!(listed, [("pip", Some("24.2")), ("six", Some("1.16.0"))]);
        assert_eq!(f.python_packages_shadowed.len(), 1);
        assert_eq!(f.python_packages_shadowed[0].path, "/usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA");
        assert_eq!(f.python_site_dirs[0], "/home/airbyte/.local/lib/python3.11/site-packages");
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        // As root the airbyte user's site is not on sys.path.
        let f = facts_of_items(&items, ImageConfig::default());
        assert!(f.python_packages.iter().all(|p| p.name != "six"));
    }

    #[test]
    fn python_version_env_is_a_claim() {
        let env = vec![("PYTHON_VERSION".into(), "3.11.9".into()), ("PYTHON_PIP_VERSION".into(), "23.0.1".into())];
        let f = facts_of_items(&distro_python(), ImageConfig { env, ..ImageConfig::default() });
        assert_eq!(f.python.as_ref().unwrap().version, "3.11.2");
        assert_eq!(codes(&f), ["python-env-mismatch"]);
        assert!(
            f.warnings[0].message.contains("3.11.9") && f.warnings[0].message.contains("3.11.2"),
            "{:?}",
            f.warnings
        );
    }

    #[test]
    fn official_layout_and_path_choice() {
        let mut items = distro_python();
        items.extend([
            Item::File("usr/local/bin/python3.12", 0o755, b"\x7fELF dynamically linked"),
            Item::Link("usr/local/bin/python3", "python3.12"),
            Item::File(
                "usr/local/include/python3.12/patchlevel.h",
                0o644,
                b"#define PY_VERSION              \"3.12.4\"\n",
            ),
            Item::File(
                "usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA",
                0o644,
                b"Name: pip\nVersion: 24.0\n",
            ),
        ]);
        let env = vec![("PATH".into(), "/usr/local/bin:/usr/bin".into())];
        let f = facts_of_items(&items, ImageConfig { env, ..ImageConfig::default() });
        let python = f.python.as_ref().unwrap();
        assert_eq!(python.version, "3.12.4");
        assert_eq!(python.source, "/usr/local/bin/python3: /usr/local/include/python3.12/patchlevel.h");
        assert_eq!(f.pip.as_ref().map(|p| p.version.as_str()), Some("24.0"));
        let interpreters: Vec<(&str, Option<&str>, bool)> =
            f.python_interpreters.iter().map(|i| (i.path.as_str(), i.version.as_deref(), i.selected)).collect();
        assert_eq!(
            interpreters,
            [("/usr/local/bin/python3", Some("3.12.4"), true), ("/usr/bin/python3", Some("3.11.2"), false)]
        );
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        // PATH the other way round picks Debian's.
        let env = vec![("PATH".into(), "/usr/bin:/usr/local/bin".into())];
        let f = facts_of_items(&items, ImageConfig { env, ..ImageConfig::default() });
        assert_eq!(f.python.as_ref().unwrap().version, "3.11.2");
        // A dist-packages folder alone is no interpreter, and no python on PATH is a warning.
        let items = [
            Item::Dir("usr/local/lib/python3.11/dist-packages", 0o755, 0),
            Item::File("usr/local/lib/python3.9/site-packages/pip-23.0.1.dist-info/METADATA", 0o644, PIP_23),
        ];
        let f = facts_of_items(&items, ImageConfig::default());
        assert_eq!(f.python.as_ref().map(|p| p.version.as_str()), Some("3.9"));
        assert_eq!(codes(&f), ["python-not-on-path"]);
    }

    #[test]
    fn timezones_as_the_c_library_resolves_them() {
        let zone = |items: Vec<Item<'static>>, env: Vec<(String, String)>| {
            let f = facts_of_items(&items, ImageConfig { env, ..ImageConfig::default() });
            (f.timezone.clone().unwrap().version, codes(&f))
        };
        let relink = |target: &'static str| {
            let mut items: Vec<Item<'static>> =
                distro_python().into_iter().filter(|i| !matches!(i, Item::Link("etc/localtime", _))).collect();
            items.push(Item::File("usr/share/zoneinfo/America/New_York", 0o644, b"TZif2 ny"));
            items.push(Item::Link("usr/share/zoneinfo/US/Eastern", "../America/New_York"));
            items.push(Item::Link("etc/localtime", target));
            items
        };
        // An alias link resolves to its zone; /etc/timezone still saying Etc/UTC disagrees.
        assert_eq!(
            zone(relink("/usr/share/zoneinfo/US/Eastern"), vec![]),
            ("America/New_York".into(), vec!["timezone-mismatch"])
        );
        // A dangling link: UTC, and /etc/timezone (Etc/UTC) agrees with that.
        assert_eq!(zone(relink("/usr/share/zoneinfo/Nowhere/Town"), vec![]), ("UTC".into(), vec!["timezone-missing"]));
        // TZ naming a zone the image lacks.
        let tz = |v: &str| vec![("TZ".to_string(), v.to_string())];
        assert_eq!(zone(distro_python(), tz("Mars/Olympus")), ("UTC".into(), vec!["timezone-missing"]));
        assert_eq!(zone(relink(UTC_LINK), tz("US/Eastern")).0, "America/New_York");
        assert_eq!(zone(distro_python(), tz("UTC")), ("UTC".into(), vec![]));
        assert_eq!(zone(distro_python(), tz("EST5EDT")), ("EST5EDT".into(), vec!["timezone-mismatch"]));
    }

    #[test]
    fn users_groups_and_airbyte() {
        let mut items = distro_python();
        items.push(Item::Dir("opt/airbyte", 0o750, 1000));
        items.push(Item::Link("airbyte", "/opt/airbyte"));
        let user = |spec: &str| {
            let f = facts_of_items(&items, ImageConfig { user: Some(spec.into()), ..ImageConfig::default() });
            (f.user.clone(), f.airbyte_dir.clone(), codes(&f))
        };
        let (u, dir, warnings) = user("airbyte:staff");
        assert_eq!((u.uid, u.gid, u.group.as_deref()), (Some(1000), Some(50), Some("staff")));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(dir.exists && dir.is_symlink && dir.writable_by_user && dir.writable_by_airbyte, "{dir:?}");
        assert_eq!(
            (dir.target.as_deref(), dir.mode.as_deref(), dir.owner.as_deref()),
            (Some("/opt/airbyte"), Some("0750"), Some("airbyte"))
        );
        let (u, dir, warnings) = user("1001:1002");
        assert_eq!((u.uid, u.gid, u.home.as_deref()), (Some(1001), Some(1002), Some("/")));
        assert!(warnings.is_empty() && !dir.writable_by_user);
        let (u, _, warnings) = user("ghost");
        assert_eq!(u.uid, None);
        assert_eq!(warnings, ["user-missing"]);
        assert_eq!(user("airbyte:nogroup").2, ["group-missing"]);
    }

    #[test]
    fn one_bad_record_keeps_the_others() {
        let mut items: Vec<Item<'static>> = distro_python()
            .into_iter()
            .filter(|i| !matches!(i, Item::File("etc/passwd", ..) | Item::File("var/lib/dpkg/status", ..)))
            .collect();
        items.push(Item::File(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/bash\nbroken line\nairbyte:x:1000:1000::/home/airbyte:/bin/sh\n",
        ));
        items.push(Item::File(
            "var/lib/dpkg/status",
            0o644,
            b"Package: a\nStatus: install ok installed\nno colon here\n\nPackage: python3.11-minimal\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.11.2-6\n",
        ));
        let f = facts_of_items(&items, ImageConfig { user: Some("airbyte".into()), ..ImageConfig::default() });
        assert_eq!(f.user.uid, Some(1000));
        assert_eq!(f.packages.items.len(), 1);
        let messages: Vec<&str> = f.warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "/etc/passwd:2: expected 7 `:`-separated fields, found 1",
                "/var/lib/dpkg/status:3: expected `Field: value`"
            ]
        );
        assert_eq!(codes(&f), ["malformed-record", "malformed-record"]);
    }
}
