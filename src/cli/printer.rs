//! Text in, the terminal out: data goes to stdout, warnings, notes and errors to stderr, with
//! color only where the user's `--color` choice and the terminal allow it.

use std::io::{IsTerminal, Write};

use super::args::ColorChoice;
use crate::report::escape::{escape_output, escape_value};

/// The one way dockvar talks to people.
#[derive(Debug, Clone)]
pub struct Printer {
    out_color: bool,
    err_color: bool,
    quiet: bool,
    verbose: bool,
}

/// ANSI styles dockvar uses.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Bold,
    Red,
    Green,
    Yellow,
    Dim,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Dim => "2",
        }
    }
}

impl Printer {
    pub fn new(choice: ColorChoice, quiet: bool, verbose: bool) -> Self {
        let auto = |is_terminal: bool| {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        };
        let (out_color, err_color) = match choice {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (auto(std::io::stdout().is_terminal()), auto(std::io::stderr().is_terminal())),
        };
        Printer { out_color, err_color, quiet, verbose }
    }

    /// Whether stdout output may carry color.
    pub fn color(&self) -> bool {
        self.out_color
    }

    /// Styles text for stdout.
    pub fn paint(&self, style: Style, text: &str) -> String {
        paint(self.out_color, style, text)
    }

    /// Writes data to stdout. A broken pipe comes back as an error for the caller to end on.
    pub fn print(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(escape_output(text).as_bytes())?;
        out.flush()
    }

    /// Where progress bars draw: stderr, hidden with `--quiet` or when stderr is not a terminal.
    pub fn progress(&self) -> indicatif::MultiProgress {
        if self.quiet || !std::io::stderr().is_terminal() {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
        } else {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
        }
    }

    /// `warning: …` on stderr, unless `--quiet`.
    pub fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}: {}", paint(self.err_color, Style::Yellow, "warning"), escape_value(message));
        }
    }

    /// `note: …` on stderr, unless `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}: {}", paint(self.err_color, Style::Dim, "note"), escape_value(message));
        }
    }

    /// `note: …` on stderr, only with `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.verbose {
            eprintln!("{}: {}", paint(self.err_color, Style::Dim, "note"), escape_value(message));
        }
    }

    /// `error: …` and one `caused by: …` line per cause, on stderr.
    pub fn error(&self, error: &anyhow::Error) {
        eprintln!("{}: {}", paint(self.err_color, Style::Red, "error"), escape_value(&error.to_string()));
        for cause in error.chain().skip(1) {
            eprintln!("  {}: {}", paint(self.err_color, Style::Dim, "caused by"), escape_value(&cause.to_string()));
        }
    }
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color { format!("\x1b[{}m{text}\x1b[0m", style.code()) } else { text.to_string() }
}
