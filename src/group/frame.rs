//! Scanned connectors and variants in, polars `DataFrame`s out: the tables that CSV and
//! Parquet output write, one row per connector or per variant.

use polars::prelude::*;

use super::{ScannedConnector, Variant};

/// One row per connector: name, type, language, support level, image, Dockerfile, base image
/// and variant ID.
pub fn connectors_frame(scanned: &[ScannedConnector]) -> PolarsResult<DataFrame> {
    let text = |f: &dyn Fn(&ScannedConnector) -> Option<String>| scanned.iter().map(f).collect::<Vec<Option<String>>>();
    DataFrame::new_infer_height(vec![
        Column::new("name".into(), scanned.iter().map(|s| s.connector.name.clone()).collect::<Vec<_>>()),
        Column::new("type".into(), text(&|s| s.connector.connector_type.clone())),
        Column::new("language".into(), scanned.iter().map(|s| s.connector.language.as_str()).collect::<Vec<_>>()),
        Column::new("support_level".into(), text(&|s| s.connector.support_level.clone())),
        Column::new("image".into(), text(&|s| s.connector.image.clone())),
        Column::new("dockerfile".into(), text(&|s| s.connector.dockerfile.clone())),
        Column::new("base_image".into(), text(&|s| s.connector.base_image.clone())),
        Column::new("variant".into(), text(&|s| s.variant_id().map(str::to_string))),
    ])
}

/// One row per variant, traits flattened into columns and connector names joined with
/// spaces (CSV has no lists).
pub fn variants_frame(variants: &[Variant]) -> PolarsResult<DataFrame> {
    let text = |f: &dyn Fn(&Variant) -> Option<String>| variants.iter().map(f).collect::<Vec<Option<String>>>();
    let flag = |f: &dyn Fn(&Variant) -> bool| variants.iter().map(f).collect::<Vec<bool>>();
    DataFrame::new_infer_height(vec![
        Column::new("id".into(), variants.iter().map(|v| v.id.clone()).collect::<Vec<_>>()),
        Column::new("hash".into(), variants.iter().map(|v| v.hash.clone()).collect::<Vec<_>>()),
        Column::new("count".into(), variants.iter().map(|v| v.count as u64).collect::<Vec<_>>()),
        Column::new("connectors".into(), variants.iter().map(|v| v.connectors.join(" ")).collect::<Vec<_>>()),
        Column::new(
            "example_connector".into(),
            variants.iter().map(|v| v.example.connector.clone()).collect::<Vec<_>>(),
        ),
        Column::new("example_dockerfile".into(), text(&|v| v.example.dockerfile.clone())),
        Column::new("example_image".into(), text(&|v| v.example.image.clone())),
        Column::new("final_base".into(), text(&|v| v.traits.final_base.clone())),
        Column::new("stages".into(), variants.iter().map(|v| v.traits.stages as u64).collect::<Vec<_>>()),
        Column::new(
            "package_manager".into(),
            variants.iter().map(|v| v.traits.package_manager.clone()).collect::<Vec<_>>(),
        ),
        Column::new("python_version".into(), text(&|v| v.traits.python_version.clone())),
        Column::new("pins_digest".into(), flag(&|v| v.traits.pins_digest)),
        Column::new("installs_bash".into(), flag(&|v| v.traits.installs_bash)),
        Column::new("upgrades_pip".into(), flag(&|v| v.traits.upgrades_pip)),
        Column::new("sets_utc".into(), flag(&|v| v.traits.sets_utc)),
        Column::new("caches_dependencies".into(), flag(&|v| v.traits.caches_dependencies)),
        Column::new("user".into(), text(&|v| v.traits.user.clone())),
        Column::new("entrypoint".into(), text(&|v| v.traits.entrypoint.clone())),
        Column::new(
            "airbyte_entrypoint_matches".into(),
            variants.iter().map(|v| v.traits.airbyte_entrypoint_matches).collect::<Vec<Option<bool>>>(),
        ),
        Column::new("family".into(), variants.iter().map(|v| v.family.clone()).collect::<Vec<_>>()),
        Column::new("nearest".into(), text(&|v| v.nearest.as_ref().map(|n| n.id.clone()))),
        Column::new(
            "nearest_distance".into(),
            variants.iter().map(|v| v.nearest.as_ref().map(|n| n.distance as u64)).collect::<Vec<Option<u64>>>(),
        ),
    ])
}
