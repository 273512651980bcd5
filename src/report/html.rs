//! A `report.json` value in, one self-contained HTML page out: the seed notebook's story
//! (variants, base images and versions, env variables, packages, recommendation, problems)
//! told with the report's numbers, with inline SVG charts from `svg`.
//!
//! The page loads nothing: no scripts, no external styles, fonts or images, and a
//! Content-Security-Policy that forbids them, so it can be mailed or attached as is. Every
//! field of the input may be missing, null or of the wrong type; the page then says so
//! instead of failing. Arrays are read in order and objects by key, or in the order of
//! `env.images` and then serde_json's own, never a hash map's: the same input always gives
//! the same bytes.

use std::fmt::Write;

use serde_json::Value;

use super::svg::{self, BarOptions, CellState, MatrixCell, escape};

/// Fill of the connectors-per-variant bars; no other element of the page uses it, so a
/// screenshot test can find the bars by colour.
pub const VARIANT_BAR_COLOR: &str = "#4e79a7";
const FAMILY_BAR_COLOR: &str = "#e15759";
const PYTHON_BAR_COLOR: &str = "#76b7b2";
const PIP_BAR_COLOR: &str = "#edc948";

/// The report's section headings with their anchors, in page order.
pub const SECTIONS: [(&str, &str); 7] = [
    ("summary", "Summary"),
    ("variants", "Variants"),
    ("base-images", "Base images and versions"),
    ("env", "Environment variables"),
    ("packages", "Custom system packages"),
    ("recommendation", "Recommendation"),
    ("problems", "Problems"),
];

/// Shown in cells whose value the report does not have.
const MISSING: &str = "<span class=\"muted\">—</span>";

static NULL: Value = Value::Null;

const CSS: &str = r#"
:root { color-scheme: light; --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
header.page { background: #24313f; color: #fff; padding: 20px 32px; }
header.page h1 { margin: 0 0 4px; font-size: 24px; }
header.page p { margin: 0; color: #c9d4df; }
nav.toc { padding: 8px 32px; border-bottom: 1px solid var(--line); background: var(--soft); font-size: 14px; }
nav.toc a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { max-width: 1240px; padding: 0 32px 48px; }
section { margin-top: 28px; }
h2 { font-size: 21px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin: 0 0 12px; }
h3 { font-size: 17px; margin: 22px 0 8px; }
h4 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 8px 0; max-width: 900px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 13px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 4px; }
p code, li code { overflow-wrap: anywhere; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; white-space: pre; }
pre.diff .del { color: #b31d28; } pre.diff .add { color: #22863a; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.wrap td { overflow-wrap: anywhere; }
table.wrap td:first-child { overflow-wrap: normal; }
div.scroll { overflow-x: auto; max-width: 100%; }
tr.failed td { background: #fff5f5; }
.error { color: #b31d28; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; background: #fff; }
.card .value { font-size: 26px; font-weight: 700; }
.card .label { color: var(--muted); font-size: 13px; }
.card.bad .value { color: #b31d28; }
.charts { display: flex; flex-wrap: wrap; gap: 32px; align-items: flex-start; margin: 12px 0; }
svg.chart { display: block; max-width: 100%; height: auto; overflow: visible; }
.proposal { font-size: 18px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--accent); }
dl.connectors dt { font-weight: 600; margin-top: 6px; }
dl.connectors dd { margin-left: 16px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"#;

/// Renders the report as one HTML page.
pub fn render(report: &Value) -> String {
    let ctx = Ctx::new(report);
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &ctx);
    summary(&mut out, &ctx);
    variants(&mut out, &ctx);
    base_images(&mut out, &ctx);
    env(&mut out, &ctx);
    packages(&mut out, &ctx);
    recommendation(&mut out, &ctx);
    problems(&mut out, &ctx);
    let _ = write!(
        out,
        "<footer>Written by dockvar from report.json (schema version {}). This page is self-contained: it loads \
         no scripts, styles, fonts or images.</footer>\n</main>\n</body>\n</html>\n",
        text(field(report, "schema_version")).map_or_else(|| "unknown".to_string(), |v| escape(&v))
    );
    out
}

/// What several sections look up in the report.
struct Ctx<'a> {
    report: &'a Value,
    variants: &'a [Value],
    images: &'a [Value],
    /// Image reference and the short name charts use for it: the connector, unless two
    /// images share one.
    labels: Vec<(String, String)>,
}

impl<'a> Ctx<'a> {
    fn new(report: &'a Value) -> Self {
        let images = list(field(report, "images"));
        let pairs: Vec<(String, Option<String>)> =
            images.iter().filter_map(|i| Some((str_field(i, "reference")?, str_field(i, "connector")))).collect();
        let labels = pairs
            .iter()
            .map(|(reference, connector)| {
                let label = match connector {
                    Some(c) if pairs.iter().filter(|(_, other)| other.as_deref() == Some(c)).count() == 1 => c.clone(),
                    _ => reference.clone(),
                };
                (reference.clone(), label)
            })
            .collect();
        Ctx { report, variants: list(field(report, "variants")), images, labels }
    }

    fn get(&self, key: &str) -> &'a Value {
        field(self.report, key)
    }

    fn label(&self, reference: &str) -> String {
        self.labels.iter().find(|(r, _)| r == reference).map_or_else(|| reference.to_string(), |(_, l)| l.clone())
    }

    fn failed(&self) -> Vec<&'a Value> {
        self.images.iter().filter(|i| !field(i, "error").is_null()).collect()
    }

    /// The variant's 1-based rank, for sentences that say "variant 2".
    fn rank(&self, id: &str) -> Option<usize> {
        self.variants.iter().position(|v| str_field(v, "id").as_deref() == Some(id)).map(|p| p + 1)
    }
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&NULL)
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A value as plain text: strings as they are, booleans as yes/no, arrays joined; `None`
/// for null and missing values.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            if parts.is_empty() { None } else { Some(parts.join(", ")) }
        }
        Value::Object(_) => Some(v.to_string()),
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    text(field(v, key))
}

/// A count that may come as an integer, a float or a string.
fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f.round() as u64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    list(v).iter().filter_map(text).collect()
}

/// Escaped text, or a dash for missing values.
fn cell(v: Option<String>) -> String {
    v.map_or_else(|| MISSING.to_string(), |s| escape(&s))
}

fn code(v: Option<String>) -> String {
    v.map_or_else(|| MISSING.to_string(), |s| format!("<code>{}</code>", escape(&s)))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    // In u128: counts come from the input and may be anything up to u64::MAX.
    let (part, whole) = (u128::from(part), u128::from(whole));
    (part * 100 + whole / 2).checked_div(whole).map_or(0, |p| u64::try_from(p).unwrap_or(u64::MAX))
}

/// A table of pre-escaped HTML cells, or `empty` as a paragraph when there are no rows.
/// Headers starting with `#` are right-aligned number columns (the `#` is dropped). Tables
/// of long values (hashes, URLs) take the class `wrap`, which lets them break anywhere.
fn table(out: &mut String, class: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(empty));
        return;
    }
    let numeric: Vec<bool> = headers.iter().map(|h| h.starts_with('#') && h.len() > 1).collect();
    let _ = write!(out, "<div class=\"scroll\"><table class=\"{class}\">\n<thead><tr>");
    for (h, n) in headers.iter().zip(&numeric) {
        let name = if *n { &h[1..] } else { h };
        let _ = write!(out, "<th{}>{}</th>", if *n { " class=\"num\"" } else { "" }, escape(name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let num = numeric.get(i).copied().unwrap_or(false);
            let _ = write!(out, "<td{}>{c}</td>", if num { " class=\"num\"" } else { "" });
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// A comma-separated list of names, folded into a `<details>` that says how many `noun`s
/// when long.
fn names(items: &[String], noun: &str) -> String {
    let joined = items.iter().map(|i| format!("<code>{}</code>", escape(i))).collect::<Vec<_>>().join(", ");
    if items.len() <= 6 {
        joined
    } else {
        format!("<details><summary>{} {}</summary>{joined}</details>", items.len(), escape(noun))
    }
}

fn section_open(out: &mut String, index: usize) {
    let (id, title) = SECTIONS[index];
    let _ = write!(out, "<section id=\"{id}\">\n<h2>{title}</h2>\n");
}

fn head(out: &mut String, ctx: &Ctx<'_>) {
    let root = str_field(ctx.report, "root");
    let title = match &root {
        Some(r) => format!("Dockerfile variants of {r}"),
        None => "Dockerfile variants".to_string(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"dockvar\">\n<title>{} · dockvar report</title>\n<style>{CSS}</style>\n\
         </head>\n<body>\n<header class=\"page\">\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let mut meta = Vec::new();
    if let Some(s) = str_field(ctx.report, "selection") {
        meta.push(format!("Selection: {}", escape(&s)));
    }
    if let Some(n) = str_field(ctx.report, "normalizer") {
        meta.push(format!("normalizer: {}", escape(&n)));
    }
    if !meta.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", meta.join(" · "));
    }
    out.push_str("</header>\n<nav class=\"toc\">");
    for (id, title) in SECTIONS {
        let _ = write!(out, "<a href=\"#{id}\">{title}</a>");
    }
    out.push_str("</nav>\n<main>\n");
}

fn summary(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 0);
    let selected = count(ctx.get("connectors_selected"));
    let failed = ctx.failed().len() as u64;
    let inspected = ctx.images.len() as u64 - failed;
    let base = str_field(ctx.get("recommendation"), "base_image");
    out.push_str("<div class=\"cards\">");
    let mut card = |value: String, label: &str, bad: bool| {
        let _ = write!(
            out,
            "<div class=\"card{}\"><div class=\"value\">{value}</div><div class=\"label\">{label}</div></div>",
            if bad { " bad" } else { "" }
        );
    };
    card(selected.map_or_else(|| MISSING.to_string(), |n| n.to_string()), "connectors selected", false);
    card(ctx.variants.len().to_string(), "Dockerfile variants", false);
    card(inspected.to_string(), "images inspected", false);
    card(failed.to_string(), "images failed", failed > 0);
    card(list(ctx.get("base_images")).len().to_string(), "base images in use", false);
    out.push_str("</div>\n");

    let mut story = String::new();
    match (selected, str_field(ctx.report, "root")) {
        (Some(n), Some(root)) => {
            let _ = write!(
                story,
                "{} selected for analysis in <code>{}</code>",
                plural(n, "connector was", "connectors were"),
                escape(&root)
            );
        }
        (Some(n), None) => story.push_str(&plural(n, "connector was selected", "connectors were selected")),
        (None, _) => story.push_str("The report does not say how many connectors were selected"),
    }
    if let Some(sel) = str_field(ctx.report, "selection") {
        let _ = write!(story, " ({})", escape(&sel));
    }
    story.push_str(". ");
    let without = strings(ctx.get("connectors_without_dockerfile"));
    match without.len() {
        0 => {}
        n @ 1..=3 => {
            let codes: Vec<String> = without.iter().map(|w| format!("<code>{}</code>", escape(w))).collect();
            let verbs = if n == 1 { "has no Dockerfile and is" } else { "have no Dockerfile and are" };
            let _ = write!(story, "{} {verbs} left out. ", and_list(&codes));
        }
        n => {
            let _ = write!(story, "{n} of them have no Dockerfile and are left out. ");
        }
    }
    let total = ctx.variants.iter().map(variant_count).fold(0, u64::saturating_add);
    let top = ctx.variants.iter().take(3).map(variant_count).fold(0, u64::saturating_add);
    if ctx.variants.is_empty() {
        story.push_str("No Dockerfile variant was found. ");
    } else {
        let normalizer = str_field(ctx.report, "normalizer")
            .map_or_else(String::new, |n| format!(", once normalized ({}),", escape(&n)));
        let _ = write!(
            story,
            "Their Dockerfiles{normalizer} fall into {}",
            plural(ctx.variants.len() as u64, "variant", "variants")
        );
        if ctx.variants.len() > 3 {
            let _ = write!(story, "; the three largest cover {top} of {total} connectors ({}%)", percent(top, total));
        }
        story.push_str(". ");
    }
    if ctx.images.is_empty() {
        story.push_str("No image was inspected.");
    } else {
        let _ = write!(
            story,
            "One representative image per variant was inspected: {} read{}.",
            plural(inspected, "image was", "images were"),
            if failed > 0 {
                format!(", {failed} could not be (see <a href=\"#problems\">Problems</a>)")
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(out, "<p>{story}</p>");
    if let Some(b) = base {
        let _ = writeln!(
            out,
            "<p>dockvar proposes <code>{}</code> as the one base image for these connectors (see \
             <a href=\"#recommendation\">Recommendation</a>).</p>",
            escape(&b)
        );
    }
    out.push_str("</section>\n");
}

fn variant_count(v: &Value) -> u64 {
    count(field(v, "count")).unwrap_or_else(|| list(field(v, "connectors")).len() as u64)
}

fn variants(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 1);
    out.push_str(
        "<p>Connectors whose Dockerfiles are the same once connector names, comments, labels and blank lines are \
         normalized away share a variant. Looking at one image per variant tells how all connectors are built.</p>\n",
    );
    let bars: Vec<(String, u64)> = ctx
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (str_field(v, "id").unwrap_or_else(|| format!("#{}", i + 1)), variant_count(v)))
        .collect();
    let opts = BarOptions { id: "chart-variants", unit: "connectors", color: VARIANT_BAR_COLOR, width: 640 };
    out.push_str(&svg::bar_chart("Connectors per variant", &bars, &opts));
    out.push('\n');

    let rows: Vec<Vec<String>> = ctx
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let traits = field(v, "traits");
            let base = str_field(traits, "final_base").or_else(|| {
                let mut seen: Vec<String> = Vec::new();
                for b in strings(field(traits, "base_images")) {
                    if !seen.contains(&b) {
                        seen.push(b);
                    }
                }
                if seen.is_empty() { None } else { Some(seen.join(", ")) }
            });
            let nearest = field(v, "nearest");
            let nearest = match (str_field(nearest, "id"), count(field(nearest, "distance"))) {
                (Some(id), Some(d)) => format!("<code>{}</code> ({})", escape(&id), plural(d, "change", "changes")),
                (Some(id), None) => format!("<code>{}</code>", escape(&id)),
                _ => MISSING.to_string(),
            };
            vec![
                (i + 1).to_string(),
                code(str_field(v, "id")),
                variant_count(v).to_string(),
                code(base),
                cell(str_field(traits, "stages")),
                cell(str_field(traits, "package_manager")),
                cell(str_field(traits, "python_version")),
                code(str_field(v, "family")),
                nearest,
                code(str_field(field(v, "example"), "connector")),
            ]
        })
        .collect();
    table(
        out,
        "",
        &[
            "#Rank",
            "ID",
            "#Connectors",
            "Base image",
            "#Stages",
            "Package manager",
            "Python from tag",
            "Family",
            "Nearest",
            "Example connector",
        ],
        &rows,
        "No Dockerfile variant was found.",
    );
    if !ctx.variants.is_empty() {
        out.push_str("<details><summary>Connectors of each variant</summary>\n<dl class=\"connectors\">\n");
        for (i, v) in ctx.variants.iter().enumerate() {
            let connectors = strings(field(v, "connectors"));
            let _ = writeln!(
                out,
                "<dt>{}. {}</dt><dd>{}</dd>",
                i + 1,
                code(str_field(v, "id")),
                if connectors.is_empty() { MISSING.to_string() } else { escape(&connectors.join(", ")) }
            );
        }
        out.push_str("</dl>\n</details>\n");
    }

    for (i, v) in ctx.variants.iter().take(3).enumerate() {
        let id = str_field(v, "id");
        let _ = writeln!(out, "<h3>Variant {}: {}</h3>", i + 1, code(id));
        let example = field(v, "example");
        let mut line = plural(variant_count(v), "connector", "connectors");
        if let Some(c) = str_field(example, "connector") {
            let _ = write!(line, ", for example <code>{}</code>", escape(&c));
            let mut parts = Vec::new();
            if let Some(d) = str_field(example, "dockerfile") {
                parts.push(format!("<code>{}</code>", escape(&d)));
            }
            if let Some(img) = str_field(example, "image") {
                parts.push(format!("image <code>{}</code>", escape(&img)));
            }
            if !parts.is_empty() {
                let _ = write!(line, " ({})", parts.join(", "));
            }
        }
        let _ = writeln!(out, "<p>{line}. Its canonical Dockerfile:</p>");
        match str_field(v, "canonical") {
            Some(c) => {
                let _ = writeln!(out, "<pre class=\"dockerfile\">{}</pre>", escape(&c));
            }
            None => out.push_str("<p class=\"muted\">The report has no canonical Dockerfile for this variant.</p>\n"),
        }
        let nearest = field(v, "nearest");
        let diff = list(field(nearest, "diff"));
        if let (Some(nid), false) = (str_field(nearest, "id"), diff.is_empty()) {
            let rank = ctx.rank(&nid).map_or_else(String::new, |r| format!("variant {r}, "));
            let _ =
                write!(out, "<p>Closest other variant: {rank}<code>{}</code>:</p>\n<pre class=\"diff\">", escape(&nid));
            for d in diff {
                let op = str_field(d, "op").unwrap_or_default();
                let class = match op.as_str() {
                    "-" => "del",
                    "+" => "add",
                    _ => "same",
                };
                let _ = writeln!(
                    out,
                    "<span class=\"{class}\">{} {}</span>",
                    escape(&op),
                    escape(&str_field(d, "instruction").unwrap_or_default())
                );
            }
            out.push_str("</pre>\n");
        }
    }
    let differences = strings(ctx.get("differences"));
    if !differences.is_empty() {
        out.push_str("<h3>How the top variants differ</h3>\n<ul class=\"differences\">\n");
        for d in &differences {
            let _ = writeln!(out, "<li>{}</li>", escape(d));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn base_images(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 2);
    let bases = list(ctx.get("base_images"));
    let names: Vec<String> =
        bases.iter().filter_map(|b| str_field(b, "image")).map(|n| format!("<code>{}</code>", escape(&n))).collect();
    if names.is_empty() {
        out.push_str("<p>The report lists no base image.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>The variants build on {}: {}.</p>",
            plural(names.len() as u64, "base image", "different base images"),
            and_list(&names)
        );
    }
    // Debian and Alpine first, as the recommendation weighs them; other families after,
    // in the order they appear.
    let mut families: Vec<(String, u64, u64)> =
        vec![("debian".to_string(), 0, 0), ("alpine".to_string(), 0, 0), ("other".to_string(), 0, 0)];
    for b in bases {
        let family = str_field(b, "family").unwrap_or_else(|| "other".to_string());
        let connectors = count(field(b, "connectors")).unwrap_or(0);
        let variants = count(field(b, "variants")).unwrap_or(0);
        match families.iter_mut().find(|(f, _, _)| *f == family) {
            Some(entry) => {
                entry.1 = entry.1.saturating_add(connectors);
                entry.2 = entry.2.saturating_add(variants);
            }
            None => families.push((family, connectors, variants)),
        }
    }
    let present: Vec<&(String, u64, u64)> = families
        .iter()
        .filter(|(f, _, _)| bases.iter().any(|b| str_field(b, "family").unwrap_or_else(|| "other".into()) == *f))
        .collect();
    if present.len() > 1 {
        let parts: Vec<String> = present
            .iter()
            .map(|(f, c, v)| {
                format!(
                    "{} ({}, {})",
                    escape(f),
                    plural(*v, "variant", "variants"),
                    plural(*c, "connector", "connectors")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<p>They come from {} families: {}. Python packages built as manylinux wheels need glibc, which \
             Alpine's musl does not provide.</p>",
            present.len(),
            and_list(&parts)
        );
    }
    let family_bars: Vec<(String, u64)> = present.iter().map(|(f, c, _)| (f.clone(), *c)).collect();
    out.push_str("<div class=\"charts\">\n");
    let opts = BarOptions { id: "chart-families", unit: "connectors", color: FAMILY_BAR_COLOR, width: 420 };
    out.push_str(&svg::bar_chart("Connectors per base image family", &family_bars, &opts));
    out.push_str("\n</div>\n");
    let rows: Vec<Vec<String>> = bases
        .iter()
        .map(|b| {
            vec![
                code(str_field(b, "image")),
                cell(str_field(b, "family")),
                cell(count(field(b, "variants")).map(|n| n.to_string())),
                cell(count(field(b, "connectors")).map(|n| n.to_string())),
            ]
        })
        .collect();
    table(out, "", &["Base image", "Family", "#Variants", "#Connectors"], &rows, "No base image in the report.");

    out.push_str("<h3>Python and pip versions</h3>\n");
    let versions = ctx.get("versions");
    let spread = |key: &str| -> Vec<(String, u64)> {
        list(field(versions, key))
            .iter()
            .map(|v| {
                (str_field(v, "version").unwrap_or_else(|| "unknown".into()), list(field(v, "images")).len() as u64)
            })
            .collect()
    };
    let python = spread("python");
    let pip = spread("pip");
    for (name, bars) in [("Python", &python), ("pip", &pip)] {
        if bars.is_empty() {
            continue;
        }
        let parts: Vec<String> = bars
            .iter()
            .map(|(v, n)| format!("<code>{}</code> ({})", escape(v), plural(*n, "image", "images")))
            .collect();
        let _ = writeln!(
            out,
            "<p>The inspected images run {} of {name}: {}.</p>",
            plural(bars.len() as u64, "version", "different versions"),
            and_list(&parts)
        );
    }
    out.push_str("<div class=\"charts\">\n");
    let opts = BarOptions { id: "chart-python", unit: "images", color: PYTHON_BAR_COLOR, width: 360 };
    out.push_str(&svg::bar_chart("Images per Python version", &python, &opts));
    out.push('\n');
    let opts = BarOptions { id: "chart-pip", unit: "images", color: PIP_BAR_COLOR, width: 360 };
    out.push_str(&svg::bar_chart("Images per pip version", &pip, &opts));
    out.push_str("\n</div>\n");

    out.push_str("<h3>Inspected images</h3>\n");
    if ctx.images.is_empty() {
        out.push_str("<p class=\"muted\">No image was inspected.</p>\n");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table>\n<thead><tr><th>Variant</th><th>Connector</th><th>Image</th><th>OS</th><th>Arch</th>\
             <th>Python</th><th>pip</th><th>Timezone</th><th>User</th><th class=\"num\">Packages</th></tr></thead>\n\
             <tbody>\n",
        );
        for i in ctx.images {
            let lead = format!(
                "<td>{}</td><td>{}</td><td>{}</td>",
                code(str_field(i, "variant")),
                code(str_field(i, "connector")),
                code(str_field(i, "reference"))
            );
            if let Some(err) = str_field(i, "error") {
                let _ = writeln!(
                    out,
                    "<tr class=\"failed\">{lead}<td colspan=\"7\" class=\"error\">Not inspected: {}</td></tr>",
                    escape(&err)
                );
                continue;
            }
            let packages = match (count(field(i, "packages")), str_field(i, "package_manager")) {
                (Some(n), Some(pm)) => format!("{n} ({})", escape(&pm)),
                (Some(n), None) => n.to_string(),
                _ => MISSING.to_string(),
            };
            let _ = writeln!(
                out,
                "<tr>{lead}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{packages}</td></tr>",
                cell(str_field(i, "os").or_else(|| str_field(i, "os_id"))),
                cell(str_field(i, "architecture")),
                cell(str_field(i, "python")),
                cell(str_field(i, "pip")),
                cell(str_field(i, "timezone")),
                cell(str_field(i, "user")),
            );
        }
        out.push_str("</tbody>\n</table></div>\n");
    }
    out.push_str("</section>\n");
}

fn env(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 3);
    let env = ctx.get("env");
    let images = strings(field(env, "images"));
    let same = list(field(env, "same"));
    let different = list(field(env, "different"));
    let partial = list(field(env, "partial"));
    let from_base = same.iter().filter(|s| field(s, "from_base").as_bool() == Some(true)).count() as u64;
    let no_data = images.is_empty() && same.is_empty() && different.is_empty() && partial.is_empty();
    if no_data {
        out.push_str("<p class=\"muted\">The report has no environment data: no image was inspected.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>Variables set in the configuration of {}. {} set on every image with the same value ({} from the base \
         image): checks can assert them on every connector image. {} set on every image with different values. {} \
         set on only some images: connectors that need them need a build hook.</p>",
            plural(images.len() as u64, "image", "images"),
            plural(same.len() as u64, "is", "are"),
            from_base,
            plural(different.len() as u64, "is", "are"),
            plural(partial.len() as u64, "is", "are"),
        );
    }

    let columns: Vec<String> = images.iter().map(|i| ctx.label(i)).collect();
    let mut rows: Vec<String> = Vec::new();
    let mut cells: Vec<Vec<MatrixCell>> = Vec::new();
    let name_of = |v: &Value| str_field(v, "name").unwrap_or_else(|| "?".to_string());
    for s in same {
        let name = name_of(s);
        let value = str_field(s, "value").unwrap_or_default();
        cells.push(
            images
                .iter()
                .map(|i| MatrixCell {
                    state: CellState::Same,
                    note: format!("{name}={value} on {}", ctx.label(i)),
                    mark: String::new(),
                })
                .collect(),
        );
        rows.push(name);
    }
    for d in different {
        let name = name_of(d);
        let groups = group_by_value(field(d, "values"), &images);
        cells.push(
            images
                .iter()
                .map(|i| match groups.iter().position(|(_, on)| on.contains(i)) {
                    Some(g) => MatrixCell {
                        state: CellState::Different,
                        note: format!("{name}={} on {}", groups[g].0, ctx.label(i)),
                        mark: value_mark(g),
                    },
                    None => MatrixCell {
                        state: CellState::Unset,
                        note: format!("{name} not set on {}", ctx.label(i)),
                        mark: String::new(),
                    },
                })
                .collect(),
        );
        rows.push(name);
    }
    for p in partial {
        let name = name_of(p);
        let set_on = strings(field(p, "images"));
        let values = field(p, "values");
        cells.push(
            images
                .iter()
                .map(|i| {
                    let label = ctx.label(i);
                    let (state, note) = match (set_on.contains(i), str_field(values, i)) {
                        (true, Some(v)) => (CellState::Partial, format!("{name}={v} on {label}")),
                        (true, None) => (CellState::Partial, format!("{name} set on {label}")),
                        (false, _) => (CellState::Unset, format!("{name} not set on {label}")),
                    };
                    MatrixCell { state, note, mark: String::new() }
                })
                .collect(),
        );
        rows.push(name);
    }
    out.push_str(&svg::matrix("chart-env", "Environment variables by image", &rows, &columns, &cells));
    out.push('\n');
    if no_data {
        out.push_str("</section>\n");
        return;
    }

    out.push_str("<h3>Same value on every image</h3>\n");
    let rows: Vec<Vec<String>> = same
        .iter()
        .map(|s| {
            let from = match field(s, "from_base").as_bool() {
                Some(true) => "base image".to_string(),
                Some(false) => "Dockerfile".to_string(),
                None => MISSING.to_string(),
            };
            vec![code(str_field(s, "name")), code(str_field(s, "value")), from]
        })
        .collect();
    table(out, "wrap", &["Variable", "Value", "Set by"], &rows, "No variable has the same value on every image.");

    out.push_str("<h3>Same name, different values</h3>\n");
    if different.is_empty() {
        out.push_str("<p class=\"muted\">No variable is set on every image with different values.</p>\n");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table class=\"wrap\">\n<thead><tr><th>Variable</th><th>Value</th><th>Images</th></tr></thead>\n\
             <tbody>\n",
        );
        for d in different {
            let groups = group_by_value(field(d, "values"), &images);
            let span = groups.len().max(1);
            let _ = write!(out, "<tr><td rowspan=\"{span}\">{}</td>", code(str_field(d, "name")));
            if groups.is_empty() {
                let _ = writeln!(out, "<td>{MISSING}</td><td>{MISSING}</td></tr>");
            }
            for (n, (value, on)) in groups.iter().enumerate() {
                if n > 0 {
                    out.push_str("<tr>");
                }
                let on: Vec<String> = on.iter().map(|i| ctx.label(i)).collect();
                let _ = writeln!(out, "<td><code>{}</code></td><td>{}</td></tr>", escape(value), names(&on, "images"));
            }
        }
        out.push_str("</tbody>\n</table></div>\n");
    }

    out.push_str("<h3>Set on only some images</h3>\n");
    let rows: Vec<Vec<String>> = partial
        .iter()
        .map(|p| {
            let set_on = strings(field(p, "images"));
            let not_on: Vec<String> = images.iter().filter(|i| !set_on.contains(i)).map(|i| ctx.label(i)).collect();
            let values: Vec<String> =
                group_by_value(field(p, "values"), &set_on).into_iter().map(|(value, _)| value).collect();
            let set_on: Vec<String> = set_on.iter().map(|i| ctx.label(i)).collect();
            let values = if values.is_empty() { MISSING.to_string() } else { names(&values, "values") };
            vec![code(str_field(p, "name")), values, names(&set_on, "images"), names(&not_on, "images")]
        })
        .collect();
    table(
        out,
        "wrap",
        &["Variable", "Values", "Set on", "Not set on"],
        &rows,
        "No variable is set on only some images.",
    );
    out.push_str("</section>\n");
}

/// The letter that marks the `index`th distinct value of a variable in the matrix.
fn value_mark(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'a' + i).to_string(),
        _ => (index + 1).to_string(),
    }
}

/// Groups an `{image: value}` object by value, in the order of `images` and then of the
/// object's own keys for images the list does not name.
fn group_by_value(values: &Value, images: &[String]) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<String> = images.iter().filter(|i| values.get(i.as_str()).is_some()).cloned().collect();
    if let Some(map) = values.as_object() {
        for k in map.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for k in keys {
        let Some(v) = str_field(values, &k) else { continue };
        match groups.iter_mut().find(|(value, _)| *value == v) {
            Some((_, on)) => on.push(k),
            None => groups.push((v, vec![k])),
        }
    }
    groups
}

fn packages(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 4);
    let packages = ctx.get("packages");
    let per_image = list(field(packages, "images"));
    let union = list(field(packages, "union"));
    if per_image.is_empty() && union.is_empty() {
        out.push_str("<p class=\"muted\">The report has no package data.</p>\n</section>\n");
        return;
    }
    let adding = per_image.iter().filter(|i| !list(field(i, "added")).is_empty()).count() as u64;
    if union.is_empty() {
        out.push_str(
            "<p>No image installs a system package beyond its base image: the proposed base image only has to \
             carry what the current base images carry.</p>\n",
        );
    } else {
        let _ = writeln!(
            out,
            "<p>{} {} system packages beyond {} base image. Packages every image needs belong in the base image; \
             packages only some connectors need are candidates for a build hook, unless the proposed base image \
             already ships them.</p>",
            plural(adding, "image adds", "images add"),
            union.len(),
            if adding == 1 { "its" } else { "their" }
        );
    }
    let rows: Vec<Vec<String>> = union
        .iter()
        .map(|u| {
            let on: Vec<String> = strings(field(u, "images")).iter().map(|i| ctx.label(i)).collect();
            vec![
                code(str_field(u, "name")),
                cell(count(field(u, "count")).or(Some(on.len() as u64)).map(|n| n.to_string())),
                names(&on, "images"),
            ]
        })
        .collect();
    table(out, "", &["Package", "#Images", "Which"], &rows, "No package is added beyond the base images.");
    out.push_str("<h3>Per image</h3>\n");
    let rows: Vec<Vec<String>> = per_image
        .iter()
        .map(|i| {
            let added: Vec<String> = list(field(i, "added"))
                .iter()
                .map(|p| {
                    let name = str_field(p, "name").unwrap_or_else(|| "?".into());
                    match str_field(p, "version") {
                        Some(v) => format!("{name} {v}"),
                        None => name,
                    }
                })
                .collect();
            let changed: Vec<String> = list(field(i, "changed"))
                .iter()
                .map(|p| {
                    format!(
                        "{} {} → {}",
                        str_field(p, "name").unwrap_or_else(|| "?".into()),
                        str_field(p, "base_version").unwrap_or_else(|| "?".into()),
                        str_field(p, "version").unwrap_or_else(|| "?".into())
                    )
                })
                .collect();
            let show = |items: &[String]| if items.is_empty() { "none".to_string() } else { names(items, "packages") };
            vec![
                code(str_field(i, "image").map(|r| ctx.label(&r))),
                code(str_field(i, "base")),
                show(&added),
                show(&changed),
            ]
        })
        .collect();
    table(out, "", &["Image", "Base image", "Added packages", "Changed versions"], &rows, "No per-image data.");
    out.push_str("</section>\n");
}

fn recommendation(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 5);
    let reco = ctx.get("recommendation");
    if reco.is_null() {
        out.push_str("<p class=\"muted\">The report has no recommendation.</p>\n</section>\n");
        return;
    }
    match str_field(reco, "base_image") {
        Some(b) => {
            let _ = write!(out, "<p class=\"proposal\">Proposed base image: <code>{}</code>", escape(&b));
            match str_field(reco, "pinned") {
                Some(p) if p != b => {
                    let _ = write!(out, ", pinned as <code>{}</code>", escape(&p));
                }
                _ => {}
            }
            out.push_str("</p>\n");
        }
        None => out.push_str("<p class=\"muted\">No base image could be proposed.</p>\n"),
    }
    out.push_str("<h3>Choices and their evidence</h3>\n");
    let rows: Vec<Vec<String>> = list(field(reco, "choices"))
        .iter()
        .map(|c| {
            let affects = strings(field(c, "affects"));
            let affects = if affects.is_empty() {
                "<span class=\"muted\">none</span>".to_string()
            } else {
                names(&affects, "connectors")
            };
            vec![cell(str_field(c, "topic")), code(str_field(c, "choice")), cell(str_field(c, "evidence")), affects]
        })
        .collect();
    table(
        out,
        "wrap",
        &["Topic", "Choice", "Evidence", "Connectors affected"],
        &rows,
        "The recommendation lists no choices.",
    );
    out.push_str("<h3>Exceptions that need a build hook</h3>\n");
    let rows: Vec<Vec<String>> = list(field(reco, "exceptions"))
        .iter()
        .map(|e| vec![code(str_field(e, "connector")), cell(str_field(e, "kind")), cell(str_field(e, "detail"))])
        .collect();
    table(out, "", &["Connector", "Kind", "Detail"], &rows, "No connector needs a build hook.");
    for (key, class, title) in [
        ("dockerfile", "proposed-dockerfile", "Proposed base Dockerfile"),
        ("checks_yaml", "checks-yaml", "checks.yaml"),
    ] {
        let _ = writeln!(out, "<h3>{title}</h3>");
        match str_field(reco, key) {
            Some(t) => {
                let _ = writeln!(out, "<pre class=\"{class}\">{}</pre>", escape(&t));
            }
            None => out.push_str("<p class=\"muted\">Not in the report.</p>\n"),
        }
    }
    if let Some(md) = str_field(reco, "reasoning") {
        out.push_str("<h3>Reasoning</h3>\n<div class=\"reasoning\">\n");
        out.push_str(&markdown(&md));
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn problems(out: &mut String, ctx: &Ctx<'_>) {
    section_open(out, 6);
    let mut any = false;
    if let Some(v) = count(ctx.get("schema_version"))
        && v != 1
    {
        any = true;
        let _ = writeln!(
            out,
            "<p class=\"error\">This page reads report schema version 1; the report has version {v}. Parts may be \
             missing.</p>"
        );
    }
    let errors = list(ctx.get("errors"));
    if !errors.is_empty() {
        any = true;
        let _ = writeln!(out, "<h3>{}</h3>", plural(errors.len() as u64, "input problem", "input problems"));
        let rows: Vec<Vec<String>> = errors
            .iter()
            .map(|e| {
                let place = match (str_field(e, "path"), str_field(e, "line")) {
                    (Some(p), Some(l)) => Some(format!("{p}:{l}")),
                    (p, _) => p,
                };
                vec![code(str_field(e, "connector")), code(place), cell(str_field(e, "message"))]
            })
            .collect();
        table(out, "wrap", &["Connector", "File", "Problem"], &rows, "");
    }
    let failed = ctx.failed();
    if !failed.is_empty() {
        any = true;
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<p>The rest of the report is complete without them; their variants have no image facts.</p>",
            plural(failed.len() as u64, "image could not be inspected", "images could not be inspected")
        );
        let rows: Vec<Vec<String>> = failed
            .iter()
            .map(|i| {
                vec![
                    code(str_field(i, "connector")),
                    code(str_field(i, "variant")),
                    code(str_field(i, "reference")),
                    format!("<span class=\"error\">{}</span>", cell(str_field(i, "error"))),
                ]
            })
            .collect();
        table(out, "", &["Connector", "Variant", "Image", "Error"], &rows, "");
    }
    let without = strings(ctx.get("connectors_without_dockerfile"));
    if !without.is_empty() {
        any = true;
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<p>{}</p>",
            plural(without.len() as u64, "connector without a Dockerfile", "connectors without a Dockerfile"),
            names(&without, "connectors")
        );
    }
    if !any {
        out.push_str("<p>No problems: every selected Dockerfile was read and every image was inspected.</p>\n");
    }
    out.push_str("</section>\n");
}

/// The Markdown that dockvar writes for reasoning, as HTML: headings, paragraphs, bullet
/// and numbered lists, fenced code, `code` and **bold**. Everything else stays text, and
/// all of it is escaped.
fn markdown(md: &str) -> String {
    #[derive(PartialEq)]
    enum List {
        None,
        Bullets,
        Numbers,
    }
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut kind = List::None;
    let mut fence: Option<Vec<&str>> = None;
    let flush = |out: &mut String, para: &mut Vec<&str>, items: &mut Vec<String>, kind: &mut List| {
        if !para.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(&para.join(" ")));
            para.clear();
        }
        if !items.is_empty() {
            let tag = if *kind == List::Numbers { "ol" } else { "ul" };
            let _ = write!(out, "<{tag}>");
            for i in items.iter() {
                let _ = write!(out, "<li>{}</li>", inline(i));
            }
            let _ = writeln!(out, "</{tag}>");
            items.clear();
        }
        *kind = List::None;
    };
    for line in md.lines() {
        if let Some(code) = fence.as_mut() {
            if line.trim_start().starts_with("```") {
                let _ = writeln!(out, "<pre>{}</pre>", escape(&code.join("\n")));
                fence = None;
            } else {
                code.push(line);
            }
            continue;
        }
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut out, &mut para, &mut items, &mut kind);
            fence = Some(Vec::new());
            continue;
        }
        if t.is_empty() {
            flush(&mut out, &mut para, &mut items, &mut kind);
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            flush(&mut out, &mut para, &mut items, &mut kind);
            let level = (hashes + 2).min(6);
            let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(t[hashes..].trim()));
            continue;
        }
        let bullet = ["- ", "* ", "+ "].iter().find_map(|b| t.strip_prefix(b));
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        let number = if digits > 0 { t[digits..].strip_prefix(". ") } else { None };
        if let Some((item, k)) = bullet.map(|i| (i, List::Bullets)).or(number.map(|i| (i, List::Numbers))) {
            if !para.is_empty() || (kind != List::None && kind != k) {
                flush(&mut out, &mut para, &mut items, &mut kind);
            }
            kind = k;
            items.push(item.to_string());
            continue;
        }
        if kind != List::None && line.starts_with([' ', '\t']) {
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
            continue;
        }
        if kind != List::None {
            flush(&mut out, &mut para, &mut items, &mut kind);
        }
        para.push(t);
    }
    if let Some(code) = fence {
        let _ = writeln!(out, "<pre>{}</pre>", escape(&code.join("\n")));
    }
    flush(&mut out, &mut para, &mut items, &mut kind);
    out
}

/// `code` spans and **bold** in one line of Markdown; unpaired markers stay literal.
fn inline(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        let paired = parts.len() % 2 == 1 || i + 1 < parts.len();
        if i % 2 == 1 && paired {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            if i % 2 == 1 {
                out.push('`');
            }
            let bold: Vec<&str> = part.split("**").collect();
            for (j, b) in bold.iter().enumerate() {
                let paired = bold.len() % 2 == 1 || j + 1 < bold.len();
                match (j % 2 == 1, paired) {
                    (true, true) => {
                        let _ = write!(out, "<strong>{}</strong>", escape(b));
                    }
                    (true, false) => {
                        let _ = write!(out, "**{}", escape(b));
                    }
                    _ => out.push_str(&escape(b)),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markdown_subset() {
        let html = markdown("# Why\n\nSome `a<b` and **bold**.\n- one\n- two\n  more\n\n1. first\n```\nFROM x\n```\n");
        assert_eq!(
            html,
            "<h3>Why</h3>\n<p>Some <code>a&lt;b</code> and <strong>bold</strong>.</p>\n\
             <ul><li>one</li><li>two more</li></ul>\n<ol><li>first</li></ol>\n<pre>FROM x</pre>\n"
        );
        assert_eq!(inline("a ` b ** c"), "a ` b ** c");
    }

    #[test]
    fn groups_values_in_image_order() {
        let values = json!({"c": "1", "a": "2", "b": "1", "z": "3"});
        let images = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(
            group_by_value(&values, &images),
            vec![
                ("2".to_string(), vec!["a".to_string()]),
                ("1".to_string(), vec!["b".to_string(), "c".to_string()]),
                ("3".to_string(), vec!["z".to_string()])
            ]
        );
    }

    #[test]
    fn counts_accept_numbers_and_strings() {
        assert_eq!(count(&json!(3)), Some(3));
        assert_eq!(count(&json!(2.6)), Some(3));
        assert_eq!(count(&json!(-1)), None);
        assert_eq!(count(&json!(" 4 ")), Some(4));
        assert_eq!(count(&json!(null)), None);
    }
}
