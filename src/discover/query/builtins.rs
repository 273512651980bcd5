//! Attribute access, calls, and the methods and functions simpleeval's defaults reach: the
//! `int`, `float` and `str` functions, and the methods of `str`, `dict`, `list`, `tuple`,
//! `int`, `float`, dates and dict views, with Python's semantics.
//!
//! Attribute lookup is simpleeval's: the object's Python attribute first (so `data.keys` is
//! the method even when metadata has a `keys` key), then `obj[name]`, else
//! `AttributeDoesNotExist`. A method Python has but dockvar does not implement raises
//! [`UNSUPPORTED`](super::eval::UNSUPPORTED) when called.

use std::rc::Rc;

use super::eval::{Evaluator, Result, raise, subscript};
use super::object::{Builtin, Num, Obj, identical, py_eq};
use super::parse::Expr;
use super::strings::str_method;

const DISALLOWED: &[&str] = &["format", "format_map", "mro", "tb_frame", "gi_frame", "ag_frame", "cr_frame", "exec"];

const STR_ATTRS: &[&str] = &[
    "capitalize",
    "casefold",
    "center",
    "count",
    "encode",
    "endswith",
    "expandtabs",
    "find",
    "format",
    "format_map",
    "index",
    "isalnum",
    "isalpha",
    "isascii",
    "isdecimal",
    "isdigit",
    "isidentifier",
    "islower",
    "isnumeric",
    "isprintable",
    "isspace",
    "istitle",
    "isupper",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "maketrans",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
];
const DICT_ATTRS: &[&str] =
    &["clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"];
const LIST_ATTRS: &[&str] =
    &["append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"];
const TUPLE_ATTRS: &[&str] = &["count", "index"];
const INT_METHODS: &[&str] = &["as_integer_ratio", "bit_count", "bit_length", "conjugate", "from_bytes", "to_bytes"];
const FLOAT_METHODS: &[&str] = &["as_integer_ratio", "conjugate", "fromhex", "hex", "is_integer"];
const DATE_METHODS: &[&str] = &[
    "ctime",
    "fromisocalendar",
    "fromisoformat",
    "fromordinal",
    "fromtimestamp",
    "isocalendar",
    "isoformat",
    "isoweekday",
    "replace",
    "strftime",
    "timetuple",
    "today",
    "toordinal",
    "weekday",
];
const DATETIME_METHODS: &[&str] = &[
    "astimezone",
    "combine",
    "date",
    "dst",
    "now",
    "strptime",
    "time",
    "timestamp",
    "timetz",
    "tzname",
    "utcfromtimestamp",
    "utcnow",
    "utcoffset",
    "utctimetuple",
];

/// `target.name`.
pub(super) fn attribute<'a>(ev: &Evaluator<'a>, target: &'a Expr, name: &str, col: usize) -> Result<Obj<'a>> {
    if name.starts_with('_') || name.starts_with("func_") {
        return Err(raise::new(
            "FeatureNotAvailable",
            col,
            format!("Sorry, access to __attributes  or func_ attributes is not available. ({name})"),
        ));
    }
    if DISALLOWED.contains(&name) {
        return Err(raise::new("FeatureNotAvailable", col, format!("Sorry, this method is not available. ({name})")));
    }
    let value = ev.eval(target)?;
    if let Some(found) = python_attribute(&value, name, col)? {
        return Ok(found);
    }
    match subscript(value, &Obj::str(name.to_string()), col) {
        Ok(found) => Ok(found),
        Err(e) if matches!(e.kind, "KeyError" | "TypeError") => {
            Err(raise::new("AttributeDoesNotExist", col, format!("Attribute '{name}' does not exist")))
        }
        Err(e) => Err(e),
    }
}

fn method<'a>(value: &Obj<'a>, list: &[&'static str], name: &str) -> Option<Obj<'a>> {
    list.iter().find(|n| **n == name).map(|n| Obj::Method(Rc::new(value.clone()), n))
}

/// `getattr(value, name)`, or `None` when Python raises `AttributeError`.
fn python_attribute<'a>(value: &Obj<'a>, name: &str, col: usize) -> Result<Option<Obj<'a>>> {
    Ok(match value {
        Obj::Str(_) => method(value, STR_ATTRS, name),
        Obj::Map(_) => method(value, DICT_ATTRS, name),
        Obj::Seq(_) | Obj::List(_) => method(value, LIST_ATTRS, name),
        Obj::Tuple(_) => method(value, TUPLE_ATTRS, name),
        Obj::Keys(_) | Obj::Items(_) if name == "isdisjoint" => method(value, &["isdisjoint"], name),
        Obj::Keys(_) | Obj::Items(_) | Obj::Values(_) if name == "mapping" => {
            return Err(raise::unsupported(col, "dockvar has no mappingproxy objects"));
        }
        Obj::Bool(_) | Obj::Int(_) => {
            let i = value.index().unwrap_or(0);
            match name {
                "real" | "numerator" => Some(Obj::Int(i)),
                "imag" => Some(Obj::Int(0)),
                "denominator" => Some(Obj::Int(1)),
                _ => method(value, INT_METHODS, name),
            }
        }
        Obj::Float(f) => match name {
            "real" => Some(Obj::Float(*f)),
            "imag" => Some(Obj::Float(0.0)),
            _ => method(value, FLOAT_METHODS, name),
        },
        Obj::Date(d) => match name {
            "year" => Some(Obj::Int(i128::from(d.year))),
            "month" => Some(Obj::Int(i128::from(d.month))),
            "day" => Some(Obj::Int(i128::from(d.day))),
            "min" | "max" | "resolution" => {
                return Err(raise::unsupported(col, format!("date.{name} is not modelled")));
            }
            _ => method(value, DATE_METHODS, name),
        },
        Obj::DateTime(d) => match name {
            "year" => Some(Obj::Int(i128::from(d.date.year))),
            "month" => Some(Obj::Int(i128::from(d.date.month))),
            "day" => Some(Obj::Int(i128::from(d.date.day))),
            "hour" => Some(Obj::Int(i128::from(d.hour))),
            "minute" => Some(Obj::Int(i128::from(d.minute))),
            "second" => Some(Obj::Int(i128::from(d.second))),
            "microsecond" => Some(Obj::Int(i128::from(d.microsecond))),
            "fold" => Some(Obj::Int(0)),
            "tzinfo" if d.offset_minutes.is_none() => Some(Obj::None),
            "tzinfo" | "min" | "max" | "resolution" => {
                return Err(raise::unsupported(col, format!("datetime.{name} is not modelled")));
            }
            _ => method(value, DATE_METHODS, name).or_else(|| method(value, DATETIME_METHODS, name)),
        },
        Obj::Slice(parts) => match name {
            "start" => Some(parts[0].clone()),
            "stop" => Some(parts[1].clone()),
            "step" => Some(parts[2].clone()),
            "indices" => return Err(raise::unsupported(col, "slice.indices is not modelled")),
            _ => None,
        },
        Obj::Func(_) => return Err(raise::unsupported(col, "attributes of functions and types are not modelled")),
        Obj::None | Obj::Keys(_) | Obj::Items(_) | Obj::Values(_) | Obj::Method(..) => None,
    })
}

/// `func(args…, name=value…)`.
pub(super) fn call<'a>(
    ev: &Evaluator<'a>,
    func: &'a Expr,
    args: &'a [Expr],
    keywords: &'a [(String, Expr)],
    col: usize,
) -> Result<Obj<'a>> {
    let callee = match func {
        Expr::Attr(..) => ev.eval(func)?,
        Expr::Name(name, _) => match name.as_str() {
            "int" => Obj::Func(Builtin::Int),
            "float" => Obj::Func(Builtin::Float),
            "str" => Obj::Func(Builtin::Str),
            "rand" => Obj::Func(Builtin::Rand),
            "randint" => Obj::Func(Builtin::RandInt),
            _ => {
                return Err(raise::new("FunctionNotDefined", col, format!("Function '{name}' not defined")));
            }
        },
        _ => return Err(raise::new("FeatureNotAvailable", col, "Lambda Functions not implemented")),
    };
    let args: Vec<Obj<'a>> = args.iter().map(|a| ev.eval(a)).collect::<Result<_>>()?;
    let mut kwargs: Vec<(&'a str, Obj<'a>)> = Vec::new();
    for (name, value) in keywords {
        kwargs.push((name, ev.eval(value)?));
    }
    let call = Call { args, kwargs, col };
    match callee {
        Obj::Func(f) => call_builtin(f, call),
        Obj::Method(receiver, name) => call_method(&receiver, name, call),
        other => Err(raise::type_error(col, format!("'{}' object is not callable", other.short_type()))),
    }
}

pub(super) struct Call<'a> {
    pub(super) args: Vec<Obj<'a>>,
    pub(super) kwargs: Vec<(&'a str, Obj<'a>)>,
    pub(super) col: usize,
}

impl<'a> Call<'a> {
    /// The arguments by position, with keywords allowed only for `names`; checks the count.
    pub(super) fn bind(
        &self,
        what: &str,
        names: &[&str],
        required: usize,
        keywords_ok: bool,
    ) -> Result<Vec<Option<Obj<'a>>>> {
        if !self.kwargs.is_empty() && !keywords_ok {
            return Err(raise::type_error(self.col, format!("{what}() takes no keyword arguments")));
        }
        if self.args.len() > names.len() {
            return Err(raise::type_error(
                self.col,
                format!(
                    "{what}() takes at most {} argument{} ({} given)",
                    names.len(),
                    plural(names.len()),
                    self.args.len()
                ),
            ));
        }
        let mut bound: Vec<Option<Obj<'a>>> = vec![None; names.len()];
        for (i, a) in self.args.iter().enumerate() {
            bound[i] = Some(a.clone());
        }
        for (name, value) in &self.kwargs {
            let Some(i) = names.iter().position(|n| n == name) else {
                return Err(raise::type_error(
                    self.col,
                    format!("{what}() got an unexpected keyword argument '{name}'"),
                ));
            };
            if bound[i].is_some() {
                return Err(raise::type_error(self.col, format!("{what}() got multiple values for argument '{name}'")));
            }
            bound[i] = Some(value.clone());
        }
        let given = bound.iter().filter(|b| b.is_some()).count();
        if bound.iter().take(required).any(Option::is_none) {
            return Err(raise::type_error(
                self.col,
                format!("{what}() takes at least {required} argument{} ({given} given)", plural(required)),
            ));
        }
        Ok(bound)
    }

    pub(super) fn none(&self, what: &str) -> Result<()> {
        if !self.kwargs.is_empty() {
            return Err(raise::type_error(self.col, format!("{what}() takes no keyword arguments")));
        }
        if !self.args.is_empty() {
            return Err(raise::type_error(
                self.col,
                format!("{what}() takes no arguments ({} given)", self.args.len()),
            ));
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn call_builtin<'a>(f: Builtin, call: Call<'a>) -> Result<Obj<'a>> {
    let col = call.col;
    match f {
        Builtin::Int => {
            let bound = call.bind("int", &["x", "base"], 0, true)?;
            if call.kwargs.iter().any(|(n, _)| *n == "x") {
                return Err(raise::type_error(col, "'x' is an invalid keyword argument for int()"));
            }
            match (&bound[0], &bound[1]) {
                (None, None) => Ok(Obj::Int(0)),
                (None, Some(_)) => Err(raise::type_error(col, "int() missing string argument")),
                (Some(x), None) => to_int(x, col),
                (Some(Obj::Str(s)), Some(base)) => {
                    let Some(base) = base.index() else {
                        return Err(raise::type_error(
                            col,
                            format!("'{}' object cannot be interpreted as an integer", base.short_type()),
                        ));
                    };
                    if base != 0 && !(2..=36).contains(&base) {
                        return Err(raise::value_error(col, "int() base must be >= 2 and <= 36, or 0"));
                    }
                    parse_int(s, base as u32, col).map(Obj::Int)
                }
                (Some(_), Some(_)) => Err(raise::type_error(col, "int() can't convert non-string with explicit base")),
            }
        }
        Builtin::Float => {
            if !call.kwargs.is_empty() {
                return Err(raise::type_error(col, "float() takes no keyword arguments"));
            }
            let bound = call.bind("float", &["x"], 0, false)?;
            match &bound[0] {
                None => Ok(Obj::Float(0.0)),
                Some(x) => match x.number() {
                    Some(Num::Int(i)) => Ok(Obj::Float(i as f64)),
                    Some(Num::Float(f)) => Ok(Obj::Float(f)),
                    None => match x {
                        Obj::Str(s) => parse_float(s, col).map(Obj::Float),
                        other => Err(raise::type_error(
                            col,
                            format!("float() argument must be a string or a real number, not '{}'", other.short_type()),
                        )),
                    },
                },
            }
        }
        Builtin::Str => {
            let bound = call.bind("str", &["object", "encoding", "errors"], 0, true)?;
            match &bound[..] {
                [None, None, None] => Ok(Obj::str("")),
                [Some(x), None, None] => Ok(Obj::str(x.to_str()?)),
                _ => Err(raise::type_error(col, "decoding str is not supported")),
            }
        }
        Builtin::Rand | Builtin::RandInt => Err(raise::unsupported(
            col,
            format!("{}() returns a random number; dockvar's selections are deterministic", f.name()),
        )),
    }
}

fn to_int<'a>(x: &Obj<'a>, col: usize) -> Result<Obj<'a>> {
    match x {
        Obj::Bool(b) => Ok(Obj::Int(i128::from(*b))),
        Obj::Int(i) => Ok(Obj::Int(*i)),
        Obj::Float(f) => {
            if f.is_nan() {
                return Err(raise::value_error(col, "cannot convert float NaN to integer"));
            }
            if f.is_infinite() {
                return Err(raise::new("OverflowError", col, "cannot convert float infinity to integer"));
            }
            if f.abs() >= 1.7e38 {
                return Err(raise::overflow(col));
            }
            Ok(Obj::Int(f.trunc() as i128))
        }
        Obj::Str(s) => parse_int(s, 10, col).map(Obj::Int),
        other => Err(raise::type_error(
            col,
            format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                other.short_type()
            ),
        )),
    }
}

/// Python's whitespace, which includes the separators `\x1c`–`\x1f`.
pub(super) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Digits with single underscores between them.
fn digits_ok(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c == '_' || ok(c))
}

/// `int(text, base)` with Python's rules.
fn parse_int(text: &str, base: u32, col: usize) -> Result<i128> {
    let invalid = || {
        raise::value_error(
            col,
            format!("invalid literal for int() with base {base}: {}", super::object::str_repr(text)),
        )
    };
    let s = text.trim_matches(is_py_space);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &body[2..]),
        (0 | 8, Some("0o")) => (8, &body[2..]),
        (0 | 2, Some("0b")) => (2, &body[2..]),
        (0, _) => (10, body),
        (b, _) => (b, body),
    };
    let digits = if radix != 10 || base != 10 { digits.strip_prefix('_').unwrap_or(digits) } else { digits };
    let digit = |c: char| c.is_digit(radix) || (!c.is_ascii() && c.is_numeric() && radix >= 10);
    if !digits_ok(digits, digit) {
        return Err(invalid());
    }
    if base == 0
        && radix == 10
        && digits.len() > 1
        && digits.starts_with('0')
        && digits.chars().any(|c| c != '0' && c != '_')
    {
        return Err(invalid());
    }
    let cleaned: String = digits
        .chars()
        .filter(|c| *c != '_')
        .map(|c| char::from_digit(c.to_digit(radix).unwrap_or_else(|| c.to_digit(10).unwrap_or(0)), radix).unwrap_or(c))
        .collect();
    let magnitude = i128::from_str_radix(&cleaned, radix).map_err(|_| raise::overflow(col))?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// `float(text)` with Python's rules.
fn parse_float(text: &str, col: usize) -> Result<f64> {
    let invalid =
        || raise::value_error(col, format!("could not convert string to float: {}", super::object::str_repr(text)));
    let s = text.trim_matches(is_py_space);
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return Ok(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    let (mantissa, exponent) = match lower.find('e') {
        Some(i) => (&lower[..i], Some(&lower[i + 1..])),
        None => (&lower[..], None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digit = |c: char| c.is_ascii_digit();
    let whole_ok = whole.is_empty() || digits_ok(whole, digit);
    let fraction_ok = fraction.is_none_or(|f| f.is_empty() || digits_ok(f, digit));
    let has_digits = !whole.is_empty() || fraction.is_some_and(|f| !f.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        digits_ok(e, digit)
    });
    if !(whole_ok && fraction_ok && has_digits && exponent_ok) {
        return Err(invalid());
    }
    let cleaned: String = lower.chars().filter(|c| *c != '_').collect();
    cleaned.parse::<f64>().map(|f| sign * f).map_err(|_| invalid())
}

pub(super) fn need_str<'a, 'b>(o: &'b Obj<'a>, what: &str, col: usize) -> Result<&'b str> {
    match o {
        Obj::Str(s) => Ok(s),
        other => Err(raise::type_error(col, format!("{what} must be str, not {}", other.short_type()))),
    }
}

pub(super) fn need_index(o: &Obj<'_>, col: usize) -> Result<i128> {
    o.index().ok_or_else(|| {
        raise::type_error(col, format!("'{}' object cannot be interpreted as an integer", o.short_type()))
    })
}

/// A `[start:end]` window over `len` characters, Python's slice clamping.
pub(super) fn window(len: usize, start: Option<&Obj<'_>>, end: Option<&Obj<'_>>, col: usize) -> Result<(usize, usize)> {
    let len = len as i128;
    let at = |o: Option<&Obj<'_>>, default: i128| -> Result<i128> {
        match o {
            None | Some(Obj::None) => Ok(default),
            Some(o) => {
                let i = o.index().ok_or_else(|| {
                    raise::type_error(col, "slice indices must be integers or None or have an __index__ method")
                })?;
                Ok(if i < 0 { (i + len).max(0) } else { i.min(len) })
            }
        }
    };
    Ok((at(start, 0)? as usize, at(end, len)? as usize))
}

pub(super) fn find_in(hay: &[char], needle: &[char], from_right: bool) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    let positions = 0..=hay.len() - needle.len();
    if from_right {
        positions.rev().find(|&i| hay[i..i + needle.len()] == *needle)
    } else {
        positions.into_iter().find(|&i| hay[i..i + needle.len()] == *needle)
    }
}

pub(super) fn tuple<'a>(items: Vec<Obj<'a>>) -> Obj<'a> {
    Obj::Tuple(Rc::new(items))
}

pub(super) fn strs<'a>(items: Vec<String>) -> Obj<'a> {
    Obj::list(items.into_iter().map(Obj::str).collect())
}

fn call_method<'a>(receiver: &Obj<'a>, name: &'static str, call: Call<'a>) -> Result<Obj<'a>> {
    let col = call.col;
    match receiver {
        Obj::Str(s) => str_method(s, name, call),
        Obj::Map(entries) => match name {
            "get" => {
                let bound = call.bind("get", &["key", "default"], 1, false)?;
                let key = bound[0].clone().unwrap_or(Obj::None);
                if !key.is_hashable() {
                    return Err(raise::type_error(col, format!("unhashable type: '{}'", key.short_type())));
                }
                Ok(entries
                    .iter()
                    .find(|(k, _)| py_eq(&Obj::from_value(k), &key))
                    .map(|(_, v)| Obj::from_value(v))
                    .unwrap_or_else(|| bound[1].clone().unwrap_or(Obj::None)))
            }
            "keys" => call.none("keys").map(|()| Obj::Keys(entries)),
            "values" => call.none("values").map(|()| Obj::Values(entries)),
            "items" => call.none("items").map(|()| Obj::Items(entries)),
            "copy" => call.none("copy").map(|()| Obj::Map(entries)),
            _ => Err(raise::unsupported(col, format!("dict.{name}() changes the metadata; dockvar does not model it"))),
        },
        Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_) => {
            let items = receiver.elements().unwrap_or_default();
            let kind = if matches!(receiver, Obj::Tuple(_)) { "tuple" } else { "list" };
            match name {
                "count" => {
                    let bound = call.bind("count", &["value"], 1, false)?;
                    let x = bound[0].clone().unwrap_or(Obj::None);
                    Ok(Obj::Int(items.iter().filter(|e| identical(e, &x) || py_eq(e, &x)).count() as i128))
                }
                "index" => {
                    let bound = call.bind("index", &["value", "start", "stop"], 1, false)?;
                    let x = bound[0].clone().unwrap_or(Obj::None);
                    let (start, stop) = window(items.len(), bound[1].as_ref(), bound[2].as_ref(), col)?;
                    (start..stop.max(start))
                        .find(|&i| identical(&items[i], &x) || py_eq(&items[i], &x))
                        .map(|i| Obj::Int(i as i128))
                        .ok_or_else(|| {
                            raise::value_error(col, format!("{} is not in {kind}", x.repr().unwrap_or_default()))
                        })
                }
                "copy" => call.none("copy").map(|()| Obj::list(items)),
                _ => Err(raise::unsupported(
                    col,
                    format!("list.{name}() changes the metadata; dockvar does not model it"),
                )),
            }
        }
        Obj::Bool(_) | Obj::Int(_) => {
            let i = receiver.index().unwrap_or(0);
            match name {
                "bit_length" => call.none(name).map(|()| Obj::Int(i128::from(128 - i.unsigned_abs().leading_zeros()))),
                "bit_count" => call.none(name).map(|()| Obj::Int(i128::from(i.unsigned_abs().count_ones()))),
                "conjugate" => call.none(name).map(|()| Obj::Int(i)),
                "as_integer_ratio" => call.none(name).map(|()| tuple(vec![Obj::Int(i), Obj::Int(1)])),
                _ => Err(raise::unsupported(col, format!("int.{name}() is not modelled"))),
            }
        }
        Obj::Float(f) => match name {
            "is_integer" => call.none(name).map(|()| Obj::Bool(f.is_finite() && f.fract() == 0.0)),
            "conjugate" => call.none(name).map(|()| Obj::Float(*f)),
            _ => Err(raise::unsupported(col, format!("float.{name}() is not modelled"))),
        },
        Obj::Date(d) => match name {
            "isoformat" => call.none(name).map(|()| Obj::str(d.to_string())),
            "weekday" => call.none(name).map(|()| Obj::Int(i128::from(d.weekday()))),
            "isoweekday" => call.none(name).map(|()| Obj::Int(i128::from(d.weekday() + 1))),
            "toordinal" => call.none(name).map(|()| Obj::Int(i128::from(d.ordinal()))),
            _ => Err(raise::unsupported(col, format!("date.{name}() is not modelled"))),
        },
        Obj::DateTime(d) => match name {
            "date" => call.none(name).map(|()| Obj::Date(d.date)),
            "isoformat" => call.none(name).map(|()| Obj::str(d.to_string().replacen(' ', "T", 1))),
            "weekday" => call.none(name).map(|()| Obj::Int(i128::from(d.date.weekday()))),
            "isoweekday" => call.none(name).map(|()| Obj::Int(i128::from(d.date.weekday() + 1))),
            "toordinal" => call.none(name).map(|()| Obj::Int(i128::from(d.date.ordinal()))),
            _ => Err(raise::unsupported(col, format!("datetime.{name}() is not modelled"))),
        },
        _ => Err(raise::unsupported(col, format!("{}.{name}() is not modelled", receiver.short_type()))),
    }
}

/// `format(value, spec)` for an f-string field with a format spec: only the empty spec.
pub(super) fn format_spec(value: &Obj<'_>, spec: &str, col: usize) -> Result<String> {
    if spec.is_empty() {
        return value.to_str();
    }
    Err(raise::unsupported(col, format!("format specs (`:{spec}`) are not modelled")))
}

/// `fmt % args`: the `%s`, `%r`, `%d`/`%i` conversions and `%%`, by position or `%(key)s`.
pub(super) fn percent_format(fmt: &str, args: &Obj<'_>, col: usize) -> Result<String> {
    let positional: Vec<Obj<'_>> = match args {
        Obj::Tuple(items) => items.as_ref().clone(),
        other => vec![other.clone()],
    };
    let mapping = matches!(args, Obj::Map(_));
    let mut used = 0;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..].iter().position(|c| *c == ')').map(|p| p + i);
            let Some(end) = end else { return Err(raise::value_error(col, "incomplete format key")) };
            key = Some(chars[i + 1..end].iter().collect::<String>());
            i = end + 1;
        }
        let Some(&conv) = chars.get(i) else { return Err(raise::value_error(col, "incomplete format")) };
        i += 1;
        if conv == '%' && key.is_none() {
            out.push('%');
            continue;
        }
        let value = match &key {
            Some(k) => {
                if !mapping {
                    return Err(raise::type_error(col, "format requires a mapping"));
                }
                subscript(args.clone(), &Obj::str(k.clone()), col)?
            }
            None => {
                let Some(v) = positional.get(used) else {
                    return Err(raise::type_error(col, "not enough arguments for format string"));
                };
                used += 1;
                v.clone()
            }
        };
        match conv {
            's' => out.push_str(&value.to_str()?),
            'r' | 'a' => out.push_str(&value.repr()?),
            'd' | 'i' | 'u' => match value.number() {
                Some(Num::Int(n)) => out.push_str(&n.to_string()),
                Some(Num::Float(f)) => {
                    if let Obj::Int(n) = to_int(&Obj::Float(f), col)? {
                        out.push_str(&n.to_string());
                    }
                }
                None => {
                    return Err(raise::type_error(
                        col,
                        format!("%{conv} format: a real number is required, not {}", value.short_type()),
                    ));
                }
            },
            other => return Err(raise::unsupported(col, format!("the %{other} conversion is not modelled"))),
        }
    }
    if key_free(fmt) && !mapping && used < positional.len() {
        return Err(raise::type_error(col, "not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn key_free(fmt: &str) -> bool {
    !fmt.contains("%(")
}
