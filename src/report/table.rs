//! A `Table` in, aligned plain-text columns out (header in bold when color is on).

use super::Table;
use super::escape::escape_value;

/// Renders with two spaces between columns; the last column is not padded.
pub fn render(table: &Table, color: bool) -> String {
    let columns = table.headers.len();
    let mut widths: Vec<usize> = table.headers.iter().map(|h| width(&escape_value(h))).collect();
    for row in &table.rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(width(&escape_value(cell)));
        }
    }
    let mut out = String::new();
    let header = line(&table.headers, &widths);
    if color {
        out.push_str("\x1b[1m");
        out.push_str(&header);
        out.push_str("\x1b[0m");
    } else {
        out.push_str(&header);
    }
    out.push('\n');
    for row in &table.rows {
        out.push_str(&line(row, &widths));
        out.push('\n');
    }
    out
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        // Values come from outside: escaped, so that none runs an escape sequence or breaks
        // the line.
        let cell = escape_value(cell);
        out.push_str(&cell);
        if i + 1 < cells.len() {
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(width(&cell)) + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.trim_end().to_string()
}

fn width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["ID", "COUNT"]);
        t.push(vec!["abc".into(), "1".into()]);
        t.push(vec!["a".into(), "10".into()]);
        assert_eq!(render(&t, false), "ID   COUNT\nabc  1\na    10\n");
        t.push(vec!["x\ny".into(), "\x1b[2J".into()]);
        assert_eq!(render(&t, false).lines().last(), Some("x\\ny  \\x1b[2J"));
    }
}
