//! Images' facts (and their base images' facts) in, the system packages each image adds
//! beyond its base out, with versions that changed, the union across images with how many
//! need each, and the Python and pip versions grouped.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::inspect::ImageFacts;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageDiff {
    pub images: Vec<ImagePackages>,
    /// Every package some image adds, with the images that add it (most needed first).
    pub union: Vec<UnionRow>,
    pub python: Vec<VersionGroup>,
    pub pip: Vec<VersionGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePackages {
    pub image: String,
    /// `dpkg`, `apk` or `none`.
    pub manager: String,
    /// The base image compared against, if any.
    pub base: Option<String>,
    pub total: usize,
    /// Packages not in the base image (all of them when there is no base).
    pub added: Vec<Pkg>,
    /// Packages in both whose version differs.
    pub changed: Vec<Changed>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pkg {
    pub name: String,
    pub architecture: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub name: String,
    pub architecture: String,
    pub base_version: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnionRow {
    pub name: String,
    pub architecture: String,
    pub count: usize,
    pub images: Vec<String>,
}

/// One version and the images that run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionGroup {
    pub version: String,
    pub images: Vec<String>,
}

type Key = (String, String);

fn packages(facts: &ImageFacts) -> BTreeMap<Key, String> {
    facts.packages.items.iter().map(|p| ((p.name.clone(), p.architecture.clone()), p.version.clone())).collect()
}

/// An image to compare, with its base image when known.
#[derive(Debug, Clone)]
pub struct Compared<'a> {
    pub label: String,
    pub facts: &'a ImageFacts,
    pub base: Option<(String, &'a ImageFacts)>,
}

/// The bases of all images are pooled, as the notebook did, so a package that any base ships
/// is not "custom".
pub fn package_diff(images: &[Compared<'_>]) -> PackageDiff {
    let pooled: BTreeSet<Key> =
        images.iter().filter_map(|c| c.base.as_ref()).flat_map(|(_, f)| packages(f).into_keys()).collect();
    let mut rows = Vec::with_capacity(images.len());
    let mut union: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for Compared { label, facts, base } in images {
        let mine = packages(facts);
        let base_pkgs = base.as_ref().map(|(_, f)| packages(f)).unwrap_or_default();
        let mut added = Vec::new();
        let mut changed = Vec::new();
        for ((name, arch), version) in &mine {
            let key = (name.clone(), arch.clone());
            match base_pkgs.get(&key) {
                Some(base_version) if base_version != version => changed.push(Changed {
                    name: name.clone(),
                    architecture: arch.clone(),
                    base_version: base_version.clone(),
                    version: version.clone(),
                }),
                Some(_) => {}
                None if pooled.contains(&key) => {}
                None => {
                    added.push(Pkg { name: name.clone(), architecture: arch.clone(), version: version.clone() });
                    if base.is_some() {
                        union.entry(key).or_default().push(label.clone());
                    }
                }
            }
        }
        rows.push(ImagePackages {
            image: label.clone(),
            manager: facts.packages.manager.clone(),
            base: base.as_ref().map(|(l, _)| l.clone()),
            total: mine.len(),
            added,
            changed,
        });
    }
    let mut union: Vec<UnionRow> = union
        .into_iter()
        .map(|((name, architecture), images)| UnionRow { name, architecture, count: images.len(), images })
        .collect();
    union.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)).then_with(|| a.architecture.cmp(&b.architecture))
    });
    let labelled: Vec<(String, &ImageFacts)> = images.iter().map(|c| (c.label.clone(), c.facts)).collect();
    PackageDiff {
        images: rows,
        union,
        python: version_groups(&labelled, |f| f.python.as_ref().map(|p| p.version.clone())),
        pip: version_groups(&labelled, |f| f.pip.as_ref().map(|p| p.version.clone())),
    }
}

/// Groups images by a version they report, newest version first (dotted numeric order).
pub fn version_groups(
    images: &[(String, &ImageFacts)],
    version: impl Fn(&ImageFacts) -> Option<String>,
) -> Vec<VersionGroup> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (label, facts) in images {
        if let Some(v) = version(facts) {
            groups.entry(v).or_default().push(label.clone());
        }
    }
    let mut out: Vec<VersionGroup> =
        groups.into_iter().map(|(version, images)| VersionGroup { version, images }).collect();
    out.sort_by(|a, b| numeric(&b.version).cmp(&numeric(&a.version)).then_with(|| a.version.cmp(&b.version)));
    out
}

fn numeric(version: &str) -> Vec<u64> {
    version
        .split(['.', '-', '+'])
        .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::read::{PackageFacts, PackageItem, SourcedValue};

    fn facts(pkgs: &[(&str, &str)], python: &str) -> ImageFacts {
        ImageFacts {
            packages: PackageFacts {
                manager: "dpkg".into(),
                items: pkgs
                    .iter()
                    .map(|(n, v)| PackageItem {
                        name: n.to_string(),
                        version: v.to_string(),
                        architecture: "amd64".into(),
                        source: n.to_string(),
                        installed_size_kib: None,
                    })
                    .collect(),
            },
            python: Some(SourcedValue { version: python.into(), source: "env PYTHON_VERSION".into() }),
            ..ImageFacts::default()
        }
    }

    #[test]
    fn added_changed_union_and_versions() {
        let base = facts(&[("libc6", "2.36"), ("bash", "5.2")], "3.9.18");
        let a = facts(&[("libc6", "2.36"), ("bash", "5.2.1"), ("libc6-dev", "2.36")], "3.9.18");
        let b = facts(&[("libc6", "2.36"), ("libc6-dev", "2.36"), ("git", "2.39")], "3.9.11");
        let d = package_diff(&[
            Compared { label: "a".into(), facts: &a, base: Some(("base".into(), &base)) },
            Compared { label: "b".into(), facts: &b, base: Some(("base".into(), &base)) },
        ]);
        assert_eq!(d.images[0].added.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["libc6-dev"]);
        assert_eq!(d.images[0].changed[0].name, "bash");
        assert_eq!(d.union[0].name, "libc6-dev");
        assert_eq!(d.union[0].count, 2);
        assert_eq!(d.union[1].name, "git");
        assert_eq!(d.python[0].version, "3.9.18");
        assert_eq!(d.python[1].images, vec!["b"]);
    }

    #[test]
    fn versions_sort_numerically() {
        let x = facts(&[], "3.9.9");
        let y = facts(&[], "3.9.18");
        let groups =
            version_groups(&[("x".into(), &x), ("y".into(), &y)], |f| f.python.as_ref().map(|p| p.version.clone()));
        assert_eq!(groups[0].version, "3.9.18");
    }
}
