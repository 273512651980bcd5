//! Parsed `Dockerfile` in, `VariantTraits` out: what a variant does, in the terms the notebook
//! compared variants by (base image, stages, package manager, timezone, layer caching, …).

use serde::Serialize;

use super::{Args, Dockerfile, Instruction, Stage, lex};

/// What a Dockerfile does, read from its instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VariantTraits {
    /// The external image each stage builds on (stage aliases and ARG defaults resolved).
    pub base_images: Vec<String>,
    /// The external image the final stage builds on.
    pub final_base: Option<String>,
    pub stages: usize,
    /// `apt`, `apk`, `apt+apk` or `none`.
    pub package_manager: String,
    /// The Python version: the final stages' `ENV PYTHON_VERSION`, else the Python part of
    /// the base tag (`3.9` for `python:3.9-slim`, `3.7` for `python:0.109.0-3.7`).
    pub python_version: Option<String>,
    /// Whether the final base is pinned by `@sha256:` digest.
    pub pins_digest: bool,
    pub installs_bash: bool,
    pub upgrades_pip: bool,
    /// Whether the timezone is set to UTC (`TZ`, `/etc/timezone` or `/etc/localtime`).
    pub sets_utc: bool,
    /// Whether dependency manifests are copied and installed before the source, so that
    /// code changes reuse the dependency layer.
    pub caches_dependencies: bool,
    /// The final `USER` (`None`: root by default).
    pub user: Option<String>,
    /// The final `ENTRYPOINT`, exec form joined with spaces.
    pub entrypoint: Option<String>,
    /// The final `AIRBYTE_ENTRYPOINT` value.
    pub airbyte_entrypoint: Option<String>,
    /// Whether `AIRBYTE_ENTRYPOINT` equals the `ENTRYPOINT` (None when neither is set).
    pub airbyte_entrypoint_matches: Option<bool>,
}

const MANIFESTS: &[&str] = &["setup.py", "setup.cfg", "pyproject.toml", "poetry.lock", "Pipfile", "Pipfile.lock"];

/// Reads the traits of one Dockerfile.
pub fn read_traits(df: &Dockerfile) -> VariantTraits {
    let final_stage = df.final_stage();
    let base_images: Vec<String> = df.stages.iter().map(|s| df.resolved_base(s).to_string()).collect();
    let final_base = final_stage.map(|s| df.resolved_base(s).to_string());
    let chain = final_stage.map(|s| stage_chain(df, s)).unwrap_or_default();
    let final_instructions: Vec<&Instruction> = chain.iter().flat_map(|s| df.stage_instructions(s)).collect();

    let commands: Vec<Vec<String>> =
        df.instructions.iter().filter(|i| i.keyword == "RUN").flat_map(|i| shell_commands(i, df.escape)).collect();
    let final_commands: Vec<Vec<String>> =
        final_instructions.iter().filter(|i| i.keyword == "RUN").flat_map(|i| shell_commands(i, df.escape)).collect();

    let entrypoint = final_instructions.iter().rev().find(|i| i.keyword == "ENTRYPOINT").map(|i| command_text(&i.args));
    let airbyte_entrypoint = last_env(&final_instructions, "AIRBYTE_ENTRYPOINT");
    let airbyte_entrypoint_matches = match (&entrypoint, &airbyte_entrypoint) {
        (None, None) => None,
        (Some(e), Some(a)) => Some(e == a),
        _ => Some(false),
    };

    VariantTraits {
        python_version: last_env(&final_instructions, "PYTHON_VERSION")
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .or_else(|| final_base.as_deref().and_then(python_version_of)),
        pins_digest: final_base.as_deref().is_some_and(|b| b.contains("@sha256:")),
        base_images,
        final_base,
        stages: df.stages.len(),
        package_manager: package_manager(&final_commands, &commands),
        installs_bash: commands.iter().any(|c| installs_package(c, "bash")),
        upgrades_pip: commands.iter().any(|c| upgrades_pip(c)),
        sets_utc: sets_utc(df),
        caches_dependencies: df.stages.iter().any(|s| caches_dependencies(df.stage_instructions(s), df.escape)),
        user: final_instructions.iter().rev().find(|i| i.keyword == "USER").map(|i| command_text(&i.args)),
        entrypoint,
        airbyte_entrypoint,
        airbyte_entrypoint_matches,
    }
}

/// The final stage and the stages it derives from, base first, so that inherited `USER`,
/// `ENV` and `ENTRYPOINT` count.
fn stage_chain<'a>(df: &'a Dockerfile, last: &'a Stage) -> Vec<&'a Stage> {
    let mut chain = vec![last];
    let mut current = last;
    while let Some(parent) = current.base_stage.and_then(|i| df.stages.get(i)) {
        if parent.index >= current.index || chain.len() > df.stages.len() {
            break;
        }
        chain.push(parent);
        current = parent;
    }
    chain.reverse();
    chain
}

fn command_text(args: &Args) -> String {
    match args {
        Args::Exec(items) => items.join(" "),
        Args::Shell(text) | Args::Heredoc(text) => text.clone(),
        Args::Words(words) => words.join(" "),
        Args::Pairs(pairs) => pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
    }
}

fn last_env(instructions: &[&Instruction], key: &str) -> Option<String> {
    instructions.iter().rev().find_map(|i| match (&*i.keyword, &i.args) {
        ("ENV", Args::Pairs(pairs)) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
        _ => None,
    })
}

/// Splits a RUN into simple commands (on `&&`, `||`, `;`, `|`), each as unquoted words;
/// heredoc bodies count as scripts.
fn shell_commands(ins: &Instruction, escape: char) -> Vec<Vec<String>> {
    let mut scripts = Vec::new();
    match &ins.args {
        Args::Shell(text) => scripts.push(text.clone()),
        Args::Exec(items) => scripts.push(items.join(" ")),
        Args::Heredoc(_) => scripts.extend(ins.heredocs.iter().map(|h| h.body.replace(['\n'], " ; "))),
        _ => {}
    }
    let mut commands = Vec::new();
    for script in scripts {
        let mut current = Vec::new();
        for word in lex::split_words(&script, escape) {
            let mut word = word.as_str();
            let ends_command = word.ends_with(';');
            word = word.trim_end_matches(';');
            if matches!(word, "&&" | "||" | ";" | "|") {
                commands.push(std::mem::take(&mut current));
                continue;
            }
            if !word.is_empty() {
                current.push(lex::unquote(word, escape));
            }
            if ends_command {
                commands.push(std::mem::take(&mut current));
            }
        }
        commands.push(current);
    }
    commands.retain(|c| !c.is_empty());
    commands
}

fn is_apt(word: &str) -> bool {
    matches!(word, "apt-get" | "apt")
}

fn package_manager(final_commands: &[Vec<String>], all: &[Vec<String>]) -> String {
    let detect = |commands: &[Vec<String>]| {
        let apt = commands.iter().any(|c| c.iter().any(|w| is_apt(w)));
        let apk = commands.iter().any(|c| c.iter().any(|w| w == "apk"));
        match (apt, apk) {
            (true, true) => Some("apt+apk"),
            (true, false) => Some("apt"),
            (false, true) => Some("apk"),
            (false, false) => None,
        }
    };
    detect(final_commands).or_else(|| detect(all)).unwrap_or("none").to_string()
}

fn installs_package(command: &[String], package: &str) -> bool {
    let apt = command.iter().any(|w| is_apt(w)) && command.iter().any(|w| w == "install");
    let apk = command.iter().any(|w| w == "apk") && command.iter().any(|w| w == "add");
    (apt || apk) && command.iter().any(|w| w == package || w.starts_with(&format!("{package}=")))
}

fn upgrades_pip(command: &[String]) -> bool {
    let Some(pip) = command.iter().position(|w| w == "pip" || w == "pip3" || w.ends_with("/pip")) else {
        return false;
    };
    let rest = &command[pip + 1..];
    if rest.first().map(String::as_str) != Some("install") {
        return false;
    }
    let upgrade = rest.iter().any(|w| w == "--upgrade" || w == "-U");
    let targets_pip = rest
        .iter()
        .skip(1)
        .any(|w| w == "pip" || w.starts_with("pip=") || w.starts_with("pip>") || w.starts_with("pip<"));
    targets_pip && (upgrade || rest.iter().any(|w| w.starts_with("pip=") || w.starts_with("pip>")))
}

fn sets_utc(df: &Dockerfile) -> bool {
    df.instructions.iter().any(|ins| {
        let text = match &ins.args {
            Args::Pairs(pairs) if ins.keyword == "ENV" => {
                return pairs.iter().any(|(k, v)| k == "TZ" && v.to_ascii_uppercase().contains("UTC"));
            }
            Args::Heredoc(_) => ins.heredocs.iter().map(|h| h.body.as_str()).collect::<Vec<_>>().join("\n"),
            args => command_text(args),
        };
        (text.contains("/etc/localtime") || text.contains("/etc/timezone")) && text.contains("UTC")
    })
}

fn is_manifest(path: &str) -> bool {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or(path);
    MANIFESTS.contains(&name) || (name.starts_with("requirements") && name.ends_with(".txt"))
}

fn is_install(command: &[String]) -> bool {
    let Some(i) =
        command.iter().position(|w| matches!(w.as_str(), "pip" | "pip3" | "poetry" | "uv") || w.ends_with("/pip"))
    else {
        return false;
    };
    command[i + 1..].iter().any(|w| w == "install" || w == "sync")
}

fn caches_dependencies(instructions: &[Instruction], escape: char) -> bool {
    let mut manifests_copied = false;
    for ins in instructions {
        match ins.keyword.as_str() {
            "COPY" | "ADD" if !ins.flags.iter().any(|f| f.starts_with("--from")) => {
                let sources: Vec<&String> = match &ins.args {
                    Args::Words(w) | Args::Exec(w) => w.iter().take(w.len().saturating_sub(1)).collect(),
                    _ => Vec::new(),
                };
                if sources.is_empty() {
                    continue;
                }
                if sources.iter().all(|s| is_manifest(s)) {
                    manifests_copied = true;
                } else {
                    // Source arrived before any install: the dependency layer is rebuilt on
                    // every code change.
                    return false;
                }
            }
            "RUN" if manifests_copied && shell_commands(ins, escape).iter().any(|c| is_install(c)) => return true,
            _ => {}
        }
    }
    false
}

fn python_version_of(image: &str) -> Option<String> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (name, tag) = match without_digest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => return None,
    };
    let python_image = name.rsplit('/').next() == Some("python");
    // The tag's part that is a Python version (`3.12`, `python3.11`), not its first number.
    tag.split('-').find_map(|part| {
        let (explicit, version) = match part.strip_prefix("python").or_else(|| part.strip_prefix("py")) {
            Some(v) => (true, v),
            None => (false, part),
        };
        if !(python_image || explicit) {
            return None;
        }
        let digits: String = version.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let digits = digits.trim_end_matches('.');
        let mut numbers = digits.split('.');
        let major = numbers.next()?;
        let is_python = (major == "3" || major == "2") && numbers.next().is_some_and(|m| !m.is_empty());
        (is_python || (explicit && !digits.is_empty() && (major == "3" || major == "2"))).then(|| digits.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_dockerfile;
    use super::*;

    const VARIANT_1: &str = "FROM python:3.9-slim\n# Bash is installed for more convenient debugging.\nRUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*\nWORKDIR /airbyte/integration_code\nCOPY source_instagram ./source_instagram\nCOPY main.py ./\nCOPY setup.py ./\nRUN pip install .\nENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main.py\"\nENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\nLABEL io.airbyte.version=1.0.11\nLABEL io.airbyte.name=airbyte/source-instagram\n";

    const VARIANT_2: &str = "FROM python:3.9.11-alpine3.15 as base\n# build and load all requirements\nFROM base as builder\nWORKDIR /airbyte/integration_code\n# upgrade pip to the latest version\nRUN apk --no-cache upgrade \\\n&& pip install --upgrade pip \\\n&& apk --no-cache add tzdata build-base\nCOPY setup.py ./\n# install necessary packages to a temporary folder\nRUN pip install --prefix=/install .\n# build a clean environment\nFROM base\nWORKDIR /airbyte/integration_code\n# copy all loaded and built libraries to a pure basic image\nCOPY --from=builder /install /usr/local\n# add default timezone settings\nCOPY --from=builder /usr/share/zoneinfo/Etc/UTC /etc/localtime\nRUN echo \"Etc/UTC\" > /etc/timezone\n# bash is installed for more convenient debugging.\nRUN apk --no-cache add bash\n# copy payload code only\nCOPY main.py ./\nCOPY source_notion ./source_notion\nENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main.py\"\nENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\nLABEL io.airbyte.version=1.1.2\nLABEL io.airbyte.name=airbyte/source-notion\n";

    const VARIANT_3: &str = "FROM python:3.9-slim\nRUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*\nWORKDIR /airbyte/integration_code\nCOPY setup.py ./\nRUN pip install .\nCOPY source_twilio ./source_twilio\nCOPY main.py ./\nENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main.py\"\nENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\n";

    fn traits(text: &str) -> VariantTraits {
        read_traits(&parse_dockerfile(text, "Dockerfile").unwrap())
    }

    #[test]
    fn notebook_variant_1() {
        let t = traits(VARIANT_1);
        assert_eq!(t.final_base.as_deref(), Some("python:3.9-slim"));
        assert_eq!(t.python_version.as_deref(), Some("3.9"));
        assert_eq!(t.package_manager, "apt");
        assert!(t.installs_bash && !t.upgrades_pip && !t.sets_utc && !t.caches_dependencies && !t.pins_digest);
        assert_eq!(t.airbyte_entrypoint_matches, Some(true));
        assert_eq!(t.stages, 1);
    }

    #[test]
    fn notebook_variant_2() {
        let t = traits(VARIANT_2);
        assert_eq!(t.base_images, vec!["python:3.9.11-alpine3.15"; 3]);
        assert_eq!(t.python_version.as_deref(), Some("3.9.11"));
        assert_eq!(t.package_manager, "apk");
        assert!(t.installs_bash && t.upgrades_pip && t.sets_utc && t.caches_dependencies);
        assert_eq!(t.stages, 3);
        assert_eq!(t.entrypoint.as_deref(), Some("python /airbyte/integration_code/main.py"));
    }

    #[test]
    fn notebook_variant_3_caches_dependencies() {
        let t = traits(VARIANT_3);
        assert!(t.caches_dependencies);
        assert!(!traits(VARIANT_1).caches_dependencies);
    }

    #[test]
    fn entrypoint_mismatch_and_user_and_digest() {
        let t = traits(
            "FROM python:3.9@sha256:0596c508fdfdf28fd3b98e170f7e3d4708d01df6e6d4bffa981fd6dd22dbd1a5\nUSER airbyte\nENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main_dev.py\"\nENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\n",
        );
        assert!(t.pins_digest);
        assert_eq!(t.python_version.as_deref(), Some("3.9"));
        assert_eq!(t.user.as_deref(), Some("airbyte"));
        assert_eq!(t.airbyte_entrypoint_matches, Some(false));
    }

    #[test]
    fn python_version_only_for_python_images() {
        assert_eq!(python_version_of("docker.io/library/python:3.11.4-bookworm").as_deref(), Some("3.11.4"));
        assert_eq!(python_version_of("airbyte/python-connector-base:1.1.0"), None);
        assert_eq!(python_version_of("python"), None);
        assert_eq!(python_version_of("localhost:5000/python"), None);
        assert_eq!(python_version_of("python:0.109.0-3.7").as_deref(), Some("3.7"));
        assert_eq!(python_version_of("tiangolo/uvicorn-gunicorn:python3.11-slim").as_deref(), Some("3.11"));
        assert_eq!(python_version_of("python:3.13-rc-alpine").as_deref(), Some("3.13"));
        assert_eq!(python_version_of("node:20-bookworm"), None);
    }

    #[test]
    fn python_version_from_env() {
        let t = traits("FROM buildpack-deps:bookworm\nENV PYTHON_VERSION=3.12.7\nRUN x\n");
        assert_eq!(t.python_version.as_deref(), Some("3.12.7"));
    }
}
