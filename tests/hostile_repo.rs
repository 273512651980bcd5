//! Hostile repositories and paths, built in the test: FIFOs, links to devices, to files outside
//! the repository and to `/`, run through the real binary under a 512 MiB address-space limit
//! (`prlimit --as`) and a time limit. Each run must end by itself with exit code 0 or 1, still
//! report the good items, say what it refused, and print no byte of what lies outside.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Bytes of address space the binary may use.
const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;
/// Seconds a run may take before it counts as a hang.
const TIME_LIMIT: u64 = 60;

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run_bounded(args: &[&str]) -> Run {
    let started = Instant::now();
    let output = Command::new("timeout")
        .args(["--signal=KILL", &TIME_LIMIT.to_string(), "prlimit", &format!("--as={MEMORY_LIMIT}")])
        .arg(env!("CARGO_BIN_EXE_dockvar"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run timeout/prlimit (coreutils, util-linux)");
    let code = output.status.code().unwrap_or(-1);
    assert!(started.elapsed() < Duration::from_secs(TIME_LIMIT), "{args:?} hung");
    let run = Run {
        code,
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(code == 0 || code == 1, "{args:?}: exit {code} (137 is killed, 101 a panic)\n{}{}", run.out, run.err);
    run
}

/// Every connector (or Dockerfile) of every variant in `variants --format json` output.
fn members(json: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["connectors"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()))
        .collect()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

/// A line of `/etc/passwd` that must never reach the output.
fn secret_line() -> String {
    std::fs::read_to_string("/etc/passwd").unwrap().lines().next().unwrap().to_string()
}

fn connector(dir: &Path, name: &str) -> std::path::PathBuf {
    let c = dir.join("airbyte-integrations/connectors").join(name);
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("metadata.yaml"),
        format!("data:\n  dockerRepository: airbyte/{name}\n  dockerImageTag: 1.0.0\n  supportLevel: certified\n"),
    )
    .unwrap();
    std::fs::write(c.join("setup.py"), "").unwrap();
    c
}

#[test]
fn airbyte_repository_with_fifos_devices_and_links_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = connector(root, "source-good");
    std::fs::write(good.join("Dockerfile"), "FROM python:3.9-slim\nRUN pip install .\n").unwrap();
    mkfifo(&connector(root, "source-fifo").join("Dockerfile"));
    symlink("/dev/zero", connector(root, "source-zero").join("Dockerfile")).unwrap();
    symlink("/etc/passwd", connector(root, "source-secret").join("Dockerfile")).unwrap();
    let meta_link = connector(root, "source-meta-link");
    std::fs::remove_file(meta_link.join("metadata.yaml")).unwrap();
    symlink("/etc/passwd", meta_link.join("metadata.yaml")).unwrap();
    let fifo_meta = connector(root, "source-fifo-meta");
    std::fs::remove_file(fifo_meta.join("metadata.yaml")).unwrap();
    mkfifo(&fifo_meta.join("metadata.yaml"));
    symlink("/", root.join("airbyte-integrations/connectors/source-root-link")).unwrap();
    // A link inside the repository is followed.
    let inner = connector(root, "source-inner-link");
    std::fs::write(root.join("shared.Dockerfile"), "FROM python:3.9-slim\nRUN pip install .\n").unwrap();
    symlink("../../../shared.Dockerfile", inner.join("Dockerfile")).unwrap();

    let root_s = root.to_str().unwrap();
    for format in ["table", "json"] {
        let run = run_bounded(&["variants", root_s, "--format", format]);
        let all = format!("{}{}", run.out, run.err);
        assert!(all.contains("source-good"), "{all}");
        assert!(!all.contains(&secret_line()), "content from outside the repository was printed:\n{all}");
        for name in ["source-zero", "source-secret"] {
            let line =
                run.err.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no warning for {name}:\n{all}"));
            assert!(line.contains("links outside the repository, not read"), "{line}");
        }
        let fifo = run.err.lines().find(|l| l.contains("source-fifo/")).expect("warning for the FIFO");
        assert!(fifo.contains("is a FIFO, not a regular file"), "{fifo}");
        if format == "json" {
            let doc: serde_json::Value = serde_json::from_str(&run.out).unwrap();
            let variants = doc["variants"].as_array().unwrap();
            // source-good and source-inner-link share one variant.
            let shared =
                variants.iter().find(|v| v["connectors"].as_array().unwrap().len() == 2).expect("shared variant");
            let names: Vec<&str> =
                shared["connectors"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            assert_eq!(names, ["source-good", "source-inner-link"]);
        }
    }
    let run = run_bounded(&["connectors", "list", root_s, "--format", "json"]);
    assert!(!format!("{}{}", run.out, run.err).contains(&secret_line()));
    let run = run_bounded(&["check", root_s, "--format", "json"]);
    assert!(!format!("{}{}", run.out, run.err).contains(&secret_line()));
}

#[test]
fn generic_repository_with_fifos_devices_and_links_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/Dockerfile"), "FROM alpine:3.20\n").unwrap();
    std::fs::create_dir_all(root.join("fifo")).unwrap();
    mkfifo(&root.join("fifo/Dockerfile"));
    std::fs::create_dir_all(root.join("zero")).unwrap();
    symlink("/dev/zero", root.join("zero/Dockerfile")).unwrap();
    symlink("/etc/passwd", root.join("secret.Dockerfile")).unwrap();
    symlink("/", root.join("rootlink")).unwrap();
    symlink(".", root.join("loop")).unwrap();

    let root_s = root.to_str().unwrap();
    let run = run_bounded(&["variants", root_s, "--format", "json"]);
    let all = format!("{}{}", run.out, run.err);
    assert!(!all.contains(&secret_line()), "{all}");
    assert_eq!(members(&run.out), ["app/Dockerfile"], "{all}");
    assert!(run.err.contains("links outside the repository, not read"), "{all}");
    let (_, table, err) = {
        let r = run_bounded(&["variants", root_s]);
        (r.code, r.out, r.err)
    };
    assert!(table.contains("not a regular file") && table.contains("not followed"), "{table}{err}");

    // A root that is itself a symlink is resolved once, and the walk stays inside its target.
    let link = tempfile::tempdir().unwrap();
    let linked_root = link.path().join("repo");
    symlink(root, &linked_root).unwrap();
    let run = run_bounded(&["variants", linked_root.to_str().unwrap(), "--format", "json"]);
    assert!(run.out.contains("app/Dockerfile"), "{}{}", run.out, run.err);
}

#[test]
fn named_paths_that_are_fifos_or_devices() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("Dockerfile");
    mkfifo(&fifo);
    let good = dir.path().join("good.Dockerfile");
    std::fs::write(&good, "FROM alpine:3.20\n").unwrap();
    let run = run_bounded(&["parse", fifo.to_str().unwrap(), "/dev/zero", good.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.out.contains("FROM alpine:3.20"), "{}", run.out);
    assert!(run.err.contains("is a FIFO, not a regular file"), "{}", run.err);
    assert!(run.err.contains("is a character device, not a regular file"), "{}", run.err);

    let archive = dir.path().join("image.tar");
    mkfifo(&archive);
    for reference in [format!("docker-archive:{}", archive.display()), format!("oci-archive:{}", archive.display())] {
        let run = run_bounded(&["inspect", &reference, "--no-cache"]);
        assert_eq!(run.code, 1, "{}{}", run.out, run.err);
        assert!(run.err.contains("not a regular file"), "{reference}: {}", run.err);
    }
}

#[test]
fn values_from_the_repository_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let evil = root.join("svc\x1b]0;pwned\x07\u{202e}");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(
        evil.join("Dockerfile"),
        "FROM alpine:3.20\nENV CLEAR=\"\x1b[2J\x1b[H\" NOTE=\"\u{9b}1m\"\nLABEL x=\"<script>alert(1)</script>\"\n",
    )
    .unwrap();
    let forged = root.join("x\nuser root (uid 0)");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::write(forged.join("Dockerfile"), "FROM alpine:3.20\nRUN true\n").unwrap();
    let root_s = root.to_str().unwrap();
    let name = format!("{}/Dockerfile", evil.file_name().unwrap().to_str().unwrap());
    for args in [
        vec!["variants", root_s],
        vec!["variants", root_s, "--format", "csv"],
        vec!["variants", root_s, "--format", "markdown"],
        vec!["variants", "show", &name, root_s],
        vec!["connectors", "list", root_s],
        vec!["--color", "always", "variants", root_s],
    ] {
        let run = run_bounded(&args);
        for (stream, text) in [("stdout", &run.out), ("stderr", &run.err)] {
            // Only dockvar's own color codes (ESC [ digits m) may carry an escape character.
            let mut rest = text.as_str();
            while let Some(at) = rest.find('\x1b') {
                let tail = &rest[at + 1..];
                let sgr = tail.strip_prefix('[').is_some_and(|t| {
                    let n = t.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
                    t.as_bytes().get(n) == Some(&b'm')
                });
                assert!(sgr && !tail.starts_with("[2J"), "{args:?} {stream}: raw escape sequence in {text:?}");
                rest = tail;
            }
            assert!(
                !text.contains('\x07') && !text.contains('\u{9b}') && !text.contains('\u{202e}'),
                "{args:?} {stream}: {text:?}"
            );
            assert!(!text.lines().any(|l| l.starts_with("user root")), "{args:?} {stream}: forged line in {text:?}");
        }
        if args.contains(&"markdown") {
            assert!(!run.out.contains("<script>"), "{}", run.out);
        }
    }
    // JSON stays exact.
    let run = run_bounded(&["variants", root_s, "--format", "json"]);
    let names = members(&run.out);
    assert!(names.contains(&name), "{names:?}");
}

#[test]
fn output_files_never_write_through_links() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for name in ["variants.csv", "variants.parquet", "variants.tmp", "variants.parquet.tmp"] {
        symlink(&victim, out.join(name)).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/monorepo");
    for name in ["variants.csv", "variants.parquet"] {
        let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args(["variants", root.to_str().unwrap(), "-q", "-o", out.join(name).to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
    // A regular file is replaced, and nothing else is left in the directory.
    let fresh = out.join("fresh.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .args(["variants", root.to_str().unwrap(), "-q", "-o", fresh.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(std::fs::read_to_string(&fresh).unwrap().starts_with("id,"));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

    // An output directory that is a symlink (a repository's `reports -> /elsewhere`) is refused
    // before anything is read or written.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let linked = dir.path().join("reports");
    symlink(&elsewhere, &linked).unwrap();
    for command in ["report", "recommend"] {
        let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args([command, root.to_str().unwrap(), "-q", "--out", linked.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}

#[test]
fn deeply_nested_metadata_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = connector(root, "source-good");
    std::fs::write(good.join("Dockerfile"), "FROM python:3.9-slim\n").unwrap();
    let deep = connector(root, "source-deep");
    // 400 KB, under the 1 MiB cap, nested 200,000 levels (flow style) and 300 levels (block).
    let n = 200_000;
    std::fs::write(deep.join("metadata.yaml"), format!("data:\n  x: {}{}\n", "[".repeat(n), "]".repeat(n))).unwrap();
    let block = connector(root, "source-block");
    let mut text = String::from("data:\n");
    for depth in 1..300 {
        text.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    std::fs::write(block.join("metadata.yaml"), text).unwrap();
    let started = std::time::Instant::now();
    let run = run_bounded(&["variants", root.to_str().unwrap()]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(run.out.contains("source-good"), "{}{}", run.out, run.err);
    let line = run.err.lines().find(|l| l.contains("source-deep")).expect("a warning for source-deep");
    assert!(line.contains("metadata.yaml:2: not valid YAML"), "{line}");
}
