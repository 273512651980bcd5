//! A disagreement or a gap found while reading an image in, a `Warning` out: a stable code
//! that `check-image` and `report` can match on, and a message for people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable warning codes (kebab-case in JSON). New codes may be added; existing ones keep
/// their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningCode {
    /// `PYTHON_VERSION` names another version than the interpreter on `PATH`.
    PythonEnvMismatch,
    /// `PYTHON_PIP_VERSION` names another version than the pip that `python3 -m pip` runs.
    PipEnvMismatch,
    /// Two sources of the interpreter's version (patchlevel.h, the binary, a package)
    /// disagree.
    PythonVersionConflict,
    /// A Python is installed (or claimed by the environment) but no `python3`/`python` is
    /// on `PATH`.
    PythonNotOnPath,
    /// A distribution's metadata disagrees with its directory name.
    PythonMetadata,
    /// `TZ`, `/etc/localtime` and `/etc/timezone` name different zones.
    TimezoneMismatch,
    /// `TZ` or `/etc/localtime` names a zone file the image lacks: the C library uses UTC.
    TimezoneMissing,
    /// `USER` names a user `/etc/passwd` lacks: the container would not start.
    UserMissing,
    /// `USER name:group` names a group `/etc/group` lacks: the container would not start.
    GroupMissing,
    /// The config's architecture is not the one the packages are built for.
    ArchitectureMismatch,
    /// A record of passwd, group, dpkg or apk that was left out (the rest was read).
    MalformedRecord,
    /// A file that could not be read or parsed at all.
    UnreadableFile,
    /// The source could not read everything (files over a cap, links, partial reads).
    IncompleteRead,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PythonEnvMismatch => "python-env-mismatch",
            Self::PipEnvMismatch => "pip-env-mismatch",
            Self::PythonVersionConflict => "python-version-conflict",
            Self::PythonNotOnPath => "python-not-on-path",
            Self::PythonMetadata => "python-metadata",
            Self::TimezoneMismatch => "timezone-mismatch",
            Self::TimezoneMissing => "timezone-missing",
            Self::UserMissing => "user-missing",
            Self::GroupMissing => "group-missing",
            Self::ArchitectureMismatch => "architecture-mismatch",
            Self::MalformedRecord => "malformed-record",
            Self::UnreadableFile => "unreadable-file",
            Self::IncompleteRead => "incomplete-read",
        }
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One warning about an image's facts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Warning {
        Warning { code, message: message.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in [
            WarningCode::PythonEnvMismatch,
            WarningCode::PipEnvMismatch,
            WarningCode::PythonVersionConflict,
            WarningCode::PythonNotOnPath,
            WarningCode::PythonMetadata,
            WarningCode::TimezoneMismatch,
            WarningCode::TimezoneMissing,
            WarningCode::UserMissing,
            WarningCode::GroupMissing,
            WarningCode::ArchitectureMismatch,
            WarningCode::MalformedRecord,
            WarningCode::UnreadableFile,
            WarningCode::IncompleteRead,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            let back: WarningCode = serde_json::from_value(serde_json::json!(code.as_str())).unwrap();
            assert_eq!(back, code);
        }
        let w = Warning::new(WarningCode::UserMissing, "USER ghost is not in /etc/passwd");
        assert_eq!(w.to_string(), "USER ghost is not in /etc/passwd [user-missing]");
    }
}
