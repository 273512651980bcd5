//! A repository path and a revision in, file contents at that revision out, read with the
//! `git` command (no checkout, nothing written).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why git could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}; install git to use --against")]
    Missing(String),
    #[error("{path}: not inside a git repository")]
    NotARepository { path: String },
    #[error("unknown revision `{rev}`: {message}")]
    UnknownRevision { rev: String, message: String },
    #[error("git {args}: {message}")]
    Failed { args: String, message: String },
}

/// A revision of the repository that contains `root`.
#[derive(Debug, Clone)]
pub struct Revision {
    toplevel: PathBuf,
    /// `root` relative to the top level, `/`-separated, empty at the top.
    prefix: String,
    /// The full commit ID.
    pub commit: String,
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, GitError> {
    Command::new("git").arg("-C").arg(dir).args(args).output().map_err(|e| GitError::Missing(e.to_string()))
}

impl Revision {
    /// Resolves `rev` in the repository containing `root`.
    pub fn open(root: &Path, rev: &str) -> Result<Revision, GitError> {
        let out = git(root, &["rev-parse", "--show-toplevel"])?;
        if !out.status.success() {
            return Err(GitError::NotARepository { path: root.display().to_string() });
        }
        let toplevel = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let out = git(root, &["rev-parse", "--show-prefix"])?;
        let prefix = String::from_utf8_lossy(&out.stdout).trim().trim_end_matches('/').to_string();
        let spec = format!("{rev}^{{commit}}");
        let out = git(root, &["rev-parse", "--verify", "--quiet", &spec])?;
        if !out.status.success() {
            return Err(GitError::UnknownRevision {
                rev: rev.to_string(),
                message: "git rev-parse found no such commit".into(),
            });
        }
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(Revision { toplevel, prefix, commit })
    }

    /// The content of `path` (relative to the scanned root) at this revision; `None` when it
    /// did not exist then.
    pub fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        let full = if self.prefix.is_empty() { path.to_string() } else { format!("{}/{path}", self.prefix) };
        let object = format!("{}:{full}", self.commit);
        let out = git(&self.toplevel, &["cat-file", "-e", &object])?;
        if !out.status.success() {
            return Ok(None);
        }
        let out = git(&self.toplevel, &["show", &object])?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: format!("show {object}"),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}
