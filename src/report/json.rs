//! Results in, the JSON documents dockvar prints out; every document carries
//! `schema_version` and lists in a deterministic order.

use std::io;

use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Value, json};

use crate::dockerfile::{Args, Dockerfile, Instruction, ParseError};
use crate::group::{Problem, Scan, ScannedConnector, Template, Variant};

use super::SCHEMA_VERSION;

pub fn to_text(value: &Value) -> String {
    use serde::Serialize;
    let mut buffer = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, SafeFormatter(PrettyFormatter::new()));
    if value.serialize(&mut serializer).is_err() {
        return "{}\n".into();
    }
    let mut text = String::from_utf8(buffer).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// serde_json's pretty printer, with the characters a terminal must not see raw (DEL, C1
/// controls, bidirectional overrides; C0 controls are escaped by JSON itself) written as
/// `\uXXXX` escapes: the same JSON values, safe to print.
struct SafeFormatter<'a>(PrettyFormatter<'a>);

impl Formatter for SafeFormatter<'_> {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if super::escape::is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

pub fn problems(problems: &[Problem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|p| json!({"connector": p.connector, "path": p.path, "line": p.line, "message": p.message}))
            .collect(),
    )
}

pub fn variant(v: &Variant) -> Value {
    json!({
        "id": v.id,
        "hash": v.hash,
        "count": v.count,
        "connectors": v.connectors,
        "example": v.example,
        "traits": v.traits,
        "family": v.family,
        "template": v.template,
        "nearest": v.nearest,
    })
}

pub fn template(t: &Template) -> Value {
    json!({
        "id": t.id,
        "count": t.count,
        "variants": t.variants,
        "connectors": t.connectors,
        "parameters": t.parameters,
    })
}

/// `variants show TEMPLATE`: the template, its text with `${P1}`… and its parameters.
pub fn template_detail(t: &Template) -> Value {
    let mut value = template(t);
    if let Value::Object(map) = &mut value {
        map.insert("text".into(), Value::String(t.text.clone()));
    }
    json!({ "schema_version": SCHEMA_VERSION, "template": value })
}

pub fn variants(scan: &Scan) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "root": scan.root,
        "layout": scan.layout,
        "normalizer": scan.normalizer,
        "connectors_selected": scan.connectors.len(),
        "connectors_without_dockerfile": scan.without_dockerfile(),
        "variants": scan.variants.iter().map(variant).collect::<Vec<_>>(),
        "templates": scan.templates.iter().map(template).collect::<Vec<_>>(),
        "skipped": scan.skipped,
        "errors": problems(&scan.problems),
    })
}

/// `variants show`: the variant, its canonical text and its connectors' Dockerfiles.
pub fn variant_detail(v: &Variant) -> Value {
    let mut value = variant(v);
    if let Value::Object(map) = &mut value {
        map.insert("canonical".into(), Value::String(v.canonical.clone()));
    }
    json!({ "schema_version": SCHEMA_VERSION, "variant": value })
}

pub fn connector(s: &ScannedConnector) -> Value {
    let c = &s.connector;
    json!({
        "name": c.name,
        "type": c.connector_type,
        "language": c.language,
        "support_level": c.support_level,
        "image": c.image,
        "dockerfile": c.dockerfile,
        "base_image": c.base_image,
        "variant": s.variant_id(),
    })
}

pub fn connectors(scan: &Scan) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "root": scan.root,
        "connectors": scan.connectors.iter().map(connector).collect::<Vec<_>>(),
        "errors": problems(&scan.problems),
    })
}

pub fn instruction(ins: &Instruction) -> Value {
    let (form, args) = match &ins.args {
        Args::Shell(text) => ("shell", json!(text)),
        Args::Exec(items) => ("exec", json!(items)),
        Args::Heredoc(text) => ("heredoc", json!(text)),
        Args::Pairs(pairs) => ("pairs", json!(pairs)),
        Args::Words(words) => ("words", json!(words)),
    };
    json!({
        "line": ins.line,
        "end_line": ins.end_line,
        "keyword": ins.keyword,
        "sub_keyword": ins.sub_keyword,
        "flags": ins.flags,
        "form": form,
        "args": args,
        "json": ins.json,
        "values": ins.values,
        "heredocs": ins.heredocs,
    })
}

/// One file of `dockvar parse`.
pub fn parsed_file(path: &str, result: &Result<(Dockerfile, String), ParseError>) -> Value {
    match result {
        Ok((df, canonical)) => json!({
            "path": path,
            "error": Value::Null,
            "escape": df.escape.to_string(),
            "syntax": df.syntax,
            "stages": df.stages,
            "instructions": df.instructions.iter().map(instruction).collect::<Vec<_>>(),
            "canonical": canonical,
        }),
        Err(e) => json!({
            "path": path,
            "error": e.to_string(),
            "instructions": [],
            "canonical": Value::Null,
        }),
    }
}

pub fn parsed_files(files: Vec<Value>) -> Value {
    json!({ "schema_version": SCHEMA_VERSION, "files": files })
}

/// `report.json`: the whole analysis, in the shape `report.html` is drawn from.
pub fn report(a: &crate::report::Analysis) -> Value {
    let scan = &a.scan;
    let variants: Vec<Value> = scan
        .variants
        .iter()
        .map(|v| {
            let mut value = variant(v);
            if let Value::Object(map) = &mut value {
                map.insert("canonical".into(), Value::String(v.canonical.clone()));
            }
            value
        })
        .collect();
    let images: Vec<Value> = a
        .images
        .iter()
        .map(|i| {
            let f = i.facts();
            json!({
                "variant": i.variant,
                "connector": i.connector,
                "reference": i.reference,
                "source": f.map(|f| f.source.clone()),
                "error": i.error(),
                "os": f.and_then(|f| f.os.pretty_name.clone().or(f.os.id.clone())),
                "os_id": f.and_then(|f| f.os.id.clone()),
                "architecture": f.and_then(|f| f.architecture.clone()),
                "python": f.and_then(|f| f.python.as_ref().map(|p| p.version.clone())),
                "pip": f.and_then(|f| f.pip.as_ref().map(|p| p.version.clone())),
                "timezone": f.and_then(|f| f.timezone.as_ref().map(|t| t.version.clone())),
                "user": f.map(|f| f.user.name.clone().unwrap_or_else(|| if f.user.spec.is_empty() { "root".into() } else { f.user.spec.clone() })),
                "packages": f.map(|f| f.packages.items.len()),
                "package_manager": f.map(|f| f.packages.manager.clone()),
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "root": scan.root,
        "normalizer": scan.normalizer,
        "selection": a.selection,
        "connectors_selected": scan.connectors.len(),
        "connectors_without_dockerfile": scan.without_dockerfile(),
        "variants": variants,
        "differences": a.differences,
        "images": images,
        "base_images": base_images(a),
        "versions": { "python": a.packages.python, "pip": a.packages.pip },
        "env": a.env,
        "packages": { "images": a.packages.images, "union": a.packages.union },
        "recommendation": a.recommendation,
        "errors": problems(&scan.problems),
    })
}

/// Base images of the final stages, with their family and how many variants and connectors
/// use each; sorted by connectors, then name.
pub fn base_images(a: &crate::report::Analysis) -> Vec<Value> {
    let mut rows: std::collections::BTreeMap<String, (String, usize, usize)> = std::collections::BTreeMap::new();
    for (v, i) in a.scan.variants.iter().zip(&a.images) {
        let base = v.traits.final_base.clone().unwrap_or_else(|| "(unknown)".into());
        let family = crate::recommend::family_of(v, i.facts()).to_string();
        let entry = rows.entry(base).or_insert((family, 0, 0));
        entry.1 += 1;
        entry.2 += v.count;
    }
    let mut out: Vec<(String, (String, usize, usize))> = rows.into_iter().collect();
    out.sort_by(|a, b| b.1.2.cmp(&a.1.2).then_with(|| a.0.cmp(&b.0)));
    out.into_iter()
        .map(|(image, (family, variants, connectors))| json!({"image": image, "family": family, "variants": variants, "connectors": connectors}))
        .collect()
}

#[cfg(test)]
mod safe_text_tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_json_escapes_and_values_stay_exact() {
        let value = json!({"v": "a\u{9b}b\u{202e}c\u{1b}d\u{7f}é"});
        let text = to_text(&value);
        assert_eq!(text, "{\n  \"v\": \"a\\u009bb\\u202ec\\u001bd\\u007fé\"\n}\n");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
