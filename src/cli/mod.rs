//! Command-line arguments in, an exit code out: parses flags with clap, wires the pipeline
//! stages together for each command, and prints through one `Printer`.
//!
//! Exit codes: 0 success; 1 the run finished but found what the user asked to fail on
//! (`--strict` with problems, a file `parse` could not read); 2 usage or fatal errors.

mod analysis;
mod args;
mod check;
mod compare;
mod connectors;
mod findings;
mod inspect;
mod migration;
mod parse;
mod printer;
mod report;
mod scan;
mod variants;

use clap::Parser;

pub use args::Cli;
pub use printer::Printer;

/// Exit code of a run that completed without problems.
pub const EXIT_OK: i32 = 0;
/// Exit code when problems were found and the user asked to fail on them.
pub const EXIT_PROBLEMS: i32 = 1;
/// Exit code for usage errors and errors that stop the run.
pub const EXIT_ERROR: i32 = 2;

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let printer = Printer::new(cli.color, cli.quiet, cli.verbose);
    match run(&cli, &printer) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => EXIT_OK,
        Err(e) => {
            printer.error(&e);
            EXIT_ERROR
        }
    }
}

fn run(cli: &Cli, printer: &Printer) -> anyhow::Result<i32> {
    match &cli.command {
        args::Command::Variants(a) => variants::run(a, printer),
        args::Command::Parse(a) => parse::run(a, printer),
        args::Command::Connectors(a) => connectors::run(a, printer),
        args::Command::Inspect(a) => inspect::run(a, printer),
        args::Command::Migration(a) => migration::run(a, printer),
        args::Command::Check(a) => check::run(a, printer),
        args::Command::Envdiff(a) => compare::envdiff(a, printer),
        args::Command::Packages(a) => compare::packages(a, printer),
        args::Command::Recommend(a) => report::recommend(a, printer),
        args::Command::Report(a) => report::report(a, printer),
        args::Command::CheckImage(a) => report::check_image(a, printer),
    }
}

/// A closed pipe (`dockvar … | head`) is the reader's choice, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
