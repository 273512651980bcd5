//! `--query` against airbyte-ci's own evaluator: every query of tests/oracle/queries.txt is
//! evaluated by dockvar and by simpleeval over PyYAML's `safe_load` (tests/oracle/
//! query_oracle.py, run with `$DOCKVAR_TEST_ORACLE_PYTHON`) on hand-written and generated
//! metadata, and the selections must be identical; a query dockvar refuses as a syntax error
//! must be one Python cannot parse. The binary is checked on a generated repository too.

use std::path::Path;
use std::process::{Command, Stdio};

use dockvar::discover::query::{Query, UNSUPPORTED};
use dockvar::metadata::load_data;

fn oracle_python() -> Option<String> {
    match std::env::var("DOCKVAR_TEST_ORACLE_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            dockvar::testing::skip(
                "DOCKVAR_TEST_ORACLE_PYTHON is not set (source scripts/lib/oracles.sh; oracles_install)",
            );
            None
        }
    }
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(manifest_dir().join("tests/oracle/queries.txt")).unwrap();
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| l.replace("\\n", "\n")).collect()
}

/// Hand-written metadata in the shapes real connectors have, with the YAML 1.1 corners.
const FIXTURES: &[&str] = &[
    r#"data:
  ab_internal:
    ql: 200
    sl: 200
  allowedHosts:
    hosts:
      - "*.s3.amazonaws.com"
  connectorBuildOptions:
    baseImage: docker.io/airbyte/python-connector-base:1.1.0@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c
  connectorSubtype: file
  connectorType: source
  definitionId: 69589781-7828-43c5-9f63-8925b1c1ccc2
  dockerImageTag: 4.1.0
  dockerRepository: airbyte/source-s3
  documentationUrl: https://docs.airbyte.com/integrations/sources/s3
  githubIssueLabel: source-s3
  license: ELv2
  maxSecondsBetweenMessages: 86400
  name: S3
  registryOverrides:
    cloud:
      enabled: true
    oss:
      enabled: true
  releaseStage: generally_available
  releaseDate: 2021-05-10
  supportLevel: certified
  tags:
    - language:python
metadataSpecVersion: "1.0"
"#,
    r#"data:
  ab_internal:
    ql: 100
    sl: 100
  connectorType: source
  dockerImageTag: 1.0
  dockerRepository: airbyte/source-faker
  documentationUrl: https://docs.airbyte.com/integrations/sources/faker
  githubIssueLabel: source-faker
  license: MIT
  name: Sample Data (Faker)
  registryOverrides:
    cloud:
      enabled: yes
    oss:
      enabled: on
  releaseDate: 2023-01-01
  oldDate: 2021-12-31
  quotedDate: "2023-01-01"
  timestamp: 2023-01-01 10:00:00
  supportLevel: community
  octal: 017
  hexadecimal: 0xFF
  sexagesimal: 1:30:00
  underscored: 1_000_000
  exponent: 1e3
  inf: .inf
  nan: .nan
  flag_yes: yes
  flag_on: On
  flag_no: NO
  flag_off: off
  quoted_yes: 'yes'
  nullable: ~
  duplicate: first
  duplicate: second
  base: &base {a: 1, b: 2}
  merged:
    <<: *base
    b: 3
  numbers:
    1: one
    2.5: two and a half
  tags:
    - language:python
    - cdk:low-code
"#,
    r#"data:
  ab_internal:
    ql: 300
    sl: 200
  connectorType: destination
  dockerImageTag: 0.1
  dockerRepository: airbyte/destination-postgres
  documentationUrl: https://docs.airbyte.com/integrations/destinations/postgres
  name: Postgres
  supportLevel: certified
  releaseStage: alpha
  registryOverrides:
    cloud:
      enabled: false
    oss:
      enabled: True
  tags:
    - language:java
  language: python
"#,
    "data:\n  name: Broken\n  tags: [unclosed\n",
    "other: 1\n",
    "data: just a string\n",
    "data:\n  name: No tags\n  supportLevel: archived\n  connectorBuildOptions: {}\n",
];

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

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Metadata with every field optional and scalars drawn from YAML 1.1's corner cases.
fn generated(rng: &mut XorShift) -> String {
    let scalars = [
        "100",
        "200",
        "300",
        "0",
        "-5",
        "1_000",
        "017",
        "0x1F",
        "1:30",
        "0.5",
        "1.0",
        "1e3",
        "1.0e+3",
        ".inf",
        "yes",
        "no",
        "on",
        "Off",
        "true",
        "False",
        "~",
        "null",
        "'200'",
        "\"300\"",
        "2023-01-01",
        "2023-10-20 10:00:00",
        "'2023-01-01'",
        "certified",
        "community",
        "source-x",
        "''",
        "[]",
        "{}",
    ];
    let names = ["Source S3", "source faker", "Postgres", "S3 Glacier", "x", "'yes'", "Source X"];
    let levels = ["certified", "community", "archived", "'certified'", "Certified"];
    let mut out = String::from("data:\n");
    if rng.chance(80) {
        out.push_str(&format!("  name: {}\n", rng.pick(&names)));
    }
    if rng.chance(80) {
        out.push_str(&format!("  supportLevel: {}\n", rng.pick(&levels)));
    }
    if rng.chance(70) {
        let kind = rng.pick(&["source", "destination"]);
        out.push_str(&format!(
            "  connectorType: {kind}\n  dockerRepository: airbyte/{kind}-{}\n",
            rng.pick(&["s3", "faker", "x"])
        ));
    }
    if rng.chance(70) {
        out.push_str(&format!("  dockerImageTag: {}\n", rng.pick(&["1.0.0", "0.1.2", "1.0", "2", "0.10"])));
    }
    if rng.chance(60) {
        out.push_str("  ab_internal:\n");
        if rng.chance(85) {
            out.push_str(&format!("    ql: {}\n", rng.pick(&scalars)));
        }
        if rng.chance(85) {
            out.push_str(&format!("    sl: {}\n", rng.pick(&scalars)));
        }
        if rng.chance(20) {
            out.push_str(&format!("    ql: {}\n", rng.pick(&scalars)));
        }
    }
    if rng.chance(50) {
        out.push_str("  connectorBuildOptions:\n");
        if rng.chance(75) {
            out.push_str(&format!(
                "    baseImage: {}\n",
                rng.pick(&[
                    "docker.io/airbyte/python-connector-base:1.1.0@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c",
                    "airbyte/python-connector-base:1.2.0",
                    "~",
                    "''",
                ])
            ));
        } else {
            out.push_str("    other: 1\n");
        }
    }
    if rng.chance(60) {
        out.push_str("  tags:\n");
        for _ in 0..(rng.next() % 3) {
            out.push_str(&format!(
                "    - {}\n",
                rng.pick(&["language:python", "language:java", "cdk:low-code", "yes", "1"])
            ));
        }
    }
    if rng.chance(50) {
        out.push_str(&format!(
            "  releaseDate: {}\n",
            rng.pick(&["2023-01-01", "'2023-01-01'", "2021-5-10 1:02:03", "2022-12-31"])
        ));
    }
    if rng.chance(40) {
        out.push_str(&format!(
            "  registryOverrides:\n    oss:\n      enabled: {}\n",
            rng.pick(&["true", "yes", "1", "false", "off"])
        ));
    }
    for key in ["maxSecondsBetweenMessages", "octal", "hexadecimal", "underscored", "exponent", "flag_yes", "nullable"]
    {
        if rng.chance(25) {
            out.push_str(&format!("  {key}: {}\n", rng.pick(&scalars)));
        }
    }
    if rng.chance(10) {
        out.push_str(&format!("  name: {}\n", rng.pick(&names)));
    }
    out
}

fn documents() -> Vec<String> {
    let mut docs: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    docs.extend((0..80).map(|_| generated(&mut rng)));
    docs
}

/// dockvar's answer: `true`, `false`, or the class name of what it raised.
fn dockvar_row(query: &Query, docs: &[String]) -> Vec<serde_json::Value> {
    docs.iter()
        .map(|text| match query.matches(load_data(text).ok().as_ref()) {
            Ok(b) => serde_json::Value::Bool(b),
            Err(e) => serde_json::Value::String(e.kind.to_string()),
        })
        .collect()
}

fn run_oracle(python: &str, docs: &[String], queries: &[String]) -> serde_json::Value {
    run_oracle_mode(python, docs, queries, "bool")
}

fn run_oracle_mode(python: &str, docs: &[String], queries: &[String], mode: &str) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(manifest_dir().join("tests/oracle/query_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oracle python runs");
    let request = serde_json::json!({"docs": docs, "queries": queries, "mode": mode});
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), request.to_string().as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_corpus_selects_what_simpleeval_selects() {
    let Some(python) = oracle_python() else { return };
    let docs = documents();
    let queries = corpus();
    assert!(queries.len() >= 150, "{} queries", queries.len());
    let oracle = run_oracle(&python, &docs, &queries);
    let mut differences = Vec::new();
    let mut matched_somewhere = 0;
    for (i, text) in queries.iter().enumerate() {
        let expected = oracle["results"][i].as_array().unwrap();
        let python_syntax_error = oracle["syntax_error"][i].as_bool().unwrap();
        let query = match Query::parse(text) {
            Ok(q) => q,
            Err(e) => {
                if !python_syntax_error {
                    differences.push(format!("{text:?}: dockvar refuses it ({e}) but Python parses it"));
                }
                continue;
            }
        };
        if python_syntax_error {
            differences.push(format!("{text:?}: Python cannot parse it but dockvar does"));
            continue;
        }
        let actual = dockvar_row(&query, &docs);
        for (d, (want, got)) in expected.iter().zip(&actual).enumerate() {
            let want_match = want.as_bool() == Some(true);
            let got_match = got.as_bool() == Some(true);
            if got.as_str() == Some(UNSUPPORTED) {
                differences
                    .push(format!("{text:?} on document {d}: dockvar does not model it; simpleeval gave {want}"));
            } else if want_match != got_match {
                differences.push(format!("{text:?} on document {d}: simpleeval {want}, dockvar {got}\n{}", docs[d]));
            }
        }
        if expected.iter().any(|v| v.as_bool() == Some(true)) {
            matched_somewhere += 1;
        }
    }
    assert!(differences.is_empty(), "{} difference(s):\n{}", differences.len(), differences.join("\n"));
    // A corpus that never matches proves nothing.
    assert!(matched_somewhere >= 100, "only {matched_somewhere} queries match some document");
}

#[test]
fn the_binary_selects_what_simpleeval_selects() {
    let Some(python) = oracle_python() else { return };
    let docs = documents();
    let root = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, text) in docs.iter().enumerate() {
        let name = format!("source-gen{i:03}");
        let dir = root.path().join("airbyte-integrations/connectors").join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("metadata.yaml"), text).unwrap();
        names.push(name);
    }
    let queries: Vec<String> = [
        "data.connectorBuildOptions.baseImage is not None",
        "data.supportLevel == 'certified' and 'connectorBuildOptions' not in data.keys()",
        "(data.ab_internal.ql > 100) & (data.ab_internal.sl < 200)",
        "data.get('connectorBuildOptions', {}).get('baseImage') is None",
        "data.releaseDate >= '2023-01-01'",
        "data.dockerImageTag == 1.0",
    ]
    .map(String::from)
    .to_vec();
    let oracle = run_oracle(&python, &docs, &queries);
    for (i, query) in queries.iter().enumerate() {
        let expected: Vec<&str> = oracle["results"][i]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(d, _)| names[d].as_str())
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args(["connectors", "list", "--format", "json", "--query", query])
            .arg(root.path())
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{query}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        let actual: Vec<&str> =
            doc["connectors"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(actual, expected, "{query}");
    }
}

#[test]
fn yaml_typing_matches_pyyaml() {
    let Some(python) = oracle_python() else { return };
    let docs = documents();
    // `str()` of every top-level value and of every value one level down: the types, the
    // numbers, the dates and the key order all show in it.
    let mut keys: Vec<String> = docs
        .iter()
        .filter_map(|t| load_data(t).ok())
        .filter_map(|d| d.as_mapping().map(|m| m.to_vec()))
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(|s| format!("data.get('{s}')")))
        .collect();
    keys.sort();
    keys.dedup();
    let mut queries: Vec<String> = keys.iter().map(|k| format!("str({k})")).collect();
    queries.push("str(data)".into());
    let mut request_mode = run_oracle_mode(&python, &docs, &queries, "str");
    let results = request_mode["results"].take();
    let mut compared = 0;
    for (i, text) in queries.iter().enumerate() {
        let query = Query::parse(text).unwrap();
        for (d, doc) in docs.iter().enumerate() {
            let want = &results[i][d];
            let got = query.evaluate_to_text(load_data(doc).ok().as_ref());
            match (want.as_array(), got) {
                (Some(pair), Ok(text_value)) => {
                    assert_eq!(pair[1].as_str().unwrap(), text_value, "{text} on document {d}:\n{doc}");
                    compared += 1;
                }
                (None, Err(_)) => {}
                (want, got) => panic!("{text} on document {d}: simpleeval {want:?}, dockvar {got:?}\n{doc}"),
            }
        }
    }
    assert!(compared > 300, "{compared}");
}
