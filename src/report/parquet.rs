//! A polars `DataFrame` and a path in, a Parquet file out, written through `write_file` (a
//! temporary file and a rename) so that a failed run never leaves a partial file.

use std::path::Path;

use polars::prelude::*;

use super::ReportError;

pub fn write(frame: &mut DataFrame, path: &Path) -> Result<(), ReportError> {
    super::write_file(path, |file| {
        ParquetWriter::new(file)
            .finish(frame)
            .map(|_| ())
            .map_err(|source| ReportError::Frame { path: path.display().to_string(), source })
    })
}

/// Gives `collect()` the column type polars needs.
fn strings(values: Vec<Option<String>>) -> Vec<Option<String>> {
    values
}

/// The report's tables as Parquet files: variants, connectors, images, env and packages.
pub fn write_report(a: &super::Analysis, dir: &Path) -> Result<(), ReportError> {
    let frame_err = |name: &str| {
        let path = dir.join(name).display().to_string();
        move |source| ReportError::Frame { path, source }
    };
    let mut variants = crate::group::frame::variants_frame(&a.scan.variants).map_err(frame_err("variants.parquet"))?;
    write(&mut variants, &dir.join("variants.parquet"))?;
    let mut connectors =
        crate::group::frame::connectors_frame(&a.scan.connectors).map_err(frame_err("connectors.parquet"))?;
    write(&mut connectors, &dir.join("connectors.parquet"))?;

    let facts: Vec<Option<&crate::inspect::ImageFacts>> = a.images.iter().map(|i| i.facts()).collect();
    let mut images = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), a.images.iter().map(|i| i.variant.clone()).collect::<Vec<_>>()),
        Column::new("connector".into(), strings(a.images.iter().map(|i| i.connector.clone()).collect())),
        Column::new("image".into(), strings(a.images.iter().map(|i| i.reference.clone()).collect())),
        Column::new("source".into(), strings(facts.iter().map(|f| f.map(|f| f.source.clone())).collect())),
        Column::new("error".into(), strings(a.images.iter().map(|i| i.error()).collect())),
        Column::new("os".into(), strings(facts.iter().map(|f| f.and_then(|f| f.os.id.clone())).collect())),
        Column::new(
            "os_version".into(),
            strings(facts.iter().map(|f| f.and_then(|f| f.os.version_id.clone())).collect()),
        ),
        Column::new(
            "architecture".into(),
            strings(facts.iter().map(|f| f.and_then(|f| f.architecture.clone())).collect()),
        ),
        Column::new(
            "python".into(),
            strings(facts.iter().map(|f| f.and_then(|f| f.python.as_ref().map(|p| p.version.clone()))).collect()),
        ),
        Column::new(
            "pip".into(),
            strings(facts.iter().map(|f| f.and_then(|f| f.pip.as_ref().map(|p| p.version.clone()))).collect()),
        ),
        Column::new(
            "timezone".into(),
            strings(facts.iter().map(|f| f.and_then(|f| f.timezone.as_ref().map(|t| t.version.clone()))).collect()),
        ),
        Column::new("user".into(), strings(facts.iter().map(|f| f.and_then(|f| f.user.name.clone())).collect())),
        Column::new(
            "packages".into(),
            facts.iter().map(|f| f.map(|f| f.packages.items.len() as u64)).collect::<Vec<Option<u64>>>(),
        ),
    ])
    .map_err(frame_err("images.parquet"))?;
    write(&mut images, &dir.join("images.parquet"))?;

    let mut rows: (Vec<String>, Vec<String>, Vec<String>, Vec<String>) = Default::default();
    for i in &a.images {
        let (Some(image), Some(f)) = (&i.reference, i.facts()) else { continue };
        for (k, v) in &f.env {
            rows.0.push(image.clone());
            rows.1.push(k.clone());
            rows.2.push(v.clone());
            let kind = if a.env.same.iter().any(|s| s.name == *k) {
                "same"
            } else if a.env.different.iter().any(|d| d.name == *k) {
                "different"
            } else {
                "partial"
            };
            rows.3.push(kind.to_string());
        }
    }
    let mut env = DataFrame::new_infer_height(vec![
        Column::new("image".into(), rows.0),
        Column::new("name".into(), rows.1),
        Column::new("value".into(), rows.2),
        Column::new("kind".into(), rows.3),
    ])
    .map_err(frame_err("env.parquet"))?;
    write(&mut env, &dir.join("env.parquet"))?;

    let (mut image_col, mut name_col, mut arch_col, mut version_col, mut beyond_col) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::<bool>::new());
    for i in &a.images {
        let (Some(image), Some(f)) = (&i.reference, i.facts()) else { continue };
        let added: std::collections::BTreeSet<(&str, &str)> = a
            .packages
            .images
            .iter()
            .filter(|r| r.image == *image && r.base.is_some())
            .flat_map(|r| r.added.iter().map(|x| (x.name.as_str(), x.architecture.as_str())))
            .collect();
        for item in &f.packages.items {
            image_col.push(image.clone());
            name_col.push(item.name.clone());
            arch_col.push(item.architecture.clone());
            version_col.push(item.version.clone());
            beyond_col.push(added.contains(&(item.name.as_str(), item.architecture.as_str())));
        }
    }
    let mut packages = DataFrame::new_infer_height(vec![
        Column::new("image".into(), image_col),
        Column::new("package".into(), name_col),
        Column::new("architecture".into(), arch_col),
        Column::new("version".into(), version_col),
        Column::new("beyond_base".into(), beyond_col),
    ])
    .map_err(frame_err("packages.parquet"))?;
    write(&mut packages, &dir.join("packages.parquet"))
}
