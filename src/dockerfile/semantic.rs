//! Parsed `Dockerfile` in, canonical text out: one line per instruction with formatting,
//! comments, the connector's own names, version labels and stage names normalized away, so
//! that only what changes the build makes a new variant.

use super::lex;
use super::{Args, Dockerfile, Instruction, NameContext};

/// Labels that change with every release and so never define a variant.
pub const DEFAULT_IGNORED_LABELS: &[&str] = &["io.airbyte.version", "org.opencontainers.image.version"];

/// Options of the semantic normalizer.
#[derive(Debug, Clone)]
pub struct SemanticOptions {
    pub ignored_labels: Vec<String>,
}

impl Default for SemanticOptions {
    fn default() -> Self {
        SemanticOptions { ignored_labels: DEFAULT_IGNORED_LABELS.iter().map(|s| s.to_string()).collect() }
    }
}

impl SemanticOptions {
    pub fn with_extra_labels(extra: &[String]) -> Self {
        let mut options = SemanticOptions::default();
        options.ignored_labels.extend(extra.iter().cloned());
        options
    }
}

/// The canonical text hashed into a variant ID.
pub fn canonical(df: &Dockerfile, names: &NameContext, options: &SemanticOptions) -> String {
    canonical_lines(df, names, options).join("\n")
}

/// One canonical entry per kept instruction (a heredoc body stays inside its entry).
pub fn canonical_lines(df: &Dockerfile, names: &NameContext, options: &SemanticOptions) -> Vec<String> {
    let renamer = StageRenamer::new(df);
    let replacements = names.replacements();
    let mut lines = Vec::with_capacity(df.instructions.len());
    let mut stage = 0usize;
    for ins in &df.instructions {
        let rendered = if ins.keyword == "FROM" {
            let line = render_from(df, ins, stage, &renamer);
            stage += 1;
            Some(line)
        } else {
            render(ins, df.escape, Some(&renamer), options)
        };
        if let Some(mut line) = rendered {
            for (name, placeholder) in &replacements {
                line = line.replace(name.as_str(), placeholder);
            }
            lines.push(line);
        }
    }
    lines
}

/// An instruction as written, with arguments in their canonical spelling but nothing
/// renamed or dropped; used for `ONBUILD` bodies and human output.
pub fn render_plain(ins: &Instruction) -> String {
    render(ins, '\\', None, &SemanticOptions { ignored_labels: Vec::new() }).unwrap_or_default()
}

/// Maps stage names and numbers to positional names, since naming a stage `builder` or
/// `build` changes nothing in the image.
struct StageRenamer {
    names: Vec<(String, usize)>,
    count: usize,
}

impl StageRenamer {
    fn new(df: &Dockerfile) -> Self {
        let names = df.stages.iter().filter_map(|s| s.name.clone().map(|n| (n, s.index))).collect();
        StageRenamer { names, count: df.stages.len() }
    }

    fn stage_ref(&self, reference: &str) -> Option<String> {
        let lower = reference.to_ascii_lowercase();
        if let Some((_, index)) = self.names.iter().find(|(n, _)| *n == lower) {
            return Some(format!("stage-{index}"));
        }
        match reference.parse::<usize>() {
            Ok(index) if index < self.count => Some(format!("stage-{index}")),
            _ => None,
        }
    }

    /// Rewrites `--from=NAME` and `--mount=…,from=NAME,…`.
    fn flag(&self, flag: &str) -> String {
        if let Some(value) = flag.strip_prefix("--from=")
            && let Some(stage) = self.stage_ref(value)
        {
            return format!("--from={stage}");
        }
        if let Some(value) = flag.strip_prefix("--mount=") {
            let parts: Vec<String> = value
                .split(',')
                .map(|part| match part.split_once('=') {
                    Some((key, v)) if key.eq_ignore_ascii_case("from") => match self.stage_ref(v) {
                        Some(stage) => format!("{key}={stage}"),
                        None => part.to_string(),
                    },
                    _ => part.to_string(),
                })
                .collect();
            return format!("--mount={}", parts.join(","));
        }
        flag.to_string()
    }
}

fn render_from(df: &Dockerfile, ins: &Instruction, stage: usize, renamer: &StageRenamer) -> String {
    let mut out = String::from("FROM");
    for flag in sorted_flags(ins, Some(renamer)) {
        out.push(' ');
        out.push_str(&flag);
    }
    let base = match df.stages.get(stage) {
        Some(s) => match s.base_stage {
            Some(parent) => format!("stage-{parent}"),
            None => s.base.clone(),
        },
        None => String::new(),
    };
    out.push(' ');
    out.push_str(&base);
    out.push_str(&format!(" AS stage-{stage}"));
    out
}

fn sorted_flags(ins: &Instruction, renamer: Option<&StageRenamer>) -> Vec<String> {
    let mut flags: Vec<String> = ins
        .flags
        .iter()
        .map(|f| match renamer {
            Some(r) => r.flag(f),
            None => f.clone(),
        })
        .collect();
    // Flag order never changes the build.
    flags.sort();
    flags
}

fn render(
    ins: &Instruction,
    escape: char,
    renamer: Option<&StageRenamer>,
    options: &SemanticOptions,
) -> Option<String> {
    let mut out = ins.keyword.clone();
    for flag in sorted_flags(ins, renamer) {
        out.push(' ');
        out.push_str(&flag);
    }
    let is_healthcheck_cmd = ins.keyword == "HEALTHCHECK" && matches!(ins.args, Args::Shell(_) | Args::Exec(_));
    if is_healthcheck_cmd {
        out.push_str(" CMD");
    }
    match &ins.args {
        Args::Shell(text) => {
            let folded = lex::fold_whitespace(text, escape);
            if !folded.is_empty() {
                out.push(' ');
                out.push_str(&folded);
            }
        }
        Args::Exec(items) => {
            out.push(' ');
            out.push_str(&serde_json::to_string(items).unwrap_or_default());
        }
        Args::Heredoc(command) => {
            out.push(' ');
            out.push_str(&lex::fold_whitespace(command, escape));
            for doc in &ins.heredocs {
                out.push('\n');
                out.push_str(&doc.body);
                if !doc.body.is_empty() && !doc.body.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&doc.name);
            }
        }
        Args::Pairs(pairs) => {
            let kept: Vec<&(String, String)> = pairs
                .iter()
                .filter(|(k, _)| ins.keyword != "LABEL" || !options.ignored_labels.iter().any(|l| l == k))
                .collect();
            if kept.is_empty() {
                return None;
            }
            for (key, value) in kept {
                out.push(' ');
                out.push_str(&lex::quote_minimal(key));
                out.push('=');
                out.push_str(&lex::quote_minimal(value));
            }
        }
        Args::Words(words) => {
            for word in words {
                out.push(' ');
                if ins.keyword == "ARG" {
                    match word.split_once('=') {
                        Some((name, value)) => {
                            out.push_str(&lex::unquote(name, escape));
                            out.push('=');
                            out.push_str(&lex::quote_minimal(&lex::unquote(value, escape)));
                        }
                        None => out.push_str(&lex::unquote(word, escape)),
                    }
                } else {
                    out.push_str(&lex::fold_whitespace(word, escape));
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_dockerfile;
    use super::*;

    fn canon(text: &str) -> String {
        let df = parse_dockerfile(text, "Dockerfile").unwrap();
        canonical(&df, &NameContext::technical("source-foo"), &SemanticOptions::default())
    }

    #[test]
    fn formatting_does_not_matter() {
        let a = canon(
            "FROM python:3.9-slim\n# c\nRUN apt-get update && apt-get install -y bash\nENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main.py\"\nENTRYPOINT [\"python\", \"/airbyte/integration_code/main.py\"]\nLABEL io.airbyte.version=1.0.0\nLABEL io.airbyte.name=airbyte/source-foo\n",
        );
        let b = canon(
            "from   python:3.9-slim\r\n\r\nrun apt-get update \\\r\n    && apt-get install -y bash\r\nenv AIRBYTE_ENTRYPOINT=\"python /airbyte/integration_code/main.py\"\r\nentrypoint [\"python\",\"/airbyte/integration_code/main.py\"]\r\nLABEL io.airbyte.version=2.3.4\r\nLABEL io.airbyte.name=\"airbyte/source-foo\"\r\n",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "FROM python:3.9-slim AS stage-0\nRUN apt-get update && apt-get install -y bash\nENV AIRBYTE_ENTRYPOINT=\"python /airbyte/integration_code/main.py\"\nENTRYPOINT [\"python\",\"/airbyte/integration_code/main.py\"]\nLABEL io.airbyte.name=airbyte/connector-technical-name"
        );
    }

    #[test]
    fn stage_names_become_indexes() {
        let a = canon(
            "FROM python:3.9 as base\nFROM base as builder\nRUN x\nFROM base\nCOPY --from=builder /install /usr/local\n",
        );
        let b =
            canon("FROM python:3.9 AS b0\nFROM b0 AS build\nRUN x\nFROM b0\nCOPY --from=build /install /usr/local\n");
        assert_eq!(a, b);
        assert!(a.contains("COPY --from=stage-1 /install /usr/local"), "{a}");
        assert!(a.contains("FROM stage-0 AS stage-2"), "{a}");
    }

    #[test]
    fn names_are_replaced_everywhere() {
        let a = canon("FROM x\nCOPY source_foo ./source_foo\nENV CODE_PATH=source_foo\n");
        assert_eq!(
            a,
            "FROM x AS stage-0\nCOPY connector_technical_name ./connector_technical_name\nENV CODE_PATH=connector_technical_name"
        );
    }

    #[test]
    fn extra_ignored_labels_drop_instructions() {
        let df = parse_dockerfile("FROM x\nLABEL build.date=2024 maintainer=me\n", "D").unwrap();
        let opts = SemanticOptions::with_extra_labels(&["build.date".to_string()]);
        assert_eq!(canonical(&df, &NameContext::default(), &opts), "FROM x AS stage-0\nLABEL maintainer=me");
        let opts = SemanticOptions::with_extra_labels(&["build.date".to_string(), "maintainer".to_string()]);
        assert_eq!(canonical(&df, &NameContext::default(), &opts), "FROM x AS stage-0");
    }

    #[test]
    fn heredoc_bodies_are_kept() {
        assert_eq!(canon("FROM x\nRUN <<EOF\necho  hi\nEOF\n"), "FROM x AS stage-0\nRUN <<EOF\necho  hi\nEOF");
    }
}
