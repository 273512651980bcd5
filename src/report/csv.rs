//! A polars `DataFrame` in, CSV text out (header row, RFC 4180 quoting).

use polars::prelude::*;

pub fn render(frame: &mut DataFrame) -> PolarsResult<String> {
    let mut buffer = Vec::new();
    CsvWriter::new(&mut buffer).include_header(true).finish(frame)?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}
