//! Dockerfile text in, a parsed `Dockerfile` (directives, instructions, stages) out; the
//! normalizers turn it into canonical text and `traits` reads what a variant does.

pub mod buildkit;
pub mod lex;
pub mod notebook;
pub mod parse;
pub mod semantic;
pub mod shell;
pub mod traits;
pub mod variant;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use parse::{MAX_DOCKERFILE_BYTES, ParseError, parse_dockerfile, read_dockerfile};
pub use traits::{VariantTraits, read_traits};
pub use variant::{Fingerprint, Normalizer, fingerprint};

/// One parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    /// The escape character (`\` unless a `# escape=` directive says otherwise).
    pub escape: char,
    /// The `# syntax=` directive, if any.
    pub syntax: Option<String>,
    pub instructions: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// `ARG`s before the first `FROM`, with their defaults expanded (quotes removed).
    pub global_args: Vec<(String, Option<String>)>,
}

/// One instruction after the post-pass: continuations joined, arguments split the way
/// BuildKit splits them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// 1-based line of the keyword.
    pub line: usize,
    /// 1-based last line (heredoc bodies included).
    pub end_line: usize,
    /// Upper-case keyword.
    pub keyword: String,
    /// Flags as BuildKit reads them (quotes removed), e.g. `--chown=app user`.
    pub flags: Vec<String>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
    /// BuildKit's argument list for the instruction (for `ONBUILD`, its trigger's), quotes
    /// kept where BuildKit keeps them.
    pub values: Vec<String>,
    /// Written as a JSON array.
    pub json: bool,
    /// `ONBUILD`'s trigger keyword.
    pub sub_keyword: Option<String>,
}

/// The arguments of an instruction, in the form they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", content = "args", rename_all = "lowercase")]
pub enum Args {
    /// Shell form, continuations joined.
    Shell(String),
    /// Exec (JSON array) form.
    Exec(Vec<String>),
    /// `RUN <<EOF …` / `COPY <<EOF dst`: the command line; bodies are in `heredocs`.
    Heredoc(String),
    /// `ENV` and `LABEL`: ordered key-value pairs, quotes removed.
    Pairs(Vec<(String, String)>),
    /// Whitespace-separated words (`ARG`, `FROM`, `COPY`, `EXPOSE`, `USER`, …).
    Words(Vec<String>),
}

/// A here-document attached to `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter, quotes removed.
    pub name: String,
    /// The file descriptor before `<<` (0 when none is written).
    pub fd: u64,
    /// Whether variables are expanded in the body (unquoted delimiter).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body when it is used.
    pub chomp: bool,
    /// The body as written, each line with its newline.
    pub body: String,
}

/// A build stage: one `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub index: usize,
    /// Stage name from `AS name`, lower-cased as BuildKit does.
    pub name: Option<String>,
    /// The image with the global `ARG`s expanded as BuildKit's build does; as written when
    /// that is not possible (see `unresolved`).
    pub base: String,
    /// Why `base` could not be resolved (`base image unresolved: ARG X has no default …`).
    pub unresolved: Option<String>,
    /// When `base` names an earlier stage, that stage's index.
    pub base_stage: Option<usize>,
    /// The `--platform` flag, if any.
    pub platform: Option<String>,
    /// Index of the stage's `FROM` in `Dockerfile::instructions`.
    pub from_instruction: usize,
    /// One past the stage's last instruction.
    pub end_instruction: usize,
}

impl Dockerfile {
    /// The stage the image is built from (the last one).
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// The external image a stage ultimately builds on, following stage aliases.
    pub fn resolved_base<'a>(&'a self, stage: &'a Stage) -> &'a str {
        let mut current = stage;
        // Aliases only point backwards, so this walk ends; the bound guards malformed input.
        for _ in 0..self.stages.len() {
            match current.base_stage.and_then(|i| self.stages.get(i)) {
                Some(parent) if parent.index < current.index => current = parent,
                _ => break,
            }
        }
        &current.base
    }

    /// Instructions of one stage, `FROM` excluded.
    pub fn stage_instructions(&self, stage: &Stage) -> &[Instruction] {
        let start = (stage.from_instruction + 1).min(self.instructions.len());
        let end = stage.end_instruction.clamp(start, self.instructions.len());
        &self.instructions[start..end]
    }
}

/// A variant's identity: the SHA-256 of canonical text, shown by its first 7 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VariantHash(pub String);

impl VariantHash {
    pub fn of(canonical: &str) -> Self {
        let digest = Sha256::digest(canonical.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            use std::fmt::Write;
            let _ = write!(hex, "{byte:02x}");
        }
        VariantHash(hex)
    }

    /// The 7-hex-digit ID the notebook printed.
    pub fn id(&self) -> &str {
        &self.0[..7.min(self.0.len())]
    }
}

/// How connector-specific text is recognized and replaced before hashing.
#[derive(Debug, Clone, Default)]
pub struct NameContext {
    /// The connector's technical name (`source-foo`); `None` for generic layouts.
    pub technical_name: Option<String>,
}

impl NameContext {
    pub fn technical(name: &str) -> Self {
        NameContext { technical_name: Some(name.to_string()) }
    }

    /// The technical name and its snake_case form, with their placeholders, in the order
    /// the notebook replaces them.
    pub fn replacements(&self) -> Vec<(String, &'static str)> {
        match &self.technical_name {
            Some(name) if !name.is_empty() => {
                vec![(name.clone(), "connector-technical-name"), (name.replace('-', "_"), "connector_technical_name")]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_id_is_prefix_of_sha256() {
        let h = VariantHash::of("FROM scratch");
        assert_eq!(h.0.len(), 64);
        assert_eq!(h.id(), &h.0[..7]);
        // sha256("") is well known; guards the hex encoding.
        assert_eq!(VariantHash::of("").0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
