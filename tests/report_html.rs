//! The HTML report of `fixtures/report/sample-report.json`: sections, charts, escaping,
//! determinism and odd inputs checked on the markup, then the page as headless Chromium
//! parses and draws it (skipped when Chromium is not installed; `scripts/test` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockvar::report::html::{VARIANT_BAR_COLOR, render};
use serde_json::{Value, json};

const HEADINGS: [&str; 7] = [
    "Summary",
    "Variants",
    "Base images and versions",
    "Environment variables",
    "Custom system packages",
    "Recommendation",
    "Problems",
];

fn sample() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/report/sample-report.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// The markup of the `<svg>` element with this ID, from `<svg` to `</svg>`.
fn svg<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page.find(&format!(" id=\"{id}\"")).unwrap_or_else(|| panic!("no element with id {id}"));
    let start = page[..at].rfind("<svg").unwrap_or_else(|| panic!("#{id} is not an svg"));
    let end = at + page[at..].find("</svg>").unwrap_or_else(|| panic!("#{id} is not closed")) + "</svg>".len();
    &page[start..end]
}

/// Values of one attribute on every element carrying `marker`, in document order.
fn attrs(markup: &str, marker: &str, attr: &str) -> Vec<String> {
    markup
        .split(marker)
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
            let value = tag.split(&format!("{attr}=\"")).nth(1).unwrap_or_else(|| panic!("no {attr} in {tag}"));
            value[..value.find('"').unwrap_or(value.len())].to_string()
        })
        .collect()
}

/// What every rendering of the sample must show, whether from dockvar's markup or from the
/// DOM Chromium built out of it.
fn assert_sample_page(page: &str, report: &Value) {
    let mut last = 0;
    for h in HEADINGS {
        let at = page.find(&format!("<h2>{h}</h2>")).unwrap_or_else(|| panic!("no heading {h}"));
        assert!(at > last, "heading {h} out of order");
        last = at;
    }
    let variants = svg(page, "chart-variants");
    let ids: Vec<&str> = report["variants"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(attrs(variants, "class=\"bar\"", "data-label"), ids);
    let counts: Vec<String> = report["variants"].as_array().unwrap().iter().map(|v| v["count"].to_string()).collect();
    assert_eq!(attrs(variants, "class=\"bar\"", "data-value"), counts);

    let env = &report["env"];
    let vars = len(&env["same"]) + len(&env["different"]) + len(&env["partial"]);
    let images = len(&env["images"]);
    let states = attrs(svg(page, "chart-env"), "class=\"cell\"", "data-state");
    assert_eq!(states.len(), vars * images, "one cell per variable and image");
    let n = |s: &str| states.iter().filter(|x| *x == s).count();
    assert_eq!(n("same"), len(&env["same"]) * images);
    assert_eq!(n("different"), len(&env["different"]) * images);
    let partial: usize = env["partial"].as_array().unwrap().iter().map(|p| len(&p["images"])).sum();
    assert_eq!(n("partial"), partial);
    assert_eq!(n("unset"), len(&env["partial"]) * images - partial);

    assert_eq!(
        attrs(svg(page, "chart-python"), "class=\"bar\"", "data-label"),
        ["3.9.18", "3.9.17", "3.9.16", "3.9.11"]
    );
    assert_eq!(attrs(svg(page, "chart-pip"), "class=\"bar\"", "data-value"), ["3", "1"]);
    let families = svg(page, "chart-families");
    assert_eq!(attrs(families, "class=\"bar\"", "data-label"), ["debian", "alpine"]);
    assert_eq!(attrs(families, "class=\"bar\"", "data-value"), ["15", "8"]);
}

#[test]
fn sample_page_has_every_section_and_chart() {
    let report = sample();
    assert_sample_page(&render(&report), &report);
}

#[test]
fn sample_page_tells_the_story_with_the_reports_numbers() {
    let page = render(&sample());
    for text in [
        "24 connectors were selected",
        "fall into 5 variants",
        "the three largest cover 20 of 23 connectors (87%)",
        "Proposed base image: <code>python:3.9.18-bookworm</code>, pinned as <code>python:3.9.18-bookworm@sha256:",
        "<pre class=\"dockerfile\">FROM python:3.9-slim AS stage-0",
        "<li>Variant 2 (e21edc3) uses a multi-stage build (3 stages) and variants 1 and 3 do not.</li>",
        "AIRBYTE_ENTRYPOINT is python /airbyte/integration_code/main_dev.py",
        "<pre class=\"checks-yaml\">python_version: 3.9.18",
        "<h4>Distro</h4>",
        "expected FROM: only ARG may come before the first FROM",
    ] {
        assert!(page.contains(text), "missing {text:?}");
    }
    // Only the top three variants show their Dockerfile.
    assert_eq!(page.matches("<pre class=\"dockerfile\">").count(), 3);
}

#[test]
fn failed_image_shows_its_error() {
    let page = render(&sample());
    let error = "docker:airbyte/source-linkedin-ads:0.6.1: image not found";
    assert!(page.contains(&format!("Not inspected: {error}")), "in the images table");
    let problems = &page[page.find("<h2>Problems</h2>").unwrap()..];
    assert!(problems.contains(error), "in the problems");
    assert!(page.contains("<div class=\"value\">1</div><div class=\"label\">images failed</div>"));
}

#[test]
fn labels_from_user_files_are_escaped() {
    let mut report = sample();
    let evil = "<script>alert(\"x\")</script>";
    report["variants"][0]["id"] = json!(evil);
    report["variants"][1]["example"]["connector"] = json!("<img src=x onerror='alert(1)'>");
    report["env"]["same"][0]["name"] = json!(evil);
    report["images"][3]["error"] = json!("</td><b>&amp;");
    report["recommendation"]["reasoning"] = json!("# <script>\n- `<b>` **<i>**");
    let page = render(&report);
    for raw in ["<script", "<img", "<b>", "<i>", "onerror='"] {
        assert!(!page.contains(raw), "unescaped {raw:?}");
    }
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";
    assert!(page.contains(&format!("data-label=\"{escaped}\"")));
    assert!(page.contains("&lt;img src=x onerror=&#39;alert(1)&#39;&gt;"));
    assert!(page.contains("&lt;/td&gt;&lt;b&gt;&amp;amp;"));
    // The env matrix still has its cells, with the escaped name in their tooltips.
    let env = svg(&page, "chart-env");
    assert_eq!(env.matches("class=\"cell\"").count(), 12 * 4);
    assert!(
        env.contains(&format!("<title>{escaped}=E3FF2839C048B25C084DEBE9B26995E310250568 on source-instagram</title>"))
    );
}

#[test]
fn same_input_gives_the_same_bytes() {
    let report = sample();
    let first = render(&report);
    let reparsed: Value = serde_json::from_str(&serde_json::to_string_pretty(&report).unwrap()).unwrap();
    assert_eq!(first, render(&report));
    assert_eq!(first, render(&reparsed));
}

#[test]
fn page_loads_nothing_from_anywhere() {
    let page = render(&sample());
    for banned in ["<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "url(", "@import"] {
        assert!(!page.contains(banned), "page contains {banned:?}");
    }
    for href in page.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "link out of the page: {}", &href[..href.find('"').unwrap_or(0)]);
    }
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn empty_reports_render_every_section() {
    for report in [json!({}), Value::Null, json!([]), json!({"variants": [], "images": [], "env": {}, "errors": []})] {
        let page = render(&report);
        for h in HEADINGS {
            assert!(page.contains(&format!("<h2>{h}</h2>")), "{report}: no heading {h}");
        }
        for id in ["chart-variants", "chart-env", "chart-python", "chart-pip", "chart-families"] {
            assert!(svg(&page, id).contains("no data"), "{report}: #{id} should say no data");
        }
        assert!(!page.contains("class=\"bar\"") && !page.contains("class=\"cell\""));
        assert!(page.ends_with("</html>\n"));
    }
}

/// Every node of the sample (first array elements only, a few levels deep) replaced by
/// each JSON type in turn: the page must still render.
#[test]
fn wrong_types_anywhere_never_panic() {
    fn paths(v: &Value, at: Vec<String>, depth: usize, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        if depth == 0 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let mut next = at.clone();
                    next.push(k.clone());
                    paths(child, next, depth - 1, out);
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    let mut next = at.clone();
                    next.push("0".into());
                    paths(first, next, depth - 1, out);
                }
            }
            _ => {}
        }
    }
    let report = sample();
    let mut all = Vec::new();
    paths(&report, Vec::new(), 5, &mut all);
    assert!(all.len() > 100, "{} paths", all.len());
    let replacements = [
        json!(null),
        json!("<x>"),
        json!(-1.5),
        json!(u64::MAX),
        json!(true),
        json!([]),
        json!({}),
        json!([1, {"a": 2}]),
    ];
    for path in &all {
        for r in &replacements {
            let mut changed = report.clone();
            let mut node = &mut changed;
            for key in path {
                node = match node {
                    Value::Array(items) => &mut items[0],
                    other => &mut other[key.as_str()],
                };
            }
            *node = r.clone();
            let page = render(&changed);
            assert!(page.ends_with("</html>\n"), "/{} = {r}", path.join("/"));
        }
    }
}

// --- In headless Chromium ---------------------------------------------------------------

/// The `chromium` on PATH (Debian's package).
fn chromium() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs Chromium headless on a file with a fresh profile. The flags keep it from reaching
/// for the network (this machine has none, and waiting on it would stall the run) and let
/// it run as root in a container.
fn run_chromium(bin: &Path, dir: &Path, name: &str, page: &Path, extra: &[String]) -> Run {
    let profile = dir.join(format!("profile-{name}"));
    let stdout_path = dir.join(format!("{name}.stdout"));
    let stderr_path = dir.join(format!("{name}.stderr"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        // Files, not pipes: the DOM is larger than a pipe buffer and nobody reads it
        // while we wait.
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ({name}) still running after 90 s:\n{}", std::fs::read_to_string(&stderr_path).unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&std::fs::read(&stdout_path).unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).into_owned();
    assert!(status.success(), "chromium ({name}) failed: {status}\n{stderr}");
    Run { stdout, stderr }
}

/// Console lines in Chromium's log. Chromium 156 logs every console message, errors
/// included, as `INFO:CONSOLE:<line>] "…", source: …` (older versions: `CONSOLE(<line>)`,
/// with the level before it), so the level cannot tell errors apart; a page without
/// scripts has no reason to log at all, so any console line fails: uncaught errors, a
/// load blocked by the page's Content-Security-Policy, an SVG attribute Chromium rejects.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
}

/// Pixels of one colour, by row, in an RGB or RGBA screenshot.
struct Screenshot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode(path: &Path) -> Screenshot {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{:?}", info);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()].chunks_exact(channels).map(|p| [p[0], p[1], p[2]]).collect();
    Screenshot { width: info.width as usize, height: info.height as usize, rgb }
}

fn hex_rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// Runs of consecutive rows that hold at least `min` pixels of `color`: one per bar of a
/// horizontal bar chart.
fn bands(shot: &Screenshot, color: [u8; 3], min: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for y in 0..shot.height {
        let row = &shot.rgb[y * shot.width..(y + 1) * shot.width];
        if row.iter().filter(|p| **p == color).count() < min {
            continue;
        }
        match out.last_mut() {
            Some((_, end)) if *end + 1 == y => *end = y,
            _ => out.push((y, y)),
        }
    }
    out
}

#[test]
fn renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        dockvar::testing::skip("chromium not installed");
        return;
    };
    let started = Instant::now();
    let report = sample();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, render(&report)).unwrap();
    let shot_path = dir.path().join("report.png");

    // One browser for both the DOM as parsed and the page as drawn: each start costs more
    // than a second on a small machine.
    let args = [
        "--dump-dom".to_string(),
        format!("--screenshot={}", shot_path.display()),
        "--window-size=1280,2000".to_string(),
    ];
    let run = run_chromium(&bin, dir.path(), "page", &page, &args);
    let console = console_lines(&run.stderr);
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    // The parser kept the structure: same headings, charts and chart elements.
    assert!(run.stdout.trim_end().ends_with("</html>"), "no DOM dump: {:.300}", run.stdout);
    assert_sample_page(&run.stdout, &report);
    assert!(shot_path.is_file(), "no screenshot: {}", run.stderr);

    let shot = decode(&shot_path);
    assert_eq!((shot.width, shot.height), (1280, 2000));
    let mut colours: Vec<[u8; 3]> = shot.rgb.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 500, "screenshot looks blank: {} distinct colours", colours.len());
    // The variants chart sits in the first screen: one band of bar colour per variant, each
    // as tall as a bar, and as wide as its value (the largest over 300 px).
    let bars = bands(&shot, hex_rgb(VARIANT_BAR_COLOR), 20);
    assert_eq!(bars.len(), len(&report["variants"]), "bars drawn: {bars:?}");
    for (top, bottom) in &bars {
        assert!((14..=18).contains(&(bottom - top + 1)), "bar height {top}..{bottom}");
    }
    let (top, _) = bars[0];
    let widest = shot.rgb[(top + 8) * shot.width..(top + 9) * shot.width]
        .iter()
        .filter(|p| **p == hex_rgb(VARIANT_BAR_COLOR))
        .count();
    assert!(widest > 300, "largest bar is {widest} px wide");
    println!("chromium check took {:.2?}", started.elapsed());
}

/// The console check above is only worth something if Chromium's log format is what
/// `console_lines` reads: a page with a script error and a rejected SVG attribute must trip it.
#[test]
fn chromium_console_check_catches_errors() {
    let Some(bin) = chromium() else {
        dockvar::testing::skip("chromium not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>throw new Error('boom')</script>\
         <svg><rect width=\"-5\" height=\"1\"/></svg></body></html>",
    )
    .unwrap();
    let run = run_chromium(&bin, dir.path(), "bad", &page, &["--dump-dom".to_string()]);
    let console = console_lines(&run.stderr);
    assert!(console.iter().any(|l| l.contains("Uncaught Error: boom")), "{}", run.stderr);
    assert!(console.iter().any(|l| l.contains("<rect> attribute width")), "{}", run.stderr);
}
