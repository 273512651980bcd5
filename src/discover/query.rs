//! A `--query` expression in (the Python subset Airbyte's `--metadata-query` uses), a [`Query`]
//! out; [`Query::matches`] takes a connector's `data:` mapping and says whether it is truthy.
//!
//! # Grammar
//!
//! Precedence climbs from `or` to postfix, as in Python:
//!
//! ```text
//! query      := expr EOF
//! expr       := or
//! or         := and ('or' and)*
//! and        := not ('and' not)*
//! not        := 'not' not | comparison
//! comparison := unary (cmp_op unary | 'is' ['not'] ('None' | 'True' | 'False'))?
//! cmp_op     := '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in'
//! unary      := '-' unary | postfix
//! postfix    := primary ('.' NAME | '.' 'keys' '(' ')' | '[' expr ']')*
//! primary    := 'data' | STRING | INT | FLOAT | 'True' | 'False' | 'None'
//!             | 'len' '(' expr ')' | '(' expr ')' | '(' [expr (',' expr)* [',']] ')'
//!             | '[' [expr (',' expr)* [',']] ']'
//! ```
//!
//! - Comparisons do not chain: `a < b < c` is a syntax error (write `a < b and b < c`).
//! - `is` only takes `None`, `True` or `False` on its right; `==` compares values.
//! - `data` is the only name. Any other name (or a call other than `len(...)` and `.keys()`) is
//!   rejected when parsing, so a typo fails once with exit 2 instead of once per connector.
//! - Strings take single or double quotes and Python's escapes (`\\ \' \" \n \t \r \a \b \f \v`,
//!   octal `\ooo`, `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, backslash-newline); an unknown escape keeps its
//!   backslash, as in Python. Numbers are decimal integers (up to 128 bits) and floats with an
//!   optional exponent (`1.5`, `2e3`). List and tuple literals (`x in ['a', 'b']`) are accepted
//!   and behave alike.
//! - Nesting (parentheses, brackets, `not`, `-`) is capped at [`MAX_DEPTH`] levels; long `and`,
//!   `or` and `.a.b.c` chains are flat and not limited.
//! - Columns in errors count characters (not bytes) from 1, newlines included.
//!
//! # Semantics
//!
//! - `data` is the `data:` mapping of metadata.yaml; when it is absent (broken metadata) `data`
//!   is `None`, so `data.x is None` is true and every other test on it is false.
//! - A missing key, a missing list index or a step on `None` gives `None`, and `None` flows on
//!   through `.x`, `[k]`, `.keys()`, `len()` and unary `-`. Only `is None` / `is not None` see it:
//!   every other comparison with a `None` operand is false (`==`, `!=`, `in` and `not in`
//!   included), except `None == None`, which is true. So a query about a missing field never
//!   matches by accident, whichever way it is phrased.
//! - Numbers compare numerically (`1 == 1.0`); strings compare by code point; ordering between any
//!   other pair of types is false. Booleans are not numbers here (`True == 1` is false, unlike
//!   Python), since YAML keeps them apart.
//! - `x in s` is a substring test when `s` is a string, membership for lists, and key membership
//!   for mappings and `.keys()`.
//! - A type error (`len(5)`, `.keys()` on a string, `1 in 'abc'`, `-'a'`, indexing a number) is an
//!   [`EvalError`]; the caller decides what it counts as (Airbyte's tooling: no match).
//! - `and` / `or` short-circuit and yield an operand, as in Python; the result's truthiness is
//!   Python's (`None`, `False`, `0`, `''`, `[]`, `{}` are false).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_yaml::{Mapping, Value};

/// How deep parentheses, brackets, `not` and `-` may nest. It bounds the recursion of both the
/// parser and the evaluator, so that no input can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A parsed query, ready to be evaluated against any number of connectors.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: Expr,
}

/// A syntax error; `column` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryParseError {
    pub column: usize,
    pub message: String,
}

/// A type error met while evaluating a query against one connector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryParseError> {
        let (tokens, eof) = tokenize(text)?;
        if tokens.is_empty() {
            return Err(parse_error(1, "empty query"));
        }
        let mut parser = Parser { tokens, eof, pos: 0, depth: 0 };
        let expr = parser.parse_expr(0)?;
        let next = parser.peek();
        if next.tok != Tok::Eof {
            return Err(parse_error(next.col, trailing_message(next)));
        }
        Ok(Query { text: text.to_owned(), expr })
    }

    /// `data` is the connector's `data:` mapping, `None` when metadata.yaml could not give one.
    pub fn matches(&self, data: Option<&Value>) -> Result<bool, EvalError> {
        eval(&self.expr, data).map(|value| value.truthy())
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl FromStr for Query {
    type Err = QueryParseError;

    fn from_str(text: &str) -> Result<Query, QueryParseError> {
        Query::parse(text)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_error(column: usize, message: impl Into<String>) -> QueryParseError {
    QueryParseError { column, message: message.into() }
}

fn eval_error(column: usize, message: impl fmt::Display) -> EvalError {
    EvalError { message: format!("column {column}: {message}") }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Names and keywords alike: keywords are only keywords where the parser expects one, which
    /// lets `data.in` or `data.not` read keys of those names.
    Ident(String),
    Str(String),
    Int(i128),
    Float(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    Minus,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
    /// The source text, for error messages.
    text: String,
}

fn describe(token: &Token) -> String {
    if token.tok == Tok::Eof { "the end of the query".to_owned() } else { format!("`{}`", token.text) }
}

fn tokenize(src: &str) -> Result<(Vec<Token>, Token), QueryParseError> {
    let chars: Vec<char> = src.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (tok, end) = match c {
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '[' => (Tok::LBracket, i + 1),
            ']' => (Tok::RBracket, i + 1),
            '.' => (Tok::Dot, i + 1),
            ',' => (Tok::Comma, i + 1),
            '-' => (Tok::Minus, i + 1),
            '=' if at(i + 1) == Some('=') => (Tok::Eq, i + 2),
            '=' => return Err(parse_error(col, "`=` assigns in Python; use `==` to compare")),
            '!' if at(i + 1) == Some('=') => (Tok::Ne, i + 2),
            '!' => return Err(parse_error(col, "`!` is not an operator; use `not` (or `!=` to compare)")),
            '<' if at(i + 1) == Some('=') => (Tok::Le, i + 2),
            '<' => (Tok::Lt, i + 1),
            '>' if at(i + 1) == Some('=') => (Tok::Ge, i + 2),
            '>' => (Tok::Gt, i + 1),
            '&' => return Err(parse_error(col, "`&` is not supported; use `and`")),
            '|' => return Err(parse_error(col, "`|` is not supported; use `or`")),
            '\'' | '"' => {
                let (text, end) = lex_string(&chars, i)?;
                (Tok::Str(text), end)
            }
            '0'..='9' => lex_number(&chars, i)?,
            c if c == '_' || c.is_alphabetic() => {
                let mut end = i + 1;
                while at(end).is_some_and(|c| c == '_' || c.is_alphanumeric()) {
                    end += 1;
                }
                (Tok::Ident(chars[start..end].iter().collect()), end)
            }
            '+' | '*' | '/' | '%' => return Err(parse_error(col, format!("`{c}`: arithmetic is not supported"))),
            other => return Err(parse_error(col, format!("unexpected character `{other}`"))),
        };
        i = end;
        tokens.push(Token { tok, col, text: chars[start..end].iter().collect() });
    }
    let eof = Token { tok: Tok::Eof, col: chars.len() + 1, text: String::new() };
    Ok((tokens, eof))
}

/// `start` is the opening quote; returns the decoded text and the index after the closing quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), QueryParseError> {
    let quote = chars.get(start).copied().unwrap_or('\'');
    let unterminated = || parse_error(start + 1, format!("unterminated string: no closing {quote}"));
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = chars.get(i).copied() else { return Err(unterminated()) };
        if c == quote {
            return Ok((out, i + 1));
        }
        match c {
            // Python ends a one-quote string at the line's end; so do we, to point at the quote.
            '\n' => return Err(unterminated()),
            '\\' => {
                let escape_col = i + 1;
                let Some(e) = chars.get(i + 1).copied() else { return Err(unterminated()) };
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
                        // At most 0o777, always a valid scalar value.
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    'x' | 'u' | 'U' => {
                        let width = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let digits: String = chars.get(i..i + width).unwrap_or(&[]).iter().collect();
                        let code = if digits.chars().count() == width && digits.chars().all(|c| c.is_ascii_hexdigit()) {
                            u32::from_str_radix(&digits, 16).ok()
                        } else {
                            None
                        };
                        let Some(code) = code else {
                            return Err(parse_error(
                                escape_col,
                                format!("`\\{e}` needs exactly {width} hexadecimal digits"),
                            ));
                        };
                        let Some(ch) = char::from_u32(code) else {
                            return Err(parse_error(escape_col, format!("`\\{e}{digits}` is not a valid character")));
                        };
                        out.push(ch);
                        i += width;
                    }
                    'N' => return Err(parse_error(escape_col, "`\\N{...}` escapes are not supported")),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), QueryParseError> {
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut end = start;
    while digit_at(end) {
        end += 1;
    }
    let mut float = false;
    // A dot not followed by a digit is attribute access, not a fraction.
    if chars.get(end) == Some(&'.') && digit_at(end + 1) {
        float = true;
        end += 1;
        while digit_at(end) {
            end += 1;
        }
    }
    if matches!(chars.get(end), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(end + 1), Some('+' | '-')));
        if digit_at(end + 1 + sign) {
            float = true;
            end += 1 + sign;
            while digit_at(end) {
                end += 1;
            }
        }
    }
    let text: String = chars[start..end].iter().collect();
    if chars.get(end).is_some_and(|c| *c == '_' || c.is_alphanumeric()) {
        let mut bad_end = end;
        while chars.get(bad_end).is_some_and(|c| *c == '_' || c.is_alphanumeric()) {
            bad_end += 1;
        }
        let bad: String = chars[start..bad_end].iter().collect();
        return Err(parse_error(start + 1, format!("invalid number `{bad}`")));
    }
    let tok = if float {
        Tok::Float(text.parse().map_err(|_| parse_error(start + 1, format!("invalid number `{text}`")))?)
    } else {
        Tok::Int(text.parse().map_err(|_| parse_error(start + 1, format!("integer `{text}` is too large")))?)
    };
    Ok((tok, end))
}

// ---------------------------------------------------------------------------------------------
// Syntax tree and parser

#[derive(Debug, Clone)]
enum Expr {
    Lit(Lit),
    Data,
    List(Vec<Expr>),
    /// A root and its `.name` / `[index]` / `.keys()` steps, flat so that long paths don't nest.
    Path(Box<Expr>, Vec<Step>),
    Len(Box<Expr>, usize),
    Not(Box<Expr>),
    Neg(Box<Expr>, usize),
    /// Flat lists, so that long chains don't nest either.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare {
        lhs: Box<Expr>,
        op: CmpOp,
        rhs: Box<Expr>,
        col: usize,
    },
    Is {
        lhs: Box<Expr>,
        negated: bool,
        target: Singleton,
    },
}

#[derive(Debug, Clone)]
enum Lit {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone)]
enum Step {
    Attr(String, usize),
    Index(Expr, usize),
    Keys(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Singleton {
    None,
    True,
    False,
}

/// Left binding powers; an operator binds its right operand at one more, which makes `and` and
/// `or` left-associative and lets comparisons refuse to chain.
const BP_OR: u8 = 1;
const BP_AND: u8 = 3;
const BP_NOT: u8 = 5;
const BP_CMP: u8 = 7;
const BP_NEG: u8 = 9;

enum Infix {
    Or,
    And,
    /// The operator and how many tokens spell it (`not in` takes two).
    Cmp(CmpOp, usize),
    Is,
}

struct Parser {
    tokens: Vec<Token>,
    eof: Token,
    pos: usize,
    depth: usize,
}

fn is_kw(token: &Token, word: &str) -> bool {
    matches!(&token.tok, Tok::Ident(w) if w == word)
}

fn trailing_message(token: &Token) -> String {
    match token.tok {
        Tok::RParen => "unmatched `)`".to_owned(),
        Tok::RBracket => "unmatched `]`".to_owned(),
        _ => format!("unexpected {} after a complete expression (missing `and` or `or`?)", describe(token)),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        self.peek_nth(0)
    }

    fn peek_nth(&self, ahead: usize) -> &Token {
        self.tokens.get(self.pos + ahead).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn expect_close(&mut self, close: Tok, open: &Token) -> Result<(), QueryParseError> {
        let next = self.peek();
        if next.tok == close {
            self.bump();
            return Ok(());
        }
        let closer = if close == Tok::RParen { ')' } else { ']' };
        Err(parse_error(
            next.col,
            format!("expected `{closer}` to close `{}` at column {}, found {}", open.text, open.col, describe(next)),
        ))
    }

    fn parse_expr(&mut self, min_bp: u8) -> Result<Expr, QueryParseError> {
        if self.depth >= MAX_DEPTH {
            // Point at the bracket or operator that opened the level too many.
            let opener = self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)).unwrap_or(&self.eof);
            return Err(parse_error(opener.col, format!("expression nested more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let result = self.parse_expr_within(min_bp);
        self.depth -= 1;
        result
    }

    fn parse_expr_within(&mut self, min_bp: u8) -> Result<Expr, QueryParseError> {
        let mut lhs = self.parse_prefix(min_bp)?;
        let mut after_comparison = false;
        while let Some(infix) = self.peek_infix()? {
            match infix {
                Infix::Or | Infix::And => {
                    let is_or = matches!(infix, Infix::Or);
                    let bp = if is_or { BP_OR } else { BP_AND };
                    if bp < min_bp {
                        break;
                    }
                    self.bump();
                    let rhs = self.parse_expr(bp + 1)?;
                    lhs = match (lhs, is_or) {
                        (Expr::Or(mut items), true) | (Expr::And(mut items), false) => {
                            items.push(rhs);
                            if is_or { Expr::Or(items) } else { Expr::And(items) }
                        }
                        (lhs, true) => Expr::Or(vec![lhs, rhs]),
                        (lhs, false) => Expr::And(vec![lhs, rhs]),
                    };
                    after_comparison = false;
                }
                Infix::Cmp(op, width) => {
                    if BP_CMP < min_bp {
                        break;
                    }
                    let op_token = self.peek().clone();
                    if after_comparison {
                        return Err(chained(&op_token));
                    }
                    for _ in 0..width {
                        self.bump();
                    }
                    let rhs = self.parse_expr(BP_CMP + 1)?;
                    lhs = Expr::Compare { lhs: Box::new(lhs), op, rhs: Box::new(rhs), col: op_token.col };
                    after_comparison = true;
                }
                Infix::Is => {
                    if BP_CMP < min_bp {
                        break;
                    }
                    let is_token = self.bump();
                    if after_comparison {
                        return Err(chained(&is_token));
                    }
                    let negated = is_kw(self.peek(), "not");
                    if negated {
                        self.bump();
                    }
                    let target_token = self.bump();
                    let target = match &target_token.tok {
                        Tok::Ident(w) if w == "None" => Singleton::None,
                        Tok::Ident(w) if w == "True" => Singleton::True,
                        Tok::Ident(w) if w == "False" => Singleton::False,
                        _ => {
                            return Err(parse_error(
                                target_token.col,
                                format!(
                                    "`is` compares only with None, True or False, found {}; use `==` to compare values",
                                    describe(&target_token)
                                ),
                            ));
                        }
                    };
                    lhs = Expr::Is { lhs: Box::new(lhs), negated, target };
                    after_comparison = true;
                }
            }
        }
        Ok(lhs)
    }

    fn peek_infix(&self) -> Result<Option<Infix>, QueryParseError> {
        let token = self.peek();
        let infix = match &token.tok {
            Tok::Eq => Infix::Cmp(CmpOp::Eq, 1),
            Tok::Ne => Infix::Cmp(CmpOp::Ne, 1),
            Tok::Lt => Infix::Cmp(CmpOp::Lt, 1),
            Tok::Le => Infix::Cmp(CmpOp::Le, 1),
            Tok::Gt => Infix::Cmp(CmpOp::Gt, 1),
            Tok::Ge => Infix::Cmp(CmpOp::Ge, 1),
            Tok::Ident(w) => match w.as_str() {
                "or" => Infix::Or,
                "and" => Infix::And,
                "in" => Infix::Cmp(CmpOp::In, 1),
                "is" => Infix::Is,
                // After a complete operand, `not` can only start `not in`.
                "not" if is_kw(self.peek_nth(1), "in") => Infix::Cmp(CmpOp::NotIn, 2),
                "not" => {
                    return Err(parse_error(
                        token.col,
                        "`not` after a value must start `not in`; to test for None write `is not None`",
                    ));
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(infix))
    }

    fn parse_prefix(&mut self, min_bp: u8) -> Result<Expr, QueryParseError> {
        let token = self.peek().clone();
        if is_kw(&token, "not") {
            if BP_NOT < min_bp {
                return Err(parse_error(token.col, "`not` cannot appear here without parentheses: write `(not ...)`"));
            }
            self.bump();
            return Ok(Expr::Not(Box::new(self.parse_expr(BP_NOT)?)));
        }
        if token.tok == Tok::Minus {
            self.bump();
            return Ok(Expr::Neg(Box::new(self.parse_expr(BP_NEG)?), token.col));
        }
        self.parse_postfix()
    }

    fn parse_postfix(&mut self) -> Result<Expr, QueryParseError> {
        let root = self.parse_primary()?;
        let mut steps = Vec::new();
        loop {
            let token = self.peek().clone();
            match token.tok {
                Tok::Dot => {
                    self.bump();
                    let name_token = self.bump();
                    let name = match name_token.tok {
                        Tok::Ident(name) => name,
                        Tok::Int(_) | Tok::Float(_) => {
                            return Err(parse_error(
                                name_token.col,
                                format!(
                                    "expected a key name after `.`, found a number; index lists with `[{}]`",
                                    name_token.text
                                ),
                            ));
                        }
                        _ => {
                            return Err(parse_error(
                                name_token.col,
                                format!("expected a key name after `.`, found {}", describe(&name_token)),
                            ));
                        }
                    };
                    if self.peek().tok != Tok::LParen {
                        steps.push(Step::Attr(name, name_token.col));
                        continue;
                    }
                    if name != "keys" {
                        return Err(parse_error(
                            name_token.col,
                            format!("unknown method `.{name}()`; only `.keys()` is supported"),
                        ));
                    }
                    let open = self.bump();
                    if self.peek().tok != Tok::RParen {
                        return Err(parse_error(self.peek().col, "`.keys()` takes no arguments"));
                    }
                    self.expect_close(Tok::RParen, &open)?;
                    steps.push(Step::Keys(name_token.col));
                }
                Tok::LBracket => {
                    self.bump();
                    let index = self.parse_expr(0)?;
                    self.expect_close(Tok::RBracket, &token)?;
                    steps.push(Step::Index(index, token.col));
                }
                Tok::LParen => {
                    return Err(parse_error(token.col, "only `len(...)` and `.keys()` can be called"));
                }
                _ => break,
            }
        }
        Ok(if steps.is_empty() { root } else { Expr::Path(Box::new(root), steps) })
    }

    fn parse_primary(&mut self) -> Result<Expr, QueryParseError> {
        let token = self.bump();
        match &token.tok {
            Tok::Str(s) => Ok(Expr::Lit(Lit::Str(s.clone()))),
            Tok::Int(n) => Ok(Expr::Lit(Lit::Int(*n))),
            Tok::Float(f) => Ok(Expr::Lit(Lit::Float(*f))),
            Tok::LParen => {
                if self.peek().tok == Tok::RParen {
                    self.bump();
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.parse_expr(0)?;
                if self.peek().tok != Tok::Comma {
                    self.expect_close(Tok::RParen, &token)?;
                    return Ok(first);
                }
                let items = self.parse_items(vec![first], Tok::RParen, &token)?;
                Ok(Expr::List(items))
            }
            Tok::LBracket => Ok(Expr::List(self.parse_items(Vec::new(), Tok::RBracket, &token)?)),
            Tok::Ident(name) => self.parse_name(name, &token),
            Tok::Eof => Err(parse_error(token.col, "expected a value, found the end of the query")),
            _ => Err(parse_error(token.col, format!("expected a value, found {}", describe(&token)))),
        }
    }

    /// Comma-separated items up to `close`; `items` holds those already read, and a comma may be
    /// pending or trailing.
    fn parse_items(&mut self, mut items: Vec<Expr>, close: Tok, open: &Token) -> Result<Vec<Expr>, QueryParseError> {
        loop {
            if !items.is_empty() {
                if self.peek().tok != Tok::Comma {
                    break;
                }
                self.bump();
            }
            if self.peek().tok == close {
                break;
            }
            items.push(self.parse_expr(0)?);
        }
        self.expect_close(close, open)?;
        Ok(items)
    }

    fn parse_name(&mut self, name: &str, token: &Token) -> Result<Expr, QueryParseError> {
        let col = token.col;
        match name {
            "data" => Ok(Expr::Data),
            "None" => Ok(Expr::Lit(Lit::None)),
            "True" => Ok(Expr::Lit(Lit::Bool(true))),
            "False" => Ok(Expr::Lit(Lit::Bool(false))),
            "len" => {
                let open = self.peek().clone();
                if open.tok != Tok::LParen {
                    return Err(parse_error(col, "`len` must be called: `len(...)`"));
                }
                self.bump();
                if self.peek().tok == Tok::RParen {
                    return Err(parse_error(self.peek().col, "len() takes exactly one argument"));
                }
                let arg = self.parse_expr(0)?;
                if self.peek().tok == Tok::Comma {
                    return Err(parse_error(self.peek().col, "len() takes exactly one argument"));
                }
                self.expect_close(Tok::RParen, &open)?;
                Ok(Expr::Len(Box::new(arg), col))
            }
            "and" | "or" | "in" | "is" => Err(parse_error(col, format!("expected a value, found `{name}`"))),
            "true" => Err(parse_error(col, "unknown name `true`; did you mean `True`?")),
            "false" => Err(parse_error(col, "unknown name `false`; did you mean `False`?")),
            "null" | "none" | "nil" => Err(parse_error(col, format!("unknown name `{name}`; did you mean `None`?"))),
            "keys" => Err(parse_error(col, "`keys` is a method: write `data.keys()`")),
            _ => Err(parse_error(
                col,
                format!("unknown name `{name}`; a query reads only `data` (for example `data.{name}`)"),
            )),
        }
    }
}

fn chained(op: &Token) -> QueryParseError {
    parse_error(op.col, "comparisons cannot be chained (`a < b < c`); write `a < b and b < c`")
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// A value met during evaluation; it borrows from the metadata and from the query.
#[derive(Debug, Clone)]
enum Val<'a> {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(&'a [Value]),
    List(Vec<Val<'a>>),
    Map(&'a Mapping),
    /// What `.keys()` returns: behaves as the mapping's keys, without copying them.
    Keys(&'a Mapping),
}

impl<'a> Val<'a> {
    fn from_yaml(value: &'a Value) -> Val<'a> {
        let mut value = value;
        while let Value::Tagged(tagged) = value {
            value = &tagged.value;
        }
        match value {
            Value::Null => Val::None,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Val::Int(i.into()),
                (None, Some(u)) => Val::Int(u.into()),
                _ => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Sequence(items) => Val::Seq(items),
            Value::Mapping(map) => Val::Map(map),
            Value::Tagged(_) => Val::None, // unreachable: unwrapped above
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::None => "None",
            Val::Bool(_) => "bool",
            Val::Int(_) | Val::Float(_) => "number",
            Val::Str(_) => "string",
            Val::Seq(_) | Val::List(_) => "list",
            Val::Map(_) => "mapping",
            Val::Keys(_) => "`.keys()` result",
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::None => false,
            Val::Bool(b) => *b,
            Val::Int(n) => *n != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Seq(items) => !items.is_empty(),
            Val::List(items) => !items.is_empty(),
            Val::Map(map) | Val::Keys(map) => !map.is_empty(),
        }
    }

    fn number(&self) -> Option<Num> {
        match self {
            Val::Int(n) => Some(Num::Int(*n)),
            Val::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    fn len(&self) -> Option<usize> {
        match self {
            Val::Str(s) => Some(s.chars().count()),
            Val::Seq(items) => Some(items.len()),
            Val::List(items) => Some(items.len()),
            Val::Map(map) | Val::Keys(map) => Some(map.len()),
            _ => None,
        }
    }

    /// The items of a list, or the keys of a mapping: what `in` searches.
    fn items(&self) -> Option<Box<dyn Iterator<Item = Val<'a>> + '_>> {
        match self {
            Val::Seq(items) => {
                let items: &'a [Value] = items;
                Some(Box::new(items.iter().map(Val::from_yaml)))
            }
            Val::List(items) => Some(Box::new(items.iter().cloned())),
            Val::Map(map) | Val::Keys(map) => {
                let map: &'a Mapping = map;
                Some(Box::new(map.keys().map(Val::from_yaml)))
            }
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn compare_numbers(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Int(x), Num::Float(y)) => (x as f64).partial_cmp(&y),
        (Num::Float(x), Num::Int(y)) => x.partial_cmp(&(y as f64)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
    }
}

fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::None, Val::None) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(&Val::from_yaml(v), &Val::from_yaml(w))))
        }
        (Val::Keys(x), Val::Keys(y)) => x.len() == y.len() && x.keys().all(|k| y.contains_key(k)),
        (Val::Seq(_) | Val::List(_), Val::Seq(_) | Val::List(_)) => match (a.items(), b.items()) {
            (Some(xs), Some(ys)) => a.len() == b.len() && xs.zip(ys).all(|(x, y)| equal(&x, &y)),
            _ => false,
        },
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => compare_numbers(x, y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

fn ordering(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        _ => compare_numbers(a.number()?, b.number()?),
    }
}

fn contains(container: &Val<'_>, item: &Val<'_>, col: usize) -> Result<bool, EvalError> {
    if let Val::Str(haystack) = container {
        return match item {
            Val::Str(needle) => Ok(haystack.contains(needle.as_ref())),
            other => {
                Err(eval_error(col, format!("`in <string>` needs a string on the left, not a {}", other.type_name())))
            }
        };
    }
    match container.items() {
        Some(mut items) => Ok(items.any(|candidate| equal(&candidate, item))),
        None => Err(eval_error(
            col,
            format!("`in` needs a string, list or mapping on the right, not a {}", container.type_name()),
        )),
    }
}

fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>, col: usize) -> Result<bool, EvalError> {
    // A missing value must not match by accident, so `None` fails every test but `None == None`.
    let a_none = matches!(a, Val::None);
    let b_none = matches!(b, Val::None);
    if a_none || b_none {
        return Ok(op == CmpOp::Eq && a_none && b_none);
    }
    let ordered = |test: fn(Ordering) -> bool| ordering(a, b).is_some_and(test);
    Ok(match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        CmpOp::Lt => ordered(Ordering::is_lt),
        CmpOp::Le => ordered(Ordering::is_le),
        CmpOp::Gt => ordered(Ordering::is_gt),
        CmpOp::Ge => ordered(Ordering::is_ge),
        CmpOp::In => contains(b, a, col)?,
        CmpOp::NotIn => !contains(b, a, col)?,
    })
}

/// Resolves a non-negative or Python-style negative `index` against `len`; `None` when out of range.
fn position(len: usize, index: &Val<'_>, col: usize, what: &str) -> Result<Option<usize>, EvalError> {
    let Val::Int(n) = index else {
        return Err(eval_error(col, format!("{what} indices must be integers, not a {}", index.type_name())));
    };
    let len = len as i128;
    let n = if *n < 0 { n.checked_add(len) } else { Some(*n) };
    Ok(n.filter(|n| (0..len).contains(n)).and_then(|n| usize::try_from(n).ok()))
}

fn subscript<'a>(target: Val<'a>, index: Val<'a>, col: usize) -> Result<Val<'a>, EvalError> {
    match target {
        Val::None => Ok(Val::None),
        Val::Map(map) => {
            let found = match &index {
                Val::Str(key) => map.get(key.as_ref()),
                _ => map.iter().find(|(k, _)| equal(&Val::from_yaml(k), &index)).map(|(_, v)| v),
            };
            Ok(found.map_or(Val::None, Val::from_yaml))
        }
        Val::Seq(items) => {
            Ok(position(items.len(), &index, col, "list")?.and_then(|i| items.get(i)).map_or(Val::None, Val::from_yaml))
        }
        Val::List(mut items) => {
            Ok(position(items.len(), &index, col, "list")?.map_or(Val::None, |i| items.swap_remove(i)))
        }
        Val::Str(s) => {
            let found = position(s.chars().count(), &index, col, "string")?.and_then(|i| s.chars().nth(i));
            Ok(found.map_or(Val::None, |c| Val::Str(Cow::Owned(c.to_string()))))
        }
        Val::Keys(_) => Err(eval_error(col, "a `.keys()` result cannot be indexed; index the mapping instead")),
        other => Err(eval_error(col, format!("a {} cannot be indexed", other.type_name()))),
    }
}

fn step<'a>(target: Val<'a>, step: &'a Step, data: Option<&'a Value>) -> Result<Val<'a>, EvalError> {
    match step {
        Step::Attr(name, col) => match target {
            Val::None => Ok(Val::None),
            Val::Map(map) => Ok(map.get(name.as_str()).map_or(Val::None, Val::from_yaml)),
            other => Err(eval_error(*col, format!("`.{name}` needs a mapping, not a {}", other.type_name()))),
        },
        Step::Keys(col) => match target {
            Val::None => Ok(Val::None),
            Val::Map(map) => Ok(Val::Keys(map)),
            other => Err(eval_error(*col, format!("`.keys()` needs a mapping, not a {}", other.type_name()))),
        },
        Step::Index(index, col) => {
            let index = eval(index, data)?;
            subscript(target, index, *col)
        }
    }
}

fn eval<'a>(expr: &'a Expr, data: Option<&'a Value>) -> Result<Val<'a>, EvalError> {
    match expr {
        Expr::Lit(lit) => Ok(match lit {
            Lit::None => Val::None,
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Int(n) => Val::Int(*n),
            Lit::Float(f) => Val::Float(*f),
            Lit::Str(s) => Val::Str(Cow::Borrowed(s)),
        }),
        Expr::Data => Ok(data.map_or(Val::None, Val::from_yaml)),
        Expr::List(items) => items.iter().map(|item| eval(item, data)).collect::<Result<_, _>>().map(Val::List),
        Expr::Path(root, steps) => {
            let mut value = eval(root, data)?;
            for s in steps {
                value = step(value, s, data)?;
            }
            Ok(value)
        }
        Expr::Len(arg, col) => match eval(arg, data)? {
            Val::None => Ok(Val::None),
            value => match value.len() {
                Some(n) => Ok(Val::Int(n as i128)),
                None => {
                    Err(eval_error(*col, format!("len() needs a string, list or mapping, not a {}", value.type_name())))
                }
            },
        },
        Expr::Not(operand) => Ok(Val::Bool(!eval(operand, data)?.truthy())),
        Expr::Neg(operand, col) => match eval(operand, data)? {
            Val::None => Ok(Val::None),
            Val::Int(n) => Ok(n.checked_neg().map_or(Val::Float(-(n as f64)), Val::Int)),
            Val::Float(f) => Ok(Val::Float(-f)),
            other => Err(eval_error(*col, format!("unary `-` needs a number, not a {}", other.type_name()))),
        },
        Expr::And(items) | Expr::Or(items) => {
            // Python's `and` stops at the first false operand, `or` at the first true one, and
            // both yield the operand where they stopped (or the last one).
            let stop_when = matches!(expr, Expr::Or(_));
            let mut last = Val::None;
            for item in items {
                last = eval(item, data)?;
                if last.truthy() == stop_when {
                    break;
                }
            }
            Ok(last)
        }
        Expr::Compare { lhs, op, rhs, col } => {
            let a = eval(lhs, data)?;
            let b = eval(rhs, data)?;
            compare(*op, &a, &b, *col).map(Val::Bool)
        }
        Expr::Is { lhs, negated, target } => {
            let value = eval(lhs, data)?;
            let same = match target {
                Singleton::None => matches!(value, Val::None),
                Singleton::True => matches!(value, Val::Bool(true)),
                Singleton::False => matches!(value, Val::Bool(false)),
            };
            Ok(Val::Bool(same != *negated))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATED: &str = r#"
data:
  name: Source X
  connectorType: source
  dockerRepository: airbyte/source-x
  dockerImageTag: 1.2.3
  supportLevel: certified
  nullable: null
  empty_list: []
  empty_map: {}
  connectorBuildOptions:
    baseImage: docker.io/airbyte/python-connector-base:1.1.0@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c
  ab_internal:
    sl: 300
    ql: 400
    ratio: 0.75
    big: 18446744073709551615
  tags:
    - language:python
    - cdk:low-code
  releases:
    breakingChanges:
      2.0.0:
        message: renamed streams
  flags:
    enabled: true
    disabled: false
  numbered:
    1: one
"#;

    const NOT_MIGRATED: &str = r#"
data:
  name: Source Y
  dockerRepository: airbyte/source-y
  dockerImageTag: 0.1.0
  supportLevel: certified
  ab_internal:
    sl: 100
    ql: 200
  tags:
    - language:java
"#;

    const COMMUNITY: &str = r#"
data:
  dockerRepository: airbyte/source-z
  supportLevel: community
  connectorBuildOptions: {}
  tags: []
"#;

    const SEED_MIGRATED: &str = "data.connectorBuildOptions.baseImage is not None";
    const SEED_NOT_MIGRATED: &str = "data.supportLevel == 'certified' and 'connectorBuildOptions' not in data.keys()";

    fn data(yaml: &str) -> Value {
        let doc: Value = serde_yaml::from_str(yaml).expect("test YAML parses");
        doc.get("data").cloned().expect("test YAML has data")
    }

    fn run(query: &str, yaml: &str) -> Result<bool, EvalError> {
        let query = Query::parse(query).unwrap_or_else(|e| panic!("{query:?} should parse: {e}"));
        query.matches(Some(&data(yaml)))
    }

    /// Evaluates against the migrated connector, panicking on evaluation errors.
    fn m(query: &str) -> bool {
        run(query, MIGRATED).unwrap_or_else(|e| panic!("{query:?} should evaluate: {e}"))
    }

    fn eval_err(query: &str) -> String {
        match run(query, MIGRATED) {
            Err(e) => e.message,
            Ok(v) => panic!("{query:?} should fail to evaluate, got {v}"),
        }
    }

    fn syntax(query: &str) -> (usize, String) {
        match Query::parse(query) {
            Err(e) => (e.column, e.message),
            Ok(_) => panic!("{query:?} should not parse"),
        }
    }

    #[test]
    fn seed_migrated_query() {
        assert_eq!(run(SEED_MIGRATED, MIGRATED), Ok(true));
        assert_eq!(run(SEED_MIGRATED, NOT_MIGRATED), Ok(false));
        // connectorBuildOptions present but without baseImage.
        assert_eq!(run(SEED_MIGRATED, COMMUNITY), Ok(false));
        assert_eq!(Query::parse(SEED_MIGRATED).unwrap().matches(None), Ok(false));
    }

    #[test]
    fn seed_not_migrated_query() {
        assert_eq!(run(SEED_NOT_MIGRATED, NOT_MIGRATED), Ok(true));
        assert_eq!(run(SEED_NOT_MIGRATED, MIGRATED), Ok(false));
        assert_eq!(run(SEED_NOT_MIGRATED, COMMUNITY), Ok(false));
        assert_eq!(Query::parse(SEED_NOT_MIGRATED).unwrap().matches(None), Ok(false));
    }

    #[test]
    fn text_display_and_from_str() {
        let q: Query = SEED_NOT_MIGRATED.parse().unwrap();
        assert_eq!(q.text(), SEED_NOT_MIGRATED);
        assert_eq!(q.to_string(), SEED_NOT_MIGRATED);
    }

    #[test]
    fn equality_operators() {
        assert!(m("data.supportLevel == 'certified'"));
        assert!(!m("data.supportLevel == 'community'"));
        assert!(m("data.supportLevel != 'community'"));
        assert!(!m("data.supportLevel != 'certified'"));
        assert!(m("data['dockerRepository'] == \"airbyte/source-x\""));
        assert!(!m("data['dockerRepository'] == \"airbyte/source-y\""));
        assert!(m("data.tags == ['language:python', 'cdk:low-code']"));
        assert!(!m("data.tags == ['language:python']"));
        assert!(m("data.flags == data['flags']"));
        assert!(!m("data.flags == data.ab_internal"));
        assert!(m("data.empty_map == data.empty_map"));
        // Mixed types are unequal, not an error.
        assert!(!m("data.ab_internal.ql == '400'"));
        assert!(m("data.ab_internal.ql != '400'"));
        assert!(!m("data.flags.enabled == 1"));
    }

    #[test]
    fn ordering_operators() {
        assert!(m("data.ab_internal.ql > 200"));
        assert!(!run("data.ab_internal.ql > 200", NOT_MIGRATED).unwrap());
        assert!(m("data.ab_internal.ql >= 400"));
        assert!(!m("data.ab_internal.ql >= 401"));
        assert!(m("data.ab_internal.sl < 301"));
        assert!(!m("data.ab_internal.sl < 300"));
        assert!(m("data.ab_internal.sl <= 300"));
        assert!(!m("data.ab_internal.sl <= 299"));
        assert!(m("data.ab_internal.ratio < 1"));
        assert!(m("data.ab_internal.ratio > 0.5"));
        assert!(!m("data.ab_internal.ratio > 0.8"));
        assert!(m("data.ab_internal.big > 18446744073709551614"));
        assert!(m("data.dockerImageTag > '1.10'"), "strings compare lexically");
        assert!(!m("data.dockerImageTag < '1.10'"));
        assert!(m("'b' > 'a' and 'B' < 'a'"));
        // Mixed types and unordered types compare false both ways.
        assert!(!m("data.ab_internal.ql > 'a'") && !m("data.ab_internal.ql < 'a'"));
        assert!(!m("data.tags > data.empty_list") && !m("data.tags < data.empty_list"));
        assert!(!m("True > False"));
    }

    #[test]
    fn numbers() {
        assert!(m("1 == 1.0"));
        assert!(m("data.ab_internal.ql == 400.0"));
        assert!(m("-1 < 0 and -data.ab_internal.ql == -400"));
        assert!(m("- -3 == 3"));
        assert!(m("2e3 == 2000 and 2E+3 == 2000 and 25e-1 == 2.5"));
        assert!(m("data.ab_internal.ql > 200 and data.ab_internal.sl >= 300"));
        assert!(m("170141183460469231731687303715884105727 > 0"));
        assert!(m("data.numbered[1] == 'one'"));
        assert!(m("1e999 > 10"));
    }

    #[test]
    fn membership_operators() {
        assert!(m("'language:python' in data.tags"));
        assert!(!m("'language:java' in data.tags"));
        assert!(m("'language:java' not in data.tags"));
        assert!(!m("'language:python' not in data.tags"));
        assert!(m("'python-connector-base' in data.connectorBuildOptions.baseImage"));
        assert!(!m("'java-connector-base' in data.connectorBuildOptions.baseImage"));
        assert!(m("'ql' in data.ab_internal"));
        assert!(!m("'xl' in data.ab_internal"));
        assert!(m("'supportLevel' in data.keys()"));
        assert!(!m("'supportlevel' in data.keys()"));
        assert!(m("data.supportLevel in ['certified', 'community']"));
        assert!(!m("data.supportLevel in ('archived', 'community')"));
        assert!(m("data.supportLevel in ('certified',)"));
        assert!(!m("data.supportLevel in ()"));
        assert!(m("1 in data.numbered"));
        assert!(!m("'' not in 'abc'"));
    }

    #[test]
    fn is_operators() {
        assert!(m("data.nullable is None"));
        assert!(!m("data.nullable is not None"));
        assert!(m("data.name is not None"));
        assert!(!m("data.name is None"));
        assert!(m("data.flags.enabled is True and data.flags.disabled is False"));
        assert!(!m("data.flags.enabled is False"));
        assert!(m("data.flags.enabled is not False"));
        assert!(!m("data.ab_internal.ql is True"), "is True wants a bool, not a truthy value");
    }

    #[test]
    fn boolean_operators() {
        assert!(m("data.supportLevel == 'certified' and data.connectorType == 'source'"));
        assert!(!m("data.supportLevel == 'certified' and data.connectorType == 'destination'"));
        assert!(m("data.supportLevel == 'community' or data.connectorType == 'source'"));
        assert!(!m("data.supportLevel == 'community' or data.connectorType == 'destination'"));
        assert!(m("not data.supportLevel == 'community'"));
        assert!(!m("not data.supportLevel == 'certified'"));
        assert!(m("not not data.name"));
        // and / or yield operands, as in Python.
        assert!(m("(data.missing or 'fallback') == 'fallback'"));
        assert!(m("(data.name and data.dockerRepository) == 'airbyte/source-x'"));
        assert!(m("(data.empty_list and 1) == data.empty_list"));
        assert!(m("data.a or data.b or data.c or data.name"));
        assert!(!m("data.name and data.tags and data.empty_list and data.name"));
    }

    #[test]
    fn precedence_and_parentheses() {
        // `or` binds looser than `and`.
        assert!(m("True or True and False"));
        assert!(!m("(True or True) and False"));
        // `not` binds looser than comparisons but tighter than `and`.
        assert!(m("not data.supportLevel == 'community' and True"));
        assert!(!m("not (data.supportLevel == 'certified' and True)"));
        assert!(m("not False and not False"));
        assert!(!m("not (True or False)"));
        // `in` is a comparison: `not 'x' in y` is `not ('x' in y)`.
        assert!(m("not 'language:java' in data.tags"));
        // Subscript and attribute bind tightest, and `-` binds tighter than comparisons.
        assert!(m("-data.ab_internal.ql < -data.ab_internal.sl"));
        assert!(m("((data.name)) == ('Source X')"));
        assert!(m("(data).tags[0] == 'language:python'"));
    }

    #[test]
    fn missing_keys_and_none() {
        assert!(m("data.nope is None"));
        assert!(m("data.nope.deeper.still is None"));
        assert!(m("data['nope'][0]['x'] is None"));
        assert!(m("data.tags[5] is None"));
        assert!(!m("data.nope is not None"));
        assert!(!m("data.nope == 'x'"));
        assert!(!m("data.nope != 'x'"));
        assert!(!m("data.nope < 1") && !m("data.nope >= 1"));
        assert!(!m("'x' in data.nope") && !m("'x' not in data.nope"));
        assert!(!m("data.nope in data.tags") && !m("data.nope not in data.tags"));
        assert!(!m("len(data.nope) > 0") && !m("len(data.nope) == 0"));
        assert!(m("len(data.nope) is None"));
        assert!(m("data.nope.keys() is None"));
        assert!(m("-data.nope is None"));
        assert!(m("data.nope == None") && m("None == None"));
        assert!(!m("None != None"));
        assert!(!m("data.nope"));
        assert!(m("not data.nope"));
        // Broken metadata: data itself is None.
        let q = |text: &str| Query::parse(text).unwrap().matches(None);
        assert_eq!(q("data is None"), Ok(true));
        assert_eq!(q("data.x is None"), Ok(true));
        assert_eq!(q("data.x is not None"), Ok(false));
        assert_eq!(q("'x' in data.keys()"), Ok(false));
        assert_eq!(q("data"), Ok(false));
        assert_eq!(Query::parse("data is None").unwrap().matches(Some(&Value::Null)), Ok(true));
    }

    #[test]
    fn len_and_truthiness() {
        assert!(m("len(data.tags) >= 2"));
        assert!(!run("len(data.tags) >= 2", NOT_MIGRATED).unwrap());
        assert!(m("len(data.name) == 8"));
        assert!(m("len('é🦀') == 2"), "len counts characters");
        assert!(m("len(data.ab_internal) == 4"));
        assert!(m("len(data.keys()) > 10"));
        assert!(m("len([1, 2, 3]) == 3"));
        assert!(m("data.tags") && !m("data.empty_list"));
        assert!(m("data.ab_internal") && !m("data.empty_map"));
        assert!(m("data.name") && !m("''"));
        assert!(m("1") && !m("0") && !m("0.0") && m("0.5"));
        assert!(!m("None") && !m("False") && m("True"));
        assert!(!m("[]") && m("[0]"));
    }

    #[test]
    fn indexing() {
        assert!(m("data.tags[0] == 'language:python'"));
        assert!(m("data.tags[-1] == 'cdk:low-code'"));
        assert!(m("data.tags[-3] is None"));
        assert!(m("data.name[0] == 'S' and data.name[-1] == 'X'"));
        assert!(m("data[\"ab_internal\"]['ql'] == 400"));
        assert!(m("data.releases.breakingChanges['2.0.0'].message == 'renamed streams'"));
        assert!(m("['a', 'b'][1] == 'b'"));
        assert!(m("data.ab_internal[data.tags[5]] is None"));
        // Keys named like keywords are still reachable as attributes.
        assert!(m("data.in is None and data.not is None"));
    }

    #[test]
    fn string_escapes() {
        assert!(m(r#"'it\'s' == "it's""#));
        assert!(m(r#""say \"hi\"" == 'say "hi"'"#));
        assert!(m(r"'\x41\u00e9\U0001F980' == 'Aé🦀'"));
        assert!(m(r"len('a\nb\tc\\') == 6"));
        assert!(m(r"'\101' == 'A' and '\0' != ''"));
        assert!(m(r"len('\d') == 2"), "unknown escapes keep their backslash");
        assert!(m("'a\\\nb' == 'ab'"), "backslash-newline continues the string");
        assert!(m("'' == \"\""));
    }

    #[test]
    fn type_errors() {
        assert_eq!(eval_err("len(5)"), "column 1: len() needs a string, list or mapping, not a number");
        assert_eq!(eval_err("len(True)"), "column 1: len() needs a string, list or mapping, not a bool");
        assert_eq!(eval_err("data.name.keys()"), "column 11: `.keys()` needs a mapping, not a string");
        assert_eq!(eval_err("data.tags.first"), "column 11: `.first` needs a mapping, not a list");
        assert_eq!(eval_err("'a' in 5"), "column 5: `in` needs a string, list or mapping on the right, not a number");
        assert_eq!(eval_err("1 in 'abc'"), "column 3: `in <string>` needs a string on the left, not a number");
        assert_eq!(eval_err("data.tags['x']"), "column 10: list indices must be integers, not a string");
        assert_eq!(eval_err("data.tags[0.5]"), "column 10: list indices must be integers, not a number");
        assert_eq!(eval_err("data.ab_internal.ql[0]"), "column 20: a number cannot be indexed");
        assert!(eval_err("data.keys()[0]").contains("cannot be indexed"));
        assert_eq!(eval_err("-'a'"), "column 1: unary `-` needs a number, not a string");
        // Errors propagate through operators...
        assert!(run("not len(5)", MIGRATED).is_err());
        assert!(run("data.name == 'x' or len(5) > 1", MIGRATED).is_err());
        // ...unless short-circuiting skips them, as in Python.
        assert_eq!(run("data.name is None and len(5) > 1", MIGRATED), Ok(false));
        assert_eq!(run("data.name is not None or len(5) > 1", MIGRATED), Ok(true));
        let e = run("len(5)", MIGRATED).unwrap_err();
        assert_eq!(e.to_string(), e.message);
    }

    #[test]
    fn syntax_errors_with_columns() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty query"),
            ("   ", 1, "empty query"),
            ("data.name == 'abc", 14, "unterminated string: no closing '"),
            ("data.name == \"abc'", 14, "unterminated string: no closing \""),
            ("'abc\\'", 1, "unterminated string: no closing '"),
            ("'ab\ncd'", 1, "unterminated string: no closing '"),
            ("data.supportLevel = 'certified'", 19, "`=` assigns in Python; use `==` to compare"),
            ("data.name is None foo", 19, "unexpected `foo` after a complete expression (missing `and` or `or`?)"),
            ("data.name)", 10, "unmatched `)`"),
            ("data.tags]", 10, "unmatched `]`"),
            ("(data.name", 11, "expected `)` to close `(` at column 1, found the end of the query"),
            ("data.tags[0", 12, "expected `]` to close `[` at column 10, found the end of the query"),
            ("data.name ==", 13, "expected a value, found the end of the query"),
            ("data.name == )", 14, "expected a value, found `)`"),
            ("and data.name", 1, "expected a value, found `and`"),
            ("foo.bar", 1, "unknown name `foo`; a query reads only `data` (for example `data.foo`)"),
            ("data.x == true", 11, "unknown name `true`; did you mean `True`?"),
            ("data.x == null", 11, "unknown name `null`; did you mean `None`?"),
            ("data.a < data.b < data.c", 17, "comparisons cannot be chained (`a < b < c`); write `a < b and b < c`"),
            ("data.a == 1 is None", 13, "comparisons cannot be chained (`a < b < c`); write `a < b and b < c`"),
            (
                "data.a is 'x'",
                11,
                "`is` compares only with None, True or False, found `'x'`; use `==` to compare values",
            ),
            ("data.a == not data.b", 11, "`not` cannot appear here without parentheses: write `(not ...)`"),
            ("data.a not None", 8, "`not` after a value must start `not in`; to test for None write `is not None`"),
            ("!data.a", 1, "`!` is not an operator; use `not` (or `!=` to compare)"),
            ("data.a && data.b", 8, "`&` is not supported; use `and`"),
            ("data.a || data.b", 8, "`|` is not supported; use `or`"),
            ("data.a + 1", 8, "`+`: arithmetic is not supported"),
            ("data.a @ 1", 8, "unexpected character `@`"),
            ("data.values()", 6, "unknown method `.values()`; only `.keys()` is supported"),
            ("data.keys(1)", 11, "`.keys()` takes no arguments"),
            ("data(1)", 5, "only `len(...)` and `.keys()` can be called"),
            ("len()", 5, "len() takes exactly one argument"),
            ("len(data, data)", 9, "len() takes exactly one argument"),
            ("len", 1, "`len` must be called: `len(...)`"),
            ("keys()", 1, "`keys` is a method: write `data.keys()`"),
            ("data.0", 6, "expected a key name after `.`, found a number; index lists with `[0]`"),
            ("data.'x'", 6, "expected a key name after `.`, found `'x'`"),
            ("data.x > 1abc", 10, "invalid number `1abc`"),
            ("data.x > 12e", 10, "invalid number `12e`"),
            (
                "1000000000000000000000000000000000000000000",
                1,
                "integer `1000000000000000000000000000000000000000000` is too large",
            ),
            (r"'\x4'", 2, "`\\x` needs exactly 2 hexadecimal digits"),
            (r"'ab\uD800'", 4, "`\\uD800` is not a valid character"),
            (r"'\N{DASH}'", 2, "`\\N{...}` escapes are not supported"),
            ("é == 'é' and foo", 1, "unknown name `é`; a query reads only `data` (for example `data.é`)"),
            ("'é🦀' == x", 9, "unknown name `x`; a query reads only `data` (for example `data.x`)"),
            ("[1, 2", 6, "expected `]` to close `[` at column 1, found the end of the query"),
            ("[1 2]", 4, "expected `]` to close `[` at column 1, found `2`"),
            ("[,]", 2, "expected a value, found `,`"),
        ];
        for (query, column, message) in cases {
            let (got_column, got_message) = syntax(query);
            assert_eq!((got_column, got_message.as_str()), (*column, *message), "query {query:?}");
        }
        let e = Query::parse("data.x = 1").unwrap_err();
        assert_eq!(e.to_string(), "column 8: `=` assigns in Python; use `==` to compare");
    }

    #[test]
    fn nesting_is_capped_without_overflowing_the_stack() {
        let ok = format!("{}data.name{}", "(".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
        assert!(m(&ok));
        let deep = format!("{}data.name{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(syntax(&deep), (MAX_DEPTH, format!("expression nested more than {MAX_DEPTH} levels deep")));
        for huge in [
            "(".repeat(100_000),
            "[".repeat(100_000),
            "not ".repeat(100_000),
            "-".repeat(100_000),
            format!("len({}", "data[".repeat(50_000)),
        ] {
            assert!(Query::parse(&huge).is_err());
        }
        // Long chains are flat: no depth limit, no deep recursion.
        let path = format!("data{} is None", ".a".repeat(100_000));
        assert!(m(&path));
        let conjunction = vec!["data.name"; 100_000].join(" and ");
        assert!(m(&conjunction));
        let disjunction = vec!["data.nope"; 100_000].join(" or ");
        assert!(!m(&disjunction));
    }

    /// xorshift64: deterministic, dependency-free randomness for the fuzz loop.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A random expression that mostly follows the grammar, so that the evaluator sees many
    /// well-formed queries; mutations later break some of them again.
    fn generate(rng: &mut Rng, depth: usize) -> String {
        const LEAVES: &[&str] = &[
            "data",
            "data.name",
            "data.tags",
            "data.tags[0]",
            "data.tags[-1]",
            "data['ab_internal']",
            "data.ab_internal.ql",
            "data.nope",
            "data.nope.deeper",
            "data.keys()",
            "data.flags.enabled",
            "data.numbered[1]",
            "data.empty_map",
            "'certified'",
            "\"x\"",
            "''",
            "'language:python'",
            "0",
            "1",
            "200",
            "0.5",
            "1e3",
            "None",
            "True",
            "False",
            "[]",
            "['a', 1]",
            "()",
            "data[0]",
            "data.name[0]",
        ];
        const BINARY: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or"];
        if depth == 0 {
            return LEAVES[rng.below(LEAVES.len())].to_owned();
        }
        let sub = depth - 1;
        match rng.below(9) {
            0 => format!("not {}", generate(rng, sub)),
            1 => format!("({})", generate(rng, sub)),
            2 => format!("len({})", generate(rng, sub)),
            3 => format!("-{}", generate(rng, sub)),
            4 => format!("{} is {}None", generate(rng, sub), if rng.below(2) == 0 { "not " } else { "" }),
            5 => format!("{}[{}]", generate(rng, sub), generate(rng, sub)),
            6 => format!("{}.keys()", generate(rng, sub)),
            _ => {
                let op = BINARY[rng.below(BINARY.len())];
                format!("{} {op} {}", generate(rng, sub), generate(rng, sub))
            }
        }
    }

    #[test]
    fn fuzz_token_soup_never_panics() {
        const PIECES: &[&str] = &[
            "data",
            "data.",
            ".",
            "[",
            "]",
            "(",
            ")",
            ",",
            "'",
            "\"",
            "\\",
            "==",
            "=",
            "!=",
            "!",
            "<",
            "<=",
            ">",
            ">=",
            "-",
            "in",
            "not",
            "is",
            "None",
            "True",
            "False",
            "and",
            "or",
            "len",
            "len(",
            "keys",
            ".keys()",
            "()",
            "0",
            "1",
            "-1",
            "1.5",
            "2e3",
            "1e",
            "1e999",
            "99999999999999999999999999999999999999999",
            "'x'",
            "\"y\\\"\"",
            "'\\x4'",
            "'\\u00e9'",
            "'\\U0010FFFF'",
            "'\\U00110000'",
            "'\\777'",
            "'\\N{A}'",
            "'\\",
            "tags",
            "name",
            "ab_internal",
            "ql",
            "supportLevel",
            "[0]",
            "[-1]",
            "['tags']",
            " ",
            "  ",
            "\n",
            "\t",
            "é",
            "🦀",
            "\u{0}",
            "#",
            "$",
            "&",
            "|",
            "@",
            "+",
            ":",
            "true",
            "null",
            "foo",
            "_",
            "in data.tags",
            "'language:python'",
            "not in",
            "is not",
            "data.connectorBuildOptions.baseImage",
        ];
        let values: Vec<Option<Value>> = vec![
            Some(data(MIGRATED)),
            Some(data(NOT_MIGRATED)),
            Some(data(COMMUNITY)),
            None,
            Some(Value::Null),
            Some(serde_yaml::from_str("[1, 'a', {b: !tag [c]}, .nan, -.inf]").unwrap()),
            Some(serde_yaml::from_str("'just a string'").unwrap()),
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut parsed, mut errors) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::new();
            if rng.below(2) == 0 {
                let depth = rng.below(5);
                text = generate(&mut rng, depth);
            } else {
                for _ in 0..rng.below(24) {
                    text.push_str(PIECES[rng.below(PIECES.len())]);
                    if rng.below(3) == 0 {
                        text.push(' ');
                    }
                }
            }
            // Occasionally splice a piece in at a random character.
            if rng.below(4) == 0 {
                let at = rng.below(text.chars().count() + 1);
                let piece = PIECES[rng.below(PIECES.len())];
                text = text.chars().take(at).chain(piece.chars()).chain(text.chars().skip(at)).collect();
            }
            // Occasionally cut the soup at a random character, to exercise truncated input.
            if rng.below(4) == 0 {
                let cut = rng.below(text.chars().count() + 1);
                text = text.chars().take(cut).collect();
            }
            match Query::parse(&text) {
                Ok(query) => {
                    parsed += 1;
                    for value in &values {
                        if query.matches(value.as_ref()).is_err() {
                            errors += 1;
                        }
                    }
                }
                Err(e) => {
                    assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{text:?}: {e}");
                    assert!(!e.message.is_empty());
                }
            }
        }
        // The soup must reach the evaluator often enough for the loop to mean something.
        assert!(parsed > 4_000, "only {parsed} of 20000 inputs parsed");
        assert!(errors > 1_000, "only {errors} evaluation errors");
    }
}
