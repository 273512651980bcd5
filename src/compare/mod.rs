//! Image facts in, what differs between images out: the notebook's three env tables
//! (`EnvDiff`), system packages beyond the base image (`PackageDiff`) and the spread of
//! Python and pip versions.

pub mod env;
pub mod packages;

pub use env::{EnvDiff, env_diff};
pub use packages::{Compared, PackageDiff, VersionGroup, package_diff, version_groups};
