//! Process arguments in, the `Cli` struct out (clap derive); every flag has a one-line help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::discover::query::Query;
use crate::discover::{Language, LayoutChoice, Selection};
use crate::dockerfile::Normalizer;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "dockvar",
    version,
    about = "Find, compare and consolidate the Dockerfile variants of a container monorepo"
)]
pub struct Cli {
    /// When to color output: auto (when stdout/stderr is a terminal and NO_COLOR is unset), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Do not print warnings on stderr (they stay in the output's `errors`).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more on stderr (e.g. which connectors a --query could not be evaluated on).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

// Parsed once per process; boxing the larger arguments would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Group connectors by Dockerfile variant (also: `variants show`, `variants diff`).
    Variants(VariantsArgs),
    /// Parse Dockerfiles and print their instructions and canonical text.
    Parse(ParseArgs),
    /// Work with the connectors of a repository.
    Connectors(ConnectorsArgs),
    /// Read images' facts (OS, env, user, packages, Python, timezone) without running them.
    Inspect(InspectArgs),
    /// Which connectors use the common base image, and whether their migration is complete.
    Migration(MigrationArgs),
    /// Check Dockerfiles and images against the connector image contract (statically).
    Check(CheckArgs),
    /// Compare images' environment variables: same everywhere, different values, set on only some.
    Envdiff(CompareArgs),
    /// Propose one consolidated base image for the selected connectors, with the evidence.
    Recommend(RecommendArgs),
    /// Scan, inspect one image per variant, compare, recommend: the whole analysis as files.
    Report(ReportArgs),
    /// Verify images against a checks.yaml (from `dockvar recommend`), statically.
    CheckImage(CheckImageArgs),
    /// System packages each image adds beyond its base image, and Python and pip versions.
    Packages(CompareArgs),
}

/// Scan, then inspect one representative image per variant.
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    /// File of `connector=image` lines (an image per variant, for images that live elsewhere); a
    /// key may also be a base image named in a Dockerfile, to compare packages against it.
    #[arg(long, value_name = "MAP")]
    pub images: Option<PathBuf>,

    #[command(flatten)]
    pub image: ImageOptions,

    /// Ask the registry for the proposed base image's digest (needs the registry reachable).
    #[arg(long)]
    pub resolve_digest: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Output format: markdown (the reasoning, Dockerfile and checks) or json.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,

    /// Also write Dockerfile, checks.yaml and recommendation.md into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Directory the report files are written to.
    #[arg(long, value_name = "DIR", default_value = "reports/latest")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckImageArgs {
    /// Images to verify (any reference `inspect` takes).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,

    /// The checks file, as `dockvar recommend --out` writes it.
    #[arg(long, value_name = "FILE")]
    pub checks: PathBuf,

    #[command(flatten)]
    pub image: ImageOptions,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Images to compare (any reference `inspect` takes).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,

    /// The base image, to say which variables and packages come from it.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Exit with code 1 when the images differ (envdiff: any variable differs or is partial).
    #[arg(long)]
    pub fail_on_difference: bool,

    #[command(flatten)]
    pub image: ImageOptions,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    /// Images to check too (any reference `inspect` takes); matched to connectors by label or name.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,

    /// Exit with code 1 when a check of this severity or worse fails.
    #[arg(long, value_enum, default_value_t = crate::check::Severity::Error)]
    pub fail_on: crate::check::Severity,

    /// Treat a user other than `airbyte` as an error (the protocol says "should": a warning by default).
    #[arg(long)]
    pub require_airbyte_user: bool,

    #[command(flatten)]
    pub image: ImageOptions,

    /// Check only the images, not the repository's Dockerfiles.
    #[arg(long)]
    pub images_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct MigrationArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// The latest base image version: VERSION, or NAME:VERSION for one image (default: the newest referenced).
    #[arg(long, value_name = "[NAME:]VERSION")]
    pub latest: Vec<String>,

    /// Check every migrated connector against the definition of a successful migration; exit 1 on failure.
    #[arg(long)]
    pub check: bool,

    /// With --check: also require a one-patch version bump and a changelog row since this git revision.
    #[arg(long, value_name = "REV", requires = "check")]
    pub against: Option<String>,
}

/// How images are read, for every command that reads images.
#[derive(Debug, Clone, Args)]
pub struct ImageOptions {
    /// Platform to pick from multi-platform images.
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: String,

    /// Read every image again instead of using cached facts.
    #[arg(long)]
    pub no_cache: bool,

    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long)]
    pub insecure: bool,
}

impl ImageOptions {
    pub fn inspect_options(&self) -> anyhow::Result<crate::inspect::InspectOptions> {
        use anyhow::Context;
        let platform = crate::inspect::Platform::parse(&self.platform)
            .map_err(anyhow::Error::msg)
            .context("invalid --platform")?;
        Ok(crate::inspect::InspectOptions {
            source: crate::inspect::SourceOptions { platform, insecure: self.insecure, ..Default::default() },
            cache: if self.no_cache { None } else { crate::inspect::cache::Cache::from_env() },
        })
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Images: docker:NAME, docker-archive:PATH, oci:DIR[:TAG], oci-archive:PATH[:TAG], registry:HOST/NAME:TAG, or NAME:TAG.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub image: ImageOptions,

    /// Output format: table or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// What to scan and how to hash it.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Repository root to scan.
    #[arg(default_value = ".")]
    pub root: PathBuf,

    /// Repository layout: auto detects Airbyte by `airbyte-integrations/connectors/`.
    #[arg(long, value_enum, default_value_t = LayoutChoice::Auto)]
    pub layout: LayoutChoice,

    /// How Dockerfiles are normalized before hashing: semantic, or notebook for the seed notebook's IDs.
    #[arg(long, value_enum, default_value_t = Normalizer::Semantic)]
    pub normalizer: Normalizer,

    /// Another label key to ignore when hashing (repeatable; version labels are always ignored).
    #[arg(long = "ignore-label", value_name = "KEY")]
    pub ignore_labels: Vec<String>,

    #[command(flatten)]
    pub filters: Filters,

    /// Scan files that .gitignore hides too (it is read only inside a git work tree).
    #[arg(long)]
    pub no_ignore: bool,

    /// Keep only Dockerfiles whose path (relative to the root) matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Skip files and directories whose path (relative to the root) matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Exit with code 1 when any connector or file had a problem.
    #[arg(long)]
    pub strict: bool,
}

/// Connector filters: values of one filter are OR-ed, filters are AND-ed.
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// Keep connectors in this language (repeatable or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "L")]
    pub language: Vec<Language>,

    /// Keep connectors with this support level, e.g. certified (repeatable or comma-separated).
    #[arg(long = "support-level", value_delimiter = ',', value_name = "S")]
    pub support_level: Vec<String>,

    /// Keep connectors of this type: source or destination (repeatable or comma-separated).
    #[arg(long = "type", value_delimiter = ',', value_name = "T")]
    pub connector_type: Vec<String>,

    /// Keep connectors whose name matches this glob, e.g. 'source-*' (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub name: Vec<String>,

    /// Keep only connectors migrated to the base image (metadata sets connectorBuildOptions.baseImage).
    #[arg(long, conflicts_with = "not_migrated")]
    pub migrated: bool,

    /// Keep only connectors not migrated to the base image.
    #[arg(long = "not-migrated")]
    pub not_migrated: bool,

    /// Keep connectors whose metadata baseImage is NAME[:VERSION] (repeatable).
    #[arg(long = "base-image", value_name = "NAME[:VERSION]")]
    pub base_image: Vec<String>,

    /// Keep connectors whose metadata matches this expression, e.g. "data.supportLevel == 'certified'".
    #[arg(long, value_name = "EXPR")]
    pub query: Option<Query>,
}

impl ScanArgs {
    pub fn walk_options(&self) -> crate::discover::WalkOptions {
        crate::discover::WalkOptions {
            no_ignore: self.no_ignore,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

impl Filters {
    pub fn selection(&self) -> Selection {
        Selection {
            languages: self.language.clone(),
            support_levels: self.support_level.clone(),
            types: self.connector_type.clone(),
            names: self.name.clone(),
            migrated: match (self.migrated, self.not_migrated) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            base_images: self.base_image.clone(),
            query: self.query.clone(),
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct VariantsArgs {
    #[command(subcommand)]
    pub action: Option<VariantsAction>,

    #[command(flatten)]
    pub scan: ScanArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Also write the variants table to this file (.parquet, .csv or .json).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum VariantsAction {
    /// Show one variant: canonical Dockerfile, traits and connectors.
    Show {
        /// Variant ID (or hash prefix) or connector name.
        key: String,
        #[command(flatten)]
        scan: ScanArgs,
        /// Output format: table (text) or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Instruction-level diff of two variants (by ID or connector name).
    Diff {
        /// First variant ID or connector name.
        a: String,
        /// Second variant ID or connector name.
        b: String,
        #[command(flatten)]
        scan: ScanArgs,
    },
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Dockerfiles to parse.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format: table or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Normalizer used for the canonical text.
    #[arg(long, value_enum, default_value_t = Normalizer::Semantic)]
    pub normalizer: Normalizer,

    /// Connector name to replace by placeholders in the canonical text.
    #[arg(long = "connector", value_name = "NAME")]
    pub connector: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConnectorsArgs {
    #[command(subcommand)]
    pub action: ConnectorsAction,
}

#[derive(Debug, Subcommand)]
pub enum ConnectorsAction {
    /// One row per connector: type, language, support level, image, Dockerfile, base image, variant.
    List {
        #[command(flatten)]
        scan: ScanArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write the connectors table to this file (.parquet, .csv or .json).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}
