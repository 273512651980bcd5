//! Results in, the JSON documents dockvar prints out; every document carries
//! `schema_version` and lists in a deterministic order.

use serde_json::{Value, json};

use crate::dockerfile::{Args, Dockerfile, Instruction, ParseError};
use crate::group::{Problem, Scan, ScannedConnector, Variant};

use super::SCHEMA_VERSION;

pub fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
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
        "nearest": v.nearest,
    })
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
        "flags": ins.flags,
        "form": form,
        "args": args,
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
