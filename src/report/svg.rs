//! Labels and counts in, inline SVG markup out: the bar charts and the state matrix that the
//! HTML report draws. Every label is escaped here, so callers pass raw text from user files.

use std::fmt::Write;

/// Labels are code-like (variant IDs, versions, variable names) and a monospace font lets
/// the layout size label columns from the character count without measuring text.
const FONT: &str = "ui-monospace, 'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace";
const FONT_SIZE: f64 = 12.0;
/// Advance width of one monospace character at `FONT_SIZE`, with a little slack for fonts
/// wider than DejaVu Sans Mono's 0.6 em.
const CHAR_W: f64 = 7.4;
/// Longer labels are cut with an ellipsis; the full text stays in the tooltip.
const MAX_LABEL_CHARS: usize = 40;

/// Escapes text for HTML and SVG content and attribute values (both quote styles).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max` characters, ending with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// Coordinates with one decimal, so that output does not depend on float noise.
fn num(x: f64) -> String {
    // Adding zero turns -0 into 0.
    let rounded = (x * 10.0).round() / 10.0 + 0.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}") }
}

fn svg_open(out: &mut String, id: &str, title: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\" class=\"chart\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{title}\" font-family=\"{FONT}\" font-size=\"{FONT_SIZE}\">",
        id = escape(id),
        w = num(width),
        h = num(height),
        title = escape(title),
        FONT = escape(FONT),
    );
    let _ = write!(out, "<title>{}</title>", escape(title));
    let _ = write!(
        out,
        "<text class=\"chart-title\" x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\" \
         font-family=\"system-ui, sans-serif\" fill=\"#222\">{}</text>",
        escape(title)
    );
}

/// How a bar chart looks: its element ID, the unit of its values (for tooltips and the
/// caption), the bar colour and the total width in pixels.
#[derive(Debug, Clone, Copy)]
pub struct BarOptions<'a> {
    pub id: &'a str,
    pub unit: &'a str,
    pub color: &'a str,
    pub width: u32,
}

/// A horizontal bar chart, one row per `(label, value)` in the given order. Each bar is a
/// `<rect class="bar" data-label data-value>` so that tests and readers can find it; an
/// empty slice draws the title and "no data".
pub fn bar_chart<S: AsRef<str>>(title: &str, bars: &[(S, u64)], opts: &BarOptions<'_>) -> String {
    const TOP: f64 = 28.0;
    const ROW: f64 = 22.0;
    const BAR: f64 = 16.0;
    let width = f64::from(opts.width.max(200));
    let labels: Vec<String> = bars.iter().map(|(l, _)| truncate(l.as_ref(), MAX_LABEL_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max).max(30.0) + 10.0;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let value_w = text_width(&max.to_string()) + 10.0;
    // Very long labels would leave no room for bars: keep at least a third of the width.
    let label_w = label_w.min(width * 2.0 / 3.0);
    let area = (width - label_w - value_w).max(20.0);
    let rows = bars.len().max(1) as f64;
    let height = TOP + rows * ROW + 20.0;
    let mut out = String::new();
    svg_open(&mut out, opts.id, title, width, height);
    if bars.is_empty() {
        let _ = write!(out, "<text x=\"0\" y=\"{}\" fill=\"#666\">no data</text>", num(TOP + 15.0));
    }
    for (i, ((label, value), shown)) in bars.iter().zip(&labels).enumerate() {
        let label = label.as_ref();
        let y = TOP + i as f64 * ROW;
        let w = if max == 0 { 0.0 } else { area * (*value as f64) / (max as f64) };
        let tip = format!("{label}: {value} {}", opts.unit);
        let _ = write!(
            out,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"#222\">{shown}<title>{tip}</title></text>",
            lx = num(label_w - 8.0),
            ty = num(y + BAR / 2.0 + 4.0),
            shown = escape(shown),
            tip = escape(&tip),
        );
        let _ = write!(
            out,
            "<rect class=\"bar\" data-label=\"{dl}\" data-value=\"{value}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" \
             height=\"{BAR}\" fill=\"{color}\"><title>{tip}</title></rect>",
            dl = escape(label),
            x = num(label_w),
            y = num(y),
            w = num(w),
            color = escape(opts.color),
            tip = escape(&tip),
        );
        let _ = write!(
            out,
            "<text x=\"{vx}\" y=\"{ty}\" fill=\"#222\">{value}</text>",
            vx = num(label_w + w + 5.0),
            ty = num(y + BAR / 2.0 + 4.0),
        );
    }
    if !bars.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" fill=\"#666\" font-size=\"11\">{unit}</text>",
            x = num(label_w),
            y = num(height - 5.0),
            unit = escape(opts.unit),
        );
    }
    out.push_str("</svg>");
    out
}

/// What a matrix cell says about a variable on an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    /// Set on every image, with one value.
    Same,
    /// Set on every image, with more than one value.
    Different,
    /// Set here, but not on every image.
    Partial,
    /// Not set here.
    Unset,
}

impl CellState {
    pub const ALL: [CellState; 4] = [CellState::Same, CellState::Different, CellState::Partial, CellState::Unset];

    /// The `data-state` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Same => "same",
            CellState::Different => "different",
            CellState::Partial => "partial",
            CellState::Unset => "unset",
        }
    }

    pub fn color(self) -> &'static str {
        match self {
            CellState::Same => "#59a14f",
            CellState::Different => "#f28e2b",
            CellState::Partial => "#b07aa1",
            CellState::Unset => "#e3e6ea",
        }
    }

    pub fn legend(self) -> &'static str {
        match self {
            CellState::Same => "same value on every image",
            CellState::Different => "set on every image, values differ (same letter, same value)",
            CellState::Partial => "set on only some images",
            CellState::Unset => "not set",
        }
    }
}

/// One matrix cell: its state, the tooltip text (for example the value) and a short mark
/// drawn inside it (for example a letter per distinct value), which may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixCell {
    pub state: CellState,
    pub note: String,
    pub mark: String,
}

/// A labelled matrix: `cells[row][column]`, rows and columns labelled, with a legend of the
/// four states. Each cell is a `<rect class="cell" data-state>`; missing cells of a ragged
/// `cells` are drawn as `Unset`, so the count is always rows × columns.
pub fn matrix<R: AsRef<str>, C: AsRef<str>>(
    id: &str,
    title: &str,
    rows: &[R],
    columns: &[C],
    cells: &[Vec<MatrixCell>],
) -> String {
    const TOP: f64 = 28.0;
    const CELL: f64 = 22.0;
    const GAP: f64 = 2.0;
    const LEGEND_ROW: f64 = 18.0;
    // Column labels are drawn at -45°, so their horizontal and vertical extent is the text
    // length times sin 45°.
    const SLANT: f64 = std::f64::consts::FRAC_1_SQRT_2;
    let row_labels: Vec<String> = rows.iter().map(|r| truncate(r.as_ref(), MAX_LABEL_CHARS)).collect();
    let col_labels: Vec<String> = columns.iter().map(|c| truncate(c.as_ref(), MAX_LABEL_CHARS)).collect();
    let left = row_labels.iter().map(|l| text_width(l)).fold(0.0, f64::max) + 12.0;
    let col_extent = col_labels.iter().map(|l| text_width(l)).fold(0.0, f64::max) * SLANT;
    let grid_top = TOP + col_extent + 10.0;
    let grid_w = columns.len() as f64 * (CELL + GAP);
    let grid_h = rows.len() as f64 * (CELL + GAP);
    let legend_top = grid_top + grid_h + 16.0;
    let legend_w = CellState::ALL.iter().map(|s| text_width(s.legend())).fold(0.0, f64::max) + 24.0;
    let width = (left + grid_w + col_extent + 10.0).max(legend_w).max(text_width(title) + 20.0);
    let height = legend_top + CellState::ALL.len() as f64 * LEGEND_ROW + 4.0;
    let mut out = String::new();
    svg_open(&mut out, id, title, width, height);
    if rows.is_empty() || columns.is_empty() {
        let _ = write!(out, "<text x=\"0\" y=\"{}\" fill=\"#666\">no data</text>", num(TOP + 15.0));
    }
    for (c, (full, shown)) in columns.iter().zip(&col_labels).enumerate() {
        let x = left + c as f64 * (CELL + GAP) + CELL / 2.0;
        let _ = write!(
            out,
            "<text transform=\"translate({x},{y}) rotate(-45)\" fill=\"#222\">{shown}<title>{full}</title></text>",
            x = num(x),
            y = num(grid_top - 6.0),
            shown = escape(shown),
            full = escape(full.as_ref()),
        );
    }
    for (r, (full, shown)) in rows.iter().zip(&row_labels).enumerate() {
        let y = grid_top + r as f64 * (CELL + GAP);
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"end\" fill=\"#222\">{shown}<title>{full}</title></text>",
            x = num(left - 8.0),
            y = num(y + CELL / 2.0 + 4.0),
            shown = escape(shown),
            full = escape(full.as_ref()),
        );
        for c in 0..columns.len() {
            let cell = cells.get(r).and_then(|row| row.get(c));
            let state = cell.map_or(CellState::Unset, |cell| cell.state);
            let note = cell.map_or("", |cell| cell.note.as_str());
            let mark = cell.map_or("", |cell| cell.mark.as_str());
            let x = left + c as f64 * (CELL + GAP);
            let _ = write!(
                out,
                "<rect class=\"cell\" data-state=\"{s}\" x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" \
                 rx=\"3\" fill=\"{fill}\"><title>{note}</title></rect>",
                s = state.as_str(),
                x = num(x),
                y = num(y),
                fill = state.color(),
                note = escape(note),
            );
            if !mark.is_empty() {
                // The mark must not take the pointer, or hovering it would hide the cell's tooltip.
                let _ = write!(
                    out,
                    "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#222\" \
                     pointer-events=\"none\">{mark}</text>",
                    x = num(x + CELL / 2.0),
                    y = num(y + CELL / 2.0 + 4.0),
                    mark = escape(&truncate(mark, 2)),
                );
            }
        }
    }
    for (i, state) in CellState::ALL.iter().enumerate() {
        let y = legend_top + i as f64 * LEGEND_ROW;
        let _ = write!(
            out,
            "<rect class=\"swatch\" data-state=\"{s}\" x=\"0\" y=\"{y}\" width=\"12\" height=\"12\" rx=\"2\" \
             fill=\"{fill}\"/><text x=\"18\" y=\"{ty}\" fill=\"#222\">{label}</text>",
            s = state.as_str(),
            y = num(y),
            fill = state.color(),
            ty = num(y + 10.0),
            label = escape(state.legend()),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BarOptions<'static> {
        BarOptions { id: "c", unit: "images", color: "#123456", width: 400 }
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(escape(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn one_bar_per_value_scaled_to_the_largest() {
        let svg = bar_chart("T", &[("a", 4), ("b", 2), ("c", 0)], &opts());
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        assert!(svg.contains("data-label=\"b\" data-value=\"2\""));
        let widths: Vec<f64> = svg
            .split("class=\"bar\"")
            .skip(1)
            .map(|s| s.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!((widths[0] - 2.0 * widths[1]).abs() < 0.2, "{widths:?}");
        assert_eq!(widths[2], 0.0);
    }

    #[test]
    fn empty_and_all_zero_charts_draw_without_bars() {
        let empty: &[(&str, u64)] = &[];
        let svg = bar_chart("T", empty, &opts());
        assert!(svg.contains("no data") && !svg.contains("class=\"bar\""));
        assert!(!bar_chart("T", &[("a", 0)], &opts()).contains("NaN"));
    }

    #[test]
    fn long_labels_are_cut_but_kept_in_full_in_data_and_tooltip() {
        let long = "x".repeat(100);
        let svg = bar_chart("T", &[(long.as_str(), 1)], &opts());
        assert!(svg.contains(&format!("data-label=\"{long}\"")));
        assert!(svg.contains(&format!(">{}…<title>", "x".repeat(MAX_LABEL_CHARS - 1))));
    }

    #[test]
    fn ragged_matrix_still_has_rows_times_columns_cells() {
        let cell = MatrixCell { state: CellState::Same, note: "<v>".into(), mark: "&".into() };
        let svg = matrix("m", "M", &["A", "B"], &["x", "y", "z"], &[vec![cell]]);
        assert_eq!(svg.matches("class=\"cell\"").count(), 6);
        assert_eq!(svg.matches("data-state=\"unset\"").count(), 5 + 1);
        assert!(svg.contains("<title>&lt;v&gt;</title>"));
        assert!(svg.contains(">&amp;</text>"));
    }

    #[test]
    fn coordinates_have_at_most_one_decimal() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.04), "1");
        assert_eq!(num(2.25), "2.3");
        assert_eq!(num(-0.0), "0");
    }
}
