//! Connectors in, their migration to the common base image out: a status per connector, a
//! summary per support level and language, base image version counts, and the seed's
//! definition of a successful migration as `Finding`s.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::git::{GitError, Revision};
use super::{Finding, Location, Rule, Severity};
use crate::discover::Connector;
use crate::discover::select::split_image;

/// Where a connector stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// `baseImage` set and no Dockerfile.
    Migrated,
    /// `baseImage` set but a Dockerfile is still there.
    HalfMigrated,
    NotMigrated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Migrated => "migrated",
            Status::HalfMigrated => "half-migrated",
            Status::NotMigrated => "not-migrated",
        }
    }
}

/// One connector's migration row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationRow {
    pub connector: String,
    pub support_level: Option<String>,
    pub language: String,
    pub status: Status,
    /// Repository of the base image (`docker.io/airbyte/python-connector-base`).
    pub base_image: Option<String>,
    pub version: Option<String>,
    /// Pinned by `@sha256:` digest.
    pub pinned: bool,
    /// The latest version of this base image referenced anywhere (or given).
    pub latest_version: Option<String>,
    /// Whether `version` is that latest version.
    pub latest: Option<bool>,
}

/// Migrated count per support level and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub support_level: String,
    pub language: String,
    pub migrated: usize,
    pub total: usize,
}

/// How many connectors use one base image version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionCount {
    pub base_image: String,
    pub version: String,
    pub connectors: usize,
}

pub const RULES: &[Rule] = &[
    Rule {
        id: "migration/dockerfile-removed",
        severity: Severity::Error,
        description: "A migrated connector has no Dockerfile: the base image and the common build replace it.",
    },
    Rule {
        id: "migration/base-image-pinned",
        severity: Severity::Error,
        description: "connectorBuildOptions.baseImage is pinned by sha256 digest, for reproducible builds.",
    },
    Rule {
        id: "migration/base-image-latest",
        severity: Severity::Error,
        description: "connectorBuildOptions.baseImage uses the latest base image version.",
    },
    Rule {
        id: "migration/build-customization",
        severity: Severity::Warning,
        description: "build_customization.py needs a review by the Connector Operations team.",
    },
    Rule {
        id: "migration/version-bump",
        severity: Severity::Error,
        description: "dockerImageTag was bumped by exactly one patch since the base revision.",
    },
    Rule {
        id: "migration/changelog",
        severity: Severity::Error,
        description: "The connector's documentation gained a changelog row for the new version.",
    },
];

/// A dotted version, compared numerically part by part (pre-releases sort before releases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    parts: Vec<u64>,
    pre: Option<String>,
    text: String,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let (core, pre) = match text.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (text, None),
        };
        let core = core.strip_prefix('v').unwrap_or(core);
        let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
        let parts = parts.filter(|p| !p.is_empty())?;
        Some(Version { parts, pre, text: text.to_string() })
    }

    /// Whether `self` is `older` with its patch number plus one (major and minor unchanged).
    pub fn is_patch_bump_of(&self, older: &Version) -> bool {
        let pad = |v: &Version| -> [u64; 3] {
            let mut p = [0; 3];
            for (i, x) in v.parts.iter().take(3).enumerate() {
                p[i] = *x;
            }
            p
        };
        let (new, old) = (pad(self), pad(older));
        self.pre.is_none() && new[0] == old[0] && new[1] == old[1] && new[2] == old[2] + 1
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        for i in 0..len {
            let (a, b) = (self.parts.get(i).copied().unwrap_or(0), other.parts.get(i).copied().unwrap_or(0));
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        }
        .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn status_of(c: &Connector) -> Status {
    match (c.base_image.is_some(), c.dockerfile.is_some()) {
        (true, false) => Status::Migrated,
        (true, true) => Status::HalfMigrated,
        (false, _) => Status::NotMigrated,
    }
}

/// The latest version of one base image, and a digest-pinned reference to it when some
/// connector already uses one (so a fix can be copied as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Latest {
    pub version: String,
    pub pinned_reference: Option<String>,
}

/// The latest version of each base image referenced by any connector; `overrides` (from
/// `--latest NAME:VERSION` or `--latest VERSION` for every image) win.
pub fn latest_versions(all: &[Connector], overrides: &[String]) -> BTreeMap<String, Latest> {
    let versions = newest_versions(all, overrides);
    versions
        .into_iter()
        .map(|(name, version)| {
            let pinned_reference = all
                .iter()
                .filter_map(|c| c.base_image.as_deref())
                .filter(|b| b.contains("@sha256:") && split_image(b) == (name.as_str(), Some(version.as_str())))
                .min()
                .map(str::to_string);
            (name, Latest { version, pinned_reference })
        })
        .collect()
}

fn newest_versions(all: &[Connector], overrides: &[String]) -> BTreeMap<String, String> {
    let mut latest: BTreeMap<String, Version> = BTreeMap::new();
    for c in all {
        let Some(image) = &c.base_image else { continue };
        let (name, Some(tag)) = split_image(image) else { continue };
        let Some(v) = Version::parse(tag) else { continue };
        match latest.get(name) {
            Some(current) if *current >= v => {}
            _ => {
                latest.insert(name.to_string(), v);
            }
        }
    }
    let mut out: BTreeMap<String, String> = latest.into_iter().map(|(k, v)| (k, v.text)).collect();
    for o in overrides {
        match split_image(o) {
            (name, Some(tag)) => {
                let key = out.keys().find(|k| crate::discover::select::image_matches(name, k)).cloned();
                out.insert(key.unwrap_or_else(|| name.to_string()), tag.to_string());
            }
            (version, None) => {
                for v in out.values_mut() {
                    *v = version.to_string();
                }
            }
        }
    }
    out
}

pub fn rows(selected: &[Connector], latest: &BTreeMap<String, Latest>) -> Vec<MigrationRow> {
    selected
        .iter()
        .map(|c| {
            let split = c.base_image.as_deref().map(split_image);
            let base_image = split.map(|(n, _)| n.to_string());
            let version = split.and_then(|(_, t)| t.map(str::to_string));
            let latest_version = base_image.as_ref().and_then(|n| latest.get(n)).map(|l| l.version.clone());
            let is_latest = match (&version, &latest_version) {
                (Some(v), Some(l)) => Some(Version::parse(v).zip(Version::parse(l)).map_or(v == l, |(a, b)| a >= b)),
                (None, Some(_)) => Some(false),
                _ => None,
            };
            MigrationRow {
                connector: c.name.clone(),
                support_level: c.support_level.clone(),
                language: c.language.as_str().to_string(),
                status: status_of(c),
                pinned: c.base_image.as_deref().is_some_and(|b| b.contains("@sha256:")),
                base_image,
                version,
                latest_version,
                latest: is_latest,
            }
        })
        .collect()
}

pub fn summary(rows: &[MigrationRow]) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for r in rows {
        let key = (r.support_level.clone().unwrap_or_else(|| "unknown".into()), r.language.clone());
        let entry = groups.entry(key).or_default();
        entry.1 += 1;
        if r.status == Status::Migrated {
            entry.0 += 1;
        }
    }
    groups
        .into_iter()
        .map(|((support_level, language), (migrated, total))| SummaryRow { support_level, language, migrated, total })
        .collect()
}

pub fn version_counts(rows: &[MigrationRow]) -> Vec<VersionCount> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in rows {
        if let Some(image) = &r.base_image {
            *counts.entry((image.clone(), r.version.clone().unwrap_or_else(|| "(no tag)".into()))).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((base_image, version), connectors)| VersionCount { base_image, version, connectors })
        .collect()
}

fn latest_refs<'a>(latest: &'a BTreeMap<String, Latest>, name: &str) -> Option<&'a str> {
    latest.get(name).and_then(|l| l.pinned_reference.as_deref())
}

/// The documentation file a `documentationUrl` points to: its URL path under `docs/`.
pub fn docs_path(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map(|(_, p)| p)?;
    let path = path.split(['?', '#']).next().unwrap_or(path).trim_matches('/');
    (!path.is_empty()).then(|| format!("docs/{path}.md"))
}

/// Whether a Markdown changelog table has a row whose first cell is `version`.
pub fn has_changelog_row(markdown: &str, version: &str) -> bool {
    markdown.lines().any(|line| {
        let line = line.trim();
        line.starts_with('|') && line.trim_start_matches('|').split('|').next().is_some_and(|c| c.trim() == version)
    })
}

fn key_line(text: &str, key: &str) -> usize {
    text.lines().position(|l| l.trim_start().starts_with(&format!("{key}:"))).map_or(0, |i| i + 1)
}

/// Largest documentation page or metadata.yaml read for a check.
const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

/// The seed's definition of a successful migration, on every migrated or half-migrated
/// connector. `against` adds the version bump and changelog checks.
pub fn check(
    root: &Path,
    selected: &[Connector],
    rows: &[MigrationRow],
    latest: &BTreeMap<String, Latest>,
    against: Option<&Revision>,
) -> Result<Vec<Finding>, GitError> {
    let mut findings = Vec::new();
    let real_root = crate::files::real_root(root);
    // A documentation page or metadata.yaml, read inside the repository and bounded.
    let read = |rel: &str| {
        crate::files::read_file(&root.join(rel), Some(&real_root), MAX_TEXT_BYTES)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    for (c, row) in selected.iter().zip(rows) {
        if row.status == Status::NotMigrated {
            continue;
        }
        let metadata_path = c.metadata_path.clone().unwrap_or_default();
        let metadata_text = read(&metadata_path).unwrap_or_default();
        let at = |path: &str, line: usize| Some(Location { path: path.to_string(), line });
        let finding = |check_id: &'static str, severity, location, message: String, fix: String| Finding {
            check_id,
            severity,
            subject: c.name.clone(),
            location,
            message,
            fix,
        };
        if let Some(dockerfile) = &c.dockerfile {
            findings.push(finding(
                "migration/dockerfile-removed",
                Severity::Error,
                at(dockerfile, 0),
                "baseImage is set but the Dockerfile is still there".into(),
                format!("delete {dockerfile}: the base image and the common build replace it"),
            ));
        }
        let image_line = key_line(&metadata_text, "baseImage");
        let image = c.base_image.clone().unwrap_or_default();
        if !row.pinned {
            findings.push(finding(
                "migration/base-image-pinned",
                Severity::Error,
                at(&metadata_path, image_line),
                format!("baseImage `{image}` is not pinned by digest"),
                format!("pin it: baseImage: {image}@sha256:<digest> (docker buildx imagetools inspect {image})"),
            ));
        }
        if row.latest == Some(false) {
            let newest = row.latest_version.clone().unwrap_or_default();
            findings.push(finding(
                "migration/base-image-latest",
                Severity::Error,
                at(&metadata_path, image_line),
                format!(
                    "baseImage uses version {} but {newest} is the latest",
                    row.version.as_deref().unwrap_or("(no tag)")
                ),
                match row.base_image.as_ref().and_then(|n| latest_refs(latest, n)) {
                    Some(reference) => format!("use baseImage: {reference}"),
                    None => format!("use {}:{newest}@sha256:<digest>", row.base_image.as_deref().unwrap_or("")),
                },
            ));
        }
        let customization = format!("{}/build_customization.py", c.path);
        if root.join(&customization).is_file() {
            findings.push(finding(
                "migration/build-customization",
                Severity::Warning,
                at(&customization, 0),
                "build_customization.py customizes the common build".into(),
                "ask the Connector Operations team to review it".into(),
            ));
        }
        let Some(rev) = against else { continue };
        let old = rev.read(&metadata_path)?;
        let old_tag = old
            .as_deref()
            .and_then(|t| crate::metadata::load_data(t).ok())
            .and_then(|d| d.get("dockerImageTag").and_then(crate::metadata::Value::scalar_text));
        let new_tag =
            c.image.as_deref().and_then(|i| i.rsplit_once(':')).map(|(_, t)| t.to_string()).unwrap_or_default();
        let short = &rev.commit[..rev.commit.len().min(12)];
        let tag_line = key_line(&metadata_text, "dockerImageTag");
        match old_tag.as_deref() {
            None => {}
            Some(old_tag) => {
                let bumped =
                    Version::parse(&new_tag).zip(Version::parse(old_tag)).is_some_and(|(n, o)| n.is_patch_bump_of(&o));
                if !bumped {
                    findings.push(finding(
                        "migration/version-bump",
                        Severity::Error,
                        at(&metadata_path, tag_line),
                        format!("dockerImageTag is {new_tag}; {short} had {old_tag}, so this is not a one-patch bump"),
                        format!("set dockerImageTag to the next patch of {old_tag}"),
                    ));
                }
            }
        }
        let docs =
            c.metadata.as_ref().and_then(|d| d.get("documentationUrl")).and_then(|u| u.as_str()).and_then(docs_path);
        match docs {
            None => findings.push(finding(
                "migration/changelog",
                Severity::Error,
                at(&metadata_path, 0),
                "metadata has no documentationUrl, so no changelog can be checked".into(),
                "set documentationUrl and add a changelog row for the new version".into(),
            )),
            Some(docs) => {
                let now = read(&docs);
                let before = rev.read(&docs)?;
                let added = now.as_deref().is_some_and(|t| has_changelog_row(t, &new_tag))
                    && !before.as_deref().is_some_and(|t| has_changelog_row(t, &new_tag));
                if !added {
                    let why = if now.is_none() {
                        format!("{docs} does not exist")
                    } else {
                        format!("{docs} has no new row for {new_tag} since {short}")
                    };
                    findings.push(finding(
                        "migration/changelog",
                        Severity::Error,
                        at(&docs, 0),
                        why,
                        format!("add `| {new_tag} | <date> | <pull request> | Base image migration |` to the changelog table"),
                    ));
                }
            }
        }
    }
    super::sort_findings(&mut findings);
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(v("1.2.0") > v("1.2.0-rc1"));
        assert!(v("1.4.5").is_patch_bump_of(&v("1.4.4")));
        assert!(!v("1.4.6").is_patch_bump_of(&v("1.4.4")));
        assert!(!v("1.5.0").is_patch_bump_of(&v("1.4.4")));
        assert!(!v("1.4.5-rc").is_patch_bump_of(&v("1.4.4")));
        assert!(Version::parse("latest").is_none());
    }

    #[test]
    fn docs_paths_and_changelog_rows() {
        assert_eq!(
            docs_path("https://docs.airbyte.com/integrations/sources/github").as_deref(),
            Some("docs/integrations/sources/github.md")
        );
        assert_eq!(
            docs_path("https://docs.airbyte.com/integrations/sources/github/").as_deref(),
            Some("docs/integrations/sources/github.md")
        );
        assert_eq!(docs_path("https://docs.airbyte.com"), None);
        let md = "| Version | Date |\n|:--|:--|\n| 1.4.4   | 2023-10-02 |\n";
        assert!(has_changelog_row(md, "1.4.4"));
        assert!(!has_changelog_row(md, "1.4.5"));
        assert!(!has_changelog_row(md, "Version "));
    }
}
