//! dockvar: find the Dockerfile variants of a container monorepo, inspect representative
//! images without running them, and consolidate them onto one base image.
//!
//! The pipeline reads from the module list: `discover` → `dockerfile` → `group` → `report`,
//! wired together by `cli`.

pub mod check;
pub mod cli;
pub mod compare;
pub mod discover;
pub mod dockerfile;
pub mod files;
pub mod group;
pub mod inspect;
pub mod metadata;
pub mod recommend;
pub mod report;
#[doc(hidden)]
pub mod testing;
