//! Dockerfile text in, `Dockerfile` out: `parse-dockerfile` finds the instructions, and this
//! post-pass joins continuations, splits ENV/LABEL/ARG like BuildKit, derives line numbers
//! and stages, and turns the crate's known gaps into errors instead of silent misparses.

use std::path::Path;

use parse_dockerfile as pd;

use super::lex;
use super::{Args, Dockerfile, Heredoc, Instruction, Stage};

/// Why a Dockerfile could not be read or parsed; always names the file and, when known, the
/// line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    #[error("{path}: cannot read: {message}")]
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
            ParseError::Read { message, .. } => format!("cannot read: {message}"),
            ParseError::Utf8 { .. } => "not valid UTF-8".to_string(),
            ParseError::Syntax { message, .. } | ParseError::Unsupported { message, .. } => message.clone(),
        }
    }
}

/// Largest Dockerfile dockvar reads; real ones are a few KiB, so anything bigger is a mistake.
pub const MAX_DOCKERFILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a file as UTF-8 text, naming the first bad line when it is not.
pub fn read_text(path: &Path, display: &str) -> Result<String, ParseError> {
    let read_err = |e: std::io::Error| ParseError::Read { path: display.to_string(), message: e.to_string() };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_DOCKERFILE_BYTES {
        return Err(ParseError::Syntax {
            path: display.to_string(),
            line: 0,
            message: format!("file is {} bytes, over the {MAX_DOCKERFILE_BYTES}-byte limit", meta.len()),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        ParseError::Utf8 { path: display.to_string(), line }
    })
}

/// Reads and parses a Dockerfile; returns its text too, for normalizers that hash text.
pub fn read_dockerfile(path: &Path, display: &str) -> Result<(String, Dockerfile), ParseError> {
    let text = read_text(path, display)?;
    let parsed = parse_dockerfile(&text, display)?;
    Ok((text, parsed))
}

/// Parses Dockerfile text. `path` is only used in error messages.
pub fn parse_dockerfile(text: &str, path: &str) -> Result<Dockerfile, ParseError> {
    // BuildKit ignores a BOM and reads CRLF as LF; doing both here keeps spans and line
    // numbers in one coordinate system.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized;
    let text = if text.contains("\r\n") {
        normalized = text.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        text
    };
    let lines = LineIndex::new(text);
    let syntax_error = |line: usize, message: String| ParseError::Syntax { path: path.to_string(), line, message };
    let unsupported = |line: usize, message: String| ParseError::Unsupported { path: path.to_string(), line, message };

    let crate_error = |e: pd::Error| {
        let message = format!("{e:#}");
        // The crate's wording assumes the reader knows why FROM was expected.
        let message = if message == "expected FROM" {
            "expected FROM: only ARG may come before the first FROM".to_string()
        } else {
            message
        };
        syntax_error(e.line(), message)
    };
    let iter = pd::parse_iter(text).map_err(crate_error)?;
    let mut escape = '\\';
    let mut syntax = None;
    let mut post = PostPass { text, lines: &lines, escape };
    let mut instructions = Vec::new();
    let mut directives_read = false;
    for item in iter {
        let raw = item.map_err(crate_error)?;
        if !directives_read {
            // Directives are known once the iterator has started; they do not change later.
            directives_read = true;
            let directives = parse_directives(text);
            escape = directives.0;
            syntax = directives.1;
            post.escape = escape;
        }
        let instruction = post.convert(&raw).map_err(|(line, message)| unsupported(line, message))?;
        instructions.push(instruction);
    }
    if instructions.is_empty() {
        return Err(syntax_error(1, "no instructions: a Dockerfile needs at least a FROM".into()));
    }
    check_escaped_escape_at_eol(text, &instructions, escape).map_err(|line| {
        unsupported(
            line,
            format!(
                "line ends in an escaped escape character (`{escape}{escape}`): BuildKit reads it as a line \
                 continuation, dockvar's parser would not; end the line with a single `{escape}` to \
                 continue it, or move the `{escape}{escape}` off the end of the line"
            ),
        )
    })?;
    let (stages, global_args) = build_stages(&instructions, escape);
    Ok(Dockerfile { escape, syntax, instructions, stages, global_args })
}

/// Reads the `# escape=` and `# syntax=` directives the way the crate does, so that the
/// post-pass uses the same escape character.
fn parse_directives(text: &str) -> (char, Option<String>) {
    let mut escape = '\\';
    let mut syntax = None;
    for line in text.split('\n') {
        let Some(rest) = line.trim_start().strip_prefix('#') else { break };
        let Some((key, value)) = rest.split_once('=') else { break };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        match key.as_str() {
            "escape" => match value {
                "`" => escape = '`',
                "\\" => escape = '\\',
                _ => break,
            },
            "syntax" => syntax = Some(value.to_string()),
            "check" => {}
            _ => break,
        }
    }
    (escape, syntax)
}

/// Byte offset to 1-based line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

struct PostPass<'t> {
    text: &'t str,
    lines: &'t LineIndex,
    escape: char,
}

type Gap = (usize, String);

impl PostPass<'_> {
    fn raw(&self, span: &pd::Span) -> &str {
        self.text.get(span.clone()).unwrap_or("")
    }

    fn joined(&self, span: &pd::Span) -> String {
        lex::join_continuations(self.raw(span), self.escape)
    }

    fn flags(&self, flags: &[pd::Flag<'_>]) -> Vec<String> {
        flags.iter().map(|f| self.raw(&f.span()).to_string()).collect()
    }

    fn command(&self, command: &pd::Command<'_>) -> Args {
        match command {
            pd::Command::Exec(array) => Args::Exec(array.value.iter().map(|s| s.value.to_string()).collect()),
            pd::Command::Shell(shell) => {
                Args::Shell(lex::join_continuations(shell.value, self.escape).trim().to_string())
            }
            _ => Args::Shell(String::new()),
        }
    }

    /// One line past the instruction, from the furthest span we know of.
    fn end_of(&self, start_line: usize, spans: &[&pd::Span]) -> usize {
        spans
            .iter()
            .map(|s| self.lines.line(s.end.saturating_sub(1).max(s.start)))
            .max()
            .unwrap_or(start_line)
            .max(start_line)
    }

    fn convert(&self, raw: &pd::Instruction<'_>) -> Result<Instruction, Gap> {
        use pd::Instruction as I;
        let (keyword, kw_span) = keyword_of(raw);
        let line = self.lines.line(kw_span.start);
        let mut flags = Vec::new();
        let mut heredocs = Vec::new();
        let mut spans: Vec<&pd::Span> = vec![kw_span];
        // A heredoc span stops where its terminator line starts; that line ends the instruction.
        let mut heredoc_end = 0;
        let args = match raw {
            I::From(from) => {
                flags = self.flags(&from.options);
                spans.push(&from.image.span);
                let mut words = vec![from.image.value.to_string()];
                if let Some((_, name)) = &from.as_ {
                    spans.push(&name.span);
                    words.push("AS".into());
                    words.push(name.value.to_string());
                }
                Args::Words(words)
            }
            I::Arg(arg) => {
                spans.push(&arg.arguments.span);
                Args::Words(lex::split_words(&self.joined(&arg.arguments.span), self.escape))
            }
            I::Env(env) => {
                spans.push(&env.arguments.span);
                Args::Pairs(
                    lex::split_pairs(&self.joined(&env.arguments.span), self.escape)
                        .map_err(|m| (line, format!("ENV {m}")))?,
                )
            }
            I::Label(label) => {
                spans.push(&label.arguments.span);
                Args::Pairs(
                    lex::split_pairs(&self.joined(&label.arguments.span), self.escape)
                        .map_err(|m| (line, format!("LABEL {m}")))?,
                )
            }
            I::Run(run) => {
                flags = self.flags(&run.options);
                spans.push(command_span(&run.arguments));
                for doc in &run.here_docs {
                    heredoc_end = heredoc_end.max(self.lines.line(doc.span.end));
                    heredocs.push(Heredoc { expand: doc.expand, body: doc.value.to_string() });
                }
                let args = match run.here_docs.first() {
                    // The crate keeps only the text after the delimiter; rebuild the command
                    // line from the source, up to the first body.
                    Some(doc) => Args::Heredoc(self.command_line(kw_span.end, doc.span.start)),
                    None => self.command(&run.arguments),
                };
                self.check_run_heredocs(&args, heredocs.len(), line)?;
                args
            }
            I::Cmd(cmd) => {
                spans.push(command_span(&cmd.arguments));
                self.command(&cmd.arguments)
            }
            I::Entrypoint(ep) => {
                spans.push(command_span(&ep.arguments));
                self.command(&ep.arguments)
            }
            I::Copy(copy) => {
                flags = self.flags(&copy.options);
                self.copy_args(kw_span, &copy.src, &copy.dest, &mut heredocs, &mut spans, &mut heredoc_end)
            }
            I::Add(add) => {
                flags = self.flags(&add.options);
                self.copy_args(kw_span, &add.src, &add.dest, &mut heredocs, &mut spans, &mut heredoc_end)
            }
            I::Expose(expose) => {
                spans.extend(expose.arguments.iter().map(|a| &a.span));
                Args::Words(expose.arguments.iter().map(|a| a.value.to_string()).collect())
            }
            I::Volume(volume) => match &volume.arguments {
                pd::JsonOrStringArray::Json(array) => {
                    spans.push(&array.span);
                    Args::Exec(array.value.iter().map(|a| a.value.to_string()).collect())
                }
                pd::JsonOrStringArray::String(words) => {
                    spans.extend(words.iter().map(|a| &a.span));
                    Args::Words(words.iter().map(|a| a.value.to_string()).collect())
                }
            },
            I::User(user) => self.single_word(&user.arguments, &mut spans),
            I::Workdir(workdir) => self.single_word(&workdir.arguments, &mut spans),
            I::Stopsignal(signal) => self.single_word(&signal.arguments, &mut spans),
            I::Maintainer(m) => {
                spans.push(&m.name.span);
                Args::Shell(self.joined(&m.name.span).trim().to_string())
            }
            I::Shell(shell) => {
                spans.extend(shell.arguments.iter().map(|a| &a.span));
                Args::Exec(shell.arguments.iter().map(|a| a.value.to_string()).collect())
            }
            I::Healthcheck(hc) => {
                flags = self.flags(&hc.options);
                match &hc.arguments {
                    pd::HealthcheckArguments::Cmd { arguments, .. } => {
                        spans.push(command_span(arguments));
                        self.command(arguments)
                    }
                    pd::HealthcheckArguments::None { none, .. } => {
                        spans.push(&none.span);
                        Args::Words(vec!["NONE".into()])
                    }
                    _ => return Err((line, "HEALTHCHECK form not understood".into())),
                }
            }
            I::Onbuild(onbuild) => {
                let inner = self.convert(&onbuild.instruction)?;
                let end_line = inner.end_line;
                let rendered = super::semantic::render_plain(&inner);
                return Ok(Instruction {
                    line,
                    end_line,
                    keyword,
                    flags: Vec::new(),
                    args: Args::Shell(rendered),
                    heredocs: inner.heredocs,
                });
            }
            _ => return Err((line, format!("instruction {keyword} is not supported by dockvar's parser"))),
        };
        let end_line = self.end_of(line, &spans).max(heredoc_end);
        Ok(Instruction { line, end_line, keyword, flags, args, heredocs })
    }

    fn single_word<'s>(&self, value: &'s pd::UnescapedString<'_>, spans: &mut Vec<&'s pd::Span>) -> Args {
        spans.push(&value.span);
        Args::Words(vec![self.joined(&value.span).trim().to_string()])
    }

    fn copy_args<'s>(
        &self,
        kw_span: &'s pd::Span,
        src: &'s [pd::Source<'_>],
        dest: &'s pd::UnescapedString<'_>,
        heredocs: &mut Vec<Heredoc>,
        spans: &mut Vec<&'s pd::Span>,
        heredoc_end: &mut usize,
    ) -> Args {
        spans.push(&dest.span);
        let mut words = Vec::with_capacity(src.len() + 1);
        let mut first_path_start = None;
        for s in src {
            match s {
                pd::Source::Path(p) => {
                    first_path_start.get_or_insert(p.span.start);
                    spans.push(&p.span);
                    words.push(p.value.to_string());
                }
                pd::Source::HereDoc(doc) => {
                    *heredoc_end = (*heredoc_end).max(self.lines.line(doc.span.end));
                    heredocs.push(Heredoc { expand: doc.expand, body: doc.value.to_string() });
                }
                _ => {}
            }
        }
        if let Some(body_start) = src.iter().find_map(|s| match s {
            pd::Source::HereDoc(doc) => Some(doc.span.start),
            _ => None,
        }) {
            // The crate keeps bodies but not the command line; take it from the source.
            return Args::Heredoc(self.command_line(kw_span.end, body_start));
        }
        words.push(dest.value.to_string());
        let exec = first_path_start
            .is_some_and(|start| self.text[..start].trim_end_matches(['"', ' ', '\t', '\n']).ends_with('['));
        if exec { Args::Exec(words) } else { Args::Words(words) }
    }

    /// The words between the keyword and the first heredoc body, flags left out.
    fn command_line(&self, after_keyword: usize, body_start: usize) -> String {
        let raw = self.text.get(after_keyword..body_start.max(after_keyword)).unwrap_or("");
        let joined = lex::join_continuations(raw.trim_end_matches('\n'), self.escape);
        let words: Vec<String> =
            lex::split_words(&joined, self.escape).into_iter().filter(|w| !w.starts_with("--")).collect();
        words.join(" ")
    }

    /// BuildKit finds here-documents anywhere on a RUN line; the crate only at its start and
    /// only one. Both gaps would silently parse the body as instructions.
    fn check_run_heredocs(&self, args: &Args, found: usize, line: usize) -> Result<(), Gap> {
        let (Args::Shell(text) | Args::Heredoc(text)) = args else { return Ok(()) };
        let words = lex::split_words(text, self.escape);
        let heredoc_words = words.iter().filter(|w| lex::is_heredoc_word(w, self.escape)).count();
        if found == 0 && heredoc_words > 0 {
            return Err((
                line,
                "a here-document that is not the first word of RUN is not supported by dockvar's parser; \
                 start the command with it (`RUN <<EOF` then `cmd <<EOF` inside) or use a shell-form RUN"
                    .into(),
            ));
        }
        if found > 0 && heredoc_words > 1 {
            return Err((
                line,
                "two here-documents on one RUN line are not supported by dockvar's parser; split them \
                 into two RUN instructions"
                    .into(),
            ));
        }
        Ok(())
    }
}

fn command_span<'a>(command: &'a pd::Command<'_>) -> &'a pd::Span {
    match command {
        pd::Command::Exec(array) => &array.span,
        pd::Command::Shell(shell) => &shell.span,
        _ => &EMPTY_SPAN,
    }
}

fn keyword_of<'a>(raw: &'a pd::Instruction<'_>) -> (String, &'a pd::Span) {
    use pd::Instruction as I;
    let (name, span) = match raw {
        I::Add(i) => ("ADD", &i.add.span),
        I::Arg(i) => ("ARG", &i.arg.span),
        I::Cmd(i) => ("CMD", &i.cmd.span),
        I::Copy(i) => ("COPY", &i.copy.span),
        I::Entrypoint(i) => ("ENTRYPOINT", &i.entrypoint.span),
        I::Env(i) => ("ENV", &i.env.span),
        I::Expose(i) => ("EXPOSE", &i.expose.span),
        I::From(i) => ("FROM", &i.from.span),
        I::Healthcheck(i) => ("HEALTHCHECK", &i.healthcheck.span),
        I::Label(i) => ("LABEL", &i.label.span),
        I::Maintainer(i) => ("MAINTAINER", &i.maintainer.span),
        I::Onbuild(i) => ("ONBUILD", &i.onbuild.span),
        I::Run(i) => ("RUN", &i.run.span),
        I::Shell(i) => ("SHELL", &i.shell.span),
        I::Stopsignal(i) => ("STOPSIGNAL", &i.stopsignal.span),
        I::User(i) => ("USER", &i.user.span),
        I::Volume(i) => ("VOLUME", &i.volume.span),
        I::Workdir(i) => ("WORKDIR", &i.workdir.span),
        _ => ("UNKNOWN", &EMPTY_SPAN),
    };
    (name.to_string(), span)
}

static EMPTY_SPAN: pd::Span = 0..0;

/// Finds a line inside an instruction (heredoc bodies excluded) that ends in an even run of
/// escape characters: BuildKit's continuation regex matches it, the crate does not.
fn check_escaped_escape_at_eol(text: &str, instructions: &[Instruction], escape: char) -> Result<(), usize> {
    let lines: Vec<&str> = text.split('\n').collect();
    for ins in instructions {
        let body_lines: usize = ins.heredocs.iter().map(|h| h.body.matches('\n').count() + 1).sum();
        let last = ins.end_line.saturating_sub(body_lines).max(ins.line);
        for n in ins.line..=last {
            let Some(line) = lines.get(n - 1) else { continue };
            let trimmed = line.trim_end_matches([' ', '\t']);
            if trimmed.trim_start().starts_with('#') {
                continue;
            }
            let run = trimmed.chars().rev().take_while(|&c| c == escape).count();
            if run >= 2 && run % 2 == 0 {
                return Err(n);
            }
        }
    }
    Ok(())
}

/// Builds stages and applies global ARG defaults to `FROM`.
fn build_stages(instructions: &[Instruction], escape: char) -> (Vec<Stage>, Vec<(String, Option<String>)>) {
    let mut global_args: Vec<(String, Option<String>)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (i, ins) in instructions.iter().enumerate() {
        match (ins.keyword.as_str(), &ins.args) {
            ("ARG", Args::Words(words)) if stages.is_empty() => {
                for word in words {
                    let (name, default) = match word.split_once('=') {
                        Some((n, v)) => (lex::unquote(n, escape), Some(lex::unquote(v, escape))),
                        None => (lex::unquote(word, escape), None),
                    };
                    global_args.retain(|(n, _)| *n != name);
                    global_args.push((name, default));
                }
            }
            ("FROM", Args::Words(words)) => {
                if let Some(last) = stages.last_mut() {
                    last.end_instruction = i;
                }
                let lookup =
                    |name: &str| global_args.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.clone());
                let written = words.first().cloned().unwrap_or_default();
                let base = lex::expand_vars(&written, &lookup).0;
                let name = words.get(2).map(|n| n.to_ascii_lowercase());
                let lower = base.to_ascii_lowercase();
                let base_stage = stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())).map(|s| s.index);
                let platform = ins.flags.iter().find_map(|f| f.strip_prefix("--platform=").map(str::to_string));
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base,
                    base_stage,
                    platform,
                    from_instruction: i,
                    end_instruction: instructions.len(),
                });
            }
            _ => {}
        }
    }
    (stages, global_args)
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
    fn rejects_known_gaps_with_line_numbers() {
        let e = err("FROM x\nRUN cat <<EOF > /f\nhello\nEOF\n");
        assert!(matches!(e, ParseError::Unsupported { line: 2, .. }), "{e}");
        let e = err("FROM x\nRUN <<A <<B\na\nA\nb\nB\n");
        assert!(matches!(e, ParseError::Unsupported { line: 2, .. }), "{e}");
        let e = err("FROM x\nRUN echo \\\\\nRUN echo b\n");
        assert!(matches!(e, ParseError::Unsupported { line: 2, .. }), "{e}");
        let e = err("RUN echo hi\n");
        assert_eq!(e.line(), 1, "{e}");
        let e = err("FROM x\nRUN <<EOF\nnever ends\n");
        assert!(matches!(e, ParseError::Syntax { .. }), "{e}");
        assert!(matches!(err(""), ParseError::Syntax { .. }));
    }

    #[test]
    fn odd_escape_runs_are_plain_continuations() {
        let df = parse("FROM x\nRUN echo \\\\\\\n  b\n");
        assert_eq!(df.instructions[1].args, Args::Shell("echo \\\\  b".into()));
    }
}
