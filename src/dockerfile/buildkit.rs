//! Dockerfile text in, BuildKit's parse tree out (`Node`s: keyword, flags, values, JSON form,
//! here-documents, lines): `frontend/dockerfile/parser` of moby/buildkit v0.12.5, ported
//! rule for rule: directives, continuation lines (an escaped escape at the end of a line
//! ends the instruction), flags with quotes removed, here-documents anywhere on a RUN, COPY
//! or ADD line, and each instruction's argument parser.
//!
//! Hand-written instead of the `parse-dockerfile` crate: that crate finds here-documents only
//! at the start of RUN, joins lines BuildKit does not, and keeps flag quotes; parity with
//! BuildKit, checked by `tests/parser_oracle.rs`, needs BuildKit's own algorithm. It is one
//! pass over the lines, as fast as the crate.

use super::shell::Lexer;

/// Lines longer than this (newline included) make BuildKit's line scanner fail.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One instruction as BuildKit's parser returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword as written (`from`, `RUN`).
    pub keyword: String,
    /// Flags with quotes and escapes removed (`--chown=app user`).
    pub flags: Vec<String>,
    /// The argument list (`Next` chain).
    pub values: Vec<String>,
    /// Written as a JSON array.
    pub json: bool,
    /// `ONBUILD`'s instruction.
    pub sub: Option<Box<Node>>,
    pub heredocs: Vec<RawHeredoc>,
    /// The instruction's logical line: continuations joined, heredoc bodies excluded.
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeredoc {
    pub name: String,
    pub fd: u64,
    /// Variables are expanded in the body (no quote in the delimiter word).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped.
    pub chomp: bool,
    /// The body as written, every line with its newline.
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    pub escape: char,
    pub syntax: Option<String>,
}

/// A parse failure, with BuildKit's message and the 1-based line it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BkError {
    pub line: usize,
    pub message: String,
}

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, BkError> {
    Err(BkError { line, message: message.into() })
}

struct Directives {
    escape: char,
    syntax: Option<String>,
    seen: Vec<String>,
    done: bool,
}

impl Directives {
    /// BuildKit's `DirectiveParser.ParseLine` on every processed line.
    fn possible(&mut self, line: &str, number: usize) -> Result<(), BkError> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive_of(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if key != "escape" && key != "syntax" {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return fail(number, format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        if key == "escape" {
            self.escape = match value {
                "`" => '`',
                "\\" => '\\',
                _ => return fail(number, format!("invalid escape token '{value}' does not match ` or \\")),
            };
        } else {
            self.syntax = Some(value.to_string());
        }
        Ok(())
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
fn directive_of(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_re_space);
    let key_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let key = &rest[..key_len];
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = rest[key_len..].trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = rest.trim_start_matches(is_re_space).trim_end_matches(is_re_space);
    if value.is_empty() || value.contains('\n') {
        return None;
    }
    Some((key, value))
}

/// Go regexp's `\s`: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]+`.
fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

fn split_ws(s: &str, limit: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s;
    while parts.len() + 1 < limit {
        match rest.find(is_ws) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = rest[i..].trim_start_matches(is_ws);
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    trim_newline(line).trim_start().starts_with('#')
}

/// A line ending in the escape character (blanks after it allowed) continues, unless the
/// escape is itself escaped: BuildKit's `([^\\])\\[ \t]*$|^\\[ \t]*$`.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(head) = trimmed.strip_suffix(escape)
        && !head.ends_with(escape)
    {
        return (head.to_string(), false);
    }
    (line.to_string(), true)
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Parsed, BkError> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if let Some(first) = lines.first_mut() {
        *first = first.strip_prefix('\u{feff}').unwrap_or(first);
    }
    let mut d = Directives { escape: '\\', syntax: None, seen: Vec::new(), done: false };
    let mut nodes = Vec::new();
    let mut current = 0usize;
    let mut iter = lines.into_iter();
    let too_long = |n: usize| BkError {
        line: n,
        message: format!("dockerfile line greater than max allowed size of {}", MAX_LINE_BYTES - 1),
    };
    let mut next_line = |current: usize| -> Result<Option<&str>, BkError> {
        match iter.next() {
            Some(l) if l.len() > MAX_LINE_BYTES => Err(too_long(current)),
            other => Ok(other),
        }
    };
    while let Some(raw) = next_line(current)? {
        let token = trim_newline(raw).trim_start();
        d.possible(token, current + 1)?;
        let token = if token.starts_with('#') { "" } else { token };
        current += 1;
        let start = current;
        let (mut line, mut end_of_line) = trim_continuation(token, d.escape);
        if end_of_line && line.is_empty() {
            continue;
        }
        while !end_of_line {
            let Some(raw) = next_line(current)? else { break };
            let token = trim_newline(raw);
            d.possible(token, current + 1)?;
            current += 1;
            if is_comment(raw) {
                continue;
            }
            if token.trim_start().is_empty() {
                continue;
            }
            let (more, end) = trim_continuation(token, d.escape);
            line.push_str(&more);
            end_of_line = end;
        }
        let mut node = node_from_line(&line, d.escape).or_else(|m| fail(start, m))?;
        if can_contain_heredoc(&node) {
            let docs = heredocs_from_line(&line).or_else(|m| fail(start, m))?;
            for mut doc in docs {
                let mut terminated = false;
                while let Some(raw) = next_line(current)? {
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return fail(start, "unterminated heredoc");
                }
                node.heredocs.push(doc);
            }
        }
        node.start_line = start;
        node.end_line = current;
        nodes.push(node);
    }
    if nodes.is_empty() {
        return fail(current, "file with no instructions");
    }
    Ok(Parsed { nodes, escape: d.escape, syntax: d.syntax })
}

fn can_contain_heredoc(node: &Node) -> bool {
    let node = match &node.sub {
        Some(sub) if node.keyword.eq_ignore_ascii_case("onbuild") => sub,
        _ => node,
    };
    matches!(node.keyword.to_ascii_lowercase().as_str(), "add" | "copy" | "run") && !node.json
}

fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let (keyword, flags, rest) = split_command(line);
    let mut node = Node {
        keyword: keyword.to_string(),
        flags,
        values: Vec::new(),
        json: false,
        sub: None,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: 0,
        end_line: 0,
    };
    let rest = rest.as_str();
    let (values, json) = match keyword.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(rest)?,
        "arg" => (parse_words(rest, escape), false),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest)?,
        "env" => (name_val(rest, "ENV", escape)?, false),
        "label" => (name_val(rest, "LABEL", escape)?, false),
        "expose" | "from" => (whitespace_delimited(rest), false),
        "healthcheck" => health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (string_value(rest), false),
        "onbuild" => {
            if !rest.is_empty() {
                node.sub = Some(Box::new(node_from_line(rest, escape)?));
            }
            (Vec::new(), false)
        }
        // BuildKit's parser keeps unknown instructions with one empty value.
        _ => (vec![String::new()], false),
    };
    node.values = values;
    node.json = json;
    Ok(node)
}

fn split_command(line: &str) -> (&str, Vec<String>, String) {
    let parts = split_ws(line.trim(), 2);
    let keyword = parts[0];
    match parts.get(1) {
        Some(args) => {
            let (rest, flags) = extract_flags(args);
            (keyword, flags, rest.trim().to_string())
        }
        None => (keyword, Vec::new(), String::new()),
    }
}

/// BuildKit's `extractBuilderFlags`: leading `--words`, quotes and `\` escapes removed.
/// BuildKit reads this byte by byte; dockvar keeps non-ASCII bytes as the UTF-8 they are
/// (see the deliberate differences in tests/parser_oracle.rs).
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = 0u8;
    let mut blank_ok = false;
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let finish = |w: &[u8]| String::from_utf8_lossy(w).into_owned();
    let mut pos = 0;
    loop {
        let at_end = pos >= bytes.len();
        let ch = if at_end { 0 } else { bytes[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == bytes.len() || bytes[pos + 1] != b'-' {
                return (&line[pos..], words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != b"--" && (blank_ok || !word.is_empty()) {
                words.push(finish(&word));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if word == b"--" {
                    return (&line[pos..], words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(finish(&word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut ch = ch;
            if ch == b'\\' {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = bytes[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut ch = ch;
        if ch == b'\\' {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = bytes[pos];
        }
        word.push(ch);
        pos += 1;
    }
    ("", words)
}

/// BuildKit's `parseWords`: blanks split words except in quotes; quotes and escapes stay.
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let at_end = pos >= chars.len();
        let ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            let mut ch = ch;
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // In quotes.
        let mut ch = ch;
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else { return Ok(Vec::new()) };
    if !first.contains('=') {
        let parts = split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(vec![parts[0].to_string(), parts[1].to_string()]);
    }
    let mut values = Vec::with_capacity(words.len() * 2);
    for word in &words {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!("Syntax error - can't find = in {word:?}. Must be of the form: name=value"));
        };
        values.push(k.to_string());
        values.push(v.to_string());
    }
    Ok(values)
}

fn whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_ws(rest, usize::MAX).into_iter().map(str::to_string).collect()
}

fn string_value(rest: &str) -> Vec<String> {
    if rest.is_empty() { Vec::new() } else { vec![rest.to_string()] }
}

const NOT_STRING_ARRAY: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// `Some(values)` when `rest` starts with a JSON array of strings (anything after it is
/// ignored, as Go's decoder does); an array of other values is an error.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Array(items))) = stream.next() else { return Ok(None) };
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        match item {
            serde_json::Value::String(s) => values.push(s),
            _ => return Err(NOT_STRING_ARRAY.into()),
        }
    }
    Ok(Some(values))
}

fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(values) => (values, true),
        None => (vec![rest.to_string()], false),
    })
}

fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Some(values) => (values, true),
        None => (whitespace_delimited(rest), false),
    })
}

fn health_config(rest: &str) -> Result<(Vec<String>, bool), String> {
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let bytes = rest.as_bytes();
    let sep = bytes.iter().position(|&b| is_space(b)).unwrap_or(bytes.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let next = bytes[sep..].iter().position(|&b| !is_space(b)).map_or(bytes.len(), |i| sep + i);
    let (mut cmd, json) = maybe_json(&rest[next..])?;
    let mut values = vec![rest[..sep].to_string()];
    values.append(&mut cmd);
    Ok((values, json))
}

/// The here-documents a RUN/COPY/ADD line opens, in order (BuildKit's `heredocsFromLine`:
/// the whole line split into words with quotes and escapes kept, always with `\`).
fn heredocs_from_line(line: &str) -> Result<Vec<RawHeredoc>, String> {
    let lexer = Lexer { escape: '\\', raw_quotes: true, raw_escapes: true, skip_unset: true };
    let words = lexer.process_words(line, &|_| None).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// `^(\d*)<<(-?)([^<]*)$`, then the delimiter word unquoted; quoting any part of it turns
/// expansion off.
pub fn parse_heredoc(word: &str) -> Result<Option<RawHeredoc>, String> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else { return Ok(None) };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let fd = word[..digits].parse::<u64>().unwrap_or(if digits == 0 { 0 } else { u64::MAX });
    let lexer = Lexer { escape: '\\', raw_quotes: false, raw_escapes: false, skip_unset: true };
    let words = lexer.process_words(rest, &|_| None).map_err(|e| e.0)?;
    if words.len() != 1 {
        return Ok(None);
    }
    let raw = Lexer { raw_quotes: true, ..lexer };
    let raw_words = raw.process_words(rest, &|_| None).map_err(|e| e.0)?;
    if raw_words.len() != words.len() {
        return Err(format!("internal lexing of heredoc produced inconsistent results: {rest}"));
    }
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let expand = quotes(&words[0]) == quotes(&raw_words[0]);
    Ok(Some(RawHeredoc { name: words[0].clone(), fd, expand, chomp, content: String::new() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(text: &str) -> Vec<Node> {
        parse(text).unwrap_or_else(|e| panic!("{e:?}")).nodes
    }

    #[test]
    fn escaped_escape_ends_the_line() {
        let n = nodes("FROM x\nRUN echo a\\\\\nRUN b \\\\\\\nRUN c \\\n d\n");
        assert_eq!(n[1].values, vec!["echo a\\\\"]);
        assert_eq!(n[2].values, vec!["b \\\\\\"]);
        assert_eq!(n[3].values, vec!["c  d"]);
        assert_eq!((n[3].start_line, n[3].end_line), (4, 5));
    }

    #[test]
    fn heredocs_anywhere_on_the_line() {
        let n = nodes("FROM x\nRUN cat <<EOF >> /f && cat <<-'E2'\nhi $X\nEOF\n\tbody\n\tE2\nRUN x\n");
        assert_eq!(n[1].values, vec!["cat <<EOF >> /f && cat <<-'E2'"]);
        assert_eq!(n[1].heredocs.len(), 2);
        assert_eq!((n[1].heredocs[0].name.as_str(), n[1].heredocs[0].expand), ("EOF", true));
        assert_eq!(n[1].heredocs[0].content, "hi $X\n");
        assert_eq!((n[1].heredocs[1].name.as_str(), n[1].heredocs[1].expand), ("E2", false));
        assert_eq!(n[1].heredocs[1].content, "\tbody\n");
        assert_eq!((n[1].end_line, n[2].start_line), (6, 7));
    }

    #[test]
    fn flags_lose_their_quotes() {
        let n = nodes("FROM x\nCOPY --chown=\"app user\" --chmod='0755' a b\n");
        assert_eq!(n[1].flags, vec!["--chown=app user", "--chmod=0755"]);
        assert_eq!(n[1].values, vec!["a", "b"]);
    }

    #[test]
    fn directives_and_errors() {
        let p = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\n").unwrap();
        assert_eq!((p.escape, p.syntax.as_deref()), ('`', Some("docker/dockerfile:1")));
        assert_eq!(p.nodes[1].values, vec!["a  b"]);
        assert_eq!(parse("# escape=x\nFROM x").unwrap_err().message, "invalid escape token 'x' does not match ` or \\");
        assert_eq!(parse("").unwrap_err().message, "file with no instructions");
        assert_eq!(
            parse("FROM x\nENV a\n").unwrap_err(),
            BkError { line: 2, message: "ENV must have two arguments".into() }
        );
        assert_eq!(parse("FROM x\nRUN <<E\n").unwrap_err().message, "unterminated heredoc");
    }
}
