//! Text and variables in, one expanded word or a list of words out: BuildKit's shell lexer
//! (`frontend/dockerfile/shell/lex.go` of moby/buildkit v0.12.5), rule for rule, for ARG
//! defaults, `FROM` lines and here-document delimiters.
//!
//! Hand-written because no crate implements BuildKit's dialect (its quirks included: `$`
//! followed by a non-name is literal, only `-`, `+` and `?` modifiers with an optional `:`,
//! raw modes that keep quotes and escapes), and parity with BuildKit is the point.

/// A variable lookup: `None` when the variable is unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// How the lexer treats quotes, escapes and unset variables (BuildKit's `Lex` options).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Leave `$NAME` / `${NAME…}` as written when NAME is unset.
    pub skip_unset: bool,
}

/// What BuildKit's lexer rejects, in its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LexError(pub String);

/// One expansion: the word, the words it splits into, and the variables it looked up.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    pub word: String,
    pub words: Vec<String>,
    /// Variables looked up, in order.
    pub lookups: Vec<Lookup>,
}

/// One variable reference met while expanding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    pub set: bool,
    /// `$NAME` or `${NAME}`: no default or alternative supplies a value.
    pub plain: bool,
}

impl Lexer {
    pub fn new(escape: char) -> Self {
        Lexer { escape, raw_quotes: false, raw_escapes: false, skip_unset: false }
    }

    pub fn process(&self, text: &str, env: Env<'_>) -> Result<Expansion, LexError> {
        let mut state = State { chars: text.chars().collect(), pos: 0, lexer: *self, env, lookups: Vec::new() };
        let (word, words) =
            state.process_stop_on(None).map_err(|e| LexError(format!("failed to process {text:?}: {}", e.0)))?;
        Ok(Expansion { word, words, lookups: state.lookups })
    }

    /// The text as one word (BuildKit's `ProcessWord`).
    pub fn process_word(&self, text: &str, env: Env<'_>) -> Result<String, LexError> {
        self.process(text, env).map(|e| e.word)
    }

    /// The text split into words (BuildKit's `ProcessWords`).
    pub fn process_words(&self, text: &str, env: Env<'_>) -> Result<Vec<String>, LexError> {
        self.process(text, env).map(|e| e.words)
    }
}

struct State<'a> {
    chars: Vec<char>,
    pos: usize,
    lexer: Lexer,
    env: Env<'a>,
    lookups: Vec<Lookup>,
}

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

fn err(message: &str) -> LexError {
    LexError(message.to_string())
}

impl State<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&mut self, name: &str, plain: bool) -> Option<String> {
        let value = (self.env)(name);
        self.lookups.push(Lookup { name: name.to_string(), set: value.is_some(), plain });
        value
    }

    fn process_stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), LexError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok((result, words.finish()));
            }
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&tmp);
            } else if ch == '\'' {
                let tmp = self.process_single_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else if ch == '"' {
                let tmp = self.process_double_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else {
                let ch = self.next().unwrap_or_default();
                if ch == self.lexer.escape {
                    if self.lexer.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    let Some(escaped) = self.next() else { break };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                } else {
                    words.add_char(ch);
                    result.push(ch);
                }
            }
        }
        if let Some(stop) = stop {
            return Err(LexError(format!("unexpected end of statement while looking for matching {stop}")));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Result<String, LexError> {
        let mut result = String::new();
        let quote = self.next().unwrap_or('\'');
        if self.lexer.raw_quotes {
            result.push(quote);
        }
        loop {
            match self.next() {
                None => return Err(err("unexpected end of statement while looking for matching single-quote")),
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, LexError> {
        let mut result = String::new();
        let quote = self.next().unwrap_or('"');
        if self.lexer.raw_quotes {
            result.push(quote);
        }
        loop {
            match self.peek() {
                None => return Err(err("unexpected end of statement while looking for matching double-quote")),
                Some('"') => {
                    self.next();
                    if self.lexer.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lexer.escape {
                        if self.lexer.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lexer.escape => {
                                ch = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Result<String, LexError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            let value = self.get_env(&name, true);
            return Ok(match value {
                None if self.lexer.skip_unset => format!("${name}"),
                v => v.unwrap_or_default(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(err("syntax error: missing '}'")),
            Some('{' | '}' | ':') => return Err(err("syntax error: bad substitution")),
            _ => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut modifier = first.map(String::from).unwrap_or_else(|| "\u{fffd}".into());
        let mut ch = first;
        let mut null_is_unset = false;
        match ch {
            Some('}') => {
                let value = self.get_env(&name, true);
                return Ok(match value {
                    None if self.lexer.skip_unset => format!("${{{name}}}"),
                    v => v.unwrap_or_default(),
                });
            }
            Some(':') => {
                null_is_unset = true;
                ch = self.next();
                modifier.push(ch.unwrap_or('\u{fffd}'));
            }
            Some('+' | '-' | '?') => {}
            _ => return Err(LexError(format!("unsupported modifier ({modifier}) in substitution"))),
        }
        let word = match self.process_stop_on(Some('}')) {
            Ok((word, _)) => word,
            Err(e) => {
                if self.peek().is_none() {
                    return Err(err("syntax error: missing '}'"));
                }
                return Err(e);
            }
        };
        let value = self.get_env(&name, false);
        if self.lexer.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match ch {
            Some('-') => Ok(if unset { word } else { value.unwrap_or_default() }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => {
                if value.is_none() {
                    let message = if word.is_empty() { "is not allowed to be unset".to_string() } else { word };
                    return Err(LexError(format!("{name}: {message}")));
                }
                if unset {
                    let message = if word.is_empty() { "is not allowed to be empty".to_string() } else { word };
                    return Err(LexError(format!("{name}: {message}")));
                }
                Ok(value.unwrap_or_default())
            }
            _ => Err(LexError(format!("unsupported modifier ({modifier}) in substitution"))),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|&c| is_digit(c)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphabetic() || is_digit(ch) || ch == '_') {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }
}

/// Go's `unicode.IsDigit`: decimal digits of any script.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && is_decimal(c))
}

/// Non-ASCII decimal digits (category Nd) are rare in Dockerfiles; the common blocks are
/// enough to keep names like `A١` (Arabic-Indic one) split as Go splits them.
fn is_decimal(c: char) -> bool {
    let u = c as u32;
    [(0x0660, 0x0669), (0x06F0, 0x06F9), (0x0966, 0x096F), (0xFF10, 0xFF19)].iter().any(|&(a, b)| u >= a && u <= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x y".into()),
            _ => None,
        }
    }

    fn word(text: &str) -> Result<String, LexError> {
        Lexer::new('\\').process_word(text, &env)
    }

    #[test]
    fn expands_like_buildkit() {
        assert_eq!(word("$A${A}").unwrap(), "aa");
        assert_eq!(word("${NOPE:-d}|${EMPTY:-d}|${EMPTY-d}|${NOPE-d}").unwrap(), "d|d||d");
        assert_eq!(word("${A:+s}|${EMPTY:+s}|${EMPTY+s}|${NOPE+s}").unwrap(), "s||s|");
        assert_eq!(word("${NOPE:-${A}b}").unwrap(), "ab");
        assert_eq!(word("\"$A\"'$A'\\$A").unwrap(), "a$A$A");
        assert_eq!(word("$ $1x ${A}").unwrap(), "$ x a");
        assert_eq!(word("${A?}").unwrap(), "a");
        assert_eq!(word("${NOPE?gone}").unwrap_err().0, "failed to process \"${NOPE?gone}\": NOPE: gone");
        assert!(word("${templateOption:imageVariant}").unwrap_err().0.contains("unsupported modifier (:i)"));
        assert!(word("${A%%x}").unwrap_err().0.contains("unsupported modifier (%)"));
        // BuildKit's scanner returns EOF (-1) here, which `%c` prints as U+FFFD.
        assert!(word("${A").unwrap_err().0.contains("unsupported modifier (\u{fffd})"));
        assert!(word("${A:-x").unwrap_err().0.contains("missing '}'"));
        assert!(word("${}").unwrap_err().0.contains("bad substitution"));
        assert!(word("'open").is_err());
    }

    #[test]
    fn splits_words_and_keeps_raw_forms() {
        let lexer = Lexer::new('\\');
        assert_eq!(lexer.process_words("a $SP \"b c\"", &env).unwrap(), vec!["a", "x", "y", "b c"]);
        let raw = Lexer { raw_quotes: true, raw_escapes: true, skip_unset: true, ..lexer };
        assert_eq!(raw.process_words("RUN <<\"EOF\" $X a\\ b", &env).unwrap(), vec!["RUN", "<<\"EOF\"", "$X", "a\\ b"]);
    }
}
