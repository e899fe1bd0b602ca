//! The Thing, certificate, policy and report screens, drawn from the lines `tui/detail.rs` and
//! `tui/report.rs` build
//! (links selectable with the cursor, the title with the filter and counts).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::config::theme::{Slot, Theme};
use crate::tui::state::{Screen, State};
use crate::tui::thing::lines as detail;
use crate::untrusted::escape;

/// Converts detail lines into styled ratatui lines.
#[must_use]
pub fn styled(line: &crate::tui::frame::line::Line, theme: &Theme) -> Line<'static> {
    Line::from(
        line.segments
            .iter()
            .map(|s| Span::styled(s.text.clone(), theme.style(s.slot)))
            .collect::<Vec<_>>(),
    )
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, state: &State, screen: &Screen, theme: &Theme) {
    let (title, cursor, scroll) = match screen {
        Screen::Thing {
            name,
            cursor,
            scroll,
        } => (format!(" Thing {} ", escape(name)), *cursor, *scroll),
        Screen::Certificate { id, cursor, scroll } => (
            format!(
                " Certificate {} ",
                crate::tui::thing::certificate::short_id(id)
            ),
            *cursor,
            *scroll,
        ),
        Screen::Policy {
            name,
            cursor,
            scroll,
        } => (format!(" Policy {} ", escape(name)), *cursor, *scroll),
        Screen::Report {
            report,
            cursor,
            scroll,
        } => (
            crate::tui::responder::lines::title(state, *report),
            *cursor,
            *scroll,
        ),
        Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => return,
    };
    let lines = detail::lines(state, screen).unwrap_or_default();
    let mut link_index = 0;
    let rendered: Vec<Line<'static>> = lines
        .iter()
        .map(|line| {
            let mut out = styled(line, theme);
            if line.link.is_some() {
                if link_index == cursor {
                    out = out.patch_style(theme.style(Slot::Selection));
                    out.spans
                        .insert(0, Span::styled("▶", theme.style(Slot::Selection)));
                } else {
                    out.spans.insert(0, Span::raw(" "));
                }
                link_index += 1;
            } else {
                out.spans.insert(0, Span::raw(" "));
            }
            out
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::Border))
        .title(Span::styled(title, theme.style(Slot::Title)));
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(rendered).block(block).scroll((scroll, 0)),
        area,
    );
}
