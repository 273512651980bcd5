//! A query's text in, Python tokens out: names, numbers, strings (with prefixes, triple quotes
//! and f-strings), operators, and statement ends; columns count characters from 1.

use super::QueryParseError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Names and keywords alike; the parser tells them apart.
    Name(String),
    Int(i128),
    Float(f64),
    /// An imaginary literal (`1j`): parsed, but dockvar has no complex numbers.
    Imaginary,
    Str(String),
    Bytes,
    /// An f-string's pieces, parsed by the parser.
    FStr(Vec<FPiece>),
    Op(&'static str),
    /// A newline or `;` outside brackets: the end of a statement.
    StatementEnd,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum FPiece {
    Text(String),
    /// The expression's source, the column where it starts, and its format spec's pieces.
    Field {
        source: String,
        col: usize,
        spec: Option<Vec<FPiece>>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub col: usize,
    pub text: String,
}

pub(super) fn error(column: usize, message: impl Into<String>) -> QueryParseError {
    QueryParseError { column, message: message.into() }
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

pub(super) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Longest first, so that `**` wins over `*`.
const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=", ":=", "<<", "<=",
    "==", ">=", ">>", "@=", "^=", "|=", "!", "%", "&", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">",
    "@", "[", "]", "^", "{", "|", "}", "~",
];

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// `offset` is added to every column (for the expressions inside f-strings).
pub(super) fn tokenize(src: &str, offset: usize) -> Result<Vec<Token>, QueryParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let mut depth: Vec<char> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1 + offset;
        if c == '\\' && chars.get(i + 1) == Some(&'\n') {
            i += 2;
            continue;
        }
        if c == '\n' {
            if depth.is_empty() && tokens.last().is_some_and(|t| t.tok != Tok::StatementEnd) {
                tokens.push(Token { tok: Tok::StatementEnd, col, text: "newline".into() });
            }
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if let Some((prefix_len, quote)) = string_start(&chars, i) {
            let prefix: String = chars[i..i + prefix_len].iter().collect::<String>().to_ascii_lowercase();
            let (body, end) = string_body(&chars, i + prefix_len, quote, offset)?;
            let raw = prefix.contains('r');
            let tok = if prefix.contains('b') {
                if !body.is_ascii() {
                    return Err(error(col, "bytes can only contain ASCII literal characters"));
                }
                Tok::Bytes
            } else if prefix.contains('f') {
                Tok::FStr(fstring_pieces(&body, raw, i + prefix_len + quote.len() + 1 + offset)?)
            } else if raw {
                Tok::Str(body)
            } else {
                Tok::Str(unescape(&body, i + prefix_len + quote.len() + 1 + offset)?)
            };
            i = end;
            tokens.push(Token { tok, col, text: chars[start..end].iter().collect() });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let (tok, end) = number(&chars, i, offset)?;
            i = end;
            tokens.push(Token { tok, col, text: chars[start..end].iter().collect() });
            continue;
        }
        if is_name_start(c) {
            let mut end = i + 1;
            while end < chars.len() && is_name_char(chars[end]) {
                end += 1;
            }
            let word: String = chars[i..end].iter().collect();
            i = end;
            tokens.push(Token { tok: Tok::Name(word.clone()), col, text: word });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
            return Err(error(col, format!("invalid character `{c}`")));
        };
        match *op {
            "(" | "[" | "{" => {
                if depth.len() >= 200 {
                    return Err(error(col, "too many nested parentheses"));
                }
                depth.push(c);
            }
            ")" | "]" | "}" => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match depth.pop() {
                    Some(o) if o == open => {}
                    Some(o) => return Err(error(col, format!("closing `{c}` does not match opening `{o}`"))),
                    None => return Err(error(col, format!("unmatched `{c}`"))),
                }
            }
            "!" => return Err(error(col, "`!` is not an operator; use `not` (or `!=` to compare)")),
            _ => {}
        }
        i += op.chars().count();
        if *op == ";" && depth.is_empty() {
            tokens.push(Token { tok: Tok::StatementEnd, col, text: ";".into() });
        } else {
            tokens.push(Token { tok: Tok::Op(op), col, text: (*op).to_string() });
        }
    }
    if let Some(open) = depth.last() {
        let col = tokens.iter().rev().find(|t| t.text == open.to_string()).map_or(1, |t| t.col);
        return Err(error(col, format!("`{open}` was never closed")));
    }
    while tokens.last().is_some_and(|t| t.tok == Tok::StatementEnd) {
        tokens.pop();
    }
    Ok(tokens)
}

/// A string prefix (`r`, `b`, `f`, `u`, `rb`, `fr`…) followed by a quote: its length and the
/// quote (`'`, `"`, `'''` or `"""`).
fn string_start(chars: &[char], i: usize) -> Option<(usize, &'static str)> {
    let mut n = 0;
    while n < 2 && chars.get(i + n).is_some_and(|c| "rRbBfFuU".contains(*c)) {
        n += 1;
    }
    for prefix_len in (0..=n).rev() {
        let prefix: String = chars[i..i + prefix_len].iter().collect::<String>().to_ascii_lowercase();
        let valid = matches!(prefix.as_str(), "" | "r" | "u" | "b" | "f" | "br" | "rb" | "fr" | "rf");
        let quote = match chars.get(i + prefix_len) {
            Some('\'') if chars.get(i + prefix_len + 1..i + prefix_len + 3) == Some(&['\'', '\'']) => "'''",
            Some('"') if chars.get(i + prefix_len + 1..i + prefix_len + 3) == Some(&['"', '"']) => "\"\"\"",
            Some('\'') => "'",
            Some('"') => "\"",
            _ => continue,
        };
        if valid {
            return Some((prefix_len, quote));
        }
        return None;
    }
    None
}

/// The raw text between the quotes and the index after the closing quote.
fn string_body(chars: &[char], open: usize, quote: &str, offset: usize) -> Result<(String, usize), QueryParseError> {
    let q: Vec<char> = quote.chars().collect();
    let mut i = open + q.len();
    let mut body = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(error(open + 1 + offset, format!("unterminated string: no closing {quote}")));
        };
        if chars.get(i..i + q.len()) == Some(&q[..]) {
            return Ok((body, i + q.len()));
        }
        if c == '\n' && q.len() == 1 {
            return Err(error(open + 1 + offset, format!("unterminated string: no closing {quote}")));
        }
        if c == '\\' {
            body.push(c);
            if let Some(&next) = chars.get(i + 1) {
                body.push(next);
            }
            i += 2;
            continue;
        }
        body.push(c);
        i += 1;
    }
}

/// Python's escapes; `col` is where the body starts, for errors.
pub(super) fn unescape(body: &str, col: usize) -> Result<String, QueryParseError> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let escape_col = col + i;
        let Some(&e) = chars.get(i + 1) else {
            out.push('\\');
            break;
        };
        i += 2;
        match e {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(e),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{07}'),
            'b' => out.push('\u{08}'),
            'f' => out.push('\u{0c}'),
            'v' => out.push('\u{0b}'),
            '0'..='7' => {
                let mut code = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.get(i).and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            'x' | 'u' | 'U' => {
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = chars.get(i..i + width).unwrap_or(&[]).iter().collect();
                let code = (digits.chars().count() == width && digits.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten();
                let Some(code) = code else {
                    return Err(error(escape_col, format!("`\\{e}` needs exactly {width} hexadecimal digits")));
                };
                let Some(ch) = char::from_u32(code) else {
                    return Err(error(escape_col, format!("`\\{e}{digits}` is not a valid character")));
                };
                out.push(ch);
                i += width;
            }
            'N' => return Err(error(escape_col, "`\\N{...}` escapes are not supported")),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// An f-string body split into text and `{expression[!conversion][:spec]}` fields.
fn fstring_pieces(body: &str, raw: bool, col: usize) -> Result<Vec<FPiece>, QueryParseError> {
    let chars: Vec<char> = body.chars().collect();
    let (pieces, end) = fstring_until(&chars, 0, raw, col, false)?;
    debug_assert_eq!(end, chars.len());
    Ok(pieces)
}

fn fstring_until(
    chars: &[char],
    mut i: usize,
    raw: bool,
    col: usize,
    in_spec: bool,
) -> Result<(Vec<FPiece>, usize), QueryParseError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, pieces: &mut Vec<FPiece>| -> Result<(), QueryParseError> {
        if !text.is_empty() {
            let t = if raw { std::mem::take(text) } else { unescape(&std::mem::take(text), col)? };
            pieces.push(FPiece::Text(t));
        }
        Ok(())
    };
    while i < chars.len() {
        let c = chars[i];
        if in_spec && c == '}' {
            break;
        }
        if c == '{' && chars.get(i + 1) == Some(&'{') && !in_spec {
            text.push('{');
            i += 2;
            continue;
        }
        if c == '}' && !in_spec {
            if chars.get(i + 1) == Some(&'}') {
                text.push('}');
                i += 2;
                continue;
            }
            return Err(error(col + i, "f-string: single '}' is not allowed"));
        }
        if c == '{' {
            flush(&mut text, &mut pieces)?;
            let start = i + 1;
            let mut j = start;
            let mut nesting = 0usize;
            let mut quote: Option<char> = None;
            while j < chars.len() {
                let d = chars[j];
                match quote {
                    Some(q) if d == q => quote = None,
                    Some(_) => {}
                    None => match d {
                        '\'' | '"' => quote = Some(d),
                        '(' | '[' | '{' => nesting += 1,
                        ')' | ']' | '}' if nesting > 0 => nesting -= 1,
                        '}' | ':' if nesting == 0 => break,
                        '!' if nesting == 0 && chars.get(j + 1) != Some(&'=') => break,
                        _ => {}
                    },
                }
                j += 1;
            }
            let source: String = chars[start..j].iter().collect();
            if source.trim().is_empty() {
                return Err(error(col + i, "f-string: empty expression not allowed"));
            }
            if source.trim_end().ends_with('=') && !source.trim_end().ends_with("==") {
                return Err(error(col + i, "f-string: `=` debugging fields are not supported"));
            }
            if chars.get(j) == Some(&'!') {
                match chars.get(j + 1) {
                    Some('r' | 's' | 'a') => j += 2,
                    _ => {
                        return Err(error(
                            col + j,
                            "f-string: invalid conversion character: expected 's', 'r', or 'a'",
                        ));
                    }
                }
            }
            let mut spec = None;
            if chars.get(j) == Some(&':') {
                let (inner, end) = fstring_until(chars, j + 1, raw, col, true)?;
                spec = Some(inner);
                j = end;
            }
            if chars.get(j) != Some(&'}') {
                return Err(error(col + i, "f-string: expecting '}'"));
            }
            pieces.push(FPiece::Field { source, col: col + start, spec });
            i = j + 1;
            continue;
        }
        text.push(c);
        i += 1;
    }
    flush(&mut text, &mut pieces)?;
    Ok((pieces, i))
}

/// Python's number literals: decimal, hex, octal and binary integers with `_` between
/// digits, floats with fraction and exponent, and imaginary ones.
fn number(chars: &[char], start: usize, offset: usize) -> Result<(Tok, usize), QueryParseError> {
    let col = start + 1 + offset;
    let mut end = start;
    let take_digits = |end: &mut usize, ok: &dyn Fn(char) -> bool| -> bool {
        let begin = *end;
        while *end < chars.len() {
            let c = chars[*end];
            if ok(c) || (c == '_' && *end > begin && chars.get(*end + 1).is_some_and(|n| ok(*n))) {
                *end += 1;
            } else {
                break;
            }
        }
        *end > begin
    };
    let text_of = |a: usize, b: usize| -> String { chars[a..b].iter().filter(|c| **c != '_').collect() };
    let invalid = |end: usize| {
        let mut bad_end = end;
        while chars.get(bad_end).is_some_and(|c| is_name_char(*c)) {
            bad_end += 1;
        }
        let bad: String = chars[start..bad_end].iter().collect();
        error(col, format!("invalid number `{bad}`"))
    };
    if chars[start] == '0' && matches!(chars.get(start + 1), Some('x' | 'X' | 'o' | 'O' | 'b' | 'B')) {
        let radix = match chars[start + 1].to_ascii_lowercase() {
            'x' => 16,
            'o' => 8,
            _ => 2,
        };
        end = start + 2;
        if chars.get(end) == Some(&'_') {
            end += 1;
        }
        if !take_digits(&mut end, &|c: char| c.is_digit(radix)) || chars.get(end).is_some_and(|c| is_name_char(*c)) {
            return Err(invalid(end));
        }
        let digits = text_of(start + 2, end);
        let value = i128::from_str_radix(&digits, radix).map_err(|_| error(col, "integer is too large for dockvar"))?;
        return Ok((Tok::Int(value), end));
    }
    let digit = |c: char| c.is_ascii_digit();
    let whole = take_digits(&mut end, &digit);
    let mut float = false;
    if chars.get(end) == Some(&'.') {
        float = true;
        end += 1;
        take_digits(&mut end, &digit);
        if !whole && end == start + 1 {
            return Err(invalid(end));
        }
    }
    if matches!(chars.get(end), Some('e' | 'E')) {
        let mut e = end + 1;
        if matches!(chars.get(e), Some('+' | '-')) {
            e += 1;
        }
        if take_digits(&mut e, &digit) {
            float = true;
            end = e;
        } else {
            return Err(invalid(end));
        }
    }
    if matches!(chars.get(end), Some('j' | 'J')) {
        end += 1;
        if chars.get(end).is_some_and(|c| is_name_char(*c)) {
            return Err(invalid(end));
        }
        return Ok((Tok::Imaginary, end));
    }
    if chars.get(end).is_some_and(|c| is_name_char(*c)) {
        return Err(invalid(end));
    }
    let text = text_of(start, end);
    if float {
        let fixed = if text.starts_with('.') { format!("0{text}") } else { text.clone() };
        let fixed = fixed.replace(".e", ".0e").replace(".E", ".0E");
        let fixed = if fixed.ends_with('.') { format!("{fixed}0") } else { fixed };
        let value: f64 = fixed.parse().map_err(|_| error(col, format!("invalid number `{text}`")))?;
        return Ok((Tok::Float(value), end));
    }
    if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
        return Err(error(
            col,
            "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
        ));
    }
    let value: i128 = text.parse().map_err(|_| error(col, format!("integer `{text}` is too large for dockvar")))?;
    Ok((Tok::Int(value), end))
}
