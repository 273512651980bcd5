//! Differential test against BuildKit's own parser: PyPI's `dockerfile` 3.4.0 (moby/buildkit
//! v0.12.5's `frontend/dockerfile/parser` through cgo), run by `$DOCKVAR_TEST_ORACLE_PYTHON`
//! (`scripts/lib/oracles.sh`), and `dockvar parse --format json` read every Dockerfile in
//! `fixtures/` and several thousand generated ones; they must agree on the instructions,
//! keywords, flags, JSON form, values, here-document names, descriptors and bodies, and lines.
//!
//! Deliberate differences (dockvar refuses what BuildKit's parser accepts but its build
//! rejects) are listed in `DELIBERATE` with the reason; any other difference fails the test.
//! The oracle does not expand `FROM` lines, so expansion is tested in `src/dockerfile`
//! against BuildKit's lexer rules instead.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// dockvar's error message prefixes for input BuildKit's parser accepts and its build
/// (`instructions.Parse` / `dockerfile2llb`) rejects, with why dockvar rejects it up front.
const DELIBERATE: &[(&str, &str)] = &[
    ("unknown instruction", "the parser keeps unknown keywords; the build fails with `unknown instruction`"),
    ("expected FROM", "the build requires the first instruction other than ARG to be FROM"),
    ("no FROM", "the build needs a stage"),
    ("requires", "the build rejects an instruction without its arguments (`RUN requires at least one argument`)"),
    ("FROM requires either one or three", "the build accepts only `FROM image [AS name]`"),
    ("SHELL requires the arguments to be in JSON form", "the build accepts SHELL only as JSON"),
    ("HEALTHCHECK", "the build accepts only `HEALTHCHECK NONE` and `HEALTHCHECK CMD …`"),
    ("Missing command after HEALTHCHECK", "the build needs a command after CMD"),
    ("Unknown type", "the build knows only the NONE and CMD health check types"),
    ("isn't allowed as an ONBUILD trigger", "the build refuses ONBUILD ONBUILD, ONBUILD FROM, ONBUILD MAINTAINER"),
    ("ONBUILD requires", "the build needs a trigger instruction"),
    ("names can not be blank", "the build rejects `ARG =x` and blank ENV/LABEL keys"),
    ("not valid UTF-8", "dockvar reads text; the oracle is given text too, so the file cannot be compared"),
];

const ORACLE: &str = r#"
import json, sys, dockerfile
out = []
for path in sys.stdin.read().split("\n"):
    if not path:
        continue
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        out.append({"path": path, "error": "not valid UTF-8"})
        continue
    try:
        cmds = dockerfile.parse_string(text)
    except dockerfile.GoParseError as e:
        out.append({"path": path, "error": str(e)})
        continue
    out.append({"path": path, "commands": [
        {"cmd": c.cmd, "sub_cmd": c.sub_cmd, "json": c.json, "start_line": c.start_line,
         "end_line": c.end_line, "flags": list(c.flags), "value": list(c.value),
         "heredocs": [[h.name, h.file_descriptor, h.content] for h in c.heredocs]}
        for c in cmds]})
json.dump(out, sys.stdout)
"#;

fn oracle(python: &str, paths: &[PathBuf]) -> Vec<Value> {
    let mut child = Command::new(python)
        .args(["-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the oracle");
    let list: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
    child.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed");
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn dockvar(paths: &[PathBuf]) -> Vec<Value> {
    let mut files = Vec::new();
    for chunk in paths.chunks(1000) {
        let out = Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args(["parse", "--format", "json", "-q"])
            .args(chunk)
            .output()
            .expect("run dockvar");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("dockvar parse JSON");
        files.extend(doc["files"].as_array().unwrap().iter().cloned());
    }
    files
}

/// Compares one file; `Ok(Some(reason))` for a deliberate difference.
fn compare(oracle: &Value, ours: &Value) -> Result<Option<&'static str>, String> {
    let our_error = ours["error"].as_str();
    match (oracle.get("error").and_then(Value::as_str), our_error) {
        (Some(_), Some(_)) => return Ok(None),
        (Some(e), None) => return Err(format!("BuildKit rejects ({e}), dockvar accepts")),
        (None, Some(e)) => {
            // `path:line: message`
            let message = e.split_once(": ").map_or(e, |(_, m)| m);
            return DELIBERATE
                .iter()
                .find(|(prefix, _)| message.starts_with(prefix) || message.contains(prefix))
                .map(|(_, reason)| Some(*reason))
                .ok_or_else(|| format!("dockvar rejects ({e}), BuildKit accepts"));
        }
        (None, None) => {}
    }
    let theirs = oracle["commands"].as_array().unwrap();
    let mine = ours["instructions"].as_array().unwrap();
    if theirs.len() != mine.len() {
        return Err(format!("{} instructions in BuildKit, {} in dockvar", theirs.len(), mine.len()));
    }
    for (n, (t, m)) in theirs.iter().zip(mine).enumerate() {
        let at = |what: &str, a: &Value, b: &Value| format!("instruction {}: {what}: BuildKit {a}, dockvar {b}", n + 1);
        let keyword = Value::String(t["cmd"].as_str().unwrap_or("").to_ascii_uppercase());
        if keyword != m["keyword"] {
            return Err(at("keyword", &keyword, &m["keyword"]));
        }
        let sub = match t["sub_cmd"].as_str() {
            Some(s) => Value::String(s.to_ascii_uppercase()),
            None => Value::Null,
        };
        for (what, a, b) in [
            ("sub keyword", &sub, &m["sub_keyword"]),
            ("JSON form", &t["json"], &m["json"]),
            ("first line", &t["start_line"], &m["line"]),
            ("last line", &t["end_line"], &m["end_line"]),
            ("flags", &t["flags"], &m["flags"]),
            ("values", &t["value"], &m["values"]),
        ] {
            if a != b {
                return Err(at(what, a, b));
            }
        }
        // The oracle reports an ONBUILD trigger's here-documents on the trigger, where
        // BuildKit never attaches them (they hang on the ONBUILD node); nothing to compare.
        if sub.is_null() {
            let ours: Vec<Value> = m["heredocs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| serde_json::json!([h["name"], h["fd"], h["body"]]))
                .collect();
            let ours = Value::Array(ours);
            if t["heredocs"] != ours {
                return Err(at("here-documents", &t["heredocs"], &ours));
            }
        }
    }
    Ok(None)
}

fn fixture_dockerfiles(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if t.is_dir() {
            fixture_dockerfiles(&path, out);
        } else if t.is_file()
            && (name.contains("Dockerfile") || name.ends_with(".dockerfile") || name.starts_with("Containerfile"))
        {
            out.push(path);
        }
    }
}

/// A small deterministic generator (xorshift), so that a failure can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORDS: &[&str] = &[
    "apt-get",
    "install",
    "-y",
    "\"two words\"",
    "'single $X'",
    "$HOME",
    "${A:-b}",
    "a\\ b",
    "&&",
    "|",
    ";",
    "x=1",
    "\"a\\\"b\"",
    "[",
    "]",
    "#notcomment",
    "<<",
    "a<<b",
    "\"<<Q\"",
    "--",
    "--flag",
    "é",
    "\t",
];
const FLAGS: &[&str] = &[
    "--from=builder",
    "--chown=\"app user\"",
    "--chown=1000:100",
    "--chmod='0755'",
    "--mount=type=cache,target=\"/root/.cache\"",
    "--mount=type=secret,id=x",
    "--platform=$BUILDPLATFORM",
    "--link",
    "--network=none",
    "--a=\"b\\\"c\"",
];

fn words(rng: &mut Rng, n: usize, esc: char) -> String {
    let mut out = Vec::new();
    for _ in 0..n {
        let mut w = rng.pick(WORDS).to_string();
        if rng.chance(10) {
            w = format!("{esc}{esc}");
        }
        out.push(w);
    }
    out.join(" ")
}

fn continuation(rng: &mut Rng, esc: char) -> String {
    match rng.below(8) {
        0 => format!(" {esc}\n  # a comment\n    "),
        1 => format!(" {esc}\n\n  "),
        2 => format!(" {esc}  \n\t"),
        3 => format!("{esc}\n{esc}\n "),
        4 => format!(" {esc}{esc}{esc}\n"),
        _ => format!(" {esc}\n    "),
    }
}

fn heredoc_body(rng: &mut Rng, name: &str, chomp: bool) -> String {
    let mut body = String::new();
    for _ in 0..rng.below(3) {
        body.push_str(if rng.chance(30) { "\techo \"$X\" \\\n" } else { "echo hi; FROM notaninstruction\n" });
    }
    if rng.chance(3) {
        return body; // unterminated
    }
    format!("{body}{}{name}\n", if chomp && rng.chance(50) { "\t" } else { "" })
}

fn instruction(rng: &mut Rng, esc: char) -> String {
    let kw = rng.pick(&[
        "RUN",
        "RUN",
        "RUN",
        "COPY",
        "ADD",
        "ENV",
        "LABEL",
        "ARG",
        "CMD",
        "ENTRYPOINT",
        "EXPOSE",
        "USER",
        "WORKDIR",
        "VOLUME",
        "SHELL",
        "HEALTHCHECK",
        "ONBUILD",
        "STOPSIGNAL",
        "MAINTAINER",
        "FROM",
        "from",
        "Run",
        "BOGUS",
    ]);
    let mut line = kw.to_string();
    let with_flags = matches!(kw, "RUN" | "COPY" | "ADD" | "FROM" | "HEALTHCHECK") && rng.chance(40);
    if with_flags {
        for _ in 0..1 + rng.below(2) {
            line.push(' ');
            line.push_str(rng.pick(FLAGS));
        }
    }
    let mut bodies = String::new();
    match kw {
        "ENV" | "LABEL" | "ARG" => {
            let n = 1 + rng.below(3);
            for i in 0..n {
                line.push(' ');
                match rng.below(6) {
                    0 if i == 0 && kw != "ARG" => line.push_str("K legacy value \"q\""),
                    1 => line.push_str("A=\"x y\""),
                    2 => line.push_str("B=${A}z"),
                    3 => line.push_str("C='$A'"),
                    4 => line.push_str("D=a\\ b"),
                    _ => line.push_str("E=1"),
                }
            }
        }
        "CMD" | "ENTRYPOINT" | "SHELL" | "VOLUME" if rng.chance(60) => {
            line.push_str(rng.pick(&[
                " [\"a\", \"b c\"]",
                " []",
                " [\"x\"] trailing",
                " [1]",
                " [\"unclosed\"",
                " [not json]",
            ]));
        }
        "HEALTHCHECK" => line.push_str(rng.pick(&[
            " NONE",
            " CMD [\"curl\", \"-f\"]",
            " CMD curl -f x",
            " --interval=5s CMD true",
            " BAD x",
        ])),
        "ONBUILD" => line.push_str(rng.pick(&[" RUN echo hi", " COPY a b", " ONBUILD RUN x", " RUN <<EOF", ""])),
        "FROM" | "from" => {
            line.push(' ');
            line.push_str(rng.pick(&["python:3.12", "$BASE", "${BASE:-alpine}", "scratch", "a b", "x AS y", "x as Y"]));
        }
        _ => {
            let n = rng.below(5);
            if n > 0 {
                line.push(' ');
                line.push_str(&words(rng, n, esc));
            }
            if matches!(kw, "RUN" | "COPY" | "ADD") && rng.chance(35) {
                let count = 1 + rng.below(2);
                for k in 0..count {
                    let name = ["EOF", "EOT", "END"][k];
                    let chomp = rng.chance(30);
                    let quoted = rng.pick(&["", "'", "\""]);
                    let fd = if rng.chance(10) { "3" } else { "" };
                    line.push_str(&format!(" {fd}<<{}{quoted}{name}{quoted}", if chomp { "-" } else { "" }));
                    if rng.chance(30) {
                        line.push_str(" > /tmp/out");
                    }
                    bodies.push_str(&heredoc_body(rng, name, chomp));
                }
                if kw != "RUN" {
                    line.push_str(" /dst");
                }
            }
            if rng.chance(30) {
                line.push_str(&continuation(rng, esc));
                let n = 1 + rng.below(3);
                line.push_str(&words(rng, n, esc));
            }
        }
    }
    if rng.chance(8) {
        line.push_str(&format!(" {esc}{esc}"));
    }
    format!("{line}\n{bodies}")
}

fn generate(rng: &mut Rng) -> String {
    let mut text = String::new();
    if rng.chance(5) {
        text.push('\u{feff}');
    }
    let esc = if rng.chance(15) { '`' } else { '\\' };
    if rng.chance(30) {
        text.push_str("# syntax=docker/dockerfile:1\n");
    }
    if esc == '`' {
        text.push_str("# escape=`\n");
    } else if rng.chance(5) {
        text.push_str("# escape=\\\n");
    }
    if rng.chance(40) {
        text.push_str("ARG REGISTRY=quay.io\nARG BASE=$REGISTRY/jupyter/base:${TAG:-latest}\n");
    }
    if rng.chance(95) {
        text.push_str(rng.pick(&["FROM $BASE\n", "FROM python:3.12-slim AS build\n", "from alpine\n"]));
    }
    for _ in 0..rng.below(8) {
        if rng.chance(10) {
            text.push_str(rng.pick(&["\n", "# comment\n", "   \n", "  # indented\n"]));
        }
        text.push_str(&instruction(rng, esc));
    }
    if rng.chance(10) {
        text = text.replace('\n', "\r\n");
    }
    if rng.chance(5) && text.ends_with('\n') {
        text.pop();
    }
    text
}

#[test]
fn agrees_with_buildkit() {
    let Ok(python) = std::env::var("DOCKVAR_TEST_ORACLE_PYTHON") else {
        dockvar::testing::skip(
            "DOCKVAR_TEST_ORACLE_PYTHON is not set (source scripts/lib/oracles.sh; oracles_install)",
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    fixture_dockerfiles(&root.join("fixtures"), &mut paths);
    paths.sort();
    let fixtures = paths.len();
    assert!(fixtures >= 90, "{fixtures} fixture Dockerfiles");
    let dir = tempfile::tempdir().unwrap();
    let cases: usize = std::env::var("DOCKVAR_ORACLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..cases {
        let path = dir.path().join(format!("gen-{i:05}.Dockerfile"));
        std::fs::write(&path, generate(&mut rng)).unwrap();
        paths.push(path);
    }
    let theirs = oracle(&python, &paths);
    let ours = dockvar(&paths);
    assert_eq!(theirs.len(), paths.len());
    assert_eq!(ours.len(), paths.len());
    let mut deliberate: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut agreed = 0;
    for ((path, t), o) in paths.iter().zip(&theirs).zip(&ours) {
        match compare(t, o) {
            Ok(None) => agreed += 1,
            Ok(Some(reason)) => *deliberate.entry(reason).or_default() += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    eprintln!("{} files ({fixtures} fixtures, {cases} generated): {agreed} agree", paths.len());
    for (reason, n) in &deliberate {
        eprintln!("  {n} differ on purpose: {reason}");
    }
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            eprintln!("{f}");
            if let Some(p) = f.split(": ").next()
                && p.contains("gen-")
                && let Ok(text) = std::fs::read_to_string(p)
            {
                eprintln!("---\n{text}---");
            }
        }
        panic!("{} of {} files differ from BuildKit's parser", failures.len(), paths.len());
    }
    assert!(agreed > paths.len() / 2, "too few files parse at all: {agreed}");
}
