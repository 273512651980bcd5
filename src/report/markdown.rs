//! A `Table` in, a GitHub-flavoured Markdown table out.

use super::Table;

pub fn render(table: &Table) -> String {
    let mut out = String::new();
    out.push_str(&row(&table.headers));
    out.push('|');
    for _ in &table.headers {
        out.push_str(" --- |");
    }
    out.push('\n');
    for r in &table.rows {
        out.push_str(&row(r));
    }
    out
}

fn row(cells: &[String]) -> String {
    let mut out = String::from("|");
    for cell in cells {
        out.push(' ');
        out.push_str(&escape(cell));
        out.push_str(" |");
    }
    out.push('\n');
    out
}

/// Pipes would end the cell and newlines the row; HTML would run where Markdown is rendered.
fn escape(cell: &str) -> String {
    super::escape::escape_markdown(&cell.replace('\\', "\\\\")).replace('|', "\\|")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `report.md`: the notebook's story with this repository's numbers.
pub fn report(a: &super::Analysis) -> String {
    let scan = &a.scan;
    let mut md = String::from("# Dockerfile variants and base image report\n\n");
    md.push_str(&format!(
        "Repository `{}`, {}: **{} connectors selected**, normalizer `{}`.\n\n",
        scan.root,
        a.selection,
        scan.connectors.len(),
        scan.normalizer.as_str()
    ));
    let without = scan.without_dockerfile();
    if !without.is_empty() {
        md.push_str(&format!("{} of them have no Dockerfile: {}.\n\n", without.len(), without.join(", ")));
    }

    md.push_str(&format!("## Dockerfile variants\n\nFound **{} Dockerfile variants**.\n\n", scan.variants.len()));
    let mut t = super::Table::new(&[
        "#",
        "ID",
        "COUNT",
        "BASE IMAGE",
        "STAGES",
        "PKG",
        "PYTHON (TAG)",
        "FAMILY",
        "NEAREST",
        "EXAMPLE",
    ]);
    for (n, v) in scan.variants.iter().enumerate() {
        t.push(vec![
            (n + 1).to_string(),
            v.id.clone(),
            v.count.to_string(),
            v.traits.final_base.clone().unwrap_or_else(|| "-".into()),
            v.traits.stages.to_string(),
            v.traits.package_manager.clone(),
            v.traits.python_version.clone().unwrap_or_else(|| "-".into()),
            v.family.clone(),
            v.nearest.as_ref().map_or("-".into(), |n| format!("{} ({})", n.id, n.distance)),
            v.example.connector.clone(),
        ]);
    }
    md.push_str(&render(&t));
    for (n, v) in scan.variants.iter().take(3).enumerate() {
        // A fence longer than any run of backticks in the text, so the text cannot close it.
        let fence = "`".repeat(3.max(longest_backtick_run(&v.canonical) + 1));
        md.push_str(&format!(
            "\n### Variant {} ({}, {} connectors, e.g. {})\n\n{fence}dockerfile\n{}\n{fence}\n",
            n + 1,
            v.id,
            v.count,
            super::escape::escape_markdown(&v.example.connector),
            super::escape::escape_output(&v.canonical)
        ));
    }
    if !a.differences.is_empty() {
        md.push_str("\n### How the largest variants differ\n\n");
        for d in &a.differences {
            md.push_str(&format!("- {d}\n"));
        }
    }

    md.push_str("\n## Images inspected\n\n");
    let mut t =
        super::Table::new(&["VARIANT", "IMAGE", "SOURCE", "OS", "PYTHON", "PIP", "TIMEZONE", "PACKAGES", "ERROR"]);
    for i in &a.images {
        let f = i.facts();
        t.push(vec![
            i.variant.clone(),
            i.reference.clone().unwrap_or_else(|| "-".into()),
            f.map_or("-".into(), |f| f.source.clone()),
            f.and_then(|f| f.os.pretty_name.clone().or(f.os.id.clone())).unwrap_or_else(|| "-".into()),
            f.and_then(|f| f.python.as_ref().map(|p| p.version.clone())).unwrap_or_else(|| "-".into()),
            f.and_then(|f| f.pip.as_ref().map(|p| p.version.clone())).unwrap_or_else(|| "-".into()),
            f.and_then(|f| f.timezone.as_ref().map(|t| t.version.clone())).unwrap_or_else(|| "-".into()),
            f.map_or("-".into(), |f| format!("{} ({})", f.packages.items.len(), f.packages.manager)),
            i.error().unwrap_or_default(),
        ]);
    }
    md.push_str(&render(&t));

    md.push_str("\n## Base images and versions\n\n");
    let mut t = super::Table::new(&["BASE IMAGE", "FAMILY", "VARIANTS", "CONNECTORS"]);
    for b in super::json::base_images(a) {
        t.push(vec![
            b["image"].as_str().unwrap_or("").to_string(),
            b["family"].as_str().unwrap_or("").to_string(),
            b["variants"].to_string(),
            b["connectors"].to_string(),
        ]);
    }
    md.push_str(&render(&t));
    for (title, groups) in [("Python", &a.packages.python), ("pip", &a.packages.pip)] {
        let versions: Vec<String> =
            groups.iter().map(|g| format!("{} ({} image(s))", g.version, g.images.len())).collect();
        md.push_str(&format!(
            "\n{title} versions in use: {}.\n",
            if versions.is_empty() { "none found".to_string() } else { versions.join(", ") }
        ));
    }

    md.push_str("\n## Environment variables\n\n");
    for (title, table) in env_tables(&a.env) {
        md.push_str(&format!("### {title}\n\n{}\n", render(&table)));
    }

    md.push_str("## Custom system packages\n\n");
    if a.packages.union.is_empty() {
        let compared = a.packages.images.iter().filter(|i| i.base.is_some()).count();
        md.push_str(&if compared == 0 {
            "No base image was inspected (give one with `--images BASE=IMAGE`), so packages could not be compared.\n"
                .to_string()
        } else {
            format!("None of the {compared} image(s) compared adds a system package beyond its base image.\n")
        });
    } else {
        let mut t = super::Table::new(&["PACKAGE", "ARCH", "IMAGES", "WHICH"]);
        for u in &a.packages.union {
            t.push(vec![u.name.clone(), u.architecture.clone(), u.count.to_string(), u.images.join(", ")]);
        }
        md.push_str(&render(&t));
    }

    md.push('\n');
    md.push_str(&a.recommendation.reasoning);

    if !scan.problems.is_empty() {
        md.push_str("\n## Problems\n\n");
        for p in &scan.problems {
            md.push_str(&format!(
                "- `{}:{}`: {}\n",
                super::escape::escape_value(&p.path).replace('`', "'"),
                p.line,
                super::escape::escape_markdown(&p.message)
            ));
        }
    }
    md
}

/// The notebook's three env tables.
pub fn env_tables(env: &crate::compare::EnvDiff) -> Vec<(String, super::Table)> {
    let mut same = super::Table::new(&["NAME", "VALUE", "FROM BASE"]);
    for v in &env.same {
        same.push(vec![v.name.clone(), v.value.clone(), if v.from_base { "yes" } else { "no" }.into()]);
    }
    let mut different = super::Table::new(&["NAME", "VALUE", "IMAGES"]);
    for v in &env.different {
        for (i, (value, images)) in v.groups.iter().enumerate() {
            let name = if i == 0 { v.name.clone() } else { String::new() };
            different.push(vec![name, value.clone(), images.join(", ")]);
        }
    }
    let mut partial = super::Table::new(&["NAME", "IMAGES", "VALUES"]);
    for v in &env.partial {
        let values: Vec<String> = v.images.iter().filter_map(|i| v.values.get(i).cloned()).collect();
        partial.push(vec![v.name.clone(), v.images.join(", "), values.join(", ")]);
    }
    vec![
        (format!("Set on every image with the same value ({})", env.same.len()), same),
        (format!("Set on every image with different values ({})", env.different.len()), different),
        (format!("Set on only some images ({})", env.partial.len()), partial),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_pipes() {
        let mut t = Table::new(&["a", "b"]);
        t.push(vec!["x|y".into(), "z".into()]);
        assert_eq!(render(&t), "| a | b |\n| --- | --- |\n| x\\|y | z |\n");
    }
}
