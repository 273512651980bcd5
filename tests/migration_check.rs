//! `dockvar migration`, `connectors list --query` and `dockvar check` on the fixture
//! monorepo, on a git history made here (a connector migrated in a commit), and on images
//! built by the private engine.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn dockvar_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dockvar")).args(args).current_dir(dir).output().expect("run dockvar");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn dockvar(args: &[&str]) -> (i32, String, String) {
    dockvar_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn transcript(args: &[&str]) -> String {
    let (code, out, err) = dockvar(args);
    format!("$ dockvar {}\nexit: {code}\n--- stdout\n{out}--- stderr\n{err}", args.join(" "))
}

const ROOT: &str = "fixtures/monorepo";

fn names(json: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(json).unwrap();
    doc["connectors"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_seed_queries_work_verbatim() {
    let (code, out, _) = dockvar(&[
        "connectors",
        "list",
        ROOT,
        "--support-level=certified",
        "--query",
        "data.connectorBuildOptions.baseImage is not None",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(names(&out), vec!["source-github", "source-jira", "source-pipedrive"]);
    let (code, out, _) = dockvar(&[
        "connectors",
        "list",
        ROOT,
        "--query",
        "data.supportLevel == 'certified' and 'connectorBuildOptions' not in data.keys()",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    let found = names(&out);
    assert_eq!(found.len(), 17, "{found:?}");
    assert!(!found.iter().any(|n| n == "source-github" || n == "source-jira" || n == "source-faker"));
}

#[test]
fn query_operators_on_the_fixture() {
    let count = |query: &str| {
        let (code, out, err) = dockvar(&["connectors", "list", ROOT, "--query", query, "--format", "json", "-q"]);
        assert_eq!(code, 0, "{query}: {err}");
        names(&out).len()
    };
    assert_eq!(count("data.connectorType == 'destination'"), 2);
    assert_eq!(count("data.connectorType != 'destination'"), 25);
    assert_eq!(count("'language:python' in data.tags"), 17);
    // The two connectors with broken metadata have no tags: neither test matches them.
    assert_eq!(count("'language:python' not in data.tags"), 10);
    assert_eq!(count("len(data.tags) >= 1"), 27);
    assert_eq!(count("data['dockerRepository'] == 'airbyte/source-notion'"), 1);
    assert_eq!(
        count("data.releaseStage == 'beta' or data.releaseStage == 'alpha'"),
        count("data.releaseStage in ['beta', 'alpha']")
    );
    // 7 community connectors, plus the 2 with broken metadata: `None == 'certified'` is false.
    assert_eq!(count("not (data.supportLevel == 'certified')"), 9);
    assert_eq!(count("data.nothing.deeper is None"), 29);
    assert_eq!(count("data.nothing.deeper == 'x'"), 0);
    assert_eq!(count("data.dockerImageTag > '1'"), count("data.dockerImageTag >= '1.0.0'"));
    assert_eq!(count("data.dockerImageTag < '1'") + count("data.dockerImageTag >= '1'"), 27);
}

#[test]
fn query_errors() {
    let (code, _, err) = dockvar(&["connectors", "list", ROOT, "--query", "data.supportLevel = 'certified'"]);
    assert_eq!(code, 2);
    assert!(err.contains("column 19"), "{err}");
    // A type error counts as no match, and --verbose says so.
    let (code, out, err) =
        dockvar(&["connectors", "list", ROOT, "--query", "len(data.dockerImageTag.x) > 1", "-v", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(names(&out).is_empty());
    let (code, out, err2) =
        dockvar(&["connectors", "list", ROOT, "--query", "data.name.keys()", "-v", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(names(&out).is_empty());
    assert!(err2.contains("could not be evaluated on 27 connector(s)"), "{err} / {err2}");
}

#[test]
fn migration_status_and_summary() {
    insta::assert_snapshot!("migration_table", transcript(&["migration", ROOT, "-q"]));
    insta::assert_snapshot!("migration_json", transcript(&["migration", ROOT, "-q", "--format", "json", "--migrated"]));
    insta::assert_snapshot!("migration_check", transcript(&["migration", ROOT, "-q", "--check"]));
    let (code, out, _) = dockvar(&["migration", ROOT, "-q", "--check", "--name", "source-jira"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[migration/build-customization]"));
    let (code, out, _) =
        dockvar(&["migration", ROOT, "-q", "--latest", "1.1.0", "--format", "json", "--name", "source-github"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["connectors"][0]["latest"], true);
    let (code, _, err) = dockvar(&["migration", ROOT, "-q", "--check", "--against", "HEAD"]);
    let in_git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !in_git {
        assert_eq!(code, 2, "{err}");
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=dockvar test", "-c", "user.email=test@dockvar.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rewrites a connector's metadata and changelog the way a migration PR does.
fn migrate(repo: &Path, name: &str, old_tag: &str, new_tag: &str, changelog: bool) {
    let dir = repo.join("airbyte-integrations/connectors").join(name);
    std::fs::remove_file(dir.join("Dockerfile")).unwrap();
    let metadata = std::fs::read_to_string(dir.join("metadata.yaml")).unwrap();
    let metadata = metadata.replacen(
        "data:\n",
        "data:\n  connectorBuildOptions:\n    baseImage: docker.io/airbyte/python-connector-base:1.2.0@sha256:c22a9d97464b69d6ef01898edf3f8612dc11614f05a84984451dde195f337db9\n",
        1,
    );
    let metadata = metadata.replace(&format!("dockerImageTag: {old_tag}"), &format!("dockerImageTag: {new_tag}"));
    std::fs::write(dir.join("metadata.yaml"), metadata).unwrap();
    if changelog {
        let short = name.trim_start_matches("source-");
        let docs = repo.join(format!("docs/integrations/sources/{short}.md"));
        let text = std::fs::read_to_string(&docs).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header = lines.iter().position(|l| l.starts_with("|:")).unwrap();
        lines.insert(header + 1, format!("| {new_tag} | 2023-10-20 | [31000](https://github.com/airbytehq/airbyte/pull/31000) | Base image migration |"));
        std::fs::write(&docs, lines.join("\n") + "\n").unwrap();
    }
}

#[test]
fn migration_check_against_a_git_revision() {
    if Command::new("git").arg("--version").output().is_err() {
        dockvar::testing::skip("git is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join(ROOT), &repo);
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "before"]);
    migrate(&repo, "source-instagram", "1.0.11", "1.0.12", true);
    migrate(&repo, "source-twilio", "0.10.0", "0.11.0", false);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "migrate"]);

    let (code, out, err) =
        dockvar_in(&repo, &["migration", ".", "--check", "--against", "HEAD~1", "--name", "source-instagram", "-q"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("migration check: 0 errors"), "{out}");

    let (code, out, _) = dockvar_in(
        &repo,
        &["migration", ".", "--check", "--against", "HEAD~1", "--name", "source-twilio", "-q", "--format", "json"],
    );
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = doc["findings"].as_array().unwrap().iter().map(|f| f["check_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["migration/version-bump", "migration/changelog"]);

    // Checked from a subdirectory root and an unknown revision.
    let (code, _, err) = dockvar_in(&repo, &["migration", ".", "--check", "--against", "no-such-rev", "-q"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown revision `no-such-rev`"), "{err}");
    let (code, _, err) = dockvar_in(
        tmp.path(),
        &["migration", "repo", "--check", "--against", "HEAD~1", "--name", "source-instagram", "-q"],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn contract_checks_on_dockerfiles() {
    insta::assert_snapshot!("check_json", transcript(&["check", ROOT, "-q", "--format", "json"]));
    let (code, _, _) = dockvar(&["check", ROOT, "-q", "--name", "source-zendesk-chat", "--fail-on", "error"]);
    assert_eq!(code, 1);
    let (code, _, err) = dockvar(&["check", ROOT, "-q", "--migrated", "--not-migrated"]);
    assert_eq!(code, 2, "{err}");
    // An unpinned base image in metadata is a warning: not a failure at --fail-on error.
    let (code, out, _) = dockvar(&["check", ROOT, "-q", "--name", "source-zenloop"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[contract/base-pinned]"), "{out}");
    let (code, _, _) = dockvar(&["check", ROOT, "-q", "--name", "source-zenloop", "--fail-on", "warning"]);
    assert_eq!(code, 1);
}

#[test]
fn sarif_output_is_valid_sarif() {
    let (code, out, _) = dockvar(&["check", ROOT, "-q", "--format", "sarif"]);
    assert_eq!(code, 1);
    let log: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "contract/airbyte-entrypoint"));
    let Ok(schema_path) = std::env::var("DOCKVAR_TEST_SARIF_SCHEMA") else {
        dockvar::testing::skip(
            "schema validation: DOCKVAR_TEST_SARIF_SCHEMA is not set (scripts/test fetches the schema)",
        );
        return;
    };
    // The published schema's `pattern` for run.language has a stray `]` that ECMAScript reads
    // as a literal and Rust's regex engine rejects; escape it so the schema compiles.
    let text = std::fs::read_to_string(schema_path).unwrap().replace("{2}]?$", "{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject what SARIF forbids.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn contract_checks_on_images() {
    let (Ok(host), Ok(_)) = (std::env::var("DOCKVAR_TEST_DOCKER_HOST"), std::env::var("DOCKVAR_TEST_IMAGES")) else {
        dockvar::testing::skip("needs DOCKVAR_TEST_DOCKER_HOST and DOCKVAR_TEST_IMAGES (run scripts/test)");
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let run = |images: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args(["check", ROOT, "--images-only", "--format", "json", "-q", "--no-cache"])
            .args(images)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DOCKER_HOST", &host)
            .env("DOCKVAR_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        let ids: Vec<String> =
            doc["findings"].as_array().unwrap().iter().map(|f| f["check_id"].as_str().unwrap().to_string()).collect();
        (output.status.code().unwrap(), ids, doc)
    };
    // Built to meet every check, labelled as the fixture's source-instagram 1.0.11.
    let (code, ids, _) = run(&["docker:dockvar-test/contract:1"]);
    assert_eq!((code, ids), (0, vec![]));
    // Root, no /airbyte, no AIRBYTE_ENTRYPOINT.
    let (code, ids, _) = run(&["docker:dockvar-test/alpine:1"]);
    assert_eq!(code, 1);
    assert_eq!(ids, vec!["contract/airbyte-dir", "contract/airbyte-entrypoint", "contract/airbyte-user"]);
    // An image that cannot be read is not a pass.
    let (code, _, doc) = run(&["docker:dockvar-test/no-such-image:1"]);
    assert_eq!(code, 1);
    assert!(doc["errors"][0]["message"].as_str().unwrap().contains("not checked"));
}
