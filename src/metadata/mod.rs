//! A `metadata.yaml`'s text in, its `data:` value out, typed as Airbyte's tooling sees it:
//! PyYAML's `yaml.safe_load` (YAML 1.1 scalars: dates, `yes`/`on` booleans, `0x`/`017`/`1_000`
//! integers, sexagesimal numbers; duplicate keys keep the last value; `<<` merge keys;
//! `!!str`-style tags), or the line and reason it cannot be.
//!
//! Parsing is `yaml-rust2`'s event parser (maintained; `serde_yaml` is deprecated), read
//! event by event so that nesting is capped at [`MAX_DEPTH`] before a deep document costs
//! anything, and alias expansion at [`MAX_NODES`].

mod resolve;
mod value;

pub use resolve::resolve_plain;
pub use value::{Date, DateTime, Value, float_repr};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of sequences and mappings read; real metadata nests 5 levels, and PyYAML
/// itself gives up (RecursionError) a few hundred levels down.
pub const MAX_DEPTH: usize = 100;

/// Most nodes a document may expand to through aliases.
pub const MAX_NODES: usize = 1_000_000;

/// Why a metadata.yaml could not be loaded; `line` counts from 1 (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LoadError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> LoadError {
    LoadError { line, message: message.into() }
}

/// The whole document, as `yaml.safe_load` returns it (`Value::Null` for an empty file).
pub fn load(text: &str) -> Result<Value, LoadError> {
    let mut builder = Builder { parser: Parser::new_from_str(text), anchors: Vec::new(), nodes: 0, last_line: 1 };
    builder.document()
}

/// `yaml.safe_load(text)["data"]`: the value of the top-level `data` key, whatever its type.
pub fn load_data(text: &str) -> Result<Value, LoadError> {
    match load(text)? {
        Value::Map(entries) => entries
            .into_iter()
            .find(|(k, _)| k.as_str() == Some("data"))
            .map(|(_, v)| v)
            .ok_or_else(|| error(1, "no top-level `data:` mapping")),
        Value::Null => Err(error(1, "the file is empty: no top-level `data:` mapping")),
        other => Err(error(1, format!("the document is a {}, not a mapping with `data:`", kind(&other)))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::Date(_) | Value::DateTime(_) => "timestamp",
        Value::Seq(_) => "sequence",
        Value::Map(_) => "mapping",
    }
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// Anchored nodes by the parser's anchor id.
    anchors: Vec<(usize, Value)>,
    nodes: usize,
    last_line: usize,
}

/// What a node's first event says about it.
enum Start {
    Scalar(String, TScalarStyle, Option<Tag>),
    Sequence(Option<Tag>),
    Mapping(Option<Tag>),
    Alias(usize),
}

const CORE: &str = "tag:yaml.org,2002:";

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!!" || tag.handle == CORE {
        format!("{CORE}{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), LoadError> {
        match self.parser.next_token() {
            Ok((event, mark)) => {
                self.last_line = mark.line().max(1);
                Ok((event, mark))
            }
            Err(e) => {
                let line = e.marker().line().max(1);
                Err(error(line, format!("not valid YAML: {}", e.info())))
            }
        }
    }

    fn document(&mut self) -> Result<Value, LoadError> {
        let mut value = None;
        loop {
            let (event, mark) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(value.unwrap_or(Value::Null)),
                Event::DocumentStart => {
                    if value.is_some() {
                        return Err(error(
                            mark.line().max(1),
                            "expected a single document in the stream, but found another document",
                        ));
                    }
                    let (event, mark) = self.next()?;
                    value = Some(self.node(event, mark, 0)?);
                }
                other => {
                    // An implicit document starts with its root node.
                    if value.is_some() {
                        return Err(error(mark.line().max(1), "expected a single document in the stream"));
                    }
                    value = Some(self.node(other, mark, 0)?);
                }
            }
        }
    }

    fn start(event: Event) -> Option<(Start, usize)> {
        Some(match event {
            Event::Scalar(text, style, anchor, tag) => (Start::Scalar(text, style, tag), anchor),
            Event::SequenceStart(anchor, tag) => (Start::Sequence(tag), anchor),
            Event::MappingStart(anchor, tag) => (Start::Mapping(tag), anchor),
            Event::Alias(id) => (Start::Alias(id), 0),
            _ => return None,
        })
    }

    fn count(&mut self, n: usize, line: usize) -> Result<(), LoadError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(error(line, format!("the document expands to more than {MAX_NODES} nodes (aliases)")));
        }
        Ok(())
    }

    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<Value, LoadError> {
        let line = mark.line().max(1);
        let Some((start, anchor)) = Self::start(event) else {
            return Err(error(line, "not valid YAML: expected a node"));
        };
        let value = match start {
            Start::Alias(id) => {
                let Some((_, value)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(error(line, "found undefined alias"));
                };
                let value = value.clone();
                self.count(size(&value), line)?;
                return Ok(value);
            }
            Start::Scalar(text, style, tag) => {
                self.count(1, line)?;
                scalar(text, style, tag.as_ref(), line)?
            }
            Start::Sequence(tag) => {
                self.count(1, line)?;
                check_tag(tag.as_ref(), "seq", line)?;
                if depth >= MAX_DEPTH {
                    return Err(error(line, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let mut items = Vec::new();
                loop {
                    let (event, mark) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, mark, depth + 1)?);
                }
                Value::Seq(items)
            }
            Start::Mapping(tag) => {
                self.count(1, line)?;
                check_tag(tag.as_ref(), "map", line)?;
                if depth >= MAX_DEPTH {
                    return Err(error(line, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                self.mapping(depth, line)?
            }
        };
        if anchor != 0 {
            self.anchors.push((anchor, value.clone()));
        }
        Ok(value)
    }

    /// A mapping's entries, merge keys flattened first, then each key set in order: a later
    /// duplicate replaces the value and keeps the first position, as a Python dict does.
    fn mapping(&mut self, depth: usize, line: usize) -> Result<Value, LoadError> {
        let mut own: Vec<(Value, Value, usize)> = Vec::new();
        let mut merged: Vec<(Value, Value)> = Vec::new();
        loop {
            let (event, mark) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let key_line = mark.line().max(1);
            let is_merge = matches!(&event, Event::Scalar(t, TScalarStyle::Plain, _, None) if t == "<<");
            let key = self.node(event, mark, depth + 1)?;
            let (event, mark) = self.next()?;
            let value = self.node(event, mark, depth + 1)?;
            if is_merge {
                let maps: Vec<Value> = match value {
                    Value::Map(_) => vec![value],
                    Value::Seq(items) => items,
                    _ => {
                        return Err(error(key_line, "expected a mapping or list of mappings for merging"));
                    }
                };
                // PyYAML merges the listed mappings last to first, so the first one wins.
                for map in maps.into_iter().rev() {
                    let Value::Map(entries) = map else {
                        return Err(error(key_line, "expected a mapping for merging"));
                    };
                    merged.extend(entries);
                }
                continue;
            }
            own.push((key, value, key_line));
        }
        let mut entries: Vec<(Value, Value)> = Vec::with_capacity(merged.len() + own.len());
        let all = merged.into_iter().map(|(k, v)| (k, v, line)).chain(own);
        for (key, value, key_line) in all {
            if matches!(key, Value::Seq(_) | Value::Map(_)) {
                return Err(error(key_line, "found unhashable key"));
            }
            match entries.iter_mut().find(|(k, _)| keys_equal(k, &key)) {
                Some(slot) => slot.1 = value,
                None => entries.push((key, value)),
            }
        }
        Ok(Value::Map(entries))
    }
}

/// Python dict key equality: `1`, `1.0` and `True` are the same key.
fn keys_equal(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => a == b,
            _ => false,
        },
    }
}

fn size(value: &Value) -> usize {
    match value {
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
        _ => 1,
    }
}

fn check_tag(tag: Option<&Tag>, kind: &str, line: usize) -> Result<(), LoadError> {
    match tag.map(tag_name) {
        None => Ok(()),
        Some(name) if name == format!("{CORE}{kind}") || name == "!" => Ok(()),
        Some(name) => Err(error(line, format!("could not determine a constructor for the tag '{name}'"))),
    }
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>, line: usize) -> Result<Value, LoadError> {
    let at_line = |message: String| error(line, message);
    let Some(tag) = tag else {
        return if style == TScalarStyle::Plain { resolve_plain(&text).map_err(at_line) } else { Ok(Value::Str(text)) };
    };
    let name = tag_name(tag);
    let suffix = name.strip_prefix(CORE).unwrap_or("");
    let resolved = || resolve_plain(&text).map_err(|m| error(line, m));
    match suffix {
        _ if name == "!" => Ok(Value::Str(text)),
        "str" => Ok(Value::Str(text)),
        "null" => Ok(Value::Null),
        "bool" => match resolved()? {
            b @ Value::Bool(_) => Ok(b),
            _ => Err(at_line(format!("'{text}' is not a boolean"))),
        },
        "int" => match resolved()? {
            i @ Value::Int(_) => Ok(i),
            _ => text
                .replace('_', "")
                .parse::<i128>()
                .map(Value::Int)
                .map_err(|_| at_line(format!("invalid literal for int() with base 10: '{text}'"))),
        },
        "float" => match resolved()? {
            f @ Value::Float(_) => Ok(f),
            Value::Int(i) => Ok(Value::Float(i as f64)),
            _ => text
                .replace('_', "")
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| at_line(format!("could not convert string to float: '{text}'"))),
        },
        "timestamp" => match resolved()? {
            t @ (Value::Date(_) | Value::DateTime(_)) => Ok(t),
            _ => Err(at_line(format!("'{text}' is not a timestamp"))),
        },
        _ => Err(at_line(format!("could not determine a constructor for the tag '{name}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyyaml_typing() {
        let v = load_data(
            "data:\n  a: yes\n  b: '1.0'\n  c: 2023-01-01\n  d: !!str 1\n  a: 2\n  e: [1, 0x10]\n  f: ~\n  g: \"x\"\n",
        )
        .unwrap();
        let Value::Map(entries) = &v else { panic!() };
        assert_eq!(entries.len(), 7);
        assert_eq!(v.get("a"), Some(&Value::Int(2)));
        assert_eq!(entries[0].0, Value::Str("a".into()));
        assert_eq!(v.get("b"), Some(&Value::Str("1.0".into())));
        assert!(matches!(v.get("c"), Some(Value::Date(_))));
        assert_eq!(v.get("d"), Some(&Value::Str("1".into())));
        assert_eq!(v.get("e"), Some(&Value::Seq(vec![Value::Int(1), Value::Int(16)])));
        assert_eq!(v.get("f"), Some(&Value::Null));
    }

    #[test]
    fn merges_and_aliases() {
        let v = load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n").unwrap();
        let other = v.get("other").unwrap();
        assert_eq!(other.get("x"), Some(&Value::Int(1)));
        assert_eq!(other.get("y"), Some(&Value::Int(3)));
    }

    #[test]
    fn errors_carry_lines() {
        assert!(load_data("data:\n  name: x\n  bad: [unclosed\n").unwrap_err().line >= 3);
        assert_eq!(load_data("other: 1\n").unwrap_err().line, 1);
        assert!(load("a: 1\n---\nb: 2\n").is_err());
        assert!(load("a: !custom 1\n").is_err());
        assert!(load("a: 2023-02-30\n").is_err());
        assert!(load("? [1]\n: 2\n").is_err());
        assert_eq!(load("").unwrap(), Value::Null);
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = "[".repeat(200_000);
        let e = load(&format!("data: {deep}")).unwrap_err();
        assert!(e.message.contains("nesting") || e.message.contains("recursion limit"), "{e}");
        let block: String = (0..150).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert!(load(&block).unwrap_err().message.contains("nesting"));
    }
}
