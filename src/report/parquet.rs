//! A polars `DataFrame` and a path in, a Parquet file out, written to a temporary file and
//! renamed so that a failed run never leaves a partial file.

use std::path::Path;

use polars::prelude::*;

use super::ReportError;

pub fn write(frame: &mut DataFrame, path: &Path) -> Result<(), ReportError> {
    let display = path.display().to_string();
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|source| ReportError::Write { path: display.clone(), source })?;
    let written = ParquetWriter::new(file).finish(frame);
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportError::Frame { path: display, source });
    }
    std::fs::rename(&tmp, path).map_err(|source| ReportError::Write { path: display, source })
}
