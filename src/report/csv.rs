//! A polars `DataFrame` in, CSV text out (header row, RFC 4180 quoting).

use polars::prelude::*;

pub fn render(frame: &mut DataFrame) -> PolarsResult<String> {
    let mut buffer = Vec::new();
    CsvWriter::new(&mut buffer).include_header(true).finish(frame)?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

/// A plain table as CSV, through a frame of text columns (so quoting is polars' own).
pub fn render_table(table: &super::Table) -> PolarsResult<String> {
    let columns: Vec<Column> = table
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let values: Vec<&str> = table.rows.iter().map(|r| r.get(i).map_or("", String::as_str)).collect();
            Column::new(h.to_ascii_lowercase().replace(' ', "_").into(), values)
        })
        .collect();
    render(&mut DataFrame::new_infer_height(columns)?)
}
