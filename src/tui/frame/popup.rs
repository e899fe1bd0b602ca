//! A popup in the middle of the screen, as tall as its lines, and the line that asks why.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::config::theme::{Slot, Theme};
use crate::tui::msg::AnswerKeys;
use crate::untrusted::escape;

/// The reason's prompt, with what has been typed: it goes to the journal with the hold.
#[must_use]
pub fn reason_line<'a>(reason: &str, keys: &AnswerKeys, theme: &Theme) -> Line<'a> {
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    Line::from(vec![
        text("Why? ", Slot::StatusWarning),
        text(
            &format!(
                "(kept with the hold; {} alone leaves it empty) ",
                keys.enter()
            ),
            Slot::Dim,
        ),
        text(reason, Slot::Text),
        text("▏", Slot::Dim),
    ])
}

/// A popup in the middle of `area`, as tall as its wrapped lines (and no taller than `area`).
pub fn popup(
    frame: &mut Frame<'_>,
    area: Rect,
    title: String,
    lines: Vec<Line<'_>>,
    theme: &Theme,
) {
    let width = area.width.saturating_sub(4).min(96);
    let inner = width.saturating_sub(2).max(1);
    // Wrapped height, roughly: each line's width over the inner width.
    let needed: u16 = lines
        .iter()
        .map(|l| u16::try_from(l.width().div_ceil(usize::from(inner)).max(1)).unwrap_or(1))
        .sum();
    let height = (needed + 2).min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::StatusWarning))
        .title(Span::styled(title, theme.style(Slot::Title)));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(theme.style(Slot::Text))
            .wrap(Wrap { trim: false }),
        popup,
    );
}
