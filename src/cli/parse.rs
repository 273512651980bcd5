//! `dockvar parse PATH...`: Dockerfiles in, their instructions and canonical text out.

use crate::dockerfile::semantic::{self, SemanticOptions};
use crate::dockerfile::{Args, Dockerfile, NameContext, Normalizer, ParseError, notebook, read_dockerfile};
use crate::report::{Format, Table, json, table};

use super::Printer;
use super::args::ParseArgs;

pub fn run(args: &ParseArgs, printer: &Printer) -> anyhow::Result<i32> {
    let names = args.connector.as_deref().map(NameContext::technical).unwrap_or_default();
    let options = SemanticOptions::default();
    let mut failed = false;
    let mut documents = Vec::new();
    let mut text = String::new();
    for path in &args.paths {
        let display = path.display().to_string();
        let result: Result<(Dockerfile, String), ParseError> =
            read_dockerfile(path, None, &display).map(|(raw, df)| {
                let canonical = match args.normalizer {
                    Normalizer::Semantic => semantic::canonical(&df, &names, &options),
                    Normalizer::Notebook => notebook::canonical(&raw, &names),
                };
                (df, canonical)
            });
        match &result {
            Err(e) => {
                failed = true;
                printer.warn(&e.to_string());
            }
            Ok((df, _)) => {
                for stage in &df.stages {
                    if let Some(why) = &stage.unresolved {
                        let line = df.instructions.get(stage.from_instruction).map_or(0, |i| i.line);
                        printer.warn(&format!("{display}:{line}: {why}"));
                    }
                }
            }
        }
        match args.format {
            Format::Json => documents.push(json::parsed_file(&display, &result)),
            _ => text.push_str(&file_text(&display, &result, printer)),
        }
    }
    let output = match args.format {
        Format::Json => json::to_text(&json::parsed_files(documents)),
        _ => text,
    };
    printer.print(&output)?;
    Ok(if failed { super::EXIT_PROBLEMS } else { super::EXIT_OK })
}

fn file_text(path: &str, result: &Result<(Dockerfile, String), ParseError>, printer: &Printer) -> String {
    let mut out = format!("{}\n", printer.paint(super::printer::Style::Bold, &format!("==> {path}")));
    let (df, canonical) = match result {
        Ok(ok) => ok,
        Err(e) => {
            out.push_str(&format!("error: {e}\n\n"));
            return out;
        }
    };
    let mut t = Table::new(&["LINE", "KEYWORD", "FLAGS", "FORM", "ARGS"]);
    for ins in &df.instructions {
        let (form, args) = match &ins.args {
            Args::Shell(s) => ("shell", s.clone()),
            Args::Exec(items) => ("exec", serde_json::to_string(items).unwrap_or_default()),
            Args::Heredoc(s) => (
                "heredoc",
                format!(
                    "{s} [{} heredoc(s), {} lines]",
                    ins.heredocs.len(),
                    ins.heredocs.iter().map(|h| h.body.lines().count()).sum::<usize>()
                ),
            ),
            Args::Pairs(pairs) => {
                ("pairs", pairs.iter().map(|(k, v)| format!("{k}={}", parse_display(v))).collect::<Vec<_>>().join(" "))
            }
            Args::Words(words) => ("words", words.join(" ")),
        };
        let line =
            if ins.end_line > ins.line { format!("{}-{}", ins.line, ins.end_line) } else { ins.line.to_string() };
        t.push(vec![line, ins.keyword.clone(), ins.flags.join(" "), form.into(), args]);
    }
    out.push_str(&table::render(&t, printer.color()));
    out.push_str("canonical:\n");
    for line in canonical.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn parse_display(value: &str) -> String {
    crate::dockerfile::lex::quote_minimal(value)
}
