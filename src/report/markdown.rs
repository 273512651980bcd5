//! A `Table` in, a GitHub-flavoured Markdown table out.

use super::Table;

pub fn render(table: &Table) -> String {
    let mut out = String::new();
    out.push_str(&row(&table.headers));
    out.push('|');
    for _ in &table.headers {
        out.push_str(" --- |");
    }
    out.push('\n');
    for r in &table.rows {
        out.push_str(&row(r));
    }
    out
}

fn row(cells: &[String]) -> String {
    let mut out = String::from("|");
    for cell in cells {
        out.push(' ');
        out.push_str(&escape(cell));
        out.push_str(" |");
    }
    out.push('\n');
    out
}

/// Pipes would end the cell and newlines the row.
fn escape(cell: &str) -> String {
    cell.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_pipes() {
        let mut t = Table::new(&["a", "b"]);
        t.push(vec!["x|y".into(), "z".into()]);
        assert_eq!(render(&t), "| a | b |\n| --- | --- |\n| x\\|y | z |\n");
    }
}
