//! Text from outside (image configs and files, Dockerfiles, file names, metadata) in, text that
//! is safe to show on a terminal out: control characters and bidirectional overrides become
//! visible escapes (`\x1b`, `\n`, `\r`, `\t`, `\u{202e}`), so a value can neither run terminal
//! escape sequences nor forge lines of output. JSON output is never escaped this way.

use std::borrow::Cow;

/// `true` for what must not reach a terminal raw: C0 and C1 controls, DEL, and the Unicode
/// formatting characters that reorder or hide text.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// One value (a table cell, an env value, a name): every unsafe character escaped, newlines
/// included.
pub fn escape_value(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) { push_escaped(&mut out, c) } else { out.push(c) }
    }
    Cow::Owned(out)
}

/// Whole output text made by dockvar: newlines and dockvar's own color codes (`ESC [ digits
/// and semicolons m`) are kept; every other unsafe character is escaped.
pub fn escape_output(text: &str) -> Cow<'_, str> {
    let needs = text.chars().any(|c| is_unsafe(c) && c != '\n');
    if !needs {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if c == '\n' || !is_unsafe(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of a color sequence (`\x1b[1;31m`) at the start of `text`, if there is one.
fn sgr_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("\x1b[")?;
    let digits = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    (digits <= 16 && body.as_bytes().get(digits) == Some(&b'm')).then_some(2 + digits + 1)
}

/// Markdown table cells and text: escaped like a value, and HTML made inert (a renderer would
/// run `<script>` or `<img onerror>` from an image label otherwise).
pub fn escape_markdown(text: &str) -> String {
    escape_value(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lose_controls_and_line_breaks() {
        assert_eq!(escape_value("plain 3.9-slim"), "plain 3.9-slim");
        assert_eq!(escape_value("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(escape_value("x\nuser root (uid 0)"), "x\\nuser root (uid 0)");
        assert_eq!(escape_value("tab\there\r"), "tab\\there\\r");
        assert_eq!(escape_value("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_value("\u{9b}2J"), "\\x9b2J");
        assert_eq!(escape_value("ünïcödé 日本"), "ünïcödé 日本");
    }

    #[test]
    fn output_keeps_newlines_and_own_colors() {
        assert_eq!(escape_output("\x1b[1mID\x1b[0m\nrow\n"), "\x1b[1mID\x1b[0m\nrow\n");
        assert_eq!(escape_output("\x1b[2Jcleared\x1b]0;t\x07"), "\\x1b[2Jcleared\\x1b]0;t\\x07");
        assert_eq!(escape_output("ok\n"), "ok\n");
    }

    #[test]
    fn markdown_is_inert() {
        assert_eq!(escape_markdown("<script>x</script> & co"), "&lt;script&gt;x&lt;/script&gt; &amp; co");
    }
}
