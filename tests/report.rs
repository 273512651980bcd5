//! `dockvar report`, `recommend`, `check-image`, `envdiff` and `packages` on the fixture
//! monorepo with the images `scripts/test` builds (`DOCKVAR_TEST_*` set), plus the report's
//! behaviour when no image can be read (always run).

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = "fixtures/monorepo";
const SELECTION: [&str; 4] = ["--language", "python,low-code", "--support-level", "certified"];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dockvar(args: &[&str], cache: &Path) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockvar"));
    command.args(args).current_dir(manifest_dir()).env("DOCKVAR_CACHE_DIR", cache);
    if let Ok(host) = std::env::var("DOCKVAR_TEST_DOCKER_HOST") {
        command.env("DOCKER_HOST", host);
    }
    let output = command.output().expect("run dockvar");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn engine() -> bool {
    let ok = std::env::var("DOCKVAR_TEST_DOCKER_HOST").is_ok() && std::env::var("DOCKVAR_TEST_IMAGES").is_ok();
    if !ok {
        dockvar::testing::skip("needs the private engine's images (run scripts/test)");
    }
    ok
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// The committed sample is what the current code makes from the current images, byte for byte.
#[test]
fn the_committed_sample_report_is_reproduced_exactly() {
    if !engine() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let mut args = vec!["report", ROOT, "--images", "reports/sample.map", "--out", out_dir, "-q"];
    args.extend(SELECTION);
    let (code, stdout, stderr) = dockvar(&args, cache.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("8 variants, 7 images inspected, 1 failed"), "{stdout}");
    let mut args = vec!["recommend", ROOT, "--images", "reports/sample.map", "--out", out_dir, "-q"];
    args.extend(SELECTION);
    let (code, _, stderr) = dockvar(&args, cache.path());
    assert_eq!(code, 0, "{stderr}");
    let sample = manifest_dir().join("reports/sample");
    let made = files(out.path());
    let committed = files(&sample);
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&made), names(&committed));
    for ((name, a), (_, b)) in made.iter().zip(&committed) {
        assert!(a == b, "{name} differs from reports/sample/{name}: regenerate the sample (see README)");
    }
}

#[test]
fn the_report_tells_the_notebooks_story() {
    let md = std::fs::read_to_string(manifest_dir().join("reports/sample/report.md")).unwrap();
    for needle in [
        "**18 connectors selected**",
        "Found **8 Dockerfile variants**",
        "Variant 2 (e21edc3) uses a multi-stage build",
        "Set on every image with the same value",
        "| AIRBYTE_ENTRYPOINT | python /airbyte/integration_code/main.py |",
        "| libgdal32 | amd64 | 1 |",
        "`python:3.9.18-bookworm`",
        "`source-zendesk-chat` (entrypoint)",
        "docker-archive:reports/no-such-image.tar",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_dir().join("reports/sample/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["variants"].as_array().unwrap().len(), 8);
    assert_eq!(json["images"].as_array().unwrap().iter().filter(|i| !i["error"].is_null()).count(), 1);
    assert_eq!(json["recommendation"]["checks"]["python_version"], "3.9.18");
}

#[test]
fn a_report_without_any_readable_image_is_still_complete_and_stable() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("images.map");
    std::fs::write(&map, "source-instagram=docker-archive:does-not-exist.tar\nsource-notion=oci:nowhere:1\n").unwrap();
    let run = |out: &PathBuf| {
        let mut args = vec![
            "report",
            ROOT,
            "--images",
            map.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
            "--name",
            "source-instagram",
            "--name",
            "source-notion",
        ];
        args.extend(SELECTION);
        dockvar(&args, cache.path())
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (code, stdout, stderr) = run(&a);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("0 images inspected, 2 failed"), "{stdout}");
    run(&b);
    assert_eq!(files(&a), files(&b));
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("does-not-exist.tar"), "{md}");
    assert!(md.contains("## Recommended base image"), "{md}");
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("does-not-exist.tar"));
    let bad = dir.path().join("bad.map");
    std::fs::write(&bad, "# comment\nno equals sign here\n").unwrap();
    let (code, _, stderr) = dockvar(
        &["report", ROOT, "--images", bad.to_str().unwrap(), "--out", dir.path().to_str().unwrap()],
        cache.path(),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.map:2: expected `connector=image`"), "{stderr}");
}

#[test]
fn check_image_passes_and_fails_each_check() {
    if !engine() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let checks = "reports/sample/checks.yaml";
    let (code, out, err) =
        dockvar(&["check-image", "docker:dockvar-sample/conforming:1", "--checks", checks, "--no-cache"], cache.path());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "docker:dockvar-sample/conforming:1: ok\n");
    let images = ["klaviyo", "zendesk-chat", "v2", "python-base"].map(|n| format!("docker:dockvar-sample/{n}:1"));
    let mut args = vec!["check-image"];
    args.extend(images.iter().map(String::as_str));
    args.extend(["--checks", checks, "--no-cache"]);
    let (code, out, _) = dockvar(&args, cache.path());
    assert_eq!(code, 1);
    for check in ["python_version", "pip_version", "timezone", "user", "env.present", "env.equal", "entrypoint"] {
        assert!(out.contains(&format!(": {check}: ")), "no image failed {check}:\n{out}");
    }
    insta::assert_snapshot!("check_image_failures", out);
}

#[test]
fn envdiff_and_packages_on_the_sample_images() {
    if !engine() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let images = ["v1", "v2", "zendesk-chat"].map(|n| format!("docker:dockvar-sample/{n}:1"));
    let base = "docker:dockvar-sample/python-base:1";
    let mut args: Vec<&str> = vec!["envdiff"];
    args.extend(images.iter().map(String::as_str));
    args.extend(["--base", base, "--format", "json", "-q"]);
    let (code, out, _) = dockvar(&args, cache.path());
    assert_eq!(code, 0);
    insta::assert_snapshot!("envdiff_json", out);
    args.push("--fail-on-difference");
    assert_eq!(dockvar(&args, cache.path()).0, 1);
    let mut args: Vec<&str> = vec!["packages"];
    args.extend(images.iter().map(String::as_str));
    args.extend(["--base", base, "-q"]);
    let (code, out, _) = dockvar(&args, cache.path());
    assert_eq!(code, 0);
    insta::assert_snapshot!("packages_table", out);
}
