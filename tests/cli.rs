//! The real binary on `fixtures/`, compared with snapshots (`insta`).

use std::path::Path;
use std::process::{Command, Stdio};

fn dockvar(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .output()
        .expect("run dockvar");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Exit code, stdout and stderr in one snapshot.
fn transcript(args: &[&str]) -> String {
    let (code, out, err) = dockvar(args);
    format!("$ dockvar {}\nexit: {code}\n--- stdout\n{out}--- stderr\n{err}", args.join(" "))
}

const ROOT: &str = "fixtures/monorepo";

#[test]
fn variants_table() {
    insta::assert_snapshot!(transcript(&["variants", ROOT]));
}

#[test]
fn variants_json() {
    insta::assert_snapshot!(transcript(&["variants", ROOT, "--format", "json"]));
}

#[test]
fn variants_csv_and_markdown() {
    insta::assert_snapshot!("variants_csv", transcript(&["variants", ROOT, "--format", "csv", "-q"]));
    insta::assert_snapshot!("variants_markdown", transcript(&["variants", ROOT, "--format", "markdown", "-q"]));
}

#[test]
fn notebook_selection_like_the_seed() {
    // The notebook's selection: certified python and low-code connectors, notebook hashing.
    insta::assert_snapshot!(transcript(&[
        "variants",
        ROOT,
        "--normalizer",
        "notebook",
        "--language",
        "python,low-code",
        "--support-level",
        "certified",
    ]));
}

#[test]
fn filters_and_empty_selection() {
    insta::assert_snapshot!("filter_migrated", transcript(&["connectors", "list", ROOT, "--migrated"]));
    insta::assert_snapshot!(
        "filter_name_and_type",
        transcript(&["variants", ROOT, "--name", "source-s*", "--type", "source", "-q"])
    );
    insta::assert_snapshot!(
        "filter_matches_nothing",
        transcript(&["variants", ROOT, "--language", "java", "--support-level", "community"])
    );
}

#[test]
fn connectors_list() {
    insta::assert_snapshot!("connectors_table", transcript(&["connectors", "list", ROOT]));
    insta::assert_snapshot!("connectors_json", transcript(&["connectors", "list", ROOT, "--format", "json", "-q"]));
    insta::assert_snapshot!("connectors_csv", transcript(&["connectors", "list", ROOT, "--format", "csv", "-q"]));
}

#[test]
fn variants_show_and_diff() {
    insta::assert_snapshot!("show_notion", transcript(&["variants", "show", "source-notion", ROOT, "-q"]));
    insta::assert_snapshot!(
        "show_zendesk_json",
        transcript(&["variants", "show", "source-zendesk-chat", ROOT, "-q", "--format", "json"])
    );
    insta::assert_snapshot!(
        "diff_instagram_twilio",
        transcript(&["variants", "diff", "source-instagram", "source-twilio", ROOT, "-q"])
    );
    let (code, _, err) = dockvar(&["variants", "show", "no-such-thing", ROOT, "-q"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: no variant or connector named `no-such-thing`"), "{err}");
}

#[test]
fn generic_layout() {
    insta::assert_snapshot!(transcript(&["variants", "fixtures/dockerfiles"]));
}

#[test]
fn parse_every_parser_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dockerfiles");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "{names:?}");
    for name in names {
        let path = format!("fixtures/dockerfiles/{name}");
        let (code, out, err) = dockvar(&["parse", &path, "--format", "json"]);
        let expect_error = name.starts_with("error-");
        assert_eq!(code, i32::from(expect_error), "{name}: {err}");
        insta::assert_snapshot!(
            format!("parse_{}", name.trim_end_matches(".Dockerfile")),
            format!("exit: {code}\n{out}--- stderr\n{err}")
        );
    }
}

#[test]
fn parse_table_output() {
    insta::assert_snapshot!(transcript(&[
        "parse",
        "fixtures/dockerfiles/multi-stage.Dockerfile",
        "fixtures/dockerfiles/error-no-from.Dockerfile"
    ]));
}

#[test]
fn strict_and_bad_root() {
    let (code, _, err) = dockvar(&["variants", ROOT, "--strict", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = dockvar(&["variants", ROOT, "--format", "json"]);
    assert_eq!(code, 0);
    let (code, out, err) = dockvar(&["variants", "fixtures/does-not-exist"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    insta::assert_snapshot!("bad_root", err);
    let (code, _, err) = dockvar(&["variants", ROOT, "--name", "["]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = dockvar(&["variants", "--no-such-flag"]);
    assert_eq!(code, 2);
}

#[test]
fn output_is_deterministic() {
    for args in [
        &["variants", ROOT, "--format", "json"][..],
        &["connectors", "list", ROOT, "--format", "csv"][..],
        &["variants", ROOT, "--normalizer", "notebook", "--format", "json"][..],
    ] {
        let first = dockvar(args);
        for _ in 0..3 {
            assert_eq!(dockvar(args), first, "{args:?}");
        }
    }
}

#[test]
fn writes_parquet_csv_and_json_files() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("variants.parquet");
    let (code, _, err) = dockvar(&["variants", ROOT, "-o", parquet.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let frame = ParquetReader::new(std::fs::File::open(&parquet).unwrap()).finish().unwrap();
    let (_, json, _) = dockvar(&["variants", ROOT, "--format", "json", "-q"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(frame.height(), doc["variants"].as_array().unwrap().len());
    let counts: Vec<u64> = frame.column("count").unwrap().u64().unwrap().into_no_null_iter().collect();
    let expected: Vec<u64> = doc["variants"].as_array().unwrap().iter().map(|v| v["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, expected);

    let connectors = dir.path().join("connectors.parquet");
    let (code, _, _) = dockvar(&["connectors", "list", ROOT, "-q", "-o", connectors.to_str().unwrap()]);
    assert_eq!(code, 0);
    let frame = ParquetReader::new(std::fs::File::open(&connectors).unwrap()).finish().unwrap();
    assert_eq!(
        frame.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        vec!["name", "type", "language", "support_level", "image", "dockerfile", "base_image", "variant"]
    );

    let csv = dir.path().join("variants.csv");
    assert_eq!(dockvar(&["variants", ROOT, "-q", "-o", csv.to_str().unwrap()]).0, 0);
    let (_, csv_stdout, _) = dockvar(&["variants", ROOT, "-q", "--format", "csv"]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), csv_stdout);

    let bad = dir.path().join("variants.xlsx");
    let (code, _, err) = dockvar(&["variants", ROOT, "-q", "-o", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown output format"), "{err}");
    assert!(!bad.exists());
}

#[test]
fn broken_pipe_exits_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .args(["variants", ROOT, "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn color_always_paints_and_never_does_not() {
    let (_, out, _) = dockvar(&["--color", "always", "variants", ROOT, "-q"]);
    assert!(out.contains("\x1b[1m"));
    let (_, out, err) = dockvar(&["--color", "never", "variants", ROOT]);
    assert!(!out.contains('\x1b') && !err.contains('\x1b'));
}

const DEVCONTAINERS: &str = "fixtures/generic/devcontainers";
const MATRIX: &str = "fixtures/generic/official-matrix";

fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = dockvar(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn generic_devcontainers() {
    // Dot-directories, lowercase recipes, a Containerfile, ARG chains into FROM, an ARG
    // without a default and a substitution BuildKit rejects.
    insta::assert_snapshot!("devcontainers_variants", transcript(&["variants", DEVCONTAINERS]));
    let doc = json_of(&["variants", DEVCONTAINERS, "--format", "json", "-q"]);
    let bases: Vec<(&str, &str)> = doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| {
            let base = v["traits"]["final_base"].as_str().unwrap_or("");
            v["connectors"].as_array().unwrap().iter().map(move |c| (c.as_str().unwrap(), base))
        })
        .collect();
    assert_eq!(bases.len(), 12, "{bases:?}");
    for dir in [".devcontainer/", ".github/", ".docker/", "recipes/", "Containerfile"] {
        assert!(bases.iter().any(|(n, _)| n.contains(dir)), "nothing found under {dir}: {bases:?}");
    }
    // BuildKit expands ARG defaults inside other ARG defaults.
    assert!(
        bases.contains(&("containers/jupyter/.devcontainer/Dockerfile", "quay.io/jupyter/docker-stacks-foundation")),
        "{bases:?}"
    );
    insta::assert_snapshot!(
        "devcontainers_show_python",
        transcript(&["variants", "show", "containers/python-3/.devcontainer/Dockerfile", DEVCONTAINERS, "-q"])
    );
}

#[test]
fn generic_matrix_templates() {
    let doc = json_of(&["variants", MATRIX, "--format", "json", "-q"]);
    assert_eq!(doc["variants"].as_array().unwrap().len(), 36);
    let templates = doc["templates"].as_array().unwrap();
    // One template per OS flavour: full Debian, slim Debian, Alpine, Windows.
    let mut shape: Vec<(u64, usize, Vec<String>)> = templates
        .iter()
        .map(|t| {
            let params = t["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| format!("{} {}", p["instruction"].as_str().unwrap(), p["key"].as_str().unwrap()))
                .collect();
            (t["count"].as_u64().unwrap(), t["variants"].as_array().unwrap().len(), params)
        })
        .collect();
    shape.sort();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let debian = strings(&["FROM codename", "ENV GPG_KEY", "ENV PYTHON_VERSION", "ENV PYTHON_SHA256"]);
    assert_eq!(
        shape,
        vec![
            (6, 6, strings(&["ENV GPG_KEY", "ENV PYTHON_VERSION", "ENV PYTHON_SHA256"])),
            (6, 6, strings(&["FROM tag", "ENV PYTHON_VERSION", "ENV PYTHON_SHA256"])),
            (12, 12, debian.clone()),
            (12, 12, debian),
        ]
    );
    // Every variant names its template, and the PYTHON trait comes from ENV PYTHON_VERSION.
    for v in doc["variants"].as_array().unwrap() {
        let t = v["template"].as_str().unwrap();
        assert!(templates.iter().any(|x| x["id"] == t && x["variants"].as_array().unwrap().contains(&v["id"])));
    }
    let (_, table, _) = dockvar(&["variants", MATRIX, "-q"]);
    assert!(table.contains("3.14.0a1") && table.contains("3.9.20"), "{table}");

    insta::assert_snapshot!("matrix_variants", transcript(&["variants", MATRIX]));
    let slim = templates.iter().find(|t| t["parameters"].as_array().unwrap().len() == 4).unwrap();
    let id = slim["id"].as_str().unwrap();
    insta::assert_snapshot!(
        "matrix_show_template",
        transcript(&["variants", "show", id, MATRIX, "-q"]).replace(id, "TEMPLATE")
    );
    // Same template: only values differ. Other flavour: long RUN lines as word diffs.
    insta::assert_snapshot!(
        "matrix_diff_same_template",
        transcript(&["variants", "diff", "3.11/bookworm/Dockerfile", "3.12/bookworm/Dockerfile", MATRIX, "-q"])
    );
    insta::assert_snapshot!(
        "matrix_diff_word_diff",
        transcript(&["variants", "diff", "3.11/bookworm/Dockerfile", "3.11/slim-bookworm/Dockerfile", MATRIX, "-q"])
    );
}

/// Copies a fixture tree into `dst` (files and directories only).
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

#[test]
fn generic_gitignore_include_exclude() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEVCONTAINERS), &root);
    std::fs::create_dir_all(root.join("build")).unwrap();
    std::fs::write(root.join("build/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(root.join("mine.local.Dockerfile"), "FROM scratch\n").unwrap();
    let root_s = root.to_str().unwrap();
    let names = |args: &[&str]| -> Vec<String> {
        let doc = json_of(args);
        let mut names: Vec<String> = doc["variants"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["connectors"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()))
            .collect();
        names.sort();
        names
    };
    // Not a git work tree: .gitignore is not read, so both extra files are scanned.
    let all = names(&["variants", root_s, "--format", "json", "-q"]);
    assert_eq!(all.len(), 14, "{all:?}");
    let git = Command::new("git").args(["init", "-q"]).current_dir(&root).status();
    let Ok(status) = git else {
        dockvar::testing::skip("git is not installed");
        return;
    };
    assert!(status.success());
    let (code, out, err) = dockvar(&["variants", root_s]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("build/Dockerfile") && !out.contains("mine.local"), "{out}");
    assert!(out.contains("ignored by .gitignore"), "{out}{err}");
    assert_eq!(names(&["variants", root_s, "--format", "json", "-q"]).len(), 12);
    assert_eq!(names(&["variants", root_s, "--no-ignore", "--format", "json", "-q"]).len(), 14);
    let recipes = names(&["variants", root_s, "--include", "recipes/*", "--format", "json", "-q"]);
    assert!(!recipes.is_empty() && recipes.iter().all(|n| n.starts_with("recipes/")), "{recipes:?}");
    let no_dot = names(&["variants", root_s, "--exclude", "**/.devcontainer", "--format", "json", "-q"]);
    assert!(no_dot.iter().all(|n| !n.contains(".devcontainer")), "{no_dot:?}");
    assert!(no_dot.len() < 12 && !no_dot.is_empty());
}
