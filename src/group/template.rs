//! Variants in, `Template`s out: variants that are the same once literal values (version
//! numbers, hashes and digests, ARG/ENV values, base image tags, distro codenames and
//! variant names) are replaced by parameters share a template; each parameter says where it
//! sits and which value it takes in which variant.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Variant;
use crate::dockerfile::VariantHash;

/// Words that name a distribution release or an image flavour, replaced like versions.
const CODENAMES: &[&str] = &[
    "alpine",
    "bionic",
    "bookworm",
    "bullseye",
    "buster",
    "focal",
    "forky",
    "jammy",
    "jessie",
    "nanoserver",
    "noble",
    "oracular",
    "plucky",
    "slim",
    "stretch",
    "trixie",
    "ubi",
    "windowsservercore",
    "xenial",
    "ltsc",
];

/// Variants that differ only in parameter values.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// `t` and the first 6 hex digits of the SHA-256 of the template text.
    pub id: String,
    /// Connectors (or Dockerfiles) over all its variants.
    pub count: usize,
    /// Variant IDs, largest first.
    pub variants: Vec<String>,
    /// Sorted names of the connectors or files.
    pub connectors: Vec<String>,
    pub parameters: Vec<Parameter>,
    /// The canonical text with `${P1}`… where the parameters sit.
    #[serde(skip)]
    pub text: String,
}

/// One parameter: the places that take the same values in the same variants.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// `P1`, `P2`, … in order of first appearance.
    pub name: String,
    /// Keyword of the instruction it first appears in.
    pub instruction: String,
    /// 1-based canonical line of the first appearance.
    pub line: usize,
    /// The ARG/ENV name, `tag`/`digest` in FROM, or the kind of value (`version`, `hash`,
    /// `digest`, `codename`).
    pub key: String,
    /// How many places take this parameter.
    pub occurrences: usize,
    /// Variant ID → value.
    pub values: BTreeMap<String, String>,
}

/// A piece of a canonical line: literal text or a value that may become a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot { key: String, value: String },
}

impl Piece {
    fn is_codename(&self) -> bool {
        matches!(self, Piece::Slot { key, .. } if key == "codename")
    }
}

/// A canonical line cut into literal text and slots.
fn pieces(line: &str) -> Vec<Piece> {
    let keyword = line.split(' ').next().unwrap_or("");
    let mut out = Vec::new();
    let mut first_word = true;
    for (i, word) in split_keep(line).into_iter().enumerate() {
        if word.chars().all(char::is_whitespace) {
            push_text(&mut out, word);
            continue;
        }
        if first_word {
            first_word = false;
            push_text(&mut out, word);
            continue;
        }
        match keyword {
            "ENV" | "ARG" if i > 0 => match word.split_once('=') {
                Some((key, value)) if !value.is_empty() => {
                    push_text(&mut out, &format!("{key}="));
                    out.push(Piece::Slot { key: key.to_string(), value: value.to_string() });
                }
                _ => push_text(&mut out, word),
            },
            "FROM" if !word.starts_with("--") && word != "AS" && !word.starts_with("stage-") => {
                from_image(word, &mut out);
            }
            _ => scan_values(word, &mut out),
        }
    }
    out
}

/// Splits into words and the whitespace between them, both kept.
fn split_keep(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in line.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            parts.push(&line[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < line.len() {
        parts.push(&line[start..]);
    }
    parts
}

fn push_text(out: &mut Vec<Piece>, text: &str) {
    if let Some(Piece::Text(t)) = out.last_mut() {
        t.push_str(text);
    } else {
        out.push(Piece::Text(text.to_string()));
    }
}

/// `name:tag@digest`: the tag's values are slots (the whole tag when none is found), and so
/// is the digest.
fn from_image(word: &str, out: &mut Vec<Piece>) {
    let (name_tag, digest) = match word.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (word, None),
    };
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name_tag, None),
    };
    push_text(out, name);
    if let Some(tag) = tag {
        push_text(out, ":");
        let mut tag_pieces = Vec::new();
        scan_values(tag, &mut tag_pieces);
        if tag_pieces.iter().any(|p| matches!(p, Piece::Slot { .. })) {
            for p in tag_pieces {
                match p {
                    Piece::Text(t) => push_text(out, &t),
                    slot => out.push(slot),
                }
            }
        } else {
            out.push(Piece::Slot { key: "tag".into(), value: tag.to_string() });
        }
    }
    if let Some(digest) = digest {
        push_text(out, "@");
        out.push(Piece::Slot { key: "digest".into(), value: digest.to_string() });
    }
}

/// Finds versions, hashes, digests and codenames inside one word.
fn scan_values(word: &str, out: &mut Vec<Piece>) {
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Piece>| {
        if !text.is_empty() {
            push_text(out, text);
            text.clear();
        }
    };
    while i < chars.len() {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if let Some((len, key)) = value_at(&chars, i, boundary) {
            flush(&mut text, out);
            out.push(Piece::Slot { key: key.into(), value: chars[i..i + len].iter().collect() });
            i += len;
        } else {
            text.push(chars[i]);
            i += 1;
        }
    }
    flush(&mut text, out);
}

/// The length and kind of a value starting at `i`, if one does.
fn value_at(chars: &[char], i: usize, boundary: bool) -> Option<(usize, &'static str)> {
    let rest: String = chars[i..].iter().collect();
    if boundary && let Some(hex) = rest.strip_prefix("sha256:") {
        let n = hex.chars().take_while(char::is_ascii_hexdigit).count();
        if n == 64 {
            return Some((7 + 64, "digest"));
        }
    }
    let alnum_run = chars[i..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if boundary {
        let hex_run = chars[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let run: String = chars[i..i + hex_run].iter().collect();
        if hex_run >= 12
            && hex_run == alnum_run
            && run.chars().any(|c| c.is_ascii_digit())
            && run.chars().any(|c| c.is_ascii_alphabetic())
        {
            return Some((hex_run, "hash"));
        }
        let lower = rest.to_ascii_lowercase();
        for name in CODENAMES {
            if let Some(after) = lower.strip_prefix(name) {
                // A codename with its version (`alpine3.20`, `ltsc2022`, `ubi9`).
                let version = version_len(&after.chars().collect::<Vec<_>>(), 0, true);
                let len = name.len() + version;
                let next = chars.get(i + len);
                if next.is_none_or(|c| !c.is_ascii_alphanumeric()) {
                    return Some((len, "codename"));
                }
            }
        }
    }
    if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit() && chars[i - 1] != '.') {
        let len = version_len(chars, i, false);
        if len > 0 {
            return Some((len, "version"));
        }
    }
    None
}

/// Length of a version number at `i`: `3.12`, `3.12.7`, `3.14.0rc2`; with `bare`, plain
/// digits count too.
fn version_len(chars: &[char], i: usize, bare: bool) -> usize {
    let digits = |from: usize| chars[from.min(chars.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut len = digits(i);
    if len == 0 {
        return 0;
    }
    let mut dots = 0;
    while chars.get(i + len) == Some(&'.') && digits(i + len + 1) > 0 {
        len += 1 + digits(i + len + 1);
        dots += 1;
    }
    if dots == 0 && !bare {
        return 0;
    }
    // A pre-release suffix: `rc2`, `a1`, `b3`.
    let suffix = chars[(i + len).min(chars.len())..].iter().take_while(|c| c.is_ascii_lowercase()).count();
    if (1..=2).contains(&suffix) && digits(i + len + suffix) > 0 {
        len += suffix + digits(i + len + suffix);
    }
    len
}

/// The template text with every slot shown as `\u{1}`: variants with equal skeletons share
/// a template.
fn skeleton(lines: &[Vec<Piece>]) -> String {
    let mut out = String::new();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for p in line {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Slot { .. } => out.push('\u{1}'),
            }
        }
    }
    out
}

/// Cut lines of every variant, for templates and nearest-variant scoring.
pub struct Cut {
    lines: Vec<Vec<Piece>>,
    pub skeleton: String,
}

pub fn cut(lines: &[String]) -> Cut {
    let lines: Vec<Vec<Piece>> = lines.iter().map(|l| pieces(l)).collect();
    let skeleton = skeleton(&lines);
    Cut { lines, skeleton }
}

/// How two variants of one template differ: (codename slots, other slots) that differ.
pub fn slot_differences(a: &Cut, b: &Cut) -> (usize, usize) {
    let mut codenames = 0;
    let mut others = 0;
    for (la, lb) in a.lines.iter().zip(&b.lines) {
        for (pa, pb) in la.iter().zip(lb) {
            if pa != pb {
                if pa.is_codename() || pb.is_codename() {
                    codenames += 1;
                } else {
                    others += 1;
                }
            }
        }
    }
    (codenames, others)
}

/// Groups variants (sorted largest first) into templates and sets each variant's template.
pub fn assign_templates(variants: &mut [Variant]) -> Vec<Template> {
    let cuts: Vec<Cut> = variants.iter().map(|v| cut(&v.lines)).collect();
    let mut order: Vec<String> = Vec::new();
    let mut members: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in cuts.iter().enumerate() {
        // A variant that does not parse has no lines; it is its own template.
        let key = if variants[i].lines.is_empty() { format!("\u{2}{}", variants[i].hash) } else { c.skeleton.clone() };
        members.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        if let Some(m) = members.get_mut(&key) {
            m.push(i);
        }
    }
    let mut templates = Vec::with_capacity(order.len());
    for key in order {
        let idx = members.remove(&key).unwrap_or_default();
        let template = build(variants, &cuts, &idx, &key);
        for &i in &idx {
            variants[i].template = template.id.clone();
        }
        templates.push(template);
    }
    templates.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    templates
}

fn build(variants: &[Variant], cuts: &[Cut], idx: &[usize], key: &str) -> Template {
    let first = &cuts[idx[0]];
    let mut params: Vec<Parameter> = Vec::new();
    let mut by_values: HashMap<Vec<String>, usize> = HashMap::new();
    let mut text = String::new();
    for (n, line) in first.lines.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        for (k, piece) in line.iter().enumerate() {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Slot { key, value } => {
                    let column: Vec<String> = idx
                        .iter()
                        .map(|&i| match cuts[i].lines.get(n).and_then(|l| l.get(k)) {
                            Some(Piece::Slot { value, .. }) => value.clone(),
                            _ => String::new(),
                        })
                        .collect();
                    if column.iter().all(|v| v == value) {
                        text.push_str(value);
                        continue;
                    }
                    let p = *by_values.entry(column.clone()).or_insert_with(|| {
                        let instruction = line.iter().find_map(|p| match p {
                            Piece::Text(t) => t.split(' ').next().map(str::to_string),
                            _ => None,
                        });
                        params.push(Parameter {
                            name: format!("P{}", params.len() + 1),
                            instruction: instruction.unwrap_or_default(),
                            line: n + 1,
                            key: key.clone(),
                            occurrences: 0,
                            values: idx
                                .iter()
                                .zip(&column)
                                .map(|(&i, v)| (variants[i].id.clone(), v.clone()))
                                .collect(),
                        });
                        params.len() - 1
                    });
                    params[p].occurrences += 1;
                    text.push_str(&format!("${{{}}}", params[p].name));
                }
            }
        }
    }
    let mut connectors: Vec<String> = idx.iter().flat_map(|&i| variants[i].connectors.iter().cloned()).collect();
    connectors.sort();
    let hash = VariantHash::of(key);
    Template {
        id: format!("t{}", &hash.0[..6]),
        count: idx.iter().map(|&i| variants[i].count).sum(),
        variants: idx.iter().map(|&i| variants[i].id.clone()).collect(),
        connectors,
        parameters: params,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(line: &str) -> Vec<(String, String)> {
        pieces(line)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Slot { key, value } => Some((key, value)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn finds_values_in_lines() {
        assert_eq!(
            slots("FROM python:3.12.7-slim-bookworm AS stage-0"),
            vec![
                ("version".into(), "3.12.7".into()),
                ("codename".into(), "slim".into()),
                ("codename".into(), "bookworm".into())
            ]
        );
        assert_eq!(slots("FROM alpine:3.20 AS stage-0"), vec![("version".into(), "3.20".into())]);
        assert_eq!(slots("FROM node:lts AS stage-0"), vec![("tag".into(), "lts".into())]);
        assert_eq!(slots("ENV PYTHON_VERSION=3.13.0 LANG=C.UTF-8")[0], ("PYTHON_VERSION".into(), "3.13.0".into()));
        assert_eq!(
            slots("RUN wget https://x.org/Python-3.14.0rc2.tar.xz && echo 0123456789abcdef0123 -j 4"),
            vec![("version".into(), "3.14.0rc2".into()), ("hash".into(), "0123456789abcdef0123".into())]
        );
        assert_eq!(slots("RUN apk add --no-cache alpine3.21-x"), vec![("codename".into(), "alpine3.21".into())]);
        assert!(slots("RUN useradd -u 1000 app && python3 -m pip").is_empty());
    }

    #[test]
    fn base_tags_differ_by_one_parameter() {
        let a = cut(&["FROM python:3.9-slim AS stage-0".to_string(), "RUN pip install .".to_string()]);
        let b = cut(&["FROM python:3.9.11-slim AS stage-0".to_string(), "RUN pip install .".to_string()]);
        assert_eq!(a.skeleton, b.skeleton);
        assert_eq!(slot_differences(&a, &b), (0, 1));
    }
}
