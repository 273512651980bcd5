//! A connector's Dockerfile, or an image's facts, in; the Airbyte connector image contract
//! (`AIRBYTE_ENTRYPOINT`, user `airbyte`, `/airbyte`, amd64, labels, pinned base) out as
//! `Finding`s, checked statically: nothing is built or run.

use crate::discover::Connector;
use crate::dockerfile::{Args, Dockerfile, Instruction, read_traits};
use crate::inspect::ImageFacts;

use super::{Finding, Location, Rule, Severity};

pub const ENTRYPOINT: &str = "contract/airbyte-entrypoint";
pub const USER: &str = "contract/airbyte-user";
pub const AIRBYTE_DIR: &str = "contract/airbyte-dir";
pub const AMD64: &str = "contract/amd64";
pub const LABELS: &str = "contract/labels";
pub const BASE_PINNED: &str = "contract/base-pinned";

pub const RULES: &[Rule] = &[
    Rule {
        id: ENTRYPOINT,
        severity: Severity::Error,
        description: "AIRBYTE_ENTRYPOINT is set and equals the ENTRYPOINT, with absolute paths.",
    },
    Rule { id: USER, severity: Severity::Warning, description: "The image runs as the non-root user `airbyte`." },
    Rule {
        id: AIRBYTE_DIR,
        severity: Severity::Error,
        description: "The directory /airbyte exists, is owned by user airbyte and is writable by it.",
    },
    Rule {
        id: AMD64,
        severity: Severity::Error,
        description: "The image is linux/amd64, or a multi-platform index that includes linux/amd64.",
    },
    Rule {
        id: LABELS,
        severity: Severity::Error,
        description: "io.airbyte.name and io.airbyte.version match dockerRepository and dockerImageTag in metadata.yaml.",
    },
    Rule {
        id: BASE_PINNED,
        severity: Severity::Warning,
        description: "The base image is pinned by sha256 digest, so rebuilds use the same base.",
    },
];

/// Options that change severities.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContractOptions {
    /// Treat a non-`airbyte` user as an error (the protocol says "should").
    pub require_airbyte_user: bool,
}

impl ContractOptions {
    fn user_severity(self) -> Severity {
        if self.require_airbyte_user { Severity::Error } else { Severity::Warning }
    }
}

/// A word of an entrypoint that is a path but not an absolute one.
fn relative_path(words: &[String]) -> Option<&str> {
    words.iter().map(String::as_str).find(|w| {
        let looks_like_path =
            w.contains('/') || [".py", ".sh", ".jar", ".js"].iter().any(|ext| w.ends_with(ext)) && !w.starts_with('-');
        looks_like_path && !w.starts_with('/') && !w.contains("://")
    })
}

pub(crate) fn entrypoint_problem(
    entrypoint: Option<&[String]>,
    airbyte_entrypoint: Option<&str>,
) -> Option<(String, String)> {
    let Some(value) = airbyte_entrypoint else {
        return Some((
            "AIRBYTE_ENTRYPOINT is not set".into(),
            "add `ENV AIRBYTE_ENTRYPOINT \"<the ENTRYPOINT, words joined with spaces>\"`".into(),
        ));
    };
    let Some(words) = entrypoint.filter(|w| !w.is_empty()) else {
        return Some((
            format!("AIRBYTE_ENTRYPOINT is `{value}` but there is no ENTRYPOINT"),
            format!("add `ENTRYPOINT {}`", exec_form(value)),
        ));
    };
    // A shell-form ENTRYPOINT is stored as `/bin/sh -c CMD`; the contract compares CMD.
    let effective: Vec<String> = match words {
        [sh, c, rest @ ..] if (sh == "/bin/sh" || sh == "sh") && c == "-c" => rest.to_vec(),
        _ => words.to_vec(),
    };
    let joined = effective.join(" ");
    if joined != value {
        return Some((
            format!("AIRBYTE_ENTRYPOINT is `{value}` but the ENTRYPOINT is `{joined}`"),
            format!("set `ENV AIRBYTE_ENTRYPOINT \"{joined}\"` (or change the ENTRYPOINT to match)"),
        ));
    }
    let split: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    relative_path(&split).map(|word| {
        (
            format!("the entrypoint uses the relative path `{word}`"),
            format!("use an absolute path, e.g. `/airbyte/integration_code/{}`", word.trim_start_matches("./")),
        )
    })
}

fn exec_form(command: &str) -> String {
    serde_json::to_string(&command.split_whitespace().collect::<Vec<_>>()).unwrap_or_default()
}

/// What metadata.yaml says the image is called.
fn expected_labels(connector: &Connector) -> Option<(String, String)> {
    let image = connector.image.as_deref()?;
    let (name, tag) = image.rsplit_once(':')?;
    Some((name.to_string(), tag.to_string()))
}

fn label_problems(labels: &dyn Fn(&str) -> Option<String>, connector: &Connector) -> Vec<(String, String)> {
    let Some((name, version)) = expected_labels(connector) else { return Vec::new() };
    let mut problems = Vec::new();
    for (key, want, field) in
        [("io.airbyte.name", &name, "dockerRepository"), ("io.airbyte.version", &version, "dockerImageTag")]
    {
        match labels(key) {
            Some(have) if have == *want => {}
            Some(have) => problems.push((
                format!("label {key} is `{have}` but metadata.yaml {field} is `{want}`"),
                format!("set `LABEL {key}={want}` (or fix {field})"),
            )),
            None => problems.push((format!("label {key} is missing"), format!("add `LABEL {key}={want}`"))),
        }
    }
    problems
}

/// Static checks of one connector's Dockerfile.
pub fn check_dockerfile(connector: &Connector, path: &str, df: &Dockerfile, options: ContractOptions) -> Vec<Finding> {
    let traits = read_traits(df);
    let mut findings = Vec::new();
    let Some(final_stage) = df.final_stage() else { return findings };
    let chain: Vec<&Instruction> = stage_chain(df).into_iter().flat_map(|s| df.stage_instructions(s)).collect();
    let line_of = |keyword: &str| chain.iter().rev().find(|i| i.keyword == keyword).map(|i| i.line);
    let from_line = df.instructions.get(final_stage.from_instruction).map_or(1, |i| i.line);
    let mut push =
        |check_id: &'static str, severity: Severity, line: Option<usize>, (message, fix): (String, String)| {
            findings.push(Finding {
                check_id,
                severity,
                subject: connector.name.clone(),
                location: Some(Location { path: path.to_string(), line: line.unwrap_or(0) }),
                message,
                fix,
            });
        };

    let entrypoint: Option<Vec<String>> =
        chain.iter().rev().find(|i| i.keyword == "ENTRYPOINT").map(|i| match &i.args {
            Args::Exec(items) => items.clone(),
            Args::Shell(text) => vec![text.clone()],
            _ => Vec::new(),
        });
    if let Some(problem) = entrypoint_problem(entrypoint.as_deref(), traits.airbyte_entrypoint.as_deref()) {
        let line = line_of("ENTRYPOINT").or_else(|| env_line(&chain, "AIRBYTE_ENTRYPOINT"));
        push(ENTRYPOINT, Severity::Error, line, problem);
    }

    match traits.user.as_deref() {
        Some("airbyte") => {}
        Some(other) => push(
            USER,
            options.user_severity(),
            line_of("USER"),
            (
                format!("the image runs as `{other}`, not `airbyte`"),
                "create the user and end with `USER airbyte`".into(),
            ),
        ),
        None => push(
            USER,
            options.user_severity(),
            Some(from_line),
            ("the image runs as root (no USER)".into(), "create the user and end with `USER airbyte`".into()),
        ),
    }

    if !gives_airbyte_dir(&chain) {
        push(
            AIRBYTE_DIR,
            Severity::Error,
            Some(from_line),
            (
                "no instruction creates /airbyte owned by user airbyte".into(),
                "add `RUN mkdir -p /airbyte && chown airbyte:airbyte /airbyte` after creating the user".into(),
            ),
        );
    }

    if let Some(platform) = final_stage.platform.as_deref().filter(|p| !p.starts_with('$') && *p != "linux/amd64") {
        push(
            AMD64,
            Severity::Error,
            Some(from_line),
            (
                format!("the final stage is built for {platform}"),
                "drop --platform (or use linux/amd64) and build multi-arch with buildx".into(),
            ),
        );
    }

    let labels = |key: &str| -> Option<String> {
        chain.iter().rev().find_map(|i| match (&*i.keyword, &i.args) {
            ("LABEL", Args::Pairs(pairs)) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
            _ => None,
        })
    };
    let label_line = line_of("LABEL").unwrap_or(from_line);
    for problem in label_problems(&labels, connector) {
        push(LABELS, Severity::Error, Some(label_line), problem);
    }

    if !traits.pins_digest {
        let base = traits.final_base.clone().unwrap_or_default();
        push(
            BASE_PINNED,
            Severity::Warning,
            Some(from_line),
            (
                format!("the base image `{base}` is not pinned by digest"),
                format!("use `FROM {base}@sha256:<digest>` (docker buildx imagetools inspect {base})"),
            ),
        );
    }
    findings
}

fn stage_chain(df: &Dockerfile) -> Vec<&crate::dockerfile::Stage> {
    let mut chain = Vec::new();
    let mut current = df.final_stage();
    while let Some(stage) = current {
        chain.push(stage);
        current = stage.base_stage.and_then(|i| df.stages.get(i)).filter(|s| s.index < stage.index);
        if chain.len() > df.stages.len() {
            break;
        }
    }
    chain.reverse();
    chain
}

fn env_line(chain: &[&Instruction], key: &str) -> Option<usize> {
    chain.iter().rev().find_map(|i| match &i.args {
        Args::Pairs(pairs) if i.keyword == "ENV" && pairs.iter().any(|(k, _)| k == key) => Some(i.line),
        _ => None,
    })
}

/// Evidence that `/airbyte` ends up owned by `airbyte`: a `chown` naming both, a
/// `COPY --chown=airbyte` into it, or `WORKDIR /airbyte…` after `USER airbyte` (BuildKit
/// creates WORKDIR as the current user).
fn gives_airbyte_dir(chain: &[&Instruction]) -> bool {
    let mut user: Option<&str> = None;
    for ins in chain {
        match (&*ins.keyword, &ins.args) {
            ("USER", Args::Words(w)) => user = w.first().map(String::as_str),
            ("WORKDIR", Args::Words(w))
                if w.first().is_some_and(|p| p.starts_with("/airbyte"))
                    && user.is_some_and(|u| u == "airbyte" || u.starts_with("airbyte:")) =>
            {
                return true;
            }
            ("RUN", Args::Shell(text))
                if text.contains("chown") && text.contains("airbyte") && text.contains("/airbyte") =>
            {
                return true;
            }
            ("COPY" | "ADD", Args::Words(words) | Args::Exec(words))
                if ins.flags.iter().any(|f| f.starts_with("--chown=airbyte"))
                    && words.last().is_some_and(|d| d.starts_with("/airbyte")) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// Checks of one inspected image; `connector` (matched by name) enables the label check.
pub fn check_image(
    reference: &str,
    facts: &ImageFacts,
    connector: Option<&Connector>,
    options: ContractOptions,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |check_id: &'static str, severity: Severity, (message, fix): (String, String)| {
        findings.push(Finding { check_id, severity, subject: reference.to_string(), location: None, message, fix });
    };
    let airbyte_entrypoint = facts.env.iter().rev().find(|(k, _)| k == "AIRBYTE_ENTRYPOINT").map(|(_, v)| v.as_str());
    if let Some(problem) = entrypoint_problem(facts.entrypoint.as_deref(), airbyte_entrypoint) {
        push(ENTRYPOINT, Severity::Error, problem);
    }
    if facts.user.root || facts.user.name.as_deref() != Some("airbyte") {
        let who = match (&facts.user.name, facts.user.uid) {
            (Some(n), _) => n.clone(),
            (None, Some(uid)) => format!("uid {uid}"),
            (None, None) if facts.user.spec.is_empty() => "root".into(),
            (None, None) => facts.user.spec.clone(),
        };
        push(
            USER,
            options.user_severity(),
            (format!("the image runs as {who}, not airbyte"), "create the user and end with `USER airbyte`".into()),
        );
    }
    let dir = &facts.airbyte_dir;
    let dir_problem = if !dir.exists {
        Some("/airbyte does not exist".to_string())
    } else if dir.owner.as_deref() != Some("airbyte") {
        Some(format!(
            "/airbyte is owned by {}, not airbyte",
            dir.owner.clone().or(dir.owner_uid.map(|u| format!("uid {u}"))).unwrap_or_else(|| "?".into())
        ))
    } else if !dir.writable_by_airbyte {
        Some(format!("/airbyte (mode {}) is not writable by airbyte", dir.mode.as_deref().unwrap_or("?")))
    } else {
        None
    };
    if let Some(message) = dir_problem {
        push(
            AIRBYTE_DIR,
            Severity::Error,
            (message, "add `RUN mkdir -p /airbyte && chown airbyte:airbyte /airbyte`".into()),
        );
    }
    let amd64 = facts.architecture.as_deref() == Some("amd64") || facts.platforms.iter().any(|p| p == "linux/amd64");
    if !amd64 {
        let offered = if facts.platforms.is_empty() {
            format!(
                "{}/{}",
                facts.os.id.as_deref().map_or("linux", |_| "linux"),
                facts.architecture.as_deref().unwrap_or("?")
            )
        } else {
            facts.platforms.join(", ")
        };
        push(
            AMD64,
            Severity::Error,
            (
                format!("the image is not for linux/amd64 (it has {offered})"),
                "build for linux/amd64, or multi-arch with buildx".into(),
            ),
        );
    }
    if let Some(connector) = connector {
        let labels = |key: &str| facts.labels.get(key).cloned();
        for problem in label_problems(&labels, connector) {
            push(LABELS, Severity::Error, problem);
        }
    }
    findings
}

/// The connector an image belongs to: by its `io.airbyte.name` label, else by the reference's
/// repository.
pub fn connector_for<'a>(reference: &str, facts: &ImageFacts, connectors: &'a [Connector]) -> Option<&'a Connector> {
    let repository = |image: &str| -> String {
        let without_transport = image.split_once(':').filter(|(t, _)| t.starts_with("docker") || *t == "registry");
        let image = without_transport.map_or(image, |(_, rest)| rest.trim_start_matches("//"));
        let name = crate::discover::select::split_image(image).0;
        name.strip_prefix("docker.io/").unwrap_or(name).to_string()
    };
    let by_label = facts.labels.get("io.airbyte.name");
    connectors.iter().find(|c| {
        let Some((name, _)) = expected_labels(c) else { return false };
        by_label.is_some_and(|l| *l == name) || repository(reference).ends_with(&name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Language, Layout};
    use crate::dockerfile::parse_dockerfile;

    fn connector() -> Connector {
        Connector {
            name: "source-foo".into(),
            path: "c/source-foo".into(),
            layout: Layout::Airbyte,
            connector_type: Some("source".into()),
            language: Language::Python,
            support_level: Some("certified".into()),
            release_stage: None,
            tags: vec![],
            image: Some("airbyte/source-foo:1.2.3".into()),
            dockerfile: Some("c/source-foo/Dockerfile".into()),
            base_image: None,
            metadata_path: None,
            metadata: None,
        }
    }

    fn ids(text: &str) -> Vec<(&'static str, usize)> {
        let df = parse_dockerfile(text, "Dockerfile").unwrap();
        check_dockerfile(&connector(), "Dockerfile", &df, ContractOptions::default())
            .into_iter()
            .map(|f| (f.check_id, f.location.map_or(0, |l| l.line)))
            .collect()
    }

    const GOOD: &str = "FROM python:3.9.18-slim@sha256:0596c508fdfdf28fd3b98e170f7e3d4708d01df6e6d4bffa981fd6dd22dbd1a5\n\
        RUN adduser --disabled-password airbyte && mkdir -p /airbyte && chown airbyte:airbyte /airbyte\n\
        USER airbyte\n\
        WORKDIR /airbyte/integration_code\n\
        ENV AIRBYTE_ENTRYPOINT=\"python /airbyte/integration_code/main.py\"\n\
        ENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\n\
        LABEL io.airbyte.name=airbyte/source-foo io.airbyte.version=1.2.3\n";

    #[test]
    fn a_conforming_dockerfile_passes() {
        assert_eq!(ids(GOOD), vec![]);
    }

    #[test]
    fn each_rule_fails_on_its_own_defect() {
        let bad_entrypoint = GOOD.replace("main.py\"\nENTRYPOINT", "main_dev.py\"\nENTRYPOINT");
        assert_eq!(ids(&bad_entrypoint), vec![(ENTRYPOINT, 6)]);
        let relative = GOOD.replace("/airbyte/integration_code/main.py", "main.py");
        assert_eq!(ids(&relative), vec![(ENTRYPOINT, 6)]);
        let root = GOOD.replace("USER airbyte\n", "");
        assert_eq!(ids(&root), vec![(USER, 1)]);
        let no_dir = GOOD
            .replace(" && mkdir -p /airbyte && chown airbyte:airbyte /airbyte", "")
            .replace("WORKDIR /airbyte/integration_code", "WORKDIR /app");
        assert_eq!(ids(&no_dir), vec![(AIRBYTE_DIR, 1)]);
        let workdir_as_root = GOOD.replace(" && mkdir -p /airbyte && chown airbyte:airbyte /airbyte", "").replace(
            "USER airbyte\nWORKDIR /airbyte/integration_code\n",
            "WORKDIR /airbyte/integration_code\nUSER airbyte\n",
        );
        assert_eq!(ids(&workdir_as_root), vec![(AIRBYTE_DIR, 1)]);
        let arm = GOOD.replace("FROM python", "FROM --platform=linux/arm64 python");
        assert_eq!(ids(&arm), vec![(AMD64, 1)]);
        let drift = GOOD.replace("io.airbyte.version=1.2.3", "io.airbyte.version=1.2.2");
        assert_eq!(ids(&drift), vec![(LABELS, 7)]);
        let unpinned = GOOD.replace("@sha256:0596c508fdfdf28fd3b98e170f7e3d4708d01df6e6d4bffa981fd6dd22dbd1a5", "");
        assert_eq!(ids(&unpinned), vec![(BASE_PINNED, 1)]);
    }

    #[test]
    fn shell_form_entrypoints_compare_their_command() {
        let words: Vec<String> = ["/bin/sh", "-c", "python /main.py"].iter().map(|s| s.to_string()).collect();
        assert!(entrypoint_problem(Some(&words), Some("python /main.py")).is_none());
        assert!(entrypoint_problem(Some(&words), None).is_some());
    }

    #[test]
    fn image_checks() {
        use crate::inspect::read::{AirbyteDir, UserFacts};
        let mut facts = ImageFacts {
            env: vec![("AIRBYTE_ENTRYPOINT".into(), "python /airbyte/integration_code/main.py".into())],
            entrypoint: Some(vec!["python".into(), "/airbyte/integration_code/main.py".into()]),
            user: UserFacts {
                spec: "airbyte".into(),
                name: Some("airbyte".into()),
                uid: Some(1000),
                root: false,
                ..UserFacts::default()
            },
            airbyte_dir: AirbyteDir {
                exists: true,
                owner: Some("airbyte".into()),
                writable_by_airbyte: true,
                airbyte_user_exists: true,
                ..AirbyteDir::default()
            },
            architecture: Some("amd64".into()),
            ..ImageFacts::default()
        };
        facts.labels.insert("io.airbyte.name".into(), "airbyte/source-foo".into());
        facts.labels.insert("io.airbyte.version".into(), "1.2.3".into());
        let c = connector();
        let run = |f: &ImageFacts| -> Vec<&'static str> {
            check_image("img", f, Some(&c), ContractOptions::default()).into_iter().map(|f| f.check_id).collect()
        };
        assert_eq!(run(&facts), Vec::<&str>::new());
        let mut arm = facts.clone();
        arm.architecture = Some("arm64".into());
        assert_eq!(run(&arm), vec![AMD64]);
        arm.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
        assert_eq!(run(&arm), Vec::<&str>::new());
        let mut root = facts.clone();
        root.user = UserFacts {
            spec: String::new(),
            name: Some("root".into()),
            uid: Some(0),
            root: true,
            ..UserFacts::default()
        };
        root.airbyte_dir.exists = false;
        assert_eq!(run(&root), vec![USER, AIRBYTE_DIR]);
        let strict = check_image("img", &root, Some(&c), ContractOptions { require_airbyte_user: true });
        assert_eq!(strict[0].severity, Severity::Error);
        assert!(
            connector_for("docker:airbyte/source-foo:1.2.3", &ImageFacts::default(), std::slice::from_ref(&c))
                .is_some()
        );
    }
}
