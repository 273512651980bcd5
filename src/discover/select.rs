//! Connectors and a `Selection` in, the connectors it selects out. Values of one filter are
//! OR-ed, filters are AND-ed, and no filter selects everything.

use globset::{Glob, GlobSet, GlobSetBuilder};

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
    }

    /// Keeps the selected connectors, in order.
    pub fn apply(&self, connectors: Vec<Connector>) -> Result<Vec<Connector>, SelectionError> {
        let names = self.name_set()?;
        Ok(connectors.into_iter().filter(|c| self.matches(c, names.as_ref())).collect())
    }

    /// How many of `connectors` are selected.
    pub fn count(&self, connectors: &[Connector]) -> Result<usize, SelectionError> {
        let names = self.name_set()?;
        Ok(connectors.iter().filter(|c| self.matches(c, names.as_ref())).count())
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
        let names = |s: Selection| s.apply(all.clone()).unwrap().into_iter().map(|c| c.name).collect::<Vec<_>>();
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
}
