//! `dockvar inspect` on images built by the private engine (`scripts/test` builds them and
//! sets the `DOCKVAR_TEST_*` variables): every source gives the same facts, the facts agree
//! with what the container itself prints, and a broken image never sinks the others.
//! Without those variables (a plain `cargo test`), each test says it was skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

struct Env {
    images: PathBuf,
    docker_host: String,
    docker_cli: String,
    registry: String,
}

fn env(test: &str) -> Option<Env> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("DOCKVAR_TEST_IMAGES"), get("DOCKVAR_TEST_DOCKER_HOST"), get("DOCKVAR_TEST_REGISTRY")) {
        (Some(images), Some(docker_host), Some(registry)) => Some(Env {
            images: PathBuf::from(images),
            docker_host,
            docker_cli: get("DOCKVAR_TEST_DOCKER_CLI").unwrap_or_else(|| "docker".into()),
            registry,
        }),
        _ => {
            dockvar::testing::skip(&format!(
                "{test}: needs DOCKVAR_TEST_IMAGES, DOCKVAR_TEST_DOCKER_HOST and DOCKVAR_TEST_REGISTRY \
                 (run scripts/test, which starts a private engine and registry and builds the images)"
            ));
            None
        }
    }
}

/// Runs `dockvar inspect --format json` with a private cache; returns exit code and images.
fn inspect(env: &Env, cache: &std::path::Path, extra: &[&str], images: &[String]) -> (i32, Vec<Value>) {
    inspect_with_mode(env, cache, extra, images, "auto")
}

/// The same with the engine source forced to read files one way (`DOCKVAR_ENGINE_MODE`).
fn inspect_with_mode(
    env: &Env,
    cache: &std::path::Path,
    extra: &[&str],
    images: &[String],
    mode: &str,
) -> (i32, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_dockvar"))
        .env("DOCKVAR_ENGINE_MODE", mode)
        .arg("inspect")
        .args(images)
        .args(["--format", "json"])
        .args(extra)
        .env("DOCKER_HOST", &env.docker_host)
        .env("DOCKVAR_CACHE_DIR", cache)
        .output()
        .expect("run dockvar");
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(doc["schema_version"], 1);
    (output.status.code().unwrap_or(-1), doc["images"].as_array().unwrap().clone())
}

/// The facts that must not depend on where the image was read from. Layer digests, media
/// types and the image ID legitimately differ (skopeo recompresses and rewrites the config).
fn portable(image: &Value) -> Value {
    let mut v = image.clone();
    if let Value::Object(map) = &mut v {
        for key in
            ["reference", "source", "digest", "image_id", "repo_tags", "layers", "history", "created", "platforms"]
        {
            map.remove(key);
        }
    }
    v
}

fn references(env: &Env, name: &str, registry: bool) -> Vec<String> {
    let dir = env.images.join(name);
    let mut refs = vec![
        format!("docker:dockvar-test/{name}:1"),
        format!("docker-archive:{}", dir.join("docker-archive.tar").display()),
        format!("oci:{}:1", dir.join("oci").display()),
        format!("oci-archive:{}:1", dir.join("oci-zstd.tar").display()),
    ];
    if registry {
        refs.push(format!("registry:{}/dockvar-test/{name}:1", env.registry));
        refs.push(format!("docker://{}/dockvar-test/{name}:1", env.registry));
    }
    refs
}

#[test]
fn every_source_gives_the_same_facts() {
    let Some(env) = env("every_source_gives_the_same_facts") else { return };
    let cache = tempfile::tempdir().unwrap();
    for (name, registry) in [("engine", true), ("layered", true), ("alpine", false)] {
        let refs = references(&env, name, registry);
        let (code, images) = inspect(&env, cache.path(), &["--no-cache"], &refs);
        assert_eq!(code, 0, "{images:#?}");
        let sources: Vec<&str> = images.iter().map(|i| i["source"].as_str().unwrap()).collect();
        assert_eq!(sources[0], "docker (overlay2)");
        assert_eq!(&sources[1..4], &["docker-archive", "oci", "oci-archive"]);
        let first = portable(&images[0]);
        for image in &images[1..] {
            assert_eq!(portable(image), first, "{} differs from {}", image["reference"], images[0]["reference"]);
        }
        // The engine's other two ways of reading files: the archive API of a container that is
        // created and never started, and a full export.
        for (mode, label) in [("archive", "docker (archive API)"), ("export", "docker (export)")] {
            let (code, other) = inspect_with_mode(&env, cache.path(), &["--no-cache"], &refs[..1], mode);
            assert_eq!(code, 0, "{other:#?}");
            assert_eq!(other[0]["source"], label);
            let mut facts = portable(&other[0]);
            let mut expected = first.clone();
            // Each way says how it read the files; the facts themselves must not differ.
            for v in [&mut facts, &mut expected] {
                if let Value::Object(map) = v {
                    map.remove("warnings");
                }
            }
            assert_eq!(facts, expected, "{name} read with {mode} differs from overlay2");
        }
    }
}

#[test]
fn engine_image_facts_are_read_through_whiteouts_and_links() {
    let Some(env) = env("engine_image_facts_are_read_through_whiteouts_and_links") else { return };
    let cache = tempfile::tempdir().unwrap();
    let (code, images) = inspect(&env, cache.path(), &["--no-cache"], &["docker:dockvar-test/engine:1".to_string()]);
    assert_eq!(code, 0);
    let f = &images[0];
    assert_eq!(f["os"]["id"], "debian");
    assert_eq!(f["os"]["source"], "/etc/os-release");
    assert_eq!(
        (&f["user"]["spec"], &f["user"]["name"], &f["user"]["uid"], &f["user"]["gid"], &f["user"]["root"]),
        (
            &serde_json::json!("airbyte"),
            &serde_json::json!("airbyte"),
            &serde_json::json!(1000),
            &serde_json::json!(1000),
            &serde_json::json!(false)
        )
    );
    assert_eq!(f["airbyte_dir"]["exists"], true);
    assert_eq!(f["airbyte_dir"]["mode"], "0750");
    assert_eq!(f["airbyte_dir"]["owner"], "airbyte");
    assert_eq!(f["airbyte_dir"]["writable_by_airbyte"], true);
    assert_eq!(f["pip"]["version"], "24.0");
    let dists: BTreeSet<&str> =
        f["python_packages"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    // old-1.0 was deleted by a later layer (a whiteout); new-2.0 and requests came after.
    assert_eq!(dists, BTreeSet::from(["new", "pip", "requests"]));
    assert_eq!(f["timezone"]["version"], "Europe/Berlin");
    assert_eq!(f["exposed_ports"], serde_json::json!(["8080/tcp"]));
    assert_eq!(f["labels"]["io.dockvar.test"], "engine");
}

fn docker_run(env: &Env, image: &str, script: &str) -> String {
    docker_exec(env, image, &["sh", "-c", script])
}

/// Runs a busybox applet as the container's only process, so no shell adds variables.
fn docker_exec(env: &Env, image: &str, args: &[&str]) -> String {
    let out = Command::new(&env.docker_cli)
        .args(["run", "--rm", "--network=none", "--entrypoint", "/bin/busybox", image])
        .args(args)
        .env("DOCKER_HOST", &env.docker_host)
        .output()
        .expect("docker run");
    assert!(out.status.success(), "docker run {image}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `dpkg --get-selections` would list: installed stanzas of status and status.d.
fn installed_dpkg_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for stanza in text.split("\n\n") {
        let field = |k: &str| stanza.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
        if let Some(name) = field("Package:")
            && field("Status:").is_none_or(|s| s.ends_with(" installed") && !s.starts_with("deinstall"))
        {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn facts_agree_with_the_running_container() {
    let Some(env) = env("facts_agree_with_the_running_container") else { return };
    let cache = tempfile::tempdir().unwrap();
    for name in ["engine", "layered", "alpine"] {
        let image = format!("dockvar-test/{name}:1");
        let (code, images) = inspect(&env, cache.path(), &["--no-cache"], &[format!("docker:{image}")]);
        assert_eq!(code, 0);
        let f = &images[0];

        // printenv inside the container: the config's env plus what the runtime adds.
        let inside: BTreeMap<String, String> = docker_exec(&env, &image, &["env"])
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .filter(|(k, _)| k != "HOSTNAME" && k != "HOME")
            .collect();
        let facts: BTreeMap<String, String> = f["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv[0].as_str().unwrap().to_string(), kv[1].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(facts, inside, "{name}: env");

        // The package list, as dpkg or apk sees it.
        let names: BTreeSet<String> = f["packages"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        let expected = if name == "alpine" {
            docker_run(&env, &image, "/bin/busybox awk '/^P:/ { print substr($0, 3) }' /lib/apk/db/installed")
                .lines()
                .map(str::to_string)
                .collect()
        } else {
            installed_dpkg_names(&docker_run(
                &env,
                &image,
                "cat /var/lib/dpkg/status; for f in /var/lib/dpkg/status.d/*; do [ -f \"$f\" ] && { echo; cat \"$f\"; echo; }; done; true",
            ))
        };
        assert_eq!(names, expected, "{name}: packages");

        // The timezone programs get: TZ, else the zone /etc/localtime names.
        let tz = docker_run(&env, &image, "echo \"$TZ\"; /bin/busybox readlink /etc/localtime || true");
        let mut lines = tz.lines();
        let tz_env = lines.next().unwrap_or("");
        let link = lines.next().unwrap_or("");
        let zone = if tz_env.is_empty() {
            link.rsplit_once("zoneinfo/").map_or("UTC", |(_, z)| z).to_string()
        } else {
            tz_env.to_string()
        };
        assert_eq!(f["timezone"]["version"], zone.as_str(), "{name}: timezone");
    }
}

#[test]
fn a_broken_image_does_not_sink_the_others() {
    let Some(env) = env("a_broken_image_does_not_sink_the_others") else { return };
    let cache = tempfile::tempdir().unwrap();
    let good = format!("docker-archive:{}", env.images.join("layered/docker-archive.tar").display());
    let refs = vec![
        good.clone(),
        format!("docker-archive:{}", env.images.join("broken/truncated.tar").display()),
        "docker:dockvar-test/no-such-image:1".to_string(),
        format!("docker-archive:{}", env.images.join("missing.tar").display()),
        "registry:127.0.0.1:1/dockvar-test/engine:1".to_string(),
        format!("oci:{}:no-such-tag", env.images.join("layered/oci").display()),
    ];
    let (code, images) = inspect(&env, cache.path(), &["--no-cache"], &refs);
    assert_eq!(code, 1);
    assert_eq!(images.len(), refs.len());
    assert!(images[0]["error"].is_null(), "{:#?}", images[0]);
    assert_eq!(images[0]["os"]["id"], "debian");
    for (image, reference) in images[1..].iter().zip(&refs[1..]) {
        let error = image["error"].as_str().unwrap_or_else(|| panic!("{reference} should fail: {image:#?}"));
        assert!(error.starts_with(reference.as_str()), "{error}");
    }
    assert!(
        images[1]["error"].as_str().unwrap().contains("truncated")
            || images[1]["error"].as_str().unwrap().contains("Truncated"),
        "{}",
        images[1]["error"]
    );
    assert!(images[2]["error"].as_str().unwrap().contains("not found"), "{}", images[2]["error"]);
}

#[test]
fn registry_indexes_auth_and_platforms() {
    let Some(env) = env("registry_indexes_auth_and_platforms") else { return };
    let cache = tempfile::tempdir().unwrap();
    let multi = format!("registry:{}/dockvar/registry-multi:1", env.registry);
    let (code, images) = inspect(&env, cache.path(), &["--no-cache"], std::slice::from_ref(&multi));
    assert_eq!(code, 0, "{images:#?}");
    assert_eq!(images[0]["architecture"], "amd64");
    assert_eq!(images[0]["platforms"], serde_json::json!(["linux/amd64", "linux/arm64/v8"]));
    let (code, images) =
        inspect(&env, cache.path(), &["--no-cache", "--platform", "linux/arm64/v8"], std::slice::from_ref(&multi));
    assert_eq!(code, 0);
    assert_eq!(images[0]["architecture"], "arm64");
    let (code, images) = inspect(&env, cache.path(), &["--no-cache", "--platform", "linux/s390x"], &[multi]);
    assert_eq!(code, 1);
    assert!(images[0]["error"].as_str().unwrap().contains("linux/amd64, linux/arm64/v8"), "{}", images[0]["error"]);

    let Ok(auth) = std::env::var("DOCKVAR_TEST_REGISTRY_AUTH") else { return };
    let user = std::env::var("DOCKVAR_TEST_REGISTRY_USER").unwrap();
    let password = std::env::var("DOCKVAR_TEST_REGISTRY_PASSWORD").unwrap();
    let image = format!("registry:{auth}/dockvar/registry-test:1");
    let run = |config: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_dockvar"))
            .args(["inspect", &image, "--format", "json", "--no-cache"])
            .env("DOCKER_CONFIG", config)
            .env("DOCKVAR_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let config = tempfile::tempdir().unwrap();
    let out = run(config.path());
    assert_eq!(out.status.code(), Some(1), "no credentials must fail");
    assert!(String::from_utf8_lossy(&out.stdout).contains("401"), "{}", String::from_utf8_lossy(&out.stdout));
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(config.path().join("config.json"), format!(r#"{{"auths":{{"{auth}":{{"auth":"{token}"}}}}}}"#))
        .unwrap();
    let out = run(config.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn cached_facts_answer_the_second_run() {
    let Some(env) = env("cached_facts_answer_the_second_run") else { return };
    let cache = tempfile::tempdir().unwrap();
    let refs = references(&env, "layered", false);
    let (code, first) = inspect(&env, cache.path(), &[], &refs);
    assert_eq!(code, 0);
    let cached_files = walk_count(cache.path());
    assert!(cached_files >= 2, "facts were not cached");
    let (code, second) = inspect(&env, cache.path(), &[], &refs);
    assert_eq!(code, 0);
    for (a, b) in first.iter().zip(&second) {
        let keys: Vec<&String> = match (a, b) {
            (Value::Object(a), Value::Object(b)) => a.keys().filter(|k| a.get(*k) != b.get(*k)).collect(),
            _ => Vec::new(),
        };
        let show = |v: &Value| keys.iter().map(|k| format!("{k}={}", v[k.as_str()])).collect::<Vec<_>>().join("; ");
        assert_eq!(
            a,
            b,
            "{}: the cached answer differs in {keys:?}: first {}, second {}",
            a["reference"],
            show(a),
            show(b)
        );
    }
    assert_eq!(first.len(), second.len());
    assert_eq!(walk_count(cache.path()), cached_files);
}

fn walk_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| if e.path().is_dir() { walk_count(&e.path()) } else { 1 }).sum()
        })
        .unwrap_or(0)
}

/// What the Debian test images (`scripts/lib/images.sh`, built on a debootstrapped bookworm)
/// must warn about: exactly where their sources disagree, and nowhere else.
const DEBIAN_IMAGES: &[(&str, &[&str])] = &[
    ("deb-plain", &[]),
    ("deb-pip-user", &[]),
    ("deb-env", &["python-env-mismatch", "timezone-mismatch"]),
    ("deb-tz", &["timezone-missing"]),
    ("deb-venv", &["timezone-missing"]),
    ("deb-ghost", &["user-missing"]),
];

/// The warnings' codes, without the notes a source adds about how it read the files.
fn warning_codes(image: &Value) -> Vec<String> {
    image["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .filter(|c| c != "incomplete-read")
        .collect()
}

/// PEP 503 names, as pip compares them.
fn normalized(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// Runs `script` with `sh` inside the image as its own user (no `--user`), with `env` added.
fn container(env: &Env, image: &str, vars: &[(&str, &str)], script: &str) -> std::process::Output {
    let mut command = Command::new(&env.docker_cli);
    command.args(["run", "--rm", "--network=none", "--entrypoint", "/bin/sh"]);
    for (k, v) in vars {
        command.args(["-e", &format!("{k}={v}")]);
    }
    command.args([image, "-c", script]).env("DOCKER_HOST", &env.docker_host).output().expect("docker run")
}

/// `key=value` lines printed by the container script below.
fn probe(env: &Env, image: &str, zone: &str) -> BTreeMap<String, String> {
    let script = r#"
        echo "python=$(python3 --version 2>&1)"
        echo "pip=$(python3 -m pip --version --disable-pip-version-check 2>&1)"
        echo "list=$(python3 -m pip list --format=json --disable-pip-version-check 2>/dev/null)"
        if [ -n "$TZ" ]; then
            f=/usr/share/zoneinfo/${TZ#:}
            if [ -f "$f" ]; then echo "zone_file=$(readlink -f "$f")"; else echo "zone_file=-"; fi
        elif [ -f /etc/localtime ]; then echo "zone_file=$(readlink -f /etc/localtime)"
        else echo "zone_file=-"; fi
        echo "localtime=$(readlink -f /etc/localtime)"
        echo "date=$(date +%Z%z)"
        echo "date_as_dockvar=$(TZ=$DV_ZONE date +%Z%z)"
        echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "user=$(id -un 2>/dev/null)"; echo "home=$HOME"
        echo "lstat=$(stat -c '%F' /airbyte 2>/dev/null)"
        echo "stat=$(stat -L -c '%F %u %g %a' /airbyte 2>/dev/null)"
        echo "link=$(readlink /airbyte)"
        if [ -w /airbyte ]; then echo writable=true; else echo writable=false; fi
        echo "dpkg=$(dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' 2>/dev/null | tr '\n' '\036')"
        echo "printenv=$(printenv | tr '\n' '\036')"
    "#;
    let out = container(env, image, &[("DV_ZONE", zone)], script);
    assert!(out.status.success(), "docker run {image}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// dockvar's facts of the debootstrapped Debian images, from the engine (all three ways of
/// reading files) and from a docker-archive, equal what the running container prints.
#[test]
fn debian_images_agree_with_the_running_container() {
    let Some(env) = env("debian_images_agree_with_the_running_container") else { return };
    let cache = tempfile::tempdir().unwrap();
    let archive = env.images.join("debian/docker-archive.tar");
    let mut compared = 0;
    for (name, expected_warnings) in DEBIAN_IMAGES {
        let tag = format!("dockvar-test/{name}:1");
        let engine_ref = format!("docker:{tag}");
        let archive_ref = format!("docker-archive:{}:{tag}", archive.display());
        let (code, images) = inspect(&env, cache.path(), &["--no-cache"], &[engine_ref.clone(), archive_ref]);
        assert_eq!(code, 0, "{images:#?}");
        assert_eq!(images[0]["source"], "docker (overlay2)");
        assert_eq!(images[1]["source"], "docker-archive");
        let mut all = images.clone();
        for mode in ["archive", "export"] {
            let (code, other) =
                inspect_with_mode(&env, cache.path(), &["--no-cache"], std::slice::from_ref(&engine_ref), mode);
            assert_eq!(code, 0, "{other:#?}");
            all.extend(other);
        }
        let without_warnings = |v: &Value| {
            let mut v = portable(v);
            if let Value::Object(map) = &mut v {
                map.remove("warnings");
            }
            v
        };
        for other in &all[1..] {
            assert_eq!(without_warnings(other), without_warnings(&all[0]), "{name}: {} differs", other["source"]);
            assert_eq!(warning_codes(other), warning_codes(&all[0]), "{name}: {} warns otherwise", other["source"]);
        }
        let f = &all[0];
        assert_eq!(warning_codes(f), *expected_warnings, "{name}: {:#?}", f["warnings"]);
        if *name == "deb-ghost" {
            // The runtime agrees that the user does not exist: the container cannot start.
            let out = container(&env, &tag, &[], "true");
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("ghost"), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(f["user"]["uid"].is_null());
            continue;
        }
        let zone = f["timezone"]["version"].as_str().unwrap();
        let inside = probe(&env, &tag, zone);
        let field = |k: &str| inside.get(k).map(String::as_str).unwrap_or("");

        // Python, pip and `pip list` as the image's user.
        assert_eq!(format!("Python {}", f["python"]["version"].as_str().unwrap()), field("python"), "{name}");
        let pip: Vec<&str> = field("pip").split(' ').collect();
        assert_eq!(pip[0], "pip", "{name}: {}", field("pip"));
        assert_eq!(f["pip"]["version"], pip[1], "{name}");
        let pip_site = pip[3].trim_end_matches("/pip");
        let dockvar_site = f["pip"]["source"].as_str().unwrap().rsplitn(3, '/').nth(2).unwrap();
        assert_eq!(dockvar_site, pip_site, "{name}: where pip is");
        let listed: Value = serde_json::from_str(field("list")).unwrap();
        let pip_list: BTreeSet<(String, String)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (normalized(d["name"].as_str().unwrap()), d["version"].as_str().unwrap().to_string()))
            .collect();
        let ours: BTreeSet<(String, String)> = f["python_packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (normalized(d["name"].as_str().unwrap()), d["version"].as_str().unwrap_or("").to_string()))
            .collect();
        assert_eq!(ours, pip_list, "{name}: pip list");

        // The zone: what the C library reads, and that it is the same zone dockvar names.
        let expected_zone = match field("zone_file") {
            "-" => "UTC".to_string(),
            file => file.rsplit_once("zoneinfo/").map_or(file, |(_, z)| z).to_string(),
        };
        let utc = |z: &str| matches!(z, "UTC" | "Etc/UTC");
        assert!(zone == expected_zone || utc(zone) && utc(&expected_zone), "{name}: {zone} vs {expected_zone}");
        let offset = |s: &str| s[s.len().saturating_sub(5)..].to_string();
        assert_eq!(offset(field("date")), offset(field("date_as_dockvar")), "{name}: date +%z");
        if !utc(zone) {
            assert_eq!(field("date"), field("date_as_dockvar"), "{name}: date +%Z");
        }

        // The user: id inside equals uid, gid, name and home.
        assert_eq!(f["user"]["uid"].to_string(), field("uid"), "{name}");
        assert_eq!(f["user"]["gid"].to_string(), field("gid"), "{name}");
        // `id -un` prints the number when no passwd entry names the uid.
        let name_inside = match &f["user"]["name"] {
            Value::String(n) => n.clone(),
            _ => f["user"]["uid"].to_string(),
        };
        assert_eq!(name_inside, field("user"), "{name}");
        assert_eq!(f["user"]["home"], field("home"), "{name}");

        // /airbyte: lstat says whether it is a link, stat -L gives owner and mode.
        let dir = &f["airbyte_dir"];
        assert_eq!(dir["is_symlink"], field("lstat") == "symbolic link", "{name}");
        assert_eq!(dir["target"].as_str().unwrap_or(""), field("link"), "{name}");
        let stat = field("stat");
        assert_eq!(dir["exists"], stat.starts_with("directory "), "{name}: {stat}");
        if dir["exists"] == true {
            let parts: Vec<&str> = stat.rsplitn(4, ' ').collect();
            assert_eq!(dir["owner_uid"].to_string(), parts[2], "{name}");
            assert_eq!(dir["owner_gid"].to_string(), parts[1], "{name}");
            assert_eq!(dir["mode"].as_str().unwrap().trim_start_matches('0'), parts[0], "{name}");
            assert_eq!(dir["writable_by_user"], field("writable") == "true", "{name}");
        }
        // Debian's packages: what `dpkg-query -W` lists.
        let dpkg: BTreeSet<String> =
            field("dpkg").split('\u{1e}').filter(|l| !l.is_empty()).map(str::to_string).collect();
        let ours: BTreeSet<String> = f["packages"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}\t{}\t{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(f["packages"]["manager"], "dpkg", "{name}");
        assert!(dpkg.len() > 50, "{name}: {} packages", dpkg.len());
        assert_eq!(ours, dpkg, "{name}: dpkg-query -W");

        // The environment: what `printenv` shows, but for what `docker run` and the shell add.
        let added = ["HOSTNAME", "DV_ZONE", "PWD", "SHLVL", "_", "OLDPWD"];
        let printed: BTreeSet<(String, String)> = field("printenv")
            .split('\u{1e}')
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| !added.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut configured: BTreeSet<(String, String)> = f["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv[0].as_str().unwrap().to_string(), kv[1].as_str().unwrap().to_string()))
            .collect();
        // The runtime sets HOME from the user's passwd entry when the image does not.
        if !configured.iter().any(|(k, _)| k == "HOME") {
            configured.insert(("HOME".to_string(), f["user"]["home"].as_str().unwrap_or("/").to_string()));
        }
        assert_eq!(configured, printed, "{name}: printenv");
        compared += 1;
    }
    assert_eq!(compared, DEBIAN_IMAGES.len() - 1);
}
