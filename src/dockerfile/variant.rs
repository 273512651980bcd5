//! One connector's Dockerfile in, its `Fingerprint` out: canonical text (by the chosen
//! normalizer), the variant hash, the semantic instruction lines and the traits.

use std::path::Path;

use serde::Serialize;

use super::semantic::{self, SemanticOptions};
use super::{NameContext, ParseError, VariantHash, VariantTraits, notebook, parse_dockerfile, read_traits};

/// Which canonical text a variant is the hash of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Normalizer {
    /// The seed notebook's text procedure, quirks included: its IDs, byte for byte.
    Notebook,
    /// Parsed instructions, so that formatting never splits a variant.
    #[default]
    Semantic,
}

impl Normalizer {
    pub fn as_str(self) -> &'static str {
        match self {
            Normalizer::Notebook => "notebook",
            Normalizer::Semantic => "semantic",
        }
    }
}

/// What one Dockerfile hashes to, and what it does.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    /// `None` when the chosen normalizer could not read the file.
    pub hash: Option<VariantHash>,
    pub canonical: Option<String>,
    /// Semantic canonical lines, for families, nearest variants and diffs; empty when the
    /// file does not parse.
    pub lines: Vec<String>,
    pub traits: Option<VariantTraits>,
    pub error: Option<ParseError>,
    /// Lines BuildKit would not build as written (an unresolved `FROM`), with the reason.
    pub warnings: Vec<(usize, String)>,
}

/// Reads (inside `root`, resolved), parses and hashes one Dockerfile. Never fails: problems land in `error`, and the
/// notebook normalizer still hashes a file that does not parse, as the notebook did.
pub fn fingerprint(
    path: &Path,
    root: &Path,
    display: &str,
    names: &NameContext,
    normalizer: Normalizer,
    options: &SemanticOptions,
) -> Fingerprint {
    let text = match super::parse::read_text(path, Some(root), display) {
        Ok(text) => text,
        Err(error) => {
            return Fingerprint {
                hash: None,
                canonical: None,
                lines: Vec::new(),
                traits: None,
                error: Some(error),
                warnings: Vec::new(),
            };
        }
    };
    fingerprint_text(&text, display, names, normalizer, options)
}

pub fn fingerprint_text(
    text: &str,
    display: &str,
    names: &NameContext,
    normalizer: Normalizer,
    options: &SemanticOptions,
) -> Fingerprint {
    let parsed = parse_dockerfile(text, display);
    let (lines, traits, error, warnings) = match parsed {
        Ok(df) => {
            let warnings = df
                .stages
                .iter()
                .filter_map(|s| {
                    let line = df.instructions.get(s.from_instruction).map_or(0, |i| i.line);
                    s.unresolved.clone().map(|m| (line, m))
                })
                .collect();
            (semantic::canonical_lines(&df, names, options), Some(read_traits(&df)), None, warnings)
        }
        Err(e) => (Vec::new(), None, Some(e), Vec::new()),
    };
    let canonical = match normalizer {
        Normalizer::Notebook => Some(notebook::canonical(text, names)),
        Normalizer::Semantic if error.is_none() => Some(lines.join("\n")),
        Normalizer::Semantic => None,
    };
    Fingerprint { hash: canonical.as_deref().map(VariantHash::of), canonical, lines, traits, error, warnings }
}
