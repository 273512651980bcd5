//! Dockerfile text in, `Dockerfile` out: BuildKit's parse tree (`buildkit`) turned into
//! instructions with their argument forms, stages with `FROM` expanded from the global ARGs
//! as BuildKit's build does, and what BuildKit's build rejects turned into errors.

use std::path::Path;

use super::buildkit::{self, Node};
use super::shell::Lexer;
use super::{Args, Dockerfile, Heredoc, Instruction, Stage, lex};

/// Why a Dockerfile could not be read or parsed; always names the file and, when known, the
/// line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// Not read at all (missing, a FIFO, a link out of the repository, too large).
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: not valid UTF-8")]
    Utf8 { path: String, line: usize },
    #[error("{path}:{line}: {message}")]
    Syntax { path: String, line: usize, message: String },
    #[error("{path}:{line}: {message}")]
    Unsupported { path: String, line: usize, message: String },
}

impl ParseError {
    /// The 1-based line the error is about (0 when it is about the whole file).
    pub fn line(&self) -> usize {
        match self {
            ParseError::Read { .. } => 0,
            ParseError::Utf8 { line, .. } | ParseError::Syntax { line, .. } | ParseError::Unsupported { line, .. } => {
                *line
            }
        }
    }

    /// The message without the `path:line:` prefix.
    pub fn message(&self) -> String {
        match self {
            ParseError::Read { message, .. } => message.clone(),
            ParseError::Utf8 { .. } => "not valid UTF-8".to_string(),
            ParseError::Syntax { message, .. } | ParseError::Unsupported { message, .. } => message.clone(),
        }
    }
}

/// Largest Dockerfile dockvar reads; real ones are a few KiB, so anything bigger is a mistake.
pub const MAX_DOCKERFILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a file as UTF-8 text, naming the first bad line when it is not. `root`: the
/// repository the file is in, which a symlink may not leave (`None` for a file the user named).
pub fn read_text(path: &Path, root: Option<&Path>, display: &str) -> Result<String, ParseError> {
    let bytes = crate::files::read_file(path, root, MAX_DOCKERFILE_BYTES)
        .map_err(|e| ParseError::Read { path: display.to_string(), message: e.to_string() })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        ParseError::Utf8 { path: display.to_string(), line }
    })
}

/// Reads and parses a Dockerfile; returns its text too, for normalizers that hash text.
pub fn read_dockerfile(path: &Path, root: Option<&Path>, display: &str) -> Result<(String, Dockerfile), ParseError> {
    let text = read_text(path, root, display)?;
    let parsed = parse_dockerfile(&text, display)?;
    Ok((text, parsed))
}

/// Parses Dockerfile text. `path` is only used in error messages.
pub fn parse_dockerfile(text: &str, path: &str) -> Result<Dockerfile, ParseError> {
    let syntax_error = |line: usize, message: String| ParseError::Syntax { path: path.to_string(), line, message };
    let unsupported = |line: usize, message: String| ParseError::Unsupported { path: path.to_string(), line, message };
    let parsed = buildkit::parse(text).map_err(|e| syntax_error(e.line, e.message))?;
    let escape = parsed.escape;
    let mut instructions = Vec::with_capacity(parsed.nodes.len());
    for node in &parsed.nodes {
        let instruction = convert(node, node.heredocs.clone(), escape).map_err(|m| unsupported(node.start_line, m))?;
        instructions.push(instruction);
    }
    if let Some(first) = instructions.iter().find(|i| i.keyword != "ARG")
        && first.keyword != "FROM"
    {
        return Err(syntax_error(
            first.line,
            format!("expected FROM: only ARG may come before the first FROM, found {}", first.keyword),
        ));
    }
    if !instructions.iter().any(|i| i.keyword == "FROM") {
        let line = instructions.last().map_or(1, |i| i.end_line);
        return Err(syntax_error(line, "no FROM: a Dockerfile needs at least one FROM".into()));
    }
    let (stages, global_args) = build_stages(&instructions, escape);
    Ok(Dockerfile { escape, syntax: parsed.syntax, instructions, stages, global_args })
}

/// One BuildKit node as an instruction; BuildKit's build rejects what comes back as `Err`.
fn convert(node: &Node, heredocs: Vec<buildkit::RawHeredoc>, escape: char) -> Result<Instruction, String> {
    let keyword = node.keyword.to_ascii_uppercase();
    let values = &node.values;
    let needs = |n: usize, what: &str| -> Result<(), String> {
        if values.len() < n { Err(format!("{keyword} requires {what}")) } else { Ok(()) }
    };
    let first = || values.first().cloned().unwrap_or_default();
    let heredocs: Vec<Heredoc> = heredocs
        .into_iter()
        .map(|h| Heredoc { name: h.name, fd: h.fd, expand: h.expand, chomp: h.chomp, body: h.content })
        .collect();
    let args = match keyword.as_str() {
        "FROM" => {
            let ok = values.len() == 1 || (values.len() == 3 && values[1].eq_ignore_ascii_case("as"));
            if !ok {
                return Err("FROM requires either one or three arguments (`FROM image [AS name]`)".into());
            }
            let mut words = values.clone();
            if words.len() == 3 {
                words[1] = "AS".into();
            }
            Args::Words(words)
        }
        "ARG" => {
            needs(1, "at least one argument")?;
            if let Some(word) = values.iter().find(|w| w.starts_with('=')) {
                return Err(format!("ARG names can not be blank (`{word}`)"));
            }
            Args::Words(values.clone())
        }
        "ENV" | "LABEL" => {
            needs(1, "at least one argument")?;
            let pairs = values
                .chunks(2)
                .map(|kv| {
                    let key = lex::unquote(&kv[0], escape);
                    let value = kv.get(1).map(|v| lex::unquote(v, escape)).unwrap_or_default();
                    (key, value)
                })
                .collect::<Vec<_>>();
            if pairs.iter().any(|(k, _)| k.is_empty()) {
                return Err(format!("{keyword} names can not be blank"));
            }
            Args::Pairs(pairs)
        }
        "RUN" | "CMD" | "ENTRYPOINT" => {
            if node.json {
                Args::Exec(values.clone())
            } else {
                needs(1, "at least one argument")?;
                if heredocs.is_empty() { Args::Shell(first()) } else { Args::Heredoc(first()) }
            }
        }
        "SHELL" => {
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            needs(1, "at least one argument")?;
            Args::Exec(values.clone())
        }
        "COPY" | "ADD" => {
            if node.json {
                needs(2, "at least two arguments")?;
                Args::Exec(values.clone())
            } else if !heredocs.is_empty() {
                needs(1, "at least one argument")?;
                Args::Heredoc(values.join(" "))
            } else {
                needs(2, "at least two arguments, but had only one")?;
                Args::Words(values.clone())
            }
        }
        "VOLUME" if node.json => Args::Exec(values.clone()),
        "EXPOSE" | "VOLUME" => {
            needs(1, "at least one argument")?;
            Args::Words(values.clone())
        }
        "USER" | "WORKDIR" | "STOPSIGNAL" => {
            needs(1, "exactly one argument")?;
            Args::Words(values.clone())
        }
        "MAINTAINER" => {
            needs(1, "exactly one argument")?;
            Args::Shell(first())
        }
        "HEALTHCHECK" => {
            needs(1, "at least one argument")?;
            match values[0].to_ascii_uppercase().as_str() {
                "NONE" if values.len() == 1 => Args::Words(vec!["NONE".into()]),
                "NONE" => return Err("HEALTHCHECK NONE takes no arguments".into()),
                "CMD" if values.len() == 1 => return Err("Missing command after HEALTHCHECK CMD".into()),
                "CMD" if node.json => Args::Exec(values[1..].to_vec()),
                "CMD" => Args::Shell(values[1].clone()),
                other => return Err(format!("Unknown type {other} in HEALTHCHECK (try CMD)")),
            }
        }
        "ONBUILD" => {
            let Some(sub) = &node.sub else { return Err("ONBUILD requires at least one argument".into()) };
            let sub_keyword = sub.keyword.to_ascii_uppercase();
            if matches!(sub_keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(format!("{sub_keyword} isn't allowed as an ONBUILD trigger"));
            }
            let raw: Vec<buildkit::RawHeredoc> = node.heredocs.clone();
            let inner = convert(sub, raw, escape)?;
            let rendered = super::semantic::render_plain(&inner);
            return Ok(Instruction {
                line: node.start_line,
                end_line: node.end_line,
                keyword,
                flags: node.flags.clone(),
                args: Args::Shell(rendered),
                heredocs: inner.heredocs.clone(),
                values: inner.values.clone(),
                json: inner.json,
                sub_keyword: Some(sub_keyword),
            });
        }
        _ => return Err(format!("unknown instruction: {}", node.keyword)),
    };
    Ok(Instruction {
        line: node.start_line,
        end_line: node.end_line,
        keyword,
        flags: node.flags.clone(),
        args,
        heredocs,
        values: values.clone(),
        json: node.json,
        sub_keyword: None,
    })
}

/// The ARGs BuildKit defines before any in the Dockerfile, for the default platform.
const PLATFORM_ARGS: &[(&str, &str)] = &[
    ("BUILDPLATFORM", "linux/amd64"),
    ("BUILDOS", "linux"),
    ("BUILDARCH", "amd64"),
    ("BUILDVARIANT", ""),
    ("TARGETPLATFORM", "linux/amd64"),
    ("TARGETOS", "linux"),
    ("TARGETARCH", "amd64"),
    ("TARGETVARIANT", ""),
];

/// A global ARG as BuildKit's build sees it: its expanded default, and why that default is not
/// what the author meant when it is not.
#[derive(Debug, Clone)]
struct MetaArg {
    name: String,
    value: Option<String>,
    problem: Option<String>,
}

/// Why an expansion did not produce a value BuildKit would build from, if it did not.
fn unresolved(
    expansion: &Result<super::shell::Expansion, super::shell::LexError>,
    args: &[MetaArg],
    written: &str,
) -> Option<String> {
    let expansion = match expansion {
        Ok(e) => e,
        Err(e) => return Some(format!("BuildKit rejects `{written}`: {}", e.0.rsplit(": ").next().unwrap_or(&e.0))),
    };
    for lookup in expansion.lookups.iter().filter(|l| l.plain) {
        match args.iter().rev().find(|a| a.name == lookup.name) {
            None if PLATFORM_ARGS.iter().any(|(n, _)| *n == lookup.name) => {}
            None => return Some(format!("{} is not an ARG declared before the first FROM", lookup.name)),
            Some(MetaArg { value: None, name, .. }) => {
                return Some(format!("ARG {name} has no default (it must be set with --build-arg)"));
            }
            Some(MetaArg { problem: Some(p), name, .. }) => return Some(format!("ARG {name}: {p}")),
            Some(_) => {}
        }
    }
    None
}

/// Builds stages, expanding `FROM` from the global ARGs in order as BuildKit's build does.
fn build_stages(instructions: &[Instruction], escape: char) -> (Vec<Stage>, Vec<(String, Option<String>)>) {
    let mut args: Vec<MetaArg> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let lexer = Lexer::new(escape);
    for (i, ins) in instructions.iter().enumerate() {
        match (ins.keyword.as_str(), &ins.args) {
            ("ARG", Args::Words(words)) if stages.is_empty() => {
                for word in words {
                    let (name, raw) = match word.split_once('=') {
                        Some((n, v)) => (n.to_string(), Some(v)),
                        None => (word.clone(), None),
                    };
                    let (value, problem) = match raw {
                        Some(raw) => {
                            let lookup = |n: &str| lookup_arg(&args, n);
                            let expansion = lexer.process(raw, &lookup);
                            let problem = unresolved(&expansion, &args, raw);
                            (Some(expansion.map(|e| e.word).unwrap_or_default()), problem)
                        }
                        None => (None, None),
                    };
                    args.push(MetaArg { name, value, problem });
                }
            }
            ("FROM", Args::Words(words)) => {
                if let Some(last) = stages.last_mut() {
                    last.end_instruction = i;
                }
                let written = words.first().cloned().unwrap_or_default();
                let lookup = |n: &str| lookup_arg(&args, n);
                let expansion = lexer.process(&written, &lookup);
                let mut problem = unresolved(&expansion, &args, &written);
                let expanded = expansion.map(|e| e.word).unwrap_or_default();
                if problem.is_none() && expanded.is_empty() {
                    problem = Some(format!("`{written}` expands to nothing"));
                }
                let base = if problem.is_some() { written.clone() } else { expanded };
                let name = words.get(2).map(|n| n.to_ascii_lowercase());
                let lower = base.to_ascii_lowercase();
                let base_stage = stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())).map(|s| s.index);
                let platform =
                    ins.flags.iter().find_map(|f| f.strip_prefix("--platform=")).map(|p| {
                        lexer.process_word(p, &|n: &str| lookup_arg(&args, n)).unwrap_or_else(|_| p.to_string())
                    });
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base,
                    base_stage,
                    platform,
                    unresolved: problem.map(|p| format!("base image unresolved: {p}")),
                    from_instruction: i,
                    end_instruction: instructions.len(),
                });
            }
            _ => {}
        }
    }
    let global_args = args.into_iter().map(|a| (a.name, a.value)).collect();
    (stages, global_args)
}

/// A variable as BuildKit's build sees it before the first stage: the last declaration wins,
/// and an ARG without a default is set to the empty string.
fn lookup_arg(args: &[MetaArg], name: &str) -> Option<String> {
    match args.iter().rev().find(|a| a.name == name) {
        Some(a) => Some(a.value.clone().unwrap_or_default()),
        None => PLATFORM_ARGS.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Dockerfile {
        parse_dockerfile(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> ParseError {
        parse_dockerfile(text, "Dockerfile").expect_err("should fail")
    }

    #[test]
    fn joins_run_continuations_and_numbers_lines() {
        let df = parse(
            "FROM python:3.9-slim\n\n# c\nRUN apt-get update \\\n    # inner comment\n\n    && apt-get install -y bash\nCMD [\"x\"]\n",
        );
        assert_eq!(df.instructions[1].line, 4);
        assert_eq!(df.instructions[1].end_line, 7);
        assert_eq!(df.instructions[1].args, Args::Shell("apt-get update     && apt-get install -y bash".into()));
        assert_eq!(df.instructions[2].line, 8);
        assert_eq!(df.instructions[2].args, Args::Exec(vec!["x".into()]));
    }

    #[test]
    fn splits_env_label_arg() {
        let df = parse("ARG A=1 B\nFROM x\nENV K V w\nENV A=1 B=\"two words\"\nLABEL a=b \"c d\"=e\n");
        assert_eq!(df.instructions[0].args, Args::Words(vec!["A=1".into(), "B".into()]));
        assert_eq!(df.instructions[2].args, Args::Pairs(vec![("K".into(), "V w".into())]));
        assert_eq!(
            df.instructions[3].args,
            Args::Pairs(vec![("A".into(), "1".into()), ("B".into(), "two words".into())])
        );
        assert_eq!(df.instructions[4].args, Args::Pairs(vec![("a".into(), "b".into()), ("c d".into(), "e".into())]));
    }

    #[test]
    fn handles_bom_crlf_lowercase_and_escape_directive() {
        let df = parse("\u{feff}# escape=`\r\nfrom alpine:3.18\r\nrun echo a `\r\n  b\r\n");
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[0].keyword, "FROM");
        assert_eq!(df.instructions[1].args, Args::Shell("echo a   b".into()));
        assert_eq!(df.instructions[1].line, 3);
    }

    #[test]
    fn applies_arg_defaults_to_from_and_follows_aliases() {
        let df =
            parse("ARG BASE=python:3.9-slim\nFROM ${BASE} AS Builder\nFROM builder\nFROM ${OTHER:-alpine:3.18} AS x\n");
        assert_eq!(df.stages[0].base, "python:3.9-slim");
        assert_eq!(df.stages[0].name.as_deref(), Some("builder"));
        assert_eq!(df.stages[1].base_stage, Some(0));
        assert_eq!(df.resolved_base(&df.stages[1]), "python:3.9-slim");
        assert_eq!(df.stages[2].base, "alpine:3.18");
        assert!(df.stages.iter().all(|s| s.unresolved.is_none()));
    }

    #[test]
    fn arg_chains_expand_in_order() {
        let df = parse(
            "ARG REGISTRY=quay.io\nARG OWNER=jupyter\nARG BASE_IMAGE=$REGISTRY/$OWNER/docker-stacks-foundation\nFROM $BASE_IMAGE\n",
        );
        assert_eq!(df.stages[0].base, "quay.io/jupyter/docker-stacks-foundation");
        let df = parse("ARG V=\"3.12\"\nARG IMG=python:${V}-slim\nFROM ${IMG}\nFROM --platform=$BUILDPLATFORM x\n");
        assert_eq!(df.stages[0].base, "python:3.12-slim");
        assert_eq!(df.stages[1].platform.as_deref(), Some("linux/amd64"));
    }

    #[test]
    fn unresolved_bases_say_why() {
        let why = |text: &str| parse(text).stages[0].unresolved.clone().unwrap_or_default();
        assert_eq!(
            why("ARG X\nFROM $X\n"),
            "base image unresolved: ARG X has no default (it must be set with --build-arg)"
        );
        assert_eq!(why("FROM ${NOPE}/x\n"), "base image unresolved: NOPE is not an ARG declared before the first FROM");
        assert_eq!(
            why("ARG B=${A}y\nFROM ${B}\n"),
            "base image unresolved: ARG B: A is not an ARG declared before the first FROM"
        );
        assert_eq!(
            why("ARG A\nARG B=${A}y\nFROM ${B}\n"),
            "base image unresolved: ARG B: ARG A has no default (it must be set with --build-arg)"
        );
        assert!(
            why("FROM mcr.microsoft.com/devcontainers/${templateOption:imageVariant}\n")
                .contains("unsupported modifier (:i)")
        );
        assert_eq!(parse("ARG X\nFROM ${X:-alpine}\n").stages[0].base, "alpine");
    }

    #[test]
    fn keeps_heredocs_and_flags() {
        let df = parse(
            "FROM x\nRUN --mount=type=cache,target=/root/.cache <<EOF\npip install .\nEOF\nCOPY --chown=a:b <<EOT /etc/x\nhello\nEOT\n",
        );
        let run = &df.instructions[1];
        assert_eq!(run.flags, vec!["--mount=type=cache,target=/root/.cache"]);
        assert_eq!(run.args, Args::Heredoc("<<EOF".into()));
        assert_eq!(run.heredocs[0].body, "pip install .\n");
        assert_eq!(run.end_line, 4);
        let copy = &df.instructions[2];
        assert_eq!(copy.args, Args::Heredoc("<<EOT /etc/x".into()));
        assert_eq!(copy.heredocs[0].body, "hello\n");
    }

    #[test]
    fn heredocs_after_other_words_and_several_per_line() {
        let df = parse("FROM x\nRUN cat <<EOF >> /etc/oracle.conf\nhello\nEOF\nRUN <<A <<B\na\nA\nb\nB\n");
        assert_eq!(df.instructions[1].args, Args::Heredoc("cat <<EOF >> /etc/oracle.conf".into()));
        assert_eq!(df.instructions[2].heredocs.len(), 2);
        assert_eq!(df.instructions[2].end_line, 9);
    }

    #[test]
    fn empty_heredoc_ends_on_its_terminator() {
        let df = parse("FROM x\nRUN <<EOF\nEOF\nRUN y\n");
        assert_eq!((df.instructions[1].line, df.instructions[1].end_line), (2, 3));
        assert_eq!(df.instructions[2].line, 4);
    }

    #[test]
    fn json_copy_with_spaces_is_exec_form() {
        let df = parse("FROM x\nCOPY [\"a b.txt\", \"/dst dir/\"]\nCOPY a b /c/\n");
        assert_eq!(df.instructions[1].args, Args::Exec(vec!["a b.txt".into(), "/dst dir/".into()]));
        assert_eq!(df.instructions[2].args, Args::Words(vec!["a".into(), "b".into(), "/c/".into()]));
    }

    #[test]
    fn trailing_escaped_escape_ends_the_instruction() {
        let df = parse("FROM x\nRUN echo \\\\\nRUN echo b\n");
        assert_eq!(df.instructions[1].args, Args::Shell("echo \\\\".into()));
        assert_eq!(df.instructions[2].line, 3);
        let df = parse("FROM x\nRUN echo \\\\\\\nRUN b\n");
        assert_eq!(df.instructions.len(), 3, "three backslashes end the line too");
    }

    #[test]
    fn rejects_what_buildkit_rejects_with_line_numbers() {
        let e = err("RUN echo hi\n");
        assert_eq!(e.line(), 1, "{e}");
        let e = err("FROM x\nRUN <<EOF\nnever ends\n");
        assert!(matches!(e, ParseError::Syntax { line: 2, .. }), "{e}");
        assert!(matches!(err(""), ParseError::Syntax { .. }));
        let e = err("FROM x\nFOO bar\n");
        assert!(matches!(e, ParseError::Unsupported { line: 2, .. }), "{e}");
        assert!(err("FROM a b\n").message().contains("one or three"));
        assert!(err("FROM x\nCOPY a\n").message().contains("two arguments"));
    }
}
