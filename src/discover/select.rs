//! Connectors and a `Selection` in, the connectors it selects out. Values of one filter are
//! OR-ed, filters are AND-ed, and no filter selects everything.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::query::{EvalError, Query};
use super::{Connector, Language};

/// The connector filters shared by every command that works on a selection.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub languages: Vec<Language>,
    pub support_levels: Vec<String>,
    pub types: Vec<String>,
    pub names: Vec<String>,
    /// `Some(true)`: only migrated; `Some(false)`: only not migrated.
    pub migrated: Option<bool>,
    /// `NAME[:VERSION]` of the base image in `connectorBuildOptions.baseImage`.
    pub base_images: Vec<String>,
    /// An expression over the metadata (`--query`).
    pub query: Option<Query>,
}

/// The selected connectors, and the connectors on which the query failed to evaluate
/// (counted as no match, as Airbyte's tooling does).
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub connectors: Vec<Connector>,
    pub query_errors: Vec<(String, EvalError)>,
}

/// A base image reference split into repository and tag, digest dropped.
pub fn split_image(reference: &str) -> (&str, Option<&str>) {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (without_digest, None),
    }
}

/// Whether `reference` is the image `wanted` (`NAME[:VERSION]`) names; NAME may leave out the
/// registry (`airbyte/python-connector-base`) or be only the last path component.
pub fn image_matches(wanted: &str, reference: &str) -> bool {
    let (want_name, want_tag) = split_image(wanted);
    let (name, tag) = split_image(reference);
    let short = name.strip_prefix("docker.io/").unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    let want_short = want_name.strip_prefix("docker.io/").unwrap_or(want_name);
    (want_short == short || want_name == last) && want_tag.is_none_or(|t| Some(t) == tag)
}

#[derive(Debug, thiserror::Error)]
#[error("--name {pattern}: {message}")]
pub struct SelectionError {
    pub pattern: String,
    pub message: String,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.languages.is_empty()
            && self.support_levels.is_empty()
            && self.types.is_empty()
            && self.names.is_empty()
            && self.migrated.is_none()
            && self.base_images.is_empty()
            && self.query.is_none()
    }

    /// Keeps the selected connectors, in order.
    pub fn apply(&self, connectors: Vec<Connector>) -> Result<Selected, SelectionError> {
        let names = self.name_set()?;
        let mut selected = Selected::default();
        for c in connectors {
            match self.query_matches(&c) {
                Ok(true) if self.matches(&c, names.as_ref()) => selected.connectors.push(c),
                Ok(_) => {}
                Err(raised) => selected.query_errors.push((c.name.clone(), raised)),
            }
        }
        Ok(selected)
    }

    fn query_matches(&self, c: &Connector) -> Result<bool, EvalError> {
        match &self.query {
            Some(q) => q.matches(c.metadata.as_ref()),
            None => Ok(true),
        }
    }

    /// How many of `connectors` are selected.
    pub fn count(&self, connectors: &[Connector]) -> Result<usize, SelectionError> {
        let names = self.name_set()?;
        Ok(connectors
            .iter()
            .filter(|c| self.matches(c, names.as_ref()) && self.query_matches(c).is_ok_and(|m| m))
            .count())
    }

    fn name_set(&self) -> Result<Option<GlobSet>, SelectionError> {
        if self.names.is_empty() {
            return Ok(None);
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.names {
            let glob = Glob::new(pattern)
                .map_err(|e| SelectionError { pattern: pattern.clone(), message: e.kind().to_string() })?;
            builder.add(glob);
        }
        builder.build().map(Some).map_err(|e| SelectionError { pattern: self.names.join(","), message: e.to_string() })
    }

    fn matches(&self, c: &Connector, names: Option<&GlobSet>) -> bool {
        let any_of = |wanted: &[String], value: Option<&str>| {
            wanted.is_empty() || value.is_some_and(|v| wanted.iter().any(|w| w.eq_ignore_ascii_case(v)))
        };
        (self.languages.is_empty() || self.languages.contains(&c.language))
            && any_of(&self.support_levels, c.support_level.as_deref())
            && any_of(&self.types, c.connector_type.as_deref())
            && names.is_none_or(|set| set.is_match(&c.name))
            && self.migrated.is_none_or(|m| c.is_migrated() == m)
            && (self.base_images.is_empty()
                || c.base_image.as_deref().is_some_and(|b| self.base_images.iter().any(|w| image_matches(w, b))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Layout;
    use super::*;

    fn connector(name: &str, language: Language, level: &str, migrated: bool) -> Connector {
        Connector {
            name: name.into(),
            path: name.into(),
            layout: Layout::Airbyte,
            connector_type: name.split('-').next().map(str::to_string),
            language,
            support_level: Some(level.into()),
            release_stage: None,
            tags: vec![],
            image: None,
            dockerfile: None,
            base_image: migrated.then(|| "base".into()),
            metadata_path: None,
            metadata: None,
        }
    }

    #[test]
    fn or_within_and_across_filters() {
        let all = vec![
            connector("source-a", Language::Python, "certified", false),
            connector("source-b", Language::LowCode, "certified", true),
            connector("destination-c", Language::Python, "community", false),
            connector("source-d", Language::Java, "certified", false),
        ];
        let names =
            |s: Selection| s.apply(all.clone()).unwrap().connectors.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(Selection::default()).len(), 4);
        let s = Selection {
            languages: vec![Language::Python, Language::LowCode],
            support_levels: vec!["certified".into()],
            ..Default::default()
        };
        assert_eq!(names(s), vec!["source-a", "source-b"]);
        let s = Selection { names: vec!["source-*".into()], migrated: Some(false), ..Default::default() };
        assert_eq!(names(s), vec!["source-a", "source-d"]);
        let s = Selection { types: vec!["destination".into()], ..Default::default() };
        assert_eq!(names(s), vec!["destination-c"]);
        let s = Selection { names: vec!["[".into()], ..Default::default() };
        assert!(s.apply(all.clone()).is_err());
    }

    #[test]
    fn base_image_names() {
        let b = "docker.io/airbyte/python-connector-base:1.1.0@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c";
        assert!(image_matches("airbyte/python-connector-base", b));
        assert!(image_matches("python-connector-base:1.1.0", b));
        assert!(image_matches("docker.io/airbyte/python-connector-base:1.1.0", b));
        assert!(!image_matches("airbyte/python-connector-base:1.2.0", b));
        assert!(!image_matches("airbyte/other", b));
        assert_eq!(split_image("localhost:5000/a/b:1@sha256:x"), ("localhost:5000/a/b", Some("1")));
        assert_eq!(split_image("localhost:5000/a/b"), ("localhost:5000/a/b", None));
    }
}
