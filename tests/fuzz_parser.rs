//! No input makes the parser wrapper, the normalizers or the trait reader panic: random bytes
//! and random sequences of Dockerfile fragments. `PROPTEST_CASES` raises the case count for
//! longer runs (the closing note of the scanning issue records one).

use dockvar::dockerfile::semantic::{SemanticOptions, canonical};
use dockvar::dockerfile::variant::{Normalizer, fingerprint_text};
use dockvar::dockerfile::{NameContext, lex, notebook, parse_dockerfile, read_traits};
use proptest::prelude::*;

fn exercise(text: &str) {
    let names = NameContext::technical("source-foo");
    let options = SemanticOptions::default();
    let _ = notebook::canonical(text, &names);
    if let Ok(df) = parse_dockerfile(text, "fuzz") {
        let _ = canonical(&df, &names, &options);
        let traits = read_traits(&df);
        assert!(traits.stages == df.stages.len());
        for ins in &df.instructions {
            assert!(ins.line >= 1 && ins.end_line >= ins.line, "{ins:?}");
        }
    }
    for normalizer in [Normalizer::Notebook, Normalizer::Semantic] {
        let fp = fingerprint_text(text, "fuzz", &names, normalizer, &options);
        assert_eq!(fp.hash.is_some(), fp.canonical.is_some());
    }
    let _ = lex::split_pairs(text, '\\');
    let _ = lex::split_words(text, '`');
    let _ = lex::fold_whitespace(text, '\\');
    let _ = lex::expand_vars(text, &|n| (n.len() % 2 == 0).then(|| n.to_string()));
}

const FRAGMENTS: &[&str] = &[
    "FROM ",
    "from ",
    "python:3.9-slim",
    " AS ",
    "base",
    "\n",
    "\r\n",
    "\r",
    "\\\n",
    "`\n",
    "\\\\\n",
    "# escape=`\n",
    "# syntax=docker/dockerfile:1\n",
    "\u{feff}",
    "RUN ",
    "<<EOF",
    "<<-EOT",
    "<<'Q'",
    "EOF\n",
    "\tEOT\n",
    "ENV ",
    "LABEL ",
    "ARG ",
    "A=1",
    " B=\"x y\"",
    "=",
    "\"",
    "'",
    "${A:-b}",
    "$A",
    "${",
    "}",
    "COPY ",
    "--from=base ",
    "--chown=a:b ",
    "[\"a b\", \"c\"]",
    "[",
    "]",
    ",",
    "ENTRYPOINT ",
    "CMD ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "NONE",
    "SHELL ",
    "USER ",
    "WORKDIR ",
    "EXPOSE ",
    "VOLUME ",
    "MAINTAINER ",
    "STOPSIGNAL ",
    "#",
    " ",
    "\t",
    "source-foo",
    "source_foo",
    "é",
    "\u{2028}",
    "\u{85}",
    "\u{b}",
    "RUN --mount=type=cache,target=/x ",
    "ADD ",
    "http://x/y",
    "apk add bash",
    "apt-get install -y bash",
    "pip install --upgrade pip",
    "&&",
    ";",
    "|",
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_fragments_never_panic(picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..80)) {
        let text: String = picks.into_iter().map(|i| FRAGMENTS[i]).collect();
        exercise(&text);
    }

    #[test]
    fn random_unicode_never_panics(text in "\\PC{0,300}") {
        exercise(&text);
    }
}
