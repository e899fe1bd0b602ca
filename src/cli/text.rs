//! Plain-text layout of verb output: tables and indented reports fitted to the terminal's width,
//! whole when stdout is a pipe or a file, or tab-separated records (`--output text`). Every cell
//! and line is escaped here, so no caller can print untrusted text raw by forgetting to.

use std::borrow::Cow;
use std::io::IsTerminal as _;

pub use crate::untrusted::truncate;
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

use super::args::OutputFormat;
use crate::untrusted::escape;

const GAP: usize = 2;
const MIN_COLUMN: usize = 6;

/// How a verb lays its text out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// On a terminal: cells cut with `…` and reports wrapped to fit this many columns.
    Fit(usize),
    /// To a pipe or a file: nothing cut or wrapped, so `grep` and `awk` see every value whole.
    Whole,
    /// `--output text`: one record a line, its fields separated by tabs, no header or footer,
    /// nothing cut (tabs and newlines inside a value are escaped as `\t` and `\n`).
    Tabs,
}

impl Layout {
    /// The layout of `format` on this process's stdout.
    #[must_use]
    pub fn of(format: OutputFormat) -> Self {
        if format == OutputFormat::Text {
            return Self::Tabs;
        }
        output_width().map_or(Self::Whole, Self::Fit)
    }

    /// The width to fit, if any.
    #[must_use]
    pub fn width(self) -> Option<usize> {
        match self {
            Self::Fit(width) => Some(width),
            Self::Whole | Self::Tabs => None,
        }
    }

    /// `text` cut to `columns` when the layout fits a width, else whole: the fixed columns of a
    /// streamed line (a client id, a rule) are cut on a terminal only.
    #[must_use]
    pub fn cut(self, text: &str, columns: usize) -> Cow<'_, str> {
        match self {
            Self::Fit(_) => Cow::Owned(truncate(text, columns)),
            Self::Whole | Self::Tabs => Cow::Borrowed(text),
        }
    }
}

/// The width to fit on a terminal (`COLUMNS` when it is a sane number, else the terminal's
/// width, else 80); `None` when stdout is not a terminal, whatever `COLUMNS` says, so a piped
/// listing is never cut.
#[must_use]
pub fn output_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let sane = |w: &usize| (20..=1000).contains(w);
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(sane);
    Some(
        columns
            .or_else(|| {
                ratatui::crossterm::terminal::size()
                    .ok()
                    .map(|(w, _)| usize::from(w))
                    .filter(sane)
            })
            .unwrap_or(80),
    )
}

/// A certificate id as a report names it: its first 12 digits and `…` on a terminal, whole when
/// piped (so `grep` finds what `certs` lists).
#[must_use]
pub fn certificate_id(id: &str, width: Option<usize>) -> String {
    match width {
        Some(_) if id.chars().count() > 12 => id.chars().take(12).collect::<String>() + "…",
        _ => id.to_owned(),
    }
}

/// One `--output text` record: the fields escaped and joined by tabs.
#[must_use]
pub fn tab_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|f| escape(f.as_ref()))
        .collect::<Vec<_>>()
        .join("\t");
    line.push('\n');
    line
}

/// A table whose widest columns give way (truncated with `…`) until it fits.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    #[must_use]
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells are escaped, so raw Thing names and attributes may be passed.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| escape(c.as_ref()).into_owned())
                .collect(),
        );
    }

    /// The table with `footer` (a count) under it; in the `Tabs` layout the rows alone.
    #[must_use]
    pub fn listing(&self, layout: Layout, footer: &str) -> String {
        let mut out = self.render(layout);
        if layout != Layout::Tabs {
            out.push_str(footer);
            out.push('\n');
        }
        out
    }

    #[must_use]
    pub fn render(&self, layout: Layout) -> String {
        let width = match layout {
            Layout::Fit(width) => width,
            Layout::Whole => usize::MAX,
            Layout::Tabs => return self.rows.iter().map(|row| tab_line(row)).collect(),
        };
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
        while total(&widths) > width {
            let (widest, &current) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .unwrap_or((0, &0));
            if current <= MIN_COLUMN {
                break;
            }
            widths[widest] = current - 1;
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = truncate(row.get(i).map_or("", String::as_str), *width);
                line.push_str(&cell);
                if i + 1 < columns {
                    line.push_str(&" ".repeat(width - cell.width() + GAP));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// An indented report (the `thing` and `policy` verbs): lines are escaped and wrapped to the
/// width with a hanging indent, so long ARNs and documents stay readable in 80 columns.
#[derive(Debug)]
pub struct Report {
    width: usize,
    out: String,
}

impl Report {
    /// A report wrapped to `width`, or unwrapped (`None`: a pipe, a file, `--output text`).
    #[must_use]
    pub fn new(width: Option<usize>) -> Self {
        Self {
            width: width.unwrap_or(usize::MAX),
            out: String::new(),
        }
    }

    /// A `label  value` line, the label padded to `label_width`; both are escaped (a label may
    /// be untrusted too: an attribute's key).
    pub fn field(&mut self, indent: usize, label: &str, label_width: usize, value: &str) {
        let label = escape(label);
        let label = format!("{label:<label_width$}  ");
        self.wrapped(indent, &label, &escape(value));
    }

    /// A line of untrusted text.
    pub fn line(&mut self, indent: usize, text: &str) {
        self.wrapped(indent, "", &escape(text));
    }

    /// Each line of a multi-line untrusted text (a policy or shadow document).
    pub fn block(&mut self, indent: usize, text: &str) {
        for line in text.lines() {
            let inner = line.len() - line.trim_start().len();
            self.wrapped(indent + inner, "", &escape(line.trim_start()));
        }
    }

    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    fn wrapped(&mut self, indent: usize, label: &str, text: &str) {
        let first = " ".repeat(indent) + label;
        let hang_width = if label.is_empty() {
            indent + 2
        } else {
            indent + label.width()
        };
        let hang = " ".repeat(hang_width.min(self.width / 2));
        let mut line = first;
        // Where the text starts in `line`: breaks are looked for after it only.
        let mut start = line.len();
        let mut used = line.width();
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > self.width && used > hang.len() {
                // Break after the last space, so words stay whole; a word longer than the line
                // (an ARN, a hash) is cut where it is.
                let carried = match line[start..].rfind(' ') {
                    Some(space) if c != ' ' && space > 0 => line.split_off(start + space + 1),
                    _ => String::new(),
                };
                self.out.push_str(line.trim_end());
                self.out.push('\n');
                line.clone_from(&hang);
                start = line.len();
                line.push_str(&carried);
                used = line.width();
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            used += w;
        }
        self.out.push_str(line.trim_end());
        self.out.push('\n');
    }

    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_table_fits_the_width_and_marks_cuts() {
        let mut table = Table::new(&["NAME", "TYPE", "ATTRIBUTES"]);
        table.row(["pump-1", "pump", &"site=plant-2, ".repeat(20)]);
        let text = table.render(Layout::Fit(80));
        assert!(text.lines().all(|l| l.width() <= 80), "{text}");
        assert!(text.contains('…'));
        assert!(text.starts_with("NAME    TYPE  ATTRIBUTES"), "{text}");
    }

    #[test]
    fn a_whole_table_cuts_nothing_and_tabs_give_one_record_a_line() {
        let mut table = Table::new(&["NAME", "ATTRIBUTES"]);
        let long = "site=plant-2, ".repeat(20);
        table.row(["pump-1", long.as_str()]);
        table.row(["tab\there", "line\nbreak"]);
        let whole = table.render(Layout::Whole);
        assert!(whole.contains(long.trim_end()), "{whole}");
        assert!(!whole.contains('…'));
        assert_eq!(
            table.listing(Layout::Tabs, "2 Things"),
            format!("pump-1\t{long}\ntab\\there\tline\\nbreak\n")
        );
        assert!(
            table
                .listing(Layout::Whole, "2 Things")
                .ends_with("\n2 Things\n")
        );
    }

    #[test]
    fn table_cells_are_escaped() {
        let mut table = Table::new(&["NAME"]);
        table.row(["evil\u{1b}[2J"]);
        assert!(table.render(Layout::Fit(80)).contains("evil\\x1b[2J"));
    }

    #[test]
    fn report_lines_wrap_with_a_hanging_indent() {
        let mut report = Report::new(Some(40));
        report.field(0, "ARN", 4, &"x".repeat(70));
        let text = report.finish();
        assert!(text.lines().count() >= 2);
        assert!(text.lines().all(|l| l.width() <= 40), "{text}");
        assert!(
            text.lines().nth(1).unwrap().starts_with("      x"),
            "{text}"
        );
    }

    #[test]
    fn report_lines_break_between_words() {
        let mut report = Report::new(Some(30));
        report.line(
            2,
            "1. attach the deny-all policy to certificate 1a2b3c (iot:AttachPolicy)",
        );
        let text = report.finish();
        assert_eq!(
            text,
            "  1. attach the deny-all\n    policy to certificate\n    1a2b3c (iot:AttachPolicy)\n"
        );
    }
}
