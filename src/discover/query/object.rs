//! Python objects for the evaluator: metadata values borrowed from the loaded YAML and values
//! computed from them, with Python's truthiness, `==`, ordering, hashing rules, `str()` and
//! `repr()`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use crate::metadata::{Date, DateTime, Value, float_repr};

use super::eval::{Raised, raise};

/// The functions simpleeval offers by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    Int,
    Float,
    Str,
    Rand,
    RandInt,
}

impl Builtin {
    pub(super) fn name(self) -> &'static str {
        match self {
            Builtin::Int => "int",
            Builtin::Float => "float",
            Builtin::Str => "str",
            Builtin::Rand => "rand",
            Builtin::RandInt => "randint",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Obj<'a> {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Date(Date),
    DateTime(DateTime),
    /// A YAML sequence, or a list computed by a method (`split()`).
    Seq(&'a [Value]),
    List(Rc<Vec<Obj<'a>>>),
    Tuple(Rc<Vec<Obj<'a>>>),
    Map(&'a [(Value, Value)]),
    Keys(&'a [(Value, Value)]),
    Values(&'a [(Value, Value)]),
    Items(&'a [(Value, Value)]),
    Func(Builtin),
    /// A bound method: its receiver and name; called later.
    Method(Rc<Obj<'a>>, &'static str),
    Slice(Rc<[Obj<'a>; 3]>),
}

impl<'a> Obj<'a> {
    pub(super) fn from_value(value: &'a Value) -> Obj<'a> {
        match value {
            Value::Null => Obj::None,
            Value::Bool(b) => Obj::Bool(*b),
            Value::Int(i) => Obj::Int(*i),
            Value::Float(f) => Obj::Float(*f),
            Value::Str(s) => Obj::Str(Cow::Borrowed(s)),
            Value::Date(d) => Obj::Date(*d),
            Value::DateTime(d) => Obj::DateTime(*d),
            Value::Seq(items) => Obj::Seq(items),
            Value::Map(entries) => Obj::Map(entries),
        }
    }

    pub(super) fn str(s: impl Into<String>) -> Obj<'a> {
        Obj::Str(Cow::Owned(s.into()))
    }

    pub(super) fn list(items: Vec<Obj<'a>>) -> Obj<'a> {
        Obj::List(Rc::new(items))
    }

    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Obj::None => "NoneType",
            Obj::Bool(_) => "bool",
            Obj::Int(_) => "int",
            Obj::Float(_) => "float",
            Obj::Str(_) => "str",
            Obj::Date(_) => "datetime.date",
            Obj::DateTime(_) => "datetime.datetime",
            Obj::Seq(_) | Obj::List(_) => "list",
            Obj::Tuple(_) => "tuple",
            Obj::Map(_) => "dict",
            Obj::Keys(_) => "dict_keys",
            Obj::Values(_) => "dict_values",
            Obj::Items(_) => "dict_items",
            Obj::Func(Builtin::Int | Builtin::Float | Builtin::Str) => "type",
            Obj::Func(_) | Obj::Method(..) => "builtin_function_or_method",
            Obj::Slice(_) => "slice",
        }
    }

    /// The short type name Python's messages use (`date`, not `datetime.date`).
    pub(super) fn short_type(&self) -> &'static str {
        let t = self.type_name();
        t.rsplit('.').next().unwrap_or(t)
    }

    pub(super) fn truthy(&self) -> bool {
        match self {
            Obj::None => false,
            Obj::Bool(b) => *b,
            Obj::Int(i) => *i != 0,
            Obj::Float(f) => *f != 0.0,
            Obj::Str(s) => !s.is_empty(),
            Obj::Seq(items) => !items.is_empty(),
            Obj::List(items) | Obj::Tuple(items) => !items.is_empty(),
            Obj::Map(e) | Obj::Keys(e) | Obj::Values(e) | Obj::Items(e) => !e.is_empty(),
            Obj::Date(_) | Obj::DateTime(_) | Obj::Func(_) | Obj::Method(..) | Obj::Slice(_) => true,
        }
    }

    /// The elements of a list, tuple, or view (`None` for anything else), in order.
    pub(super) fn elements(&self) -> Option<Vec<Obj<'a>>> {
        Some(match self {
            Obj::Seq(items) => items.iter().map(Obj::from_value).collect(),
            Obj::List(items) | Obj::Tuple(items) => items.as_ref().clone(),
            Obj::Map(e) | Obj::Keys(e) => e.iter().map(|(k, _)| Obj::from_value(k)).collect(),
            Obj::Values(e) => e.iter().map(|(_, v)| Obj::from_value(v)).collect(),
            Obj::Items(e) => {
                e.iter().map(|(k, v)| Obj::Tuple(Rc::new(vec![Obj::from_value(k), Obj::from_value(v)]))).collect()
            }
            Obj::Str(s) => s.chars().map(|c| Obj::str(c.to_string())).collect(),
            _ => return None,
        })
    }

    /// `len()` of sized objects.
    pub(super) fn len(&self) -> Option<usize> {
        match self {
            Obj::Str(s) => Some(s.chars().count()),
            Obj::Seq(items) => Some(items.len()),
            Obj::List(items) | Obj::Tuple(items) => Some(items.len()),
            Obj::Map(e) | Obj::Keys(e) | Obj::Values(e) | Obj::Items(e) => Some(e.len()),
            _ => None,
        }
    }

    /// An int for `__index__` (bools included).
    pub(super) fn index(&self) -> Option<i128> {
        match self {
            Obj::Bool(b) => Some(i128::from(*b)),
            Obj::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub(super) fn is_hashable(&self) -> bool {
        match self {
            Obj::Seq(_) | Obj::List(_) | Obj::Map(_) | Obj::Keys(_) | Obj::Items(_) | Obj::Slice(_) => false,
            Obj::Tuple(items) => items.iter().all(Obj::is_hashable),
            _ => true,
        }
    }

    /// Python's `str()`.
    pub(super) fn to_str(&self) -> Result<String, Raised> {
        match self {
            Obj::Str(s) => Ok(s.to_string()),
            Obj::Date(d) => Ok(d.to_string()),
            Obj::DateTime(d) => Ok(d.to_string()),
            _ => self.repr(),
        }
    }

    /// Python's `repr()`; an error for objects whose repr holds a memory address.
    pub(super) fn repr(&self) -> Result<String, Raised> {
        let join = |items: &[Obj<'a>]| -> Result<String, Raised> {
            Ok(items.iter().map(Obj::repr).collect::<Result<Vec<_>, _>>()?.join(", "))
        };
        Ok(match self {
            Obj::None => "None".into(),
            Obj::Bool(true) => "True".into(),
            Obj::Bool(false) => "False".into(),
            Obj::Int(i) => i.to_string(),
            Obj::Float(f) => float_repr(*f),
            Obj::Str(s) => str_repr(s),
            Obj::Date(d) => format!("datetime.date({}, {}, {})", d.year, d.month, d.day),
            Obj::DateTime(d) => datetime_repr(d),
            Obj::Seq(_) | Obj::List(_) => format!("[{}]", join(&self.elements().unwrap_or_default())?),
            Obj::Tuple(items) if items.len() == 1 => format!("({},)", items[0].repr()?),
            Obj::Tuple(items) => format!("({})", join(items)?),
            Obj::Map(entries) => {
                let parts: Result<Vec<String>, Raised> = entries
                    .iter()
                    .map(|(k, v)| Ok(format!("{}: {}", Obj::from_value(k).repr()?, Obj::from_value(v).repr()?)))
                    .collect();
                format!("{{{}}}", parts?.join(", "))
            }
            Obj::Keys(_) => format!("dict_keys([{}])", join(&self.elements().unwrap_or_default())?),
            Obj::Values(_) => format!("dict_values([{}])", join(&self.elements().unwrap_or_default())?),
            Obj::Items(_) => format!("dict_items([{}])", join(&self.elements().unwrap_or_default())?),
            Obj::Func(b @ (Builtin::Int | Builtin::Float | Builtin::Str)) => format!("<class '{}'>", b.name()),
            Obj::Slice(parts) => format!("slice({}, {}, {})", parts[0].repr()?, parts[1].repr()?, parts[2].repr()?),
            Obj::Func(_) | Obj::Method(..) => {
                return Err(raise::unsupported(0, "the text of a function object holds a memory address"));
            }
        })
    }
}

fn datetime_repr(d: &DateTime) -> String {
    let mut parts = vec![d.date.year.to_string(), d.date.month.to_string(), d.date.day.to_string()];
    parts.push(d.hour.to_string());
    parts.push(d.minute.to_string());
    if d.second != 0 || d.microsecond != 0 {
        parts.push(d.second.to_string());
    }
    if d.microsecond != 0 {
        parts.push(d.microsecond.to_string());
    }
    let tz = match d.offset_minutes {
        None => String::new(),
        Some(0) => ", tzinfo=datetime.timezone.utc".into(),
        Some(m) => {
            let sign = if m < 0 { "-" } else { "" };
            let seconds = m.abs() * 60;
            let days = if m < 0 { -1 } else { 0 };
            let seconds = if m < 0 { 86_400 - seconds } else { seconds };
            let _ = sign;
            if days == 0 {
                format!(", tzinfo=datetime.timezone(datetime.timedelta(seconds={seconds})))")
            } else {
                format!(", tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds={seconds})))")
            }
        }
    };
    let tz = tz.strip_suffix(')').map_or(tz.clone(), str::to_string);
    format!("datetime.datetime({}{tz})", parts.join(", "))
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`.
pub(super) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable()` per character: no control, separator
/// (except space) or unassigned characters.
pub(super) fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control() || c.is_whitespace() || ('\u{7f}'..='\u{a0}').contains(&c) || c == '\u{ad}')
}

/// A number as Python's numeric tower sees it.
#[derive(Clone, Copy)]
pub(super) enum Num {
    Int(i128),
    Float(f64),
}

impl Obj<'_> {
    pub(super) fn number(&self) -> Option<Num> {
        match self {
            Obj::Bool(b) => Some(Num::Int(i128::from(*b))),
            Obj::Int(i) => Some(Num::Int(*i)),
            Obj::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

/// Exact comparison of an int and a float, as Python does it (no rounding of the int).
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 { Ordering::Less } else { Ordering::Greater });
    }
    let floor = f.floor();
    // |f| < 2^127 here unless it is huge; a float beyond the i128 range beats every i128.
    if floor >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if floor <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let whole = floor as i128;
    Some(match i.cmp(&whole) {
        Ordering::Equal if f > floor => Ordering::Less,
        o => o,
    })
}

pub(super) fn cmp_numbers(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

/// Python's `==`.
pub(super) fn py_eq(a: &Obj<'_>, b: &Obj<'_>) -> bool {
    if let (Some(x), Some(y)) = (a.number(), b.number()) {
        return cmp_numbers(x, y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Obj::None, Obj::None) => true,
        (Obj::Str(x), Obj::Str(y)) => x == y,
        (Obj::Date(x), Obj::Date(y)) => x == y,
        (Obj::DateTime(x), Obj::DateTime(y)) => {
            if x.offset_minutes.is_some() != y.offset_minutes.is_some() {
                false
            } else {
                x.instant() == y.instant()
            }
        }
        (Obj::Seq(_) | Obj::List(_), Obj::Seq(_) | Obj::List(_)) | (Obj::Tuple(_), Obj::Tuple(_)) => {
            let (x, y) = (a.elements().unwrap_or_default(), b.elements().unwrap_or_default());
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| identical(p, q) || py_eq(p, q))
        }
        (Obj::Map(x), Obj::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    let key = Obj::from_value(k);
                    y.iter().any(|(k2, v2)| {
                        py_eq(&key, &Obj::from_value(k2)) && py_eq(&Obj::from_value(v), &Obj::from_value(v2))
                    })
                })
        }
        (Obj::Keys(x), Obj::Keys(y)) | (Obj::Items(x), Obj::Items(y)) => {
            let (p, q) = (a.elements().unwrap_or_default(), b.elements().unwrap_or_default());
            x.len() == y.len() && p.iter().all(|e| q.iter().any(|f| py_eq(e, f)))
        }
        (Obj::Values(x), Obj::Values(y)) => std::ptr::eq(*x, *y),
        (Obj::Func(x), Obj::Func(y)) => x == y,
        (Obj::Method(r1, n1), Obj::Method(r2, n2)) => n1 == n2 && identical(r1, r2),
        (Obj::Slice(x), Obj::Slice(y)) => x.iter().zip(y.iter()).all(|(p, q)| py_eq(p, q)),
        _ => false,
    }
}

/// Python's `is`, as far as it can be known without object addresses: singletons, the small
/// ints and one-character strings CPython caches, and the same metadata node.
pub(super) fn identical(a: &Obj<'_>, b: &Obj<'_>) -> bool {
    match (a, b) {
        (Obj::None, Obj::None) => true,
        (Obj::Bool(x), Obj::Bool(y)) => x == y,
        (Obj::Int(x), Obj::Int(y)) => x == y && (-5..=256).contains(x),
        (Obj::Str(x), Obj::Str(y)) => {
            if let (Cow::Borrowed(p), Cow::Borrowed(q)) = (x, y)
                && std::ptr::eq(*p, *q)
            {
                return true;
            }
            x == y && (x.is_empty() || (x.chars().count() == 1 && x.chars().all(|c| (c as u32) < 256)))
        }
        (Obj::Seq(x), Obj::Seq(y)) => std::ptr::eq(*x, *y),
        (Obj::Map(x), Obj::Map(y)) => std::ptr::eq(*x, *y),
        (Obj::List(x), Obj::List(y)) | (Obj::Tuple(x), Obj::Tuple(y)) => Rc::ptr_eq(x, y),
        (Obj::Func(x), Obj::Func(y)) => x == y,
        _ => false,
    }
}

/// Python's `<` family: `Ok(None)` never happens; an unorderable pair is a `TypeError`.
pub(super) fn py_cmp(a: &Obj<'_>, b: &Obj<'_>, op: &str, col: usize) -> Result<Option<Ordering>, Raised> {
    if let (Some(x), Some(y)) = (a.number(), b.number()) {
        return Ok(cmp_numbers(x, y));
    }
    match (a, b) {
        (Obj::Str(x), Obj::Str(y)) => Ok(Some(x.as_ref().cmp(y.as_ref()))),
        (Obj::Date(x), Obj::Date(y)) => Ok(Some(x.cmp(y))),
        (Obj::DateTime(x), Obj::DateTime(y)) => {
            if x.offset_minutes.is_some() != y.offset_minutes.is_some() {
                return Err(raise::type_error(col, "can't compare offset-naive and offset-aware datetimes"));
            }
            Ok(Some(x.instant().cmp(&y.instant())))
        }
        (Obj::Seq(_) | Obj::List(_), Obj::Seq(_) | Obj::List(_)) | (Obj::Tuple(_), Obj::Tuple(_)) => {
            let (x, y) = (a.elements().unwrap_or_default(), b.elements().unwrap_or_default());
            for (p, q) in x.iter().zip(&y) {
                if identical(p, q) || py_eq(p, q) {
                    continue;
                }
                return py_cmp(p, q, op, col);
            }
            Ok(Some(x.len().cmp(&y.len())))
        }
        _ => Err(raise::type_error(
            col,
            format!("'{op}' not supported between instances of '{}' and '{}'", a.short_type(), b.short_type()),
        )),
    }
}
