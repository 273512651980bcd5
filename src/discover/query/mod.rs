//! A `--query` expression in (airbyte-ci's `--metadata-query`), a [`Query`] out;
//! [`Query::matches`] takes a connector's `data:` value and answers as airbyte-ci does:
//! `bool(simple_eval(query, names={"data": data}))`, any exception meaning no match.
//!
//! # Semantics: simpleeval's, over PyYAML's types
//!
//! - The text is Python, parsed as `ast.parse(text.strip())` would: statements separated by
//!   newlines or `;`, of which only the first is evaluated; an assignment evaluates its value.
//!   A Python syntax error is a [`QueryParseError`] with its column (exit 2), reported once
//!   instead of making every connector silently not match.
//! - Names: `data`, and the functions `int`, `float`, `str` (`rand` and `randint` are random,
//!   so dockvar raises `Unsupported` instead of picking at random). Any other name raises
//!   `NameNotDefined`; a call to another function raises `FunctionNotDefined` (so `len()`
//!   never matches, as in airbyte-ci).
//! - `data.key` is the Python attribute when the object has one (`data.keys`, `'x'.upper`),
//!   else `data['key']`; a missing key raises `AttributeDoesNotExist`, a missing index
//!   `IndexError`, a missing `data['key']` `KeyError`: `data.connectorBuildOptions.baseImage is
//!   None` matches nothing where `connectorBuildOptions` is absent. Use `data.get(…)`:
//!   `data.get('connectorBuildOptions') is None` (a `{}` default is a dict display, which
//!   simpleeval refuses).
//! - Operators: `or`, `and`, `not`, `x if c else y`, comparisons that chain (`100 < x < 400`),
//!   `in`, `not in`, `is`, `is not`, `|`, `^`, `&`, `<<`, `>>`, `+`, `-`, `*`, `/`, `//`, `%`
//!   (numbers, and `%s`/`%r`/`%d` string formatting), `**`, unary `-`, `+`, `~`; subscripts and
//!   slices (`data.tags[0]`, `data.name[:7]`), f-strings without format specs. With Python's
//!   semantics: `True == 1`, `1 == 1.0`, ordering between unlike types raises `TypeError`,
//!   `is` holds for `None`, booleans, small ints and one-character strings, as in CPython.
//!   simpleeval's limits apply (strings over 100,000 characters, `**` beyond 4,000,000,
//!   shifts beyond 10,000).
//! - Refused by simpleeval, so never matching: tuple, list, dict and set displays,
//!   comprehensions, `lambda`, `:=`, starred arguments, `@`, attributes starting with `_`,
//!   and `format`/`format_map`.
//! - Methods: those of `str` (`startswith`, `lower`, `split`, `strip`, `replace`, `find`,
//!   `join`, `partition`, `is…`, …), `dict` (`get`, `keys`, `values`, `items`, `copy`), `list`
//!   and `tuple` (`index`, `count`, `copy`), `int`, `float`, and dates (`year`, `isoformat()`,
//!   `weekday()`…). Methods that mutate the metadata, and the few others dockvar does not
//!   model, raise `Unsupported`.
//! - Values are PyYAML's: `releaseDate: 2023-01-01` is a date (so `>= '2023-01-01'` raises
//!   `TypeError`), `yes`/`on` are `True`, `0o`-less `017` is 15 (see [`crate::metadata`]).
//! - Integers are 128-bit; a result beyond that raises `Unsupported` where Python would go on.

mod builtins;
mod eval;
mod lex;
mod object;
mod parse;
mod strings;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::metadata::Value;

pub use eval::{Raised as EvalError, UNSUPPORTED};
pub use parse::MAX_DEPTH;

/// A parsed query, ready to be evaluated against any number of connectors.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: parse::Expr,
}

/// A syntax error; `column` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 {
            write!(f, "column {}: {}: {}", self.column, self.kind, self.message)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

impl std::error::Error for EvalError {}

/// The class name for a connector whose metadata.yaml could not be loaded: airbyte-ci raises
/// while loading it, before evaluating anything.
pub const NOT_LOADED: &str = "MetadataNotLoaded";

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryParseError> {
        let expr = parse::parse_query(text)?;
        Ok(Query { text: text.to_owned(), expr })
    }

    /// `data` is the connector's `data:` value, `None` when metadata.yaml could not be loaded.
    pub fn matches(&self, data: Option<&Value>) -> Result<bool, EvalError> {
        let Some(data) = data else {
            return Err(EvalError { kind: NOT_LOADED, message: "metadata.yaml could not be loaded".into(), column: 0 });
        };
        eval::eval(&self.expr, data).map(|value| value.truthy())
    }

    /// `str()` of the query's value, for comparing with Python's.
    #[doc(hidden)]
    pub fn evaluate_to_text(&self, data: Option<&Value>) -> Result<String, EvalError> {
        let Some(data) = data else {
            return Err(EvalError { kind: NOT_LOADED, message: "metadata.yaml could not be loaded".into(), column: 0 });
        };
        eval::eval(&self.expr, data)?.to_str()
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
