//! Registry authentication inputs in, what to send out: `WWW-Authenticate` challenges parsed
//! into schemes and parameters, and a registry host's credentials looked up in Docker's
//! `config.json` (`auths`, `credsStore`, `credHelpers`), with notes on what was skipped.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

/// Docker Hub as references name it, and the key `docker login` stores its credentials under.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Hand-edited configs drop the padding now and then; Docker's Go decoder is just as lenient.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A config.json is a few KiB; anything far bigger is not one.
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Helpers talk to keychains that may prompt; a stuck one must not hang the inspection.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercased (`bearer`, `basic`).
    pub scheme: String,
    /// Parameter names lowercased, values unquoted.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses every challenge of one `WWW-Authenticate` value (RFC 7235: `scheme` followed by
/// comma-separated `name=value` or `name="quoted"` parameters; several challenges may share
/// one header). Never fails: what cannot be read is skipped.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut p = Cursor { s: header.as_bytes(), i: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip(|b| b == b',' || b.is_ascii_whitespace());
        if p.done() {
            break;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            // A stray separator or quote: step over it so the loop always advances.
            p.i += 1;
            continue;
        }
        let mut challenge = Challenge { scheme: scheme.to_ascii_lowercase(), params: BTreeMap::new() };
        loop {
            p.skip(|b| b == b',' || b.is_ascii_whitespace());
            let start = p.i;
            let name = p.token();
            p.skip(|b| b == b' ' || b == b'\t');
            if name.is_empty() || p.peek() != Some(b'=') {
                // Not a parameter: the next challenge's scheme (or the end).
                p.i = start;
                break;
            }
            p.i += 1;
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.peek() == Some(b'"') { p.quoted() } else { p.token() };
            challenge.params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(challenge);
    }
    out
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    /// An RFC 7230 token, plus `/` so that unquoted URLs and token68 values survive.
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|b| !(b.is_ascii_whitespace() || b == b',' || b == b'=' || b == b'"'));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn quoted(&mut self) -> String {
        self.i += 1;
        let mut value = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        value.push(next);
                        self.i += 1;
                    }
                }
                _ => value.push(b),
            }
        }
        String::from_utf8_lossy(&value).into_owned()
    }
}

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// The `Authorization` header value for HTTP basic auth.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

impl fmt::Debug for Credentials {
    // Keeps secrets out of logs and test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// What a credential lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialLookup {
    pub credentials: Option<Credentials>,
    /// Where they came from, for messages (`/home/u/.docker/config.json (auths)`).
    pub origin: Option<String>,
    /// What was skipped and why (missing helper, unreadable file, identity token…).
    pub notes: Vec<String>,
}

/// Docker's client configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".docker"))
}

/// Looks up credentials for `host` (a reference's registry domain, e.g. `docker.io` or
/// `127.0.0.1:5000`) in `config_dir/config.json`, running a configured credential helper
/// found on `PATH`.
pub fn lookup_credentials(config_dir: &Path, host: &str) -> CredentialLookup {
    let path = std::env::var_os("PATH");
    lookup_credentials_with_path(config_dir, host, path.as_deref())
}

/// `lookup_credentials` with the helper search path given (tests pass their own).
pub fn lookup_credentials_with_path(config_dir: &Path, host: &str, search_path: Option<&OsStr>) -> CredentialLookup {
    let file = config_dir.join("config.json");
    let mut out = CredentialLookup::default();
    let doc = match read_config(&file) {
        Ok(Some(doc)) => doc,
        Ok(None) => return out,
        Err(message) => {
            out.notes.push(message);
            return out;
        }
    };
    let host = normalize_host(host);

    let helper = doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| normalize_host(k) == host))
        .and_then(|(_, v)| v.as_str())
        .map(|name| (name.to_string(), "credHelpers"))
        .or_else(|| doc.get("credsStore").and_then(Value::as_str).map(|name| (name.to_string(), "credsStore")))
        .filter(|(name, _)| !name.is_empty());
    if let Some((name, key)) = helper {
        match run_helper(&name, &helper_server(&host), search_path) {
            Ok(Some(c)) => {
                out.credentials = Some(c);
                out.origin = Some(format!("docker-credential-{name} ({} {key})", file.display()));
                return out;
            }
            Ok(None) => out.notes.push(format!("docker-credential-{name} ({key}) has no credentials for {host}")),
            Err(message) => out.notes.push(message),
        }
    }

    let auths = doc.get("auths").and_then(Value::as_object);
    for (key, entry) in auths.into_iter().flatten() {
        if normalize_host(key) != host {
            continue;
        }
        match entry_credentials(entry) {
            Ok(Some(c)) => {
                out.credentials = Some(c);
                out.origin = Some(format!("{} (auths.\"{key}\")", file.display()));
                return out;
            }
            Ok(None) => {}
            Err(why) => out.notes.push(format!("{}: auths.\"{key}\": {why}", file.display())),
        }
    }
    out
}

fn read_config(file: &Path) -> Result<Option<Value>, String> {
    let handle = match std::fs::File::open(file) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let mut bytes = Vec::new();
    handle
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("{} is larger than {MAX_CONFIG_BYTES} bytes; ignored", file.display()));
    }
    let doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid JSON ({e}); ignored", file.display()))?;
    if doc.is_object() { Ok(Some(doc)) } else { Err(format!("{} is not a JSON object; ignored", file.display())) }
}

/// Reduces an `auths` key or a reference domain to the registry host, the way Docker does
/// (`https://index.docker.io/v1/` → `docker.io`), so that every spelling compares equal.
pub fn normalize_host(key: &str) -> String {
    let key = key.trim();
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.to_string(),
        _ => host,
    }
}

/// The server URL credential helpers store Docker Hub under differs from the host name.
fn helper_server(host: &str) -> String {
    if host == DOCKER_HUB { DOCKER_HUB_AUTH_KEY.to_string() } else { host.to_string() }
}

fn entry_credentials(entry: &Value) -> Result<Option<Credentials>, String> {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(auth) = text("auth") {
        let decoded = LENIENT_BASE64.decode(auth.trim()).map_err(|e| format!("`auth` is not base64 ({e})"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| "`auth` is not UTF-8".to_string())?;
        let (user, pass) = decoded.split_once(':').ok_or("`auth` does not hold `user:password`")?;
        return Ok(Some(Credentials { username: user.to_string(), password: pass.to_string() }));
    }
    if let (Some(user), Some(pass)) = (text("username"), text("password")) {
        return Ok(Some(Credentials { username: user.to_string(), password: pass.to_string() }));
    }
    if text("identitytoken").is_some() {
        return Err("an identity token (OAuth refresh token) is not supported; ignored".into());
    }
    Ok(None)
}

/// Runs `docker-credential-NAME get`. `Ok(None)` when the helper has nothing for the server.
fn run_helper(name: &str, server: &str, search_path: Option<&OsStr>) -> Result<Option<Credentials>, String> {
    // The name becomes part of a file name: keep it from walking out of PATH's directories.
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) || name.starts_with('.') {
        return Err(format!("credential helper name `{name}` is not valid; ignored"));
    }
    let binary = format!("docker-credential-{name}");
    let Some(program) = find_program(&binary, search_path) else {
        return Err(format!("credential helper {binary} is not installed; ignored"));
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading makes this fail; its exit status tells more.
        let _ = stdin.write_all(server.as_bytes());
    }
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(out) = stdout {
            let _ = out.take(MAX_HELPER_OUTPUT).read_to_end(&mut bytes);
        }
        bytes
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{binary} get did not answer within {}s; ignored", HELPER_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("{binary} get: {e}")),
        }
    };
    let bytes = reader.join().unwrap_or_default();
    if !status.success() {
        // Helpers print "credentials not found in native keychain" for unknown servers.
        let text = String::from_utf8_lossy(&bytes);
        if text.to_ascii_lowercase().contains("not found") || text.trim().is_empty() {
            return Ok(None);
        }
        return Err(format!("{binary} get failed ({status}): {}", text.trim()));
    }
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{binary} get printed no JSON ({e})"))?;
    let user = doc.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = doc.get("Secret").and_then(Value::as_str).unwrap_or("");
    if user == "<token>" {
        return Err(format!("{binary} returned an identity token, which is not supported; ignored"));
    }
    if user.is_empty() && secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials { username: user.to_string(), password: secret.to_string() }))
}

fn find_program(name: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::split_paths(search_path.unwrap_or(&OsString::new())).collect();
    dirs.into_iter().filter(|d| !d.as_os_str().is_empty()).map(|d| d.join(name)).find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_string(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn parses_bearer_challenges() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#;
        assert_eq!(
            parse_www_authenticate(h),
            vec![challenge(
                "bearer",
                &[
                    ("realm", "https://auth.docker.io/token"),
                    ("service", "registry.docker.io"),
                    ("scope", "repository:library/alpine:pull"),
                ]
            )]
        );
        // Unquoted values, odd spacing and case, an escaped quote, an error parameter.
        let h = r#"bEaReR  Realm = http://127.0.0.1:1/t , error="insufficient_scope",x="a\"b""#;
        let c = &parse_www_authenticate(h)[0];
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("http://127.0.0.1:1/t"));
        assert_eq!(c.param("error"), Some("insufficient_scope"));
        assert_eq!(c.param("x"), Some("a\"b"));
    }

    #[test]
    fn parses_several_challenges_and_basic() {
        let h = r#"Basic realm="Registry Realm", Bearer realm="https://a/token",service="s""#;
        let cs = parse_www_authenticate(h);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0], challenge("basic", &[("realm", "Registry Realm")]));
        assert_eq!(cs[1].param("service"), Some("s"));
        assert_eq!(parse_www_authenticate("Basic"), vec![challenge("basic", &[])]);
    }

    #[test]
    fn junk_never_panics() {
        for h in ["", ",,,", "=", "\"", "Bearer realm=\"unterminated", "Bearer =x", "a=b", "Bearer realm=,", "\u{00e9}"]
        {
            let _ = parse_www_authenticate(h);
        }
        assert_eq!(parse_www_authenticate("Bearer realm=\"unterminated")[0].param("realm"), Some("unterminated"));
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(normalize_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_host("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_host("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_host("Ghcr.IO/v2/"), "ghcr.io");
    }

    fn write_config(dir: &Path, json: &str) {
        std::fs::write(dir.join("config.json"), json).unwrap();
    }

    #[test]
    fn reads_auths() {
        let dir = tempfile::tempdir().unwrap();
        // "alice:s3cr:et" (a colon in the password) and Docker Hub's legacy key.
        write_config(
            dir.path(),
            r#"{"auths":{
                "127.0.0.1:5000":{"auth":"YWxpY2U6czNjcjpldA=="},
                "https://index.docker.io/v1/":{"auth":"aHViOnB3"},
                "ghcr.io":{"username":"bob","password":"tok"},
                "nopad.example":{"auth":"aHViOnB3"},
                "bad.example":{"auth":"!!!"},
                "empty.example":{}}}"#,
        );
        let none = Some(OsStr::new(""));
        let l = lookup_credentials_with_path(dir.path(), "127.0.0.1:5000", none);
        let c = l.credentials.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "s3cr:et"));
        assert!(l.origin.unwrap().contains("auths.\"127.0.0.1:5000\""));

        let c = lookup_credentials_with_path(dir.path(), "docker.io", none).credentials.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("hub", "pw"));
        let c = lookup_credentials_with_path(dir.path(), "ghcr.io", none).credentials.unwrap();
        assert_eq!(c.username, "bob");
        assert!(lookup_credentials_with_path(dir.path(), "nopad.example", none).credentials.is_some());

        let l = lookup_credentials_with_path(dir.path(), "bad.example", none);
        assert!(l.credentials.is_none());
        assert!(l.notes[0].contains("not base64"), "{:?}", l.notes);
        let l = lookup_credentials_with_path(dir.path(), "empty.example", none);
        assert_eq!(l, CredentialLookup::default());
        assert!(lookup_credentials_with_path(dir.path(), "other.example", none).credentials.is_none());
        assert!(!format!("{c:?}").contains("tok"));
    }

    #[test]
    fn missing_or_broken_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lookup_credentials_with_path(dir.path(), "x", None), CredentialLookup::default());
        write_config(dir.path(), "{not json");
        let l = lookup_credentials_with_path(dir.path(), "x", None);
        assert!(l.credentials.is_none() && l.notes[0].contains("not valid JSON"));
        write_config(dir.path(), "[]");
        assert!(lookup_credentials_with_path(dir.path(), "x", None).notes[0].contains("not a JSON object"));
    }

    #[test]
    fn missing_helper_falls_back_to_auths() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            r#"{"credsStore":"desktop","credHelpers":{"evil.example":"../../bin/sh"},
                "auths":{"127.0.0.1:5000":{"auth":"YTpi"},"evil.example":{"auth":"YTpi"}}}"#,
        );
        let l = lookup_credentials_with_path(dir.path(), "127.0.0.1:5000", Some(OsStr::new("")));
        assert_eq!(l.credentials.unwrap().username, "a");
        assert!(l.notes[0].contains("docker-credential-desktop is not installed"), "{:?}", l.notes);
        let l = lookup_credentials_with_path(dir.path(), "evil.example", Some(OsStr::new("")));
        assert!(l.notes[0].contains("not valid"), "{:?}", l.notes);
        assert!(l.credentials.is_some());
    }

    #[cfg(unix)]
    #[test]
    fn runs_credential_helpers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // Answers for the server it is asked about; Docker Hub is asked by its legacy URL.
        let script = r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server || true
case "$server" in
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hubuser","Secret":"hubpw"}' ;;
  reg.example) echo '{"ServerURL":"reg.example","Username":"u","Secret":"p"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"t"}' ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"#;
        let helper = bin.join("docker-credential-test");
        std::fs::write(&helper, script).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_config(
            dir.path(),
            r#"{"credHelpers":{"reg.example":"test","token.example":"test","other.example":"test"},
                "credsStore":"test","auths":{"other.example":{"auth":"YTpi"}}}"#,
        );
        let path = Some(bin.as_os_str());
        let c = lookup_credentials_with_path(dir.path(), "reg.example", path).credentials.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        let c = lookup_credentials_with_path(dir.path(), "docker.io", path).credentials.unwrap();
        assert_eq!(c.username, "hubuser");
        let l = lookup_credentials_with_path(dir.path(), "token.example", path);
        assert!(l.credentials.is_none() && l.notes[0].contains("identity token"), "{:?}", l.notes);
        // The helper knows nothing: the plain `auths` entry still counts.
        let l = lookup_credentials_with_path(dir.path(), "other.example", path);
        assert_eq!(l.credentials.unwrap().username, "a");
        assert!(l.notes[0].contains("has no credentials"), "{:?}", l.notes);
    }

    #[test]
    fn basic_header() {
        let c = Credentials { username: "aladdin".into(), password: "opensesame".into() };
        assert_eq!(c.basic_header(), "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
    }
}
