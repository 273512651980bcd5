//! Dockerfile text in, the seed notebook's canonical text out: its `get_dockerfile_variant`
//! procedure reproduced quirk for quirk, so that its 7-character variant IDs come out
//! byte-for-byte the same on the same tree.

use super::NameContext;

/// The notebook's procedure, on text as `Path.read_text()` returns it before newline
/// translation (this function applies the translation itself).
pub fn canonical(text: &str, names: &NameContext) -> String {
    // read_text() opens in universal-newlines mode: "\r\n" and lone "\r" both become "\n".
    let mut dockerfile = text.replace("\r\n", "\n").replace('\r', "\n");
    for (name, placeholder) in names.replacements() {
        dockerfile = dockerfile.replace(&name, placeholder);
    }
    // The loop walks the lines of the text as it was before the loop, while every replace
    // applies to the whole, already edited text: a comment's text is deleted wherever it
    // occurs, even inside another line. That is the notebook's behaviour and its IDs depend
    // on it.
    let original = dockerfile.clone();
    for line in splitlines(&original) {
        if line.starts_with('#') {
            dockerfile = dockerfile.replace(line, "");
        }
        if line.starts_with("LABEL io.airbyte.version") {
            dockerfile = dockerfile.replace(line, "");
        }
    }
    let kept: Vec<&str> = dockerfile.split('\n').filter(|l| !py_strip(l).is_empty()).collect();
    let joined = kept.join("\n");
    joined.split('\n').map(py_strip).collect::<Vec<_>>().join("\n")
}

/// Python's `str.splitlines()`: every Unicode line boundary Python knows, `\r\n` as one,
/// and no empty piece after a final boundary. (`str.replace("")` never happens because an
/// empty line cannot start with `#`.)
fn splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let is_break =
            matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if !is_break {
            continue;
        }
        lines.push(&text[start..i]);
        let mut next = i + c.len_utf8();
        if c == '\r'
            && let Some(&(j, '\n')) = iter.peek()
        {
            iter.next();
            next = j + 1;
        }
        start = next;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Python's `str.isspace()`, which differs from Rust's `char::is_whitespace` on U+001C to
/// U+001F (Python counts them as space; they are separators in its Unicode tables).
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

#[cfg(test)]
mod tests {
    use super::super::VariantHash;
    use super::*;

    fn names() -> NameContext {
        NameContext::technical("source-foo")
    }

    #[test]
    fn replaces_names_then_drops_comments_labels_blank_lines() {
        let text = "FROM python:3.9-slim\n# comment\n\nCOPY source_foo ./source_foo\nLABEL io.airbyte.version=1.0.0\nLABEL io.airbyte.name=airbyte/source-foo\n";
        assert_eq!(
            canonical(text, &names()),
            "FROM python:3.9-slim\nCOPY connector_technical_name ./connector_technical_name\nLABEL io.airbyte.name=airbyte/connector-technical-name"
        );
    }

    #[test]
    fn comment_text_is_removed_inside_other_lines() {
        // "#x" is a comment line; its text also occurs inside the RUN line and vanishes there.
        let text = "FROM a\n#x\nRUN echo #x done\n";
        assert_eq!(canonical(text, &names()), "FROM a\nRUN echo  done");
    }

    #[test]
    fn lone_hash_line_deletes_every_hash() {
        let text = "FROM a\n#\nRUN echo a#b\n";
        assert_eq!(canonical(text, &names()), "FROM a\nRUN echo ab");
    }

    #[test]
    fn indented_comment_is_kept_but_stripped() {
        // Tested before stripping: "  # note" does not start with '#', so it survives.
        let text = "FROM a\n  # note\nRUN x\n";
        assert_eq!(canonical(text, &names()), "FROM a\n# note\nRUN x");
    }

    #[test]
    fn crlf_and_lone_cr_read_as_newlines() {
        let lf = canonical("FROM a\n# c\nRUN x\n", &names());
        assert_eq!(canonical("FROM a\r\n# c\r\nRUN x\r\n", &names()), lf);
        assert_eq!(canonical("FROM a\r# c\rRUN x\r", &names()), lf);
    }

    #[test]
    fn python_whitespace_and_line_boundaries() {
        // \x0b splits lines for splitlines() (so "# c" is a comment line) but not for
        // split("\n"); strip() then removes it, and \x1c too. Python gives "FROM a\nRUN x".
        let text = "FROM a\x0b# c\nRUN x\x1c\n";
        assert_eq!(canonical(text, &names()), "FROM a\nRUN x");
        assert_eq!(splitlines("a\r\nb\rc\n"), vec!["a", "b", "c"]);
        assert_eq!(splitlines("a\n\nb"), vec!["a", "", "b"]);
    }

    #[test]
    fn matches_a_hash_computed_by_the_notebook_procedure() {
        // Computed with the notebook's Python function on this exact text.
        let text = "FROM python:3.9-slim\n# Bash is installed for more convenient debugging.\nRUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*\n";
        let canon = canonical(text, &names());
        assert_eq!(
            canon,
            "FROM python:3.9-slim\nRUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*"
        );
        assert_eq!(VariantHash::of(&canon).id().len(), 7);
    }
}
