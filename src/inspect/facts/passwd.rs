//! `/etc/passwd` and `/etc/group` in, [`User`]s and [`Group`]s out; plus the
//! resolution of a Dockerfile `USER` value against them into a [`ResolvedUser`].

use serde::Serialize;

use super::{FactError, Records};

pub const PASSWD_PATH: &str = "/etc/passwd";
pub const GROUP_PATH: &str = "/etc/group";

pub const PATHS: &[&str] = &[PASSWD_PATH, GROUP_PATH];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Who a container runs as, as far as the image's files tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedUser {
    /// The user name, given or found in passwd.
    pub name: Option<String>,
    /// The uid, given or found in passwd; `None` for a name passwd lacks (the
    /// container would fail to start).
    pub uid: Option<u32>,
    /// The group: given, or the user's primary group. A numeric user missing from
    /// passwd runs with gid 0, as runc defaults it.
    pub gid: Option<u32>,
    pub root: bool,
    /// The group's name from `/etc/group`, when it has one.
    pub group: Option<String>,
    /// The home directory from passwd; the runtime uses `/` for a uid passwd lacks.
    pub home: Option<String>,
    /// A user name that passwd lacks: the runtime refuses to start the container.
    pub user_missing: bool,
    /// A group name that `/etc/group` lacks: the runtime refuses to start the container.
    pub group_missing: bool,
}

/// Parses `/etc/passwd`: `name:password:uid:gid:gecos:home:shell` lines.
pub fn parse_passwd(bytes: &[u8], path: &str) -> Result<Vec<User>, FactError> {
    read_passwd(bytes, path).strict()
}

/// Like [`parse_passwd`], but keeps every well-formed line and reports each bad one, as
/// glibc's nss_files skips lines it cannot parse.
pub fn read_passwd(bytes: &[u8], path: &str) -> Records<User> {
    let mut out = Records::default();
    for (n, line) in entries(bytes, path, &mut out.errors) {
        let fields: Vec<&str> = line.split(':').collect();
        let user = (|| {
            let [name, _password, uid, gid, _gecos, home, shell] = fields.as_slice() else {
                return Err(FactError::syntax(
                    path,
                    n,
                    format!("expected 7 `:`-separated fields, found {}", fields.len()),
                ));
            };
            Ok(User {
                name: non_empty_name(name, path, n)?,
                uid: id(uid, "uid", path, n)?,
                gid: id(gid, "gid", path, n)?,
                home: (*home).to_owned(),
                shell: (*shell).to_owned(),
            })
        })();
        match user {
            Ok(u) => out.items.push(u),
            Err(e) => out.errors.push(e),
        }
    }
    out.errors.sort_by_key(FactError::line);
    out
}

/// Parses `/etc/group`: `name:password:gid:member,member` lines.
pub fn parse_group(bytes: &[u8], path: &str) -> Result<Vec<Group>, FactError> {
    read_group(bytes, path).strict()
}

/// Like [`parse_group`], but keeps every well-formed line and reports each bad one.
pub fn read_group(bytes: &[u8], path: &str) -> Records<Group> {
    let mut out = Records::default();
    for (n, line) in entries(bytes, path, &mut out.errors) {
        let fields: Vec<&str> = line.split(':').collect();
        let group = (|| {
            let [name, _password, gid, members] = fields.as_slice() else {
                return Err(FactError::syntax(
                    path,
                    n,
                    format!("expected 4 `:`-separated fields, found {}", fields.len()),
                ));
            };
            Ok(Group {
                name: non_empty_name(name, path, n)?,
                gid: id(gid, "gid", path, n)?,
                members: members.split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect(),
            })
        })();
        match group {
            Ok(g) => out.items.push(g),
            Err(e) => out.errors.push(e),
        }
    }
    out.errors.sort_by_key(FactError::line);
    out
}

/// Lines that hold entries, numbered from 1: blank lines, `#` comments (skipped by glibc's
/// nss_files) and NIS `+`/`-` compat lines (they name no local account) are not. A line that
/// is not UTF-8 is reported and left out.
fn entries<'a>(bytes: &'a [u8], path: &str, errors: &mut Vec<FactError>) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return out;
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            errors.push(FactError::syntax(path, i + 1, "not valid UTF-8"));
            continue;
        };
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

fn non_empty_name(name: &str, path: &str, line: usize) -> Result<String, FactError> {
    if name.is_empty() {
        return Err(FactError::invalid(path, line, "name", name, "empty"));
    }
    Ok(name.to_owned())
}

fn id(value: &str, field: &'static str, path: &str, line: usize) -> Result<u32, FactError> {
    value.parse::<u32>().map_err(|e| FactError::invalid(path, line, field, value, e.to_string()))
}

/// Resolves a Dockerfile `USER` value (`name`, `uid`, `name:group`, `uid:gid`;
/// empty means the default, root) the way the runtime would against the image's
/// passwd and group files. Numeric users need no passwd entry.
pub fn resolve_user(spec: &str, users: &[User], groups: &[Group]) -> ResolvedUser {
    let spec = spec.trim();
    let (user_part, group_part) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let (entry, name, uid, primary_gid) = if user_part.is_empty() {
        let entry = users.iter().find(|u| u.uid == 0);
        (entry, entry.map(|u| u.name.clone()), Some(0), Some(entry.map_or(0, |u| u.gid)))
    } else if let Some(uid) = numeric(user_part) {
        let entry = users.iter().find(|u| u.uid == uid);
        (entry, entry.map(|u| u.name.clone()), Some(uid), Some(entry.map_or(0, |u| u.gid)))
    } else {
        let entry = users.iter().find(|u| u.name == user_part);
        (entry, Some(user_part.to_owned()), entry.map(|u| u.uid), entry.map(|u| u.gid))
    };
    let user_missing = !user_part.is_empty() && numeric(user_part).is_none() && entry.is_none();
    let mut group_missing = false;
    let gid = match group_part {
        None | Some("") => primary_gid,
        Some(group) => numeric(group).or_else(|| {
            let found = groups.iter().find(|g| g.name == group).map(|g| g.gid);
            group_missing = found.is_none();
            found
        }),
    };
    let group = gid.and_then(|gid| groups.iter().find(|g| g.gid == gid)).map(|g| g.name.clone());
    let root = match uid {
        Some(uid) => uid == 0,
        // Unresolvable: only the name is known.
        None => name.as_deref() == Some("root"),
    };
    let home = match entry {
        Some(u) => Some(u.home.clone()),
        None if uid.is_some() => Some("/".to_owned()),
        None => None,
    };
    ResolvedUser { name, uid, gid, root, group, home, user_missing, group_missing }
}

/// Docker reads a user or group as an id only when it is all decimal digits.
fn numeric(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, mutations};
    use super::*;

    fn debian() -> (Vec<User>, Vec<Group>) {
        (
            parse_passwd(&fixture("debian/etc/passwd"), PASSWD_PATH).unwrap(),
            parse_group(&fixture("debian/etc/group"), GROUP_PATH).unwrap(),
        )
    }

    #[test]
    fn debian_fixture_users_and_groups() {
        let (users, groups) = debian();
        assert_eq!(users.len(), 19);
        assert_eq!(
            users[0],
            User { name: "root".into(), uid: 0, gid: 0, home: "/root".into(), shell: "/bin/bash".into() }
        );
        let nobody = users.iter().find(|u| u.name == "nobody").unwrap();
        assert_eq!((nobody.uid, nobody.gid), (65534, 65534));
        let airbyte = users.last().unwrap();
        assert_eq!(airbyte.name, "airbyte");
        assert_eq!((airbyte.uid, airbyte.gid), (1000, 1000));
        assert_eq!(airbyte.home, "/home/airbyte");
        assert_eq!(groups.len(), 39);
        assert_eq!(groups.iter().find(|g| g.name == "shadow").unwrap().gid, 42);
    }

    #[test]
    fn docker_user_values_resolve() {
        let (users, groups) = debian();
        let r = |spec: &str| {
            let u = resolve_user(spec, &users, &groups);
            (u.name, u.uid, u.gid, u.root)
        };
        let user = |name: Option<&str>, uid: Option<u32>, gid: Option<u32>, root: bool| {
            (name.map(str::to_owned), uid, gid, root)
        };
        assert_eq!(r(""), user(Some("root"), Some(0), Some(0), true));
        assert_eq!(r("root"), user(Some("root"), Some(0), Some(0), true));
        assert_eq!(r("0"), user(Some("root"), Some(0), Some(0), true));
        assert_eq!(r("airbyte"), user(Some("airbyte"), Some(1000), Some(1000), false));
        assert_eq!(r("1000"), user(Some("airbyte"), Some(1000), Some(1000), false));
        assert_eq!(r("airbyte:shadow"), user(Some("airbyte"), Some(1000), Some(42), false));
        assert_eq!(r("1000:50"), user(Some("airbyte"), Some(1000), Some(50), false));
        // Not in passwd, still a uid: runc starts it with gid 0.
        assert_eq!(r("10001"), user(None, Some(10001), Some(0), false));
        assert_eq!(r("10001:10001"), user(None, Some(10001), Some(10001), false));
        assert_eq!(r("ghost"), user(Some("ghost"), None, None, false));
        assert_eq!(r("ghost:nogroup"), user(Some("ghost"), None, Some(65534), false));
        assert_eq!(r("0:1000"), user(Some("root"), Some(0), Some(1000), true));
        // Too large for a uid: Docker would look it up as a name.
        assert_eq!(r("99999999999"), user(Some("99999999999"), None, None, false));
        // Without any passwd file, only numbers and the name `root` say anything.
        assert!(resolve_user("root", &[], &[]).root);
        let u = resolve_user("", &[], &[]);
        assert_eq!((u.name, u.uid, u.gid, u.root), user(None, Some(0), Some(0), true));
        // Missing names are what keeps a container from starting.
        let ghost = resolve_user("ghost", &users, &groups);
        assert!(ghost.user_missing && !ghost.group_missing && ghost.home.is_none());
        let g = resolve_user("airbyte:nogroup-at-all", &users, &groups);
        assert!(!g.user_missing && g.group_missing);
        let a = resolve_user("airbyte", &users, &groups);
        assert_eq!((a.home.as_deref(), a.group.as_deref()), (Some("/home/airbyte"), Some("airbyte")));
        assert_eq!(resolve_user("10001", &users, &groups).home.as_deref(), Some("/"));
    }

    #[test]
    fn bad_input_is_a_typed_error_with_line() {
        let err = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\nbad:x:1:1\n", PASSWD_PATH).unwrap_err();
        assert_eq!((err.path(), err.line()), (PASSWD_PATH, Some(2)));
        let err = parse_passwd(b"\n# c\nu:x:-1:0::/:/bin/sh\n", PASSWD_PATH).unwrap_err();
        assert_eq!(err.line(), Some(3));
        let err = parse_passwd(b":x:1:1::/:/bin/sh\n", PASSWD_PATH).unwrap_err();
        assert_eq!(err.line(), Some(1));
        let err = parse_group(b"g:x:1:\ng:x:abc:\n", GROUP_PATH).unwrap_err();
        assert_eq!((err.path(), err.line()), (GROUP_PATH, Some(2)));
        // Lenient reading keeps the good lines around a bad one.
        let read = read_passwd(
            b"root:x:0:0:root:/root:/bin/bash\nbad:x:1:1\n\xff\nairbyte:x:1000:1000::/airbyte:/bin/sh\n",
            PASSWD_PATH,
        );
        let names: Vec<&str> = read.items.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["root", "airbyte"]);
        let lines: Vec<Option<usize>> = read.errors.iter().map(FactError::line).collect();
        assert_eq!(lines, [Some(2), Some(3)]);
        let read = read_group(b"g:x:1:\ng:x:abc:\nh:x:2:a,b\n", GROUP_PATH);
        assert_eq!(read.items.len(), 2);
        assert_eq!(read.errors[0].line(), Some(2));
        // NIS compat lines are not accounts.
        assert_eq!(parse_passwd(b"+::::::\n", PASSWD_PATH).unwrap(), vec![]);
        let groups = parse_group(b"ssl-cert:x:103:postgres,www-data\n", GROUP_PATH).unwrap();
        assert_eq!(groups[0].members, ["postgres", "www-data"]);
    }

    #[test]
    fn mutated_fixtures_never_panic() {
        let (users, groups) = debian();
        for data in mutations(&fixture("debian/etc/passwd"), 400) {
            let _ = parse_passwd(&data, PASSWD_PATH);
            let _ = parse_group(&data, GROUP_PATH);
            let spec = String::from_utf8_lossy(&data[..data.len().min(24)]).into_owned();
            let _ = resolve_user(&spec, &users, &groups);
        }
        for data in mutations(&fixture("debian/etc/group"), 200) {
            let _ = parse_group(&data, GROUP_PATH);
        }
    }
}
