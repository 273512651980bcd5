//! Variants, their representative images' facts and the comparisons in; one proposed base
//! image out (`Recommendation`): every choice with its evidence and the connectors it
//! affects, the exceptions that need a build hook, a base Dockerfile and a `checks.yaml`.

pub mod checks;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::compare::{EnvDiff, PackageDiff, VersionGroup};
use crate::group::Variant;
use crate::inspect::ImageFacts;

pub use checks::{CheckFailure, Checks, check_facts};

/// One variant, the image chosen to represent it and its facts when it could be read.
#[derive(Debug, Clone)]
pub struct VariantImage<'a> {
    pub variant: &'a Variant,
    /// The label the comparisons use for this image.
    pub label: Option<String>,
    pub facts: Option<&'a ImageFacts>,
}

/// Everything the recommendation is drawn from.
#[derive(Debug, Clone)]
pub struct Evidence<'a> {
    pub images: Vec<VariantImage<'a>>,
    pub env: &'a EnvDiff,
    pub packages: &'a PackageDiff,
    /// The proposed tag's digest, when a registry resolved it.
    pub digest: Option<String>,
}

/// One decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub topic: String,
    pub choice: String,
    pub evidence: String,
    /// Connectors this choice changes something for.
    pub affects: Vec<String>,
}

/// A connector that needs a per-connector build hook on top of the common base.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Exception {
    pub connector: String,
    /// `entrypoint`, `env` or `packages`.
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// The proposed base image tag (without digest).
    pub base_image: String,
    /// `tag@sha256:…` when resolved, else the tag.
    pub pinned: String,
    pub choices: Vec<Choice>,
    pub exceptions: Vec<Exception>,
    pub dockerfile: String,
    pub checks: Checks,
    pub checks_yaml: String,
    /// The reasoning, in Markdown.
    pub reasoning: String,
}

/// Debian releases by version, to name the newest one the images run.
const DEBIAN_CODENAMES: &[(&str, &str)] =
    &[("10", "buster"), ("11", "bullseye"), ("12", "bookworm"), ("13", "trixie"), ("14", "forky")];

/// `debian`, `alpine` or `other`: from the image's os-release when it was read, else from the
/// base image tag.
pub fn family_of(variant: &Variant, facts: Option<&ImageFacts>) -> &'static str {
    if let Some(id) = facts.and_then(|f| f.os.id.as_deref()) {
        return match id {
            "alpine" => "alpine",
            "debian" | "ubuntu" => "debian",
            _ => "other",
        };
    }
    let base = variant.traits.final_base.as_deref().unwrap_or("");
    let tag = base.rsplit_once(':').map_or("", |(_, t)| t);
    if tag.contains("alpine") {
        "alpine"
    } else if base.contains("python")
        || ["slim", "bookworm", "bullseye", "buster", "trixie"].iter().any(|c| tag.contains(c))
    {
        "debian"
    } else {
        "other"
    }
}

fn connectors_of<'a>(images: impl Iterator<Item = &'a VariantImage<'a>>) -> Vec<String> {
    let set: BTreeSet<String> = images.flat_map(|i| i.variant.connectors.iter().cloned()).collect();
    set.into_iter().collect()
}

fn numeric(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0))
        .collect()
}

fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Builds the recommendation. Deterministic: ties are broken by version or name.
pub fn recommend(e: &Evidence<'_>) -> Recommendation {
    let mut choices = Vec::new();
    let all_connectors = connectors_of(e.images.iter());

    // Distro family: count variants and connectors per family.
    let mut families: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for i in &e.images {
        let entry = families.entry(family_of(i.variant, i.facts)).or_default();
        entry.0 += 1;
        entry.1 += i.variant.count;
    }
    let manylinux: BTreeSet<String> = e
        .images
        .iter()
        .filter_map(|i| i.facts)
        .flat_map(|f| f.python_packages.iter())
        .filter(|p| p.wheel_tags.iter().any(|t| t.contains("manylinux")))
        .map(|p| p.name.clone())
        .collect();
    let all_alpine = !families.is_empty() && families.keys().all(|f| *f == "alpine");
    let family = if all_alpine && manylinux.is_empty() { "alpine" } else { "debian" };
    let family_counts: Vec<String> =
        families.iter().map(|(f, (v, c))| format!("{f}: {v} variant(s), {c} connector(s)")).collect();
    let wheels = if manylinux.is_empty() {
        "no inspected Python distribution ships a manylinux (glibc) wheel".to_string()
    } else {
        format!(
            "{} {} manylinux wheels, which are built against glibc and do not run on Alpine's musl",
            manylinux.iter().cloned().collect::<Vec<_>>().join(", "),
            if manylinux.len() == 1 { "ships" } else { "ship" }
        )
    };
    let moved: Vec<&VariantImage> = e.images.iter().filter(|i| family_of(i.variant, i.facts) != family).collect();
    choices.push(Choice {
        topic: "distro".into(),
        choice: family.into(),
        evidence: format!(
            "{}; {wheels}. {}",
            family_counts.join("; "),
            if family == "debian" {
                "Debian works for every connector; Alpine saves space but breaks glibc-only wheels."
            } else {
                "every image is Alpine and nothing needs glibc."
            }
        ),
        affects: connectors_of(moved.into_iter()),
    });

    // Python: the minor most images run, at the newest patch seen.
    let pythons: Vec<(String, usize)> = python_versions(e);
    let mut minors: BTreeMap<String, usize> = BTreeMap::new();
    for (v, n) in &pythons {
        *minors.entry(minor(v)).or_default() += n;
    }
    let top_minor =
        minors.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| numeric(b.0).cmp(&numeric(a.0)))).map(|(m, _)| m.clone());
    let python = top_minor.as_ref().and_then(|m| {
        pythons.iter().map(|(v, _)| v).filter(|v| minor(v) == *m).max_by(|a, b| numeric(a).cmp(&numeric(b))).cloned()
    });
    let spread: Vec<String> = pythons.iter().map(|(v, n)| format!("{v} ({n})")).collect();
    if let Some(python) = &python {
        let off: Vec<&VariantImage> =
            e.images.iter().filter(|i| image_python(i).as_deref() != Some(python.as_str())).collect();
        choices.push(Choice {
            topic: "python".into(),
            choice: python.clone(),
            evidence: format!(
                "Python {} is what most variants run; {python} is the newest patch of it seen in the images \
                 (check python.org for a newer one). Spread over variants: {}.",
                top_minor.clone().unwrap_or_default(),
                spread.join(", ")
            ),
            affects: connectors_of(off.into_iter()),
        });
    }

    // pip: pinned to the newest seen.
    let pips = &e.packages.pip;
    let pip = pips.iter().map(|g| g.version.clone()).max_by(|a, b| numeric(a).cmp(&numeric(b)));
    if let Some(pip) = &pip {
        choices.push(Choice {
            topic: "pip".into(),
            choice: pip.clone(),
            evidence: format!(
                "pinned to the newest pip seen, for reproducible builds. Spread over images: {}.",
                pips.iter().map(|g| format!("{} ({})", g.version, g.images.len())).collect::<Vec<_>>().join(", ")
            ),
            affects: affected_by_versions(e, pips, pip),
        });
    }

    // The Debian release: the newest the images run.
    let codename = e
        .images
        .iter()
        .filter_map(|i| i.facts)
        .filter(|f| f.os.id.as_deref() == Some("debian"))
        .filter_map(|f| f.os.version_id.clone())
        .max_by(|a, b| numeric(a).cmp(&numeric(b)))
        .and_then(|v| DEBIAN_CODENAMES.iter().find(|(n, _)| *n == v).map(|(_, c)| c.to_string()))
        .unwrap_or_else(|| "bookworm".to_string());
    let base_image = match (family, &python) {
        ("alpine", Some(p)) => format!("python:{p}-alpine"),
        ("alpine", None) => "alpine:latest".to_string(),
        (_, Some(p)) => format!("python:{p}-{codename}"),
        (_, None) => format!("debian:{codename}"),
    };
    choices.push(Choice {
        topic: "base image".into(),
        choice: base_image.clone(),
        evidence: format!(
            "the full {codename} image rather than -slim: it carries the system packages connectors' dependencies \
             may need, which matters more here than image size."
        ),
        affects: all_connectors.clone(),
    });
    let pinned = match &e.digest {
        Some(d) => format!("{base_image}@{d}"),
        None => base_image.clone(),
    };
    choices.push(Choice {
        topic: "digest".into(),
        choice: pinned.clone(),
        evidence: match &e.digest {
            Some(_) => "resolved from the registry: the tag can move, the digest cannot".into(),
            None => format!(
                "tags move (python:3.9-slim followed every 3.9 patch), so pin the digest: \
                 `docker buildx imagetools inspect {base_image}` prints it; use `{base_image}@sha256:<digest>`."
            ),
        },
        affects: all_connectors.clone(),
    });

    // Timezone and the env every image sets with one value.
    let not_utc: Vec<&VariantImage> = e
        .images
        .iter()
        .filter(|i| match i.facts {
            Some(f) => !f.timezone.as_ref().is_some_and(|t| is_utc(&t.version)),
            None => !i.variant.traits.sets_utc,
        })
        .collect();
    choices.push(Choice {
        topic: "timezone".into(),
        choice: "UTC".into(),
        evidence: format!(
            "{} of {} variants do not run in UTC; the base image sets it once for all.",
            not_utc.len(),
            e.images.len()
        ),
        affects: connectors_of(not_utc.into_iter()),
    });
    let lang =
        e.env.same.iter().find(|v| v.name == "LANG").map(|v| v.value.clone()).unwrap_or_else(|| "C.UTF-8".into());
    choices.push(Choice {
        topic: "LANG".into(),
        choice: lang.clone(),
        evidence: if e.env.same.iter().any(|v| v.name == "LANG") {
            "every image sets it to this value.".into()
        } else {
            "not set alike by every image; C.UTF-8 is the Python images' default.".into()
        },
        affects: Vec::new(),
    });

    let exceptions = exceptions(e);
    let checks = Checks::from_evidence(python.as_deref(), pip.as_deref(), &lang, e.env);
    let checks_yaml = checks.to_yaml();
    let dockerfile = dockerfile(&pinned, family, pip.as_deref(), &lang);
    let mut recommendation = Recommendation {
        base_image,
        pinned,
        choices,
        exceptions,
        dockerfile,
        checks,
        checks_yaml,
        reasoning: String::new(),
    };
    recommendation.reasoning = reasoning(&recommendation);
    recommendation
}

fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "Etc/UTC" | "UTC0" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Zulu" | "Etc/Zulu")
}

fn image_python(i: &VariantImage<'_>) -> Option<String> {
    match i.facts {
        Some(f) => f.python.as_ref().map(|p| p.version.clone()),
        None => i.variant.traits.python_version.clone(),
    }
}

/// Python versions with how many variants run each: from the images' facts, or from the
/// base tag when an image could not be read.
fn python_versions(e: &Evidence<'_>) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in &e.images {
        if let Some(v) = image_python(i) {
            *counts.entry(v).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = counts.into_iter().collect();
    out.sort_by_key(|(v, _)| std::cmp::Reverse(numeric(v)));
    out
}

fn affected_by_versions(e: &Evidence<'_>, groups: &[VersionGroup], chosen: &str) -> Vec<String> {
    let off: BTreeSet<&str> =
        groups.iter().filter(|g| g.version != chosen).flat_map(|g| g.images.iter().map(String::as_str)).collect();
    connectors_of(e.images.iter().filter(|i| i.label.as_deref().is_some_and(|l| off.contains(l))))
}

/// Connectors that need a build hook: a different `AIRBYTE_ENTRYPOINT`, env variables only
/// some images set, system packages only some images add.
fn exceptions(e: &Evidence<'_>) -> Vec<Exception> {
    let mut out = BTreeSet::new();
    let mut entrypoints: BTreeMap<String, usize> = BTreeMap::new();
    for i in &e.images {
        if let Some(ep) = &i.variant.traits.airbyte_entrypoint {
            *entrypoints.entry(ep.clone()).or_default() += i.variant.count;
        }
    }
    let common = entrypoints.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0))).map(|(ep, _)| ep.clone());
    for i in &e.images {
        if let (Some(ep), Some(common)) = (&i.variant.traits.airbyte_entrypoint, &common)
            && ep != common
        {
            for c in &i.variant.connectors {
                out.insert(Exception {
                    connector: c.clone(),
                    kind: "entrypoint".into(),
                    detail: format!("AIRBYTE_ENTRYPOINT is `{ep}`, not the common `{common}`"),
                });
            }
        }
    }
    let by_label: BTreeMap<&str, &VariantImage> =
        e.images.iter().filter_map(|i| i.label.as_deref().map(|l| (l, i))).collect();
    for var in &e.env.partial {
        // Variables the runtime or the Dockerfile's own bookkeeping sets are no reason for a hook.
        if matches!(var.name.as_str(), "HOSTNAME" | "HOME" | "WORKDIR" | "CODE_PATH") {
            continue;
        }
        for image in &var.images {
            if let Some(i) = by_label.get(image.as_str()) {
                for c in &i.variant.connectors {
                    out.insert(Exception {
                        connector: c.clone(),
                        kind: "env".into(),
                        detail: format!("sets {}={}", var.name, var.values.get(image).cloned().unwrap_or_default()),
                    });
                }
            }
        }
    }
    let total = e.packages.images.len();
    for row in e.packages.union.iter().filter(|r| r.count < total) {
        for image in &row.images {
            if let Some(i) = by_label.get(image.as_str()) {
                for c in &i.variant.connectors {
                    out.insert(Exception {
                        connector: c.clone(),
                        kind: "packages".into(),
                        detail: format!("needs system package {}", row.name),
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

fn dockerfile(pinned: &str, family: &str, pip: Option<&str>, lang: &str) -> String {
    let mut lines = vec![
        "# The common base image dockvar proposes; connectors add only their code on top.".to_string(),
        format!("FROM {pinned}"),
        format!("ENV TZ=UTC LANG={lang}"),
    ];
    if family == "alpine" {
        lines.push("RUN apk add --no-cache tzdata bash && cp /usr/share/zoneinfo/Etc/UTC /etc/localtime && echo Etc/UTC > /etc/timezone".into());
        lines.push("RUN adduser -D -h /airbyte airbyte && mkdir -p /airbyte/integration_code && chown -R airbyte:airbyte /airbyte".into());
    } else {
        lines.push("RUN ln -snf /usr/share/zoneinfo/Etc/UTC /etc/localtime && echo Etc/UTC > /etc/timezone".into());
        lines.push("RUN adduser --disabled-password --gecos '' --home /airbyte airbyte && mkdir -p /airbyte/integration_code && chown -R airbyte:airbyte /airbyte".into());
    }
    if let Some(pip) = pip {
        lines.push(format!("RUN pip install --no-cache-dir pip=={pip}"));
    }
    lines.push("WORKDIR /airbyte/integration_code".into());
    lines.join("\n") + "\n"
}

fn reasoning(r: &Recommendation) -> String {
    let mut md = format!("## Recommended base image\n\n`{}`\n\n", r.pinned);
    for c in &r.choices {
        md.push_str(&format!("- **{}: {}**. {}", c.topic, c.choice, c.evidence));
        if !c.affects.is_empty() && c.affects.len() <= 20 {
            md.push_str(&format!(" Affects: {}.", c.affects.join(", ")));
        } else if !c.affects.is_empty() {
            md.push_str(&format!(" Affects {} connectors.", c.affects.len()));
        }
        md.push('\n');
    }
    md.push_str("\n## Exceptions that need a build hook\n\n");
    if r.exceptions.is_empty() {
        md.push_str("None: every connector fits the common base image.\n");
    } else {
        for x in &r.exceptions {
            md.push_str(&format!("- `{}` ({}): {}\n", x.connector, x.kind, x.detail));
        }
    }
    md.push_str(&format!(
        "\n## Proposed Dockerfile\n\n```dockerfile\n{}```\n\n## checks.yaml\n\n```yaml\n{}```\n",
        r.dockerfile, r.checks_yaml
    ));
    md
}
