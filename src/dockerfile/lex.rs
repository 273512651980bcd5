//! Raw instruction text in, BuildKit-compatible pieces out: joined continuations, words,
//! key-value pairs, unquoted values, folded whitespace and `${VAR}` expansion.

/// Joins a shell-form instruction's physical lines the way BuildKit does: a line ending in
/// the escape character (optionally followed by blanks) continues on the next one, the
/// escape and newline vanish, and comment or blank lines inside the continuation are skipped.
pub fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut continuing = false;
    for (i, line) in raw.split('\n').enumerate() {
        if i > 0 && continuing {
            let trimmed = line.trim_start_matches([' ', '\t']);
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
        } else if i > 0 {
            // The parser gave us exactly one instruction, so this cannot happen unless the
            // crate and we disagree; keep the text rather than drop it.
            out.push('\n');
        }
        match strip_continuation(line, escape) {
            Some(head) => {
                out.push_str(head);
                continuing = true;
            }
            None => {
                out.push_str(line);
                continuing = false;
            }
        }
    }
    out
}

/// `Some(line without the trailing escape and blanks)` when the line continues.
pub fn strip_continuation(line: &str, escape: char) -> Option<&str> {
    let trimmed = line.trim_end_matches([' ', '\t']);
    trimmed.strip_suffix(escape)
}

/// Splits like BuildKit's `parseWords`: blanks separate words except inside quotes or after
/// the escape character; quotes and escapes stay in the words (they are removed later).
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_word = false;
    for ch in text.chars() {
        if escaped {
            word.push(ch);
            escaped = false;
            continue;
        }
        if quote.is_none() && ch.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        word.push(ch);
        if ch == escape && quote != Some('\'') {
            escaped = true;
        } else if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
        } else if ch == '"' || ch == '\'' {
            quote = Some(ch);
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Removes shell quoting from one word without expanding variables: single quotes are
/// literal, double quotes honour the escape before `"`, `$`, the escape itself and a
/// backtick, and an unquoted escape takes the next character literally.
pub fn unquote(word: &str, escape: char) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(ch) = chars.next() {
        match quote {
            Some('\'') => {
                if ch == '\'' {
                    quote = None;
                } else {
                    out.push(ch);
                }
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                } else if ch == escape {
                    match chars.peek() {
                        Some(&next) if next == '"' || next == '$' || next == escape || next == '`' => {
                            out.push(next);
                            chars.next();
                        }
                        _ => out.push(ch),
                    }
                } else {
                    out.push(ch);
                }
            }
            None => {
                if ch == '"' || ch == '\'' {
                    quote = Some(ch);
                } else if ch == escape {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(ch);
                }
            }
        }
    }
    out
}

/// Splits `ENV`/`LABEL` arguments as BuildKit's `parseNameVal` does: the legacy `K V…` form
/// when the first word has no `=`, else `K=V` words. Values are unquoted.
pub fn split_pairs(text: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = split_words(text, escape);
    let Some(first) = words.first() else {
        return Err("needs at least one argument".into());
    };
    if !first.contains('=') {
        let trimmed = text.trim_start();
        let Some(split) = trimmed.find(char::is_whitespace) else {
            return Err(format!("`{first}` has no value: use `{first}=value` or `{first} value`"));
        };
        let (key, value) = trimmed.split_at(split);
        // The legacy form's value is the rest of the line, processed as one shell word.
        return Ok(vec![(unquote(key, escape), unquote(value.trim(), escape))]);
    }
    let mut pairs = Vec::with_capacity(words.len());
    for word in &words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("can't find `=` in `{word}`: must be of the form name=value"));
        };
        pairs.push((unquote(key, escape), unquote(value, escape)));
    }
    Ok(pairs)
}

/// Collapses runs of blanks outside quotes to one space and trims the ends, so that
/// re-indenting a `RUN` never makes a new variant.
pub fn fold_whitespace(text: &str, escape: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut pending_space = false;
    for ch in text.trim().chars() {
        if escaped {
            out.push(ch);
            escaped = false;
            continue;
        }
        if quote.is_none() && ch.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(ch);
        if ch == escape && quote != Some('\'') {
            escaped = true;
        } else if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
        } else if ch == '"' || ch == '\'' {
            quote = Some(ch);
        }
    }
    out
}

/// Quotes a value only when a shell word needs it, so `K=v` and `K="v"` print alike.
pub fn quote_minimal(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| {
            !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\' | '`' | '#' | ';' | '&' | '|' | '<' | '>' | '(' | ')')
        });
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// True when a word is a here-document redirection as BuildKit's `reHeredoc`
/// (`^(\d*)<<(-?)([^<]*)$` with a non-empty name) recognizes one.
pub fn is_heredoc_word(word: &str, escape: char) -> bool {
    let unquoted = unquote(word, escape);
    let rest = unquoted.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let name = rest.strip_prefix('-').unwrap_or(rest);
    !name.is_empty() && !name.contains('<')
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}` and
/// `${VAR+alt}` from `lookup`; unknown variables expand to nothing, as in BuildKit.
/// Returns the text and whether some variable was unknown.
pub fn expand_vars(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut unknown = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        if chars[i + 1] == '{' {
            let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') else {
                out.extend(&chars[i..]);
                break;
            };
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            i += close + 3;
            let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_end);
            let value = lookup(name);
            let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
            let expanded = if let Some(default) = op.strip_prefix(":-") {
                if set_nonempty { value.unwrap_or_default() } else { expand_vars(default, lookup).0 }
            } else if let Some(default) = op.strip_prefix('-') {
                match value {
                    Some(v) => v,
                    None => expand_vars(default, lookup).0,
                }
            } else if let Some(alt) = op.strip_prefix(":+") {
                if set_nonempty { expand_vars(alt, lookup).0 } else { String::new() }
            } else if let Some(alt) = op.strip_prefix('+') {
                if value.is_some() { expand_vars(alt, lookup).0 } else { String::new() }
            } else {
                if value.is_none() {
                    unknown = true;
                }
                value.unwrap_or_default()
            };
            out.push_str(&expanded);
        } else if chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_' {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let name: String = chars[start..end].iter().collect();
            match lookup(&name) {
                Some(v) => out.push_str(&v),
                None => unknown = true,
            }
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_continuations_skipping_comments_and_blank_lines() {
        let raw = "apt-get update \\\n  # a comment\n\n    && apt-get install -y bash";
        assert_eq!(join_continuations(raw, '\\'), "apt-get update     && apt-get install -y bash");
        assert_eq!(join_continuations("a `\nb", '`'), "a b");
    }

    #[test]
    fn splits_words_keeping_quotes() {
        assert_eq!(
            split_words(r#"A=1 B="two words" C=three\ words"#, '\\'),
            vec!["A=1", "B=\"two words\"", "C=three\\ words"]
        );
    }

    #[test]
    fn splits_pairs_new_and_legacy_forms() {
        assert_eq!(
            split_pairs(r#"A=1 B="two words" C=three\ words"#, '\\').unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "three words".into()),]
        );
        assert_eq!(
            split_pairs(r#"AIRBYTE_ENTRYPOINT "python /airbyte/integration_code/main.py""#, '\\').unwrap(),
            vec![("AIRBYTE_ENTRYPOINT".into(), "python /airbyte/integration_code/main.py".into())]
        );
        assert_eq!(split_pairs("K  v w", '\\').unwrap(), vec![("K".into(), "v w".into())]);
        assert!(split_pairs("ONLYKEY", '\\').is_err());
        assert!(split_pairs("A=1 B", '\\').is_err());
    }

    #[test]
    fn unquotes_like_a_shell() {
        assert_eq!(unquote(r#""a \"b\" \n""#, '\\'), r#"a "b" \n"#);
        assert_eq!(unquote(r"'a \ b'", '\\'), r"a \ b");
        assert_eq!(unquote(r"a\ b", '\\'), "a b");
        assert_eq!(unquote("a` b", '`'), "a b");
    }

    #[test]
    fn folds_whitespace_outside_quotes() {
        assert_eq!(fold_whitespace("  pip   install 'a  b'  \"c   d\"  ", '\\'), "pip install 'a  b' \"c   d\"");
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote_minimal("abc"), "abc");
        assert_eq!(quote_minimal("a b"), "\"a b\"");
        assert_eq!(quote_minimal(""), "\"\"");
        assert_eq!(quote_minimal("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn recognizes_heredoc_words() {
        for w in ["<<EOF", "<<-EOT", "<<\"EOF\"", "2<<X", "<<'x'"] {
            assert!(is_heredoc_word(w, '\\'), "{w}");
        }
        for w in ["<<<EOF", "a<<b", "<<", "<<-", "<<\"\""] {
            assert!(!is_heredoc_word(w, '\\'), "{w}");
        }
    }

    #[test]
    fn expands_build_args() {
        let lookup = |n: &str| match n {
            "BASE" => Some("python:3.9-slim".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand_vars("${BASE}", &lookup), ("python:3.9-slim".into(), false));
        assert_eq!(expand_vars("$BASE", &lookup).0, "python:3.9-slim");
        assert_eq!(expand_vars("${NOPE:-alpine:3.18}", &lookup).0, "alpine:3.18");
        assert_eq!(expand_vars("${EMPTY:-x}", &lookup).0, "x");
        assert_eq!(expand_vars("${EMPTY-x}", &lookup).0, "");
        assert_eq!(expand_vars("${BASE:+set}", &lookup).0, "set");
        assert_eq!(expand_vars("img:${NOPE}", &lookup), ("img:".into(), true));
        assert_eq!(expand_vars("${unterminated", &lookup).0, "${unterminated");
    }
}
