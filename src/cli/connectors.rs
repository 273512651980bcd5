//! `dockvar connectors list`: a scan in, one row per selected connector out.

use crate::group::{Scan, frame};
use crate::report::{self, Format, Table, json, markdown, table};

use super::Printer;
use super::args::{ConnectorsAction, ConnectorsArgs};
use super::scan::{exit_code, run_scan};
use super::variants::write_output;

pub fn run(args: &ConnectorsArgs, printer: &Printer) -> anyhow::Result<i32> {
    let ConnectorsAction::List { scan, format, output } = &args.action;
    let result = run_scan(scan, printer)?;
    let text = match format {
        Format::Json => json::to_text(&json::connectors(&result)),
        Format::Csv => report::csv::render(&mut frame::connectors_frame(&result.connectors)?)?,
        Format::Markdown => markdown::render(&connectors_table(&result)),
        Format::Table => table::render(&connectors_table(&result), printer.color()),
    };
    printer.print(&text)?;
    if let Some(path) = output {
        write_output(
            path,
            &mut frame::connectors_frame(&result.connectors)?,
            &json::to_text(&json::connectors(&result)),
        )?;
        printer.note(&format!("wrote {} connectors to {}", result.connectors.len(), path.display()));
    }
    Ok(exit_code(&result, scan.strict))
}

fn connectors_table(scan: &Scan) -> Table {
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let mut t = Table::new(&["NAME", "TYPE", "LANGUAGE", "SUPPORT", "IMAGE", "DOCKERFILE", "BASE IMAGE", "VARIANT"]);
    for s in &scan.connectors {
        let c = &s.connector;
        t.push(vec![
            c.name.clone(),
            dash(&c.connector_type),
            c.language.as_str().to_string(),
            dash(&c.support_level),
            dash(&c.image),
            dash(&c.dockerfile),
            dash(&c.base_image),
            s.variant_id().unwrap_or("-").to_string(),
        ]);
    }
    t
}
