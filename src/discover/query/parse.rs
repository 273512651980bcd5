//! Tokens in, a syntax tree out: Python's expression grammar (conditional expressions, `or`,
//! `and`, `not`, chained comparisons, `|`, `^`, `&`, shifts, arithmetic, unary operators, `**`,
//! attributes, calls, subscripts and slices, literals, f-strings), and simple statements
//! (`;`- or newline-separated; assignments keep only their value, as simpleeval does).
//!
//! Syntax simpleeval parses but refuses to evaluate (tuple, list, dict and set displays,
//! comprehensions, `lambda`, starred arguments, `:=`, `await`) becomes [`Expr::Refused`], which
//! raises `FeatureNotAvailable` when evaluated, so the answer stays simpleeval's.

use super::QueryParseError;
use super::lex::{FPiece, Tok, Token, error, is_keyword, tokenize};

/// How deep the syntax may nest; bounds the recursion of the parser and the evaluator.
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Const(Const, usize),
    Name(String, usize),
    Attr(Box<Expr>, String, usize),
    /// Function, positional arguments, keyword arguments.
    Call(Box<Expr>, Vec<Expr>, Vec<(String, Expr)>, usize),
    Subscript(Box<Expr>, Box<Expr>, usize),
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>, usize),
    Unary(UnaryOp, Box<Expr>, usize),
    Binary(BinOp, Box<Expr>, Box<Expr>, usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `a < b < c`: the first operand, then each operator with its right operand.
    Compare(Box<Expr>, Vec<(CmpOp, Expr, usize)>),
    IfElse {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
    },
    FString(Vec<FPart>, usize),
    /// Parsed but refused by simpleeval: the AST node name, for the error.
    Refused(&'static str, usize),
}

#[derive(Debug, Clone)]
pub(super) enum FPart {
    Text(String),
    Field(Expr, Option<Vec<FPart>>),
}

#[derive(Debug, Clone)]
pub(super) enum Const {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    /// Constants dockvar has no type for: bytes, imaginary numbers, `...`.
    Other(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnaryOp {
    Not,
    Neg,
    Pos,
    Invert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
    MatMul,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

impl BinOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "** or pow()",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::MatMul => "@",
        }
    }
}

/// Parses a whole query: its first statement is what gets evaluated; the others must still be
/// valid, since Python parses them all.
pub(super) fn parse_query(text: &str) -> Result<Expr, QueryParseError> {
    // simpleeval strips the text before parsing; columns still count from the original start.
    let leading = text.chars().take_while(|c| c.is_whitespace()).count();
    let stripped = text.trim();
    if stripped.is_empty() {
        return Err(error(1, "empty query"));
    }
    let tokens = tokenize(stripped, leading)?;
    let eof = Token { tok: Tok::Eof, col: leading + stripped.chars().count() + 1, text: String::new() };
    let mut parser = Parser { tokens, eof, pos: 0, depth: 0 };
    let first = parser.statement()?;
    while parser.peek().tok == Tok::StatementEnd {
        parser.bump();
        if parser.peek().tok == Tok::Eof {
            break;
        }
        parser.statement()?;
    }
    let next = parser.peek();
    if next.tok != Tok::Eof {
        return Err(error(next.col, format!("unexpected {} after a complete expression", describe(next))));
    }
    Ok(first)
}

fn describe(token: &Token) -> String {
    if token.tok == Tok::Eof { "the end of the query".to_owned() } else { format!("`{}`", token.text) }
}

struct Parser {
    tokens: Vec<Token>,
    eof: Token,
    pos: usize,
    depth: usize,
}

const AUGMENTED: &[&str] = &["+=", "-=", "*=", "/=", "//=", "%=", "**=", "<<=", ">>=", "&=", "|=", "^=", "@="];

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&self.eof)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.pos + ahead).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek().tok, Tok::Op(o) if o == op)
    }

    fn is_kw(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Name(w) if w == word)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str, what: &str) -> Result<Token, QueryParseError> {
        if self.is_op(op) {
            return Ok(self.bump());
        }
        let next = self.peek();
        Err(error(next.col, format!("expected `{op}` {what}, found {}", describe(next))))
    }

    fn nest(&mut self) -> Result<(), QueryParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(self.peek().col, format!("the query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// An expression statement, or an assignment whose value is what simpleeval evaluates.
    fn statement(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_kw("import") || self.is_kw("from") {
            let col = self.peek().col;
            while !matches!(self.peek().tok, Tok::StatementEnd | Tok::Eof) {
                self.bump();
            }
            return Ok(Expr::Refused("Import", col));
        }
        let mut value = self.star_expressions()?;
        if self.is_op("=") {
            while self.is_op("=") {
                check_target(&value)?;
                self.bump();
                value = self.star_expressions()?;
            }
        } else if let Tok::Op(op) = self.peek().tok
            && AUGMENTED.contains(&op)
        {
            check_target(&value)?;
            self.bump();
            value = self.star_expressions()?;
        } else if self.is_op(":") {
            let col = self.peek().col;
            check_target(&value)?;
            self.bump();
            self.expression()?;
            if self.eat_op("=") {
                self.star_expressions()?;
            }
            value = Expr::Refused("AnnAssign", col);
        }
        Ok(value)
    }

    /// `a, b` at the top is a tuple.
    fn star_expressions(&mut self) -> Result<Expr, QueryParseError> {
        let col = self.peek().col;
        let first = self.expression_or_star()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        while self.eat_op(",") {
            if self.at_expression_end() {
                break;
            }
            self.expression_or_star()?;
        }
        Ok(Expr::Refused("Tuple", col))
    }

    fn at_expression_end(&self) -> bool {
        matches!(self.peek().tok, Tok::StatementEnd | Tok::Eof)
            || matches!(self.peek().tok, Tok::Op(op) if matches!(op, ")" | "]" | "}" | "=" | ":"))
    }

    fn expression_or_star(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_op("*") {
            let col = self.bump().col;
            self.bitwise_or()?;
            return Ok(Expr::Refused("Starred", col));
        }
        self.expression()
    }

    /// `named_expression`: `NAME := expr` or an expression.
    fn named_expression(&mut self) -> Result<Expr, QueryParseError> {
        if matches!(self.peek().tok, Tok::Name(ref n) if !is_keyword(n)) && self.peek_at(1).tok == Tok::Op(":=") {
            let col = self.bump().col;
            self.bump();
            self.expression()?;
            return Ok(Expr::Refused("NamedExpr", col));
        }
        self.expression()
    }

    fn expression(&mut self) -> Result<Expr, QueryParseError> {
        self.nest()?;
        let result = self.expression_inner();
        self.depth -= 1;
        result
    }

    fn expression_inner(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_kw("lambda") {
            let col = self.bump().col;
            while !self.is_op(":") {
                if matches!(self.peek().tok, Tok::Eof | Tok::StatementEnd) {
                    return Err(error(self.peek().col, "expected `:` in lambda"));
                }
                self.bump();
            }
            self.bump();
            self.expression()?;
            return Ok(Expr::Refused("Lambda", col));
        }
        let body = self.disjunction()?;
        if !self.is_kw("if") {
            return Ok(body);
        }
        self.bump();
        let test = self.disjunction()?;
        if !self.is_kw("else") {
            let next = self.peek();
            return Err(error(next.col, format!("expected `else` after `if` expression, found {}", describe(next))));
        }
        self.bump();
        let orelse = self.expression()?;
        Ok(Expr::IfElse { test: Box::new(test), body: Box::new(body), orelse: Box::new(orelse) })
    }

    fn disjunction(&mut self) -> Result<Expr, QueryParseError> {
        let first = self.conjunction()?;
        if !self.is_kw("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_kw("or") {
            self.bump();
            items.push(self.conjunction()?);
        }
        Ok(Expr::Or(items))
    }

    fn conjunction(&mut self) -> Result<Expr, QueryParseError> {
        let first = self.inversion()?;
        if !self.is_kw("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_kw("and") {
            self.bump();
            items.push(self.inversion()?);
        }
        Ok(Expr::And(items))
    }

    fn inversion(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_kw("not") {
            let col = self.bump().col;
            self.nest()?;
            let operand = self.inversion();
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(operand?), col));
        }
        self.comparison()
    }

    fn compare_op(&self) -> Option<(CmpOp, usize)> {
        let t = &self.peek().tok;
        let op = match t {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Name(w) if w == "in" => CmpOp::In,
            Tok::Name(w) if w == "not" && matches!(&self.peek_at(1).tok, Tok::Name(n) if n == "in") => {
                return Some((CmpOp::NotIn, 2));
            }
            Tok::Name(w) if w == "is" => {
                return if matches!(&self.peek_at(1).tok, Tok::Name(n) if n == "not") {
                    Some((CmpOp::IsNot, 2))
                } else {
                    Some((CmpOp::Is, 1))
                };
            }
            _ => return None,
        };
        Some((op, 1))
    }

    fn comparison(&mut self) -> Result<Expr, QueryParseError> {
        let first = self.bitwise_or()?;
        let mut rest = Vec::new();
        while let Some((op, n)) = self.compare_op() {
            let col = self.peek().col;
            for _ in 0..n {
                self.bump();
            }
            rest.push((op, self.bitwise_or()?, col));
        }
        if rest.is_empty() { Ok(first) } else { Ok(Expr::Compare(Box::new(first), rest)) }
    }

    /// One left-associative level of binary operators.
    fn binary_level(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Parser) -> Result<Expr, QueryParseError>,
    ) -> Result<Expr, QueryParseError> {
        let mut left = next(self)?;
        loop {
            let Some(&(_, op)) = ops.iter().find(|(s, _)| self.is_op(s)) else { return Ok(left) };
            let col = self.bump().col;
            let right = next(self)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right), col);
        }
    }

    fn bitwise_or(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(&[("|", BinOp::BitOr)], Parser::bitwise_xor)
    }

    fn bitwise_xor(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(&[("^", BinOp::BitXor)], Parser::bitwise_and)
    }

    fn bitwise_and(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(&[("&", BinOp::BitAnd)], Parser::shift)
    }

    fn shift(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(&[("<<", BinOp::LShift), (">>", BinOp::RShift)], Parser::sum)
    }

    fn sum(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(&[("+", BinOp::Add), ("-", BinOp::Sub)], Parser::term)
    }

    fn term(&mut self) -> Result<Expr, QueryParseError> {
        self.binary_level(
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("//", BinOp::FloorDiv), ("%", BinOp::Mod), ("@", BinOp::MatMul)],
            Parser::factor,
        )
    }

    fn factor(&mut self) -> Result<Expr, QueryParseError> {
        let op = match self.peek().tok {
            Tok::Op("-") => UnaryOp::Neg,
            Tok::Op("+") => UnaryOp::Pos,
            Tok::Op("~") => UnaryOp::Invert,
            _ => return self.power(),
        };
        let col = self.bump().col;
        self.nest()?;
        let operand = self.factor();
        self.depth -= 1;
        Ok(Expr::Unary(op, Box::new(operand?), col))
    }

    fn power(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_kw("await") {
            let col = self.bump().col;
            self.primary()?;
            return Ok(Expr::Refused("Await", col));
        }
        let base = self.primary()?;
        if !self.is_op("**") {
            return Ok(base);
        }
        let col = self.bump().col;
        self.nest()?;
        let exponent = self.factor();
        self.depth -= 1;
        Ok(Expr::Binary(BinOp::Pow, Box::new(base), Box::new(exponent?), col))
    }

    fn primary(&mut self) -> Result<Expr, QueryParseError> {
        let mut expr = self.atom()?;
        loop {
            if self.is_op(".") {
                self.bump();
                let name = self.bump();
                match name.tok {
                    Tok::Name(n) if !is_keyword(&n) => expr = Expr::Attr(Box::new(expr), n, name.col),
                    _ => {
                        return Err(error(
                            name.col,
                            format!("expected an attribute name after `.`, found {}", describe(&name)),
                        ));
                    }
                }
            } else if self.is_op("(") {
                let open = self.bump();
                self.nest()?;
                let call = self.call_args(expr, open.col);
                self.depth -= 1;
                expr = call?;
            } else if self.is_op("[") {
                let open = self.bump();
                self.nest()?;
                let index = self.slices();
                self.depth -= 1;
                let index = index?;
                self.expect_op("]", "to close the subscript")?;
                expr = Expr::Subscript(Box::new(expr), Box::new(index), open.col);
            } else {
                return Ok(expr);
            }
        }
    }

    fn call_args(&mut self, func: Expr, col: usize) -> Result<Expr, QueryParseError> {
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        let mut refused = None;
        while !self.is_op(")") {
            if self.is_op("**") {
                let c = self.bump().col;
                self.expression()?;
                refused.get_or_insert(("keyword", c));
            } else if self.is_op("*") {
                let c = self.bump().col;
                self.expression()?;
                refused.get_or_insert(("Starred", c));
            } else if let Tok::Name(n) = &self.peek().tok
                && !is_keyword(n)
                && self.peek_at(1).tok == Tok::Op("=")
            {
                let name = n.clone();
                self.bump();
                self.bump();
                let value = self.expression()?;
                if keywords.iter().any(|(k, _): &(String, Expr)| *k == name) {
                    return Err(error(col, format!("keyword argument repeated: {name}")));
                }
                keywords.push((name, value));
            } else {
                if !keywords.is_empty() {
                    return Err(error(self.peek().col, "positional argument follows keyword argument"));
                }
                let arg = self.named_expression()?;
                if self.is_kw("for") {
                    let c = self.peek().col;
                    self.comprehension_tail()?;
                    refused.get_or_insert(("GeneratorExp", c));
                }
                args.push(arg);
            }
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(")", "to close the call")?;
        if let Some((kind, c)) = refused {
            return Ok(Expr::Refused(kind, c));
        }
        Ok(Expr::Call(Box::new(func), args, keywords, col))
    }

    /// `for x in y [if z]…` after a comprehension's element.
    fn comprehension_tail(&mut self) -> Result<(), QueryParseError> {
        while self.is_kw("for") || self.is_kw("async") {
            if self.is_kw("async") {
                self.bump();
            }
            self.bump();
            self.star_targets()?;
            if !self.is_kw("in") {
                return Err(error(self.peek().col, "expected `in` in a comprehension"));
            }
            self.bump();
            self.disjunction()?;
            while self.is_kw("if") {
                self.bump();
                self.disjunction()?;
            }
        }
        Ok(())
    }

    fn star_targets(&mut self) -> Result<(), QueryParseError> {
        loop {
            let target = self.bitwise_or()?;
            check_target(&target)?;
            if !self.eat_op(",") || self.is_kw("in") {
                return Ok(());
            }
        }
    }

    /// A subscript: one expression, a slice, or a tuple of them.
    fn slices(&mut self) -> Result<Expr, QueryParseError> {
        let col = self.peek().col;
        let first = self.slice()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        while self.eat_op(",") {
            if self.is_op("]") {
                break;
            }
            self.slice()?;
        }
        Ok(Expr::Refused("Tuple", col))
    }

    fn slice(&mut self) -> Result<Expr, QueryParseError> {
        let col = self.peek().col;
        let lower = if self.is_op(":") { None } else { Some(self.named_expression()?) };
        if !self.is_op(":") {
            return lower.ok_or_else(|| error(col, "expected an index"));
        }
        self.bump();
        let bound = |p: &mut Parser| -> Result<Option<Box<Expr>>, QueryParseError> {
            if p.is_op(":") || p.is_op("]") || p.is_op(",") { Ok(None) } else { Ok(Some(Box::new(p.expression()?))) }
        };
        let upper = bound(self)?;
        let step = if self.eat_op(":") { bound(self)? } else { None };
        Ok(Expr::Slice(lower.map(Box::new), upper, step, col))
    }

    fn atom(&mut self) -> Result<Expr, QueryParseError> {
        let token = self.bump();
        let col = token.col;
        match token.tok {
            Tok::Name(name) => match name.as_str() {
                "None" => Ok(Expr::Const(Const::None, col)),
                "True" => Ok(Expr::Const(Const::Bool(true), col)),
                "False" => Ok(Expr::Const(Const::Bool(false), col)),
                n if is_keyword(n) => Err(error(col, format!("unexpected keyword `{n}`"))),
                _ => Ok(Expr::Name(name, col)),
            },
            Tok::Int(i) => Ok(Expr::Const(Const::Int(i), col)),
            Tok::Float(f) => Ok(Expr::Const(Const::Float(f), col)),
            Tok::Imaginary => Ok(Expr::Const(Const::Other("complex"), col)),
            Tok::Str(_) | Tok::Bytes | Tok::FStr(_) => self.strings(token),
            Tok::Op("...") => Ok(Expr::Const(Const::Other("ellipsis"), col)),
            Tok::Op("(") => self.group(col),
            Tok::Op("[") => {
                self.display("]", "List", col)?;
                Ok(Expr::Refused("List", col))
            }
            Tok::Op("{") => {
                let kind = self.brace_display(col)?;
                Ok(Expr::Refused(kind, col))
            }
            Tok::Eof => Err(error(col, "the query ends where an expression should follow")),
            _ => Err(error(col, format!("unexpected {} where an expression should be", describe(&token)))),
        }
    }

    /// Adjacent string literals concatenate; bytes never mix with text.
    fn strings(&mut self, first: Token) -> Result<Expr, QueryParseError> {
        let col = first.col;
        let mut parts: Vec<FPart> = Vec::new();
        let mut bytes = false;
        let mut text = false;
        let mut fstring = false;
        let mut token = first;
        loop {
            match token.tok {
                Tok::Str(s) => {
                    text = true;
                    parts.push(FPart::Text(s));
                }
                Tok::Bytes => bytes = true,
                Tok::FStr(pieces) => {
                    text = true;
                    fstring = true;
                    parts.extend(self.fparts(pieces)?);
                }
                _ => unreachable!("strings() is only called on string tokens"),
            }
            if bytes && text {
                return Err(error(col, "cannot mix bytes and nonbytes literals"));
            }
            if !matches!(self.peek().tok, Tok::Str(_) | Tok::Bytes | Tok::FStr(_)) {
                break;
            }
            token = self.bump();
        }
        if bytes {
            return Ok(Expr::Const(Const::Other("bytes"), col));
        }
        if !fstring {
            let joined = parts.into_iter().map(|p| if let FPart::Text(t) = p { t } else { String::new() }).collect();
            return Ok(Expr::Const(Const::Str(joined), col));
        }
        Ok(Expr::FString(parts, col))
    }

    fn fparts(&mut self, pieces: Vec<FPiece>) -> Result<Vec<FPart>, QueryParseError> {
        pieces
            .into_iter()
            .map(|p| match p {
                FPiece::Text(t) => Ok(FPart::Text(t)),
                FPiece::Field { source, col, spec } => {
                    self.nest()?;
                    let inner = parse_field(&source, col - 1, self.depth);
                    self.depth -= 1;
                    let spec = spec.map(|s| self.fparts(s)).transpose()?;
                    Ok(FPart::Field(inner?, spec))
                }
            })
            .collect()
    }

    /// `(…)`: a parenthesized expression, a tuple, or a generator expression.
    fn group(&mut self, col: usize) -> Result<Expr, QueryParseError> {
        if self.eat_op(")") {
            return Ok(Expr::Refused("Tuple", col));
        }
        self.nest()?;
        let inner = self.group_inner(col);
        self.depth -= 1;
        inner
    }

    fn group_inner(&mut self, col: usize) -> Result<Expr, QueryParseError> {
        let first = if self.is_kw("yield") {
            let c = self.bump().col;
            if !self.is_op(")") {
                self.star_expressions()?;
            }
            Expr::Refused("Yield", c)
        } else {
            self.expression_or_star_named()?
        };
        if self.is_kw("for") {
            self.comprehension_tail()?;
            self.expect_op(")", "to close the generator expression")?;
            return Ok(Expr::Refused("GeneratorExp", col));
        }
        if self.is_op(",") {
            while self.eat_op(",") {
                if self.is_op(")") {
                    break;
                }
                self.expression_or_star_named()?;
            }
            self.expect_op(")", "to close the tuple")?;
            return Ok(Expr::Refused("Tuple", col));
        }
        self.expect_op(")", "to close the parenthesis")?;
        if matches!(first, Expr::Refused("Starred", _)) {
            return Err(error(col, "cannot use starred expression here"));
        }
        Ok(first)
    }

    fn expression_or_star_named(&mut self) -> Result<Expr, QueryParseError> {
        if self.is_op("*") {
            return self.expression_or_star();
        }
        self.named_expression()
    }

    /// The items of a `[…]` display or comprehension, up to and including `close`.
    fn display(&mut self, close: &str, kind: &str, col: usize) -> Result<(), QueryParseError> {
        self.nest()?;
        let result = (|| {
            if self.eat_op(close) {
                return Ok(());
            }
            self.expression_or_star_named()?;
            if self.is_kw("for") {
                self.comprehension_tail()?;
            } else {
                while self.eat_op(",") {
                    if self.is_op(close) {
                        break;
                    }
                    self.expression_or_star_named()?;
                }
            }
            self.expect_op(close, &format!("to close the {} opened at column {col}", kind.to_lowercase()))?;
            Ok(())
        })();
        self.depth -= 1;
        result
    }

    /// `{…}`: a dict or set display or comprehension; returns the AST node name.
    fn brace_display(&mut self, col: usize) -> Result<&'static str, QueryParseError> {
        self.nest()?;
        let result = (|| {
            if self.eat_op("}") {
                return Ok("Dict");
            }
            let mut kind = "Set";
            let mut first = true;
            loop {
                if self.is_op("**") {
                    self.bump();
                    self.bitwise_or()?;
                    kind = "Dict";
                } else {
                    self.expression_or_star_named()?;
                    if self.eat_op(":") {
                        if !first && kind == "Set" {
                            return Err(error(self.peek().col, "invalid syntax in a set display"));
                        }
                        kind = "Dict";
                        self.expression()?;
                    } else if kind == "Dict" {
                        return Err(error(self.peek().col, "expected `:` in a dict display"));
                    }
                }
                if first && self.is_kw("for") {
                    self.comprehension_tail()?;
                    kind = if kind == "Dict" { "DictComp" } else { "SetComp" };
                    break;
                }
                first = false;
                if !self.eat_op(",") || self.is_op("}") {
                    break;
                }
            }
            self.expect_op("}", &format!("to close the brace opened at column {col}"))?;
            Ok(kind)
        })();
        self.depth -= 1;
        result
    }
}

/// An f-string field's expression, parsed on its own with its columns in the whole query.
fn parse_field(source: &str, offset: usize, depth: usize) -> Result<Expr, QueryParseError> {
    let leading = source.chars().take_while(|c| c.is_whitespace()).count();
    let tokens = tokenize(source.trim(), offset + leading)?;
    let eof = Token { tok: Tok::Eof, col: offset + source.chars().count() + 1, text: String::new() };
    let mut parser = Parser { tokens, eof, pos: 0, depth };
    let expr = parser.star_expressions()?;
    let next = parser.peek();
    if next.tok != Tok::Eof {
        return Err(error(next.col, format!("f-string: unexpected {}", describe(next))));
    }
    Ok(expr)
}

fn check_target(target: &Expr) -> Result<(), QueryParseError> {
    match target {
        Expr::Name(..) | Expr::Attr(..) | Expr::Subscript(..) | Expr::Refused("Tuple" | "List" | "Starred", _) => {
            Ok(())
        }
        other => Err(error(col_of(other), "cannot assign to this expression")),
    }
}

pub(super) fn col_of(expr: &Expr) -> usize {
    match expr {
        Expr::Const(_, c)
        | Expr::Name(_, c)
        | Expr::Attr(_, _, c)
        | Expr::Call(_, _, _, c)
        | Expr::Subscript(_, _, c)
        | Expr::Slice(_, _, _, c)
        | Expr::Unary(_, _, c)
        | Expr::Binary(_, _, _, c)
        | Expr::FString(_, c)
        | Expr::Refused(_, c) => *c,
        Expr::And(items) | Expr::Or(items) => items.first().map_or(1, col_of),
        Expr::Compare(first, _) => col_of(first),
        Expr::IfElse { body, .. } => col_of(body),
    }
}
