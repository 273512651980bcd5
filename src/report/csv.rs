//! A polars `DataFrame` in, CSV text out (header row, RFC 4180 quoting).

use polars::prelude::*;

pub fn render(frame: &mut DataFrame) -> PolarsResult<String> {
    let mut frame = escaped(frame)?;
    let mut buffer = Vec::new();
    CsvWriter::new(&mut buffer).include_header(true).finish(&mut frame)?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

/// The frame with every text value escaped for a terminal (`super::escape`): CSV is read on
/// terminals too, and a quoted newline there forges a line.
fn escaped(frame: &DataFrame) -> PolarsResult<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .map(|c| {
            if c.dtype() != &DataType::String {
                return Ok(c.clone());
            }
            let values: Vec<Option<String>> =
                c.str()?.iter().map(|v| v.map(|s| super::escape::escape_value(s).into_owned())).collect();
            Ok(Column::new(c.name().clone(), values))
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new_infer_height(columns)
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
