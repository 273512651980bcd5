//! `str` methods for the evaluator: a receiver's text, a method name and its arguments in,
//! the method's result out, with Python's semantics (code points, Python's whitespace and
//! line breaks, slice-clamped `start`/`end` arguments).

use super::builtins::{Call, find_in, is_py_space, need_index, need_str, strs, tuple, window};
use super::eval::{MAX_STRING_LENGTH, Result, raise};
use super::object::{Obj, is_printable};

fn cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase()
}

fn upper_first(c: char) -> String {
    c.to_uppercase().collect()
}

/// Python's line boundaries for `splitlines()`.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `str.split` / `str.rsplit` with `sep=None`: runs of whitespace, at most `max` splits.
fn split_whitespace(s: &str, max: Option<usize>, from_right: bool) -> Vec<String> {
    let chars: Vec<char> = if from_right { s.chars().rev().collect() } else { s.chars().collect() };
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && is_py_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if max.is_some_and(|m| parts.len() == m) {
            // The remainder keeps its whitespace, as Python's does.
            parts.push(chars[i..].iter().collect());
            break;
        }
        let start = i;
        while i < chars.len() && !is_py_space(chars[i]) {
            i += 1;
        }
        parts.push(chars[start..i].iter().collect());
    }
    if from_right {
        parts = parts.into_iter().rev().map(|p| p.chars().rev().collect()).collect();
    }
    parts
}

pub(super) fn str_method<'a>(s: &str, name: &'static str, call: Call<'a>) -> Result<Obj<'a>> {
    let col = call.col;
    let chars: Vec<char> = s.chars().collect();
    let all = |f: &dyn Fn(char) -> bool| !chars.is_empty() && chars.iter().all(|c| f(*c));
    let no_args = |call: &Call<'a>| call.none(name);
    match name {
        "lower" => no_args(&call).map(|()| Obj::str(s.to_lowercase())),
        "upper" => no_args(&call).map(|()| Obj::str(s.to_uppercase())),
        "casefold" => no_args(&call).map(|()| Obj::str(s.to_lowercase().replace('ß', "ss"))),
        "swapcase" => no_args(&call).map(|()| {
            Obj::str(
                chars
                    .iter()
                    .map(|c| {
                        if c.is_uppercase() { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() }
                    })
                    .collect::<String>(),
            )
        }),
        "capitalize" => no_args(&call).map(|()| {
            let mut out = String::new();
            if let Some((first, rest)) = chars.split_first() {
                out.push_str(&upper_first(*first));
                out.extend(rest.iter().flat_map(|c| c.to_lowercase()));
            }
            Obj::str(out)
        }),
        "title" => no_args(&call).map(|()| {
            let mut out = String::new();
            let mut previous_cased = false;
            for c in &chars {
                if previous_cased {
                    out.extend(c.to_lowercase());
                } else {
                    out.push_str(&upper_first(*c));
                }
                previous_cased = cased(*c);
            }
            Obj::str(out)
        }),
        "isdigit" | "isdecimal" => {
            no_args(&call).map(|()| Obj::Bool(all(&|c| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()))))
        }
        "isnumeric" => no_args(&call).map(|()| Obj::Bool(all(&|c| c.is_numeric()))),
        "isalpha" => no_args(&call).map(|()| Obj::Bool(all(&|c| c.is_alphabetic()))),
        "isalnum" => no_args(&call).map(|()| Obj::Bool(all(&|c| c.is_alphanumeric()))),
        "isspace" => no_args(&call).map(|()| Obj::Bool(all(&is_py_space))),
        "isascii" => no_args(&call).map(|()| Obj::Bool(s.is_ascii())),
        "isprintable" => no_args(&call).map(|()| Obj::Bool(chars.iter().all(|c| is_printable(*c)))),
        "isidentifier" => no_args(&call).map(|()| {
            Obj::Bool(
                chars.first().is_some_and(|c| *c == '_' || c.is_alphabetic())
                    && chars.iter().all(|c| *c == '_' || c.is_alphanumeric()),
            )
        }),
        "islower" => no_args(&call)
            .map(|()| Obj::Bool(chars.iter().any(|c| cased(*c)) && !chars.iter().any(|c| c.is_uppercase()))),
        "isupper" => no_args(&call)
            .map(|()| Obj::Bool(chars.iter().any(|c| cased(*c)) && !chars.iter().any(|c| c.is_lowercase()))),
        "istitle" => no_args(&call).map(|()| {
            let mut previous_cased = false;
            let mut any = false;
            for c in &chars {
                if c.is_uppercase() {
                    if previous_cased {
                        return Obj::Bool(false);
                    }
                    previous_cased = true;
                    any = true;
                } else if c.is_lowercase() {
                    if !previous_cased {
                        return Obj::Bool(false);
                    }
                    previous_cased = true;
                    any = true;
                } else {
                    previous_cased = false;
                }
            }
            Obj::Bool(any)
        }),
        "strip" | "lstrip" | "rstrip" => {
            let bound = call.bind(name, &["chars"], 0, false)?;
            let set: Option<Vec<char>> = match &bound[0] {
                None | Some(Obj::None) => None,
                Some(o) => Some(need_str(o, &format!("{name} arg"), col)?.chars().collect()),
            };
            let strip = |c: char| set.as_ref().map_or(is_py_space(c), |set| set.contains(&c));
            let out = match name {
                "strip" => s.trim_matches(strip),
                "lstrip" => s.trim_start_matches(strip),
                _ => s.trim_end_matches(strip),
            };
            Ok(Obj::str(out))
        }
        "split" | "rsplit" => {
            let bound = call.bind(name, &["sep", "maxsplit"], 0, true)?;
            let max = match &bound[1] {
                None => None,
                Some(m) => {
                    let m = need_index(m, col)?;
                    (m >= 0).then_some(m as usize)
                }
            };
            match &bound[0] {
                None | Some(Obj::None) => Ok(strs(split_whitespace(s, max, name == "rsplit"))),
                Some(sep) => {
                    let sep = need_str(sep, "must be str or None, not", col).map_err(|_| {
                        raise::type_error(col, format!("must be str or None, not {}", sep.short_type()))
                    })?;
                    if sep.is_empty() {
                        return Err(raise::value_error(col, "empty separator"));
                    }
                    let parts: Vec<String> = match (name, max) {
                        ("split", None) => s.split(sep).map(str::to_string).collect(),
                        ("split", Some(m)) => s.splitn(m + 1, sep).map(str::to_string).collect(),
                        (_, None) => s.split(sep).map(str::to_string).collect(),
                        (_, Some(m)) => {
                            let mut p: Vec<String> = s.rsplitn(m + 1, sep).map(str::to_string).collect();
                            p.reverse();
                            p
                        }
                    };
                    Ok(strs(parts))
                }
            }
        }
        "splitlines" => {
            let bound = call.bind(name, &["keepends"], 0, true)?;
            let keep = bound[0].as_ref().is_some_and(Obj::truthy);
            let mut lines = Vec::new();
            let mut current = String::new();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                if is_line_break(c) {
                    let mut ending = c.to_string();
                    if c == '\r' && chars.get(i + 1) == Some(&'\n') {
                        ending.push('\n');
                        i += 1;
                    }
                    if keep {
                        current.push_str(&ending);
                    }
                    lines.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
                i += 1;
            }
            if !current.is_empty() {
                lines.push(current);
            }
            Ok(strs(lines))
        }
        "startswith" | "endswith" => {
            let bound = call.bind(name, &["prefix", "start", "end"], 1, false)?;
            let (start, end) = window(chars.len(), bound[1].as_ref(), bound[2].as_ref(), col)?;
            let part: String = if start <= end { chars[start..end].iter().collect() } else { String::new() };
            let test = |p: &str| {
                if start > chars.len() || (start > end && !p.is_empty()) {
                    return false;
                }
                if name == "startswith" { part.starts_with(p) } else { part.ends_with(p) }
            };
            match bound[0].as_ref() {
                Some(Obj::Str(p)) => Ok(Obj::Bool(test(p))),
                Some(Obj::Tuple(items)) => {
                    for item in items.iter() {
                        let Obj::Str(p) = item else {
                            return Err(raise::type_error(
                                col,
                                format!("tuple for {name} must only contain str, not {}", item.short_type()),
                            ));
                        };
                        if test(p) {
                            return Ok(Obj::Bool(true));
                        }
                    }
                    Ok(Obj::Bool(false))
                }
                Some(other) => Err(raise::type_error(
                    col,
                    format!("{name} first arg must be str or a tuple of str, not {}", other.short_type()),
                )),
                None => Err(raise::type_error(col, format!("{name}() takes at least 1 argument (0 given)"))),
            }
        }
        "find" | "rfind" | "index" | "rindex" | "count" => {
            let bound = call.bind(name, &["sub", "start", "end"], 1, false)?;
            let sub: Vec<char> = need_str(bound[0].as_ref().unwrap_or(&Obj::None), "must be", col)
                .map_err(|_| {
                    raise::type_error(
                        col,
                        format!("must be str, not {}", bound[0].as_ref().map_or("NoneType", |o| o.short_type())),
                    )
                })?
                .chars()
                .collect();
            let (start, end) = window(chars.len(), bound[1].as_ref(), bound[2].as_ref(), col)?;
            if start > end || start > chars.len() {
                return match name {
                    "count" => Ok(Obj::Int(0)),
                    "index" | "rindex" => Err(raise::value_error(col, "substring not found")),
                    _ => Ok(Obj::Int(-1)),
                };
            }
            let hay = &chars[start..end];
            if name == "count" {
                if sub.is_empty() {
                    return Ok(Obj::Int(hay.len() as i128 + 1));
                }
                let mut n = 0;
                let mut i = 0;
                while i + sub.len() <= hay.len() {
                    if hay[i..i + sub.len()] == sub[..] {
                        n += 1;
                        i += sub.len();
                    } else {
                        i += 1;
                    }
                }
                return Ok(Obj::Int(n));
            }
            let found = find_in(hay, &sub, name.starts_with('r')).map(|i| (i + start) as i128);
            match (found, name) {
                (Some(i), _) => Ok(Obj::Int(i)),
                (None, "index" | "rindex") => Err(raise::value_error(col, "substring not found")),
                (None, _) => Ok(Obj::Int(-1)),
            }
        }
        "replace" => {
            let bound = call.bind(name, &["old", "new", "count"], 2, false)?;
            let old = need_str(bound[0].as_ref().unwrap_or(&Obj::None), "replace() argument 1", col)?.to_string();
            let new = need_str(bound[1].as_ref().unwrap_or(&Obj::None), "replace() argument 2", col)?.to_string();
            let count = bound[2].as_ref().map(|c| need_index(c, col)).transpose()?;
            let out = match count {
                Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
                _ => s.replace(&old, &new),
            };
            if out.chars().count() > MAX_STRING_LENGTH * 100 {
                return Err(raise::unsupported(col, "the result is too long"));
            }
            Ok(Obj::str(out))
        }
        "removeprefix" | "removesuffix" => {
            let bound = call.bind(name, &["affix"], 1, false)?;
            let affix = need_str(bound[0].as_ref().unwrap_or(&Obj::None), &format!("{name}() argument"), col)?;
            let out = if name == "removeprefix" { s.strip_prefix(affix) } else { s.strip_suffix(affix) };
            Ok(Obj::str(out.unwrap_or(s)))
        }
        "partition" | "rpartition" => {
            let bound = call.bind(name, &["sep"], 1, false)?;
            let sep = need_str(bound[0].as_ref().unwrap_or(&Obj::None), "must be", col).map_err(|_| {
                raise::type_error(
                    col,
                    format!("must be str, not {}", bound[0].as_ref().map_or("NoneType", |o| o.short_type())),
                )
            })?;
            if sep.is_empty() {
                return Err(raise::value_error(col, "empty separator"));
            }
            let split = if name == "partition" { s.split_once(sep) } else { s.rsplit_once(sep) };
            Ok(tuple(match split {
                Some((a, b)) => vec![Obj::str(a), Obj::str(sep), Obj::str(b)],
                None if name == "partition" => vec![Obj::str(s), Obj::str(""), Obj::str("")],
                None => vec![Obj::str(""), Obj::str(""), Obj::str(s)],
            }))
        }
        "join" => {
            let bound = call.bind(name, &["iterable"], 1, false)?;
            let iterable = bound[0].clone().unwrap_or(Obj::None);
            let Some(items) = iterable.elements() else {
                return Err(raise::type_error(col, "can only join an iterable"));
            };
            let mut parts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Obj::Str(p) = item else {
                    return Err(raise::type_error(
                        col,
                        format!("sequence item {i}: expected str instance, {} found", item.short_type()),
                    ));
                };
                parts.push(p.to_string());
            }
            Ok(Obj::str(parts.join(s)))
        }
        "zfill" => {
            let bound = call.bind(name, &["width"], 1, false)?;
            let width = need_index(bound[0].as_ref().unwrap_or(&Obj::None), col)?;
            let len = chars.len() as i128;
            if width <= len {
                return Ok(Obj::str(s));
            }
            let fill = "0".repeat((width - len).min(MAX_STRING_LENGTH as i128 * 100) as usize);
            Ok(Obj::str(match chars.first() {
                Some(c @ ('+' | '-')) => format!("{c}{fill}{}", &s[1..]),
                _ => format!("{fill}{s}"),
            }))
        }
        "center" | "ljust" | "rjust" => {
            let bound = call.bind(name, &["width", "fillchar"], 1, false)?;
            let width = need_index(bound[0].as_ref().unwrap_or(&Obj::None), col)?;
            let fill = match &bound[1] {
                None => ' ',
                Some(Obj::Str(f)) if f.chars().count() == 1 => f.chars().next().unwrap_or(' '),
                Some(_) => return Err(raise::type_error(col, "The fill character must be exactly one character long")),
            };
            let len = chars.len() as i128;
            if width <= len {
                return Ok(Obj::str(s));
            }
            let pad = (width - len).min(MAX_STRING_LENGTH as i128 * 100) as usize;
            let (left, right) = match name {
                "ljust" => (0, pad),
                "rjust" => (pad, 0),
                _ => {
                    let left = pad / 2 + (pad & width as usize & 1);
                    (left, pad - left)
                }
            };
            let f = fill.to_string();
            Ok(Obj::str(format!("{}{s}{}", f.repeat(left), f.repeat(right))))
        }
        "expandtabs" => {
            let bound = call.bind(name, &["tabsize"], 0, true)?;
            let size = bound[0].as_ref().map(|t| need_index(t, col)).transpose()?.unwrap_or(8);
            let mut out = String::new();
            let mut column = 0i128;
            for c in &chars {
                match c {
                    '\t' => {
                        if size > 0 {
                            let n = size - column % size;
                            out.push_str(&" ".repeat(n as usize));
                            column += n;
                        }
                    }
                    '\n' | '\r' => {
                        out.push(*c);
                        column = 0;
                    }
                    c => {
                        out.push(*c);
                        column += 1;
                    }
                }
            }
            Ok(Obj::str(out))
        }
        _ => Err(raise::unsupported(col, format!("str.{name}() is not modelled"))),
    }
}
