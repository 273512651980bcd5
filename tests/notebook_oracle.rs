//! The notebook normalizer against the notebook's own Python function
//! (`scripts/notebook_variants.py`, kept verbatim): same IDs on the fixture monorepo and on
//! generated texts full of the quirks that matter (comment text inside other lines, lone `#`,
//! indented comments, CRLF and lone CR, Python-only whitespace and line breaks).

use std::path::Path;
use std::process::Command;

use dockvar::dockerfile::{NameContext, VariantHash, notebook};

fn python() -> Option<&'static str> {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        dockvar::testing::skip("python3 is not installed, so the notebook's function cannot be run");
    }
    ok.then_some("python3")
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn fixture_monorepo_ids_match_the_notebook() {
    let Some(py) = python() else { return };
    let out = Command::new(py)
        .args(["scripts/notebook_variants.py", "fixtures/monorepo"])
        .current_dir(manifest_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, id) = l.split_once('\t').unwrap();
            (name.to_string(), id.to_string())
        })
        .collect();
    assert!(expected.len() >= 20);

    let out = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .args(["connectors", "list", "fixtures/monorepo", "--normalizer", "notebook", "--format", "json", "-q"])
        .current_dir(manifest_dir())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actual: Vec<(String, String)> = doc["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["dockerfile"].is_null())
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["variant"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(actual, expected);
}

/// A small deterministic generator, so that a failure reproduces.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn random_dockerfile(rng: &mut XorShift, name: &str) -> String {
    let snake = name.replace('-', "_");
    let pieces = [
        "FROM python:3.9-slim",
        "# Bash is installed for more convenient debugging.",
        "RUN apt-get update && apt-get install -y bash # Bash",
        "#",
        "  # indented comment",
        "\t#tab comment",
        "LABEL io.airbyte.version=1.0.0",
        "LABEL io.airbyte.version=1.0.0-rc",
        "LABEL io.airbyte.name=airbyte/NAME",
        "COPY SNAKE ./SNAKE",
        "COPY main.py ./",
        "ENV AIRBYTE_ENTRYPOINT \"python /airbyte/integration_code/main.py\"",
        "RUN echo # not a comment #x",
        "#x",
        "RUN pip install . \\",
        "    && echo done",
        "",
        "   ",
        "\u{a0}\u{2003}",
        "\u{1c}RUN x\u{1f}",
        "WORKDIR /airbyte/NAME",
        "\u{feff}FROM alpine",
        "LABEL io.airbyte.versionX",
        "# LABEL io.airbyte.version=2",
        "RUN é ü \u{2028} split",
        "RUN a\u{b}# vt comment",
        "RUN b\u{c}c",
        "RUN \u{85}next",
    ];
    let breaks = ["\n", "\r\n", "\r", "\n\n"];
    let mut text = String::new();
    let lines = 1 + rng.next() % 14;
    for _ in 0..lines {
        text.push_str(&rng.pick(&pieces).replace("NAME", name).replace("SNAKE", &snake));
        text.push_str(rng.pick(&breaks));
    }
    text
}

#[test]
fn generated_texts_hash_like_the_notebook() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let names = ["source-foo", "destination-bar-baz", "source-a", "x"];
    let mut cases = Vec::new();
    for i in 0..400 {
        let name = names[i % names.len()];
        let text = random_dockerfile(&mut rng, name);
        let case_dir = dir.path().join(format!("{i:03}"));
        std::fs::create_dir(&case_dir).unwrap();
        std::fs::write(case_dir.join("Dockerfile"), &text).unwrap();
        cases.push((case_dir, name, text));
    }
    let list: Vec<String> = cases.iter().map(|(d, n, _)| format!("{}\t{n}", d.display())).collect();
    let list_path = dir.path().join("cases.txt");
    std::fs::write(&list_path, list.join("\n")).unwrap();
    let script = "import sys\nfrom pathlib import Path\nsys.path.insert(0, 'scripts')\n\
        from notebook_variants import get_dockerfile_variant\n\
        for line in open(sys.argv[1], encoding='utf-8').read().split('\\n'):\n\
        \x20   d, n = line.split('\\t')\n\
        \x20   print(get_dockerfile_variant(n, Path(d)))\n";
    let out = Command::new(py).arg("-c").arg(script).arg(&list_path).current_dir(manifest_dir()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(expected.len(), cases.len());
    for ((_, name, text), want) in cases.iter().zip(expected) {
        let got = VariantHash::of(&notebook::canonical(text, &NameContext::technical(name)));
        assert_eq!(got.id(), want, "name {name}, text {text:?}");
    }
}
