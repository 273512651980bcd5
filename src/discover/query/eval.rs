//! A syntax tree and a connector's `data` in, a Python object or the exception simpleeval
//! would raise out: names, operators with simpleeval's limits, comparisons, `and`/`or`,
//! conditional expressions, subscripts and f-strings. Attributes, calls and methods are in
//! `builtins`.

use std::rc::Rc;

use super::builtins::{attribute, call, format_spec};
use super::object::{Builtin, Num, Obj, identical, py_cmp, py_eq};
use super::parse::{BinOp, CmpOp, Const, Expr, FPart, UnaryOp};

/// simpleeval's limits on string lengths, exponents and shifts.
pub(super) const MAX_STRING_LENGTH: usize = 100_000;
const MAX_POWER: i128 = 4_000_000;
const MAX_SHIFT: i128 = 10_000;

/// An exception: Python's (or simpleeval's) class name, its message and the column of the
/// expression that raised it. `Unsupported` marks what dockvar does not model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub kind: &'static str,
    pub message: String,
    pub column: usize,
}

/// The class name of what dockvar does not evaluate (counted as no match, like an exception).
pub const UNSUPPORTED: &str = "Unsupported";

pub(super) mod raise {
    use super::Raised;

    pub(crate) fn new(kind: &'static str, column: usize, message: impl Into<String>) -> Raised {
        Raised { kind, message: message.into(), column }
    }
    pub(crate) fn type_error(column: usize, message: impl Into<String>) -> Raised {
        new("TypeError", column, message)
    }
    pub(crate) fn value_error(column: usize, message: impl Into<String>) -> Raised {
        new("ValueError", column, message)
    }
    pub(crate) fn unsupported(column: usize, message: impl Into<String>) -> Raised {
        new(super::UNSUPPORTED, column, message)
    }
    pub(crate) fn overflow(column: usize) -> Raised {
        unsupported(column, "the result is beyond dockvar's 128-bit integers")
    }
}

pub(super) type Result<T> = std::result::Result<T, Raised>;

/// Evaluates `expr` with `data` bound to the connector's `data:` value.
pub(super) fn eval<'a>(expr: &'a Expr, data: &'a crate::metadata::Value) -> Result<Obj<'a>> {
    Evaluator { data }.eval(expr)
}

pub(super) struct Evaluator<'a> {
    data: &'a crate::metadata::Value,
}

impl<'a> Evaluator<'a> {
    pub(super) fn eval(&self, expr: &'a Expr) -> Result<Obj<'a>> {
        match expr {
            Expr::Const(c, col) => constant(c, *col),
            Expr::Name(name, col) => match name.as_str() {
                "data" => Ok(Obj::from_value(self.data)),
                "int" => Ok(Obj::Func(Builtin::Int)),
                "float" => Ok(Obj::Func(Builtin::Float)),
                "str" => Ok(Obj::Func(Builtin::Str)),
                "rand" => Ok(Obj::Func(Builtin::Rand)),
                "randint" => Ok(Obj::Func(Builtin::RandInt)),
                _ => Err(raise::new("NameNotDefined", *col, format!("'{name}' is not defined"))),
            },
            Expr::Attr(target, name, col) => attribute(self, target, name, *col),
            Expr::Call(func, args, keywords, col) => call(self, func, args, keywords, *col),
            Expr::Subscript(target, index, col) => {
                let container = self.eval(target)?;
                let key = self.eval(index)?;
                subscript(container, &key, *col)
            }
            Expr::Slice(lower, upper, step, _) => {
                let part = |e: &'a Option<Box<Expr>>| e.as_deref().map_or(Ok(Obj::None), |e| self.eval(e));
                Ok(Obj::Slice(Rc::new([part(lower)?, part(upper)?, part(step)?])))
            }
            Expr::Unary(op, operand, col) => {
                let value = self.eval(operand)?;
                unary(*op, value, *col)
            }
            Expr::Binary(op, left, right, col) => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                binary(*op, a, b, *col)
            }
            Expr::And(items) => {
                let mut result = Obj::Bool(false);
                for item in items {
                    result = self.eval(item)?;
                    if !result.truthy() {
                        break;
                    }
                }
                Ok(result)
            }
            Expr::Or(items) => {
                let mut result = Obj::Bool(false);
                for item in items {
                    result = self.eval(item)?;
                    if result.truthy() {
                        break;
                    }
                }
                Ok(result)
            }
            Expr::Compare(first, rest) => {
                let mut right = self.eval(first)?;
                let mut result = true;
                for (op, operand, col) in rest {
                    if !result {
                        break;
                    }
                    let left = right;
                    right = self.eval(operand)?;
                    result = compare(*op, &left, &right, *col)?;
                }
                Ok(Obj::Bool(result))
            }
            Expr::IfElse { test, body, orelse } => {
                if self.eval(test)?.truthy() {
                    self.eval(body)
                } else {
                    self.eval(orelse)
                }
            }
            Expr::FString(parts, col) => Ok(Obj::str(self.fstring(parts, *col)?)),
            Expr::Refused(kind, col) => Err(raise::new(
                "FeatureNotAvailable",
                *col,
                format!("Sorry, {kind} is not available in this evaluator"),
            )),
        }
    }

    fn fstring(&self, parts: &'a [FPart], col: usize) -> Result<String> {
        let mut out = String::new();
        for part in parts {
            let piece = match part {
                FPart::Text(t) => t.clone(),
                FPart::Field(expr, None) => self.eval(expr)?.to_str()?,
                FPart::Field(expr, Some(spec)) => {
                    let spec = self.fstring(spec, col)?;
                    let value = self.eval(expr)?;
                    format_spec(&value, &spec, col)?
                }
            };
            if out.chars().count() + piece.chars().count() > MAX_STRING_LENGTH {
                return Err(raise::new("IterableTooLong", col, "Sorry, I will not evaluate something this long."));
            }
            out.push_str(&piece);
        }
        Ok(out)
    }
}

fn constant<'a>(c: &'a Const, col: usize) -> Result<Obj<'a>> {
    Ok(match c {
        Const::None => Obj::None,
        Const::Bool(b) => Obj::Bool(*b),
        Const::Int(i) => Obj::Int(*i),
        Const::Float(f) => Obj::Float(*f),
        Const::Str(s) => {
            if s.chars().count() > MAX_STRING_LENGTH {
                return Err(raise::new("IterableTooLong", col, "Literal in statement is too long!"));
            }
            Obj::Str(std::borrow::Cow::Borrowed(s))
        }
        Const::Other(kind) => return Err(raise::unsupported(col, format!("dockvar has no {kind} values"))),
    })
}

/// `container[key]`.
pub(super) fn subscript<'a>(container: Obj<'a>, key: &Obj<'a>, col: usize) -> Result<Obj<'a>> {
    match &container {
        Obj::Map(entries) => {
            if !key.is_hashable() {
                return Err(raise::type_error(col, format!("unhashable type: '{}'", key.short_type())));
            }
            match entries.iter().find(|(k, _)| py_eq(&Obj::from_value(k), key)) {
                Some((_, v)) => Ok(Obj::from_value(v)),
                None => Err(raise::new("KeyError", col, key.repr().unwrap_or_default())),
            }
        }
        Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_) | Obj::Str(_) => {
            let what = match container {
                Obj::Str(_) => "string",
                Obj::Tuple(_) => "tuple",
                _ => "list",
            };
            let items = container.elements().unwrap_or_default();
            if let Obj::Slice(parts) = key {
                let picked = slice_items(items, parts, col)?;
                return Ok(match container {
                    Obj::Str(_) => Obj::str(picked.iter().map(|o| o.to_str().unwrap_or_default()).collect::<String>()),
                    Obj::Tuple(_) => Obj::Tuple(Rc::new(picked)),
                    _ => Obj::list(picked),
                });
            }
            let Some(i) = key.index() else {
                return Err(raise::type_error(
                    col,
                    format!("{what} indices must be integers or slices, not {}", key.short_type()),
                ));
            };
            let len = items.len() as i128;
            let at = if i < 0 { i + len } else { i };
            if at < 0 || at >= len {
                return Err(raise::new("IndexError", col, format!("{what} index out of range")));
            }
            Ok(items.into_iter().nth(at as usize).unwrap_or(Obj::None))
        }
        _ => Err(raise::type_error(col, format!("'{}' object is not subscriptable", container.short_type()))),
    }
}

/// The items a slice picks, with Python's clamping of bounds.
fn slice_items<'a>(items: Vec<Obj<'a>>, parts: &[Obj<'a>; 3], col: usize) -> Result<Vec<Obj<'a>>> {
    let bound = |o: &Obj<'a>| -> Result<Option<i128>> {
        match o {
            Obj::None => Ok(None),
            other => other.index().map(Some).ok_or_else(|| {
                raise::type_error(col, "slice indices must be integers or None or have an __index__ method".to_string())
            }),
        }
    };
    let (lower, upper, step) = (bound(&parts[0])?, bound(&parts[1])?, bound(&parts[2])?);
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(raise::value_error(col, "slice step cannot be zero"));
    }
    let len = items.len() as i128;
    let clamp = |v: i128, low: i128, high: i128| v.clamp(low, high);
    let norm = |v: Option<i128>, default: i128, low: i128, high: i128| match v {
        None => default,
        Some(v) if v < 0 => clamp(v + len, low, high),
        Some(v) => clamp(v, low, high),
    };
    let mut picked = Vec::new();
    if step > 0 {
        let (start, stop) = (norm(lower, 0, 0, len), norm(upper, len, 0, len));
        let mut i = start;
        while i < stop {
            picked.push(items[i as usize].clone());
            i += step;
        }
    } else {
        let (start, stop) = (norm(lower, len - 1, -1, len - 1), norm(upper, -1, -1, len - 1));
        let mut i = start;
        while i > stop {
            picked.push(items[i as usize].clone());
            i += step;
        }
    }
    Ok(picked)
}

/// `x in container`.
pub(super) fn contains(container: &Obj<'_>, item: &Obj<'_>, col: usize) -> Result<bool> {
    match container {
        Obj::Str(s) => match item {
            Obj::Str(sub) => Ok(s.contains(sub.as_ref())),
            other => Err(raise::type_error(
                col,
                format!("'in <string>' requires string as left operand, not {}", other.short_type()),
            )),
        },
        Obj::Map(entries) | Obj::Keys(entries) => {
            if !item.is_hashable() {
                return Err(raise::type_error(col, format!("unhashable type: '{}'", item.short_type())));
            }
            Ok(entries.iter().any(|(k, _)| py_eq(&Obj::from_value(k), item)))
        }
        Obj::Items(entries) => {
            let Obj::Tuple(pair) = item else { return Ok(false) };
            if pair.len() != 2 {
                return Ok(false);
            }
            if !pair[0].is_hashable() {
                return Err(raise::type_error(col, format!("unhashable type: '{}'", pair[0].short_type())));
            }
            Ok(entries.iter().any(|(k, v)| {
                py_eq(&Obj::from_value(k), &pair[0]) && {
                    let value = Obj::from_value(v);
                    identical(&value, &pair[1]) || py_eq(&value, &pair[1])
                }
            }))
        }
        Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_) | Obj::Values(_) => {
            Ok(container.elements().unwrap_or_default().iter().any(|e| identical(e, item) || py_eq(e, item)))
        }
        other => Err(raise::type_error(col, format!("argument of type '{}' is not iterable", other.short_type()))),
    }
}

fn compare(op: CmpOp, a: &Obj<'_>, b: &Obj<'_>, col: usize) -> Result<bool> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => py_eq(a, b),
        CmpOp::Ne => !py_eq(a, b),
        CmpOp::Is => identical(a, b),
        CmpOp::IsNot => !identical(a, b),
        CmpOp::In => contains(b, a, col)?,
        CmpOp::NotIn => !contains(b, a, col)?,
        CmpOp::Lt => py_cmp(a, b, "<", col)? == Some(Less),
        CmpOp::Le => matches!(py_cmp(a, b, "<=", col)?, Some(Less | Equal)),
        CmpOp::Gt => py_cmp(a, b, ">", col)? == Some(Greater),
        CmpOp::Ge => matches!(py_cmp(a, b, ">=", col)?, Some(Greater | Equal)),
    })
}

fn unary<'a>(op: UnaryOp, value: Obj<'a>, col: usize) -> Result<Obj<'a>> {
    let bad = |name: &str, v: &Obj<'_>| {
        raise::type_error(col, format!("bad operand type for unary {name}: '{}'", v.short_type()))
    };
    match op {
        UnaryOp::Not => Ok(Obj::Bool(!value.truthy())),
        UnaryOp::Neg => match value.number() {
            Some(Num::Int(i)) => i.checked_neg().map(Obj::Int).ok_or_else(|| raise::overflow(col)),
            Some(Num::Float(f)) => Ok(Obj::Float(-f)),
            None => Err(bad("-", &value)),
        },
        UnaryOp::Pos => match value.number() {
            Some(Num::Int(i)) => Ok(Obj::Int(i)),
            Some(Num::Float(f)) => Ok(Obj::Float(f)),
            None => Err(bad("+", &value)),
        },
        UnaryOp::Invert => match value.number() {
            Some(Num::Int(i)) => Ok(Obj::Int(!i)),
            _ => Err(bad("~", &value)),
        },
    }
}

fn unsupported_operands(op: BinOp, a: &Obj<'_>, b: &Obj<'_>, col: usize) -> Raised {
    raise::type_error(
        col,
        format!("unsupported operand type(s) for {}: '{}' and '{}'", op.symbol(), a.short_type(), b.short_type()),
    )
}

fn float_of(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// Python's floor division and modulo on ints.
fn int_divmod(a: i128, b: i128, col: usize) -> Result<(i128, i128)> {
    if b == 0 {
        return Err(raise::new("ZeroDivisionError", col, "integer division or modulo by zero"));
    }
    let q = a.checked_div(b).ok_or_else(|| raise::overflow(col))?;
    let r = a - q * b;
    if r != 0 && ((r < 0) != (b < 0)) { Ok((q - 1, r + b)) } else { Ok((q, r)) }
}

fn float_divmod(a: f64, b: f64, col: usize) -> Result<(f64, f64)> {
    if b == 0.0 {
        return Err(raise::new("ZeroDivisionError", col, "float floor division by zero"));
    }
    let mut m = a % b;
    if m != 0.0 && ((m < 0.0) != (b < 0.0)) {
        m += b;
    }
    let div = (a - m) / b;
    let mut floordiv = div.floor();
    if div - floordiv > 0.5 {
        floordiv += 1.0;
    }
    if m == 0.0 {
        m = 0.0_f64.copysign(b);
    }
    if div == 0.0 {
        floordiv = 0.0_f64.copysign(a / b);
    }
    Ok((floordiv, m))
}

pub(super) fn binary<'a>(op: BinOp, a: Obj<'a>, b: Obj<'a>, col: usize) -> Result<Obj<'a>> {
    let too_long = || raise::new("IterableTooLong", col, "Sorry, I will not evaluate something that long.");
    let nums = a.number().zip(b.number());
    match op {
        BinOp::Add => {
            if let (Some(x), Some(y)) = (a.len(), b.len())
                && x + y > MAX_STRING_LENGTH
            {
                return Err(too_long());
            }
            match (&a, &b, nums) {
                (_, _, Some((Num::Int(x), Num::Int(y)))) => {
                    x.checked_add(y).map(Obj::Int).ok_or_else(|| raise::overflow(col))
                }
                (_, _, Some((x, y))) => Ok(Obj::Float(float_of(x) + float_of(y))),
                (Obj::Str(x), Obj::Str(y), _) => Ok(Obj::str(format!("{x}{y}"))),
                (Obj::Seq(_) | Obj::List(_), Obj::Seq(_) | Obj::List(_), _) | (Obj::Tuple(_), Obj::Tuple(_), _) => {
                    let mut items = a.elements().unwrap_or_default();
                    items.extend(b.elements().unwrap_or_default());
                    Ok(if matches!(a, Obj::Tuple(_)) { Obj::Tuple(Rc::new(items)) } else { Obj::list(items) })
                }
                (Obj::Seq(_) | Obj::List(_), _, _) => Err(raise::type_error(
                    col,
                    format!("can only concatenate list (not \"{}\") to list", b.short_type()),
                )),
                (Obj::Str(_), _, _) => {
                    Err(raise::type_error(col, format!("can only concatenate str (not \"{}\") to str", b.short_type())))
                }
                _ => Err(unsupported_operands(op, &a, &b, col)),
            }
        }
        BinOp::Sub => match nums {
            Some((Num::Int(x), Num::Int(y))) => x.checked_sub(y).map(Obj::Int).ok_or_else(|| raise::overflow(col)),
            Some((x, y)) => Ok(Obj::Float(float_of(x) - float_of(y))),
            None if matches!(a, Obj::Keys(_) | Obj::Items(_)) => {
                Err(raise::unsupported(col, "dockvar has no sets (dict view arithmetic)"))
            }
            None => Err(unsupported_operands(op, &a, &b, col)),
        },
        BinOp::Mul => {
            // safe_mult: `b * len(a)` first, which itself may raise.
            for (seq, count) in [(&a, &b), (&b, &a)] {
                if let Some(len) = seq.len() {
                    match count.number() {
                        Some(Num::Int(n)) if n.saturating_mul(len as i128) > MAX_STRING_LENGTH as i128 => {
                            return Err(too_long());
                        }
                        Some(Num::Float(f)) if f * len as f64 > MAX_STRING_LENGTH as f64 => return Err(too_long()),
                        Some(_) => {}
                        None if count.len().is_some()
                            && !matches!(count, Obj::Str(_) | Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_)) => {}
                        None => {
                            // `str * len` is a repetition compared with an int: a TypeError
                            // either way, which the operation below also raises.
                        }
                    }
                }
            }
            match (&a, &b, nums) {
                (_, _, Some((Num::Int(x), Num::Int(y)))) => {
                    x.checked_mul(y).map(Obj::Int).ok_or_else(|| raise::overflow(col))
                }
                (_, _, Some((x, y))) => Ok(Obj::Float(float_of(x) * float_of(y))),
                (seq @ (Obj::Str(_) | Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_)), n, _)
                | (n, seq @ (Obj::Str(_) | Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_)), _)
                    if n.index().is_some() =>
                {
                    let times = n.index().unwrap_or(0).max(0) as usize;
                    Ok(match seq {
                        Obj::Str(s) => Obj::str(s.repeat(times)),
                        Obj::Tuple(items) => {
                            Obj::Tuple(Rc::new(items.iter().cloned().cycle().take(items.len() * times).collect()))
                        }
                        other => {
                            let items = other.elements().unwrap_or_default();
                            let len = items.len();
                            Obj::list(items.into_iter().cycle().take(len * times).collect())
                        }
                    })
                }
                (Obj::Str(_) | Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_), _, _)
                | (_, Obj::Str(_) | Obj::Seq(_) | Obj::List(_) | Obj::Tuple(_), _) => Err(raise::type_error(
                    col,
                    format!(
                        "can't multiply sequence by non-int of type '{}'",
                        if a.len().is_some() { b.short_type() } else { a.short_type() }
                    ),
                )),
                _ => Err(unsupported_operands(op, &a, &b, col)),
            }
        }
        BinOp::Div => match nums {
            Some((x, y)) => {
                let y = float_of(y);
                if y == 0.0 {
                    return Err(raise::new("ZeroDivisionError", col, "division by zero"));
                }
                Ok(Obj::Float(float_of(x) / y))
            }
            None => Err(unsupported_operands(op, &a, &b, col)),
        },
        BinOp::FloorDiv => match nums {
            Some((Num::Int(x), Num::Int(y))) => Ok(Obj::Int(int_divmod(x, y, col)?.0)),
            Some((x, y)) => Ok(Obj::Float(float_divmod(float_of(x), float_of(y), col)?.0)),
            None => Err(unsupported_operands(op, &a, &b, col)),
        },
        BinOp::Mod => match (&a, nums) {
            (_, Some((Num::Int(x), Num::Int(y)))) => Ok(Obj::Int(int_divmod(x, y, col)?.1)),
            (_, Some((x, y))) => {
                let y = float_of(y);
                if y == 0.0 {
                    return Err(raise::new("ZeroDivisionError", col, "float modulo"));
                }
                Ok(Obj::Float(float_divmod(float_of(x), y, col)?.1))
            }
            (Obj::Str(fmt), _) => Ok(Obj::str(super::builtins::percent_format(fmt, &b, col)?)),
            _ => Err(unsupported_operands(op, &a, &b, col)),
        },
        BinOp::Pow => {
            for side in [&a, &b] {
                match side.number() {
                    Some(Num::Int(i)) if i.abs() > MAX_POWER => {
                        return Err(raise::new("NumberTooHigh", col, "Sorry! I don't want to evaluate that power"));
                    }
                    Some(Num::Float(f)) if f.abs() > MAX_POWER as f64 => {
                        return Err(raise::new("NumberTooHigh", col, "Sorry! I don't want to evaluate that power"));
                    }
                    Some(_) => {}
                    None => {
                        return Err(raise::type_error(
                            col,
                            format!("bad operand type for abs(): '{}'", side.short_type()),
                        ));
                    }
                }
            }
            match nums {
                Some((Num::Int(x), Num::Int(y))) if y >= 0 => {
                    let exp = u32::try_from(y).map_err(|_| raise::overflow(col))?;
                    x.checked_pow(exp).map(Obj::Int).ok_or_else(|| raise::overflow(col))
                }
                Some((x, y)) => {
                    let (x, y) = (float_of(x), float_of(y));
                    if x == 0.0 && y < 0.0 {
                        return Err(raise::new("ZeroDivisionError", col, "0.0 cannot be raised to a negative power"));
                    }
                    if x < 0.0 && y.fract() != 0.0 {
                        return Err(raise::unsupported(col, "dockvar has no complex numbers"));
                    }
                    let r = x.powf(y);
                    if r.is_infinite() && x.is_finite() && y.is_finite() {
                        return Err(raise::new("OverflowError", col, "(34, 'Numerical result out of range')"));
                    }
                    Ok(Obj::Float(r))
                }
                None => Err(unsupported_operands(op, &a, &b, col)),
            }
        }
        BinOp::LShift | BinOp::RShift => {
            let (Some(x), Some(y)) = (a.index(), b.index()) else {
                if let Some(n) = b.number()
                    && matches!(n, Num::Int(i) if i.abs() > MAX_SHIFT)
                {
                    return Err(raise::new("NumberTooHigh", col, "Sorry! I don't want to evaluate that shift"));
                }
                return Err(unsupported_operands(op, &a, &b, col));
            };
            if y.abs() > MAX_SHIFT {
                return Err(raise::new("NumberTooHigh", col, "Sorry! I don't want to evaluate that shift"));
            }
            if y < 0 {
                return Err(raise::value_error(col, "negative shift count"));
            }
            if op == BinOp::RShift {
                return Ok(Obj::Int(if y >= 127 { if x < 0 { -1 } else { 0 } } else { x >> y }));
            }
            if x == 0 {
                return Ok(Obj::Int(0));
            }
            let bits = 128 - x.unsigned_abs().leading_zeros() as i128;
            if bits + y >= 127 {
                return Err(raise::overflow(col));
            }
            Ok(Obj::Int(x << y))
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => match (&a, &b) {
            (Obj::Bool(x), Obj::Bool(y)) => Ok(Obj::Bool(match op {
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                _ => x ^ y,
            })),
            _ => match (a.index(), b.index()) {
                (Some(x), Some(y)) => Ok(Obj::Int(match op {
                    BinOp::BitAnd => x & y,
                    BinOp::BitOr => x | y,
                    _ => x ^ y,
                })),
                _ if matches!(a, Obj::Keys(_) | Obj::Items(_)) || matches!((&a, &b), (Obj::Map(_), Obj::Map(_))) => {
                    Err(raise::unsupported(col, "dockvar has no sets or dict merges"))
                }
                _ => Err(unsupported_operands(op, &a, &b, col)),
            },
        },
        BinOp::MatMul => Err(raise::new("OperatorNotDefined", col, "Operator '@' does not exist")),
    }
}
